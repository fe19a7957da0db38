// 9net TAP addon: opens or attaches a Linux TAP device (IFF_TAP|IFF_NO_PI,
// optionally IFF_VNET_HDR), drains it with non-blocking reads on the libuv
// loop (uv_poll) and hands frames to JS in batches (one call per wakeup, one
// shared buffer plus a lengths array), and writes single frames or batches.
// Every length coming from JS or the kernel is validated; bad input yields a
// JS exception or an errno result, never a crash.

#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <pwd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <initializer_list>
#include <memory>
#include <string>

namespace {

// ---- bounds (all stated here; mirrored in src/link/native.ts) -------------
constexpr uint32_t kAbi = 1;                  // bump when the JS contract changes
constexpr uint32_t kEthHeader = 14;           // dst MAC, src MAC, EtherType
constexpr uint32_t kVlanTag = 4;              // one 802.1Q tag
constexpr uint32_t kMaxVnetHdr = 12;          // virtio_net_hdr_v1 / mrg_rxbuf
constexpr uint32_t kMaxFrameLen = 65535;      // largest frame accepted on tx
constexpr uint32_t kMaxBatch = 1024;          // frames per wakeup, upper bound
constexpr uint32_t kDefaultBatch = 64;        // frames per wakeup, default
constexpr uint32_t kMinFrameMax = 64;         // smallest rx slot allowed
constexpr uint32_t kMaxFrameMax = kMaxFrameLen + kVlanTag + kMaxVnetHdr;
constexpr uint32_t kDefaultFrameMax = 1500 + kEthHeader + kVlanTag;
constexpr size_t kMaxRxBuffer = 16u << 20;    // rx buffer bytes, upper bound
constexpr uint32_t kTxBatchMax = 1024;        // frames per writeBatch() call

enum class Mode { Auto, Create, Attach };

const char* ErrnoName(int err) {
  const char* n = strerrorname_np(err);
  return n ? n : "EUNKNOWN";
}

std::string UserName() {
  uid_t uid = geteuid();
  struct passwd pw;
  struct passwd* res = nullptr;
  char buf[1024];
  if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res && res->pw_name)
    return res->pw_name;
  return std::to_string(uid);
}

