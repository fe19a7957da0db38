// 9net native link addons: finishing what the kernel left to a NIC. A frame
// read with a virtio-net header (PACKET_VNET_HDR on a packet socket) may be
// a CHECKSUM_PARTIAL frame, whose TCP/UDP checksum field holds only the
// pseudo-header sum (VIRTIO_NET_HDR_F_NEEDS_CSUM: the sender's kernel left
// the rest to the hardware, as a veth peer with tx checksum offload does),
// or a GSO frame: one IPv4 TCP (TSO, or segments merged by GRO) or UDP (USO)
// datagram of up to 64 KiB that the hardware would have cut into gso_size
// pieces. This does what the hardware would: it finishes the checksum
// (RFC 1071 ones' complement sum from csum_start to the end of the IPv4
// datagram, stored at csum_start + csum_offset), or cuts the datagram into
// wire-sized frames with their own IPv4 total length, identification and
// header checksum (RFC 791), TCP sequence numbers and flags (FIN and PSH on
// the last piece only, CWR on the first, as RFC 9293 segmentation of one
// send would), UDP lengths (RFC 768), and finished checksums. Pure functions
// over bounded byte ranges; every offset is checked before use.

#ifndef NINENET_NATIVE_OFFLOAD_H_
#define NINENET_NATIVE_OFFLOAD_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

namespace ninenet {

constexpr uint32_t kVnetHdrLen = 10;    // struct virtio_net_hdr (legacy, native byte order)
constexpr uint32_t kMaxSplit = 128;     // pieces one GSO frame may be cut into (gso_size >= 512 for 64 KiB)
constexpr uint32_t kMaxSplitHdr = 14 + 4 + 60 + 60;  // Ethernet, one VLAN tag, IPv4 and TCP headers with options

// virtio_net_hdr values (linux/virtio_net.h; UDP_L4 is newer than some headers).
constexpr uint8_t kVnetNeedsCsum = 1;
constexpr uint8_t kGsoNone = 0;
constexpr uint8_t kGsoTcpV4 = 1;
constexpr uint8_t kGsoUdpL4 = 5;
constexpr uint8_t kGsoEcn = 0x80;

struct VnetHdr {
  uint8_t flags = 0;
  uint8_t gsoType = kGsoNone;
  uint16_t hdrLen = 0, gsoSize = 0, csumStart = 0, csumOffset = 0;
};

// The header as a packet socket writes it: u8 flags, u8 gso_type, then four
// u16 in the host's byte order (virtio "legacy" layout on this machine).
inline VnetHdr ParseVnetHdr(const uint8_t* p) {
  VnetHdr h;
  h.flags = p[0];
  h.gsoType = p[1];
  memcpy(&h.hdrLen, p + 2, 2);
  memcpy(&h.gsoSize, p + 4, 2);
  memcpy(&h.csumStart, p + 6, 2);
  memcpy(&h.csumOffset, p + 8, 2);
  return h;
}

inline uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t Get32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 | p[3];
}
inline void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void Put32(uint8_t* p, uint32_t v) {
  Put16(p, static_cast<uint16_t>(v >> 16));
  Put16(p + 2, static_cast<uint16_t>(v));
}

// RFC 1071: the 16-bit ones' complement sum of p[0..n), added to `sum`
// (not folded; n < 2^32 keeps 64 bits from overflowing).
inline uint64_t OnesSum(const uint8_t* p, size_t n, uint64_t sum) {
  size_t i = 0;
  for (; i + 1 < n; i += 2) sum += Get16(p + i);
  if (i < n) sum += static_cast<uint64_t>(p[i]) << 8;
  return sum;
}

