/*
 * The non-blocking variant: /db, /queries, /fortunes, /updates answered
 * from PostgreSQL without ever blocking an I/O thread.
 *
 * Each I/O thread has one connection of its own (made lazily, by the first
 * request that thread serves), driven by that thread's loop: libpq in
 * non-blocking pipeline mode, its socket watched with turbo_loop_watch().
 * Nothing here is shared between threads, so nothing is locked.
 *
 * A request becomes a job: its handler defers the response (turbo_defer),
 * sends the job's queries followed by a sync point, and returns at once.
 * Jobs of many requests are on the wire together, in order; the results
 * come back in that order, so the job at the head of the `sent` queue owns
 * whatever PQgetResult() returns next. At its sync point the job is done
 * and answers through turbo_deferred_finish(). /updates takes two trips:
 * its reads, then its writes, all in one UPDATE (TE_SQL_UPDATE_BATCH).
 *
 * Failures: an error result answers that request 500; a lost connection
 * answers every request it carried 503 and is made again by the next
 * request. A client that leaves cancels its job: the response is released
 * at once and the job's results, when they come, are dropped.
 */
#define _GNU_SOURCE
#include "techempower.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    CONNECT_TIMEOUT_MS = 5000, /* a connection attempt that takes longer fails */
    RETRY_AFTER_MS = 250       /* after a failed attempt, answer 503 at once for this long */
};

enum conn_state { DOWN, CONNECTING, READY };

/* Prepare the statements: the first job on every new connection. */
enum { JOB_PREPARE = -1 };

typedef struct conn conn;
typedef struct job job;

struct job {
    job *next;
    conn *c;
    turbo_deferred *d; /* NULL once the client has gone (see on_cancel) */
    int test;          /* enum te_test, or JOB_PREPARE */
    int writing;       /* /updates: its second trip */
    int n;             /* rows (/db, /queries, /updates) or statements (prepare) */
    int queries;       /* queries sent in this trip */
    int done;          /* queries of this trip whose results are all in */
    int status;        /* 0, or the HTTP status it failed with */
    PGresult *fortunes;
    world rows[];      /* /db, /queries, /updates: n rows */
};

typedef struct queue {
    job *head, *tail;
} queue;

struct conn {
    turbo_loop *loop; /* the owning I/O thread's */
    unsigned thread;
    enum conn_state state;
    PGconn *pg;
    turbo_watch *watch;
    int fd;
    unsigned events;     /* what watch waits for */
    turbo_timer *connect_timer;
    uint64_t retry_at;   /* DOWN after a failure: no new attempt before */
    int reported;        /* the current outage was logged */
    queue sent;          /* on the wire, in order */
    queue waiting;       /* for the connection to be READY */
};

static const char *conninfo;
static conn *conns; /* one per I/O thread, indexed by turbo_request_thread() */
static unsigned nconns;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void push(queue *q, job *j)
{
    j->next = NULL;
    if (q->tail != NULL)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
}

static job *pop(queue *q)
{
    job *j = q->head;
    if (j != NULL) {
        q->head = j->next;
        if (q->head == NULL)
            q->tail = NULL;
    }
    return j;
}

static void job_free(job *j)
{
    PQclear(j->fortunes);
    free(j);
}

/* Answers j's request (unless its client left) and frees j. */
static void job_finish(job *j, int status)
{
    if (j->d != NULL) {
        turbo_response *res = turbo_deferred_response(j->d);
        int rc = TURBO_OK;
        if (status != 0)
            rc = te_send_error(res, status);
        else if (j->test == TE_DB)
            rc = te_send_world(res, &j->rows[0]);
        else if (j->test == TE_FORTUNES)
            rc = te_send_fortunes(res, j->fortunes);
        else
            rc = te_send_worlds(res, j->rows, j->n);
        if (rc != TURBO_OK) {
            turbo_response_reset(res);
            turbo_response_status(res, 500);
        }
        turbo_deferred_finish(j->d);
    }
    job_free(j);
}

/* The client left (or the deferred timeout passed, or the server is
 * stopping): release the request now. The job stays queued until its
 * results arrive, and then only frees itself. */
static void on_cancel(turbo_deferred *d, void *ud)
{
    job *j = ud;
    j->d = NULL;
    turbo_deferred_finish(d);
}

