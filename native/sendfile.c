// sendfile(2) for HTTP boot-file bodies (src/http-boot/sendfile-body.ts), for Node's TCP sockets.
//
// Why native code: Node 20 has no sendfile. Its file-to-socket path is a 64 KiB read on the thread
// pool, then a write from the event loop, a round trip per chunk; bench/http (README, issue #15)
// measured the loop ~80% idle waiting on those reads and at 0.26-0.45x nginx. sendfile(2) moves the
// file's page-cache pages to the socket in the kernel, with no copy through user space and no thread
// pool hop. No maintained npm package offers it for Node's own sockets.
//
// sendFile(socketFd, fileFd, offset, count) -> octets sent (0: end of file), or -errno
//   socketFd: a connected TCP socket, non-blocking as libuv leaves it: -EAGAIN when its send
//   buffer is full (the caller waits for it to drain through Node, see sendfile-body.ts);
//   fileFd: a regular file; offset: where to read, passed to the kernel (the fd's own position is
//   neither used nor moved, so a read elsewhere on the same fd is unaffected); count: at most this.
// The read side of sendfile is a page-cache read: a file not in the cache is read from disk on the
// calling (event-loop) thread, as nginx's worker does without `aio threads`.
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <stdint.h>
#include <sys/sendfile.h>
#include <sys/types.h>
#include <node_api.h>

static napi_value fail(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

static napi_value send_file(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4) {
    return fail(env, "sendFile(socketFd, fileFd, offset, count) takes four arguments");
  }
  int32_t out_fd, in_fd;
  int64_t offset, count;
  if (napi_get_value_int32(env, argv[0], &out_fd) != napi_ok || out_fd < 0) return fail(env, "socketFd must be a file descriptor");
  if (napi_get_value_int32(env, argv[1], &in_fd) != napi_ok || in_fd < 0) return fail(env, "fileFd must be a file descriptor");
  if (napi_get_value_int64(env, argv[2], &offset) != napi_ok || offset < 0) return fail(env, "offset must be a non-negative integer");
  // sendfile moves at most 0x7ffff000 octets a call (sendfile(2), NOTES).
  if (napi_get_value_int64(env, argv[3], &count) != napi_ok || count <= 0 || count > 0x7ffff000) {
    return fail(env, "count must be 1 to 2147479552");
  }
  off_t at = (off_t)offset;
  ssize_t sent;
  do {
    sent = sendfile(out_fd, in_fd, &at, (size_t)count);
  } while (sent < 0 && errno == EINTR);
  napi_value result;
  napi_create_double(env, sent < 0 ? -(double)errno : (double)sent, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "sendFile", NAPI_AUTO_LENGTH, send_file, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "sendFile", fn) != napi_ok) return NULL;
  return exports;
}