Napi::Error SysError(Napi::Env env, int err, const std::string& msg, const char* syscall) {
  Napi::Error e = Napi::Error::New(env, std::string(ErrnoName(err)) + ": " + msg);
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

// Interface names as the kernel accepts them (dev_valid_name), ASCII only.
bool ValidIfName(const std::string& s) {
  if (s.empty() || s.size() >= IFNAMSIZ || s == "." || s == "..") return false;
  for (unsigned char c : s)
    if (c <= 0x20 || c >= 0x7f || c == '/' || c == ':') return false;
  return true;
}

Napi::Error InvalidName(Napi::Env env, const std::string& name, const char* syscall) {
  return SysError(env, EINVAL,
                  "invalid interface name \"" + name.substr(0, 32) +
                      "\" (1-15 ASCII characters, no spaces, '/' or ':')",
                  syscall);
}

// Throws TypeError/RangeError for a bad option; returns false if one was thrown.
bool GetU32Opt(Napi::Env env, Napi::Object o, const char* key, uint32_t lo, uint32_t hi,
               uint32_t dflt, uint32_t* out) {
  Napi::Value v = o.Get(key);
  if (env.IsExceptionPending()) return false;
  if (v.IsUndefined()) {
    *out = dflt;
    return true;
  }
  if (!v.IsNumber()) {
    Napi::TypeError::New(env, std::string("tap option ") + key + " must be a number")
        .ThrowAsJavaScriptException();
    return false;
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || d != static_cast<double>(static_cast<uint32_t>(d))) {
    Napi::RangeError::New(env, std::string("tap option ") + key + " must be an integer in [" +
                                   std::to_string(lo) + ", " + std::to_string(hi) + "]")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<uint32_t>(d);
  return true;
}

bool AsBytes(Napi::Env env, Napi::Value v, const uint8_t** data, size_t* len) {
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

class Tap : public Napi::ObjectWrap<Tap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Tap",
                       {
                           InstanceMethod<&Tap::Start>("start"),
                           InstanceMethod<&Tap::Stop>("stop"),
                           InstanceMethod<&Tap::Write>("write"),
                           InstanceMethod<&Tap::WriteBatch>("writeBatch"),
                           InstanceMethod<&Tap::Close>("close"),
                           InstanceMethod<&Tap::RefLoop>("ref"),
                           InstanceMethod<&Tap::UnrefLoop>("unref"),
                           InstanceMethod<&Tap::Counters>("counters"),
                           InstanceAccessor<&Tap::GetFd>("fd"),
                           InstanceAccessor<&Tap::GetName>("name"),
                           InstanceAccessor<&Tap::GetVnetHdrSize>("vnetHdrSize"),
                           InstanceAccessor<&Tap::GetBatch>("batch"),
                           InstanceAccessor<&Tap::GetFrameMax>("frameMax"),
                           InstanceAccessor<&Tap::GetClosed>("closed"),
                           InstanceAccessor<&Tap::GetPolling>("polling"),
                           InstanceAccessor<&Tap::GetRxBuffer>("rxBuffer"),
                           InstanceAccessor<&Tap::GetRxLengths>("rxLengths"),
                           InstanceAccessor<&Tap::GetLastWriteErrno>("lastWriteErrno"),
                       });
  }

  // new Tap({ name, mode: 'auto'|'create'|'attach', vnetHdrSize?, offload?, batch?, frameMax? })
  explicit Tap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      Napi::TypeError::New(env, "new Tap(options): options object required").ThrowAsJavaScriptException();
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    Napi::Value nameV = o.Get("name");
    if (env.IsExceptionPending()) return;
    if (!nameV.IsString()) {
      Napi::TypeError::New(env, "tap option name must be a string").ThrowAsJavaScriptException();
      return;
    }
    std::string name = nameV.As<Napi::String>().Utf8Value();
    if (!ValidIfName(name)) {
      InvalidName(env, name, "open").ThrowAsJavaScriptException();
      return;
    }
    Mode mode = Mode::Auto;
    Napi::Value modeV = o.Get("mode");
    if (env.IsExceptionPending()) return;
    if (!modeV.IsUndefined()) {
      std::string m = modeV.IsString() ? modeV.As<Napi::String>().Utf8Value() : "";
      if (m == "auto") mode = Mode::Auto;
      else if (m == "create") mode = Mode::Create;
      else if (m == "attach") mode = Mode::Attach;
      else {
        Napi::TypeError::New(env, "tap option mode must be 'auto', 'create' or 'attach'")
            .ThrowAsJavaScriptException();
        return;
      }
    }
    uint32_t vnet = 0, offload = 0, batch = 0, frameMax = 0;
    if (!GetU32Opt(env, o, "vnetHdrSize", 0, kMaxVnetHdr, 0, &vnet)) return;
    if (vnet != 0 && vnet != 10 && vnet != 12) {
      Napi::RangeError::New(env, "tap option vnetHdrSize must be 0, 10 or 12").ThrowAsJavaScriptException();
      return;
    }
    if (!GetU32Opt(env, o, "offload", 0, 0xffff, 0, &offload)) return;
    if (offload != 0 && vnet == 0) {
      Napi::RangeError::New(env, "tap option offload needs vnetHdrSize (the kernel would hand over "
                                 "frames with unfinished checksums)")
          .ThrowAsJavaScriptException();
      return;
    }
    if (!GetU32Opt(env, o, "batch", 1, kMaxBatch, kDefaultBatch, &batch)) return;
    if (!GetU32Opt(env, o, "frameMax", kMinFrameMax, kMaxFrameMax, kDefaultFrameMax + vnet, &frameMax))
      return;
    if (static_cast<size_t>(batch) * frameMax + 1 > kMaxRxBuffer) {
      Napi::RangeError::New(env, "tap options batch * frameMax exceed " + std::to_string(kMaxRxBuffer) +
                                     " bytes")
          .ThrowAsJavaScriptException();
      return;
    }

    if (!OpenDevice(env, name, mode, vnet, offload)) return;
    vnet_ = vnet;
    batch_ = batch;
    frameMax_ = frameMax;
    capacity_ = static_cast<size_t>(batch) * frameMax + 1;

    Napi::ArrayBuffer rxBuf = Napi::ArrayBuffer::New(env, capacity_);
    Napi::Uint32Array rxLens = Napi::Uint32Array::New(env, batch_);
    if (env.IsExceptionPending()) {  // out of memory
      ::close(fd_);
      fd_ = -1;
      return;
    }
    rxBuf_ = Napi::Persistent(rxBuf);
    rxLens_ = Napi::Persistent(rxLens);

    poll_ = new uv_poll_t;
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop ||
        uv_poll_init(loop, poll_, fd_) != 0) {
      delete poll_;
      poll_ = nullptr;
      ::close(fd_);
      fd_ = -1;
      SysError(env, EIO, "cannot poll " + name_, "uv_poll_init").ThrowAsJavaScriptException();
      return;
    }
    poll_->data = this;
    napi_add_env_cleanup_hook(env, EnvCleanup, this);
    hooked_ = true;
  }

  ~Tap() override { Shutdown(false); }

 private:
  bool OpenDevice(Napi::Env env, const std::string& name, Mode mode, uint32_t vnet, uint32_t offload) {
    const std::string add = "ip tuntap add dev " + name + " mode tap user " + UserName();
    int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      std::string why = e == ENOENT   ? "/dev/net/tun not found; load the tun module (modprobe tun)"
                        : e == EACCES ? "cannot open /dev/net/tun (permission denied); it must be "
                                        "readable and writable by this user"
                                      : std::string("cannot open /dev/net/tun: ") + strerror(e);
      SysError(env, e, why, "open").ThrowAsJavaScriptException();
      return false;
    }
    bool pattern = name.find('%') != std::string::npos;
    bool existed = !pattern && if_nametoindex(name.c_str()) != 0;
    if (mode == Mode::Attach && !existed) {
      ::close(fd);
      SysError(env, ENODEV, "no device " + name + "; create it with: " + add, "open")
          .ThrowAsJavaScriptException();
      return false;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (vnet) ifr.ifr_flags |= IFF_VNET_HDR;
    if (mode == Mode::Create) ifr.ifr_flags |= IFF_TUN_EXCL;
    memcpy(ifr.ifr_name, name.data(), name.size());  // size < IFNAMSIZ checked
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
      int e = errno;
      ::close(fd);
      std::string why;
      if (e == EPERM && existed)
        why = "attaching " + name + " is not allowed for this user; recreate it with: " + add +
              ", or run with CAP_NET_ADMIN";
      else if (e == EPERM)
        why = "creating " + name + " needs CAP_NET_ADMIN; or " + add;
      else if (e == EBUSY && mode == Mode::Create)
        why = name + " already exists";
      else if (e == EBUSY)
        why = name + " is busy (attached by another process, or a multi-queue device)";
      else if (e == EINVAL && existed)
        why = name + " exists but is not a TAP device";
      else
        why = "TUNSETIFF " + name + ": " + strerror(e);
      SysError(env, e, why, "ioctl").ThrowAsJavaScriptException();
      return false;
    }
    ifr.ifr_name[IFNAMSIZ - 1] = '\0';
    name_ = ifr.ifr_name;
    if (vnet) {
      int sz = static_cast<int>(vnet);
      if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
        int e = errno;
        ::close(fd);
        SysError(env, e, "TUNSETVNETHDRSZ " + name_ + ": " + strerror(e), "ioctl")
            .ThrowAsJavaScriptException();
        return false;
      }
    }
    // Offload settings outlive the fd: always set them, so a previous user's
    // offloads never make the kernel hand us frames with partial checksums.
    if (ioctl(fd, TUNSETOFFLOAD, static_cast<unsigned long>(offload)) < 0) {
      int e = errno;
      ::close(fd);
      SysError(env, e, "TUNSETOFFLOAD " + name_ + ": " + strerror(e), "ioctl").ThrowAsJavaScriptException();
      return false;
    }
    fd_ = fd;
    return true;
  }

  static void EnvCleanup(void* arg) {
    Tap* t = static_cast<Tap*>(arg);
    t->hooked_ = false;  // the hook is being run; do not remove it
    t->Shutdown(false);
    t->onBatch_.Reset();
    t->onError_.Reset();
    t->ctx_.reset();
  }

  void Pin() {
    if (!pinned_) {
      Ref();
      pinned_ = true;
    }
  }
  void Unpin() {
    if (pinned_) {
      pinned_ = false;
      Unref();
    }
  }

  // Stop polling and close the fd. fromJs: may touch JS references.
  void Shutdown(bool fromJs) {
    if (poll_) {
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    polling_ = false;
    if (fd_ >= 0) {
      ::close(fd_);  // after uv_close, which removed it from epoll
      fd_ = -1;
    }
    if (hooked_) {
      napi_remove_env_cleanup_hook(Env(), EnvCleanup, this);
      hooked_ = false;
    }
    if (fromJs) {
      onBatch_.Reset();
      onError_.Reset();
      ctx_.reset();
      Unpin();
    }
  }

  // start(onBatch(count), onError(code, message))
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsFunction() || !info[1].IsFunction()) {
      Napi::TypeError::New(env, "start(onBatch, onError): two functions required").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (fd_ < 0 || !poll_) {
      SysError(env, EBADF, "tap is closed", "start").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    onBatch_ = Napi::Persistent(info[0].As<Napi::Function>());
    onError_ = Napi::Persistent(info[1].As<Napi::Function>());
    if (!ctx_) ctx_ = std::make_shared<Napi::AsyncContext>(env, "9net:tap");
    if (!polling_) {
      int r = uv_poll_start(poll_, UV_READABLE, OnPoll);
      if (r != 0) {
        SysError(env, -r, std::string("cannot poll ") + name_ + ": " + uv_strerror(r), "uv_poll_start")
            .ThrowAsJavaScriptException();
        return env.Undefined();
      }
      polling_ = true;
      Pin();
    }
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (poll_ && polling_) uv_poll_stop(poll_);
    polling_ = false;
    onBatch_.Reset();
    onError_.Reset();
    ctx_.reset();
    Unpin();
    return info.Env().Undefined();
  }

  static void OnPoll(uv_poll_t* h, int status, int events) {
    Tap* t = static_cast<Tap*>(h->data);
    if (t) t->HandlePoll(status);
  }

  // Calls fn from a libuv callback (MakeCallback: runs microtasks after).
  // An exception thrown by fn becomes an uncaught exception. Returns false
  // when JS cannot run at all (the environment is shutting down).
  static bool CallJs(napi_env env, napi_value recv, napi_value fn, std::initializer_list<napi_value> args,
                     napi_async_context ctx) {
    napi_value result;
    if (napi_make_callback(env, ctx, recv, fn, args.size(), args.begin(), &result) == napi_ok) return true;
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return false;
    napi_value exc;
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
    return true;
  }

  // JS can no longer run: stop polling without calling back.
  void Quiesce() {
    if (poll_ && polling_) uv_poll_stop(poll_);
    polling_ = false;
  }

  void HandlePoll(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object self = Value();  // keeps this object alive for the whole callback
    if (status < 0) {
      Fail(uv_err_name(status), name_ + ": device gone or fd error (" + uv_strerror(status) + ")");
      return;
    }
    Napi::ArrayBuffer ab = rxBuf_.Value();
    Napi::Uint32Array lensArr = rxLens_.Value();
    if (ab.IsDetached() || ab.ByteLength() != capacity_ || lensArr.ElementLength() != batch_) {
      Fail("EINVAL", name_ + ": rx buffer was detached or resized");
      return;
    }
    uint8_t* base = static_cast<uint8_t*>(ab.Data());
    uint32_t* lens = lensArr.Data();
    size_t off = 0;
    uint32_t n = 0;
    int err = 0;
    const size_t minLen = kEthHeader + vnet_;
    // At most batch_ reads per wakeup, each into a window of frameMax_ + 1
    // bytes: the kernel silently truncates a frame to the buffer it is given
    // (older kernels report the full length), so a result above frameMax_
    // means "too long". capacity_ = batch_ * frameMax_ + 1 keeps that window
    // available for every read; stop early on EAGAIN.
    for (uint32_t reads = 0; reads < batch_ && capacity_ - off > frameMax_; reads++) {
      const size_t window = frameMax_ + 1;
      ssize_t r = ::read(fd_, base + off, window);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
        break;
      }
      if (r == 0) break;
      size_t len = static_cast<size_t>(r);
      if (len > frameMax_) {
        truncated_++;
        continue;
      }
      if (len < minLen) {
        runts_++;
        continue;
      }
      lens[n++] = static_cast<uint32_t>(len);
      off += len;
    }
    if (n > 0) {
      batches_++;
      frames_ += n;
      if (!onBatch_.IsEmpty() && ctx_) {
        std::shared_ptr<Napi::AsyncContext> ctx = ctx_;
        if (!CallJs(env, self, onBatch_.Value(), {Napi::Number::New(env, n)}, *ctx)) {
          Quiesce();
          return;
        }
      }
    }
    if (err && fd_ >= 0 && polling_)
      Fail(ErrnoName(err), name_ + ": read failed (" + strerror(err) + ")");
  }

  // Stop polling (fd stays open until close()) and report an error to JS.
  void Fail(const std::string& code, const std::string& message) {
    Napi::Env env = Env();
    if (poll_ && polling_) uv_poll_stop(poll_);
    polling_ = false;
    Napi::FunctionReference onError = std::move(onError_);
    std::shared_ptr<Napi::AsyncContext> ctx = std::move(ctx_);
    onBatch_.Reset();
    Unpin();  // the caller's `self` handle keeps us alive until it returns
    if (!onError.IsEmpty() && ctx)
      CallJs(env, Value(), onError.Value(), {Napi::String::New(env, code), Napi::String::New(env, message)}, *ctx);
  }

  // Returns 0 when written, else an errno (EINVAL/EMSGSIZE for bad lengths).
  int WriteOne(const uint8_t* p, size_t len) {
    if (fd_ < 0) return EBADF;
    if (len < kEthHeader) return EINVAL;
    if (len > kMaxFrameLen) return EMSGSIZE;
    static const uint8_t zeroHdr[kMaxVnetHdr] = {0};
    ssize_t r;
    do {
      if (vnet_) {
        struct iovec iov[2];
        iov[0].iov_base = const_cast<uint8_t*>(zeroHdr);
        iov[0].iov_len = vnet_;
        iov[1].iov_base = const_cast<uint8_t*>(p);
        iov[1].iov_len = len;
        r = ::writev(fd_, iov, 2);
      } else {
        r = ::write(fd_, p, len);
      }
    } while (r < 0 && errno == EINTR);
    if (r < 0) return errno;
    if (static_cast<size_t>(r) != len + vnet_) return EIO;
    return 0;
  }

  // write(frame: Uint8Array): number — 0 or an errno; frame excludes any vnet header.
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const uint8_t* p;
    size_t len;
    if (info.Length() < 1 || !AsBytes(env, info[0], &p, &len)) {
      Napi::TypeError::New(env, "write(frame): frame must be a Uint8Array").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    int e = WriteOne(p, len);
    lastWriteErrno_ = e;
    return Napi::Number::New(env, e);
  }

  // writeBatch(frames: Uint8Array[], start = 0): number of frames written,
  // starting at `start`. Stops at the first failure (lastWriteErrno says why)
  // or after kTxBatchMax frames (lastWriteErrno 0).
  Napi::Value WriteBatch(const Napi::CallbackInfo& info) {
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
    lastWriteErrno_ = 0;
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
      int e = WriteOne(p, len);
      if (e) {
        lastWriteErrno_ = e;
        break;
      }
      done++;
    }
    return Napi::Number::New(env, done);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown(true);
    return info.Env().Undefined();
  }

  Napi::Value RefLoop(const Napi::CallbackInfo& info) {
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }
  Napi::Value UnrefLoop(const Napi::CallbackInfo& info) {
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value Counters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("batches", Napi::Number::New(env, static_cast<double>(batches_)));
    o.Set("frames", Napi::Number::New(env, static_cast<double>(frames_)));
    o.Set("truncated", Napi::Number::New(env, static_cast<double>(truncated_)));
    o.Set("runts", Napi::Number::New(env, static_cast<double>(runts_)));
    return o;
  }

  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
  Napi::Value GetName(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), name_); }
  Napi::Value GetVnetHdrSize(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), vnet_); }
  Napi::Value GetBatch(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), batch_); }
  Napi::Value GetFrameMax(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), frameMax_); }
  Napi::Value GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fd_ < 0); }
  Napi::Value GetPolling(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), polling_); }
  Napi::Value GetRxBuffer(const Napi::CallbackInfo& info) { return rxBuf_.Value(); }
  Napi::Value GetRxLengths(const Napi::CallbackInfo& info) { return rxLens_.Value(); }
  Napi::Value GetLastWriteErrno(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), lastWriteErrno_);
  }

  int fd_ = -1;
  std::string name_;
  uint32_t vnet_ = 0;
  uint32_t batch_ = kDefaultBatch;
  uint32_t frameMax_ = kDefaultFrameMax;
  size_t capacity_ = 0;
  uv_poll_t* poll_ = nullptr;
  bool polling_ = false;
  bool pinned_ = false;
  bool hooked_ = false;
  int lastWriteErrno_ = 0;
  uint64_t batches_ = 0, frames_ = 0, truncated_ = 0, runts_ = 0;
  Napi::Reference<Napi::ArrayBuffer> rxBuf_;
  Napi::Reference<Napi::Uint32Array> rxLens_;
  Napi::FunctionReference onBatch_;
  Napi::FunctionReference onError_;
  // shared: a callback in progress keeps its context even if JS stops/closes us
  std::shared_ptr<Napi::AsyncContext> ctx_;
};

