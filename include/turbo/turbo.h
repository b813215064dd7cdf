/*
 * libturbo — a multi-threaded HTTP/1.1 server library behind a plain C ABI.
 *
 * This header is the whole public interface. It is written so that any
 * language with a C FFI can use all of it: opaque handles, accessor
 * functions, negative int error codes, and one struct (turbo_str, a pointer
 * plus a length). No inline functions; the macros below are conveniences
 * for C callers only and nothing requires them.
 *
 * Threads. A server runs N I/O threads. Each accepts, parses, calls the
 * handler inline and writes the response; nothing is queued. A handler is
 * therefore called on one of the server's I/O threads, concurrently with
 * other calls of the same handler on other threads, and must be
 * thread-safe with respect to its user_data.
 *
 * Lifetimes. Everything a handler receives (the request, its strings, the
 * response) is valid only until the handler returns. Copy what must live
 * longer.
 */
#ifndef TURBO_TURBO_H
#define TURBO_TURBO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TURBO_API __attribute__((visibility("default")))
#else
#define TURBO_API
#endif

/** Library version, also returned at run time by turbo_version(). */
#define TURBO_VERSION_MAJOR 0
#define TURBO_VERSION_MINOR 6
#define TURBO_VERSION_PATCH 0
/** Bumped on every incompatible ABI change; equals the SONAME's number. */
#define TURBO_ABI_VERSION 0

/* ------------------------------------------------------------------------
 * Results and errors
 * --------------------------------------------------------------------- */

/** Result codes. Every function returning int returns TURBO_OK (0) or a
 *  positive count on success, and one of the negative codes on failure. */
enum turbo_result {
    TURBO_OK = 0,
    /** Handler result: the response will be finished later, maybe from
     *  another thread, through the handle turbo_defer() returned (see
     *  "Waiting without blocking"). Without a turbo_defer() call first, a
     *  handler that returns it is answered with 500. */
    TURBO_DEFER = 1,
    /** turbo_deferred_write(): the bytes were taken, and the response's
     *  queue is now above the high-water mark: write more once the drain
     *  callback has run (turbo_deferred_on_drain). Since 0.5.0. */
    TURBO_FULL = 2,
    /** A streamed request body's callback (turbo_body_fn): stop reading
     *  the body until turbo_deferred_body_resume(). Since 0.6.0. */
    TURBO_PAUSE = 3,
    TURBO_EINVAL = -1,   /**< an argument is invalid (NULL, out of range, bad characters) */
    TURBO_ENOMEM = -2,   /**< out of memory */
    TURBO_EEXIST = -3,   /**< a route with this method and pattern already exists */
    TURBO_ENOENT = -4,   /**< not found (route, header, parameter) */
    TURBO_EPATTERN = -5, /**< a route pattern is malformed */
    TURBO_ESTATE = -6,   /**< not allowed in the server's current state */
    TURBO_ESYS = -7,     /**< a system call failed; errno tells which */
    TURBO_EADDR = -8,    /**< the host could not be resolved or bound */
    TURBO_EHANDLER = -9, /**< generic handler failure: answered with 500 */
    TURBO_ERANGE = -10   /**< a value is outside the accepted range */
};

/** A static, NUL-terminated English description of a result code. Never
 *  NULL; unknown codes give "unknown error". Thread-safe. */
TURBO_API const char *turbo_strerror(int code);

/** The library's version as "MAJOR.MINOR.PATCH" (static string). */
TURBO_API const char *turbo_version(void);
/** The ABI version the loaded library implements (TURBO_ABI_VERSION). */
TURBO_API int turbo_abi_version(void);

/* ------------------------------------------------------------------------
 * Types
 * --------------------------------------------------------------------- */

/** A byte string that is NOT necessarily NUL-terminated. ptr may be NULL
 *  only when len is 0. */
typedef struct turbo_str {
    const char *ptr;
    size_t len;
} turbo_str;

typedef struct turbo_config turbo_config;
typedef struct turbo_server turbo_server;
typedef struct turbo_request turbo_request;
typedef struct turbo_response turbo_response;
/** A request whose response is finished later (turbo_defer()). */
typedef struct turbo_deferred turbo_deferred;
/** An I/O thread's event loop, for work on that thread (turbo_request_loop()). */
typedef struct turbo_loop turbo_loop;
/** A file descriptor watched by a loop (turbo_loop_watch()). */
typedef struct turbo_watch turbo_watch;
/** A one-shot timer on a loop (turbo_loop_timer()). */
typedef struct turbo_timer turbo_timer;
/** Called when a deferred request is cancelled (turbo_deferred_on_cancel). */
typedef void (*turbo_cancel_fn)(turbo_deferred *d, void *ud);
/** Called when a streamed response's queue has drained below its low-water
 *  mark after a write returned TURBO_FULL (turbo_deferred_on_drain). */
typedef void (*turbo_drain_fn)(turbo_deferred *d, void *ud);
/** A function run on a loop's thread (turbo_loop_post, turbo_loop_timer). */
typedef void (*turbo_loop_fn)(void *ud);
/** Called while a watched fd is ready (turbo_loop_watch). */
typedef void (*turbo_watch_fn)(turbo_watch *w, unsigned revents, void *ud);

/** A request handler. Called on an I/O thread (or, for a route added with
 *  TURBO_ROUTE_BLOCKING, on a blocking-pool thread) with the parsed request
 *  and an empty 200 response. Return TURBO_OK to send the response as
 *  built; TURBO_DEFER after turbo_defer() to finish it later; any other
 *  value makes the server answer 500 for this request only (the
 *  connection stays usable). */
typedef int (*turbo_handler)(turbo_request *req, turbo_response *res, void *user_data);

/** Called exactly once when a route's user_data is no longer reachable by
 *  any thread (route removed, or server freed). */
typedef void (*turbo_release_fn)(void *user_data);

/** Called once a referenced response body has been written or dropped. */
typedef void (*turbo_free_fn)(void *data, void *ctx);

/* ------------------------------------------------------------------------
 * Configuration
 *
 * A config is a plain value: create it, set what differs from the default,
 * pass it to turbo_server_new() (which copies it), free it. Setters return
 * TURBO_OK, TURBO_ERANGE for a value out of range, or TURBO_EINVAL for a
 * NULL config (or a bad character), leaving the config unchanged. Not
 * thread-safe; use from one thread.
 * --------------------------------------------------------------------- */

/** A config with every default. NULL when out of memory. */
TURBO_API turbo_config *turbo_config_new(void);
/** Frees cfg. NULL is allowed. */
TURBO_API void turbo_config_free(turbo_config *cfg);

/** I/O threads. 0 (default): the number of online CPUs. At most 1024. */
TURBO_API int turbo_config_set_threads(turbo_config *cfg, unsigned threads);
/** When on (default off), turbo_server_run() serves on the calling thread
 *  alone (one I/O thread, whatever set_threads said) and
 *  turbo_server_start() is refused. For runtimes that may be entered from
 *  one thread only (Lua, Ruby, Node). */
TURBO_API int turbo_config_set_run_on_caller(turbo_config *cfg, int on);
/** Value of the Server response header (default "libturbo"); NULL or ""
 *  sends no Server header. Copied. Control characters other than HTAB
 *  (and DEL): TURBO_EINVAL; longer than 255 bytes: TURBO_ERANGE. */
