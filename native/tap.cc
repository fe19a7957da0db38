// 9net TAP addon: opens or attaches a Linux TAP device (IFF_TAP|IFF_NO_PI,
// optionally IFF_VNET_HDR), drains it with non-blocking reads on the libuv
// loop (uv_poll) and hands frames to JS in batches (one call per wakeup, one
// shared buffer plus a lengths array), and writes single frames or batches.
// Every length coming from JS or the kernel is validated; bad input yields a
// JS exception or an errno result, never a crash.

#include "common.h"

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

#include <string>

namespace {

using namespace ninenet;

// ---- bounds (all stated here and in common.h; mirrored in src/link/native.ts)
constexpr uint32_t kAbi = 1;                  // bump when the JS contract changes
constexpr uint32_t kVlanTag = 4;              // one 802.1Q tag
constexpr uint32_t kMaxVnetHdr = 12;          // virtio_net_hdr_v1 / mrg_rxbuf
constexpr uint32_t kMinFrameMax = 64;         // smallest rx slot allowed
constexpr uint32_t kMaxFrameMax = kMaxFrameLen + kVlanTag + kMaxVnetHdr;
constexpr uint32_t kDefaultFrameMax = 1500 + kEthHeader + kVlanTag;

enum class Mode { Auto, Create, Attach };

std::string UserName() {
  uid_t uid = geteuid();
  struct passwd pw;
  struct passwd* res = nullptr;
  char buf[1024];
  if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res && res->pw_name)
    return res->pw_name;
  return std::to_string(uid);
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
    Napi::Object o;
    std::string name;
    if (!CtorOptionsName(info, "Tap", "tap", "name", "open", &o, &name)) return;
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
    if (!GetU32Opt(env, o, "tap", "vnetHdrSize", 0, kMaxVnetHdr, 0, &vnet)) return;
    if (vnet != 0 && vnet != 10 && vnet != 12) {
      Napi::RangeError::New(env, "tap option vnetHdrSize must be 0, 10 or 12").ThrowAsJavaScriptException();
      return;
    }
    if (!GetU32Opt(env, o, "tap", "offload", 0, 0xffff, 0, &offload)) return;
    if (offload != 0 && vnet == 0) {
      Napi::RangeError::New(env, "tap option offload needs vnetHdrSize (the kernel would hand over "
                                 "frames with unfinished checksums)")
          .ThrowAsJavaScriptException();
      return;
    }
    if (!GetU32Opt(env, o, "tap", "batch", 1, kMaxBatch, kDefaultBatch, &batch)) return;
    if (!GetU32Opt(env, o, "tap", "frameMax", kMinFrameMax, kMaxFrameMax, kDefaultFrameMax + vnet, &frameMax))
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

    if (!rx_.Alloc(env, capacity_, batch_)) {  // out of memory
      ::close(fd_);
      fd_ = -1;
      return;
    }

    uv_loop_t* loop = nullptr;
    poll_ = NewPoll(env, fd_, &loop);
    if (!poll_) {
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
    t->rx_.Forget();
  }

  void Pin() { rx_.Pin(this); }
  void Unpin() { rx_.Unpin(this); }

  // Stop polling and close the fd. fromJs: may touch JS references.
  void Shutdown(bool fromJs) {
    CloseHandle(poll_);
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
      rx_.Forget();
      Unpin();
    }
  }

  // start(onBatch(count), onError(code, message))
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!RxBatch::CheckStartArgs(info)) return env.Undefined();
    if (fd_ < 0 || !poll_) {
      SysError(env, EBADF, "tap is closed", "start").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    rx_.Keep(info, "9net:tap");
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
    rx_.Forget();
    Unpin();
    return info.Env().Undefined();
  }

  static void OnPoll(uv_poll_t* h, int status, int events) {
    Tap* t = static_cast<Tap*>(h->data);
    if (t) t->HandlePoll(status);
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
    uint8_t* base;
    uint32_t* lens;
    if (!rx_.Get(capacity_, batch_, &base, &lens)) {
      Fail("EINVAL", name_ + ": rx buffer was detached or resized");
      return;
    }
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
        rx_.truncated++;
        continue;
      }
      if (len < minLen) {
        rx_.runts++;
        continue;
      }
      lens[n++] = static_cast<uint32_t>(len);
      off += len;
    }
    if (!rx_.Deliver(env, self, n)) {
      Quiesce();
      return;
    }
    if (err && fd_ >= 0 && polling_)
      Fail(ErrnoName(err), name_ + ": read failed (" + strerror(err) + ")");
  }

  // Stop polling (fd stays open until close()) and report an error to JS.
  void Fail(const std::string& code, const std::string& message) {
    Napi::Env env = Env();
    if (poll_ && polling_) uv_poll_stop(poll_);
    polling_ = false;
    // Unpin: the caller's `self` handle keeps us alive until it returns.
    rx_.Fail(env, Value(), code, message, [this] { Unpin(); });
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
    return WriteFrame(info, &lastWriteErrno_, [this](const uint8_t* p, size_t len) { return WriteOne(p, len); });
  }

  // writeBatch(frames, start = 0): frames written; see WriteFrames.
  Napi::Value WriteBatch(const Napi::CallbackInfo& info) {
    return WriteFrames(info, &lastWriteErrno_, [this](const uint8_t* p, size_t len) { return WriteOne(p, len); });
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown(true);
    return info.Env().Undefined();
  }

  Napi::Value RefLoop(const Napi::CallbackInfo& info) {
    RefHandle(poll_, true);
    return info.Env().Undefined();
  }
  Napi::Value UnrefLoop(const Napi::CallbackInfo& info) {
    RefHandle(poll_, false);
    return info.Env().Undefined();
  }

  Napi::Value Counters(const Napi::CallbackInfo& info) { return rx_.Counters(info.Env()); }

  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
  Napi::Value GetName(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), name_); }
  Napi::Value GetVnetHdrSize(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), vnet_); }
  Napi::Value GetBatch(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), batch_); }
  Napi::Value GetFrameMax(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), frameMax_); }
  Napi::Value GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fd_ < 0); }
  Napi::Value GetPolling(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), polling_); }
  Napi::Value GetRxBuffer(const Napi::CallbackInfo& info) { return rx_.buf.Value(); }
  Napi::Value GetRxLengths(const Napi::CallbackInfo& info) { return rx_.lens.Value(); }
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
  bool hooked_ = false;
  int lastWriteErrno_ = 0;
  RxBatch rx_;  // shared rx buffer, JS callbacks, counters
};

// interfaceInfo(name): { index, mtu, mac } for a device in this network
// namespace, or null if there is none.
Napi::Value InterfaceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (!InterfaceNameArg(info, &name)) return env.Undefined();
  unsigned index = if_nametoindex(name.c_str());
  if (index == 0) return env.Null();
  int s = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    int e = errno;
    SysError(env, e, std::string("socket: ") + strerror(e), "socket").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = Napi::Object::New(env);
  SetIndexMtuMac(env, o, s, name, index);
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
