// 9net native link addons: what tap.cc and pcap.cc share. Errno naming and
// system errors, interface-name and option checks, frames from JS, the
// libuv poll wiring, the rx batch buffer (one shared ArrayBuffer plus a
// lengths array) and its delivery to JS (one call per wakeup), error
// reports, and the write(frame)/writeBatch(frames, start) entry points.
// Header-only (inline), included by each addon's single source file, so
// each binding.gyp target still builds on its own.

#ifndef NINENET_NATIVE_COMMON_H_
#define NINENET_NATIVE_COMMON_H_

#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>

#include <initializer_list>
#include <memory>
#include <string>

namespace ninenet {

constexpr uint32_t kEthHeader = 14;       // dst MAC, src MAC, EtherType
constexpr uint32_t kMaxFrameLen = 65535;  // largest frame accepted on tx
constexpr uint32_t kMaxBatch = 1024;      // frames per wakeup (one JS call), upper bound
constexpr uint32_t kDefaultBatch = 64;    // frames per wakeup, default
constexpr size_t kMaxRxBuffer = 16u << 20;  // shared rx buffer bytes, upper bound
constexpr uint32_t kTxBatchMax = 1024;    // frames per writeBatch() call

inline const char* ErrnoName(int err) {
  const char* n = strerrorname_np(err);
  return n ? n : "EUNKNOWN";
}

inline Napi::Error SysError(Napi::Env env, int err, const std::string& msg, const char* syscall) {
  Napi::Error e = Napi::Error::New(env, std::string(ErrnoName(err)) + ": " + msg);
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

// Interface names as the kernel accepts them (dev_valid_name), ASCII only.
inline bool ValidIfName(const std::string& s) {
  if (s.empty() || s.size() >= IFNAMSIZ || s == "." || s == "..") return false;
  for (unsigned char c : s)
    if (c <= 0x20 || c >= 0x7f || c == '/' || c == ':') return false;
  return true;
}

inline Napi::Error InvalidName(Napi::Env env, const std::string& name, const char* syscall) {
  return SysError(env, EINVAL,
                  "invalid interface name \"" + name.substr(0, 32) +
                      "\" (1-15 ASCII characters, no spaces, '/' or ':')",
                  syscall);
}

// Option `key` of an options object ("<what> option <key> must be ...").
// Throws TypeError/RangeError for a bad option; returns false if one was thrown.
inline bool GetU32Opt(Napi::Env env, Napi::Object o, const char* what, const char* key, uint32_t lo,
                      uint32_t hi, uint32_t dflt, uint32_t* out) {
  Napi::Value v = o.Get(key);
  if (env.IsExceptionPending()) return false;
  if (v.IsUndefined()) {
    *out = dflt;
    return true;
  }
  if (!v.IsNumber()) {
    Napi::TypeError::New(env, std::string(what) + " option " + key + " must be a number")
        .ThrowAsJavaScriptException();
    return false;
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || d != static_cast<double>(static_cast<uint32_t>(d))) {
    Napi::RangeError::New(env, std::string(what) + " option " + key + " must be an integer in [" +
                                   std::to_string(lo) + ", " + std::to_string(hi) + "]")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<uint32_t>(d);
  return true;
}

inline bool AsBytes(Napi::Env env, Napi::Value v, const uint8_t** data, size_t* len) {
  if (!v.IsTypedArray()) return false;
  napi_typedarray_type t;
  size_t n = 0, off = 0;
  void* p = nullptr;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &t, &n, &p, &ab, &off) != napi_ok) return false;
  if (t != napi_uint8_array && t != napi_uint8_clamped_array) return false;
  *len = p ? n : 0;  // a detached buffer has no data: treat as empty
  *data = static_cast<const uint8_t*>(p);
  return true;
}

// new <cls>(options): the options object and its interface-name option
// `key` ("<what> option <key> must be a string"; an invalid name is an
// EINVAL error naming `syscall`). False with a JS exception pending.
inline bool CtorOptionsName(const Napi::CallbackInfo& info, const char* cls, const char* what, const char* key,
                            const char* syscall, Napi::Object* o, std::string* name) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, std::string("new ") + cls + "(options): options object required")
        .ThrowAsJavaScriptException();
    return false;
  }
  *o = info[0].As<Napi::Object>();
  Napi::Value nameV = o->Get(key);
  if (env.IsExceptionPending()) return false;
  if (!nameV.IsString()) {
    Napi::TypeError::New(env, std::string(what) + " option " + key + " must be a string").ThrowAsJavaScriptException();
    return false;
  }
  *name = nameV.As<Napi::String>().Utf8Value();
  if (!ValidIfName(*name)) {
    InvalidName(env, *name, syscall).ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// ---- interfaceInfo(name) ---------------------------------------------------

// The name argument of interfaceInfo(name); false with a JS exception pending.
inline bool InterfaceNameArg(const Napi::CallbackInfo& info, std::string* name) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "interfaceInfo(name): name must be a string").ThrowAsJavaScriptException();
    return false;
  }
  *name = info[0].As<Napi::String>().Utf8Value();
  if (!ValidIfName(*name)) {
    InvalidName(env, *name, "ioctl").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// Sets o.index, o.mtu and o.mac (null when unknown), asking through socket s.
inline void SetIndexMtuMac(Napi::Env env, Napi::Object o, int s, const std::string& name, unsigned index) {
  struct ifreq ifr;
  o.Set("index", Napi::Number::New(env, index));
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name.data(), name.size());  // size < IFNAMSIZ checked
  if (ioctl(s, SIOCGIFMTU, &ifr) == 0) o.Set("mtu", Napi::Number::New(env, ifr.ifr_mtu));
  else o.Set("mtu", env.Null());
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name.data(), name.size());
  if (ioctl(s, SIOCGIFHWADDR, &ifr) == 0)
    o.Set("mac", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(ifr.ifr_hwaddr.sa_data), 6));
  else o.Set("mac", env.Null());
}