TURBO_API int turbo_config_set_server_name(turbo_config *cfg, const char *name);
/** Largest request head, request line plus headers (default 16384 bytes,
 *  range 256..1048576). Larger: 431. */
TURBO_API int turbo_config_set_max_header_bytes(turbo_config *cfg, size_t bytes);
/** Most header fields in a request (default 100, range 1..10000). More: 431. */
TURBO_API int turbo_config_set_max_headers(turbo_config *cfg, size_t count);
/** Longest request target (default 8192 bytes, range 16..1048576). Longer: 414. */
TURBO_API int turbo_config_set_max_uri_bytes(turbo_config *cfg, size_t bytes);
/** Largest request body after decoding (default 1048576 bytes, range
 *  0..2^40). Larger: 413. */
TURBO_API int turbo_config_set_max_body_bytes(turbo_config *cfg, uint64_t bytes);
/** Time to receive a whole request head once its first byte arrived
 *  (default 10000 ms). Expired: 408 and close. Range 10..86400000 ms. */
TURBO_API int turbo_config_set_header_timeout_ms(turbo_config *cfg, unsigned ms);
/** Time an idle keep-alive connection is kept open (default 60000 ms).
 *  Expired: closed without a response. Range 10..86400000 ms. */
TURBO_API int turbo_config_set_idle_timeout_ms(turbo_config *cfg, unsigned ms);
/** Longest wait between two reads of a request body (default 30000 ms).
 *  Expired: 408 and close. Range 10..86400000 ms. */
TURBO_API int turbo_config_set_body_timeout_ms(turbo_config *cfg, unsigned ms);
/** Longest wait for a client to accept more response bytes (default
 *  30000 ms). Expired: closed. Range 10..86400000 ms. */
TURBO_API int turbo_config_set_write_timeout_ms(turbo_config *cfg, unsigned ms);
/** Most open connections per I/O thread (default 16384, range 1..1048576).
 *  Beyond it new connections are accepted and closed at once. */
TURBO_API int turbo_config_set_max_connections(turbo_config *cfg, unsigned per_thread);
/** Threads of the blocking pool that runs TURBO_ROUTE_BLOCKING routes'
 *  handlers (default 16, range 1..1024). Started by the first request to
 *  such a route; a server that never serves one starts none. */
TURBO_API int turbo_config_set_blocking_threads(turbo_config *cfg, unsigned n);
/** Requests waiting for a blocking-pool thread, at most (default 1024,
 *  range 1..1048576). Beyond it a blocking route answers 503 with
 *  "Retry-After: 1" at once: the I/O thread never waits for the pool. */
TURBO_API int turbo_config_set_blocking_queue(turbo_config *cfg, unsigned max);
/** Longest a deferred request (turbo_defer(), or a blocking route's, from
 *  the moment it was queued) may take (default 30000 ms, range
 *  10..86400000). Past it the client gets 504 and the connection is
 *  closed; the holder's cancel callback runs. */
TURBO_API int turbo_config_set_deferred_timeout_ms(turbo_config *cfg, unsigned ms);
/** How long a graceful stop waits for deferred requests still in flight
 *  (default 10000 ms, range 0..86400000). Then their clients get 503 and
 *  the holders are cancelled; turbo_server_wait() still returns only once
 *  every holder has called turbo_deferred_finish(). */
TURBO_API int turbo_config_set_stop_grace_ms(turbo_config *cfg, unsigned ms);
/** An access log: one line per answer, in the Common Log Format
 *  (`127.0.0.1 - - [04/Dec/2026:14:08:31 +0000] "GET /x HTTP/1.1" 200 25`,
 *  the body bytes sent last, "-" for none), written to fd, which stays the
 *  caller's (never closed by the library) and must stay open while the
 *  server runs. Each I/O thread buffers its lines and writes them once per
 *  loop iteration, in writes of whole lines of at most PIPE_BUF bytes, so
 *  lines from several threads never mix on a pipe or an O_APPEND file.
 *  -1 (the default) turns it off. TURBO_EINVAL for another negative fd.
 *  Since 0.4.0. */
TURBO_API int turbo_config_set_access_log(turbo_config *cfg, int fd);
/** A streamed response's queue limits (turbo_deferred_write): a write
 *  that leaves more than high bytes queued for the client returns
 *  TURBO_FULL, and the drain callback runs once the queue is down to low
 *  bytes. Defaults 262144 and 65536; high 1..2^40, low 0..high. Since
 *  0.5.0. */
TURBO_API int turbo_config_set_write_watermarks(turbo_config *cfg, uint64_t high, uint64_t low);
/** listen() backlog (default 1024, range 1..65535). */
TURBO_API int turbo_config_set_backlog(turbo_config *cfg, int backlog);
/** When on (default off), turbo_server_listen() refuses a port that
 *  another socket already holds (another process, an old instance still
 *  draining, another server in this process): TURBO_EADDR with errno
 *  EADDRINUSE. Off, the server joins that socket's SO_REUSEPORT group and
 *  the kernel splits new connections between them: what a zero-downtime
 *  hand-over wants, and a silent split when the other one is a mistake.
 *  turbo-hello, turbo-serve and `python -m turbo` turn it on unless given
 *  --reuse-port. Port 0 always gets a port nobody holds. */
TURBO_API int turbo_config_set_exclusive_port(turbo_config *cfg, int on);

/* ------------------------------------------------------------------------
 * Server
 *
 * Life cycle: new -> listen (or listen_fd) -> route_add ... -> start/run
 * -> stop -> wait -> free. Unless said otherwise, these functions are
 * called from one controlling thread.
 * --------------------------------------------------------------------- */

/** A new server with a copy of cfg (NULL: defaults). NULL when out of
 *  memory. */
TURBO_API turbo_server *turbo_server_new(const turbo_config *cfg);

/** Binds host:port (host: numeric IPv4/IPv6 address or name; NULL or ""
 *  means all IPv4 addresses; port 0 picks a free port). Every I/O thread
 *  gets its own SO_REUSEPORT socket on that address, so another process
 *  (or server) bound to the same address shares its connections, unless
 *  turbo_config_set_exclusive_port() refuses that (errno EADDRINUSE). Call
 *  once, before start. TURBO_EADDR when it cannot be resolved or bound
 *  (errno kept), TURBO_EINVAL for a port outside 0..65535. */
TURBO_API int turbo_server_listen(turbo_server *s, const char *host, int port);

/** Serves on an already bound and listening socket (inherited from a
 *  supervisor, systemd socket activation, a test). All I/O threads accept
 *  from it. The fd is made non-blocking; the server does not close it.
 *  Call instead of turbo_server_listen(), before start. TURBO_EINVAL when
 *  fd is not a listening stream socket; errno then says why: EBADF (not
 *  open), ENOTSOCK (not a socket), EPROTOTYPE (not a stream socket),
 *  EINVAL (a stream socket that is not listening). */
TURBO_API int turbo_server_listen_fd(turbo_server *s, int fd);

