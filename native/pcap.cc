// 9net packet-socket addon (the "pcap" target): runs our stack over an
// existing interface. It receives on its own AF_PACKET socket bound to the
// interface (promiscuous membership, outgoing frames ignored, non-blocking),
// polled with uv_poll on the libuv loop, and drains each wakeup into one
// shared buffer (a bounded batch) with ONE JS call per batch; it sends on the
// same socket, one frame or a batch per call. libpcap compiles the kernel
// filter (pcap_compile on a dead handle, attached with SO_ATTACH_FILTER).
//
// Why not libpcap's capture: libpcap does not pass the kernel's per-frame
// status on, and a frame from a local sender with checksum offload (a veth
// peer) is CHECKSUM_PARTIAL: its TCP/UDP checksum is unfinished, and with
// TSO/GRO one "frame" is up to 64 KiB of TCP. The socket asks for a
// virtio-net header per frame (PACKET_VNET_HDR), which says so, and the
// addon finishes the checksum or cuts the frame into wire-sized pieces as a
// NIC would (offload.h), so the stack sees what the wire would carry.
// PACKET_AUXDATA gives the VLAN tag the NIC took off, put back in the frame
// as libpcap does. Every length coming from JS or the kernel is validated;
// bad input yields a JS exception or an errno result, never a crash, and no
// C++ exception crosses N-API (exceptions are disabled).
//
// A separate target from tap.node (binding.gyp): a host without libpcap-dev
// still builds the TAP addon.

#include "common.h"
#include "offload.h"

#include <pcap/pcap.h>

#include <errno.h>
#include <linux/ethtool.h>
#include <linux/filter.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <memory>
#include <string>

namespace {

using namespace ninenet;

// ---- bounds (all stated here, in common.h and offload.h; mirrored in src/link/pcap.ts)
constexpr uint32_t kAbi = 2;                  // bump when the JS contract changes
constexpr uint32_t kMinSnaplen = 64;          // smallest capture length allowed
constexpr uint32_t kMaxSnaplen = 65535 + 4;   // largest: max frame plus a VLAN tag
constexpr uint32_t kDefaultSnaplen = 1500 + kEthHeader + 4;
constexpr uint32_t kMinKernelBuffer = 64u << 10;    // socket receive buffer, lower bound
constexpr uint32_t kMaxKernelBuffer = 256u << 20;   // and upper bound
constexpr uint32_t kDefaultKernelBuffer = 4u << 20; // default
constexpr size_t kMaxFilterLen = 4096;        // BPF filter expression characters
constexpr uint64_t kDownCheckMs = 200;        // while the interface is down: how often to look again
constexpr uint32_t kVlanTag = 4;              // one 802.1Q tag
constexpr size_t kScratch = 65536 + 1024;     // one received frame: a 64 KiB GSO frame and headers; longer is truncated
constexpr int kFilterAccept = 1 << 18;        // bytes a compiled filter keeps (all: GSO frames must stay whole)
// Room in the shared buffer beyond batch * snaplen for the pieces of one GSO frame.
constexpr size_t kSplitRoom = kScratch + static_cast<size_t>(kMaxSplit) * kMaxSplitHdr;

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

// The link types a packet socket may report for a device that is not
// Ethernet, named as libpcap names their DLT.
std::string LinkTypeName(unsigned type) {
  switch (type) {
    case ARPHRD_NONE: return "RAW";
    case ARPHRD_PPP: return "PPP";
    case ARPHRD_IEEE80211_RADIOTAP: return "IEEE802_11_RADIO";
    case ARPHRD_IEEE80211: return "IEEE802_11";
    case ARPHRD_INFINIBAND: return "INFINIBAND";
    case ARPHRD_IPGRE: return "GRE";
    case ARPHRD_SIT: return "SIT";
    case ARPHRD_TUNNEL: return "IPIP";
    case ARPHRD_CAN: return "CAN_SOCKETCAN";
    default: return "ARPHRD " + std::to_string(type);
  }
}

// /sys/class/net/NAME/statistics/rx_dropped, or 0 when it cannot be read.
uint64_t ReadRxDropped(const std::string& name) {
  // (name is a valid interface name: no '/', checked by ValidIfName)
  std::string path = "/sys/class/net/" + name + "/statistics/rx_dropped";
  FILE* f = fopen(path.c_str(), "re");
  if (!f) return 0;
  unsigned long long v = 0;
  if (fscanf(f, "%llu", &v) != 1) v = 0;
  fclose(f);
  return v;
}

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
    if (!CtorOptionsName(info, "Pcap", "pcap", "iface", "socket", &o, &name)) return;
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
    // One wakeup takes frames while fewer than batch_ are in; the last frame
    // taken may be a GSO frame cut into up to kMaxSplit pieces.
    capacity_ = static_cast<size_t>(batch) * snaplen + kSplitRoom;
    slots_ = batch + kMaxSplit;
    scratch_.reset(new (std::nothrow) uint8_t[kScratch]);
    if (!scratch_) {
      SysError(env, ENOMEM, "no memory for the receive buffer", "new").ThrowAsJavaScriptException();
      return;
    }
    if (!OpenSocket(env, bufferSize)) return;