// ---- the libuv side ------------------------------------------------------------

// A poll handle on fd in env's loop (*loop set), or nullptr.
inline uv_poll_t* NewPoll(Napi::Env env, int fd, uv_loop_t** loop) {
  uv_poll_t* poll = new uv_poll_t;
  *loop = nullptr;
  if (napi_get_uv_event_loop(env, loop) != napi_ok || !*loop || uv_poll_init(*loop, poll, fd) != 0) {
    delete poll;
    return nullptr;
  }
  return poll;
}

// Closes a libuv handle (poll, timer) and frees it once libuv is done with it.
template <class Handle>
void CloseHandle(Handle*& h) {
  if (!h) return;
  h->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* u) { delete reinterpret_cast<Handle*>(u); });
  h = nullptr;
}

template <class Handle>
void RefHandle(Handle* h, bool ref) {
  if (!h) return;
  if (ref) uv_ref(reinterpret_cast<uv_handle_t*>(h));
  else uv_unref(reinterpret_cast<uv_handle_t*>(h));
}

// Calls fn from a libuv callback (MakeCallback: runs microtasks after).
// An exception thrown by fn becomes an uncaught exception. Returns false
// when JS cannot run at all (the environment is shutting down).
inline bool CallJs(napi_env env, napi_value recv, napi_value fn, std::initializer_list<napi_value> args,
                   napi_async_context ctx) {
  napi_value result;
  if (napi_make_callback(env, ctx, recv, fn, args.size(), args.begin(), &result) == napi_ok) return true;
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return false;
  napi_value exc;
  if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
  return true;
}

// ---- the rx batch and the JS callbacks -----------------------------------------

// The shared rx buffer (capacity bytes) and lengths array (batch entries),
// the JS callbacks of start(onBatch, onError), and the counters every addon keeps.
struct RxBatch {
  Napi::Reference<Napi::ArrayBuffer> buf;
  Napi::Reference<Napi::Uint32Array> lens;
  Napi::FunctionReference onBatch;
  Napi::FunctionReference onError;
  // shared: a callback in progress keeps its context even if JS stops/closes us
  std::shared_ptr<Napi::AsyncContext> ctx;
  uint64_t batches = 0, frames = 0, truncated = 0, runts = 0;
  bool pinned = false;  // the wrapper holds a reference to itself while polling

  // Keeps the JS object `w` (an ObjectWrap) alive while polling, or not.
  template <class Wrap>
  void Pin(Wrap* w) {
    if (!pinned) {
      w->Ref();
      pinned = true;
    }
  }
  template <class Wrap>
  void Unpin(Wrap* w) {
    if (pinned) {
      pinned = false;
      w->Unref();
    }
  }

  // Allocates the buffers; false (JS exception pending) when out of memory.
  bool Alloc(Napi::Env env, size_t capacity, uint32_t batch) {
    Napi::ArrayBuffer b = Napi::ArrayBuffer::New(env, capacity);
    Napi::Uint32Array l = Napi::Uint32Array::New(env, batch);
    if (env.IsExceptionPending()) return false;
    buf = Napi::Persistent(b);
    lens = Napi::Persistent(l);
    return true;
  }

  // The buffers' memory, or false if JS detached or replaced them.
  bool Get(size_t capacity, uint32_t batch, uint8_t** base, uint32_t** lengths) {
    Napi::ArrayBuffer ab = buf.Value();
    Napi::Uint32Array la = lens.Value();
    if (ab.IsDetached() || ab.ByteLength() != capacity || la.ElementLength() != batch) return false;
    *base = static_cast<uint8_t*>(ab.Data());
    *lengths = la.Data();
    return true;
  }

