/* The TechEmpower output rules both variants share (techempower.h). */
#define _GNU_SOURCE /* pthread_self in the seed */
#include "techempower.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const te_statement te_statements[4] = {
    {"world", TE_SQL_WORLD, 1},
    {"fortunes", TE_SQL_FORTUNES, 0},
    {"update", TE_SQL_UPDATE, 2},
    {"update_batch", TE_SQL_UPDATE_BATCH, 2},
};

int te_queries_param(const turbo_request *req)
{
    turbo_str v;
    if (turbo_request_query_param(req, "queries", 7, &v) != TURBO_OK || v.len == 0)
        return 1;
    size_t i = v.ptr[0] == '-' || v.ptr[0] == '+' ? 1 : 0;
    if (i == v.len)
        return 1;
    long n = 0;
    for (; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return 1; /* not an integer */
        if (n <= MAX_QUERIES)
            n = n * 10 + (v.ptr[i] - '0');
    }
    if (v.ptr[0] == '-' || n < 1)
        return 1;
    return n > MAX_QUERIES ? MAX_QUERIES : (int)n;
}

/* xorshift64*: fast, per thread, good enough to pick rows. */
static _Thread_local uint64_t rng_state;

int te_random(void)
{
    if (rng_state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        rng_state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
                    (uint64_t)(uintptr_t)&rng_state ^ (uint64_t)pthread_self();
        if (rng_state == 0)
            rng_state = 0x9e3779b97f4a7c15u;
    }
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (int)(((rng_state * 0x2545f4914f6cdd1du) >> 33) % WORLD_ROWS) + 1;
}

void te_random_distinct_sorted(world *rows, int n)
{
    unsigned char taken[WORLD_ROWS + 1];
    memset(taken, 0, sizeof(taken));
    for (int k = 0; k < n;) {
        int id = te_random();
        if (!taken[id]) {
            taken[id] = 1;
            k++;
        }
    }
    int k = 0;
    for (int id = 1; id <= WORLD_ROWS && k < n; id++)
        if (taken[id])
            rows[k++] = (world){id, 0};
}

void te_reroll(world *w)
{
    int old = w->random_number;
    do
        w->random_number = te_random();
    while (w->random_number == old);
}

static int parse_int(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < INT32_MIN || v > INT32_MAX)
        return -1;
    *out = (int)v;
    return 0;
}

int te_world_from_result(const PGresult *r, world *w)
{
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) != 2)
        return -1;
    if (parse_int(PQgetvalue(r, 0, 0), &w->id) != 0 ||
        parse_int(PQgetvalue(r, 0, 1), &w->random_number) != 0)
        return -1;
    return 0;
}

/* A growing buffer; an allocation failure sticks (oom) and is reported
 * once, by take(). */
typedef struct buf {
    char *p;
    size_t len, cap;
    int oom;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

#define PUT_LITERAL(b, s) put((b), (s), sizeof(s) - 1)

static void put_int(buf *b, int v)
{
    char tmp[16];
    size_t n = 0;
    unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
    do
        tmp[sizeof(tmp) - ++n] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        tmp[sizeof(tmp) - ++n] = '-';
    put(b, tmp + sizeof(tmp) - n, n);
}

static void put_world(buf *b, const world *w)
{
    PUT_LITERAL(b, "{\"id\":");
    put_int(b, w->id);
    PUT_LITERAL(b, ",\"randomNumber\":");
    put_int(b, w->random_number);
    PUT_LITERAL(b, "}");
}

static void free_body(void *data, void *ctx)
{
    (void)ctx;
    free(data);
}

/* Hands b's bytes to res without a copy. */
static int take(turbo_response *res, buf *b, const char *type)
{
    int rc = b->oom ? TURBO_ENOMEM : TURBO_OK;
    if (rc == TURBO_OK)
        rc = turbo_response_header(res, "Content-Type", 12, type, strlen(type));
    if (rc != TURBO_OK) {
        free(b->p);
        return rc;
    }
    return turbo_response_body_ref(res, b->p, b->len, free_body, NULL);
}

int te_send_world(turbo_response *res, const world *w)
{
    buf b = {0};
    put_world(&b, w);
    return take(res, &b, "application/json");
}

int te_send_worlds(turbo_response *res, const world *rows, int n)
{
    buf b = {0};
    PUT_LITERAL(&b, "[");
    for (int i = 0; i < n; i++) {
        if (i > 0)
            PUT_LITERAL(&b, ",");
        put_world(&b, &rows[i]);
    }
    PUT_LITERAL(&b, "]");
    return take(res, &b, "application/json");
}

typedef struct fortune {
    const char *id;      /* as the database sent it: digits */
    const char *message; /* NUL-terminated UTF-8 */
} fortune;

/* By message, byte by byte: for UTF-8 that is code point order. */
static int by_message(const void *a, const void *b)
{
    return strcmp(((const fortune *)a)->message, ((const fortune *)b)->message);
}

static void put_escaped(buf *b, const char *s)
{
    const char *plain = s;
    for (; *s != '\0'; s++) {
        const char *esc;
        switch (*s) {
        case '&': esc = "&amp;"; break;
        case '<': esc = "&lt;"; break;
        case '>': esc = "&gt;"; break;
        case '"': esc = "&quot;"; break;
        case '\'': esc = "&#39;"; break;
        default: continue;
        }
        put(b, plain, (size_t)(s - plain));
        put(b, esc, strlen(esc));
        plain = s + 1;
    }
    put(b, plain, (size_t)(s - plain));
}

int te_send_fortunes(turbo_response *res, const PGresult *r)
{
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != 2)
        return te_send_error(res, 500);
    int n = PQntuples(r);
    fortune *rows = malloc(((size_t)n + 1) * sizeof(*rows));
    if (rows == NULL)
        return TURBO_ENOMEM;
    for (int i = 0; i < n; i++)
        rows[i] = (fortune){PQgetvalue(r, i, 0), PQgetvalue(r, i, 1)};
    rows[n] = (fortune){"0", "Additional fortune added at request time."};
    qsort(rows, (size_t)n + 1, sizeof(*rows), by_message);

    buf b = {0};
    PUT_LITERAL(&b, "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
                    "<tr><th>id</th><th>message</th></tr>");
    for (int i = 0; i <= n; i++) {
        PUT_LITERAL(&b, "<tr><td>");
        put(&b, rows[i].id, strlen(rows[i].id));
        PUT_LITERAL(&b, "</td><td>");
        put_escaped(&b, rows[i].message);
        PUT_LITERAL(&b, "</td></tr>");
    }
    PUT_LITERAL(&b, "</table></body></html>");
    free(rows);
    return take(res, &b, "text/html; charset=utf-8");
}

int te_send_error(turbo_response *res, int status)
{
    static const char db_error[] = "database error\n";
    static const char no_db[] = "database unavailable\n";
    turbo_response_reset(res);
    turbo_response_status(res, status);
    int rc = turbo_response_header(res, "Content-Type", 12, "text/plain", 10);
    if (rc == TURBO_OK && status == 503)
        rc = turbo_response_header(res, "Retry-After", 11, "1", 1);
    if (rc != TURBO_OK)
        return rc;
    if (status == 503)
        return turbo_response_body_ref(res, no_db, sizeof(no_db) - 1, NULL, NULL);
    return turbo_response_body_ref(res, db_error, sizeof(db_error) - 1, NULL, NULL);
}
