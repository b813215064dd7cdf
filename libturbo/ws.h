/*
 * The WebSocket protocol (RFC 6455), server side, with no I/O: a pure
 * function of the bytes it is given, so that it is tested and fuzzed alone
 * and the connection code (conn.c) only moves bytes.
 *
 *   - turbo__ws_utf8_*: an incremental UTF-8 validator (RFC 3629), state
 *     carried across calls so a code point split between reads or frames
 *     is judged as a whole;
 *   - turbo__ws_accept_key(): the handshake's Sec-WebSocket-Accept value;
 *   - turbo__ws_reader_*: the frame reader: unmasks payload in place, hands
 *     out data as it arrives, assembles control frames, and answers every
 *     protocol violation with the close code to send;
 *   - turbo__ws_frame_header(), turbo__ws_close_payload(): what the server
 *     writes.
 *
 * Nothing here allocates or keeps a pointer to the caller's buffers between
 * calls. Every object belongs to one connection, hence to one thread.
 */
#ifndef TURBO_WS_H
#define TURBO_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Opcodes (RFC 6455 5.2). */
#define TURBO__WS_OP_CONT 0x0
#define TURBO__WS_OP_TEXT 0x1
#define TURBO__WS_OP_BINARY 0x2
#define TURBO__WS_OP_CLOSE 0x8
#define TURBO__WS_OP_PING 0x9
#define TURBO__WS_OP_PONG 0xA

/* Close codes this module produces (RFC 6455 7.4.1). */
#define TURBO__WS_CLOSE_NORMAL 1000
#define TURBO__WS_CLOSE_PROTOCOL 1002
#define TURBO__WS_CLOSE_NO_STATUS 1005 /* never sent: "the peer's CLOSE had no code" */
#define TURBO__WS_CLOSE_INVALID_DATA 1007
#define TURBO__WS_CLOSE_TOO_BIG 1009

#define TURBO__WS_MAX_CONTROL 125 /* a control frame's payload, at most */
#define TURBO__WS_MAX_REASON 123  /* a close reason: 125 less the code */

/* ---- UTF-8 ------------------------------------------------------------ */

/* Zero it (or turbo__ws_utf8_init) for a new text. */
struct turbo__ws_utf8 {
    uint32_t state; /* 0: at a code-point boundary; internal otherwise */
};

void turbo__ws_utf8_init(struct turbo__ws_utf8 *u);

/*
 * Validates p[0..n) as the continuation of what was fed before. Returns 0
 * while the bytes so far are a valid UTF-8 prefix, -1 at the first byte
 * that makes them invalid (an overlong form, a surrogate, a code point
 * above U+10FFFF, a stray continuation byte, C0/C1/F5-FF), and -1 again on
 * every later call. It does not say whether the text ends on a boundary:
 * ask turbo__ws_utf8_done() at the end.
 */
int turbo__ws_utf8_feed(struct turbo__ws_utf8 *u, const uint8_t *p, size_t n);

/* True when everything fed so far is valid and ends on a code point. */
bool turbo__ws_utf8_done(const struct turbo__ws_utf8 *u);

/* ---- Handshake -------------------------------------------------------- */

/*
 * Computes Sec-WebSocket-Accept for the client's Sec-WebSocket-Key
 * key[0..len): base64(SHA-1(key "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")),
 * 28 characters and a NUL, into out. Leading and trailing spaces and tabs
 * are trimmed here (a header value from anywhere may be passed; parse.c's
 * are already trimmed). The trimmed key must be base64 of exactly 16
 * bytes: 22 characters of the base64 alphabet and "==" (as RFC 4648
 * decoders do, the 4 unused bits of the last character are not checked).
 * Returns 0, or -1 (out untouched) for any other key.
 */
int turbo__ws_accept_key(const char *key, size_t len, char out[29]);

/* SHA-1 (FIPS 180-4) of p[0..n), into out. Exposed for its tests. */
void turbo__ws_sha1(const void *p, size_t n, uint8_t out[20]);

/*
 * Standard base64 (RFC 4648 4, with padding) of p[0..n) into out, which
 * must hold 4 * ((n + 2) / 3) + 1 bytes; NUL-terminated. Returns the
 * length written, without the NUL.
 */
size_t turbo__ws_base64(const uint8_t *p, size_t n, char *out);

/* ---- Frame reader ----------------------------------------------------- */

enum turbo__ws_ev_type {
    TURBO__WS_NONE,  /* everything given was consumed; feed more */
    TURBO__WS_DATA,  /* a piece of a text or binary message */
    TURBO__WS_PING,  /* a whole ping; answer with a pong of the same data */
    TURBO__WS_PONG,  /* a whole pong */
    TURBO__WS_CLOSE, /* the peer's close; the reader ignores what follows */
};

struct turbo__ws_event {
    enum turbo__ws_ev_type type;
    int opcode;          /* DATA: the message's opcode, 1 text or 2 binary */
    bool first;          /* DATA: the first piece of its message */
    bool fin;            /* DATA: the last piece of its message */
    const uint8_t *data; /* DATA: inside the caller's buf, unmasked in place;
                            PING/PONG: the payload, CLOSE: the reason (after
                            the code), both in the reader, valid until the
                            next feed */
    size_t len;
    unsigned close_code; /* CLOSE: the peer's code; 1005 when it sent none */
};

