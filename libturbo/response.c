#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "date.h"
#include "parse.h"
#include "response.h"
#include "server.h"
#include "thread.h"
#include "vec.h"

const char *turbo__reason(int status, size_t *len)
{
    const char *r;
    switch (status) {
    case 100: r = "Continue"; break;
    case 101: r = "Switching Protocols"; break;
    case 102: r = "Processing"; break;
    case 103: r = "Early Hints"; break;
    case 200: r = "OK"; break;
    case 201: r = "Created"; break;
    case 202: r = "Accepted"; break;
    case 203: r = "Non-Authoritative Information"; break;
    case 204: r = "No Content"; break;
    case 205: r = "Reset Content"; break;
    case 206: r = "Partial Content"; break;
    case 207: r = "Multi-Status"; break;
    case 208: r = "Already Reported"; break;
    case 226: r = "IM Used"; break;
    case 300: r = "Multiple Choices"; break;
    case 301: r = "Moved Permanently"; break;
    case 302: r = "Found"; break;
    case 303: r = "See Other"; break;
    case 304: r = "Not Modified"; break;
    case 307: r = "Temporary Redirect"; break;
    case 308: r = "Permanent Redirect"; break;
    case 400: r = "Bad Request"; break;
    case 401: r = "Unauthorized"; break;
    case 402: r = "Payment Required"; break;
    case 403: r = "Forbidden"; break;
    case 404: r = "Not Found"; break;
    case 405: r = "Method Not Allowed"; break;
    case 406: r = "Not Acceptable"; break;
    case 408: r = "Request Timeout"; break;
    case 409: r = "Conflict"; break;
    case 410: r = "Gone"; break;
    case 411: r = "Length Required"; break;
    case 412: r = "Precondition Failed"; break;
    case 413: r = "Content Too Large"; break;
    case 414: r = "URI Too Long"; break;
    case 415: r = "Unsupported Media Type"; break;
    case 416: r = "Range Not Satisfiable"; break;
    case 417: r = "Expectation Failed"; break;
    case 418: r = "I'm a Teapot"; break;
    case 421: r = "Misdirected Request"; break;
    case 422: r = "Unprocessable Content"; break;
    case 423: r = "Locked"; break;
    case 424: r = "Failed Dependency"; break;
    case 425: r = "Too Early"; break;
    case 426: r = "Upgrade Required"; break;
    case 428: r = "Precondition Required"; break;
    case 429: r = "Too Many Requests"; break;
    case 431: r = "Request Header Fields Too Large"; break;
    case 451: r = "Unavailable For Legal Reasons"; break;
    case 500: r = "Internal Server Error"; break;
    case 501: r = "Not Implemented"; break;
    case 502: r = "Bad Gateway"; break;
    case 503: r = "Service Unavailable"; break;
    case 504: r = "Gateway Timeout"; break;
    case 505: r = "HTTP Version Not Supported"; break;
    case 506: r = "Variant Also Negotiates"; break;
    case 507: r = "Insufficient Storage"; break;
    case 508: r = "Loop Detected"; break;
    case 511: r = "Network Authentication Required"; break;
    default: r = "Unknown"; break;
    }
    *len = strlen(r);
    return r;
}

/* ---- handler-facing setters ---------------------------------------- */

static void __attribute__((noinline, cold)) drop_file(turbo_response *res)
{
    close(res->file_fd);
    res->has_file = 0;
}

static inline void drop_ref(turbo_response *res)
{
    if (__builtin_expect(res->has_file, 0)) /* out of line: keeps this inlined */
        drop_file(res);
    if (res->ref_free != NULL)
        res->ref_free((void *)res->ref, res->ref_ctx);
    res->ref = NULL;
    res->ref_len = 0;
    res->ref_free = NULL;
    res->ref_ctx = NULL;
}

void turbo__response_reset(turbo_response *res)
{
    res->status = 200;
    res->headers.len = 0;
    res->body.len = 0;
    drop_ref(res);
    res->has_date = 0;
    res->has_server = 0;
    res->close = 0;
    res->invalid = 0;
    res->has_head_len = 0;
    res->upgrade = 0;
}

int turbo_response_head_length(turbo_response *res, uint64_t len)
{
    if (res == NULL)
        return TURBO_EINVAL;
    res->head_len = len;
    res->has_head_len = 1;
    return TURBO_OK;
}

void turbo_response_reset(turbo_response *res)
{
    if (res != NULL)
        turbo__response_reset(res);
}

void turbo__response_release(turbo_response *res)
{
    turbo__response_reset(res);
    turbo__vec_free(&res->headers);
    turbo__vec_free(&res->body);
}

int turbo_response_status_code(const turbo_response *res)
{
    return res != NULL ? res->status : TURBO_EINVAL;
}

