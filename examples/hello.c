/*
 * turbo-hello: the demo server.
 *
 *   GET  /            200 text/plain        "Hello from libturbo\n"
 *   GET  /hello       200 application/json  {"message":"Hello, World!"}
 *   GET  /users/{id}  200 application/json  {"id":"<id as sent>"}
 *   POST /echo        200, the request body back with its Content-Type
 */
#define _GNU_SOURCE /* getopt_long, sigaction */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <turbo/turbo.h>

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

static void usage(FILE *out, const char *argv0)
{
    fprintf(out,
            "usage: %s [--host HOST] [--port PORT] [--threads N]\n"
            "\n"
            "Serves the libturbo demo routes until SIGINT or SIGTERM.\n"
            "  --host HOST    address to bind (default 127.0.0.1)\n"
            "  --port PORT    port to bind, 0 for any free one (default 8000)\n"
            "  --threads N    I/O threads, 0 for one per CPU (default 0)\n"
            "  --help         show this text\n",
            argv0);
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    long port = 8000, threads = 0;
    static const struct option opts[] = {{"host", required_argument, NULL, 'h'},
                                         {"port", required_argument, NULL, 'p'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'H'},
                                         {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p':
            if (parse_int(optarg, 0, 65535, &port) != 0) {
                fprintf(stderr, "%s: --port must be a number from 0 to 65535\n", argv[0]);
                return 2;
            }
            break;
        case 't':
            if (parse_int(optarg, 0, 1024, &threads) != 0) {
                fprintf(stderr, "%s: --threads must be a number from 0 to 1024\n", argv[0]);
                return 2;
            }
            break;
        case 'H': usage(stdout, argv[0]); return 0;
        default: usage(stderr, argv[0]); return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], argv[optind]);
        usage(stderr, argv[0]);
        return 2;
    }

    turbo_config *cfg = turbo_config_new();
    if (cfg == NULL || turbo_config_set_threads(cfg, (unsigned)threads) != TURBO_OK) {
        fprintf(stderr, "%s: cannot configure the server\n", argv[0]);
        return 1;
    }
    server = turbo_server_new(cfg);
    turbo_config_free(cfg);
    if (server == NULL) {
        fprintf(stderr, "%s: out of memory\n", argv[0]);
        return 1;
    }
    int rc = turbo_server_listen(server, host, (int)port);
    if (rc != TURBO_OK) {
        fprintf(stderr, "%s: cannot listen on %s:%ld: %s (%s)\n", argv[0], host, port,
                turbo_strerror(rc), strerror(errno));
        turbo_server_free(server);
        return 1;
    }
    if ((rc = turbo_route_add(server, "GET", "/", root, NULL)) != TURBO_OK ||
        (rc = turbo_route_add(server, "GET", "/hello", hello, NULL)) != TURBO_OK ||
        (rc = turbo_route_add(server, "GET", "/users/{id}", user, NULL)) != TURBO_OK ||
        (rc = turbo_route_add(server, "POST", "/echo", echo, NULL)) != TURBO_OK) {
        fprintf(stderr, "%s: cannot add routes: %s\n", argv[0], turbo_strerror(rc));
        turbo_server_free(server);
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int bracket = strchr(host, ':') != NULL;
    printf("turbo-hello: serving on http://%s%s%s:%d/ with %u thread(s)\n", bracket ? "[" : "", host,
           bracket ? "]" : "", turbo_server_port(server), turbo_server_threads(server));
    fflush(stdout);
    rc = turbo_server_run(server);
    turbo_server_free(server);
    if (rc != TURBO_OK) {
        fprintf(stderr, "%s: %s\n", argv[0], turbo_strerror(rc));
        return 1;
    }
    printf("turbo-hello: stopped\n");
    return 0;
}
