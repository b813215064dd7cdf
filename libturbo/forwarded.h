/*
 * The client a trusted proxy names in X-Forwarded-For or Forwarded (RFC
 * 7239), and the list of proxies trusted to name it
 * (turbo_config_set_forwarded). Pure functions of their input, no
 * allocation: fuzzed by tests/fuzz/fuzz_forwarded.c.
 *
 * The walk. Each proxy appends the address it received the request from,
 * so the list reads client, proxy1, proxy2, ... and only its right end is
 * written by proxies we trust; anything to the left of the first address
 * we do not trust may be the client's own invention. The walk goes from
 * the right (the last header line first), skips trusted addresses and
 * stops at the first untrusted one: the client. When every address is
 * trusted, the leftmost is the client.
 */
#ifndef TURBO_FORWARDED_H
#define TURBO_FORWARDED_H

#include <stddef.h>
#include <stdint.h>

/* Entries of a trust list, at most. */
#define TURBO__TRUST_MAX 32

/* One trusted network: family (4 or 6; 0: any address, "*"), prefix bits. */
typedef struct turbo__cidr {
    uint8_t family;
    uint8_t bits;
    uint8_t addr[16];
} turbo__cidr;

typedef struct turbo__trust {
    unsigned n;
    turbo__cidr net[TURBO__TRUST_MAX];
} turbo__trust;

/* Why a trust list or a header was refused. */
enum turbo__forwarded_error {
    TURBO__FWD_ENTRY = -1,   /* trust list: an entry is no address, network or "*" */
    TURBO__FWD_PREFIX = -2,  /* trust list: a prefix length beyond the family's bits */
    TURBO__FWD_TOOMANY = -3, /* trust list over TURBO__TRUST_MAX, or a header over
                                TURBO__FWD_MAX_HOPS entries */
    TURBO__FWD_SYNTAX = -4,  /* header: not a list of forwarded-elements / nodes */
    TURBO__FWD_NODE = -5,    /* header: a node that is no IP address (unknown,
                                an obfuscated name, garbage) where the walk stops */
    TURBO__FWD_NOFOR = -6    /* Forwarded: an element without for= where the walk stops */
};

/* Entries of one header line the walk considers, at most. */
#define TURBO__FWD_MAX_HOPS 64

/*
 * Parses a trust list: entries separated by commas (spaces around them
 * allowed), each an IPv4 or IPv6 address, a network "ADDR/BITS", or "*"
 * (every address). Empty: trusts nobody. TURBO_OK (0) or a negative
 * turbo__forwarded_error; *out is written only on success.
 */
int turbo__trust_parse(const char *list, size_t len, turbo__trust *out);

/* 1 when the address (family 4 or 6, 4 or 16 bytes) is in the list. */
int turbo__trust_has(const turbo__trust *t, int family, const uint8_t *addr);

/* What the walk found: family 4 or 6, the address and the port (0 when the
 * header gave none, as X-Forwarded-For never does). */
typedef struct turbo__fwd_client {
    int family;
    uint8_t addr[16];
    uint16_t port;
} turbo__fwd_client;

/* Walk state over the lines of one header, the last line first. */
typedef struct turbo__fwd_walk {
    int found;                  /* 1: *client is the answer, stop */
    int have_leftmost;          /* a trusted address has been seen */
    turbo__fwd_client leftmost; /* the leftmost trusted one so far */
} turbo__fwd_walk;

enum turbo__fwd_kind { TURBO__FWD_XFF = 1, TURBO__FWD_RFC7239 = 2 };

/*
 * Walks one header line's value (kind: X-Forwarded-For or Forwarded) from
 * its right end, continuing w (zeroed before the last line). Returns 1
 * when the client is found (*client), 0 when every entry of the line was
 * trusted (call again with the line before; after the first line,
 * w->leftmost is the client if w->have_leftmost), or a
 * negative turbo__forwarded_error: the header cannot be believed, and the
 * socket's peer stands.
 */
int turbo__fwd_walk_line(const char *value, size_t len, int kind, const turbo__trust *t,
                         turbo__fwd_walk *w, turbo__fwd_client *client);

/* A static description of a turbo__forwarded_error. */
const char *turbo__forwarded_strerror(int code);

#endif
