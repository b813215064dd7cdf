/*
 * The PROXY protocol header, versions 1 (a text line) and 2 (binary),
 * after HAProxy's proxy-protocol.txt. Strict where the specification
 * says a receiver must drop the connection, lenient only where it says a
 * receiver must ignore (UNKNOWN's rest of line, v2 TLVs, LOCAL's address
 * block).
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy.h"

static const char v2_sig[12] = {'\r', '\n', '\r', '\n', '\0', '\r', '\n', 'Q', 'U', 'I', 'T', '\n'};
static const char v1_sig[6] = {'P', 'R', 'O', 'X', 'Y', ' '};

/* Address bytes the v2 address block holds for each family (after the
 * fixed part): none for UNSPEC, then INET, INET6, UNIX. */
static const size_t v2_addr_len[4] = {0, 12, 36, 216};

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* A v1 port: "0", or 1 to 5 digits without a leading zero, at most 65535. */
static int v1_port(const char *p, size_t n, uint16_t *port)
{
    if (n == 0 || n > 5 || (p[0] == '0' && n > 1))
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* A v1 address of family af, text p[0..n), into addr. */
static int v1_addr(int af, const char *p, size_t n, uint8_t *addr)
{
    char text[INET6_ADDRSTRLEN];
    if (n == 0 || n >= sizeof(text))
        return -1;
    memcpy(text, p, n);
    text[n] = '\0';
    return inet_pton(af, text, addr) == 1 ? 0 : -1;
}

/* The v1 line buf[0..end), end at its CR: after "PROXY ". */
static long v1_fields(const char *buf, size_t end, turbo__proxy_src *out)
{
    const char *p = buf + sizeof(v1_sig);
    size_t n = end - sizeof(v1_sig);
    /* "UNKNOWN": the rest of the line, whatever it is, is ignored. */
    if (n >= 7 && memcmp(p, "UNKNOWN", 7) == 0 && (n == 7 || p[7] == ' ')) {
        out->keep_peer = 1;
        return 0;
    }
    int af;
    if (n >= 5 && memcmp(p, "TCP4 ", 5) == 0)
        af = AF_INET;
    else if (n >= 5 && memcmp(p, "TCP6 ", 5) == 0)
        af = AF_INET6;
    else
        return TURBO__PROXY_ELINE;
    p += 5;
    n -= 5;
    /* Four fields, one space between each: src dst sport dport. */
    const char *field[4];
    size_t flen[4];
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != ' ')
            continue;
        if (k == 4 || i == start)
            return TURBO__PROXY_ELINE; /* a fifth field, or an empty one */
        field[k] = p + start;
        flen[k++] = i - start;
        start = i + 1;
    }
    if (k != 4)
        return TURBO__PROXY_ELINE;
    uint8_t dst[16];
    uint16_t dport;
    if (v1_addr(af, field[0], flen[0], out->addr) != 0 || v1_addr(af, field[1], flen[1], dst) != 0)
        return TURBO__PROXY_EADDR;
    if (v1_port(field[2], flen[2], &out->port) != 0 || v1_port(field[3], flen[3], &dport) != 0)
        return TURBO__PROXY_EPORT;
    out->keep_peer = 0;
    out->family = af;
    return 0;
}

static long parse_v1(const char *buf, size_t len, turbo__proxy_src *out)
{
    size_t n = min_size(len, sizeof(v1_sig));
    if (memcmp(buf, v1_sig, n) != 0)
        return TURBO__PROXY_ENOTPROXY;
    size_t scan = min_size(len, TURBO__PROXY_V1_MAX);
    for (size_t i = sizeof(v1_sig); i < scan; i++) {
        if (buf[i] == '\n')
            return TURBO__PROXY_ELINE; /* a bare LF */
        if (buf[i] != '\r')
            continue;
        if (i + 2 > TURBO__PROXY_V1_MAX)
            return TURBO__PROXY_ETOOLONG; /* even with its LF next */
        if (i + 1 == len)
            return 0; /* the LF may follow */
        if (buf[i + 1] != '\n')
            return TURBO__PROXY_ELINE; /* a bare CR */
        turbo__proxy_src src;
        memset(&src, 0, sizeof(src));
        long r = v1_fields(buf, i, &src);
        if (r < 0)
            return r;
        src.version = 1;
        *out = src;
        return (long)(i + 2);
    }
    return len >= TURBO__PROXY_V1_MAX ? TURBO__PROXY_ETOOLONG : 0;
}

