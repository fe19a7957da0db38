// tapflood: bench-only traffic source for bench/tap-drain.js. Transmits one
// fixed Ethernet frame (EtherType 0x88B5, "local experimental") out of ONE
// named interface through an AF_PACKET socket with sendmmsg, as fast as it
// can, for a given number of seconds. Run it inside the test's network
// namespace (ip netns exec NS tapflood IF SECONDS DSTMAC) so the frames can
// only reach that interface, i.e. the TAP the benchmark drains.
// An optional 4th argument gives the frame's bytes after the two MACs
// (EtherType and payload) in hex, e.g. a UDP datagram for the stack bench;
// frames are padded to 60 bytes and at most 1514.
// Prints one JSON line: {"sent":N,"seconds":S}, N = frames the kernel took.
// Frames go through the qdisc; TAPFLOOD_BYPASS=1 sets PACKET_QDISC_BYPASS,
// which is slower here: sendmmsg then stops at the first frame a full TAP
// queue refuses.

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double Now() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool ParseMac(const char* s, unsigned char out[6]) {
  unsigned v[6];
  if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) return false;
  for (int i = 0; i < 6; i++) {
    if (v[i] > 255) return false;
    out[i] = static_cast<unsigned char>(v[i]);
  }
  return true;
}

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    fprintf(stderr, "usage: tapflood IFNAME SECONDS DSTMAC [FRAMEHEX]\n");
    return 2;
  }
  const char* ifname = argv[1];
  double seconds = atof(argv[2]);
  unsigned char dst[6];
  if (strlen(ifname) >= IFNAMSIZ || !(seconds > 0 && seconds <= 600) || !ParseMac(argv[3], dst)) {
    fprintf(stderr, "tapflood: bad arguments\n");
    return 2;
  }
  unsigned idx = if_nametoindex(ifname);
  if (!idx) {
    perror("tapflood: if_nametoindex");
    return 1;
  }
  int s = socket(AF_PACKET, SOCK_RAW, 0);  // protocol 0: transmit only
  if (s < 0) {
    perror("tapflood: socket(AF_PACKET)");
    return 1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, ifname, strlen(ifname));
  if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0) {
    perror("tapflood: SIOCGIFHWADDR");
    return 1;
  }
  int one = 1;
  if (getenv("TAPFLOOD_BYPASS")) setsockopt(s, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = static_cast<int>(idx);
  sll.sll_protocol = htons(0x88b5);
  if (bind(s, reinterpret_cast<struct sockaddr*>(&sll), sizeof sll) < 0) {
    perror("tapflood: bind");
    return 1;
  }

  unsigned char frame[1514];
  size_t flen = 60;  // minimum Ethernet frame without FCS
  memset(frame, 0, sizeof frame);
  memcpy(frame, dst, 6);
  memcpy(frame + 6, ifr.ifr_hwaddr.sa_data, 6);
  if (argc == 5) {
    const char* hex = argv[4];
    size_t n = strlen(hex);
    if (n % 2 != 0 || n / 2 > sizeof frame - 12) {
      fprintf(stderr, "tapflood: bad FRAMEHEX\n");
      return 2;
    }
    for (size_t i = 0; i < n / 2; i++) {
      unsigned v;
      if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
        fprintf(stderr, "tapflood: bad FRAMEHEX\n");
        return 2;
      }
      frame[12 + i] = static_cast<unsigned char>(v);
    }
    if (12 + n / 2 > flen) flen = 12 + n / 2;
  } else {
    frame[12] = 0x88;
    frame[13] = 0xb5;
    memcpy(frame + 14, "9net tap-drain bench", 20);
  }

  enum { kBatch = 64 };
  struct iovec iov = {frame, flen};
  struct mmsghdr msgs[kBatch];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < kBatch; i++) {
    msgs[i].msg_hdr.msg_iov = &iov;
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  unsigned long long sent = 0;
  double t0 = Now(), end = t0 + seconds, t = t0;
  for (unsigned iter = 0;; iter++) {
    if ((iter & 15) == 0 && (t = Now()) >= end) break;
    int r = sendmmsg(s, msgs, kBatch, 0);
    if (r > 0) sent += static_cast<unsigned>(r);
    else if (r < 0 && errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
      perror("tapflood: sendmmsg");
      return 1;
    }
  }
  printf("{\"sent\":%llu,\"seconds\":%.6f}\n", sent, t - t0);
  return 0;
}
