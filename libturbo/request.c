/* Read-only accessors a handler uses on its request. */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "conn.h"
#include "exchange.h"
#include "forwarded.h"
#include "parse.h"
#include "request.h"
#include "router.h"
#include "server.h"
#include "thread.h"

static const turbo_str empty = {NULL, 0};

turbo_str turbo_request_method(const turbo_request *r)
{
    return r != NULL ? r->method : empty;
}

turbo_str turbo_request_path(const turbo_request *r)
{
    return r != NULL ? r->head->path : empty;
}

turbo_str turbo_request_query(const turbo_request *r)
{
    return r != NULL ? r->head->query : empty;
}

turbo_str turbo_request_target(const turbo_request *r)
{
    return r != NULL ? r->head->target : empty;
}

int turbo_request_version(const turbo_request *r)
{
    return r != NULL ? 10 + r->head->minor : 0;
}

static int ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return 0;
    }
    return 1;
}

int turbo_request_header(const turbo_request *r, const char *name, size_t name_len, turbo_str *value)
{
    if (r == NULL || (name == NULL && name_len != 0))
        return TURBO_EINVAL;
    const turbo__head *h = r->head;
    for (size_t i = 0; i < h->num_headers; i++) {
        const turbo__header *f = &h->headers[i];
        if (f->name.len == name_len && ieq(f->name.ptr, name, name_len)) {
            if (value != NULL)
                *value = f->value;
            return TURBO_OK;
        }
    }
    return TURBO_ENOENT;
}

size_t turbo_request_header_count(const turbo_request *r)
{
    return r != NULL ? r->head->num_headers : 0;
}

int turbo_request_header_at(const turbo_request *r, size_t index, turbo_str *name, turbo_str *value)
{
    if (r == NULL)
        return TURBO_EINVAL;
    if (index >= r->head->num_headers)
        return TURBO_ERANGE;
    if (name != NULL)
        *name = r->head->headers[index].name;
    if (value != NULL)
        *value = r->head->headers[index].value;
    return TURBO_OK;
}

turbo_str turbo_request_param(const turbo_request *r, const char *name, size_t name_len)
{
    if (r == NULL || r->match == NULL || (name == NULL && name_len != 0))
        return empty;
    const turbo__match *m = r->match;
    for (size_t i = 0; i < m->nparams; i++)
        if (m->param_names[i].len == name_len && memcmp(m->param_names[i].ptr, name, name_len) == 0)
            return m->params[i];
    return empty;
}

size_t turbo_request_param_count(const turbo_request *r)
{
    return r != NULL && r->match != NULL ? r->match->nparams : 0;
}

int turbo_request_param_at(const turbo_request *r, size_t index, turbo_str *name, turbo_str *value)
{
    if (r == NULL)
        return TURBO_EINVAL;
    if (r->match == NULL || index >= r->match->nparams)
        return TURBO_ERANGE;
    if (name != NULL)
        *name = r->match->param_names[index];
    if (value != NULL)
        *value = r->match->params[index];
    return TURBO_OK;
}

int turbo_request_query_param(const turbo_request *r, const char *name, size_t name_len,
                              turbo_str *value)
{
    if (r == NULL || (name == NULL && name_len != 0))
        return TURBO_EINVAL;
    const char *p = r->head->query.ptr;
    const char *end = p + r->head->query.len;
    while (p != NULL && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        const char *kend = eq != NULL ? eq : stop;
        if ((size_t)(kend - p) == name_len && memcmp(p, name, name_len) == 0) {
            if (value != NULL) {
                value->ptr = eq != NULL ? eq + 1 : stop;
                value->len = eq != NULL ? (size_t)(stop - eq - 1) : 0;
            }
            return TURBO_OK;
        }
        p = stop + 1;
    }
    return TURBO_ENOENT;
}

turbo_str turbo_request_body(const turbo_request *r)
{
    return r != NULL ? r->body : empty;
}

int turbo_request_body_pending(const turbo_request *r)
{
    /* Set by the owner before the handler runs and constant until the
     * exchange is released: any thread that may use r reads it. */
    return r != NULL && turbo__exchange_of((turbo_request *)r)->b.on_socket;
}

