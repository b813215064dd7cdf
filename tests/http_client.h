/*
 * The raw-socket HTTP/1.1 client of the integration suites (test_server,
 * test_smuggling, test_abuse, test_routes_live): connections to a server
 * on 127.0.0.1, byte-exact sends, buffered reads, response heads parsed
 * into fields, bodies framed by Content-Length.
 *
 * Every socket has receive and send timeouts (the caller's timeout_s), so
 * a server that does not answer fails the test instead of hanging it.
 *
 * Two kinds of function:
 *   - the first group below (try_*, client_fill, client_consume,
 *     client_wait, client_wait_head): no Check assertions. They return -1
 *     with errno set on an error or a timeout, so they are safe on any
 *     thread (Check assertions belong to the test's thread);
 *   - the second group fails the running test through Check, as its own
 *     assertions would.
 */
#ifndef TURBO_TESTS_HTTP_CLIENT_H
#define TURBO_TESTS_HTTP_CLIENT_H

#include <stddef.h>
#include <sys/types.h>

#include <turbo/turbo.h>

#define MAX_FIELDS 32
#define MAX_BODY 65536

typedef struct client {
    int fd;
    size_t len; /* bytes received but not consumed yet */
    char buf[MAX_BODY + 16384];
} client;

typedef struct field {
    char name[64];
    char value[1024];
} field;

typedef struct response {
    int status;
    char reason[64];
    size_t nfields;
    field fields[MAX_FIELDS];
    size_t body_len;
    char body[MAX_BODY + 1]; /* NUL-terminated for messages */
} response;

/* ---- no Check assertions: any thread ---------------------------------- */

/* A connected socket to 127.0.0.1:port with timeouts and TCP_NODELAY, or
 * -1 (errno tells). */
int try_connect(int port, int timeout_s);

/* Sends all len bytes: 0, or -1 (errno tells). */
int try_send(int fd, const void *data, size_t len);

/* c (caller's memory) connected to 127.0.0.1:port, nothing buffered: 0,
 * or -1 (errno tells). */
int try_client_open(client *c, int port, int timeout_s);

/* Receives more bytes into c->buf. >0: bytes read; 0: EOF; -1: error,
 * timeout or a full buffer (errno tells; ENOBUFS for the last). */
ssize_t client_fill(client *c);

/* Drops the first n buffered bytes. */
void client_consume(client *c, size_t n);

/* Receives until c->buf holds at least n bytes. >0: it does; 0: EOF
 * first; -1 as client_fill. */
ssize_t client_wait(client *c, size_t n);

/* Receives until c->buf holds a whole response head. >0: the head's
 * length, through the empty line; 0: EOF first; -1 as client_fill. */
ssize_t client_wait_head(client *c);

/* ---- Check assertions: the test's thread ------------------------------ */

/* A connected socket to s's port (see try_connect). */
int connect_to(turbo_server *s, int timeout_s);

/* A client (heap) connected to s's port; client_close frees it. */
client *client_open(turbo_server *s, int timeout_s);
void client_close(client *c);

void send_fd(int fd, const void *data, size_t len);
void send_str_fd(int fd, const char *s);
void send_bytes(client *c, const void *data, size_t len);
void send_str(client *c, const char *s);

/* Reads exactly n bytes (into out, NUL-terminated; out holds n + 1). */
void read_exact(client *c, char *out, size_t n);

/* Receives a whole response head and moves it from c->buf into head
 * (NUL-terminated; it holds cap bytes). Returns its length, through the
 * empty line. who, if not NULL, starts the failure messages. */
size_t read_head(client *c, char *head, size_t cap, const char *who);

/*
 * Reads one whole response: status line, fields, then exactly
 * Content-Length body bytes (none when no_body: the answer to HEAD).
 * Bytes after it stay buffered for the next call.
 */
void read_response_ex(client *c, response *r, int no_body);
void read_response(client *c, response *r);

/* Sends the raw request bytes, then reads one response (read_response). */
void exchange(client *c, const char *request, response *r);

/* Reads until the server closes its side; returns the bytes that came
 * before the EOF (0 for a clean close right away). Fails on a timeout or
 * a reset. */
size_t read_until_eof(client *c);

/* The first field named name (any case), or NULL; how many there are. */
const char *header(const response *r, const char *name);
size_t header_count(const response *r, const char *name);

response *response_new(void);

#endif
