/*
 * Fuzz target: the PROXY protocol header parser (proxy.h) alone.
 *
 *   byte 0   the size of the first read (0: the whole input at once)
 *   rest     the bytes a connection opens with
 *
 * The parser must agree with itself however the bytes arrive: parsed
 * whole, and fed as a growing prefix (the first read, then one byte
 * more each time, as conn.c sees them), the first non-zero result is the
 * same; a header's length never exceeds the input, and every shorter
 * prefix of it needs more; once refused, always refused with the same
 * reason. A header that names a client gives an IPv4 or IPv6 address;
 * a v1 header is a line of at most 107 bytes ending in CRLF. The input is
 * a heap block of exactly its length (ASan catches overreads).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t first = data[0];
    size_t len = size - 1;
    char *buf = malloc(len == 0 ? 1 : len);
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 1, len);

    turbo__proxy_src whole, part;
    long r = turbo__proxy_parse(buf, len, &whole);
    CHECK(r >= TURBO__PROXY_ESHORT && r <= (long)len);
    if (r > 0) {
        CHECK(whole.version == 1 || whole.version == 2);
        if (!whole.keep_peer)
            CHECK(whole.family == AF_INET || whole.family == AF_INET6);
        if (whole.version == 1)
            CHECK(r <= TURBO__PROXY_V1_MAX && buf[r - 2] == '\r' && buf[r - 1] == '\n');
        else
            CHECK(r >= TURBO__PROXY_V2_FIXED);
    }

    /* Growing prefixes: 0 until the first final answer, which is r's. */
    size_t k = first == 0 || first > len ? len : first;
    long seen = 0;
    for (; k <= len; k++) {
        long rk = turbo__proxy_parse(buf, k, &part);
        if (seen == 0 && rk != 0) {
            CHECK(rk == r);
            seen = rk;
            if (rk > 0) {
                CHECK(part.keep_peer == whole.keep_peer && part.version == whole.version);
                if (!part.keep_peer)
                    CHECK(part.family == whole.family && part.port == whole.port &&
                          memcmp(part.addr, whole.addr, part.family == AF_INET ? 4 : 16) == 0);
            }
        } else if (seen != 0) {
            CHECK(rk == seen); /* a result, once given, stands */
        }
        if (k > 4096 && seen != 0)
            break; /* bounded work per input: the rest only repeats */
    }
    if (seen == 0)
        CHECK(r == 0);
    free(buf);
    return 0;
}
