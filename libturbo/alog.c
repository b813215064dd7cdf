/*
 * The access log (alog.h).
 */
#include "alog.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

void turbo__alog_init(turbo__alog *l, int fd)
{
    memset(l, 0, sizeof(*l));
    l->fd = fd;
    l->sec = (time_t)-1;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* a log that cannot be written loses lines, never requests */
        p += w;
        n -= (size_t)w;
    }
}

void turbo__alog_flush(turbo__alog *l)
{
    if (l->buf.len == 0)
        return;
    write_all(l->fd, l->buf.ptr, l->buf.len);
    l->buf.len = 0;
}

void turbo__alog_free(turbo__alog *l)
{
    if (l->fd >= 0)
        turbo__alog_flush(l);
    turbo__vec_free(&l->buf);
}

static const char hex[] = "0123456789abcdef";

/* Bytes a log line must not carry as they are (the quote that ends the
 * field, the escape, controls, and non-ASCII) become \xHH. */
static char *put_escaped(char *p, turbo_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
            *p++ = '\\';
            *p++ = 'x';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        } else {
            *p++ = (char)ch;
        }
    }
    return p;
}

static void make_stamp(turbo__alog *l, time_t now)
{
    struct tm tm;
    gmtime_r(&now, &tm);
    l->stamp_len = strftime(l->stamp, sizeof(l->stamp), "[%d/%b/%Y:%H:%M:%S +0000] ", &tm);
    l->sec = now;
}

void turbo__alog_line(turbo__alog *l, turbo_str peer, turbo_str method, turbo_str target, int minor,
                      int status, uint64_t bytes, time_t now)
{
    if (now != l->sec)
        make_stamp(l, now);
    /* Escaping at most quadruples a byte. */
    size_t bound = peer.len + 6 + l->stamp_len + 1 + 4 * (method.len + target.len) + 16 + 4 + 21 + 2;
    if (l->buf.len != 0 && l->buf.len + bound > PIPE_BUF)
        turbo__alog_flush(l);
    if (turbo__vec_reserve(&l->buf, bound) != 0)
        return; /* out of memory: the line is lost, the answer is not */
    char *start = l->buf.ptr + l->buf.len, *p = start;
    if (peer.len != 0) {
        memcpy(p, peer.ptr, peer.len);
        p += peer.len;
    } else {
        *p++ = '-';
    }
    memcpy(p, " - - ", 5);
    p += 5;
    memcpy(p, l->stamp, l->stamp_len);
    p += l->stamp_len;
    *p++ = '"';
    if (method.ptr != NULL) {
        p = put_escaped(p, method);
        *p++ = ' ';
        p = put_escaped(p, target);
        memcpy(p, minor == 0 ? " HTTP/1.0" : " HTTP/1.1", 9);
        p += 9;
    } else {
        *p++ = '-';
    }
    *p++ = '"';
    *p++ = ' ';
    p = turbo__put_u64(p, (uint64_t)status);
    *p++ = ' ';
    if (bytes == 0)
        *p++ = '-';
    else
        p = turbo__put_u64(p, bytes);
    *p++ = '\n';
    l->buf.len += (size_t)(p - start);
}
