/*
 * Fuzz target: the WebSocket protocol module (ws.c) on arbitrary bytes.
 *
 *   byte 0   limits: bits 0-2 pick max_frame, bits 3-5 max_message, from
 *            {0 (none), 1, 2, 125, 126, 1000, 65536, 2^63}
 *   byte 1   n = byte % 16 read sizes follow (0 in a size means 256);
 *            n == 0 reads one byte at a time
 *   rest     the client's bytes (frames, masked or not, and anything else)
 *
 * The stream is read by turbo__ws_reader_feed in one read and in reads of
 * the sizes given (cycled), as conn.c would: after each read, feed until
 * the reader says NONE or fails. Both must agree: the same whole messages
 * (kind and bytes), control frames (kind, payload, close code) in the same
 * order, and the same error; a message cut by an error may show more of
 * itself when split (its pieces before the fault), never less. On every
 * call: 0 <= consumed <= n, NONE only when everything was consumed; a DATA
 * piece lies inside the bytes consumed, ending where they end; a control
 * payload is at most 125 bytes; a text message is valid UTF-8 so far after
 * each piece and whole at its end, per the slow reference of
 * tests/utf8_ref.h.
 *
 * The same bytes also go to the UTF-8 validator directly, in the same
 * reads, compared with the reference after each of the first 16 reads and
 * at the end (valid so far, and complete); to turbo__ws_accept_key (at most
 * the first 32 bytes), which must accept exactly the keys of base64 shape;
 * and a length from them to turbo__ws_frame_header, decoded back.
 * Buffers are heap blocks of exactly their length (ASan catches overreads).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../utf8_ref.h"
#include "ws.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static const uint64_t LIMITS[8] = {0, 1, 2, 125, 126, 1000, 65536, (uint64_t)1 << 63};

/* What a reading said, in a form two readings can be compared by. */
struct outcome {
    uint64_t hash;   /* FNV-1a over the completed events and the error */
    size_t events;   /* completed events */
    int error;       /* the negative return, or 0 */
    uint8_t *msg;    /* the open message's bytes (heap, input size) */
    size_t msg_len;
    size_t checked;  /* msg[0..checked) ends on a code point, checked valid */
    int msg_opcode;
    bool in_msg;
};

static void mix(struct outcome *o, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        o->hash = (o->hash ^ b[i]) * 1099511628211ULL;
}

static void mix_event(struct outcome *o, int kind, unsigned code, const uint8_t *p, size_t n)
{
    uint64_t len = n;
    mix(o, &kind, sizeof(kind));
    mix(o, &code, sizeof(code));
    mix(o, &len, sizeof(len));
    mix(o, p, n);
    o->events++;
}

/* The text so far, checked from the last code point boundary on, so that
 * a message read a byte at a time costs linear time. */
static void check_text(struct outcome *o, bool fin)
{
    const uint8_t *t = o->msg + o->checked;
    size_t n = o->msg_len - o->checked;
    CHECK(utf8_ref_valid(t, n, !fin));
    /* Move to the start of a trailing incomplete sequence, if any. */
    size_t back = 0;
    while (back < n && back < 3 && (t[n - 1 - back] & 0xC0) == 0x80)
        back++;
    size_t lead = n - back; /* index of the sequence's lead, or n */
    if (back < n) {
        uint8_t b = t[n - 1 - back];
        size_t need = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
        lead = need == back + 1 ? n : n - 1 - back;
    }
    o->checked += lead;
}

/* The size of read k: the input's sizes cycled (0 means 256), one byte at a
 * time without sizes, never past the bytes left. */
static size_t read_size(const uint8_t *sizes, size_t nsizes, size_t k, size_t left)
{
    size_t len = nsizes == 0 ? 1 : sizes[k % nsizes];
    if (len == 0)
        len = 256;
    return len < left ? len : left;
}

