/*
 * The blocking variant, for comparison: /blocking/db, /blocking/queries,
 * /blocking/fortunes, /blocking/updates with plain blocking libpq calls
 * (PQexecPrepared: one round trip per query), on TURBO_ROUTE_BLOCKING
 * routes. Their handlers run on the server's blocking pool, each pool
 * thread with a connection of its own (thread-specific data, closed when
 * the thread exits), so the I/O threads never wait for the database.
 *
 * Failures as in the loop variant: an error result is a 500; a lost
 * connection a 503, and the thread's next request connects again.
 */
#define _GNU_SOURCE
#include "techempower.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static const char *conninfo;
static pthread_key_t conn_key;

static void close_conn(void *pg)
{
    PQfinish(pg);
}

/* This thread's connection: made (and its statements prepared) when the
 * thread has none. NULL when the database cannot be reached. */
static PGconn *thread_conn(void)
{
    PGconn *pg = pthread_getspecific(conn_key);
    if (pg != NULL)
        return pg;
    pg = PQconnectdb(conninfo);
    if (PQstatus(pg) != CONNECTION_OK) {
        PQfinish(pg);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(te_statements) / sizeof(te_statements[0]); i++) {
        const te_statement *st = &te_statements[i];
        PGresult *r = PQprepare(pg, st->name, st->sql, st->nparams, NULL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            PQfinish(pg);
            return NULL;
        }
    }
    pthread_setspecific(conn_key, pg);
    return pg;
}

/* After a failed query: 503 and a new connection next time when this one
 * is broken, else 500. */
static int failed(turbo_response *res, PGconn *pg, PGresult *r)
{
    PQclear(r);
    if (PQstatus(pg) == CONNECTION_BAD) {
        PQfinish(pg);
        pthread_setspecific(conn_key, NULL);
        return te_send_error(res, 503);
    }
    return te_send_error(res, 500);
}

static PGresult *exec_world(PGconn *pg, const char *stmt, const world *w)
{
    char id[16], number[16];
    snprintf(id, sizeof(id), "%d", w->id);
    snprintf(number, sizeof(number), "%d", w->random_number);
    const char *const values[2] = {id, number};
    return PQexecPrepared(pg, stmt, stmt[0] == 'u' ? 2 : 1, values, NULL, NULL, 0);
}

/* Reads rows[i] for each of its ids. 0, or -1 with *err the failed result. */
static int read_rows(PGconn *pg, world *rows, int n, PGresult **err)
{
    for (int i = 0; i < n; i++) {
        PGresult *r = exec_world(pg, "world", &rows[i]);
        if (te_world_from_result(r, &rows[i]) != 0) {
            *err = r;
            return -1;
        }
        PQclear(r);
    }
    return 0;
}

static int command(PGconn *pg, const char *sql, PGresult **err)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        *err = r;
        return -1;
    }
    PQclear(r);
    return 0;
}

/* Writes the rows in one transaction, in ascending id order. */
static int write_rows(PGconn *pg, const world *rows, int n, PGresult **err)
{
    if (command(pg, "BEGIN", err) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        PGresult *r = exec_world(pg, "update", &rows[i]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            *err = r;
            PQclear(PQexec(pg, "ROLLBACK"));
            return -1;
        }
        PQclear(r);
    }
    return command(pg, "COMMIT", err);
}

static int handle(turbo_request *req, turbo_response *res, void *ud)
{
    int test = (int)(intptr_t)ud;
    PGconn *pg = thread_conn();
    if (pg == NULL)
        return te_send_error(res, 503);
    PGresult *err = NULL;
    if (test == TE_FORTUNES) {
        PGresult *r = PQexecPrepared(pg, "fortunes", 0, NULL, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            return failed(res, pg, r);
        int rc = te_send_fortunes(res, r);
        PQclear(r);
        return rc;
    }
    int n = test == TE_DB ? 1 : te_queries_param(req);
    world rows[MAX_QUERIES];
    if (test == TE_UPDATES)
        te_random_distinct_sorted(rows, n);
    else
        for (int i = 0; i < n; i++)
            rows[i] = (world){te_random(), 0};
    if (read_rows(pg, rows, n, &err) != 0)
        return failed(res, pg, err);
    if (test == TE_UPDATES) {
        for (int i = 0; i < n; i++)
            te_reroll(&rows[i]);
        if (write_rows(pg, rows, n, &err) != 0)
            return failed(res, pg, err);
    }
    return test == TE_DB ? te_send_world(res, &rows[0]) : te_send_worlds(res, rows, n);
}

int te_blocking_routes(turbo_server *s, const char *info)
{
    static const struct {
        const char *path;
        int test;
    } routes[] = {{"/blocking/db", TE_DB}, {"/blocking/queries", TE_QUERIES},
                  {"/blocking/fortunes", TE_FORTUNES}, {"/blocking/updates", TE_UPDATES}};
    conninfo = info;
    if (pthread_key_create(&conn_key, close_conn) != 0)
        return TURBO_ENOMEM;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = turbo_route_add_opts(s, "GET", routes[i].path, handle,
                                      (void *)(intptr_t)routes[i].test, NULL,
                                      TURBO_ROUTE_BLOCKING);
        if (rc != TURBO_OK)
            return rc;
    }
    return TURBO_OK;
}
