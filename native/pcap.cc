// 9net libpcap addon: runs our stack over an existing interface. Opens a
// capture with pcap_create (immediate mode, promiscuous, incoming direction
// only, non-blocking), polls pcap_get_selectable_fd() with uv_poll on the
// libuv loop, drains each wakeup with pcap_dispatch into one shared buffer
// (a bounded batch) and makes ONE JS call per batch; sends with pcap_inject,
// one frame or a batch per call. Every length coming from JS or libpcap is
// validated; bad input yields a JS exception or an errno result, never a
// crash, and no C++ exception crosses N-API (exceptions are disabled).
//
// A separate target from tap.node (binding.gyp): a host without libpcap-dev
// still builds the TAP addon.

#include "common.h"

#include <pcap/pcap.h>

#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace {

using namespace ninenet;

// ---- bounds (all stated here and in common.h; mirrored in src/link/pcap.ts)
constexpr uint32_t kAbi = 1;                  // bump when the JS contract changes
constexpr uint32_t kMinSnaplen = 64;          // smallest capture length allowed
constexpr uint32_t kMaxSnaplen = 65535 + 4;   // largest: max frame plus a VLAN tag
constexpr uint32_t kDefaultSnaplen = 1500 + kEthHeader + 4;
constexpr uint32_t kMinKernelBuffer = 64u << 10;    // pcap_set_buffer_size lower bound
constexpr uint32_t kMaxKernelBuffer = 256u << 20;   // and upper bound
constexpr uint32_t kDefaultKernelBuffer = 4u << 20; // default ring size
constexpr size_t kMaxFilterLen = 4096;        // BPF filter expression characters
constexpr uint64_t kDownCheckMs = 200;        // while the interface is down: how often to look again

