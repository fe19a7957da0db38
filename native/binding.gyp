# 9net native link layer: the TAP addon (tap.node) and, for bench/tap-drain.js
# only, a tiny AF_PACKET flooder (tapflood). Build: node-gyp rebuild --directory native
{
  "targets": [
    {
      "target_name": "tap",
      "sources": ["tap.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      "cflags_cc": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "tapflood",
      "type": "executable",
      "sources": ["tapflood.cc"],
      "cflags_cc": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