    if (!rx_.Alloc(env, capacity_, slots_)) {  // out of memory
      CloseSocket();
      return;
    }

    uv_loop_t* loop = nullptr;
    poll_ = NewPoll(env, fd_, &loop);
    if (!poll_) {
      CloseSocket();
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
  // Throws SysError(e, why) after closing the socket; returns false.
  bool OpenFailed(Napi::Env env, int e, const std::string& why, const char* syscall) {
    CloseSocket();
    SysError(env, e, why, syscall).ThrowAsJavaScriptException();
    return false;
  }

  // The packet socket, bound to the interface; on failure throws and leaves fd_ -1.
  bool OpenSocket(Napi::Env env, uint32_t bufferSize) {
    // Checked first so a missing interface is reported as such even without privileges.
    ifindex_ = if_nametoindex(name_.c_str());
    if (ifindex_ == 0) return OpenFailed(env, ENODEV, "no interface " + name_, "if_nametoindex");
    // Protocol 0: nothing is received until bind() names the interface.
    fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      int e = errno;
      if (e == EPERM || e == EACCES) return OpenFailed(env, EPERM, "capturing on " + name_ + kCapHint, "socket");
      return OpenFailed(env, e, "cannot capture on " + name_ + ": " + strerror(e), "socket");
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, name_.data(), name_.size());  // size < IFNAMSIZ checked
    if (ioctl(fd_, SIOCGIFFLAGS, &ifr) != 0) {
      int e = errno;
      return OpenFailed(env, e == ENODEV ? ENODEV : e, e == ENODEV ? "no interface " + name_ : "cannot capture on " + name_ + ": " + strerror(e), "ioctl");
    }
    if (!(ifr.ifr_flags & IFF_UP)) return OpenFailed(env, ENETDOWN, name_ + " is down (ip link set " + name_ + " up)", "ioctl");
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, name_.data(), name_.size());
    if (ioctl(fd_, SIOCGIFHWADDR, &ifr) != 0) {
      int e = errno;
      return OpenFailed(env, e, "cannot capture on " + name_ + ": " + strerror(e), "ioctl");
    }
    unsigned type = ifr.ifr_hwaddr.sa_family;
    // Loopback frames carry (all-zero) Ethernet headers, as libpcap treats them.
    if (type != ARPHRD_ETHER && type != ARPHRD_LOOPBACK)
      return OpenFailed(env, EPROTONOSUPPORT, name_ + " is not an Ethernet interface (link type " + LinkTypeName(type) + ")",
                        "ioctl");
    int one = 1;
    if (setsockopt(fd_, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) != 0 ||
        setsockopt(fd_, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) != 0) {
      int e = errno;
      return OpenFailed(env, e, "cannot configure the capture on " + name_ + ": " + strerror(e), "setsockopt");
    }
    // Incoming only, so frames we send (and the host's own transmissions)
    // are not received; where the kernel lacks it (before Linux 4.20), the
    // receive loop skips them by their packet type.
    directionIn_ = setsockopt(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) == 0;
    int bytes = static_cast<int>(bufferSize);
    // FORCE needs CAP_NET_ADMIN; without it the kernel caps SO_RCVBUF at net.core.rmem_max.
    if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
      setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    if (setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) != 0)
      setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = static_cast<int>(ifindex_);
    if (bind(fd_, reinterpret_cast<struct sockaddr*>(&sll), sizeof sll) != 0) {
      int e = errno;
      if (e == ENODEV || e == ENXIO) return OpenFailed(env, ENODEV, "no interface " + name_, "bind");
      if (e == ENETDOWN) return OpenFailed(env, ENETDOWN, name_ + " is down (ip link set " + name_ + " up)", "bind");
      return OpenFailed(env, e, "cannot capture on " + name_ + ": " + strerror(e), "bind");
    }
    if (promisc_) {
      struct packet_mreq mr;
      memset(&mr, 0, sizeof mr);
      mr.mr_ifindex = static_cast<int>(ifindex_);
      mr.mr_type = PACKET_MR_PROMISC;  // undone by the kernel when the socket closes
      if (setsockopt(fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0)
        warning_ = name_ + " does not support promiscuous mode (" + strerror(errno) + ")";
    }
    ifDropsBase_ = ReadRxDropped(name_);
    return true;
  }

  void CloseSocket() {
    if (fd_ >= 0) {
      ReadKernelDrops();
      ::close(fd_);
      fd_ = -1;
    }
  }

  // PACKET_STATISTICS counts since the last read (reading resets it).
  void ReadKernelDrops() {
    struct tpacket_stats st;
    socklen_t sl = sizeof st;
    if (fd_ >= 0 && getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &sl) == 0) kernelDrops_ += st.tp_drops;
  }

  // The interface's rx_dropped since open (0 if the counter went back: a new device).
  void ReadIfDrops() {
    uint64_t now = ReadRxDropped(name_);
    ifDrops_ = now >= ifDropsBase_ ? now - ifDropsBase_ : 0;
  }

  static void EnvCleanup(void* arg) {
    Pcap* t = static_cast<Pcap*>(arg);
    t->hooked_ = false;  // the hook is being run; do not remove it
    t->Shutdown(false);
    t->rx_.Forget();
  }

  void Pin() { rx_.Pin(this); }
  void Unpin() { rx_.Unpin(this); }

  // Stop polling and close the socket. fromJs: may touch JS references.
  void Shutdown(bool fromJs) {
    CloseHandle(poll_);
    CloseHandle(timer_);
    polling_ = false;
    down_ = false;
    if (fd_ >= 0) ReadIfDrops();
    CloseSocket();  // after uv_close, which removed the fd from epoll
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
  // stops receiving and resumes by itself when the interface comes back up;
  // meanwhile look every kDownCheckMs: up again -> poll again (frames that
  // arrived since wait in the socket); deleted or replaced -> fail.
  void EnterDown() {
    if (poll_ && polling_) uv_poll_stop(poll_);
    down_ = true;
    downs_++;
    if (!timer_ || uv_timer_start(timer_, OnTimer, kDownCheckMs, kDownCheckMs) != 0)
      Fail("ENETDOWN", name_ + ": interface went down");
  }

  void CheckDown() {
    if (fd_ < 0 || !down_) {
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

  // Room for one frame of n bytes at the end of the batch, or nullptr.
  uint8_t* Reserve(size_t n) {
    if (rxCount_ >= slots_ || capacity_ - rxOff_ < n) {  // cannot happen (see capacity_); kept as a guard
      overflow_++;
      return nullptr;
    }
    uint8_t* p = rxBase_ + rxOff_;
    rxLens_p_[rxCount_++] = static_cast<uint32_t>(n);
    rxOff_ += n;
    return p;
  }

  // One received frame f[0..len) with its virtio-net header and the VLAN
  // tag the NIC removed (tagLen 0 or 4): finished or split into the batch.
  void TakeFrame(uint8_t* f, size_t len, const VnetHdr& vh, const uint8_t* tag, size_t tagLen) {
    if (len < kEthHeader) {
      rx_.runts++;
      return;
    }
    if (vh.gsoType != kGsoNone) {
      uint32_t pieces = 0;
      SplitResult r = SplitGso(f, len, vh, tag, tagLen, snaplen_, [this](size_t n) { return Reserve(n); }, &pieces);
      if (r == SplitResult::Ok) {
        split_++;
        pieces_ += pieces;
      } else if (r == SplitResult::TooLong) {
        rx_.truncated++;
      } else if (r == SplitResult::Unsupported) {
        unsplit_++;
      }
      return;
    }
    if (vh.flags & kVnetNeedsCsum) {
      if (!FinishChecksum(f, len, vh.csumStart, vh.csumOffset)) {
        unsplit_++;
        return;
      }
      csumFinished_++;
    }
    if (len + tagLen > snaplen_) {  // never deliver a partial frame
      rx_.truncated++;
      return;
    }
    uint8_t* o = Reserve(len + tagLen);
    if (!o) return;
    memcpy(o, f, 12);
    if (tagLen) memcpy(o + 12, tag, tagLen);
    memcpy(o + 12 + tagLen, f + 12, len - 12);
  }

  // Receives one message into scratch_ and takes it. Returns 0, or the
  // errno that ended the batch (EAGAIN: nothing more now).
  int ReceiveOne() {
    uint8_t vnet[kVnetHdrLen];
    struct iovec iov[2] = {{vnet, sizeof vnet}, {scratch_.get(), kScratch}};
    struct sockaddr_ll from;
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t r = recvmsg(fd_, &msg, MSG_DONTWAIT | MSG_TRUNC);
    if (r < 0) return errno;
    if (from.sll_pkttype == PACKET_OUTGOING) return 0;
    if (static_cast<size_t>(r) < kVnetHdrLen) {
      rx_.runts++;
      return 0;
    }
    size_t len = static_cast<size_t>(r) - kVnetHdrLen;
    if ((msg.msg_flags & MSG_TRUNC) || len > kScratch) {
      rx_.truncated++;
      return 0;
    }
    uint8_t tag[kVlanTag];
    size_t tagLen = 0;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA ||
          c->cmsg_len < CMSG_LEN(sizeof(struct tpacket_auxdata)))
        continue;
      struct tpacket_auxdata aux;
      memcpy(&aux, CMSG_DATA(c), sizeof aux);
      if (aux.tp_status & TP_STATUS_VLAN_VALID) {
        uint16_t tpid = (aux.tp_status & TP_STATUS_VLAN_TPID_VALID) ? aux.tp_vlan_tpid : ETH_P_8021Q;
        Put16(tag, tpid);
        Put16(tag + 2, aux.tp_vlan_tci);
        tagLen = kVlanTag;
      }
    }
    TakeFrame(scratch_.get(), len, ParseVnetHdr(vnet), tag, tagLen);
    return 0;
  }

  void HandlePoll(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object self = Value();  // keeps this object alive for the whole callback
    if (status < 0) {
      // libuv stopped the poll (POLLERR). A packet socket reports ENETDOWN
      // (reading SO_ERROR clears it) when its interface goes down, and
      // resumes when it comes back up.
      int soerr = 0;
      socklen_t sl = sizeof soerr;
      if (fd_ >= 0 && getsockopt(fd_, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) soerr = errno;
      SocketError(soerr, uv_strerror(status), uv_err_name(status));
      return;
    }
    if (fd_ < 0) return;
    if (!rx_.Get(capacity_, slots_, &rxBase_, &rxLens_p_)) {
      Fail("EINVAL", name_ + ": rx buffer was detached or resized");
      return;
    }
    rxOff_ = 0;
    rxCount_ = 0;
    // Frames are taken while fewer than batch_ are in (each recvmsg adds one,
    // or the pieces of one GSO frame, which capacity_ has room for), and at
    // most batch_ messages are read per wakeup; the poll is level-triggered,
    // so the rest comes next wakeup.
    int err = 0;
    for (uint32_t msgs = 0; msgs < batch_ && rxCount_ < batch_; msgs++) {
      int e = ReceiveOne();
      if (e == 0 || e == EINTR) continue;
      // EINVAL: the kernel could not describe the frame's offload (a GSO
      // type without a virtio-net equivalent) and dropped it.
      if (e == EINVAL) {
        unsplit_++;
        continue;
      }
      if (e != EAGAIN && e != EWOULDBLOCK) err = e;
      break;
    }
    uint32_t n = rxCount_;
    rxBase_ = nullptr;
    rxLens_p_ = nullptr;
    if (!rx_.Deliver(env, self, n)) {
      Quiesce();
      return;
    }
    if (err && fd_ >= 0 && polling_) SocketError(err, strerror(err), ErrnoName(err));
  }

  // The socket reported `soerr` (0: only libuv's status, `what`/`code`):
  // interface down and still there -> wait for it; gone -> fail.
  void SocketError(int soerr, const char* what, const char* code) {
    if (soerr == ENETDOWN && if_nametoindex(name_.c_str()) == ifindex_ && polling_) {
      EnterDown();
      return;
    }
    if (soerr == ENETDOWN || soerr == ENODEV || soerr == ENXIO || if_nametoindex(name_.c_str()) != ifindex_)
      Fail(ErrnoName(soerr ? soerr : ENODEV), name_ + ": interface went away");
    else
      Fail(soerr ? ErrnoName(soerr) : code, name_ + ": capture failed (" + (soerr ? strerror(soerr) : what) + ")");
  }

  // Stop polling (the socket stays open until close()) and report to JS.
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
  // Frames go out behind an empty virtio-net header (no offload asked).
  int WriteOne(const uint8_t* p, size_t len) {
    if (fd_ < 0) return EBADF;
    if (len < kEthHeader || !p) return EINVAL;
    if (len > kMaxFrameLen) return EMSGSIZE;
    uint8_t vnet[kVnetHdrLen] = {};
    struct iovec iov[2] = {{vnet, sizeof vnet}, {const_cast<uint8_t*>(p), len}};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    ssize_t r = sendmsg(fd_, &msg, MSG_DONTWAIT);
    if (r < 0) return errno ? errno : EIO;
    if (static_cast<size_t>(r) != len + kVnetHdrLen) return EIO;
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

  // setFilter(expression: string): a kernel BPF filter in pcap syntax,
  // compiled by libpcap ("" = every frame). Throws "EINVAL: bad filter ..."
  // if libpcap cannot compile it.
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
    if (fd_ < 0) {
      SysError(env, EBADF, "capture is closed", "setFilter").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    pcap_t* dead = pcap_open_dead(DLT_EN10MB, kFilterAccept);
    if (!dead) {
      SysError(env, ENOMEM, "cannot compile a filter (pcap_open_dead)", "pcap_open_dead").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    struct bpf_program prog;
    if (pcap_compile(dead, &prog, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      std::string why = OneLine(pcap_geterr(dead));
      pcap_close(dead);
      SysError(env, EINVAL, "bad filter \"" + expr.substr(0, 80) + "\": " + why, "pcap_compile")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    pcap_close(dead);
    struct sock_fprog fp;
    fp.len = static_cast<unsigned short>(prog.bf_len);
    fp.filter = reinterpret_cast<struct sock_filter*>(prog.bf_insns);  // the same layout (linux/filter.h)
    int r = setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof fp);
    int e = errno;
    pcap_freecode(&prog);
    if (r != 0)
      SysError(env, e, "cannot set filter on " + name_ + ": " + strerror(e), "setsockopt").ThrowAsJavaScriptException();
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
    auto set = [&](const char* key, uint64_t v) { o.Set(key, Napi::Number::New(env, static_cast<double>(v))); };
    set("overflow", overflow_);
    set("downs", downs_);
    set("csumFinished", csumFinished_);
    set("split", split_);
    set("pieces", pieces_);
    set("unsplit", unsplit_);
    // Kernel-side drops (socket buffer full) and the interface's own; kept after close.
    if (fd_ >= 0) {
      ReadKernelDrops();
      ReadIfDrops();
    }
    set("kernelDrops", kernelDrops_);
    set("ifDrops", ifDrops_);
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
  Napi::Value GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fd_ < 0); }
  Napi::Value GetPolling(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), polling_); }
  Napi::Value GetDown(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), down_); }
  Napi::Value GetRxBuffer(const Napi::CallbackInfo& info) { return rx_.buf.Value(); }
  Napi::Value GetRxLengths(const Napi::CallbackInfo& info) { return rx_.lens.Value(); }
  Napi::Value GetLastWriteErrno(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), lastWriteErrno_);
  }

  int fd_ = -1;
  unsigned ifindex_ = 0;
  std::string name_;
  std::string warning_;
  uint32_t snaplen_ = kDefaultSnaplen;
  uint32_t batch_ = kDefaultBatch;
  uint32_t slots_ = kDefaultBatch + kMaxSplit;  // entries of the lengths array
  bool promisc_ = true;
  bool directionIn_ = false;
  size_t capacity_ = 0;
  std::unique_ptr<uint8_t[]> scratch_;  // kScratch bytes: the message being received
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;  // runs only while the interface is down (ref'd like poll_)
  bool polling_ = false;         // JS wants frames (start() without stop())
  bool down_ = false;            // interface down: poll stopped, timer watching
  bool hooked_ = false;
  int lastWriteErrno_ = 0;
  // Valid only during HandlePoll (used by Reserve).
  uint8_t* rxBase_ = nullptr;
  uint32_t* rxLens_p_ = nullptr;
  size_t rxOff_ = 0;
  uint32_t rxCount_ = 0;
  uint64_t overflow_ = 0, downs_ = 0;
  uint64_t csumFinished_ = 0, split_ = 0, pieces_ = 0, unsplit_ = 0;
  uint64_t kernelDrops_ = 0, ifDrops_ = 0, ifDropsBase_ = 0;
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
  c.Set("MAX_SPLIT", Napi::Number::New(env, kMaxSplit));
  exports.Set("constants", c);
  return exports;
}

}  // namespace

NODE_API_MODULE(pcap, Init)