// The checksum to store for a sum: folded to 16 bits and complemented.
inline uint16_t Checksum(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// Where the IPv4 datagram of an untagged Ethernet frame ends: its total
// length when that is consistent, else the frame's end (GSO frames past 64
// KiB carry 0 there). 0 when the frame is not IPv4.
inline size_t Ipv4End(const uint8_t* f, size_t len) {
  if (len < 14 + 20 || Get16(f + 12) != 0x0800 || (f[14] >> 4) != 4) return 0;
  size_t ihl = static_cast<size_t>(f[14] & 15) * 4;
  size_t tot = Get16(f + 16);
  if (tot >= ihl && 14 + tot <= len) return 14 + tot;
  return len;
}

// VIRTIO_NET_HDR_F_NEEDS_CSUM: finishes the checksum whose field is at
// start + off (it holds the pseudo-header sum) over [start, end of the IPv4
// datagram or of the frame). False (frame untouched) when the offsets do
// not fit the frame.
inline bool FinishChecksum(uint8_t* f, size_t len, size_t start, size_t off) {
  size_t end = Ipv4End(f, len);
  if (end == 0) end = len;
  if (start >= end || off > end - start || end - start - off < 2) return false;
  uint16_t c = Checksum(OnesSum(f + start, end - start, 0));
  Put16(f + start + off, c == 0 ? 0xffff : c);  // 0 would mean "no checksum" to UDP
  return true;
}

enum class SplitResult { Ok, Unsupported, TooLong, NoRoom };

// Cuts the GSO frame f[0..len) (untagged Ethernet, IPv4, TCP or UDP per
// h.gsoType) into pieces of at most h.gsoSize payload bytes. Each piece,
// `tag` bytes (an 802.1Q tag, 0 or 4) inserted after the MACs, goes where
// reserve(n) says (n = the piece's length; nullptr: no room). A piece longer
// than maxLen is TooLong and nothing is emitted; more than kMaxSplit pieces,
// another GSO type or a malformed frame is Unsupported. *pieces: how many.
template <class Reserve>
SplitResult SplitGso(const uint8_t* f, size_t len, const VnetHdr& h, const uint8_t* tag, size_t tagLen, size_t maxLen,
                     Reserve reserve, uint32_t* pieces) {
  *pieces = 0;
  const uint8_t type = h.gsoType & static_cast<uint8_t>(~kGsoEcn);
  const uint8_t proto = type == kGsoTcpV4 ? 6 : type == kGsoUdpL4 ? 17 : 0;
  size_t end = Ipv4End(f, len);
  if (proto == 0 || end == 0 || f[14 + 9] != proto || h.gsoSize == 0) return SplitResult::Unsupported;
  const size_t ip = 14, ihl = static_cast<size_t>(f[ip] & 15) * 4;
  if (ihl < 20 || (Get16(f + ip + 6) & 0x3fff) != 0) return SplitResult::Unsupported;  // a fragment is no GSO frame
  const size_t l4 = ip + ihl;
  size_t hdr;
  if (proto == 6) {
    if (l4 + 20 > end) return SplitResult::Unsupported;
    size_t doff = static_cast<size_t>(f[l4 + 12] >> 4) * 4;
    if (doff < 20) return SplitResult::Unsupported;
    hdr = l4 + doff;
  } else {
    hdr = l4 + 8;
  }
  if (hdr > end) return SplitResult::Unsupported;
  const size_t payload = end - hdr, mss = h.gsoSize;
  const size_t n = payload == 0 ? 1 : (payload + mss - 1) / mss;
  if (n > kMaxSplit) return SplitResult::Unsupported;
  if (hdr + (payload < mss ? payload : mss) + tagLen > maxLen) return SplitResult::TooLong;
  const uint32_t seq0 = proto == 6 ? Get32(f + l4 + 4) : 0;
  const uint16_t id0 = Get16(f + ip + 4);
  const uint32_t src = Get32(f + ip + 12), dst = Get32(f + ip + 16);
  for (size_t i = 0; i < n; i++) {
    const size_t at = i * mss, chunk = payload - at < mss ? payload - at : mss;
    const size_t plen = hdr + chunk + tagLen;
    uint8_t* o = reserve(plen);
    if (!o) return SplitResult::NoRoom;
    memcpy(o, f, 12);
    if (tagLen) memcpy(o + 12, tag, tagLen);
    uint8_t* b = o + tagLen;  // offsets from 12 on are the frame's, shifted by the tag
    memcpy(b + 12, f + 12, hdr - 12);
    memcpy(b + hdr, f + hdr + at, chunk);
    const size_t l4len = hdr - l4 + chunk;
    Put16(b + ip + 2, static_cast<uint16_t>(ihl + l4len));
    Put16(b + ip + 4, static_cast<uint16_t>(id0 + i));
    Put16(b + ip + 10, 0);
    Put16(b + ip + 10, Checksum(OnesSum(b + ip, ihl, 0)));
    uint64_t pseudo = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + l4len;
    if (proto == 6) {
      Put32(b + l4 + 4, static_cast<uint32_t>(seq0 + at));
      uint8_t fl = f[l4 + 13];
      if (i + 1 < n) fl &= static_cast<uint8_t>(~(0x01 | 0x08));  // FIN, PSH: last piece only
      if (i > 0) fl &= static_cast<uint8_t>(~0x80);                // CWR: first piece only
      b[l4 + 13] = fl;
      Put16(b + l4 + 16, 0);
      Put16(b + l4 + 16, Checksum(OnesSum(b + l4, l4len, pseudo)));
    } else {
      Put16(b + l4 + 4, static_cast<uint16_t>(l4len));
      Put16(b + l4 + 6, 0);
      uint16_t c = Checksum(OnesSum(b + l4, l4len, pseudo));
      Put16(b + l4 + 6, c == 0 ? 0xffff : c);
    }
    ++*pieces;
  }
  return SplitResult::Ok;
}

}  // namespace ninenet

#endif  // NINENET_NATIVE_OFFLOAD_H_
