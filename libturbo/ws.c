/*
 * The WebSocket protocol (RFC 6455) without I/O: UTF-8 validation, the
 * handshake's accept key (with its own SHA-1 and base64), the frame reader
 * and the frame writers. See ws.h for the contract of each function.
 *
 * The reader is a small state machine over the caller's bytes: a frame
 * header is gathered (up to 14 bytes, split anywhere), checked field by
 * field as its bytes arrive, then the payload is unmasked in place and
 * handed out piece by piece (data) or gathered in the reader (control).
 */
#include "ws.h"

#include <string.h>

/* ------------------------------------------------------------------------
 * UTF-8 (RFC 3629 4): a DFA over byte classes. The states say what the
 * next byte must be; a 3- or 4-byte sequence whose first byte allows only
 * part of the continuation range (E0, ED, F0, F4) gets a state of its own,
 * which is what rules out overlongs, surrogates and code points above
 * U+10FFFF at the earliest byte.
 * --------------------------------------------------------------------- */

enum {
    U_ACCEPT = 0, /* at a boundary */
    U_NEED1 = 1,  /* one more 80-BF */
    U_NEED2 = 2,  /* two more 80-BF */
    U_NEED3 = 3,  /* three more 80-BF */
    U_E0 = 4,     /* after E0: A0-BF, then one (no overlong 3-byte forms) */
    U_ED = 5,     /* after ED: 80-9F, then one (no surrogates D800-DFFF) */
    U_F0 = 6,     /* after F0: 90-BF, then two (no overlong 4-byte forms) */
    U_F4 = 7,     /* after F4: 80-8F, then two (nothing above U+10FFFF) */
    U_REJECT = 8, /* sticky */
};

enum {
    K_ASCII, /* 00-7F */
    K_C80,   /* continuation 80-8F */
    K_C90,   /* continuation 90-9F */
    K_CA0,   /* continuation A0-BF */
    K_L2,    /* C2-DF: 2-byte lead */
    K_E0,    /* E0 */
    K_L3,    /* E1-EC, EE-EF: 3-byte lead */
    K_ED,    /* ED */
    K_F0,    /* F0 */
    K_L4,    /* F1-F3: 4-byte lead */
    K_F4,    /* F4 */
    K_BAD,   /* C0, C1, F5-FF: never in UTF-8 */
    K_COUNT
};

static const uint8_t utf8_class[256] = {
    [0x00 ... 0x7F] = K_ASCII, [0x80 ... 0x8F] = K_C80, [0x90 ... 0x9F] = K_C90,
    [0xA0 ... 0xBF] = K_CA0,   [0xC0 ... 0xC1] = K_BAD, [0xC2 ... 0xDF] = K_L2,
    [0xE0] = K_E0,             [0xE1 ... 0xEC] = K_L3,  [0xED] = K_ED,
    [0xEE ... 0xEF] = K_L3,    [0xF0] = K_F0,           [0xF1 ... 0xF3] = K_L4,
    [0xF4] = K_F4,             [0xF5 ... 0xFF] = K_BAD,
};

#define R U_REJECT
static const uint8_t utf8_next[U_REJECT + 1][K_COUNT] = {
    /* columns: ASCII, C80, C90, CA0, L2, E0, L3, ED, F0, L4, F4, BAD */
    [U_ACCEPT] = {U_ACCEPT, R, R, R, U_NEED1, U_E0, U_NEED2, U_ED, U_F0, U_NEED3, U_F4, R},
    [U_NEED1] = {R, U_ACCEPT, U_ACCEPT, U_ACCEPT, R, R, R, R, R, R, R, R},
    [U_NEED2] = {R, U_NEED1, U_NEED1, U_NEED1, R, R, R, R, R, R, R, R},
    [U_NEED3] = {R, U_NEED2, U_NEED2, U_NEED2, R, R, R, R, R, R, R, R},
    [U_E0] = {R, R, R, U_NEED1, R, R, R, R, R, R, R, R},
    [U_ED] = {R, U_NEED1, U_NEED1, R, R, R, R, R, R, R, R, R},
    [U_F0] = {R, R, U_NEED2, U_NEED2, R, R, R, R, R, R, R, R},
    [U_F4] = {R, U_NEED2, R, R, R, R, R, R, R, R, R, R},
    [U_REJECT] = {R, R, R, R, R, R, R, R, R, R, R, R},
};
#undef R

