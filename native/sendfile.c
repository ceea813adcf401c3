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
//   buffer is full (the caller then waits with a writable waiter, below);
//   fileFd: a regular file; offset: where to read, passed to the kernel (the fd's own position is
//   neither used nor moved, so a read elsewhere on the same fd is unaffected); count: at most this.
// The read side of sendfile is a page-cache read: a file not in the cache is read from disk on the
// calling (event-loop) thread, as nginx's worker does without `aio threads`.
//
// setCork(socketFd, on) -> 0, or -errno
//   TCP_CORK (tcp(7)) on or off: while on, the kernel sends only full segments, so the headers go
//   out with the file's first octets and no call's tail leaves as a short segment of its own; off
//   sends what is held at once. nginx's `tcp_nopush on` (Debian's default) does the same around its
//   sendfile; bench/http measured one curl stream from nginx at ~1,300 MiB/s without it, ~2,000-2,400
//   with. Node has no TCP_CORK (socket.cork() is its stream's buffering, not the kernel's).
//
// openWaiter(socketFd) -> waiter; armWaiter(waiter, callback); closeWaiter(waiter)
//   Waits, on Node's own event loop, until the socket can take more octets, then calls
//   callback(status) once (status 0, or a negative libuv error; a reset or closed connection also
//   wakes it, as epoll always reports EPOLLERR and EPOLLHUP, and the next sendFile says EPIPE or
//   ECONNRESET). Not UV_DISCONNECT: a client's half-close (EPOLLRDHUP) stays reported while the send
//   buffer is full, and would wake the waiter again and again. This is how nginx waits (EPOLLOUT on the
//   connection). Node offers no way to wait for writability short of writing through its stream,
//   which costs a read and a copy through user space and Node's write machinery every time the
//   send buffer fills (bench/http: several thousand times for one 256 MiB download).
//   The waiter polls a dup(2) of the socket: libuv watches each fd number with one watcher only,
//   and Node's own handle already watches the socket's (epoll keys on the fd and its file, so both
//   registrations live side by side). The dup holds the connection open, so the caller closes the
//   waiter as soon as the body ends or the response closes (sendfile-body.ts).
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/sendfile.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

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

static napi_value set_cork(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  bool on;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 || napi_get_value_bool(env, argv[1], &on) != napi_ok) {
    return fail(env, "setCork(socketFd, on) takes a file descriptor and a boolean");
  }
  int value = on ? 1 : 0;
  napi_value result;
  napi_create_int32(env, setsockopt(fd, IPPROTO_TCP, TCP_CORK, &value, sizeof value) == 0 ? 0 : -errno, &result);
  return result;
}

typedef struct {
  uv_poll_t poll;
  int fd;
  int closed;
  /* Its callback is running: the async context it runs in is destroyed only once that returns. */
  int in_callback;
  /* Two owners free the struct: libuv once the handle is closed, and the garbage collector once the
   * JavaScript value is gone. Whichever is last frees it. */
  int owners;
  napi_env env;
  /* The callback, held only while armed: a waiter left unarmed keeps nothing alive. */
  napi_ref callback;
  napi_async_context context;
} writable_waiter;

static writable_waiter *waiter_of(napi_env env, napi_value value) {
  writable_waiter *waiter = NULL;
  if (napi_get_value_external(env, value, (void **)&waiter) != napi_ok || waiter == NULL) return NULL;
  return waiter;
}

static void release_waiter(writable_waiter *waiter) {
  if (--waiter->owners == 0) free(waiter);
}

static void on_waiter_closed(uv_handle_t *handle) {
  writable_waiter *waiter = (writable_waiter *)handle->data;
  close(waiter->fd);
  release_waiter(waiter);
}

/* Stops polling and closes the dup (once libuv is done with the handle). */
static void close_waiter(writable_waiter *waiter) {
  if (waiter->closed) return;
  waiter->closed = 1;
  if (waiter->callback != NULL) napi_delete_reference(waiter->env, waiter->callback);
  waiter->callback = NULL;
  if (!waiter->in_callback) napi_async_destroy(waiter->env, waiter->context);
  uv_close((uv_handle_t *)&waiter->poll, on_waiter_closed);
}

