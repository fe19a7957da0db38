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

#include <napi.h>
#include <uv.h>

#include <pcap/pcap.h>

#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <initializer_list>
#include <memory>
#include <string>

namespace {

// ---- bounds (all stated here; mirrored in src/link/pcap.ts) ---------------
constexpr uint32_t kAbi = 1;                  // bump when the JS contract changes
constexpr uint32_t kEthHeader = 14;           // dst MAC, src MAC, EtherType
constexpr uint32_t kMaxFrameLen = 65535;      // largest frame accepted on tx
constexpr uint32_t kMinSnaplen = 64;          // smallest capture length allowed
constexpr uint32_t kMaxSnaplen = 65535 + 4;   // largest: max frame plus a VLAN tag
constexpr uint32_t kDefaultSnaplen = 1500 + kEthHeader + 4;
constexpr uint32_t kMaxBatch = 1024;          // frames per wakeup (one JS call), upper bound
constexpr uint32_t kDefaultBatch = 64;        // frames per wakeup, default
constexpr size_t kMaxRxBuffer = 16u << 20;    // shared rx buffer bytes (batch * snaplen), upper bound
constexpr uint32_t kTxBatchMax = 1024;        // frames per writeBatch() call
constexpr uint32_t kMinKernelBuffer = 64u << 10;    // pcap_set_buffer_size lower bound
constexpr uint32_t kMaxKernelBuffer = 256u << 20;   // and upper bound
constexpr uint32_t kDefaultKernelBuffer = 4u << 20; // default ring size
constexpr size_t kMaxFilterLen = 4096;        // BPF filter expression characters
constexpr uint64_t kDownCheckMs = 200;        // while the interface is down: how often to look again

const char* ErrnoName(int err) {
  const char* n = strerrorname_np(err);
  return n ? n : "EUNKNOWN";
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

// libpcap's error text, one line, bounded.
std::string OneLine(const char* s) {
  std::string out = s ? s : "";
  if (out.size() > PCAP_ERRBUF_SIZE) out.resize(PCAP_ERRBUF_SIZE);
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
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
    Napi::TypeError::New(env, std::string("pcap option ") + key + " must be a number")
        .ThrowAsJavaScriptException();
    return false;
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || d != static_cast<double>(static_cast<uint32_t>(d))) {
    Napi::RangeError::New(env, std::string("pcap option ") + key + " must be an integer in [" +
                                   std::to_string(lo) + ", " + std::to_string(hi) + "]")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<uint32_t>(d);
  return true;
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
    if (info.Length() < 1 || !info[0].IsObject()) {
      Napi::TypeError::New(env, "new Pcap(options): options object required").ThrowAsJavaScriptException();
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    Napi::Value nameV = o.Get("iface");
    if (env.IsExceptionPending()) return;
    if (!nameV.IsString()) {
      Napi::TypeError::New(env, "pcap option iface must be a string").ThrowAsJavaScriptException();
      return;
    }
    std::string name = nameV.As<Napi::String>().Utf8Value();
    if (!ValidIfName(name)) {
      InvalidName(env, name, "pcap_create").ThrowAsJavaScriptException();
      return;
    }
    uint32_t snaplen = 0, batch = 0, bufferSize = 0;
    bool promisc = true;
    if (!GetU32Opt(env, o, "snaplen", kMinSnaplen, kMaxSnaplen, kDefaultSnaplen, &snaplen)) return;
    if (!GetU32Opt(env, o, "batch", 1, kMaxBatch, kDefaultBatch, &batch)) return;
    if (!GetU32Opt(env, o, "bufferSize", kMinKernelBuffer, kMaxKernelBuffer, kDefaultKernelBuffer, &bufferSize))
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

    Napi::ArrayBuffer rxBuf = Napi::ArrayBuffer::New(env, capacity_);
    Napi::Uint32Array rxLens = Napi::Uint32Array::New(env, batch_);
    if (env.IsExceptionPending()) {  // out of memory
      ClosePcap();
      return;
    }
    rxBuf_ = Napi::Persistent(rxBuf);
    rxLens_ = Napi::Persistent(rxLens);

    poll_ = new uv_poll_t;
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop || uv_poll_init(loop, poll_, fd_) != 0) {
      delete poll_;
      poll_ = nullptr;
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

  // Stop polling and close the capture. fromJs: may touch JS references.
  void Shutdown(bool fromJs) {
    if (poll_) {
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (timer_) {
      timer_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
      timer_ = nullptr;
    }
    polling_ = false;
    down_ = false;
    ClosePcap();  // after uv_close, which removed the fd from epoll
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
    if (!p_ || !poll_) {
      SysError(env, EBADF, "capture is closed", "start").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    onBatch_ = Napi::Persistent(info[0].As<Napi::Function>());
    onError_ = Napi::Persistent(info[1].As<Napi::Function>());
    if (!ctx_) ctx_ = std::make_shared<Napi::AsyncContext>(env, "9net:pcap");
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
    onBatch_.Reset();
    onError_.Reset();
    ctx_.reset();
    Unpin();
    return info.Env().Undefined();
  }

  static void OnPoll(uv_poll_t* h, int status, int events) {
    Pcap* t = static_cast<Pcap*>(h->data);
    if (t) t->HandlePoll(status);
  }

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
      t->truncated_++;
      return;
    }
    if (cap < kEthHeader) {
      t->runts_++;
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
    Napi::ArrayBuffer ab = rxBuf_.Value();
    Napi::Uint32Array lensArr = rxLens_.Value();
    if (ab.IsDetached() || ab.ByteLength() != capacity_ || lensArr.ElementLength() != batch_) {
      Fail("EINVAL", name_ + ": rx buffer was detached or resized");
      return;
    }
    rxBase_ = static_cast<uint8_t*>(ab.Data());
    rxLens_p_ = lensArr.Data();
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
    Napi::FunctionReference onError = std::move(onError_);
    std::shared_ptr<Napi::AsyncContext> ctx = std::move(ctx_);
    onBatch_.Reset();
    Unpin();  // the caller's `self` handle keeps us alive until it returns
    if (!onError.IsEmpty() && ctx)
      CallJs(env, Value(), onError.Value(), {Napi::String::New(env, code), Napi::String::New(env, message)}, *ctx);
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

  // writeBatch(frames: Uint8Array[], start = 0): number of frames sent,
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
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    if (timer_) uv_ref(reinterpret_cast<uv_handle_t*>(timer_));
    return info.Env().Undefined();
  }
  Napi::Value UnrefLoop(const Napi::CallbackInfo& info) {
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    if (timer_) uv_unref(reinterpret_cast<uv_handle_t*>(timer_));
    return info.Env().Undefined();
  }

  Napi::Value Counters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("batches", Napi::Number::New(env, static_cast<double>(batches_)));
    o.Set("frames", Napi::Number::New(env, static_cast<double>(frames_)));
    o.Set("truncated", Napi::Number::New(env, static_cast<double>(truncated_)));
    o.Set("runts", Napi::Number::New(env, static_cast<double>(runts_)));
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
  Napi::Value GetRxBuffer(const Napi::CallbackInfo& info) { return rxBuf_.Value(); }
  Napi::Value GetRxLengths(const Napi::CallbackInfo& info) { return rxLens_.Value(); }
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
  bool pinned_ = false;
  bool hooked_ = false;
  int lastWriteErrno_ = 0;
  // Valid only during HandlePoll's pcap_dispatch calls (used by Collect).
  uint8_t* rxBase_ = nullptr;
  uint32_t* rxLens_p_ = nullptr;
  size_t rxOff_ = 0;
  uint32_t rxCount_ = 0;
  uint64_t batches_ = 0, frames_ = 0, truncated_ = 0, runts_ = 0, overflow_ = 0, downs_ = 0;
  uint64_t kernelDrops_ = 0, ifDrops_ = 0;
  Napi::Reference<Napi::ArrayBuffer> rxBuf_;
  Napi::Reference<Napi::Uint32Array> rxLens_;
  Napi::FunctionReference onBatch_;
  Napi::FunctionReference onError_;
  std::shared_ptr<Napi::AsyncContext> ctx_;
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
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) s = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    int e = errno;
    SysError(env, e, std::string("socket: ") + strerror(e), "socket").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct ifreq ifr;
  Napi::Object o = Napi::Object::New(env);
  o.Set("index", Napi::Number::New(env, index));
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name.data(), name.size());
  if (ioctl(s, SIOCGIFMTU, &ifr) == 0) o.Set("mtu", Napi::Number::New(env, ifr.ifr_mtu));
  else o.Set("mtu", env.Null());
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name.data(), name.size());
  if (ioctl(s, SIOCGIFHWADDR, &ifr) == 0)
    o.Set("mac", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(ifr.ifr_hwaddr.sa_data), 6));
  else o.Set("mac", env.Null());
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
