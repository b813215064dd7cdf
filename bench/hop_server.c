/*
 * The server of bench/hop.sh: the same small answer served four ways, to
 * price a hop to another thread and back against the inline path.
 *   /inline  answered by the handler
 *   /defer   deferred and finished before the handler returns (the
 *            detach alone: copies, a fresh exchange, no other thread)
 *   /hop     deferred, handed to a finisher thread (a mutex and a
 *            condition variable, signalled when its queue was empty; it
 *            takes all that is queued at each wake-up), finished there
 *   /pool    a TURBO_ROUTE_BLOCKING route: the blocking pool and back
 * usage: hop-server PORT   (one I/O thread; SIGTERM stops it)
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <turbo/turbo.h>

static const char body[] = "{\"message\":\"Hello, World!\"}";
static turbo_server *server;

static int answer(turbo_response *res)
{
    turbo_response_header(res, "Content-Type", 12, "application/json", 16);
    return turbo_response_body(res, body, sizeof(body) - 1);
}

static int inline_hello(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req, (void)ud;
    return answer(res);
}

static int defer_hello(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_deferred *d = turbo_defer(req, res);
    if (d == NULL)
        return TURBO_ENOMEM;
    answer(turbo_deferred_response(d));
    turbo_deferred_finish(d);
    return TURBO_DEFER;
}

#define QCAP 65536
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;
static turbo_deferred *queue[QCAP];
static unsigned qhead, qtail;

static int hop_hello(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_deferred *d = turbo_defer(req, res);
    if (d == NULL)
        return TURBO_ENOMEM;
    pthread_mutex_lock(&qlock);
    if (qhead == qtail)
        pthread_cond_signal(&qcond);
    queue[qtail++ % QCAP] = d;
    pthread_mutex_unlock(&qlock);
    return TURBO_DEFER;
}

static void *finisher(void *arg)
{
    (void)arg;
    turbo_deferred *batch[256];
    for (;;) {
        pthread_mutex_lock(&qlock);
        while (qhead == qtail)
            pthread_cond_wait(&qcond, &qlock);
        unsigned n = 0;
        while (qhead != qtail && n < 256)
            batch[n++] = queue[qhead++ % QCAP];
        pthread_mutex_unlock(&qlock);
        for (unsigned i = 0; i < n; i++) {
            answer(turbo_deferred_response(batch[i]));
            turbo_deferred_finish(batch[i]);
        }
    }
    return NULL;
}

static void on_signal(int sig)
{
    (void)sig;
    turbo_server_stop(server);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: hop-server PORT\n");
        return 2;
    }
    turbo_config *cfg = turbo_config_new();
    turbo_config_set_threads(cfg, 1);
    server = turbo_server_new(cfg);
    turbo_config_free(cfg);
    if (server == NULL || turbo_server_listen(server, "127.0.0.1", atoi(argv[1])) != TURBO_OK) {
        fprintf(stderr, "hop-server: cannot listen\n");
        return 1;
    }
    turbo_route_add(server, "GET", "/inline", inline_hello, NULL);
    turbo_route_add(server, "GET", "/defer", defer_hello, NULL);
    turbo_route_add(server, "GET", "/hop", hop_hello, NULL);
    turbo_route_add_opts(server, "GET", "/pool", inline_hello, NULL, NULL, TURBO_ROUTE_BLOCKING);
    pthread_t th;
    pthread_create(&th, NULL, finisher, NULL);
    pthread_detach(th);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("hop-server: serving on %d\n", turbo_server_port(server));
    fflush(stdout);
    int rc = turbo_server_run(server);
    turbo_server_free(server);
    return rc == TURBO_OK ? 0 : 1;
}