  // start(onBatch, onError): keeps both; false (TypeError thrown) unless two functions.
  static bool CheckStartArgs(const Napi::CallbackInfo& info) {
    if (info.Length() < 2 || !info[0].IsFunction() || !info[1].IsFunction()) {
      Napi::TypeError::New(info.Env(), "start(onBatch, onError): two functions required")
          .ThrowAsJavaScriptException();
      return false;
    }
    return true;
  }
  void Keep(const Napi::CallbackInfo& info, const char* resource) {
    onBatch = Napi::Persistent(info[0].As<Napi::Function>());
    onError = Napi::Persistent(info[1].As<Napi::Function>());
    if (!ctx) ctx = std::make_shared<Napi::AsyncContext>(info.Env(), resource);
  }

  void Forget() {
    onBatch.Reset();
    onError.Reset();
    ctx.reset();
  }

  // Counts a batch of n frames and hands it to onBatch(n) (if started).
  // Returns false when JS cannot run any more (stop polling, quietly).
  bool Deliver(Napi::Env env, Napi::Object self, uint32_t n) {
    if (n == 0) return true;
    batches++;
    frames += n;
    if (onBatch.IsEmpty() || !ctx) return true;
    std::shared_ptr<Napi::AsyncContext> c = ctx;
    return CallJs(env, self, onBatch.Value(), {Napi::Number::New(env, n)}, *c);
  }

  // Detaches the callbacks, then unpin() (may drop the last reference but
  // the caller's handle keeps the object alive) and onError(code, message).
  template <class Unpin>
  void Fail(Napi::Env env, Napi::Object recv, const std::string& code, const std::string& message, Unpin unpin) {
    Napi::FunctionReference err = std::move(onError);
    std::shared_ptr<Napi::AsyncContext> c = std::move(ctx);
    onBatch.Reset();
    unpin();
    if (!err.IsEmpty() && c)
      CallJs(env, recv, err.Value(), {Napi::String::New(env, code), Napi::String::New(env, message)}, *c);
  }

  // { batches, frames, truncated, runts }; the caller may add more.
  Napi::Object Counters(Napi::Env env) const {
    Napi::Object o = Napi::Object::New(env);
    o.Set("batches", Napi::Number::New(env, static_cast<double>(batches)));
    o.Set("frames", Napi::Number::New(env, static_cast<double>(frames)));
    o.Set("truncated", Napi::Number::New(env, static_cast<double>(truncated)));
    o.Set("runts", Napi::Number::New(env, static_cast<double>(runts)));
    return o;
  }
};

// ---- write(frame) and writeBatch(frames, start) ----------------------------------

// write(frame: Uint8Array): number — 0 or an errno from writeOne(p, len).
template <class WriteOne>
Napi::Value WriteFrame(const Napi::CallbackInfo& info, int* lastErrno, WriteOne writeOne) {
  Napi::Env env = info.Env();
  const uint8_t* p;
  size_t len;
  if (info.Length() < 1 || !AsBytes(env, info[0], &p, &len)) {
    Napi::TypeError::New(env, "write(frame): frame must be a Uint8Array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int e = writeOne(p, len);
  *lastErrno = e;
  return Napi::Number::New(env, e);
}

// writeBatch(frames: Uint8Array[], start = 0): number of frames sent,
// starting at `start`. Stops at the first failure (lastErrno says why)
// or after kTxBatchMax frames (lastErrno 0).
template <class WriteOne>
Napi::Value WriteFrames(const Napi::CallbackInfo& info, int* lastErrno, WriteOne writeOne) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) {
    Napi::TypeError::New(env, "writeBatch(frames, start): frames must be an array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array arr = info[0].As<Napi::Array>();
  uint32_t n = arr.Length();
  uint32_t start = 0;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsNumber()) {
      Napi::TypeError::New(env, "writeBatch: start must be a number").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    double d = info[1].As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= n) || d != static_cast<double>(static_cast<uint32_t>(d))) {
      Napi::RangeError::New(env, "writeBatch: start out of range").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    start = static_cast<uint32_t>(d);
  }
  uint32_t end = n - start > kTxBatchMax ? start + kTxBatchMax : n;
  uint32_t done = 0;
  *lastErrno = 0;
  for (uint32_t i = start; i < end; i++) {
    Napi::Value v = arr.Get(i);
    if (env.IsExceptionPending()) return env.Undefined();
    const uint8_t* p;
    size_t len;
    if (!AsBytes(env, v, &p, &len)) {
      Napi::TypeError::New(env, "writeBatch: frames[" + std::to_string(i) + "] is not a Uint8Array")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    int e = writeOne(p, len);
    if (e) {
      *lastErrno = e;
      break;
    }
    done++;
  }
  return Napi::Number::New(env, done);
}

}  // namespace ninenet

#endif  // NINENET_NATIVE_COMMON_H_