void turbo_response_status(turbo_response *res, int status)
{
    if (res == NULL)
        return;
    /* A final response is 200..599; anything else cannot be sent as the
     * handler meant it, so the request is answered 500. */
    if (status >= 200 && status <= 599) {
        res->status = status;
    } else {
        res->status = 500;
        res->invalid = 1;
    }
}

static int is_tchar(unsigned char c)
{
    /* RFC 9110 5.6.2 token characters. */
    static const char extra[] = "!#$%&'*+-.^_`|~";
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && memchr(extra, c, sizeof(extra) - 1) != NULL);
}

static int value_has_token(const char *v, size_t len, const char *lower)
{
    /* `lower` anywhere in a comma list, case-insensitive. */
    size_t i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (turbo__ieq(v + start, end - start, lower))
            return 1;
    }
    return 0;
}

int turbo_response_header(turbo_response *res, const char *name, size_t name_len, const char *value,
                          size_t value_len)
{
    if (res == NULL)
        return TURBO_EINVAL;
    /* A field that cannot be sent as given (it could split the response)
     * must not be dropped silently either: the response becomes a 500,
     * whatever the handler does with the error code. */
    int bad = name == NULL || name_len == 0 || (value == NULL && value_len != 0);
    for (size_t i = 0; !bad && i < name_len; i++)
        bad = !is_tchar((unsigned char)name[i]);
    for (size_t i = 0; !bad && i < value_len; i++) {
        unsigned char c = (unsigned char)value[i];
        bad = c == '\r' || c == '\n' || c == '\0';
    }
    if (bad) {
        res->invalid = 1;
        return TURBO_EINVAL;
    }
    /* The library owns message framing: a handler-set length could only
     * disagree with the bytes actually sent. */
    if (turbo__ieq(name, name_len, "content-length") || turbo__ieq(name, name_len, "transfer-encoding"))
        return TURBO_EINVAL;
    if (turbo__ieq(name, name_len, "connection")) {
        /* The library writes Connection itself; the handler may only ask
         * for the connection to be closed. */
        if (value_has_token(value, value_len, "close"))
            res->close = 1;
        return TURBO_OK;
    }
    if (turbo__vec_reserve(&res->headers, name_len + value_len + 4) != 0)
        return TURBO_ENOMEM;
    char *p = res->headers.ptr + res->headers.len;
    memcpy(p, name, name_len);
    p += name_len;
    *p++ = ':';
    *p++ = ' ';
    if (value_len)
        memcpy(p, value, value_len);
    p += value_len;
    *p++ = '\r';
    *p++ = '\n';
    res->headers.len = (size_t)(p - res->headers.ptr);
    if (turbo__ieq(name, name_len, "date"))
        res->has_date = 1;
    else if (turbo__ieq(name, name_len, "server"))
        res->has_server = 1;
    return TURBO_OK;
}

int turbo_response_header_value(const turbo_response *res, const char *name, size_t name_len,
                                turbo_str *value)
{
    if (res == NULL || name == NULL || value == NULL)
        return TURBO_EINVAL;
    /* headers holds "Name: value\r\n" lines, each name a token. */
    const char *p = res->headers.ptr, *end = p + res->headers.len;
    while (p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        if (eol == NULL)
            break;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon != NULL && (size_t)(colon - p) == name_len && strncasecmp(p, name, name_len) == 0) {
            value->ptr = colon + 2;
            value->len = (size_t)(eol - colon - 2);
            return TURBO_OK;
        }
        p = eol + 2;
    }
    return TURBO_ENOENT;
}

int turbo_response_body(turbo_response *res, const void *data, size_t len)
{
    if (res == NULL || (data == NULL && len != 0))
        return TURBO_EINVAL;
    drop_ref(res);
    res->body.len = 0;
    return turbo__vec_append(&res->body, data, len) == 0 ? TURBO_OK : TURBO_ENOMEM;
}

int turbo_response_append(turbo_response *res, const void *data, size_t len)
{
    if (res == NULL || (data == NULL && len != 0) || res->has_file)
        return TURBO_EINVAL;
    if (res->ref != NULL) {
        /* Appending to a referenced body: copy it first, then let it go. */
        const void *ref = res->ref;
        size_t ref_len = res->ref_len;
        res->body.len = 0;
        if (turbo__vec_append(&res->body, ref, ref_len) != 0)
            return TURBO_ENOMEM;
        drop_ref(res);
    }
    return turbo__vec_append(&res->body, data, len) == 0 ? TURBO_OK : TURBO_ENOMEM;
}