/* On a server with a trust list (turbo_config_set_forwarded), when the
 * peer is trusted: the client its forwarded header names, into m's
 * remote address and port. A header that cannot be believed (forwarded.h)
 * leaves the peer. Off the request path: only when a handler asks. */
static void __attribute__((noinline)) apply_forwarded(turbo_request *m, const turbo_config *cfg)
{
    char text[64];
    int family;
    uint8_t bin[16];
    if (m->remote_addr.len >= sizeof(text))
        return;
    memcpy(text, m->remote_addr.ptr, m->remote_addr.len);
    text[m->remote_addr.len] = '\0';
    if (inet_pton(AF_INET, text, bin) == 1)
        family = 4;
    else if (inet_pton(AF_INET6, text, bin) == 1)
        family = 6;
    else
        return;
    if (!turbo__trust_has(&cfg->forwarded_trust, family, bin))
        return;
    const char *name = cfg->forwarded_header == TURBO_FORWARDED_RFC7239 ? "forwarded"
                                                                         : "x-forwarded-for";
    size_t name_len = strlen(name);
    turbo__fwd_walk w;
    memset(&w, 0, sizeof(w));
    turbo__fwd_client client;
    int r = 0;
    /* The last line first: proxies append, so the right end is theirs. */
    for (size_t i = m->head->num_headers; i-- > 0 && r == 0;) {
        const turbo__header *f = &m->head->headers[i];
        if (f->name.len == name_len && strncasecmp(f->name.ptr, name, name_len) == 0)
            r = turbo__fwd_walk_line(f->value.ptr, f->value.len, cfg->forwarded_header,
                                     &cfg->forwarded_trust, &w, &client);
    }
    if (r < 0 || (r == 0 && !w.have_leftmost))
        return;
    if (r == 0)
        client = w.leftmost;
    char *buf = turbo__arena_alloc(&turbo__exchange_of(m)->arena, INET6_ADDRSTRLEN);
    if (buf == NULL ||
        inet_ntop(client.family == 4 ? AF_INET : AF_INET6, client.addr, buf, INET6_ADDRSTRLEN) ==
            NULL)
        return;
    m->remote_addr.ptr = buf;
    m->remote_addr.len = strlen(buf);
    m->remote_port = client.port;
}

turbo_str turbo_request_remote_addr(const turbo_request *r)
{
    if (r == NULL)
        return empty;
    turbo_request *m = (turbo_request *)r; /* cached on first use */
    if (m->remote_addr.ptr == NULL) {
        turbo_deferred *x = turbo__exchange_of(m);
        if (r->conn != NULL)
            turbo__conn_remote(r->conn, &x->arena, &m->remote_addr, &m->remote_port);
        else /* deferred: from the copy, into its own arena */
            turbo__peer_format(&x->peer, &x->arena, &m->remote_addr, &m->remote_port);
        const turbo_config *cfg = &r->thread->server->cfg;
        if (cfg->forwarded_header != 0 && m->remote_addr.ptr != NULL)
            apply_forwarded(m, cfg);
    }
    return r->remote_addr;
}

int turbo_request_remote_port(const turbo_request *r)
{
    if (r == NULL)
        return 0;
    if (turbo_request_remote_addr(r).ptr != NULL)
        return r->remote_port;
    turbo_str addr; /* a non-IP socket, or out of memory: no cache */
    int port;
    if (r->conn == NULL) /* deferred: the copy taken when it was */
        turbo__peer_format(&turbo__exchange_of((turbo_request *)r)->peer, NULL, &addr, &port);
    else
        turbo__conn_remote(r->conn, NULL, &addr, &port);
    return port;
}

unsigned turbo_request_thread(const turbo_request *r)
{
    return r != NULL ? r->thread->index : 0;
}

void *turbo_request_alloc(turbo_request *r, size_t size)
{
    if (r == NULL)
        return NULL;
    /* The request's own arena: the thread's for an inline request, its own
     * once deferred (the same memory: it goes with the exchange). */
    return turbo__arena_alloc(&turbo__exchange_of(r)->arena, size);
}
