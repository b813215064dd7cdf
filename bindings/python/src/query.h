/*
 * The raw query string and percent-encoding, as bytes: walking the query's
 * "key=value" pairs, and finding a parameter by its decoded key without
 * decoding anything. Pure functions, no Python, no allocation.
 *
 * Static inline: the trampoline (call.c) looks up every query parameter of
 * every request with find_query, and Request.query_params (request.c)
 * walks the same pairs, so that both see the same first value.
 */
#ifndef TURBO_PY_QUERY_H
#define TURBO_PY_QUERY_H

#include <stddef.h>
#include <string.h>

#include <turbo/turbo.h>

/* The value of one hex digit, or -1. */
static inline int tpy_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes p[0..n) into out (room for n bytes), '+' as a space when
 * plus; a stray '%' stays as it is. Returns the decoded length. */
static inline size_t tpy_percent_decode(const char *p, size_t n, int plus, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int h, l;
        if (p[i] == '%' && i + 2 < n && (h = tpy_hexval((unsigned char)p[i + 1])) >= 0 &&
            (l = tpy_hexval((unsigned char)p[i + 2])) >= 0) {
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else if (plus && p[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = p[i];
        }
    }
    return o;
}

/* WSGI's SERVER_NAME and SERVER_PORT from a Host header value: "name",
 * "name:port", "[v6]" or "[v6]:port" (the brackets stay in the name). An
 * absent or empty port leaves port {NULL, 0}. Both are slices of host. */
static inline void tpy_split_host(turbo_str host, turbo_str *name, turbo_str *port)
{
    const char *p = host.ptr != NULL ? host.ptr : "";
    size_t n = host.len, name_end = n;
    const char *colon = NULL;
    if (n > 0 && p[0] == '[') {
        const char *close = memchr(p, ']', n);
        if (close != NULL) {
            name_end = (size_t)(close - p) + 1;
            if (name_end < n && p[name_end] == ':')
                colon = p + name_end;
        }
    } else {
        colon = memchr(p, ':', n);
        if (colon != NULL)
            name_end = (size_t)(colon - p);
    }
    *name = (turbo_str){p, name_end};
    *port = (turbo_str){NULL, 0};
    if (colon != NULL && colon + 1 < p + n)
        *port = (turbo_str){colon + 1, (size_t)(p + n - colon - 1)};
}

/* Walks the raw query one "key=value" pair at a time: *pos starts at 0;
 * returns 0 when there is no pair left. A pair without '=' has an empty
 * value. */
static inline int tpy_next_query_pair(turbo_str q, size_t *pos, turbo_str *key, turbo_str *value)
{
    if (q.ptr == NULL || *pos >= q.len)
        return 0;
    const char *end = q.ptr + q.len;
    const char *p = q.ptr + *pos;
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *stop = amp != NULL ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(stop - p));
    *pos = (size_t)(stop - q.ptr) + 1;
    key->ptr = p;
    key->len = (size_t)((eq != NULL ? eq : stop) - p);
    value->ptr = eq != NULL ? eq + 1 : stop;
    value->len = eq != NULL ? (size_t)(stop - eq - 1) : 0;
    return 1;
}

/* Does the query key raw, percent-decoded ('+' as space), equal name? */
static inline int tpy_key_matches(const char *raw, size_t n, const char *name, size_t name_len)
{
    size_t i = 0, j = 0;
    while (i < n) {
        int c = (unsigned char)raw[i], h, l;
        if (c == '%' && i + 2 < n && (h = tpy_hexval((unsigned char)raw[i + 1])) >= 0 &&
            (l = tpy_hexval((unsigned char)raw[i + 2])) >= 0) {
            c = h * 16 + l;
            i += 3;
        } else {
            if (c == '+')
                c = ' ';
            i++;
        }
        if (j == name_len || (unsigned char)name[j] != c)
            return 0;
        j++;
    }
    return j == name_len;
}

/* The raw value of the first query parameter whose decoded key is name,
 * the same one Request.query_params reports. */
static inline int tpy_find_query(turbo_request *req, const char *name, size_t name_len,
                                 turbo_str *value)
{
    turbo_str q = turbo_request_query(req), k;
    size_t pos = 0;
    while (tpy_next_query_pair(q, &pos, &k, value))
        if (tpy_key_matches(k.ptr, k.len, name, name_len))
            return 1;
    return 0;
}

#endif