static void on_writable(uv_poll_t *handle, int status, int events) {
  (void)events;
  writable_waiter *waiter = (writable_waiter *)handle->data;
  uv_poll_stop(handle);
  if (waiter->callback == NULL) return;
  napi_env env = waiter->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, global, argv[1];
  napi_get_reference_value(env, waiter->callback, &callback);
  napi_delete_reference(env, waiter->callback);
  waiter->callback = NULL;
  napi_get_global(env, &global);
  napi_create_int32(env, status, &argv[0]);
  /* napi_make_callback: runs in the waiter's async context and drains nextTicks and microtasks
   * after, as a callback from Node's own I/O would. The callback may close the waiter (the body
   * ended or was destroyed); the struct lives on until libuv's close callback, later in the loop. */
  waiter->in_callback = 1;
  napi_status status_of_call = napi_make_callback(env, waiter->context, global, callback, 1, argv, NULL);
  waiter->in_callback = 0;
  if (waiter->closed) napi_async_destroy(env, waiter->context);
  if (status_of_call == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
  napi_close_handle_scope(env, scope);
}

/* The garbage collector's backstop for a waiter its owner never closed. */
static void finalize_waiter(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  close_waiter((writable_waiter *)data);
  release_waiter((writable_waiter *)data);
}

static napi_value open_waiter(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t socket_fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_int32(env, argv[0], &socket_fd) != napi_ok || socket_fd < 0) {
    return fail(env, "openWaiter(socketFd) takes a file descriptor");
  }
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return fail(env, "openWaiter: no event loop");
  writable_waiter *waiter = calloc(1, sizeof *waiter);
  if (waiter == NULL) return fail(env, "openWaiter: out of memory");
  waiter->env = env;
  waiter->fd = fcntl(socket_fd, F_DUPFD_CLOEXEC, 0);
  napi_value name, result;
  if (waiter->fd < 0 || uv_poll_init_socket(loop, &waiter->poll, waiter->fd) != 0) {
    if (waiter->fd >= 0) close(waiter->fd);
    free(waiter);
    return fail(env, "openWaiter: cannot poll the socket");
  }
  waiter->poll.data = waiter;
  waiter->owners = 2;
  napi_create_string_utf8(env, "netboot:sendfile-writable", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &waiter->context);
  if (napi_create_external(env, waiter, finalize_waiter, NULL, &result) != napi_ok) {
    waiter->owners = 1;
    close_waiter(waiter);
    return fail(env, "openWaiter: cannot wrap the waiter");
  }
  return result;
}

static napi_value arm_waiter(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_valuetype type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2) {
    return fail(env, "armWaiter(waiter, callback) takes two arguments");
  }
  writable_waiter *waiter = waiter_of(env, argv[0]);
  if (waiter == NULL || waiter->closed) return fail(env, "armWaiter: not an open waiter");
  if (napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function) return fail(env, "armWaiter: callback must be a function");
  if (waiter->callback != NULL) return fail(env, "armWaiter: already armed");
  napi_create_reference(env, argv[1], 1, &waiter->callback);
  int status = uv_poll_start(&waiter->poll, UV_WRITABLE, on_writable);
  if (status != 0) {
    napi_delete_reference(env, waiter->callback);
    waiter->callback = NULL;
    return fail(env, uv_strerror(status));
  }
  return NULL;
}

static napi_value close_waiter_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1) return fail(env, "closeWaiter(waiter)");
  writable_waiter *waiter = waiter_of(env, argv[0]);
  if (waiter == NULL) return fail(env, "closeWaiter: not a waiter");
  close_waiter(waiter);
  return NULL;
}

static int export_function(napi_env env, napi_value exports, const char *name, napi_callback callback) {
  napi_value fn;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, NULL, &fn) == napi_ok &&
         napi_set_named_property(env, exports, name, fn) == napi_ok;
}

NAPI_MODULE_INIT() {
  if (!export_function(env, exports, "sendFile", send_file) || !export_function(env, exports, "setCork", set_cork) ||
      !export_function(env, exports, "openWaiter", open_waiter) ||
      !export_function(env, exports, "armWaiter", arm_waiter) || !export_function(env, exports, "closeWaiter", close_waiter_js)) {
    return NULL;
  }
  return exports;
}