int turbo_response_body_ref(turbo_response *res, const void *data, size_t len, turbo_free_fn free_fn,
                            void *ctx)
{
    if (res == NULL || (data == NULL && len != 0)) {
        if (free_fn != NULL)
            free_fn((void *)data, ctx);
        return TURBO_EINVAL;
    }
    drop_ref(res);
    res->body.len = 0;
    res->ref = data;
    res->ref_len = len;
    res->ref_free = free_fn;
    res->ref_ctx = ctx;
    return TURBO_OK;
}

int turbo_response_body_file(turbo_response *res, int fd, uint64_t offset, uint64_t len)
{
    if (res == NULL || fd < 0 || len > (uint64_t)SIZE_MAX || offset > (uint64_t)INT64_MAX - len)
        return TURBO_EINVAL;
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0)
        return TURBO_ESYS;
    drop_ref(res);
    res->body.len = 0;
    res->has_file = 1;
    res->file_fd = dup_fd;
    res->file_off = offset;
    res->file_len = len;
    return TURBO_OK;
}

/* ---- serialization -------------------------------------------------- */

size_t turbo__response_body_len(const turbo_response *res)
{
    if (res->has_file)
        return (size_t)res->file_len;
    return res->ref != NULL ? res->ref_len : res->body.len;
}

size_t turbo__response_head_bound(const turbo_response *res, const turbo_server *s)
{
    /* status line <= 13 + 31 (longest reason) + 2; Content-Length line
     * <= 16 + 20 + 2, Transfer-Encoding 28, Upgrade and Connection 41;
     * Connection line <= 24; final CRLF. */
    return 64 + res->headers.len + s->server_line_len + TURBO__DATE_LINE_LEN + 48 + 26 + 2;
}

size_t turbo__response_write_head(const turbo_response *res, const turbo__thread *t,
                                  const turbo__framing *f, char *dst)
{
    const turbo_server *s = t->server;
    char *p = dst;
    int status = res->status;
    memcpy(p, "HTTP/1.1 ", 9);
    p += 9;
    p[0] = (char)('0' + status / 100);
    p[1] = (char)('0' + status / 10 % 10);
    p[2] = (char)('0' + status % 10);
    p[3] = ' ';
    p += 4;
    size_t rlen;
    const char *reason = turbo__reason(status, &rlen);
    memcpy(p, reason, rlen);
    p += rlen;
    *p++ = '\r';
    *p++ = '\n';
    if (!res->has_server && s->server_line_len != 0) {
        memcpy(p, s->server_line, s->server_line_len);
        p += s->server_line_len;
    }
    if (!res->has_date) {
        memcpy(p, t->date.line, TURBO__DATE_LINE_LEN);
        p += TURBO__DATE_LINE_LEN;
    }
    if (res->headers.len != 0) {
        memcpy(p, res->headers.ptr, res->headers.len);
        p += res->headers.len;
    }
    /* 1xx and 204 carry no Content-Length (RFC 9110 8.6); 304 may, but
     * would have to repeat the GET's length, which we do not know. */
    if (__builtin_expect(f->mode != TURBO__FRAME_LENGTH, 0)) {
        static const char te[] = "Transfer-Encoding: chunked\r\n";
        static const char up[] = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
        if (f->mode == TURBO__FRAME_CHUNKED) {
            memcpy(p, te, sizeof(te) - 1);
            p += sizeof(te) - 1;
        } else if (f->mode == TURBO__FRAME_UPGRADE) {
            memcpy(p, up, sizeof(up) - 1);
            p += sizeof(up) - 1;
        }
    } else if (f->body_allowed) {
        memcpy(p, "Content-Length: ", 16);
        p = turbo__put_u64(p + 16, f->body_len);
        *p++ = '\r';
        *p++ = '\n';
    }
    /* An upgrade is keep-alive HTTP/1.1 (turbo_ws_accept checks): its
     * Connection: Upgrade above is the only one. */
    if (!f->keep_alive) {
        memcpy(p, "Connection: close\r\n", 19);
        p += 19;
    } else if (f->minor == 0) {
        memcpy(p, "Connection: keep-alive\r\n", 24);
        p += 24;
    }
    *p++ = '\r';
    *p++ = '\n';
    return (size_t)(p - dst);
}

void turbo__response_error(turbo_response *res, int status)
{
    turbo__response_reset(res);
    res->status = status;
    size_t rlen;
    const char *reason = turbo__reason(status, &rlen);
    static const char ct[] = "text/plain; charset=utf-8";
    turbo_response_header(res, "Content-Type", 12, ct, sizeof(ct) - 1);
    if (turbo__vec_reserve(&res->body, rlen + 1) == 0) {
        memcpy(res->body.ptr, reason, rlen);
        res->body.ptr[rlen] = '\n';
        res->body.len = rlen + 1;
    }
}