static void report(conn *c, const char *what)
{
    if (c->reported)
        return;
    c->reported = 1;
    const char *why = c->pg != NULL ? PQerrorMessage(c->pg) : "out of memory\n";
    fprintf(stderr, "turbo-techempower-pg: I/O thread %u: %s: %s", c->thread, what,
            *why ? why : "(no message)\n");
}

/* The connection is gone or unusable: every request it carried, or was
 * waiting for it, is answered 503; the next request makes a new one. */
static void conn_lost(conn *c, const char *what, int retry_later)
{
    report(c, what);
    turbo_watch_free(c->watch); /* before PQfinish closes the fd */
    c->watch = NULL;
    turbo_timer_cancel(c->connect_timer);
    c->connect_timer = NULL;
    PQfinish(c->pg);
    c->pg = NULL;
    c->state = DOWN;
    c->retry_at = retry_later ? now_ms() + RETRY_AFTER_MS : 0;
    queue lost[2] = {c->sent, c->waiting};
    c->sent = c->waiting = (queue){NULL, NULL};
    for (int k = 0; k < 2; k++) {
        job *j;
        while ((j = pop(&lost[k])) != NULL) {
            if (j->test == JOB_PREPARE)
                job_free(j);
            else
                job_finish(j, 503);
        }
    }
}

static int watch_events(conn *c, unsigned events)
{
    if (events == c->events)
        return 0;
    if (turbo_watch_set(c->watch, events) != TURBO_OK)
        return -1;
    c->events = events;
    return 0;
}

/* Sends what libpq has buffered; waits for writability while some is left
 * (and always for results). -1 when the connection was lost. */
static int flush(conn *c)
{
    int rc = PQflush(c->pg);
    if (rc < 0 || watch_events(c, TURBO_READ | (rc == 1 ? TURBO_WRITE : 0u)) != 0) {
        conn_lost(c, "connection lost while sending", 0);
        return -1;
    }
    return 0;
}

static int send_prepared(PGconn *pg, const char *stmt, int nparams, int a, int b)
{
    char sa[16], sb[16];
    snprintf(sa, sizeof(sa), "%d", a);
    snprintf(sb, sizeof(sb), "%d", b);
    const char *const values[2] = {sa, sb};
    return PQsendQueryPrepared(pg, stmt, nparams, values, NULL, NULL, 0);
}

/* "{a,b,...}": the ids (which = 0) or new numbers (1) of n rows, an int[]
 * literal for TE_SQL_UPDATE_BATCH. out has room for 12 bytes per row + 3. */
static void int_array(char *out, const world *rows, int n, int which)
{
    char *p = out;
    *p++ = '{';
    for (int i = 0; i < n; i++)
        p += sprintf(p, i ? ",%d" : "%d", which ? rows[i].random_number : rows[i].id);
    *p++ = '}';
    *p = '\0';
}

/* Puts j's queries and a sync point on the wire (into libpq's buffer;
 * flush() sends them). -1 when libpq refused: the connection is broken. */
static int send_job(conn *c, job *j)
{
    PGconn *pg = c->pg;
    int ok = 1;
    j->done = 0;
    j->queries = j->n;
    switch (j->test) {
    case JOB_PREPARE:
        for (int i = 0; i < j->n && ok; i++)
            ok = PQsendPrepare(pg, te_statements[i].name, te_statements[i].sql,
                               te_statements[i].nparams, NULL);
        break;
    case TE_FORTUNES:
        ok = PQsendQueryPrepared(pg, "fortunes", 0, NULL, NULL, NULL, 0);
        j->queries = 1;
        break;
    default:
        if (j->writing) {
            char ids[12 * MAX_QUERIES + 3], numbers[12 * MAX_QUERIES + 3];
            int_array(ids, j->rows, j->n, 0);
            int_array(numbers, j->rows, j->n, 1);
            const char *const values[2] = {ids, numbers};
            ok = PQsendQueryPrepared(pg, "update_batch", 2, values, NULL, NULL, 0);
            j->queries = 1;
            break;
        }
        for (int i = 0; i < j->n && ok; i++)
            ok = send_prepared(pg, "world", 1, j->rows[i].id, 0);
        break;
    }
    push(&c->sent, j); /* before a failure, so that conn_lost() answers it */
    if (!ok || !PQpipelineSync(pg)) {
        conn_lost(c, "cannot send a query", 0);
        return -1;
    }
    return 0;
}

