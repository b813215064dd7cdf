/*
 * A C consumer of the installed libturbo, built with nothing but pkg-config:
 *
 *   shared: cc hello.c $(pkg-config --cflags --libs turbo)
 *   static: libturbo.a, its dependencies from pkg-config --static
 *
 *   GET  /hello/{name}  200 text/plain "hello NAME from c\n"
 *   POST /stop          200, then the server stops and the program exits 0
 *
 * Usage: hello [PORT]   (default 0: any free port). The first line on
 * stdout is "listening on PORT", the second "libturbo VERSION".
 */
#define _POSIX_C_SOURCE 200809L /* sigaction */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <turbo/turbo.h>

static turbo_server *server;

/* The name is a slice of the request (not NUL-terminated, valid until the
 * handler returns): the body is assembled in the request arena. */
static int hello(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    static const char head[] = "hello ", tail[] = " from c\n";
    turbo_str name = turbo_request_param(req, "name", 4);
    size_t len = sizeof(head) - 1 + name.len + sizeof(tail) - 1;
    char *body = turbo_request_alloc(req, len);
    if (body == NULL)
        return TURBO_ENOMEM;
    memcpy(body, head, sizeof(head) - 1);
    if (name.len > 0)
        memcpy(body + sizeof(head) - 1, name.ptr, name.len);
    memcpy(body + sizeof(head) - 1 + name.len, tail, sizeof(tail) - 1);
    int rc = turbo_response_header(res, "Content-Type", 12, "text/plain", 10);
    if (rc == TURBO_OK)
        rc = turbo_response_body(res, body, len);
    return rc;
}

/* Runs on an I/O thread: stop only asks; the response is still written. */
static int stop(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)res;
    turbo_server_stop(ud);
    return TURBO_OK;
}

static void on_signal(int sig)
{
    (void)sig;
    turbo_server_stop(server); /* async-signal-safe */
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    char expected[32];
    snprintf(expected, sizeof(expected), "%d.%d.%d", TURBO_VERSION_MAJOR, TURBO_VERSION_MINOR,
             TURBO_VERSION_PATCH);
    if (strcmp(turbo_version(), expected) != 0 || turbo_abi_version() != TURBO_ABI_VERSION) {
        fprintf(stderr, "header says %s (ABI %d), library says %s (ABI %d)\n", expected,
                TURBO_ABI_VERSION, turbo_version(), turbo_abi_version());
        return 1;
    }

    server = turbo_server_new(NULL);
    if (server == NULL)
        return 1;
    int rc = turbo_server_listen(server, "127.0.0.1", port);
    if (rc == TURBO_OK)
        rc = turbo_route_add(server, "GET", "/hello/{name}", hello, NULL);
    if (rc == TURBO_OK)
        rc = turbo_route_add(server, "POST", "/stop", stop, server);
    if (rc != TURBO_OK) {
        fprintf(stderr, "hello: %s\n", turbo_strerror(rc));
        turbo_server_free(server);
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf("listening on %d\nlibturbo %s\n", turbo_server_port(server), turbo_version());
    fflush(stdout);
    rc = turbo_server_run(server); /* until /stop or a signal */
    turbo_server_free(server);
    if (rc != TURBO_OK) {
        fprintf(stderr, "hello: %s\n", turbo_strerror(rc));
        return 1;
    }
    return 0;
}
