/*
 * Building responses: the handler-facing setters collect a status, header
 * lines and a body; turbo__response_write_head() turns them into the
 * status line and header block the connection sends.
 */
#ifndef TURBO_RESPONSE_H
#define TURBO_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "turbo/turbo.h"

#include "vec.h"

typedef struct turbo__thread turbo__thread;

/* The response a handler builds (the public API's opaque turbo_response).
 * Each I/O thread owns one (thread.h), reset after every request. */
struct turbo_response {
    turbo__thread *thread;
    int status;
    turbo__vec headers; /* serialized "Name: value\r\n" lines */
    turbo__vec body;    /* copied body */
    const void *ref;    /* body by reference, when set */
    size_t ref_len;
    turbo_free_fn ref_free;
    void *ref_ctx;
    unsigned has_date : 1, has_server : 1, close : 1;
    unsigned invalid : 1; /* the handler tried something unsendable: 500 */
    unsigned has_head_len : 1; /* turbo_response_head_length() was called */
    unsigned has_file : 1;     /* the body is file_len bytes of file_fd */
    unsigned upgrade : 1;      /* a 101 to WebSocket (turbo_ws_accept) */
    uint64_t head_len;
    int file_fd;               /* the library's own dup, closed with the body */
    uint64_t file_off, file_len;
};

/* How the body's end is found (turbo__framing.mode). */
enum turbo__frame_mode {
    TURBO__FRAME_LENGTH = 0, /* Content-Length: body_len */
    TURBO__FRAME_CHUNKED,    /* Transfer-Encoding: chunked (a stream, HTTP/1.1) */
    TURBO__FRAME_CLOSE,      /* neither: the body ends with the connection (HTTP/1.0) */
    TURBO__FRAME_UPGRADE     /* 101 to WebSocket: Upgrade and Connection: Upgrade */
};

/* How the connection wants the head framed. */
typedef struct turbo__framing {
    int minor;          /* the request's HTTP/1.minor */
    int keep_alive;     /* the connection stays open after this response */
    int body_allowed;   /* 0 for 1xx/204/304 */
    int mode;           /* enum turbo__frame_mode */
    uint64_t body_len;  /* Content-Length to announce */
} turbo__framing;

void turbo__response_reset(turbo_response *res);
void turbo__response_release(turbo_response *res);
/* The canonical reason phrase of status, or "Unknown". */
const char *turbo__reason(int status, size_t *len);
/* Upper bound of the head's size. */
size_t turbo__response_head_bound(const turbo_response *res, const turbo_server *s);
/* Writes the head into dst (at least head_bound bytes); returns its length. */
size_t turbo__response_write_head(const turbo_response *res, const turbo__thread *t,
                                  const turbo__framing *f, char *dst);
/* Replaces whatever the handler built by a plain-text error response. */
void turbo__response_error(turbo_response *res, int status);
/* The body length the handler set. */
size_t turbo__response_body_len(const turbo_response *res);

#endif
