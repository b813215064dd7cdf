/*
 * The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and
 * 2) that a load balancer sends ahead of the first byte of a connection
 * to say whom it is relaying. A pure function of its input, like the
 * request parser: no allocation, no I/O, "need more" as a result, so it
 * fuzzes cleanly (tests/fuzz/fuzz_proxy.c).
 *
 * conn.c runs it on the first bytes of a connection accepted on a listener
 * with turbo_config_set_proxy_protocol() on; a connection whose first
 * bytes are not a valid header is closed without an answer, as the
 * specification asks (an HTTP answer would tell a client that the server
 * can be reached around its proxy).
 */
#ifndef TURBO_PROXY_H
#define TURBO_PROXY_H

#include <stddef.h>
#include <stdint.h>

/* Longest version 1 header, "PROXY" to CRLF inclusive (the specification's
 * worst case: TCP6 with two full-length addresses and ports). */
#define TURBO__PROXY_V1_MAX 107
/* Version 2: the 16-byte fixed part and up to 65535 bytes after it. */
#define TURBO__PROXY_V2_FIXED 16

/* Why a header was refused. Negative, so a parse result is one long. */
enum turbo__proxy_error {
    TURBO__PROXY_ENOTPROXY = -1, /* the first bytes are neither signature */
    TURBO__PROXY_ETOOLONG = -2,  /* v1: no CRLF within 107 bytes */
    TURBO__PROXY_ELINE = -3,     /* v1: bad protocol, spacing or line end */
    TURBO__PROXY_EADDR = -4,     /* v1: an address that is not of its protocol */
    TURBO__PROXY_EPORT = -5,     /* v1: a port that is not 0..65535 in plain decimal */
    TURBO__PROXY_EVERSION = -6,  /* v2: version nibble other than 2 */
    TURBO__PROXY_ECOMMAND = -7,  /* v2: command other than LOCAL or PROXY */
    TURBO__PROXY_EFAMILY = -8,   /* v2: unassigned address family or transport */
    TURBO__PROXY_ESHORT = -9     /* v2: length too small for the address family */
};

/* What a header said. keep_peer: use the socket's own peer (a v2 LOCAL
 * command, v1 UNKNOWN, v2 UNSPEC, or a family this server does not
 * serve: AF_UNIX, or datagrams); otherwise family (AF_INET or AF_INET6),
 * addr (4 or 16 bytes, network order) and port (host order) are the
 * original client's. The destination is read and checked, not kept. */
typedef struct turbo__proxy_src {
    int keep_peer;
    int family;
    uint8_t addr[16];
    uint16_t port;
    int version; /* 1 or 2 */
} turbo__proxy_src;

/*
 * Parses a PROXY header at the start of buf[0..len). Returns its length
 * (> 0: the bytes to drop before the first HTTP request), 0 when the bytes
 * so far are a valid beginning but more are needed, or a negative
 * turbo__proxy_error. A result is final as soon as it is not 0: more
 * bytes never turn an error into a header. *out is written only on
 * success.
 */
long turbo__proxy_parse(const char *buf, size_t len, turbo__proxy_src *out);

/* A static, lower-case description of a turbo__proxy_error ("unknown
 * PROXY header error" for anything else). */
const char *turbo__proxy_strerror(long code);

#endif