/* One query's result for the job at the head of the line. */
static void take_result(job *j, PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_FATAL_ERROR && j->status == 0)
        fprintf(stderr, "turbo-techempower-pg: query failed: %s", PQresultErrorMessage(r));
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        j->status = 500; /* an error, or aborted by an earlier error */
    } else if (j->test == TE_FORTUNES && j->fortunes == NULL) {
        j->fortunes = r; /* kept until the page is written */
        return;
    } else if (j->test != JOB_PREPARE && !j->writing && j->done < j->n &&
               te_world_from_result(r, &j->rows[j->done]) != 0) {
        j->status = 500;
    }
    PQclear(r);
}

/* The job at the head reached its sync point. */
static void job_complete(conn *c, job *j)
{
    if (j->test == JOB_PREPARE) {
        int failed = j->status != 0;
        job_free(j);
        if (failed)
            conn_lost(c, "cannot prepare the statements", 1);
        return;
    }
    if (j->d == NULL) { /* cancelled: drop the results */
        job_free(j);
        return;
    }
    if (j->test == TE_UPDATES && !j->writing && j->status == 0) {
        for (int i = 0; i < j->n; i++)
            te_reroll(&j->rows[i]);
        j->writing = 1;
        if (send_job(c, j) == 0)
            flush(c);
        return;
    }
    job_finish(j, j->status);
}

/* Reads what the server sent and hands each result to its job. */
static void read_results(conn *c)
{
    if (!PQconsumeInput(c->pg)) {
        conn_lost(c, "connection lost", 0);
        return;
    }
    while (c->state == READY && c->sent.head != NULL && !PQisBusy(c->pg)) {
        job *j = c->sent.head;
        PGresult *r = PQgetResult(c->pg);
        if (r == NULL) {
            /* The end of one query's results; none pending: wait. */
            if (j->done == j->queries)
                break;
            j->done++;
        } else if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            pop(&c->sent);
            job_complete(c, j);
        } else {
            take_result(j, r);
        }
    }
    if (c->state == READY && PQstatus(c->pg) == CONNECTION_BAD)
        conn_lost(c, "connection lost", 0);
}

static void connected(conn *c)
{
    turbo_timer_cancel(c->connect_timer);
    c->connect_timer = NULL;
    if (PQsetnonblocking(c->pg, 1) != 0 || !PQenterPipelineMode(c->pg)) {
        conn_lost(c, "cannot enter pipeline mode", 1);
        return;
    }
    if (c->reported)
        fprintf(stderr, "turbo-techempower-pg: I/O thread %u: connected again\n", c->thread);
    c->reported = 0;
    c->state = READY;
    job *prepare = calloc(1, sizeof(*prepare));
    if (prepare == NULL) {
        conn_lost(c, "cannot prepare the statements", 1);
        return;
    }
    *prepare = (job){.c = c, .test = JOB_PREPARE,
                     .n = (int)(sizeof(te_statements) / sizeof(te_statements[0]))};
    if (send_job(c, prepare) != 0)
        return;
    job *j;
    while ((j = pop(&c->waiting)) != NULL) {
        if (j->d == NULL)
            job_free(j); /* its client left while we connected */
        else if (send_job(c, j) != 0)
            return;
    }
    flush(c);
}

static void on_io(turbo_watch *w, unsigned revents, void *ud);

/* One step of the connection handshake (PQconnectPoll). */
static void connect_step(conn *c)
{
    PostgresPollingStatusType st = PQconnectPoll(c->pg);
    if (st == PGRES_POLLING_OK) {
        connected(c);
        return;
    }
    if (st == PGRES_POLLING_FAILED) {
        conn_lost(c, "cannot connect", 1);
        return;
    }
    unsigned events = st == PGRES_POLLING_READING ? TURBO_READ : TURBO_WRITE;
    if (PQsocket(c->pg) != c->fd) {
        /* libpq moved on to another socket (the next address or host). */
        turbo_watch_free(c->watch);
        c->fd = PQsocket(c->pg);
        c->events = events;
        c->watch = turbo_loop_watch(c->loop, c->fd, events, on_io, c);
        if (c->watch == NULL)
            conn_lost(c, "cannot watch the connection", 1);
        return;
    }
    if (watch_events(c, events) != 0)
        conn_lost(c, "cannot watch the connection", 1);
}