// interfaceInfo(name): { index, mtu, mac } for a device in this network
// namespace, or null if there is none.
Napi::Value InterfaceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "interfaceInfo(name): name must be a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (!ValidIfName(name)) {
    InvalidName(env, name, "ioctl").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  unsigned index = if_nametoindex(name.c_str());
  if (index == 0) return env.Null();
  int s = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    int e = errno;
    SysError(env, e, std::string("socket: ") + strerror(e), "socket").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name.data(), name.size());
  Napi::Object o = Napi::Object::New(env);
  o.Set("index", Napi::Number::New(env, index));
  if (ioctl(s, SIOCGIFMTU, &ifr) == 0) o.Set("mtu", Napi::Number::New(env, ifr.ifr_mtu));
  else o.Set("mtu", env.Null());
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name.data(), name.size());
  if (ioctl(s, SIOCGIFHWADDR, &ifr) == 0)
    o.Set("mac", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(ifr.ifr_hwaddr.sa_data), 6));
  else o.Set("mac", env.Null());
  ::close(s);
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Tap", Tap::Init(env));
  exports.Set("interfaceInfo", Napi::Function::New<InterfaceInfo>(env, "interfaceInfo"));
  Napi::Object c = Napi::Object::New(env);
  c.Set("ABI", Napi::Number::New(env, kAbi));
  c.Set("MAX_BATCH", Napi::Number::New(env, kMaxBatch));
  c.Set("DEFAULT_BATCH", Napi::Number::New(env, kDefaultBatch));
  c.Set("MIN_FRAME_MAX", Napi::Number::New(env, kMinFrameMax));
  c.Set("MAX_FRAME_MAX", Napi::Number::New(env, kMaxFrameMax));
  c.Set("MAX_FRAME_LEN", Napi::Number::New(env, kMaxFrameLen));
  c.Set("MAX_RX_BUFFER", Napi::Number::New(env, static_cast<double>(kMaxRxBuffer)));
  c.Set("TX_BATCH_MAX", Napi::Number::New(env, kTxBatchMax));
  c.Set("TUN_F_CSUM", Napi::Number::New(env, TUN_F_CSUM));
  c.Set("TUN_F_TSO4", Napi::Number::New(env, TUN_F_TSO4));
  c.Set("TUN_F_TSO6", Napi::Number::New(env, TUN_F_TSO6));
  c.Set("TUN_F_TSO_ECN", Napi::Number::New(env, TUN_F_TSO_ECN));
  exports.Set("constants", c);
  return exports;
}

}  // namespace

NODE_API_MODULE(tap, Init)
