// A raw ICMPv6 socket for the IPv6 Router Advertisements of the boot interface (src/ra/, README
// "IPv6 router advertisements"): iPXE waits ~14 s for router discovery on an IPv4-only boot network
// unless a router answers its Router Solicitation (issue 17).
//
// Why native code: Node has no raw sockets, and an RA must leave with hop limit 255 from the
// link-local address (RFC 4861 §4.2, §6.1.2); no maintained npm package does this (README,
// "Dependencies, and what we wrote by hand"). The calls are synchronous on a non-blocking socket;
// src/ra/advertiser.ts polls recv() from a timer instead of a uv_poll on the loop, because RFC 4861
// §6.2.6 delays every answer to an RS by a random 0-500 ms anyway, and a timer keeps libuv handles,
// callbacks into JS and their teardown out of C.
//
// open(ifname, linkLocal) -> fd            (throws Error "<call>: <strerror>" on failure)
// recv(fd) -> { data, hopLimit, source } | -errno   (-EAGAIN: nothing queued)
// send(fd, message, destination) -> bytes | -errno (destination: an address on the bound interface)
// close(fd)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <node_api.h>

static napi_value throw_errno(napi_env env, const char *call) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", call, strerror(errno));
  napi_throw_error(env, NULL, message);
  return NULL;
}

static napi_value number(napi_env env, double value) {
  napi_value out;
  napi_create_double(env, value, &out);
  return out;
}

/** argv[i] as a C string (interface names and addresses: short). */
static bool string_arg(napi_env env, napi_value value, char *buf, size_t size) {
  size_t length;
  return napi_get_value_string_utf8(env, value, buf, size, &length) == napi_ok && length > 0 && length < size - 1;
}

static napi_value open_socket(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char ifname[IF_NAMESIZE + 1], address[INET6_ADDRSTRLEN + 1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
      !string_arg(env, argv[0], ifname, sizeof ifname) || !string_arg(env, argv[1], address, sizeof address)) {
    napi_throw_type_error(env, NULL, "open(ifname, linkLocal) takes an interface name and its fe80:: address");
    return NULL;
  }
  unsigned ifindex = if_nametoindex(ifname);
  if (ifindex == 0) return throw_errno(env, "if_nametoindex");
  struct sockaddr_in6 local = { .sin6_family = AF_INET6, .sin6_scope_id = ifindex };
  if (inet_pton(AF_INET6, address, &local.sin6_addr) != 1 || !IN6_IS_ADDR_LINKLOCAL(&local.sin6_addr)) {
    napi_throw_type_error(env, NULL, "linkLocal must be an fe80::/10 address");
    return NULL;
  }

  // The kernel computes the ICMPv6 checksum of raw ICMPv6 sockets itself (RFC 3542 §3.1).
  int fd = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
  if (fd < 0) return throw_errno(env, "socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)");
  const char *failed = NULL;
  int hops = 255, on = 1, off = 0;
  // Only RS (to answer, RFC 4861 §6.2.6) and RA (another router on the segment, §6.2.7) reach us.
  struct icmp6_filter filter;
  ICMP6_FILTER_SETBLOCKALL(&filter);
  ICMP6_FILTER_SETPASS(ND_ROUTER_SOLICIT, &filter);
  ICMP6_FILTER_SETPASS(ND_ROUTER_ADVERT, &filter);
  struct ipv6_mreq all_routers = { .ipv6mr_interface = ifindex };
  inet_pton(AF_INET6, "ff02::2", &all_routers.ipv6mr_multiaddr);
  // Nothing is ever sent or received on another interface (issue 17: the boot network only).
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, strlen(ifname)) < 0) failed = "SO_BINDTODEVICE";
  else if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) < 0) failed = "ICMP6_FILTER";
  // Hop limit 255 on everything we send: receivers drop ND messages with less (RFC 4861 §6.1.2),
  // since only an on-link sender can produce 255.
  else if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) < 0) failed = "IPV6_MULTICAST_HOPS";
  else if (setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops) < 0) failed = "IPV6_UNICAST_HOPS";
  // ... and we check the same of what we receive (§6.1.1, §6.1.2): ask for the hop limit per packet.
  else if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on) < 0) failed = "IPV6_RECVHOPLIMIT";
  // Our own multicast RAs are not news to us.
  else if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &off, sizeof off) < 0) failed = "IPV6_MULTICAST_LOOP";
  else if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex) < 0) failed = "IPV6_MULTICAST_IF";
  // Solicitations go to all-routers (§6.3.7); a router joins it on advertising interfaces (§6.2.2).
  else if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &all_routers, sizeof all_routers) < 0) failed = "IPV6_JOIN_GROUP ff02::2";
  // RAs come from the link-local address (§4.2, §6.1.2): bind to it, not to what the kernel picks.
  // A tentative address (DAD not done) fails here with EADDRNOTAVAIL; the caller tries again later.
  else if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) failed = "bind to the link-local address";
  if (failed) {
    int saved = errno;
    close(fd);
    errno = saved;
    return throw_errno(env, failed);
  }
  return number(env, fd);
}

