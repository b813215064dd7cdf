/*
 * Fuzz target: what the binding and the access log do with untrusted
 * request bytes outside the parser:
 *   - turbo__alog_line (alog.c): a Common Log Format line from the peer,
 *     method and target as sent; it must stay within the bound it
 *     reserves, end in one '\n', and carry no control byte, no non-ASCII
 *     byte and no unescaped '"' or '\' inside its quoted request line;
 *   - tpy_percent_decode (the Python binding's query.h): never longer than
 *     its input, and the identity on input without '%' or '+';
 *   - tpy_split_host (query.h): WSGI's SERVER_NAME and SERVER_PORT from a
 *     Host header, both slices of the input, name first.
 *
 *   input    byte 0 (when present): bit 0 no request line (a refused
 *            request), bit 1 HTTP/1.0, bit 2 '+' as space, and the status
 *            (200 + byte % 400); then fields separated by 0xFF: method,
 *            target, host (a missing field is empty). The peer is not
 *            fuzzed: libturbo formats it with inet_ntop.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alog.h"
#include "query.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static int devnull = -1;

/* An exact-size heap copy, so that ASan sees any overread. */
static char *copy(const uint8_t *p, size_t n)
{
    char *c = malloc(n != 0 ? n : 1);
    CHECK(c != NULL);
    if (n != 0)
        memcpy(c, p, n);
    return c;
}

static void check_line(const char *line, size_t n)
{
    CHECK(n > 0 && line[n - 1] == '\n');
    const char *q = memchr(line, '"', n);
    CHECK(q != NULL);
    const char *end = memchr(q + 1, '"', (size_t)(line + n - q - 1));
    CHECK(end != NULL); /* the request line's closing quote: nothing inside ends it */
    for (const char *p = q + 1; p < end; p++) {
        unsigned char ch = (unsigned char)*p;
        CHECK(ch >= 0x20 && ch < 0x7f);
        if (ch == '\\') {
            CHECK(p + 3 < end && p[1] == 'x');
            p += 3;
        }
    }
    for (const char *p = end + 1; p < line + n - 1; p++)
        CHECK(*p != '\n' && *p != '"');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (devnull < 0)
        devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    CHECK(devnull >= 0);
    int ctl = size > 0 ? data[0] : 0;
    const uint8_t *p = size > 0 ? data + 1 : data;
    size_t left = size > 0 ? size - 1 : 0;
    turbo_str f[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
    char *owned[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        const uint8_t *sep = left != 0 ? memchr(p, 0xFF, left) : NULL;
        size_t n = sep != NULL ? (size_t)(sep - p) : left;
        owned[i] = copy(p, n);
        f[i] = (turbo_str){owned[i], n};
        p += n;
        left -= n;
        if (sep != NULL) {
            p++;
            left--;
        }
    }

    turbo__alog l;
    turbo__alog_init(&l, devnull);
    turbo_str method = (ctl & 1) ? (turbo_str){NULL, 0} : f[0];
    static const char peer[] = "192.0.2.1";
    turbo__alog_line(&l, (turbo_str){peer, sizeof(peer) - 1}, method, f[1], ctl & 2 ? 0 : 1, 200 + ctl % 400,
                     (uint64_t)size * 1000003u, (time_t)ctl * 86400);
    /* Lines never mix: the buffer holds whole lines (one, unless a flush
     * already wrote an earlier one). */
    if (l.buf.len != 0)
        check_line(l.buf.ptr, l.buf.len);
    turbo__alog_free(&l);

    char *out = malloc(f[1].len != 0 ? f[1].len : 1);
    CHECK(out != NULL);
    size_t o = tpy_percent_decode(f[1].ptr, f[1].len, ctl & 4, out);
    CHECK(o <= f[1].len);
    if (memchr(f[1].ptr, '%', f[1].len) == NULL && !(ctl & 4))
        CHECK(o == f[1].len && (o == 0 || memcmp(out, f[1].ptr, o) == 0));
    free(out);

    turbo_str name, port;
    tpy_split_host(f[2], &name, &port);
    CHECK(name.ptr == f[2].ptr && name.len <= f[2].len);
    if (port.ptr != NULL) {
        CHECK(port.len != 0 && port.ptr >= name.ptr + name.len + 1 && port.ptr[-1] == ':');
        CHECK(port.ptr + port.len == f[2].ptr + f[2].len);
    }

    for (int i = 0; i < 3; i++)
        free(owned[i]);
    return 0;
}