/** As turbo_server_listen_fd(), but the server takes fd over: when it
 *  stops, each I/O thread accepts and serves what is queued on it, and the
 *  last one closes it (turbo_server_free() closes it if the server never
 *  ran). For a worker process whose copy of its supervisor's socket is its
 *  own: once every process sharing the socket has stopped, no connection
 *  is left queued on it for nobody. A refused fd is left open, as with
 *  turbo_server_listen_fd(), whose return values and errno it shares. */
TURBO_API int turbo_server_adopt_fd(turbo_server *s, int fd);

/** systemd socket activation (the sd_listen_fds protocol, without
 *  libsystemd): when LISTEN_PID is this process's PID and LISTEN_FDS is 1,
 *  serves on fd 3 as turbo_server_listen_fd() does and returns 1. Returns
 *  0 when no socket was passed to this process (bind with
 *  turbo_server_listen() then). TURBO_EINVAL, with errno: EDOM when
 *  LISTEN_FDS is not a number, E2BIG when it is above 1, otherwise as
 *  turbo_server_listen_fd() for fd 3. When LISTEN_PID
 *  names this process, LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are
 *  removed from the environment (so children do not take the socket for
 *  theirs) and fd 3 becomes close-on-exec: call it early, before other
 *  threads read the environment. Before start, like turbo_server_listen(). */
TURBO_API int turbo_server_listen_activated(turbo_server *s);

/** The bound port, or a negative code when not listening. Thread-safe. */
TURBO_API int turbo_server_port(const turbo_server *s);

/** Adds a route. method: an HTTP method token ("GET", "POST", ...; case
 *  sensitive). pattern: "/" followed by segments; a segment is literal
 *  text, "{name}" (one whole segment, any non-empty text without '/') or,
 *  as the last segment only, "{name...}" (the rest of the path, slashes
 *  included, possibly empty). At most 64 parameters. Exact segments beat
 *  parameters, which beat the catch-all. A GET route also answers HEAD
 *  (without the body).
 *  Returns TURBO_EEXIST for a duplicate method+pattern (parameter names
 *  aside), TURBO_EPATTERN for a malformed pattern, TURBO_EINVAL for a bad
 *  method or NULL fn, TURBO_ENOMEM.
 *  Thread-safe, at any time: before start, while serving (from any thread,
 *  including from inside a handler) and after stop. Writers are serialized
 *  among themselves; I/O threads never wait for them. While serving, the
 *  route is answered from the moment this returns; a request sees the
 *  table before the change or after it, never a mix. */
TURBO_API int turbo_route_add(turbo_server *s, const char *method, const char *pattern,
                              turbo_handler fn, void *user_data);

/** As turbo_route_add(); release (may be NULL) is called exactly once with
 *  user_data when no thread can call the route any more: after it is
 *  removed and every handler call that could still reach it has returned,
 *  or when the server is freed. It is also called when the add fails, so
 *  ownership of user_data always passes to the server. It runs on the
 *  thread that removed the route or a later writer, on an I/O thread (its
 *  housekeeping timer: within a few seconds of the removal when no other
 *  change follows), or in turbo_server_free(); it may add or remove routes
 *  itself. */
TURBO_API int turbo_route_add_full(turbo_server *s, const char *method, const char *pattern,
                                   turbo_handler fn, void *user_data,
                                   turbo_release_fn release);

/** Route flags for turbo_route_add_opts(). */
enum turbo_route_flags {
    /** The handler may block (a blocking database driver, file I/O, a
     *  slow computation): it runs on the server's blocking pool
     *  (turbo_config_set_blocking_threads), never on an I/O thread, which
     *  goes on serving other connections meanwhile. The pool's queue is
     *  bounded (turbo_config_set_blocking_queue): a request that finds it
     *  full is answered 503 with Retry-After at once. Inside the handler
     *  the request and response are the handler's as usual; it may also
     *  turbo_defer() them and finish later. */
    TURBO_ROUTE_BLOCKING = 1,
    /** The request body is not read before the handler runs: the handler
     *  is called once the head has arrived, turbo_request_body() is empty,
     *  and the body is read as it arrives through
     *  turbo_deferred_body() (see "Streamed request bodies"). A small
     *  sized body that came whole with the head is the exception: it is
     *  in turbo_request_body(), and turbo_deferred_body() hands it over
     *  in one call. The server's body limit
     *  (turbo_config_set_max_body_bytes) does not apply: the reader gives
     *  its own. Since 0.6.0. */
    TURBO_ROUTE_STREAM_BODY = 2
};

/** As turbo_route_add_full(), with flags (TURBO_ROUTE_BLOCKING; 0 is
 *  turbo_route_add_full()). Unknown flags: TURBO_EINVAL (release is then
 *  called, as for any failed add). */
TURBO_API int turbo_route_add_opts(turbo_server *s, const char *method, const char *pattern,
                                   turbo_handler fn, void *user_data,
                                   turbo_release_fn release, unsigned flags);

/** Removes the route with this method and pattern (parameter names
 *  aside). TURBO_ENOENT when there is none, TURBO_EPATTERN / TURBO_EINVAL
 *  for a malformed one. Thread-safe like turbo_route_add(); a handler may
 *  remove its own route, and a call already inside the removed route's
 *  handler finishes normally. */
TURBO_API int turbo_route_remove(turbo_server *s, const char *method, const char *pattern);

/** The handler for requests no route answers, instead of the library's
 *  text/plain "Not Found" and "Method Not Allowed": it is called like a
 *  route's handler, with the response already at 404 (no route for the
 *  path) or 405 (the path is routed, not for this method; the Allow header
 *  is set) and no body, and may change anything (a JSON error body, a
 *  custom page, a redirect). Its failure is a 500, as for any handler.
 *  NULL restores the default. Before start (TURBO_ESTATE after), from the
 *  controlling thread. */
TURBO_API int turbo_server_set_fallback(turbo_server *s, turbo_handler fn, void *user_data);
/** turbo_server_set_fallback() with a release callback and route flags:
 *  release(user_data), if not NULL, runs once when the server is freed or
 *  this fallback is replaced (on the controlling thread, after every I/O
 *  and pool thread has ended); flags is 0 or TURBO_ROUTE_BLOCKING, which
 *  runs the fallback on the blocking pool as for a route (a catch-all
 *  application, such as a blocking WSGI app, that serves every path).
 *  TURBO_EINVAL for unknown flags, or flags or release without fn. */
TURBO_API int turbo_server_set_fallback_opts(turbo_server *s, turbo_handler fn, void *user_data,
                                             turbo_release_fn release, unsigned flags);

/** Starts the I/O threads and returns. Needs a listening socket. A failed
 *  start is final: the server can then only be freed. */
TURBO_API int turbo_server_start(turbo_server *s);

/** Starts, then waits until the server is stopped (turbo_server_stop from
 *  a handler, another thread or a signal handler). With run_on_caller the
 *  calling thread is the one I/O thread. */
TURBO_API int turbo_server_run(turbo_server *s);

/** Asks the server to stop: accept what already waits in the server's own
 *  listening sockets and close them, finish requests in flight (their
 *  responses are written, with Connection: close), close idle keep-alive
 *  connections, and give a connection that has not sent its first request
 *  yet up to 2 s (at most the header timeout) to send it. Returns at
 *  once. Safe from any thread and from a signal handler (it only writes
 *  to an eventfd and sets a flag). Repeated calls are harmless. */