/* A read: a heap copy of exactly its size, so that ASan sees overreads. */
static uint8_t *read_copy(const uint8_t *p, size_t len)
{
    uint8_t *buf = malloc(len != 0 ? len : 1);
    CHECK(buf != NULL);
    memcpy(buf, p, len);
    return buf;
}

static void read_stream(const uint8_t *in, size_t n, const uint8_t *sizes, size_t nsizes,
                        bool whole, uint64_t max_frame, uint64_t max_message, struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->hash = 14695981039346656037ULL;
    o->msg = malloc(n + 1);
    CHECK(o->msg != NULL);
    struct turbo__ws_reader r;
    turbo__ws_reader_init(&r, max_frame, max_message);
    size_t at = 0, k = 0;
    while (at < n && o->error == 0) {
        size_t len = whole ? n - at : read_size(sizes, nsizes, k++, n - at);
        uint8_t *buf = read_copy(in + at, len);
        size_t pos = 0;
        while (pos < len) {
            struct turbo__ws_event ev;
            ssize_t got = turbo__ws_reader_feed(&r, buf + pos, len - pos, &ev);
            if (got < 0) {
                CHECK(got == -1002 || got == -1007 || got == -1009);
                CHECK(turbo__ws_reader_error(&r) == (unsigned)-got);
                CHECK(ev.type == TURBO__WS_NONE);
                o->error = (int)got;
                mix_event(o, 0, (unsigned)-got, NULL, 0);
                break;
            }
            CHECK((size_t)got <= len - pos);
            CHECK(turbo__ws_reader_error(&r) == 0);
            const uint8_t *end = buf + pos + (size_t)got;
            switch (ev.type) {
            case TURBO__WS_NONE:
                CHECK((size_t)got == len - pos);
                break;
            case TURBO__WS_DATA:
                CHECK(ev.data + ev.len == end && ev.data >= buf + pos);
                CHECK(ev.opcode == TURBO__WS_OP_TEXT || ev.opcode == TURBO__WS_OP_BINARY);
                CHECK(ev.first == !o->in_msg);
                CHECK(ev.len > 0 || ev.fin);
                CHECK(!o->in_msg || ev.opcode == o->msg_opcode);
                o->in_msg = true;
                o->msg_opcode = ev.opcode;
                memcpy(o->msg + o->msg_len, ev.data, ev.len);
                o->msg_len += ev.len;
                CHECK(o->msg_len <= n);
                if (max_message != 0)
                    CHECK(o->msg_len <= max_message);
                if (ev.opcode == TURBO__WS_OP_TEXT)
                    check_text(o, ev.fin);
                if (ev.fin) {
                    mix_event(o, ev.opcode, 0, o->msg, o->msg_len);
                    o->in_msg = false;
                    o->msg_len = 0;
                    o->checked = 0;
                }
                break;
            case TURBO__WS_PING:
            case TURBO__WS_PONG:
            case TURBO__WS_CLOSE:
                CHECK(ev.len <= TURBO__WS_MAX_CONTROL);
                CHECK(ev.len == 0 || ev.data != NULL);
                if (ev.type == TURBO__WS_CLOSE) {
                    CHECK(ev.close_code == TURBO__WS_CLOSE_NO_STATUS ||
                          turbo__ws_close_code_valid(ev.close_code));
                    CHECK(utf8_ref_valid(ev.data, ev.len, false));
                    CHECK(ev.len <= TURBO__WS_MAX_REASON);
                }
                mix_event(o, 16 + (int)ev.type, ev.close_code, ev.data, ev.len);
                break;
            }
            pos += (size_t)got;
        }
        free(buf);
        at += len;
    }
}

static void check_utf8(const uint8_t *in, size_t n, const uint8_t *sizes, size_t nsizes)
{
    struct turbo__ws_utf8 u;
    turbo__ws_utf8_init(&u);
    size_t at = 0, k = 0;
    int rc = 0;
    while (at < n) {
        size_t len = read_size(sizes, nsizes, k, n - at);
        uint8_t *buf = read_copy(in + at, len);
        rc = turbo__ws_utf8_feed(&u, buf, len);
        free(buf);
        at += len;
        if (++k <= 16)
            CHECK((rc == 0) == utf8_ref_valid(in, at, true));
    }
    CHECK((rc == 0) == utf8_ref_valid(in, n, true));
    CHECK((rc == 0 && turbo__ws_utf8_done(&u)) == utf8_ref_valid(in, n, false));
}

