/*
 * The C server of the soak test (bench/soak.sh): turbo-hello's routes plus
 * a thread that adds and removes routes all the time, so the live route
 * table churns under the load.
 *
 *   soak-server PORT THREADS
 *
 * Routes: GET /hello, GET /users/{id}, POST /echo (as turbo-hello), and
 * GET /churn/{n} present or absent at any moment (answers "churn"). Stops
 * on SIGTERM/SIGINT; prints its counters on the way out.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <turbo/turbo.h>

static turbo_server *server;
static _Atomic int done;
static _Atomic long released;

static int text(turbo_response *res, const char *type, const char *body, size_t len)
{
    int rc = turbo_response_header(res, "Content-Type", 12, type, strlen(type));
    return rc == TURBO_OK ? turbo_response_body(res, body, len) : rc;
}

static int hello(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req, (void)ud;
    static const char b[] = "{\"message\":\"Hello, World!\"}";
    return text(res, "application/json", b, sizeof(b) - 1);
}

static int user(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_str id = turbo_request_param(req, "id", 2);
    char buf[256];
    int n = snprintf(buf, sizeof(buf), "{\"id\":\"%.*s\"}", (int)(id.len < 200 ? id.len : 200), id.ptr);
    return text(res, "application/json", buf, (size_t)n);
}

static int echo(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_str b = turbo_request_body(req);
    return text(res, "application/octet-stream", b.ptr, b.len);
}

static int churn(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    if (strcmp(ud, "churn") != 0) /* use-after-release would show here (and under ASan) */
        return TURBO_EHANDLER;
    return text(res, "text/plain", "churn", 5);
}

static void release(void *ud)
{
    free(ud);
    atomic_fetch_add(&released, 1);
}

static void *churner(void *arg)
{
    (void)arg;
    unsigned n = 0;
    while (!atomic_load(&done)) {
        char pat[64];
        snprintf(pat, sizeof(pat), "/churn/%u", n % 16);
        if (turbo_route_remove(server, "GET", pat) == TURBO_ENOENT)
            turbo_route_add_full(server, "GET", pat, churn, strdup("churn"), release);
        n++;
        usleep(500);
    }
    return NULL;
}

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&done, 1);
    turbo_server_stop(server);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s PORT THREADS\n", argv[0]);
        return 2;
    }
    turbo_config *cfg = turbo_config_new();
    turbo_config_set_threads(cfg, (unsigned)atoi(argv[2]));
    turbo_config_set_header_timeout_ms(cfg, 5000);
    server = turbo_server_new(cfg);
    turbo_config_free(cfg);
    if (server == NULL || turbo_server_listen(server, "127.0.0.1", atoi(argv[1])) != TURBO_OK ||
        turbo_route_add(server, "GET", "/hello", hello, NULL) != TURBO_OK ||
        turbo_route_add(server, "GET", "/users/{id}", user, NULL) != TURBO_OK ||
        turbo_route_add(server, "POST", "/echo", echo, NULL) != TURBO_OK)
        return 1;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (turbo_server_start(server) != TURBO_OK)
        return 1;
    pthread_t th;
    pthread_create(&th, NULL, churner, NULL);
    printf("soak-server: http://127.0.0.1:%d/\n", turbo_server_port(server));
    fflush(stdout);
    turbo_server_wait(server);
    atomic_store(&done, 1);
    pthread_join(th, NULL);
    printf("soak-server: requests %llu, bad %llu, handler errors %llu, timeouts %llu\n",
           (unsigned long long)turbo_server_stat(server, TURBO_STAT_REQUESTS),
           (unsigned long long)turbo_server_stat(server, TURBO_STAT_BAD_REQUESTS),
           (unsigned long long)turbo_server_stat(server, TURBO_STAT_HANDLER_ERRORS),
           (unsigned long long)turbo_server_stat(server, TURBO_STAT_TIMEOUTS));
    turbo_server_free(server);
    printf("soak-server: route data released %ld\n", atomic_load(&released));
    return 0;
}