TURBO_API void turbo_server_stop(turbo_server *s);

/** Makes signal signum (SIGINT, SIGTERM, ...) stop s, as turbo_server_stop()
 *  would: installs a process-wide handler (sigaction, SA_RESTART) that stops
 *  every server registered for signum. For callers that cannot install a C
 *  signal handler (Rust without libc, LuaJIT and other FFIs); C programs may
 *  use sigaction themselves. Call for each signal (repeating is
 *  harmless), from the controlling thread, before or while serving.
 *  turbo_server_free() ends the registration, and the signal's previous
 *  disposition is restored once no server is registered for it. TURBO_EINVAL for a signal that cannot be
 *  caught (SIGKILL, SIGSTOP, out of range, reserved by the C library) or
 *  is a synchronous fault (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP,
 *  SIGSYS: returning from a handler would re-run the fault forever),
 *  TURBO_ENOMEM when 32 servers are registered, TURBO_ESYS when sigaction
 *  fails. */
TURBO_API int turbo_server_stop_on_signal(turbo_server *s, int signum);

/** Waits for the I/O threads to finish after stop. Returns TURBO_OK, or
 *  TURBO_ESTATE when there is nothing to wait for (not started, already
 *  waited for, or run by turbo_server_run()). */
TURBO_API int turbo_server_wait(turbo_server *s);

/** Stops, waits, closes sockets, releases every route's user_data, frees.
 *  NULL is allowed. Must not be called from an I/O thread. */
TURBO_API void turbo_server_free(turbo_server *s);

/** Server counters, summed over the I/O threads (each thread's counters are
 *  written only by that thread; the sum is a near-instant snapshot).
 *  Thread-safe. Unknown `which`: 0. */
enum turbo_stat {
    TURBO_STAT_CONNECTIONS_ACCEPTED = 0, /**< connections accepted since start */
    TURBO_STAT_CONNECTIONS_OPEN = 1,     /**< connections open now */
    TURBO_STAT_REQUESTS = 2,             /**< requests answered (any status) */
    TURBO_STAT_BAD_REQUESTS = 3,         /**< requests rejected by the parser or a limit */
    TURBO_STAT_HANDLER_ERRORS = 4,       /**< handler calls answered 500 (error or bad header) */
    TURBO_STAT_CONNECTIONS_REFUSED = 5,  /**< closed at once: max connections reached */
    TURBO_STAT_TIMEOUTS = 6,             /**< connections closed by a timeout */
    TURBO_STAT_WRITES = 7                /**< sendmsg calls made (responses go out in batches) */
};
TURBO_API uint64_t turbo_server_stat(const turbo_server *s, int which);

/** Number of I/O threads the server runs (or will run). */
TURBO_API unsigned turbo_server_threads(const turbo_server *s);

/* ------------------------------------------------------------------------
 * Behind a load balancer (since 0.5.0)
 *
 * Settings for a server that sits behind HAProxy, nginx or a cloud load
 * balancer: the client's identity as the proxy saw it. Config setters as
 * above (TURBO_OK, TURBO_EINVAL for a NULL config).
 * --------------------------------------------------------------------- */

/** When on (default off), every connection accepted by the server's
 *  listener must open with a PROXY protocol header, version 1 (text) or 2
 *  (binary), as HAProxy's send-proxy / send-proxy-v2 write it: the
 *  request's remote address and port (turbo_request_remote_addr, the
 *  access log) are then the original client's from the header. A v2 LOCAL
 *  command (a health check by the proxy itself), v1 UNKNOWN and the v2
 *  UNSPEC, UNIX and datagram families keep the socket's own peer; v2 TLVs
 *  are skipped. A connection whose first bytes are not a valid header is
 *  closed without an answer and counted in TURBO_STAT_BAD_REQUESTS: only
 *  the proxy may reach such a listener. An incomplete header is waited for
 *  up to the header timeout. Since 0.5.0. */
TURBO_API int turbo_config_set_proxy_protocol(turbo_config *cfg, int on);

/** The header turbo_config_set_forwarded() reads the client from. */
enum turbo_forwarded_header {
    /** X-Forwarded-For: a comma-separated list of addresses (HAProxy's
     *  option forwardfor, nginx's $proxy_add_x_forwarded_for). */
    TURBO_FORWARDED_X_FORWARDED_FOR = 1,
    /** Forwarded (RFC 7239): the for= parameter of each element. */
    TURBO_FORWARDED_RFC7239 = 2
};

/** Trusts the proxies at allow_ips (comma-separated IPv4 or IPv6
 *  addresses, networks "10.0.0.0/8", "fd00::/8", or "*" for any peer; at
 *  most 32 entries) to name the client in header (an enum
 *  turbo_forwarded_header): when a request's peer is one of them, its
 *  remote address and port (turbo_request_remote_addr and _port) are the
 *  client's. The header's addresses are read from the right (the last
 *  header line first), trusted ones skipped: the first untrusted one is
 *  the client, or the leftmost when all are trusted; X-Forwarded-For gives
 *  no port (0). A header that cannot be believed where it is read (a
 *  syntax error, "unknown" or an obfuscated node, an element without
 *  for=, more than 64 entries in a line) leaves the peer's own address,
 *  as does a request without the header. Read only when a handler asks
 *  for the address: it costs nothing to requests that do not. The access
 *  log shows the peer. NULL or "" turns it off (the default).
 *  TURBO_EINVAL for a malformed list or an unknown header, TURBO_ERANGE
 *  for more than 32 entries; the config is then unchanged. Trust only
 *  what sits in front of the server and overwrites or appends to the
 *  header: anyone else can write it. Since 0.5.0. */
TURBO_API int turbo_config_set_forwarded(turbo_config *cfg, const char *allow_ips, int header);

/** A built-in health route: GET path answers 200 "ok" while the server
 *  serves, and 503 "stopping" once a stop was asked for (a load
 *  balancer's check then takes the server out of rotation while it
 *  drains). path: "/" then visible ASCII without "{}?#", at most 255
 *  bytes (TURBO_EINVAL, TURBO_ERANGE); NULL or "" (the default): none.
 *  The route is added by turbo_server_new(): a route of the program's at
 *  the same path is then TURBO_EEXIST. Since 0.5.0. */
TURBO_API int turbo_config_set_health_path(turbo_config *cfg, const char *path);
/** A built-in metrics route: GET path answers the server's counters in
 *  the Prometheus text format (answers by status class, per-thread
 *  answers, requests and deferred requests in flight, connections open,
 *  accepted and refused, the kernel's accept-queue drops, bad requests,
 *  handler errors, timeouts, and a latency histogram from dispatch to
 *  answer). Setting it turns the counting on: per I/O thread, with no
 *  lock and no atomic read-modify-write, two clock reads per request;
 *  off (NULL or "", the default), a request pays two predictable
 *  branches. Path rules as turbo_config_set_health_path(). Since 0.5.0. */
TURBO_API int turbo_config_set_metrics_path(turbo_config *cfg, const char *path);

/* ------------------------------------------------------------------------
 * Request (valid only inside the handler; read-only; not thread-safe —
 * use from the handler's thread)
 *
 * Strings returned are slices of the server's read buffer or the request
 * arena: valid until the handler returns, not NUL-terminated.
 * --------------------------------------------------------------------- */

