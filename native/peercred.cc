// 9net peer credentials addon: the uid, gid and pid of the process at the
// other end of a connected Unix-domain socket (getsockopt SO_PEERCRED,
// socket(7)), which Node.js does not expose. The 9P server uses it to decide
// which user names a connection may attach as.

#include <napi.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

namespace {

Napi::Value PeerCred(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "peercred(fd): fd must be a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
    int e = fd < 0 ? EBADF : errno;
    Napi::Error err = Napi::Error::New(env, std::string("SO_PEERCRED: ") + strerror(e));
    err.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, cred.pid));
  out.Set("uid", Napi::Number::New(env, cred.uid));
  out.Set("gid", Napi::Number::New(env, cred.gid));
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("peercred", Napi::Function::New(env, PeerCred));
  return exports;
}

}  // namespace

NODE_API_MODULE(peercred, Init)
