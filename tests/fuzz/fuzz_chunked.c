/*
 * Fuzz target: the chunked body decoder alone.
 *
 *   byte 0   flags: bit 0 small limits (2 more control bytes follow the
 *            split sizes), bit 1 close the decoded/raw gap after each read
 *            (as conn.c does), bit 2 start after a 3-byte prefix (a head
 *            already in the buffer), bit 3 stream: after each read the
 *            decoded bytes are taken away and the raw rest moved to the
 *            start, as a streamed request body is read (conn.c,
 *            body_process)
 *   byte 1   n = byte % 8 split sizes follow (0 in a size means 1);
 *            n == 0 feeds one byte at a time
 *   [2 bytes limits when flag bit 0]
 *   rest     the chunked body (and whatever follows it)
 *
 * Decoded in one piece and split into reads, the result (status, raw bytes
 * consumed, decoded bytes) must be the same; the offsets only move forward,
 * *out <= *in <= len, and the decoded size never exceeds max_body_bytes.
 * Buffers are heap blocks of exactly their length (ASan catches overreads).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#define PREFIX 3

typedef struct outcome {
    int r;
    size_t consumed; /* raw bytes of body taken */
    char *decoded;   /* heap, decoded_len bytes */
    size_t decoded_len;
} outcome;

typedef struct plan {
    const unsigned char *sizes;
    size_t nsizes; /* 0: one byte per read; SIZE_MAX: one piece */
    int compact;
    size_t start; /* offset the body starts at */
    int stream;   /* decoded bytes leave the buffer after each read */
} plan;

static outcome decode(const char *data, size_t len, const plan *pl, const turbo__limits *lim)
{
    turbo__chunked c;
    turbo__chunked_init(&c);
    char *buf = malloc(pl->start + 1);
    CHECK(buf != NULL);
    memset(buf, 'H', pl->start);
    size_t blen = pl->start, in = pl->start, out = pl->start;
    size_t dropped = 0; /* raw bytes removed by compaction */
    size_t off = 0, k = 0;
    char *sink = NULL; /* stream: the decoded bytes taken so far */
    size_t sink_len = 0;
    int r = 0;

    while (off < len && r == 0) {
        size_t n;
        if (pl->nsizes == SIZE_MAX)
            n = len - off;
        else if (pl->nsizes == 0)
            n = 1;
        else
            n = pl->sizes[k++ % pl->nsizes];
        if (n == 0)
            n = 1;
        if (n > len - off)
            n = len - off;
        char *grown = malloc(blen + n); /* exactly: overreads trap */
        CHECK(grown != NULL);
        memcpy(grown, buf, blen);
        memcpy(grown + blen, data + off, n);
        free(buf);
        buf = grown;
        blen += n;
        off += n;

        size_t in0 = in, out0 = out;
        uint64_t total0 = c.total;
        r = turbo__chunked_decode(&c, buf, blen, &in, &out, lim);
        CHECK(in >= in0 && out >= out0 && out <= in && in <= blen);
        CHECK(out - pl->start <= lim->max_body_bytes);
        CHECK(c.total >= total0 && c.total <= lim->max_body_bytes);
        CHECK(r == 1 || r == 0 || r == -400 || r == -413 || r == -431);
        CHECK(memcmp(buf, "HHH", pl->start) == 0); /* nothing before the body is touched */
        if (r == 0)
            CHECK(in == blen);
        if (pl->stream) {
            size_t dec = out - pl->start, raw = in - pl->start;
            char *grown = realloc(sink, sink_len + dec + 1);
            CHECK(grown != NULL);
            sink = grown;
            memcpy(sink + sink_len, buf + pl->start, dec);
            sink_len += dec;
            memmove(buf + pl->start, buf + in, blen - in);
            blen -= raw;
            dropped += raw;
            in = out = pl->start;
        } else if (r == 0) {
            if (pl->compact && in > out) {
                dropped += in - out;
                blen = out;
                in = out;
            }
        }
    }
    outcome o;
    o.r = r;
    o.consumed = in + dropped - pl->start;
    if (pl->stream) {
        o.decoded_len = sink_len;
        o.decoded = sink != NULL ? sink : malloc(1);
        CHECK(o.decoded != NULL);
    } else {
        o.decoded_len = out - pl->start;
        o.decoded = malloc(o.decoded_len + 1);
        CHECK(o.decoded != NULL);
        memcpy(o.decoded, buf + pl->start, o.decoded_len);
    }
    free(buf);
    if (r == 1)
        CHECK(c.total == o.decoded_len);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned flags = data[0];
    plan split = {data + 2, data[1] % 8u, (flags & 2) != 0, (flags & 4) ? PREFIX : 0,
                  (flags & 8) != 0};
    size_t pos = 2 + split.nsizes;
    if (size < pos)
        return 0;
    turbo__limits lim = {16384, 100, 8192, 1048576};
    if (flags & 1) {
        if (size < pos + 2)
            return 0;
        lim.max_header_bytes = data[pos];
        lim.max_body_bytes = data[pos + 1];
        pos += 2;
    }
    const char *body = (const char *)data + pos;
    size_t len = size - pos;

    plan whole = {NULL, SIZE_MAX, 0, 0, 0};
    outcome a = decode(body, len, &whole, &lim);
    outcome b = decode(body, len, &split, &lim);
    CHECK(a.r == b.r);
    CHECK(a.consumed == b.consumed);
    CHECK(a.decoded_len == b.decoded_len);
    CHECK(memcmp(a.decoded, b.decoded, a.decoded_len) == 0);
    free(a.decoded);
    free(b.decoded);
    return 0;
}