/** The method token as sent ("GET", "HEAD" for a HEAD served by GET, ...). */
TURBO_API turbo_str turbo_request_method(const turbo_request *r);
/** The path as sent (percent-encoding kept), without the query. For an
 *  absolute-form target, the path part only. */
TURBO_API turbo_str turbo_request_path(const turbo_request *r);
/** The raw query string without '?' (empty when there is none). */
TURBO_API turbo_str turbo_request_query(const turbo_request *r);
/** The whole request target as sent. */
TURBO_API turbo_str turbo_request_target(const turbo_request *r);
/** 10 for HTTP/1.0, 11 for HTTP/1.1. */
TURBO_API int turbo_request_version(const turbo_request *r);

/** First header field named name (case-insensitive) into *value (leading
 *  and trailing whitespace removed). TURBO_OK, or TURBO_ENOENT. */
TURBO_API int turbo_request_header(const turbo_request *r, const char *name, size_t name_len,
                                   turbo_str *value);
/** Number of header fields, in the order sent. */
TURBO_API size_t turbo_request_header_count(const turbo_request *r);
/** The index-th header field. TURBO_OK, or TURBO_ERANGE. name or value
 *  may be NULL. */
TURBO_API int turbo_request_header_at(const turbo_request *r, size_t index, turbo_str *name,
                                      turbo_str *value);

/** The value of the path parameter `name` from the route pattern (raw,
 *  percent-encoding kept). Empty (ptr NULL, len 0) when there is none;
 *  a catch-all may match an empty rest, so use turbo_request_param_at()
 *  to tell the two apart. */
TURBO_API turbo_str turbo_request_param(const turbo_request *r, const char *name, size_t name_len);
/** Number of path parameters the matched route has. */
TURBO_API size_t turbo_request_param_count(const turbo_request *r);
/** The index-th path parameter, in pattern order. TURBO_OK or TURBO_ERANGE. */
TURBO_API int turbo_request_param_at(const turbo_request *r, size_t index, turbo_str *name,
                                     turbo_str *value);

/** The first query parameter whose raw name equals name (no decoding on
 *  either side) into *value (raw). TURBO_OK, or TURBO_ENOENT. A key
 *  without '=' has an empty value. */
TURBO_API int turbo_request_query_param(const turbo_request *r, const char *name, size_t name_len,
                                        turbo_str *value);

/** The request body, complete and de-chunked (empty when there is none). */
TURBO_API turbo_str turbo_request_body(const turbo_request *r);
/** 1 when r's body is still to be read, by turbo_deferred_body() (a
 *  TURBO_ROUTE_STREAM_BODY route, and a body that did not come whole with
 *  the head); else 0, and turbo_request_body() is all of it. Since
 *  0.6.0. */
TURBO_API int turbo_request_body_pending(const turbo_request *r);

/** The peer's address as text ("127.0.0.1", "::1"); empty for a non-IP
 *  socket. */
TURBO_API turbo_str turbo_request_remote_addr(const turbo_request *r);
/** The peer's port, or 0 for a non-IP socket. */
TURBO_API int turbo_request_remote_port(const turbo_request *r);

/** Index (0..threads-1) of the I/O thread serving this request. */
TURBO_API unsigned turbo_request_thread(const turbo_request *r);

/** size bytes from the request arena, 16-byte aligned, freed when the
 *  handler returns. NULL when out of memory. */
TURBO_API void *turbo_request_alloc(turbo_request *r, size_t size);

/* ------------------------------------------------------------------------
 * Response (valid only inside the handler; starts as 200 with no headers
 * and an empty body)
 *
 * The library writes Content-Length (except on 204 and 304), Date and
 * Server (unless the handler set its own) and Connection when needed.
 * Framing headers (Content-Length, Transfer-Encoding) are refused from
 * handlers.
 * --------------------------------------------------------------------- */

/** Sets the status code, 200..599. Anything else (1xx included: a final
 *  response cannot be informational) makes this request's answer a 500. */
TURBO_API void turbo_response_status(turbo_response *res, int status);
/** The status set so far: 200 unless changed; 404 or 405 in a fallback
 *  (turbo_server_set_fallback). TURBO_EINVAL for NULL. */
TURBO_API int turbo_response_status_code(const turbo_response *res);
/** Adds a header field (copied). name must be a token; value may not
 *  contain CR, LF or NUL: such a field returns TURBO_EINVAL and makes this
 *  request's answer a 500 (it never reaches the wire, and is never dropped
 *  silently). "Connection: close" closes the connection after this
 *  response; other Connection values are ignored (TURBO_OK).
 *  Content-Length and Transfer-Encoding are refused with
 *  TURBO_EINVAL (the library frames the message) and otherwise ignored. */
TURBO_API int turbo_response_header(turbo_response *res, const char *name, size_t name_len,
                                    const char *value, size_t value_len);
/** The value of the first header field named name (ASCII
 *  case-insensitive) set so far, in *value (pointing into the response:
 *  valid until it changes): TURBO_OK, or TURBO_ENOENT when none is
 *  set; TURBO_EINVAL for NULL. A fallback reads the Allow the router set
 *  for a 405 with it. Since 0.5.0. */
TURBO_API int turbo_response_header_value(const turbo_response *res, const char *name,
                                          size_t name_len, turbo_str *value);
/** For the answer to a HEAD request that sets no body: the Content-Length
 *  it announces, the length the GET answer's body would have had (an
 *  application that answers HEAD itself, as WSGI and ASGI frameworks do,
 *  says that length in its own Content-Length header). Without it, or
 *  once a body is set, a HEAD answer announces the length of the body the
 *  handler set, as always; other methods ignore it. TURBO_EINVAL for
 *  NULL. Since 0.4.0. */
TURBO_API int turbo_response_head_length(turbo_response *res, uint64_t len);
/** Discards everything set so far (status back to 200, no headers, empty
 *  body; a referenced body's free_fn is called). For handlers and
 *  bindings that must turn a half-built response into an error. */
TURBO_API void turbo_response_reset(turbo_response *res);
/** Sets the body to a copy of data (replacing any earlier body). */
TURBO_API int turbo_response_body(turbo_response *res, const void *data, size_t len);
/** Appends a copy of data to the body. */
TURBO_API int turbo_response_append(turbo_response *res, const void *data, size_t len);
/** Sets the body to data by reference, without a copy; data must stay
 *  valid and unchanged until free_fn(data, ctx) is called (once, on the
 *  I/O thread, after the bytes are written or the connection dropped, or
 *  as soon as the body will not be sent: HEAD, 204, 304, a 500, a reset
 *  or a replacing body; at once when this returns TURBO_EINVAL). free_fn
 *  may be NULL for static data. Not for turbo_request_alloc() memory,
 *  which is gone before the bytes are written. Replaces any earlier body. */
TURBO_API int turbo_response_body_ref(turbo_response *res, const void *data, size_t len,
                                      turbo_free_fn free_fn, void *ctx);

