// UDP generic segmentation offload (UDP_SEGMENT, Linux >= 4.18, udp(7)) for Node's dgram sockets.
//
// Why native code: a TFTP window is up to 64 datagrams of one size, and Node 20's dgram sends each
// with its own JS -> C++ -> sendmsg(2) round trip (~9 us of CPU per 1.4 KiB datagram here, against
// ~6.7 us for a plain C send loop). One sendmsg(2) carrying the whole window with a UDP_SEGMENT
// control message lets the kernel cut it into datagrams below the UDP layer (in the NIC, or in
// software just before the driver): ~1.3 us per datagram measured on this machine. dgram exposes
// neither sendmmsg(2) nor UDP_SEGMENT, and no maintained npm package does (README, "Written by hand").
//
// sendSegments(fd, buffers, segmentSize) -> bytes sent, or -errno
//   fd: the socket of a *connected* dgram socket (no destination address is passed);
//   buffers: the datagrams in order, every one segmentSize bytes but the last (<= segmentSize);
//   the caller keeps the total within one IP packet (65,507 bytes for IPv4) and at most 64
//   segments (UDP_MAX_SEGMENTS). The socket is non-blocking (libuv): -EAGAIN means nothing was
//   sent and the caller falls back to dgram, which queues. A GSO send is one skb: it goes out
//   whole or not at all.
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <node_api.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103 // include/uapi/linux/udp.h; glibc headers before 2.28 lack it
#endif

#define MAX_SEGMENTS 64 // UDP_MAX_SEGMENTS (include/linux/udp.h)

static napi_value fail(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

static napi_value send_segments(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3) {
    return fail(env, "sendSegments(fd, buffers, segmentSize) takes three arguments");
  }
  int32_t fd, segment_size;
  uint32_t count;
  bool is_array;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return fail(env, "fd must be a file descriptor");
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) return fail(env, "buffers must be an array");
  if (napi_get_array_length(env, argv[1], &count) != napi_ok || count == 0 || count > MAX_SEGMENTS) {
    return fail(env, "buffers must hold 1 to 64 datagrams");
  }
  if (napi_get_value_int32(env, argv[2], &segment_size) != napi_ok || segment_size <= 0 || segment_size > 65507) {
    return fail(env, "segmentSize must be 1 to 65507");
  }

  struct iovec iov[MAX_SEGMENTS];
  size_t total = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    void *data;
    size_t length;
    if (napi_get_element(env, argv[1], i, &element) != napi_ok ||
        napi_get_buffer_info(env, element, &data, &length) != napi_ok) {
      return fail(env, "every datagram must be a Buffer");
    }
    // Equal segments except a shorter last one: the kernel cuts at segmentSize, so anything else
    // would put bytes of one datagram into the next.
    if (length > (size_t)segment_size || (i + 1 < count && length != (size_t)segment_size)) {
      return fail(env, "every datagram but the last must be segmentSize bytes, the last at most that");
    }
    iov[i].iov_base = data;
    iov[i].iov_len = length;
    total += length;
  }

  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } control;
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = iov;
  msg.msg_iovlen = count;
  if (count > 1) {
    memset(&control, 0, sizeof control);
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t size = (uint16_t)segment_size;
    memcpy(CMSG_DATA(cm), &size, sizeof size);
  }

  ssize_t sent;
  do {
    sent = sendmsg(fd, &msg, MSG_DONTWAIT);
  } while (sent < 0 && errno == EINTR);
  napi_value result;
  napi_create_double(env, sent < 0 ? -(double)errno : (double)sent, &result);
  (void)total;
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "sendSegments", NAPI_AUTO_LENGTH, send_segments, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "sendSegments", fn) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE_INIT() {
  return init(env, exports);
}