/** The one argument of recv(fd) and close(fd); false (a TypeError thrown) when it is not a descriptor. */
static bool fd_only_arg(napi_env env, napi_callback_info info, const char *usage, int32_t *fd) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_int32(env, argv[0], fd) != napi_ok || *fd < 0) {
    napi_throw_type_error(env, NULL, usage);
    return false;
  }
  return true;
}

static napi_value recv_message(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!fd_only_arg(env, info, "recv(fd) takes a file descriptor", &fd)) return NULL;
  unsigned char data[65536]; // any IPv6 payload without jumbograms: an RA with many options is read whole
  struct sockaddr_in6 from;
  struct iovec iov = { .iov_base = data, .iov_len = sizeof data };
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct msghdr msg = {
    .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
    .msg_control = control.buf, .msg_controllen = sizeof control.buf,
  };
  ssize_t length = recvmsg(fd, &msg, 0);
  if (length < 0) return number(env, -errno);
  int hop_limit = -1; // unknown: the caller drops it
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) memcpy(&hop_limit, CMSG_DATA(c), sizeof hop_limit);
  }
  char source[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &from.sin6_addr, source, sizeof source);

  napi_value out, buffer, text;
  void *copy;
  napi_create_object(env, &out);
  napi_create_buffer_copy(env, (size_t)length, data, &copy, &buffer);
  napi_create_string_utf8(env, source, NAPI_AUTO_LENGTH, &text);
  napi_set_named_property(env, out, "data", buffer);
  napi_set_named_property(env, out, "hopLimit", number(env, hop_limit));
  napi_set_named_property(env, out, "source", text);
  return out;
}

static napi_value send_message(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd;
  void *data;
  size_t length;
  char address[INET6_ADDRSTRLEN + 1];
  struct sockaddr_in6 to = { .sin6_family = AF_INET6 };
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok ||
      !string_arg(env, argv[2], address, sizeof address) || inet_pton(AF_INET6, address, &to.sin6_addr) != 1) {
    napi_throw_type_error(env, NULL, "send(fd, message, destination) takes a file descriptor, a Buffer and an IPv6 address");
    return NULL;
  }
  // No scope id: the socket is bound to one interface (SO_BINDTODEVICE, IPV6_MULTICAST_IF).
  ssize_t sent = sendto(fd, data, length, 0, (struct sockaddr *)&to, sizeof to);
  return number(env, sent < 0 ? -errno : (double)sent);
}

static napi_value close_socket(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!fd_only_arg(env, info, "close(fd) takes a file descriptor", &fd)) return NULL;
  close(fd);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
    { "open", NULL, open_socket, NULL, NULL, NULL, napi_default, NULL },
    { "recv", NULL, recv_message, NULL, NULL, NULL, napi_default, NULL },
    { "send", NULL, send_message, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, close_socket, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