/** Sets the body to len bytes of the file fd from offset, sent by
 *  sendfile(2) without passing through user space (for a regular file).
 *  The library sends its own duplicate of fd, closed once the body is
 *  sent or dropped, so fd stays the caller's and may be closed at once.
 *  Those bytes must stay in the file while they are sent: a file that
 *  shrinks meanwhile closes the connection after what could be sent (its
 *  length was announced). Replaces any earlier body; turbo_response_append()
 *  after it is TURBO_EINVAL. TURBO_EINVAL for a negative fd or a range past
 *  INT64_MAX, TURBO_ESYS when fd cannot be duplicated. Since 0.4.0. */
TURBO_API int turbo_response_body_file(turbo_response *res, int fd, uint64_t offset, uint64_t len);

/* ------------------------------------------------------------------------
 * Waiting without blocking
 *
 * A handler that must wait (a database, an upstream, a timer) defers its
 * response instead of blocking its I/O thread, which goes on serving its
 * other connections:
 *
 *     turbo_deferred *d = turbo_defer(req, res);
 *     ... start the work; keep d ...
 *     return TURBO_DEFER;
 *
 * and later, from any thread, builds the response through
 * turbo_deferred_response(d) and calls turbo_deferred_finish(d).
 *
 * Ownership: from turbo_defer() until turbo_deferred_finish(), req and res
 * belong to the holder of d, one thread at a time. Everything the handler
 * saw of the request (method, path, headers, parameters, body, remote
 * address, turbo_request_alloc() memory) stays valid until finish. Memory
 * the holder asks for (turbo_request_alloc, response headers and bodies)
 * belongs to this request alone, never to the I/O thread's arena, so the
 * holder and the I/O thread never race.
 *
 * Order: pipelined requests behind a deferred one are parsed and may run,
 * but their answers leave in request order.
 *
 * Cancellation: if the client leaves, the deferred timeout passes (504)
 * or a graceful stop's grace period ends (503) first, the cancel callback
 * (turbo_deferred_on_cancel) runs once, on the owning I/O thread. The
 * holder must still call turbo_deferred_finish(), which then only frees.
 *
 * Stop: a graceful stop waits for deferred requests up to its grace
 * period, then cancels them; turbo_server_wait() returns once every
 * handle has been finished, so a holder may call turbo_deferred_finish()
 * (and use req/res) until then, never after turbo_server_free().
 * --------------------------------------------------------------------- */

/** Defers the response of the request a handler is serving. Call from the
 *  handler (I/O thread or blocking pool), then return TURBO_DEFER, also
 *  when the handler already finished d itself. Calling it again for the
 *  same request returns the same handle. NULL when out of memory, or when
 *  not called from the request's own handler (answer at once, or return
 *  an error: 500). */
TURBO_API turbo_deferred *turbo_defer(turbo_request *req, turbo_response *res);
/** Sends the response built in turbo_deferred_response(d) (status,
 *  headers, body, as in a handler; a response marked invalid by a refused
 *  header is a 500) and releases d: d, its request and its response are
 *  gone when this returns. Exactly once per handle. Any thread, also the
 *  owning I/O thread (a watch or timer callback, or the handler itself
 *  before it returns: then the answer goes out as an inline one would).
 *  After a cancellation it only frees. TURBO_OK, or TURBO_EINVAL for
 *  NULL. */
TURBO_API int turbo_deferred_finish(turbo_deferred *d);
/** Sets the callback run once, on the owning I/O thread, if the request is
 *  cancelled before turbo_deferred_finish() (client gone, deferred timeout,
 *  stop); NULL removes it. Set it before handing d to another thread, or
 *  accept that a cancellation before it is set goes unnoticed (finish
 *  works either way). The callback may call turbo_deferred_finish(d)
 *  itself, the simplest way to release d early when the holder is the
 *  loop's own code; d is gone after that, as after any finish. */
TURBO_API void turbo_deferred_on_cancel(turbo_deferred *d, turbo_cancel_fn cb, void *ud);
/** 1 once the request was cancelled (its answer will never be sent), else
 *  0. Any thread; a hint for a holder that polls. */
TURBO_API int turbo_deferred_cancelled(const turbo_deferred *d);
/** The deferred request and response, for the holder until finish. */
TURBO_API turbo_request *turbo_deferred_request(turbo_deferred *d);
TURBO_API turbo_response *turbo_deferred_response(turbo_deferred *d);

/* ------------------------------------------------------------------------
 * Streamed responses
 *
 * A deferred response may be sent in pieces as they are produced, for a
 * body that is large, endless or slow (a download, a proxy, a token
 * stream, Server-Sent Events):
 *
 *     turbo_deferred *d = turbo_defer(req, res);
 *     turbo_response_header(res, "Content-Type", 12, "text/event-stream", 17);
 *     turbo_deferred_stream(d, TURBO_LENGTH_UNKNOWN);   // the head goes
 *     turbo_deferred_write(d, piece, n);                // ... as often as needed
 *     turbo_deferred_finish(d);                          // the end
 *
 * From the holder of d, on any thread, like the rest of d's functions;
 * the owning I/O thread writes the bytes. Pieces leave in the order they
 * were written, and nothing written is lost unless the client leaves
 * (then the cancel callback runs, and writes return TURBO_ESTATE).
 *
 * Framing: with a known length, plain bytes after Content-Length (fewer
 * bytes than announced when finishing: the connection is closed, since
 * the client cannot tell the answer ended); with TURBO_LENGTH_UNKNOWN,
 * Transfer-Encoding: chunked for HTTP/1.1 and bytes until the connection
 * closes for HTTP/1.0. A HEAD request, 204 and 304 get the head alone;
 * writes are then taken and dropped.
 *
 * Memory: every write is copied and queued. A write that leaves more
 * than the high-water mark queued (turbo_config_set_write_watermarks)
 * returns TURBO_FULL; the drain callback runs on the owning I/O thread
 * once the queue is below the low-water mark. A holder that waits for it
 * keeps the memory a response takes at about the high-water mark, for
 * any body size; one that ignores it queues without bound.
 *
 * Time: a streamed response has no deferred timeout once it has started
 * (its head has gone); the write timeout closes a connection whose client
 * stops reading, and a graceful stop's grace period ends it.
 * --------------------------------------------------------------------- */

/** turbo_deferred_stream()'s length when it is not known in advance. */
#define TURBO_LENGTH_UNKNOWN UINT64_MAX

/** Starts sending d's response as it stands (status and headers from
 *  turbo_deferred_response(d); a body set there is ignored) with
 *  content_length bytes to follow, or TURBO_LENGTH_UNKNOWN. After it the
 *  response's setters have no effect. Once per handle: TURBO_ESTATE the
 *  second time or after a cancellation; TURBO_EINVAL for NULL. A response
 *  marked invalid by a refused header becomes a 500 and its writes are
 *  dropped. Since 0.5.0. */
TURBO_API int turbo_deferred_stream(turbo_deferred *d, uint64_t content_length);
/** Queues a copy of len bytes of data as the next piece of d's streamed
 *  response. TURBO_OK; TURBO_FULL when taken but the queue is above the
 *  high-water mark (see above); TURBO_ESTATE before turbo_deferred_stream()
 *  or once the request was cancelled (nothing taken); TURBO_ERANGE past
 *  the announced length (nothing taken); TURBO_EINVAL, TURBO_ENOMEM. A
 *  zero-length write does nothing. Since 0.5.0. */