static bool b64_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

static void check_accept_key(const uint8_t *in, size_t n)
{
    if (n > 32)
        n = 32;
    char *key = malloc(n + 1);
    CHECK(key != NULL);
    memcpy(key, in, n);
    char out[29];
    memset(out, 'u', sizeof(out));
    int rc = turbo__ws_accept_key(key, n, out);
    /* The expected verdict: trim SP/HTAB, then 22 base64 characters, "==". */
    size_t s = 0, e = n;
    while (s < e && (in[s] == ' ' || in[s] == '\t'))
        s++;
    while (e > s && (in[e - 1] == ' ' || in[e - 1] == '\t'))
        e--;
    bool shape = e - s == 24 && in[s + 22] == '=' && in[s + 23] == '=';
    for (size_t i = 0; shape && i < 22; i++)
        shape = b64_char(in[s + i]);
    CHECK((rc == 0) == shape);
    if (rc == 0) {
        CHECK(out[28] == '\0' && out[27] == '=' && out[26] != '=');
        for (size_t i = 0; i < 27; i++)
            CHECK(b64_char((uint8_t)out[i]));
    } else {
        for (size_t i = 0; i < sizeof(out); i++)
            CHECK(out[i] == 'u');
    }
    free(key);
}

static void check_frame_header(const uint8_t *in, size_t n)
{
    uint64_t len = 0;
    for (size_t i = 0; i < 8 && i < n; i++)
        len = len << 8 | in[i];
    len >>= n > 0 ? in[0] & 63 : 0; /* short lengths too */
    uint8_t h[10];
    bool fin = n > 1 && (in[1] & 1);
    unsigned opcode = n > 1 ? in[1] >> 4 : 0;
    size_t hn = turbo__ws_frame_header(h, fin, opcode, len);
    CHECK(h[0] == ((fin ? 0x80 : 0) | opcode));
    CHECK((h[1] & 0x80) == 0); /* a server does not mask */
    uint64_t got = h[1] & 0x7f;
    if (got == 126) {
        CHECK(hn == 4);
        got = (uint64_t)h[2] << 8 | h[3];
        CHECK(got >= 126);
    } else if (got == 127) {
        CHECK(hn == 10);
        got = 0;
        for (int i = 0; i < 8; i++)
            got = got << 8 | h[2 + i];
        CHECK(got > 0xffff);
    } else {
        CHECK(hn == 2);
    }
    CHECK(got == len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint64_t max_frame = LIMITS[data[0] & 7], max_message = LIMITS[(data[0] >> 3) & 7];
    size_t nsizes = data[1] % 16;
    if (size < 2 + nsizes)
        return 0;
    const uint8_t *sizes = data + 2;
    const uint8_t *in = data + 2 + nsizes;
    size_t n = size - 2 - nsizes;

    struct outcome whole, split;
    read_stream(in, n, NULL, 0, true, max_frame, max_message, &whole);
    read_stream(in, n, sizes, nsizes, false, max_frame, max_message, &split);
    CHECK(whole.error == split.error);
    CHECK(whole.events == split.events && whole.hash == split.hash);
    CHECK(whole.in_msg == split.in_msg || (whole.error != 0 && split.in_msg));
    if (whole.error == 0) {
        CHECK(whole.msg_len == split.msg_len);
    } else {
        CHECK(whole.msg_len <= split.msg_len);
    }
    CHECK(memcmp(whole.msg, split.msg, whole.msg_len) == 0);
    free(whole.msg);
    free(split.msg);

    check_utf8(in, n, sizes, nsizes);
    check_accept_key(in, n);
    check_frame_header(in, n);
    return 0;
}
