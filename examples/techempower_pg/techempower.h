/*
 * turbo-techempower-pg: the TechEmpower database tests on PostgreSQL, in
 * two variants side by side.
 *
 *   loop.c      /db /queries /fortunes /updates: libpq's non-blocking API
 *               on each I/O thread's own loop, one pipelined connection
 *               per I/O thread, every request deferred (turbo_defer)
 *   blocking.c  /blocking/...: the same four with plain blocking libpq
 *               calls on TURBO_ROUTE_BLOCKING routes (the blocking pool),
 *               one connection per pool thread
 *   plain.c     /plaintext and /json, the two tests without a database
 *   render.c    what both share: the TechEmpower output rules (the queries
 *               parameter, the JSON, the fortunes page), the random ids
 *   main.c      the command line (tools/serve_cli.h)
 */
#ifndef TECHEMPOWER_H
#define TECHEMPOWER_H

#include <stddef.h>

#include <libpq-fe.h>
#include <turbo/turbo.h>

enum {
    WORLD_ROWS = 10000, /* World holds ids 1..WORLD_ROWS */
    MAX_QUERIES = 500   /* the queries parameter's upper bound */
};

/* What a route answers; a route's user_data. */
enum te_test { TE_DB, TE_QUERIES, TE_FORTUNES, TE_UPDATES };

/* The statements both variants prepare on each connection: name, SQL and
 * number of parameters. Unquoted names: PostgreSQL folds them to
 * world / randomnumber / fortune, as the schema (scripts/pg-cluster.sh). */
#define TE_SQL_WORLD "SELECT id, randomNumber FROM World WHERE id = $1"
#define TE_SQL_FORTUNES "SELECT id, message FROM Fortune"
#define TE_SQL_UPDATE "UPDATE World SET randomNumber = $2 WHERE id = $1"
/* The loop variant's /updates writes all its rows in one statement: $1
 * the ids, $2 the new numbers, as int[] literals ("{1,2,3}"). */
#define TE_SQL_UPDATE_BATCH                                                              \
    "UPDATE World SET randomNumber = v.r FROM "                                         \
    "(SELECT unnest($1::int[]) AS id, unnest($2::int[]) AS r) AS v WHERE World.id = v.id"
typedef struct te_statement {
    const char *name, *sql;
    int nparams;
} te_statement;
extern const te_statement te_statements[4];

typedef struct world {
    int id;
    int random_number;
} world;

/* The queries parameter as TechEmpower specifies it: missing, empty or not
 * an integer: 1; below 1: 1; above 500: 500. */
int te_queries_param(const turbo_request *req);

/* A random World id (1..WORLD_ROWS) or random number (the same range),
 * from a per-thread generator: no lock, no shared state. */
int te_random(void);
/* n (at most MAX_QUERIES) distinct random ids in ascending order, for
 * /updates: writing rows in one order everywhere means two concurrent
 * updates never wait for each other's locks in a cycle (no deadlock). */
void te_random_distinct_sorted(world *rows, int n);
/* A new random number for row w, different from the one it holds. */
void te_reroll(world *w);

/* Row 0 of a "SELECT id, randomNumber" result into *w. 0, or -1 when the
 * result is not exactly one well-formed row. */
int te_world_from_result(const PGresult *r, world *w);

/* The responses. Each sets the status, Content-Type and body of res, and
 * returns TURBO_OK or a negative code (out of memory). */
int te_send_world(turbo_response *res, const world *w);              /* {"id":..} */
int te_send_worlds(turbo_response *res, const world *rows, int n);   /* [{..},..] */
int te_send_fortunes(turbo_response *res, const PGresult *fortunes); /* the page */
/* 500 (the database answered an error) or 503 (no database connection;
 * with Retry-After), with a one-line text/plain body. */
int te_send_error(turbo_response *res, int status);

/* The two variants' routes. conninfo: a libpq connection string ("" takes
 * everything from the PG* environment variables); kept, not copied. */
int te_loop_routes(turbo_server *s, const char *conninfo);
int te_blocking_routes(turbo_server *s, const char *conninfo);
/* /plaintext and /json (plain.c). */
int te_plain_routes(turbo_server *s);
/* Closes the loop variant's connections, once the server is freed. */
void te_loop_close(void);

#endif