TURBO_API int turbo_deferred_write(turbo_deferred *d, const void *data, size_t len);
/** Sets the callback run, on the owning I/O thread, each time the queue
 *  of d's streamed response has fallen to the low-water mark after a
 *  write returned TURBO_FULL; NULL removes it. It may write and finish.
 *  Since 0.5.0. */
TURBO_API void turbo_deferred_on_drain(turbo_deferred *d, turbo_drain_fn cb, void *ud);
/** Ends d without its proper end and releases it, as turbo_deferred_finish
 *  does otherwise: the connection closes after what was already sent, so
 *  the client sees the body cut short (a chunked body lacks its last
 *  chunk, a sized one the rest of its length) rather than complete. For a
 *  producer that failed mid-stream. Before turbo_deferred_stream(), the
 *  connection closes without an answer. TURBO_EINVAL for NULL. Since
 *  0.5.0. */
TURBO_API int turbo_deferred_abort(turbo_deferred *d);
/** Bytes of d's streamed response written and not yet handed to the
 *  client's socket (an estimate that counts framing). Since 0.5.0. */
TURBO_API uint64_t turbo_deferred_queued(const turbo_deferred *d);

/* ------------------------------------------------------------------------
 * Streamed request bodies
 *
 * A route added with TURBO_ROUTE_STREAM_BODY takes its body as it
 * arrives instead of buffered: an upload larger than memory, a proxy, a
 * body parsed as it comes. Its handler runs as soon as the head is in;
 * it defers the request and asks for the body:
 *
 *     turbo_deferred *d = turbo_defer(req, res);
 *     turbo_deferred_body(d, max_bytes, on_piece, ud);
 *     return TURBO_DEFER;
 *
 * on_piece runs on the request's I/O thread for each piece as it is
 * read (Content-Length or chunked framing removed), then once with end
 * set. It may return TURBO_PAUSE to stop reading: the socket is not read
 * any more (the client's sends wait in its TCP window) until
 * turbo_deferred_body_resume(), so a consumer that is behind holds at
 * most one read buffer of the body in the server. A handler that
 * answers without reading the body has it read and discarded when it is
 * small (up to 1 MiB), else the connection closes after the answer; so
 * does one whose answer is finished before its body ended.
 *
 * Time: while the body is being read the deferred timeout does not run;
 * the body timeout (turbo_config_set_timeouts) does, between reads that
 * are not paused. Once the body has ended the deferred timeout starts.
 *
 * On any other route turbo_deferred_body() hands over the buffered body
 * (turbo_request_body()) as one piece, then the end: code that reads
 * bodies this way works on both.
 * --------------------------------------------------------------------- */

/** A piece of a streamed request body: len bytes at data (valid during
 *  the call only) and end 0; then exactly one last call, with end 1 (the
 *  body's end; len may be 0) or negative: TURBO_ERANGE, the body is
 *  longer than the reader's max (nothing beyond max is delivered);
 *  TURBO_EINVAL, its chunked framing is malformed (after either the
 *  connection closes once the answer is sent: answer 413 or 400); or
 *  TURBO_ESTATE, the request was finished or cancelled before its body
 *  ended (this call comes as the request is released, after the finish:
 *  the place to free the reader's state). No piece is delivered once the
 *  holder has finished or the request was cancelled (the cancel callback
 *  says so first). Returns TURBO_OK, or TURBO_PAUSE to stop reading
 *  until turbo_deferred_body_resume(). Runs on the owning I/O thread; a
 *  finish called in it takes effect after it returns. */
typedef int (*turbo_body_fn)(turbo_deferred *d, const char *data, size_t len, int end, void *ud);

/** Starts reading d's request body into cb, at most max bytes
 *  (TURBO_LENGTH_UNKNOWN: no limit); a body announced longer than max is
 *  refused at once (cb's end TURBO_ERANGE) without being read. A pending
 *  "Expect: 100-continue" is answered now. cb never runs inside this
 *  call: from the handler, the first piece comes once it has returned.
 *  Any thread, once per handle: TURBO_ESTATE the second time or after a
 *  cancellation; TURBO_EINVAL for NULL; TURBO_ENOMEM. Since 0.6.0. */
TURBO_API int turbo_deferred_body(turbo_deferred *d, uint64_t max, turbo_body_fn cb, void *ud);
/** Reading goes on after cb returned TURBO_PAUSE (a call when not paused
 *  does nothing). Any thread. TURBO_OK, TURBO_EINVAL (NULL),
 *  TURBO_ESTATE (reading never started), TURBO_ENOMEM. Since 0.6.0. */
TURBO_API int turbo_deferred_body_resume(turbo_deferred *d);

/** The loop of the I/O thread that owns the request: for non-blocking
 *  I/O on that thread (turbo_loop_watch, turbo_loop_timer) and for posting
 *  work to it from other threads. Valid until turbo_server_wait()
 *  returns. */
TURBO_API turbo_loop *turbo_request_loop(const turbo_request *req);
/** Runs fn(ud) on the loop's thread, soon, in post order among one
 *  thread's posts. Any thread. Many posts between two loop iterations
 *  cost one wake-up. TURBO_OK, TURBO_EINVAL (NULL), TURBO_ENOMEM,
 *  TURBO_ESTATE (the server has stopped: fn is not called). */
TURBO_API int turbo_loop_post(turbo_loop *l, turbo_loop_fn fn, void *ud);
/** A pointer the program keeps per loop (one I/O thread: a database
 *  connection, say), NULL until set. The library never touches it. Not
 *  synchronized: set it on the loop's thread, or before the server starts
 *  (loops exist once the server runs: through a request). */
TURBO_API void turbo_loop_set_data(turbo_loop *l, void *data);
TURBO_API void *turbo_loop_data(const turbo_loop *l);

/** Readiness events for turbo_loop_watch(). */
enum turbo_watch_events { TURBO_READ = 1, TURBO_WRITE = 2 };

/** Watches fd (non-blocking; the caller keeps owning it) for events
 *  (TURBO_READ | TURBO_WRITE, or 0 for none yet): cb(w, revents, ud) runs
 *  on the loop's thread while fd is ready, until turbo_watch_free().
 *  Call on the loop's thread only (a handler, a callback). NULL on error,
 *  with errno: EINVAL (bad argument), EPERM (another thread), ENOMEM.
 *  Free the watch before closing fd; when a library closed the fd under
 *  it (libpq replaces its socket while connecting), free the watch and
 *  watch the new fd afresh. Watches and timers still alive when the
 *  server is freed are freed with it (their pointers are then invalid). */
TURBO_API turbo_watch *turbo_loop_watch(turbo_loop *l, int fd, unsigned events,
                                        turbo_watch_fn cb, void *ud);
/** Changes what w waits for (0: nothing, until set again). Loop's thread
 *  only: TURBO_ESTATE from another. TURBO_OK, TURBO_EINVAL, TURBO_ESYS. */
TURBO_API int turbo_watch_set(turbo_watch *w, unsigned events);
/** Stops watching and frees w (also from inside its own callback). Loop's
 *  thread only, or once turbo_server_wait() has returned; NULL is allowed.
 *  Before the fd is closed. */