void turbo__ws_utf8_init(struct turbo__ws_utf8 *u)
{
    u->state = U_ACCEPT;
}

bool turbo__ws_utf8_done(const struct turbo__ws_utf8 *u)
{
    return u->state == U_ACCEPT;
}

#define HIGH_BITS 0x8080808080808080ULL

int turbo__ws_utf8_feed(struct turbo__ws_utf8 *u, const uint8_t *p, size_t n)
{
    uint32_t s = u->state;
    size_t i = 0;
    while (i < n) {
        if (s == U_ACCEPT) {
            /* ASCII runs, 16 then 8 bytes at a time, between code points. */
            for (; i + 16 <= n; i += 16) {
                uint64_t a, b;
                memcpy(&a, p + i, 8);
                memcpy(&b, p + i + 8, 8);
                if ((a | b) & HIGH_BITS)
                    break;
            }
            for (; i + 8 <= n; i += 8) {
                uint64_t a;
                memcpy(&a, p + i, 8);
                if (a & HIGH_BITS)
                    break;
            }
            while (i < n && p[i] < 0x80)
                i++;
            if (i == n)
                break;
        }
        s = utf8_next[s][utf8_class[p[i++]]];
        if (s == U_REJECT)
            break;
    }
    u->state = s;
    return s == U_REJECT ? -1 : 0;
}

/* ------------------------------------------------------------------------
 * SHA-1 (FIPS 180-4 6.1), for the handshake only: nothing here relies on
 * its collision resistance.
 * --------------------------------------------------------------------- */

struct sha1 {
    uint32_t h[5];
    uint64_t bytes; /* message length so far */
    uint8_t block[64];
    size_t fill;
};

