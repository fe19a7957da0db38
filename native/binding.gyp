# 9net native code: the TAP addon (tap.node), the libpcap addon
# (pcap.node, linked against the system libpcap: Debian's libpcap-dev), the
# peer credentials addon (peercred.node: SO_PEERCRED for the 9P server) and,
# for bench/tap-drain.js only, a tiny AF_PACKET flooder (tapflood).
# Build: node-gyp rebuild --directory native (strict: every target must build).
# When that fails, the npm install hook (install.mjs) retries with
# -Dwith_pcap=0, so a host without libpcap-dev only loses the pcap link.
{
  "variables": { "with_pcap%": 1 },
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
      "target_name": "peercred",
      "sources": ["peercred.cc"],
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
  ],
  "conditions": [
    ["with_pcap==1", {
      "targets": [
        {
          "target_name": "pcap",
          "sources": ["pcap.cc"],
          "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
          "defines": [
            "NAPI_VERSION=8",
            "NAPI_DISABLE_CPP_EXCEPTIONS",
            "NODE_ADDON_API_DISABLE_DEPRECATED",
            "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
          ],
          "cflags_cc": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
          "libraries": ["-lpcap"]
        }
      ]
    }]
  ]
}