// libpcap's error text, one line, bounded.
std::string OneLine(const char* s) {
  std::string out = s ? s : "";
  if (out.size() > PCAP_ERRBUF_SIZE) out.resize(PCAP_ERRBUF_SIZE);
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

bool GetBoolOpt(Napi::Env env, Napi::Object o, const char* key, bool dflt, bool* out) {
  Napi::Value v = o.Get(key);
  if (env.IsExceptionPending()) return false;
  if (v.IsUndefined()) {
    *out = dflt;
    return true;
  }
  if (!v.IsBoolean()) {
    Napi::TypeError::New(env, std::string("pcap option ") + key + " must be a boolean")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = v.As<Napi::Boolean>().Value();
  return true;
}

const char* kCapHint = " needs CAP_NET_RAW (run as root or setcap cap_net_raw+ep $(which node))";

class Pcap : public Napi::ObjectWrap<Pcap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Pcap",
                       {
                           InstanceMethod<&Pcap::Start>("start"),
                           InstanceMethod<&Pcap::Stop>("stop"),
                           InstanceMethod<&Pcap::Write>("write"),
                           InstanceMethod<&Pcap::WriteBatch>("writeBatch"),
                           InstanceMethod<&Pcap::SetFilter>("setFilter"),
                           InstanceMethod<&Pcap::Close>("close"),
                           InstanceMethod<&Pcap::RefLoop>("ref"),
                           InstanceMethod<&Pcap::UnrefLoop>("unref"),
                           InstanceMethod<&Pcap::Counters>("counters"),
                           InstanceAccessor<&Pcap::GetFd>("fd"),
                           InstanceAccessor<&Pcap::GetName>("name"),
                           InstanceAccessor<&Pcap::GetSnaplen>("snaplen"),
                           InstanceAccessor<&Pcap::GetBatch>("batch"),
                           InstanceAccessor<&Pcap::GetDirectionIn>("directionIn"),
                           InstanceAccessor<&Pcap::GetPromisc>("promisc"),
                           InstanceAccessor<&Pcap::GetWarning>("warning"),
                           InstanceAccessor<&Pcap::GetClosed>("closed"),
                           InstanceAccessor<&Pcap::GetPolling>("polling"),
                           InstanceAccessor<&Pcap::GetDown>("down"),
                           InstanceAccessor<&Pcap::GetRxBuffer>("rxBuffer"),
                           InstanceAccessor<&Pcap::GetRxLengths>("rxLengths"),
                           InstanceAccessor<&Pcap::GetLastWriteErrno>("lastWriteErrno"),
                       });
  }

  // new Pcap({ iface, snaplen?, promisc?, batch?, bufferSize? })
  explicit Pcap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Pcap>(info) {
    Napi::Env env = info.Env();
    Napi::Object o;
    std::string name;
    if (!CtorOptionsName(info, "Pcap", "pcap", "iface", "pcap_create", &o, &name)) return;
    uint32_t snaplen = 0, batch = 0, bufferSize = 0;
    bool promisc = true;
    if (!GetU32Opt(env, o, "pcap", "snaplen", kMinSnaplen, kMaxSnaplen, kDefaultSnaplen, &snaplen)) return;
    if (!GetU32Opt(env, o, "pcap", "batch", 1, kMaxBatch, kDefaultBatch, &batch)) return;
    if (!GetU32Opt(env, o, "pcap", "bufferSize", kMinKernelBuffer, kMaxKernelBuffer, kDefaultKernelBuffer, &bufferSize))
      return;
    if (!GetBoolOpt(env, o, "promisc", true, &promisc)) return;
    if (static_cast<size_t>(batch) * snaplen > kMaxRxBuffer) {
      Napi::RangeError::New(env, "pcap options batch * snaplen exceed " + std::to_string(kMaxRxBuffer) +
                                     " bytes")
          .ThrowAsJavaScriptException();
      return;
    }
    name_ = name;
    snaplen_ = snaplen;
    batch_ = batch;
    promisc_ = promisc;
    capacity_ = static_cast<size_t>(batch) * snaplen;
    if (!OpenCapture(env, bufferSize)) return;

    if (!rx_.Alloc(env, capacity_, batch_)) {  // out of memory
      ClosePcap();
      return;
    }

    uv_loop_t* loop = nullptr;
    poll_ = NewPoll(env, fd_, &loop);
    if (!poll_) {
      ClosePcap();
      SysError(env, EIO, "cannot poll the capture on " + name_, "uv_poll_init").ThrowAsJavaScriptException();
      return;
    }
    poll_->data = this;
    timer_ = new uv_timer_t;
    if (uv_timer_init(loop, timer_) != 0) {
      delete timer_;
      timer_ = nullptr;
    } else {
      timer_->data = this;
    }
    napi_add_env_cleanup_hook(env, EnvCleanup, this);
    hooked_ = true;
  }

  ~Pcap() override { Shutdown(false); }

 private:
  // pcap_create .. pcap_activate .. non-blocking; on failure throws and leaves p_ null.
  bool OpenCapture(Napi::Env env, uint32_t bufferSize) {
    // Checked first so a missing interface is reported as such even without privileges.
    ifindex_ = if_nametoindex(name_.c_str());
    if (ifindex_ == 0) {
      SysError(env, ENODEV, "no interface " + name_, "if_nametoindex").ThrowAsJavaScriptException();
      return false;
    }
    char errbuf[PCAP_ERRBUF_SIZE];
    errbuf[0] = '\0';
    pcap_t* p = pcap_create(name_.c_str(), errbuf);
    if (!p) {
      SysError(env, ENOMEM, "pcap_create " + name_ + ": " + OneLine(errbuf), "pcap_create")
          .ThrowAsJavaScriptException();
      return false;
    }
    p_ = p;
    if (pcap_set_snaplen(p, static_cast<int>(snaplen_)) != 0 || pcap_set_promisc(p, promisc_ ? 1 : 0) != 0 ||
        pcap_set_immediate_mode(p, 1) != 0 || pcap_set_buffer_size(p, static_cast<int>(bufferSize)) != 0) {
      ClosePcap();
      SysError(env, EINVAL, "cannot configure the capture on " + name_, "pcap_set").ThrowAsJavaScriptException();
      return false;
    }
    int r = pcap_activate(p);
    if (r < 0) {
      std::string detail = OneLine(pcap_geterr(p));
      int e = EIO;
      std::string why;
      switch (r) {
        case PCAP_ERROR_NO_SUCH_DEVICE:
          e = ENODEV;
          why = "no interface " + name_;
          break;
        case PCAP_ERROR_PERM_DENIED:
          e = EPERM;
          why = "capturing on " + name_ + kCapHint;
          break;
        case PCAP_ERROR_PROMISC_PERM_DENIED:
          e = EPERM;
          why = "promiscuous mode on " + name_ + kCapHint;
          break;
        case PCAP_ERROR_IFACE_NOT_UP:
          e = ENETDOWN;
          why = name_ + " is down (ip link set " + name_ + " up)";
          break;
        default:
          why = "cannot capture on " + name_ + ": " + (detail.empty() ? pcap_statustostr(r) : detail);
      }
      ClosePcap();
      SysError(env, e, why, "pcap_activate").ThrowAsJavaScriptException();
      return false;
    }
    if (r == PCAP_WARNING_PROMISC_NOTSUP) warning_ = name_ + " does not support promiscuous mode";
    else if (r > 0) warning_ = OneLine(pcap_geterr(p));
    int dlt = pcap_datalink(p);
    if (dlt != DLT_EN10MB) {
      const char* dn = pcap_datalink_val_to_name(dlt);
      ClosePcap();
      SysError(env, EPROTONOSUPPORT,
               name_ + " is not an Ethernet interface (link type " + (dn ? dn : std::to_string(dlt)) + ")",
               "pcap_datalink")
          .ThrowAsJavaScriptException();
      return false;
    }
    // Incoming only, so frames we inject (and the host's own transmissions)
    // are not captured. Where unsupported, JS filters by our source MAC.
    directionIn_ = pcap_setdirection(p, PCAP_D_IN) == 0;
    if (pcap_setnonblock(p, 1, errbuf) != 0) {
      std::string detail = OneLine(errbuf);
      ClosePcap();
      SysError(env, EIO, "cannot make the capture on " + name_ + " non-blocking: " + detail, "pcap_setnonblock")
          .ThrowAsJavaScriptException();
      return false;
    }
    fd_ = pcap_get_selectable_fd(p);
    if (fd_ < 0) {
      ClosePcap();
      SysError(env, EOPNOTSUPP, "the capture on " + name_ + " has no selectable fd", "pcap_get_selectable_fd")
          .ThrowAsJavaScriptException();
      return false;
    }
    return true;
  }

  void ClosePcap() {
    if (p_) {
      pcap_close(p_);  // closes fd_ too
      p_ = nullptr;
    }
    fd_ = -1;
  }

  static void EnvCleanup(void* arg) {
    Pcap* t = static_cast<Pcap*>(arg);
    t->hooked_ = false;  // the hook is being run; do not remove it
    t->Shutdown(false);
    t->rx_.Forget();
  }

  void Pin() { rx_.Pin(this); }
  void Unpin() { rx_.Unpin(this); }

  // Stop polling and close the capture. fromJs: may touch JS references.
  void Shutdown(bool fromJs) {
    CloseHandle(poll_);
    CloseHandle(timer_);
    polling_ = false;
    down_ = false;
    ClosePcap();  // after uv_close, which removed the fd from epoll
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
    if (!p_ || !poll_) {
      SysError(env, EBADF, "capture is closed", "start").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    rx_.Keep(info, "9net:pcap");
    if (!polling_ && !down_) {
      int r = uv_poll_start(poll_, UV_READABLE, OnPoll);
      if (r != 0) {
        SysError(env, -r, std::string("cannot poll ") + name_ + ": " + uv_strerror(r), "uv_poll_start")
            .ThrowAsJavaScriptException();
        return env.Undefined();
      }
      polling_ = true;
      Pin();
    } else if (!polling_) {  // down: the timer resumes polling when the interface is up again
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
    Pcap* t = static_cast<Pcap*>(h->data);
    if (t) t->HandlePoll(status);
  }

  void Quiesce() {
    if (poll_ && polling_) uv_poll_stop(poll_);
    if (timer_) uv_timer_stop(timer_);
    polling_ = false;
  }

  static void OnTimer(uv_timer_t* h) {
    Pcap* t = static_cast<Pcap*>(h->data);
    if (t) t->CheckDown();
  }

  // The interface went down (ENETDOWN on the socket). The packet socket
  // stops capturing and resumes by itself when the interface comes back up;
  // meanwhile look every kDownCheckMs: up again -> poll again (frames that
  // arrived since wait in the ring); deleted or replaced -> fail.
  void EnterDown() {
    down_ = true;
    downs_++;
    if (!timer_ || uv_timer_start(timer_, OnTimer, kDownCheckMs, kDownCheckMs) != 0)
      Fail("ENETDOWN", name_ + ": interface went down");
  }

  void CheckDown() {
    if (!p_ || !down_) {
      if (timer_) uv_timer_stop(timer_);
      return;
    }
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object self = Value();  // keeps this object alive for the whole callback
    (void)self;
    if (if_nametoindex(name_.c_str()) != ifindex_) {
      down_ = false;
      uv_timer_stop(timer_);
      Fail("ENODEV", name_ + ": interface went away");
      return;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, name_.data(), name_.size());  // size < IFNAMSIZ checked
    if (ioctl(fd_, SIOCGIFFLAGS, &ifr) != 0 || !(ifr.ifr_flags & IFF_UP)) return;
    down_ = false;
    uv_timer_stop(timer_);
    if (polling_ && poll_) {
      int r = uv_poll_start(poll_, UV_READABLE, OnPoll);
      if (r != 0) Fail(uv_err_name(r), name_ + ": cannot poll again after the interface came up");
    }
  }

  // pcap_dispatch callback: copies one frame into the shared buffer.
  static void Collect(u_char* user, const struct pcap_pkthdr* h, const u_char* bytes) {
    Pcap* t = reinterpret_cast<Pcap*>(user);
    if (!h || !bytes || !t->rxBase_) return;
    const size_t cap = h->caplen;
    if (cap < h->len || cap > t->snaplen_) {  // cut at snaplen (or a bogus header): never deliver a partial frame
      t->rx_.truncated++;
      return;
    }
    if (cap < kEthHeader) {
      t->rx_.runts++;
      return;
    }
    if (t->rxCount_ >= t->batch_ || t->capacity_ - t->rxOff_ < cap) {  // cannot happen (cnt <= free slots); kept as a guard
      t->overflow_++;
      return;
    }
    memcpy(t->rxBase_ + t->rxOff_, bytes, cap);
    t->rxLens_p_[t->rxCount_++] = static_cast<uint32_t>(cap);
    t->rxOff_ += cap;
  }

  void HandlePoll(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object self = Value();  // keeps this object alive for the whole callback
    if (status < 0) {
      // libuv stopped the poll (POLLERR). A packet socket reports ENETDOWN
      // (reading SO_ERROR clears it) when its interface goes down, and
      // resumes when it comes back up: wait for that while the same
      // interface exists, fail otherwise.
      int soerr = 0;
      socklen_t sl = sizeof soerr;
      if (fd_ >= 0 && getsockopt(fd_, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) soerr = errno;
      if (soerr == ENETDOWN && if_nametoindex(name_.c_str()) == ifindex_ && polling_) {
        EnterDown();
        return;
      }
      if (soerr == ENETDOWN || soerr == ENODEV || soerr == ENXIO || if_nametoindex(name_.c_str()) != ifindex_)
        Fail(ErrnoName(soerr ? soerr : ENODEV), name_ + ": interface went away");
      else
        Fail(soerr ? ErrnoName(soerr) : uv_err_name(status),
             name_ + ": capture failed (" + (soerr ? strerror(soerr) : uv_strerror(status)) + ")");
      return;
    }
    if (!p_) return;
    if (!rx_.Get(capacity_, batch_, &rxBase_, &rxLens_p_)) {
      Fail("EINVAL", name_ + ": rx buffer was detached or resized");
      return;
    }
    rxOff_ = 0;
    rxCount_ = 0;
    // At most batch_ frames are processed per wakeup (delivered or dropped as
    // truncated/runt), so the shared buffer (batch_ * snaplen_ bytes) always
    // has room; the poll is level-triggered, so the rest comes next wakeup.
    uint32_t processed = 0;
    std::string err;
    int errCode = 0;
    while (processed < batch_) {
      int r = pcap_dispatch(p_, static_cast<int>(batch_ - processed), Collect, reinterpret_cast<u_char*>(this));
      if (r < 0) {
        if (r != PCAP_ERROR_BREAK) {
          errCode = r;
          err = OneLine(pcap_geterr(p_));
        }
        break;
      }
      if (r == 0) break;
      processed += static_cast<uint32_t>(r);
    }
    uint32_t n = rxCount_;
    rxBase_ = nullptr;
    rxLens_p_ = nullptr;
    if (!rx_.Deliver(env, self, n)) {
      Quiesce();
      return;
    }
    if (errCode && p_ && polling_) {
      if (if_nametoindex(name_.c_str()) != ifindex_) {
        Fail("ENODEV", name_ + ": interface went away");
        return;
      }
      const char* code = errCode == PCAP_ERROR_IFACE_NOT_UP ? "ENETDOWN" : "EIO";
      Fail(code, name_ + ": capture failed (" + (err.empty() ? pcap_statustostr(errCode) : err) + ")");
    }
  }

  // Stop polling (the capture stays open until close()) and report to JS.
  void Fail(const std::string& code, const std::string& message) {
    Napi::Env env = Env();
    if (poll_ && polling_) uv_poll_stop(poll_);
    if (timer_) uv_timer_stop(timer_);
    down_ = false;
    polling_ = false;
    // Unpin: the caller's `self` handle keeps us alive until it returns.
    rx_.Fail(env, Value(), code, message, [this] { Unpin(); });
  }

  // Returns 0 when sent, else an errno (EINVAL/EMSGSIZE for bad lengths).
  int WriteOne(const uint8_t* p, size_t len) {
    if (!p_) return EBADF;
    if (len < kEthHeader || !p) return EINVAL;
    if (len > kMaxFrameLen) return EMSGSIZE;
    errno = 0;
    int r = pcap_inject(p_, p, len);
    if (r < 0) {
      int e = errno;  // pcap_inject on Linux is send(2) on the capture socket
      return e ? e : EIO;
    }
    if (static_cast<size_t>(r) != len) return EIO;
    return 0;
  }

  // write(frame: Uint8Array): number — 0 or an errno.
  Napi::Value Write(const Napi::CallbackInfo& info) {
    return WriteFrame(info, &lastWriteErrno_, [this](const uint8_t* p, size_t len) { return WriteOne(p, len); });
  }

  // writeBatch(frames, start = 0): frames sent; see WriteFrames.
  Napi::Value WriteBatch(const Napi::CallbackInfo& info) {
    return WriteFrames(info, &lastWriteErrno_, [this](const uint8_t* p, size_t len) { return WriteOne(p, len); });
  }

  // setFilter(expression: string): a kernel BPF filter ("" = none). Throws
  // "EINVAL: bad filter ..." if libpcap cannot compile it.
  Napi::Value SetFilter(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) {
      Napi::TypeError::New(env, "setFilter(expression): expression must be a string").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    std::string expr = info[0].As<Napi::String>().Utf8Value();
    if (expr.size() > kMaxFilterLen || expr.find('\0') != std::string::npos) {
      Napi::RangeError::New(env, "setFilter: expression longer than " + std::to_string(kMaxFilterLen) +
                                     " characters or containing NUL")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!p_) {
      SysError(env, EBADF, "capture is closed", "setFilter").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    struct bpf_program prog;
    if (pcap_compile(p_, &prog, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      SysError(env, EINVAL, "bad filter \"" + expr.substr(0, 80) + "\": " + OneLine(pcap_geterr(p_)), "pcap_compile")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    int r = pcap_setfilter(p_, &prog);
    pcap_freecode(&prog);
    if (r != 0) {
      SysError(env, EIO, "cannot set filter on " + name_ + ": " + OneLine(pcap_geterr(p_)), "pcap_setfilter")
          .ThrowAsJavaScriptException();
    }
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown(true);
    return info.Env().Undefined();
  }

  Napi::Value RefLoop(const Napi::CallbackInfo& info) {
    RefHandle(poll_, true);
    RefHandle(timer_, true);
    return info.Env().Undefined();
  }
  Napi::Value UnrefLoop(const Napi::CallbackInfo& info) {
    RefHandle(poll_, false);
    RefHandle(timer_, false);
    return info.Env().Undefined();
  }

  Napi::Value Counters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = rx_.Counters(env);
    o.Set("overflow", Napi::Number::New(env, static_cast<double>(overflow_)));
    o.Set("downs", Napi::Number::New(env, static_cast<double>(downs_)));
    // Kernel-side drops (ring full), from pcap_stats; kept after close.
    if (p_) {
      struct pcap_stat ps;
      if (pcap_stats(p_, &ps) == 0) {
        kernelDrops_ = ps.ps_drop;
        ifDrops_ = ps.ps_ifdrop;
      }
    }
    o.Set("kernelDrops", Napi::Number::New(env, static_cast<double>(kernelDrops_)));
    o.Set("ifDrops", Napi::Number::New(env, static_cast<double>(ifDrops_)));
    return o;
  }

  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
  Napi::Value GetName(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), name_); }
  Napi::Value GetSnaplen(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), snaplen_); }
  Napi::Value GetBatch(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), batch_); }
  Napi::Value GetDirectionIn(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), directionIn_); }
  Napi::Value GetPromisc(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), promisc_); }
  Napi::Value GetWarning(const Napi::CallbackInfo& info) {
    if (warning_.empty()) return info.Env().Null();
    return Napi::String::New(info.Env(), warning_);
  }
  Napi::Value GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), p_ == nullptr); }
  Napi::Value GetPolling(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), polling_); }
  Napi::Value GetDown(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), down_); }
  Napi::Value GetRxBuffer(const Napi::CallbackInfo& info) { return rx_.buf.Value(); }
  Napi::Value GetRxLengths(const Napi::CallbackInfo& info) { return rx_.lens.Value(); }
  Napi::Value GetLastWriteErrno(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), lastWriteErrno_);
  }

  pcap_t* p_ = nullptr;
  int fd_ = -1;
  unsigned ifindex_ = 0;
  std::string name_;
  std::string warning_;
  uint32_t snaplen_ = kDefaultSnaplen;
  uint32_t batch_ = kDefaultBatch;
  bool promisc_ = true;
  bool directionIn_ = false;
  size_t capacity_ = 0;
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;  // runs only while the interface is down (ref'd like poll_)
  bool polling_ = false;         // JS wants frames (start() without stop())
  bool down_ = false;            // interface down: poll stopped, timer watching
  bool hooked_ = false;
  int lastWriteErrno_ = 0;
  // Valid only during HandlePoll's pcap_dispatch calls (used by Collect).
  uint8_t* rxBase_ = nullptr;
  uint32_t* rxLens_p_ = nullptr;
  size_t rxOff_ = 0;
  uint32_t rxCount_ = 0;
  uint64_t overflow_ = 0, downs_ = 0;
  uint64_t kernelDrops_ = 0, ifDrops_ = 0;
  RxBatch rx_;  // shared rx buffer, JS callbacks, batches/frames/truncated/runts
};

