/* network.c: inside a new network namespace, lo up and (with --ip) eth0 configured. */
#include "sandbox.h"
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/route.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* A fresh network namespace starts with lo down; docker brings it up. */
void loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  close(s);
}

static void set_addr(int s, struct ifreq *ifr, unsigned long req, const char *addr) {
  struct sockaddr_in *sin = (struct sockaddr_in *)&ifr->ifr_addr;
  memset(sin, 0, sizeof *sin);
  sin->sin_family = AF_INET;
  if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) fail(125, "bad address %s", addr);
  if (ioctl(s, req, ifr) < 0) fail(125, "configure eth0 (%s): %s", addr, strerror(errno));
}

/* eth0: address/prefix, up, default route via the bridge (all ioctls, no ip(8) needed). */
void configure_eth0(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail(125, "socket: %s", strerror(errno));
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "eth0");
  set_addr(s, &ifr, SIOCSIFADDR, o.ip);
  char mask[32];
  uint32_t m = o.prefix ? htonl(~0U << (32 - o.prefix)) : 0;
  inet_ntop(AF_INET, &m, mask, sizeof mask);
  set_addr(s, &ifr, SIOCSIFNETMASK, mask);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) fail(125, "eth0 flags: %s", strerror(errno));
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) fail(125, "eth0 up: %s", strerror(errno));
  struct rtentry rt;
  memset(&rt, 0, sizeof rt);
  struct sockaddr_in *gw = (struct sockaddr_in *)&rt.rt_gateway, *dst = (struct sockaddr_in *)&rt.rt_dst,
                     *msk = (struct sockaddr_in *)&rt.rt_genmask;
  gw->sin_family = dst->sin_family = msk->sin_family = AF_INET;
  inet_pton(AF_INET, o.gateway, &gw->sin_addr);
  rt.rt_flags = RTF_UP | RTF_GATEWAY;
  rt.rt_dev = "eth0";
  if (ioctl(s, SIOCADDRT, &rt) < 0) fail(125, "default route: %s", strerror(errno));
  close(s);
}