/*
 * The reader of one connection's client-to-server frames. Set the two
 * limits with turbo__ws_reader_init(); everything else is its own.
 */
struct turbo__ws_reader {
    uint64_t max_frame;   /* payload bytes of one frame; 0 = unlimited */
    uint64_t max_message; /* payload bytes of one message; 0 = unlimited */

    uint64_t remaining; /* payload bytes of the current frame not yet read */
    uint64_t msg_bytes; /* payload bytes of the message so far (headers read) */
    struct turbo__ws_utf8 utf8; /* the text message being read */
    uint8_t state;              /* header, payload, closed or failed */
    uint8_t hdr_len;            /* header bytes buffered in hdr */
    uint8_t hdr[14];            /* 2 + 8 (length) + 4 (mask) at most */
    uint8_t mask[4];
    uint8_t mask_off;   /* mask index of the next payload byte */
    uint8_t opcode;     /* the current frame's opcode */
    bool frame_fin;     /* the current frame's FIN */
    bool in_message;    /* a text or binary message is unfinished */
    bool first_pending; /* no DATA event of that message given yet */
    uint8_t msg_opcode; /* that message's opcode */
    uint8_t ctl_len;    /* control payload bytes gathered in ctl */
    uint16_t error;     /* the close code, once failed */
    uint8_t ctl[TURBO__WS_MAX_CONTROL];
};

void turbo__ws_reader_init(struct turbo__ws_reader *r, uint64_t max_frame, uint64_t max_message);

/*
 * Reads frames from buf[0..n), a server reading a client: every frame must
 * be masked. Returns the number of bytes consumed (0..n) and sets *ev; the
 * caller acts on the event, then calls again with the bytes after the ones
 * consumed (or with new input once all were consumed and the event is
 * TURBO__WS_NONE). At most one event per call:
 *
 *   DATA   payload bytes of the current data frame, as many as buf holds
 *          (a piece never spans two frames), unmasked in place in buf.
 *          Pieces with len 0 are not given, except at the end of a message
 *          whose last frame is empty (fin set, len 0). A text message's
 *          pieces are valid UTF-8 so far; one cut mid code point is
 *          completed by the next piece (the whole message is checked).
 *   PING, PONG, CLOSE   the whole frame, gathered across calls if split;
 *          they may come between the frames of a fragmented message.
 *          After CLOSE, later input is consumed and ignored (RFC 6455
 *          5.5.1: nothing may follow a close).
 *
 * On a protocol violation returns the negated close code to send (and
 * keeps returning it; turbo__ws_reader_error() gives it too), with the
 * bytes of the failing frame up to the fault possibly unconsumed:
 *   -1002 an unmasked frame; RSV1-3 set (no extension is negotiated); an
 *         unknown opcode (3-7, 11-15); a control frame fragmented or over
 *         125 bytes; a continuation with no message in progress, or text
 *         or binary inside one; a 64-bit length with the top bit set; a
 *         close payload of 1 byte, or a close code that may not be sent
 *         (turbo__ws_close_code_valid());
 *   -1007 text that is not UTF-8 (found at the first bad byte, across
 *         fragments), a text message that ends mid code point, or a close
 *         reason that is not UTF-8;
 *   -1009 a frame over max_frame, or a message over max_message (both
 *         known from the frame header, before its payload is read).
 * Data frame lengths need not use the minimal encoding (RFC 6455 5.2 asks
 * the sender for it, but a non-minimal one is unambiguous; the reader
 * accepts it). A control frame's 7-bit length field must hold its length
 * (126 and 127 there are refused at once, as "over 125").
 */
ssize_t turbo__ws_reader_feed(struct turbo__ws_reader *r, uint8_t *buf, size_t n,
                              struct turbo__ws_event *ev);

/* The close code the reader failed with, or 0 while it has not failed. */
unsigned turbo__ws_reader_error(const struct turbo__ws_reader *r);

/*
 * True for a code an endpoint may put in a close frame: 1000-1003,
 * 1007-1014 (RFC 6455 7.4.1 and the IANA registry's 1012-1014) and
 * 3000-4999 (registered and private use). False for 1004-1006 (reserved, or
 * meaning "no code" and "no close frame"), below 1000, 1015-2999 (1015:
 * a failed TLS handshake, never sent) and from 5000 on.
 */
bool turbo__ws_close_code_valid(unsigned code);

/* ---- Writer ----------------------------------------------------------- */

/*
 * Writes the header of an unmasked (server) frame with the given FIN bit,
 * opcode and payload length, in the minimal length encoding, into out.
 * Returns its size: 2, 4 or 10.
 */
size_t turbo__ws_frame_header(uint8_t out[10], bool fin, unsigned opcode, uint64_t len);

/*
 * Writes a close frame's payload into out: the code (big-endian), then the
 * longest prefix of reason[0..len) that is valid UTF-8 and at most 123
 * bytes (a multi-byte character is never cut; the reason is dropped from
 * its first invalid byte). Code 0 writes an empty payload (a close with no
 * code); reason is then ignored. Returns the payload length (0, or 2-125).
 */
size_t turbo__ws_close_payload(uint8_t out[TURBO__WS_MAX_CONTROL], unsigned code, const char *reason,
                               size_t len);

#endif