static long parse_v2(const char *buf, size_t len, turbo__proxy_src *out)
{
    const unsigned char *u = (const unsigned char *)buf;
    size_t n = min_size(len, sizeof(v2_sig));
    if (memcmp(buf, v2_sig, n) != 0)
        return TURBO__PROXY_ENOTPROXY;
    if (len <= 12)
        return 0;
    if ((u[12] >> 4) != 2)
        return TURBO__PROXY_EVERSION;
    unsigned command = u[12] & 0x0f; /* 0 LOCAL, 1 PROXY */
    if (command > 1)
        return TURBO__PROXY_ECOMMAND;
    if (len <= 13)
        return 0;
    unsigned family = u[13] >> 4, transport = u[13] & 0x0f;
    if (family > 3 || transport > 2)
        return TURBO__PROXY_EFAMILY;
    if (len < TURBO__PROXY_V2_FIXED)
        return 0;
    size_t body = (size_t)u[14] << 8 | u[15];
    /* LOCAL (a health check from the proxy itself): the address block,
     * whatever it holds, is skipped and the socket's endpoints stand. */
    if (command == 1 && body < v2_addr_len[family])
        return TURBO__PROXY_ESHORT;
    if (len < TURBO__PROXY_V2_FIXED + body)
        return 0;
    turbo__proxy_src src;
    memset(&src, 0, sizeof(src));
    src.version = 2;
    src.keep_peer = 1;
    const unsigned char *a = u + TURBO__PROXY_V2_FIXED;
    if (command == 1 && transport == 1 && family == 1) {
        src.keep_peer = 0;
        src.family = AF_INET;
        memcpy(src.addr, a, 4);                         /* src, dst */
        src.port = (uint16_t)(a[8] << 8 | a[9]);        /* sport, dport */
    } else if (command == 1 && transport == 1 && family == 2) {
        src.keep_peer = 0;
        src.family = AF_INET6;
        memcpy(src.addr, a, 16);
        src.port = (uint16_t)(a[32] << 8 | a[33]);
    }
    /* What follows the addresses up to the announced length is TLVs
     * (ALPN, authority, SSL, ...): skipped. */
    *out = src;
    return (long)(TURBO__PROXY_V2_FIXED + body);
}

long turbo__proxy_parse(const char *buf, size_t len, turbo__proxy_src *out)
{
    if (len == 0)
        return 0;
    if (buf[0] == v1_sig[0])
        return parse_v1(buf, len, out);
    if (buf[0] == v2_sig[0])
        return parse_v2(buf, len, out);
    return TURBO__PROXY_ENOTPROXY;
}

const char *turbo__proxy_strerror(long code)
{
    switch (code) {
    case TURBO__PROXY_ENOTPROXY: return "no PROXY protocol signature";
    case TURBO__PROXY_ETOOLONG: return "PROXY v1 line longer than 107 bytes";
    case TURBO__PROXY_ELINE: return "malformed PROXY v1 line";
    case TURBO__PROXY_EADDR: return "bad address in PROXY v1 line";
    case TURBO__PROXY_EPORT: return "bad port in PROXY v1 line";
    case TURBO__PROXY_EVERSION: return "PROXY v2 version is not 2";
    case TURBO__PROXY_ECOMMAND: return "PROXY v2 command is neither LOCAL nor PROXY";
    case TURBO__PROXY_EFAMILY: return "PROXY v2 address family or transport unassigned";
    case TURBO__PROXY_ESHORT: return "PROXY v2 length shorter than its addresses";
    default: return "unknown PROXY header error";
    }
}