static void on_io(turbo_watch *w, unsigned revents, void *ud)
{
    (void)w;
    conn *c = ud;
    if (c->state == CONNECTING) {
        connect_step(c);
        return;
    }
    if ((revents & TURBO_WRITE) && flush(c) != 0)
        return;
    if (revents & TURBO_READ)
        read_results(c);
}

static void on_connect_timeout(void *ud)
{
    conn *c = ud;
    c->connect_timer = NULL; /* it is gone once this returns */
    conn_lost(c, "cannot connect within 5 s", 1);
}

/* Starts a connection attempt (DOWN -> CONNECTING); -1 when it failed at
 * once (the conn is DOWN again, with a retry time). */
static int conn_start(conn *c)
{
    c->pg = PQconnectStart(conninfo);
    if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD) {
        conn_lost(c, "cannot connect", 1);
        return -1;
    }
    c->state = CONNECTING;
    c->fd = PQsocket(c->pg);
    /* As if PQconnectPoll had asked for writability (libpq's rule). */
    c->events = TURBO_WRITE;
    c->watch = turbo_loop_watch(c->loop, c->fd, c->events, on_io, c);
    c->connect_timer = turbo_loop_timer(c->loop, CONNECT_TIMEOUT_MS, on_connect_timeout, c);
    if (c->watch == NULL || c->connect_timer == NULL) {
        conn_lost(c, "cannot watch the connection", 1);
        return -1;
    }
    return 0;
}

/* The handler of all four routes; user_data says which test. */
static int handle(turbo_request *req, turbo_response *res, void *ud)
{
    int test = (int)(intptr_t)ud;
    conn *c = &conns[turbo_request_thread(req)];
    if (c->loop == NULL) {
        c->loop = turbo_request_loop(req);
        c->thread = turbo_request_thread(req);
    }
    if (c->state == DOWN && (now_ms() < c->retry_at || conn_start(c) != 0))
        return te_send_error(res, 503); /* answered now, not deferred */

    int n = test == TE_QUERIES || test == TE_UPDATES ? te_queries_param(req) : 1;
    job *j = calloc(1, sizeof(*j) + (size_t)n * sizeof(world));
    if (j == NULL)
        return TURBO_ENOMEM;
    j->c = c;
    j->test = test;
    j->n = test == TE_FORTUNES ? 1 : n;
    if (test == TE_UPDATES)
        te_random_distinct_sorted(j->rows, n);
    else if (test != TE_FORTUNES)
        for (int i = 0; i < n; i++)
            j->rows[i].id = te_random();

    j->d = turbo_defer(req, res);
    if (j->d == NULL) {
        free(j);
        return TURBO_ENOMEM;
    }
    turbo_deferred_on_cancel(j->d, on_cancel, j);
    if (c->state == READY) {
        if (send_job(c, j) == 0)
            flush(c);
    } else {
        push(&c->waiting, j);
    }
    return TURBO_DEFER;
}

int te_loop_routes(turbo_server *s, const char *info)
{
    static const struct {
        const char *path;
        int test;
    } routes[] = {{"/db", TE_DB}, {"/queries", TE_QUERIES}, {"/fortunes", TE_FORTUNES},
                  {"/updates", TE_UPDATES}};
    conninfo = info;
    nconns = turbo_server_threads(s);
    conns = calloc(nconns, sizeof(*conns));
    if (conns == NULL)
        return TURBO_ENOMEM;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = turbo_route_add(s, "GET", routes[i].path, handle,
                                 (void *)(intptr_t)routes[i].test);
        if (rc != TURBO_OK)
            return rc;
    }
    return TURBO_OK;
}

void te_loop_close(void)
{
    /* The I/O threads have ended: close their connections from here. Their
     * watches cannot be freed any more (turbo_watch_free() is for the
     * loop's own thread, and the API has no hook that runs on it when it
     * stops), so conns, which points to them, is kept until exit. */
    for (unsigned i = 0; conns != NULL && i < nconns; i++) {
        PQfinish(conns[i].pg);
        conns[i].pg = NULL;
    }
}