static uint32_t rotl(uint32_t x, unsigned k)
{
    return x << k | x >> (32 - k);
}

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void sha1_compress(uint32_t h[5], const uint8_t block[64])
{
    uint32_t w[80];
    for (int t = 0; t < 16; t++)
        w[t] = load_be32(block + 4 * t);
    for (int t = 16; t < 80; t++)
        w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int t = 0; t < 80; t++) {
        uint32_t f, k;
        if (t < 20) {
            f = (b & c) | (~b & d); /* Ch */
            k = 0x5a827999;
        } else if (t < 40) {
            f = b ^ c ^ d; /* Parity */
            k = 0x6ed9eba1;
        } else if (t < 60) {
            f = (b & c) | (b & d) | (c & d); /* Maj */
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        uint32_t tmp = rotl(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = rotl(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

static void sha1_init(struct sha1 *s)
{
    s->h[0] = 0x67452301;
    s->h[1] = 0xefcdab89;
    s->h[2] = 0x98badcfe;
    s->h[3] = 0x10325476;
    s->h[4] = 0xc3d2e1f0;
    s->bytes = 0;
    s->fill = 0;
}

static void sha1_update(struct sha1 *s, const uint8_t *p, size_t n)
{
    s->bytes += n;
    while (n > 0) {
        if (s->fill == 0 && n >= 64) {
            sha1_compress(s->h, p);
            p += 64;
            n -= 64;
            continue;
        }
        size_t k = 64 - s->fill < n ? 64 - s->fill : n;
        memcpy(s->block + s->fill, p, k);
        s->fill += k;
        p += k;
        n -= k;
        if (s->fill == 64) {
            sha1_compress(s->h, s->block);
            s->fill = 0;
        }
    }
}

static void sha1_final(struct sha1 *s, uint8_t out[20])
{
    /* Padding (5.1.1): 0x80, zeros to 56 mod 64, the length in bits. */
    uint64_t bits = s->bytes * 8;
    s->block[s->fill++] = 0x80;
    if (s->fill > 56) {
        memset(s->block + s->fill, 0, 64 - s->fill);
        sha1_compress(s->h, s->block);
        s->fill = 0;
    }
    memset(s->block + s->fill, 0, 56 - s->fill);
    for (int i = 0; i < 8; i++)
        s->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    sha1_compress(s->h, s->block);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

void turbo__ws_sha1(const void *p, size_t n, uint8_t out[20])
{
    struct sha1 s;
    sha1_init(&s);
    sha1_update(&s, p, n);
    sha1_final(&s, out);
}

/* ------------------------------------------------------------------------
 * Base64 (RFC 4648 4) and the accept key (RFC 6455 4.2.2, step 5.4)
 * --------------------------------------------------------------------- */

static const char b64_alphabet[65] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t turbo__ws_base64(const uint8_t *p, size_t n, char *out)
{
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = b64_alphabet[v >> 18];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = b64_alphabet[(v >> 6) & 63];
        *o++ = b64_alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = b64_alphabet[v >> 18];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return (size_t)(o - out);
}

static bool is_b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int turbo__ws_accept_key(const char *key, size_t len, char out[29])
{
    while (len > 0 && (key[0] == ' ' || key[0] == '\t')) {
        key++;
        len--;
    }
    while (len > 0 && (key[len - 1] == ' ' || key[len - 1] == '\t'))
        len--;
    /* 16 bytes are 128 bits: 21 characters and 2 bits of a 22nd, "==". */
    if (len != 24 || key[22] != '=' || key[23] != '=')
        return -1;
    for (size_t i = 0; i < 22; i++)
        if (!is_b64_char(key[i]))
            return -1;
    struct sha1 s;
    uint8_t digest[20];
    sha1_init(&s);
    sha1_update(&s, (const uint8_t *)key, len);
    sha1_update(&s, (const uint8_t *)ws_guid, sizeof(ws_guid) - 1);
    sha1_final(&s, digest);
    turbo__ws_base64(digest, sizeof(digest), out);
    return 0;
}

/* ------------------------------------------------------------------------
 * Frame reader (RFC 6455 5)
 * --------------------------------------------------------------------- */

enum {
    RD_HEADER,  /* gathering a frame header in hdr */
    RD_PAYLOAD, /* remaining payload bytes of the current frame to read */
    RD_CLOSED,  /* a close frame was read: the rest is ignored */
    RD_FAILED,  /* error holds the close code */
};

void turbo__ws_reader_init(struct turbo__ws_reader *r, uint64_t max_frame, uint64_t max_message)
{
    memset(r, 0, sizeof(*r));
    r->max_frame = max_frame;
    r->max_message = max_message;
    r->state = RD_HEADER;
}

unsigned turbo__ws_reader_error(const struct turbo__ws_reader *r)
{
    return r->error;
}

bool turbo__ws_close_code_valid(unsigned code)
{
    if (code >= 3000 && code <= 4999)
        return true;
    if (code < 1000 || code > 1014)
        return false;
    return code != 1004 && code != 1005 && code != 1006;
}

static ssize_t fail(struct turbo__ws_reader *r, unsigned code)
{
    r->state = RD_FAILED;
    r->error = (uint16_t)code;
    return -(ssize_t)code;
}

static bool is_control(unsigned opcode)
{
    return (opcode & 0x8) != 0;
}

/* The first header byte: FIN, RSV1-3, opcode. Returns 0 or a close code. */
static unsigned check_byte0(const struct turbo__ws_reader *r, uint8_t b)
{
    unsigned opcode = b & 0x0f;
    if (b & 0x70)
        return TURBO__WS_CLOSE_PROTOCOL; /* no extension defines them */
    switch (opcode) {
    case TURBO__WS_OP_CONT:
        return r->in_message ? 0 : TURBO__WS_CLOSE_PROTOCOL;
    case TURBO__WS_OP_TEXT:
    case TURBO__WS_OP_BINARY:
        return r->in_message ? TURBO__WS_CLOSE_PROTOCOL : 0;
    case TURBO__WS_OP_CLOSE:
    case TURBO__WS_OP_PING:
    case TURBO__WS_OP_PONG:
        return (b & 0x80) ? 0 : TURBO__WS_CLOSE_PROTOCOL; /* 5.5: not fragmented */
    default:
        return TURBO__WS_CLOSE_PROTOCOL; /* 3-7, 11-15: reserved */
    }
}

/* The second: MASK and the 7-bit length. Returns 0 or a close code. */
static unsigned check_byte1(const struct turbo__ws_reader *r, uint8_t b)
{
    if (!(b & 0x80))
        return TURBO__WS_CLOSE_PROTOCOL; /* 5.1: a client masks every frame */
    if (is_control(r->hdr[0] & 0x0f) && (b & 0x7f) > TURBO__WS_MAX_CONTROL)
        return TURBO__WS_CLOSE_PROTOCOL;
    return 0;
}

static size_t header_size(uint8_t byte1)
{
    unsigned len7 = byte1 & 0x7f;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
}

/* The whole header is in hdr: set up the frame. Returns 0 or a close code. */
static unsigned start_frame(struct turbo__ws_reader *r)
{
    const uint8_t *h = r->hdr;
    unsigned opcode = h[0] & 0x0f, len7 = h[1] & 0x7f;
    uint64_t len = len7;
    const uint8_t *mask = h + 2;
    if (len7 == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
        mask = h + 4;
    } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
        if (len >> 63)
            return TURBO__WS_CLOSE_PROTOCOL; /* 5.2: the top bit MUST be 0 */
        mask = h + 10;
    }
    if (r->max_frame != 0 && len > r->max_frame)
        return TURBO__WS_CLOSE_TOO_BIG;
    if (!is_control(opcode)) {
        if (opcode != TURBO__WS_OP_CONT) {
            r->in_message = true;
            r->first_pending = true;
            r->msg_opcode = (uint8_t)opcode;
            r->msg_bytes = 0;
            turbo__ws_utf8_init(&r->utf8);
        }
        if (r->max_message != 0 && len > r->max_message - r->msg_bytes)
            return TURBO__WS_CLOSE_TOO_BIG;
        /* Saturates when unlimited: 2^64 bytes never arrive anyway. */
        r->msg_bytes = len > UINT64_MAX - r->msg_bytes ? UINT64_MAX : r->msg_bytes + len;
    } else {
        r->ctl_len = 0;
    }
    r->opcode = (uint8_t)opcode;
    r->frame_fin = (h[0] & 0x80) != 0;
    r->remaining = len;
    memcpy(r->mask, mask, 4);
    r->mask_off = 0;
    r->hdr_len = 0;
    r->state = RD_PAYLOAD;
    return 0;
}

/*
 * Takes header bytes from buf[*pos..n), checking each field as soon as its
 * byte is there. Returns 1 when the frame is set up, 0 when buf ran out,
 * or a negative close code.
 */
static int read_header(struct turbo__ws_reader *r, const uint8_t *buf, size_t n, size_t *pos)
{
    size_t p = *pos;
    unsigned err;
    if (r->hdr_len == 0) {
        if (p == n)
            return 0;
        if ((err = check_byte0(r, buf[p])) != 0)
            return -(int)err;
        r->hdr[r->hdr_len++] = buf[p++];
    }
    if (r->hdr_len == 1) {
        if (p == n) {
            *pos = p;
            return 0;
        }
        if ((err = check_byte1(r, buf[p])) != 0)
            return -(int)err;
        r->hdr[r->hdr_len++] = buf[p++];
    }
    size_t need = header_size(r->hdr[1]) - r->hdr_len;
    size_t k = n - p < need ? n - p : need;
    memcpy(r->hdr + r->hdr_len, buf + p, k);
    r->hdr_len = (uint8_t)(r->hdr_len + k);
    *pos = p + k;
    if (k < need)
        return 0;
    err = start_frame(r);
    return err != 0 ? -(int)err : 1;
}

/* XORs p[0..n) with the mask from index off; returns the next index. */
static unsigned unmask(uint8_t *p, size_t n, const uint8_t mask[4], unsigned off)
{
    size_t i = 0;
    if (n >= 16) {
        uint8_t rotated[8];
        for (unsigned j = 0; j < 8; j++)
            rotated[j] = mask[(off + j) & 3];
        uint64_t m;
        memcpy(&m, rotated, 8);
        for (; i + 8 <= n; i += 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            w ^= m;
            memcpy(p + i, &w, 8);
        }
    }
    for (; i < n; i++)
        p[i] ^= mask[(off + i) & 3];
    return (unsigned)((off + n) & 3);
}

/* A whole control frame is in ctl: make its event. Returns 0 or a close code. */
static unsigned end_control(struct turbo__ws_reader *r, struct turbo__ws_event *ev)
{
    ev->data = r->ctl;
    ev->len = r->ctl_len;
    if (r->opcode == TURBO__WS_OP_PING) {
        ev->type = TURBO__WS_PING;
    } else if (r->opcode == TURBO__WS_OP_PONG) {
        ev->type = TURBO__WS_PONG;
    } else {
        ev->type = TURBO__WS_CLOSE;
        ev->close_code = TURBO__WS_CLOSE_NO_STATUS;
        if (r->ctl_len == 1)
            return TURBO__WS_CLOSE_PROTOCOL; /* 5.5.1: a code is 2 bytes */
        if (r->ctl_len >= 2) {
            ev->close_code = (unsigned)r->ctl[0] << 8 | r->ctl[1];
            if (!turbo__ws_close_code_valid(ev->close_code))
                return TURBO__WS_CLOSE_PROTOCOL;
            struct turbo__ws_utf8 u = {0};
            if (turbo__ws_utf8_feed(&u, r->ctl + 2, r->ctl_len - 2u) < 0 || !turbo__ws_utf8_done(&u))
                return TURBO__WS_CLOSE_INVALID_DATA;
            ev->data = r->ctl + 2;
            ev->len = r->ctl_len - 2u;
        }
        r->state = RD_CLOSED;
        return 0;
    }
    r->state = RD_HEADER;
    return 0;
}

ssize_t turbo__ws_reader_feed(struct turbo__ws_reader *r, uint8_t *buf, size_t n,
                              struct turbo__ws_event *ev)
{
    *ev = (struct turbo__ws_event){.type = TURBO__WS_NONE};
    if (r->state == RD_FAILED)
        return -(ssize_t)r->error;
    if (r->state == RD_CLOSED)
        return (ssize_t)n;
    if (n == 0)
        return 0; /* (a frame in progress always has payload left) */
    size_t pos = 0;
    for (;;) {
        if (r->state == RD_HEADER) {
            int rc = read_header(r, buf, n, &pos);
            if (rc < 0)
                return fail(r, (unsigned)-rc);
            if (rc == 0)
                return (ssize_t)pos;
        }
        size_t avail = n - pos;
        size_t k = r->remaining < avail ? (size_t)r->remaining : avail;
        if (is_control(r->opcode)) {
            memcpy(r->ctl + r->ctl_len, buf + pos, k);
            r->mask_off = (uint8_t)unmask(r->ctl + r->ctl_len, k, r->mask, r->mask_off);
            r->ctl_len = (uint8_t)(r->ctl_len + k);
            r->remaining -= k;
            pos += k;
            if (r->remaining == 0) {
                unsigned err = end_control(r, ev);
                if (err != 0) {
                    *ev = (struct turbo__ws_event){.type = TURBO__WS_NONE};
                    return fail(r, err);
                }
            }
            return (ssize_t)pos;
        }
        if (k == 0 && r->remaining != 0)
            return (ssize_t)pos; /* needs more input */
        uint8_t *piece = buf + pos;
        r->mask_off = (uint8_t)unmask(piece, k, r->mask, r->mask_off);
        bool text = r->msg_opcode == TURBO__WS_OP_TEXT;
        if (text && turbo__ws_utf8_feed(&r->utf8, piece, k) < 0)
            return fail(r, TURBO__WS_CLOSE_INVALID_DATA);
        r->remaining -= k;
        pos += k;
        bool last = r->remaining == 0 && r->frame_fin;
        if (r->remaining == 0) {
            r->state = RD_HEADER;
            if (last) {
                if (text && !turbo__ws_utf8_done(&r->utf8))
                    return fail(r, TURBO__WS_CLOSE_INVALID_DATA); /* ends mid code point */
                r->in_message = false;
            }
        }
        if (k == 0 && !last)
            continue; /* an empty frame that does not end its message: nothing to say */
        ev->type = TURBO__WS_DATA;
        ev->opcode = r->msg_opcode;
        ev->first = r->first_pending;
        ev->fin = last;
        ev->data = piece;
        ev->len = k;
        r->first_pending = false;
        return (ssize_t)pos;
    }
}

/* ------------------------------------------------------------------------
 * Writers
 * --------------------------------------------------------------------- */

size_t turbo__ws_frame_header(uint8_t out[10], bool fin, unsigned opcode, uint64_t len)
{
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

size_t turbo__ws_close_payload(uint8_t out[TURBO__WS_MAX_CONTROL], unsigned code, const char *reason,
                               size_t len)
{
    if (code == 0)
        return 0;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    struct turbo__ws_utf8 u = {0};
    size_t keep = 0;
    for (size_t i = 0; i < len && i < TURBO__WS_MAX_REASON; i++) {
        if (turbo__ws_utf8_feed(&u, (const uint8_t *)reason + i, 1) < 0)
            break;
        if (turbo__ws_utf8_done(&u))
            keep = i + 1;
    }
    if (keep != 0) /* (reason may be NULL when len is 0) */
        memcpy(out + 2, reason, keep);
    return 2 + keep;
}