TURBO_API void turbo_watch_free(turbo_watch *w);
/** Calls cb(ud) once on the loop's thread after ms milliseconds; the timer
 *  is freed as cb is called (do not cancel it from cb). Loop's thread
 *  only. NULL on error, errno as turbo_loop_watch(). */
TURBO_API turbo_timer *turbo_loop_timer(turbo_loop *l, uint64_t ms, turbo_loop_fn cb,
                                        void *ud);
/** Cancels a timer that has not fired yet, and frees it. Not after its
 *  callback ran (it is gone then). Loop's thread only; NULL allowed. */
TURBO_API void turbo_timer_cancel(turbo_timer *t);

/* ------------------------------------------------------------------------
 * WebSocket (RFC 6455)
 *
 * A handler upgrades its request with turbo_ws_accept(); once the 101
 * answer is sent the connection speaks WebSocket and stays on its I/O
 * thread, which calls the callbacks there:
 *
 *     if (turbo_ws_accept(req, res, on_message, on_close, my_state, NULL) == NULL)
 *         return TURBO_OK;                 // the 400 or 426 it set goes
 *     return TURBO_OK;                     // the 101 goes
 *
 * The handler is the place for an Origin check, authentication or the
 * choice of a subprotocol: it sees the request and may answer 403
 * instead. The library checks the handshake, reads frames (masking, RSV
 * bits, opcodes, control frames, UTF-8 of text incrementally across
 * fragments, size limits), answers pings, sends idle pings and runs the
 * close handshake; a violation closes with the RFC's code (1002, 1007,
 * 1009). Messages go out through the connection's write path: a send that
 * leaves more than the high-water mark queued returns TURBO_FULL, and the
 * drain callback runs at the low mark (turbo_config_set_write_watermarks,
 * turbo_ws_on_drain).
 *
 * Threads. Every turbo_ws_* function is for the connection's I/O thread
 * (callbacks, handlers, loop callbacks there); another thread reaches it
 * with turbo_loop_post(turbo_ws_loop(ws), ...). A ws is valid until
 * on_close returns.
 * --------------------------------------------------------------------- */

typedef struct turbo_ws turbo_ws;

/** A whole message: text (binary 0, valid UTF-8) or binary; data is valid
 *  during the call. */
typedef void (*turbo_ws_message_fn)(turbo_ws *ws, int binary, const void *data, size_t len,
                                    void *ud);
/** The connection has ended, exactly once per accepted ws: code is the
 *  peer's close code (1005 when its close had none), the code the library
 *  closed with for a protocol violation (1002, 1007, 1009) or a timeout
 *  (1001 at a server stop, 1011 when pings went unanswered), the code
 *  given to turbo_ws_close(), or 1006 when the connection dropped without
 *  a close (or the 101 was never sent). reason is the peer's (or the one
 *  given to turbo_ws_close), NOT NUL-terminated. ws is freed when it
 *  returns. */
typedef void (*turbo_ws_close_fn)(turbo_ws *ws, int code, const char *reason, size_t len,
                                  void *ud);
/** The send queue fell to the low-water mark after a send returned
 *  TURBO_FULL. */
typedef void (*turbo_ws_drain_fn)(turbo_ws *ws, void *ud);

/** Accepts the WebSocket handshake of req (a GET with Upgrade: websocket,
 *  Connection: upgrade, Sec-WebSocket-Version: 13 and a valid
 *  Sec-WebSocket-Key), from its handler or, for a deferred request, from
 *  its holder on the owning I/O thread before turbo_deferred_finish().
 *  res becomes the 101 answer (with Sec-WebSocket-Accept, and
 *  Sec-WebSocket-Protocol when protocol is not NULL; header fields the
 *  handler added stay); the upgrade happens when it is sent. on_message
 *  and on_close may be NULL. Returns the WebSocket, or NULL with res set to the error
 *  answer: 426 with Sec-WebSocket-Version: 13 for another version, 400
 *  for any other fault of the handshake (errno EINVAL), or when called
 *  from a blocking-pool handler or another thread (errno EPERM: nothing
 *  set), or out of memory (ENOMEM). A request that arrived pipelined
 *  behind others still unanswered is refused (400). Since 0.5.0. */
TURBO_API turbo_ws *turbo_ws_accept(turbo_request *req, turbo_response *res,
                                    turbo_ws_message_fn on_message, turbo_ws_close_fn on_close,
                                    void *ud, const char *protocol);
/** Sets the drain callback (NULL: none). Since 0.5.0. */
TURBO_API void turbo_ws_on_drain(turbo_ws *ws, turbo_ws_drain_fn on_drain);
/** Sends a text (binary 0; data must be UTF-8, unchecked) or binary
 *  message in one frame (between the accept and the 101, it is kept and
 *  sent right after the 101). TURBO_OK; TURBO_FULL when queued above the
 *  high-water mark; TURBO_ESTATE once a close was sent or received, or
 *  from another thread; TURBO_EINVAL, TURBO_ENOMEM. Since 0.5.0. */
TURBO_API int turbo_ws_send(turbo_ws *ws, int binary, const void *data, size_t len);
/** Sends a ping with up to 125 bytes of data (TURBO_ERANGE beyond).
 *  Since 0.5.0. */
TURBO_API int turbo_ws_ping(turbo_ws *ws, const void *data, size_t len);
/** Starts the close handshake: sends a close frame with code (a code an
 *  endpoint may send: 1000-1003, 1007-1014, 3000-4999; 0 for none) and up
 *  to 123 bytes of reason (cut at a UTF-8 boundary), then waits for the
 *  peer's close (the write timeout at most) and closes the connection;
 *  on_close follows. TURBO_EINVAL for a code that may not be sent,
 *  TURBO_ESTATE when a close was already sent. Since 0.5.0. */
TURBO_API int turbo_ws_close(turbo_ws *ws, int code, const char *reason, size_t len);
/** Stops (paused 1) or resumes (0) reading the connection: while paused
 *  no message is delivered and the client's sends back up into its TCP
 *  window (flow control for a consumer that is behind). Since 0.5.0. */
TURBO_API void turbo_ws_pause(turbo_ws *ws, int paused);
/** Bytes queued for the client and not yet taken by its socket. */
TURBO_API uint64_t turbo_ws_queued(const turbo_ws *ws);
/** The I/O thread's loop, for turbo_loop_post() from other threads. */
TURBO_API turbo_loop *turbo_ws_loop(const turbo_ws *ws);
/** The ud given to turbo_ws_accept(), and a way to change it. */
TURBO_API void *turbo_ws_data(const turbo_ws *ws);
TURBO_API void turbo_ws_set_data(turbo_ws *ws, void *ud);

/** WebSocket limits: the largest message (default 16777216 bytes, range
 *  1..2^40; larger: closed with 1009), the interval after which an idle
 *  connection is pinged (default 30000 ms; 0: never) and how long a ping
 *  or a close may wait for its answer (default 10000 ms; unanswered: the
 *  connection is closed, 1011 for a ping). Since 0.5.0. */
TURBO_API int turbo_config_set_ws(turbo_config *cfg, uint64_t max_message, unsigned ping_ms,
                                  unsigned timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* TURBO_TURBO_H */
