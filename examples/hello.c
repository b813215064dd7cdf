/*
 * turbo-hello: the demo server.
 *
 *   GET  /            200 text/plain        "Hello from libturbo\n"
 *   GET  /hello       200 application/json  {"message":"Hello, World!"}
 *   GET  /users/{id}  200 application/json  {"id":"<id as sent>"}
 *   POST /echo        200, the request body back with its Content-Type
 *
 * It binds --host/--port, or serves on an inherited listening socket:
 * --fd N, or systemd socket activation (turbo_server_listen_activated).
 * The command line is shared with turbo-serve (tools/serve_cli.c). See
 * docs/deployment.md and deploy/.
 */
#define _GNU_SOURCE /* sigaction */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <turbo/turbo.h>

#include "serve_cli.h"

static turbo_server *server;

static int send_text(turbo_response *res, const char *type, const char *body, size_t len)
{
    int rc = turbo_response_header(res, "Content-Type", 12, type, strlen(type));
    if (rc == TURBO_OK)
        rc = turbo_response_body(res, body, len);
    return rc;
}

static int root(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    static const char body[] = "Hello from libturbo\n";
    return send_text(res, "text/plain", body, sizeof(body) - 1);
}

static int hello(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    static const char body[] = "{\"message\":\"Hello, World!\"}";
    return send_text(res, "application/json", body, sizeof(body) - 1);
}

/* The id goes into a JSON string as sent; the characters a path segment
 * may hold that JSON would need escaped are '"' and '\\' only (controls
 * never reach a handler). */
static int user(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_str id = turbo_request_param(req, "id", 2);
    char *buf = turbo_request_alloc(req, id.len * 2 + 16);
    if (buf == NULL)
        return TURBO_ENOMEM;
    size_t n = 0;
    memcpy(buf, "{\"id\":\"", 7);
    n = 7;
    for (size_t i = 0; i < id.len; i++) {
        if (id.ptr[i] == '"' || id.ptr[i] == '\\')
            buf[n++] = '\\';
        buf[n++] = id.ptr[i];
    }
    memcpy(buf + n, "\"}", 2);
    n += 2;
    return send_text(res, "application/json", buf, n);
}

static int echo(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_str type;
    if (turbo_request_header(req, "Content-Type", 12, &type) == TURBO_OK) {
        int rc = turbo_response_header(res, "Content-Type", 12, type.ptr, type.len);
        if (rc != TURBO_OK)
            return rc;
    }
    turbo_str body = turbo_request_body(req);
    return turbo_response_body(res, body.ptr, body.len);
}

static void on_signal(int sig)
{
    (void)sig;
    turbo_server_stop(server);
}

static void usage(FILE *out)
{
    fputs("usage: turbo-hello [--host HOST] [--port PORT] [--reuse-port] [--threads N]\n"
          "                   [--proxy-protocol] [--forwarded-allow-ips LIST]\n"
          "                   [--forwarded-header x-forwarded-for|forwarded]\n"
          "                   [--health-path PATH] [--metrics-path PATH]\n"
          "       turbo-hello --fd N [--threads N]\n"
          "\n"
          "Serves the libturbo demo routes until SIGINT or SIGTERM, which stop accepting,\n"
          "finish the requests in flight and exit 0.\n"
          "\n"
          "Options (--name VALUE or --name=VALUE):\n"
          "  --host HOST    address to bind (default 127.0.0.1)\n"
          "  --port PORT    port to bind, 0 for any free one (default 8000); refused when\n"
          "                 another process holds it\n"
          "  --reuse-port   share the port with the processes that hold it (SO_REUSEPORT:\n"
          "                 the kernel splits new connections; for a hand-over from an old\n"
          "                 instance to a new one)\n"
          "  --fd N         serve on the inherited listening socket N instead of binding;\n"
          "                 not with --host or --port (default: none)\n"
          "  --threads N    I/O threads, 0 for one per CPU (default 0)\n"
          "  --proxy-protocol  every connection must open with a PROXY protocol v1 or v2\n"
          "                 header, whose client becomes the request's (GET /users/ID\n"
          "                 does not show it; turbo-serve apps do)\n"
          "  --forwarded-allow-ips LIST  proxies trusted to name the client in\n"
          "                 --forwarded-header (addresses, networks, *; default none)\n"
          "  --forwarded-header H  x-forwarded-for (default) or forwarded\n"
          "  --health-path P  GET P answers 200 ok while serving, 503 once stopping\n"
          "  --metrics-path P  GET P answers the counters in the Prometheus text format\n"
          "  --help         show this text and exit\n"
          "\n"
          "Environment:\n"
          "  LISTEN_PID, LISTEN_FDS  systemd socket activation: when LISTEN_PID is this\n"
          "                 process's PID and LISTEN_FDS is 1, serves on fd 3 (--host and\n"
          "                 --port are ignored; --fd wins). LISTEN_FDS above 1 is an error.\n"
          "                 LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are then removed\n"
          "                 from the environment.\n"
          "\n"
          "Exit status:\n"
          "  0  stopped by SIGINT or SIGTERM\n"
          "  1  the server failed (cannot bind, the port is held, out of memory)\n"
          "  2  usage error: bad option or value, unexpected argument, an inherited fd\n"
          "     that is not a listening socket, LISTEN_FDS above 1\n",
          out);
}

int main(int argc, char **argv)
{
    serve_cli cli = {.prog = "turbo-hello", .usage = usage, .threads = 0};
    serve_cli_parse(&cli, argc, argv);

    char where[512];
    server = serve_cli_server(&cli, where, sizeof(where));
    if (server == NULL)
        return 1;
    int rc;
    if ((rc = turbo_route_add(server, "GET", "/", root, NULL)) != TURBO_OK ||
        (rc = turbo_route_add(server, "GET", "/hello", hello, NULL)) != TURBO_OK ||
        (rc = turbo_route_add(server, "GET", "/users/{id}", user, NULL)) != TURBO_OK ||
        (rc = turbo_route_add(server, "POST", "/echo", echo, NULL)) != TURBO_OK) {
        fprintf(stderr, "turbo-hello: cannot add routes: %s\n", turbo_strerror(rc));
        turbo_server_free(server);
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf("turbo-hello: serving on %s with %u thread(s)\n", where, turbo_server_threads(server));
    fflush(stdout);
    rc = turbo_server_run(server);
    turbo_server_free(server);
    if (rc != TURBO_OK) {
        fprintf(stderr, "turbo-hello: %s\n", turbo_strerror(rc));
        return 1;
    }
    printf("turbo-hello: stopped\n");
    return 0;
}