// Reads one ethtool on/off value; -1 when unknown.
int EthtoolFlag(int s, const std::string& name, uint32_t cmd) {
  struct ethtool_value ev;
  memset(&ev, 0, sizeof ev);
  ev.cmd = cmd;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_data = reinterpret_cast<char*>(&ev);
  if (ioctl(s, SIOCETHTOOL, &ifr) != 0) return -1;
  return static_cast<int>(ev.data);
}

// interfaceInfo(name): { index, mtu, mac, up, gro, lro, rxChecksum } for a
// device in this network namespace, or null if there is none. Offload
// fields are null when the driver does not say.
Napi::Value InterfaceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (!InterfaceNameArg(info, &name)) return env.Undefined();
  unsigned index = if_nametoindex(name.c_str());
  if (index == 0) return env.Null();
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) s = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    int e = errno;
    SysError(env, e, std::string("socket: ") + strerror(e), "socket").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = Napi::Object::New(env);
  SetIndexMtuMac(env, o, s, name, index);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name.data(), name.size());
  if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) o.Set("up", Napi::Boolean::New(env, (ifr.ifr_flags & IFF_UP) != 0));
  else o.Set("up", env.Null());
  auto flag = [&](const char* key, int v) {
    if (v < 0) o.Set(key, env.Null());
    else o.Set(key, Napi::Boolean::New(env, v != 0));
  };
  flag("gro", EthtoolFlag(s, name, ETHTOOL_GGRO));
  int flags = EthtoolFlag(s, name, ETHTOOL_GFLAGS);
  flag("lro", flags < 0 ? -1 : (flags & ETH_FLAG_LRO) != 0);
  ::close(s);
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Pcap", Pcap::Init(env));
  exports.Set("interfaceInfo", Napi::Function::New<InterfaceInfo>(env, "interfaceInfo"));
  exports.Set("libVersion", Napi::String::New(env, OneLine(pcap_lib_version())));
  Napi::Object c = Napi::Object::New(env);
  c.Set("ABI", Napi::Number::New(env, kAbi));
  c.Set("MAX_BATCH", Napi::Number::New(env, kMaxBatch));
  c.Set("DEFAULT_BATCH", Napi::Number::New(env, kDefaultBatch));
  c.Set("MIN_SNAPLEN", Napi::Number::New(env, kMinSnaplen));
  c.Set("MAX_SNAPLEN", Napi::Number::New(env, kMaxSnaplen));
  c.Set("DEFAULT_SNAPLEN", Napi::Number::New(env, kDefaultSnaplen));
  c.Set("MAX_FRAME_LEN", Napi::Number::New(env, kMaxFrameLen));
  c.Set("MAX_RX_BUFFER", Napi::Number::New(env, static_cast<double>(kMaxRxBuffer)));
  c.Set("TX_BATCH_MAX", Napi::Number::New(env, kTxBatchMax));
  c.Set("MIN_KERNEL_BUFFER", Napi::Number::New(env, kMinKernelBuffer));
  c.Set("MAX_KERNEL_BUFFER", Napi::Number::New(env, kMaxKernelBuffer));
  c.Set("DEFAULT_KERNEL_BUFFER", Napi::Number::New(env, kDefaultKernelBuffer));
  c.Set("MAX_FILTER_LEN", Napi::Number::New(env, static_cast<double>(kMaxFilterLen)));
  exports.Set("constants", c);
  return exports;
}

}  // namespace

NODE_API_MODULE(pcap, Init)
