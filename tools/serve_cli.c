/* The command line of turbo-hello and turbo-serve (serve_cli.h). */
#define _GNU_SOURCE /* unsetenv */
#include "serve_cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

void serve_cli_fail(const serve_cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", c->prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* Digits only (no sign, no spaces), within lo..hi. */
static int parse_num(const char *s, long lo, long hi, long *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

enum { OPT_HELP, OPT_REUSE_PORT, OPT_BLOCKING, OPT_PROXY_PROTOCOL, OPT_HOST, OPT_PORT,
       OPT_THREADS, OPT_FD, OPT_WORKERS, OPT_INTERFACE, OPT_ROOT_PATH, OPT_ACCESS_LOG,
       OPT_FORWARDED_ALLOW, OPT_FORWARDED_HEADER, OPT_HEALTH_PATH, OPT_METRICS_PATH, NOPTS };
static const char *const option_names[NOPTS] = {
    "--help",      "--reuse-port", "--blocking",   "--proxy-protocol",     "--host",
    "--port",      "--threads",    "--fd",         "--workers",            "--interface",
    "--root-path", "--access-log", "--forwarded-allow-ips", "--forwarded-header",
    "--health-path", "--metrics-path"};

int serve_cli_forwarded_header(const serve_cli *c)
{
    return c->forwarded_header != NULL && strcmp(c->forwarded_header, "forwarded") == 0
               ? TURBO_FORWARDED_RFC7239
                                                         : TURBO_FORWARDED_X_FORWARDED_FOR;
}

int serve_cli_configure(const serve_cli *c, turbo_config *cfg)
{
    int rc = turbo_config_set_proxy_protocol(cfg, c->proxy_protocol);
    if (rc == TURBO_OK && c->forwarded_allow != NULL)
        rc = turbo_config_set_forwarded(cfg, c->forwarded_allow, serve_cli_forwarded_header(c));
    if (rc == TURBO_OK)
        rc = turbo_config_set_health_path(cfg, c->health_path);
    if (rc == TURBO_OK)
        rc = turbo_config_set_metrics_path(cfg, c->metrics_path);
    return rc;
}

void serve_cli_parse(serve_cli *c, int argc, char **argv)
{
    c->host = "127.0.0.1";
    c->port = 8000;
    c->fd = -1;
    c->workers = 1;
    c->reuse_port = 0;
    c->positional = NULL;
    c->have_host = c->have_port = 0;
    c->interface = "auto";
    c->root_path = "";
    c->blocking = 0;
    c->access_log = NULL;
    c->proxy_protocol = 0;
    c->forwarded_allow = NULL;
    c->forwarded_header = NULL;
    c->health_path = c->metrics_path = NULL;
    int options_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (options_done || arg[0] != '-' || arg[1] == '\0') {
            if (!c->with_positional || c->positional != NULL)
                serve_cli_fail(c, "unexpected argument '%s' (see --help)", arg);
            c->positional = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options_done = 1;
            continue;
        }
        /* Whole names only (no abbreviations); --name VALUE or --name=VALUE. */
        const char *eq = strchr(arg, '=');
        size_t nlen = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
        const char *value = eq != NULL ? eq + 1 : NULL;
        int which = -1;
        for (int k = 0; k < NOPTS; k++)
            if (strlen(option_names[k]) == nlen && strncmp(arg, option_names[k], nlen) == 0)
                which = k;
        int app_option = which == OPT_INTERFACE || which == OPT_ROOT_PATH ||
                         which == OPT_BLOCKING || which == OPT_ACCESS_LOG;
        if (which < 0 || (which == OPT_WORKERS && !c->with_workers) ||
            (app_option && !c->with_interface))
            serve_cli_fail(c, "unknown option '%.*s' (see --help)", (int)nlen, arg);
        if (which == OPT_HELP || which == OPT_REUSE_PORT || which == OPT_BLOCKING ||
            which == OPT_PROXY_PROTOCOL) {
            if (value != NULL)
                serve_cli_fail(c, "option %s takes no value", option_names[which]);
            if (which == OPT_PROXY_PROTOCOL) {
                c->proxy_protocol = 1;
                continue;
            }
            if (which == OPT_REUSE_PORT) {
                c->reuse_port = 1;
                continue;
            }
            if (which == OPT_BLOCKING) {
                c->blocking = 1;
                continue;
            }
            c->usage(stdout);
            exit(0);
        }
        if (value == NULL) {
            if (i + 1 >= argc)
                serve_cli_fail(c, "option %s needs a value", option_names[which]);
            value = argv[++i];
        }
        switch (which) {
        case OPT_HOST:
            c->host = value;
            c->have_host = 1;
            break;
        case OPT_PORT:
            if (parse_num(value, 0, 65535, &c->port) != 0)
                serve_cli_fail(c, "--port must be a number from 0 to 65535, not '%s'", value);
            c->have_port = 1;
            break;
        case OPT_THREADS:
            if (parse_num(value, 0, 1024, &c->threads) != 0)
                serve_cli_fail(c, "--threads must be a number from 0 to 1024, not '%s'", value);
            break;
        case OPT_WORKERS:
            if (parse_num(value, 1, 1024, &c->workers) != 0)
                serve_cli_fail(c, "--workers must be a number from 1 to 1024, not '%s'", value);
            break;
        case OPT_INTERFACE:
            if (strcmp(value, "auto") != 0 && strcmp(value, "turbo") != 0 &&
                strcmp(value, "wsgi") != 0 && strcmp(value, "asgi") != 0)
                serve_cli_fail(c, "--interface must be auto, turbo, wsgi or asgi, not '%s'", value);
            c->interface = value;
            break;
        case OPT_ROOT_PATH:
            if (value[0] != '\0' && (value[0] != '/' || value[strlen(value) - 1] == '/'))
                serve_cli_fail(c, "--root-path must start with '/' and not end with one, not '%s'",
                               value);
            c->root_path = value;
            break;
        case OPT_ACCESS_LOG:
            if (value[0] == '\0')
                serve_cli_fail(c, "--access-log needs a file, or - for standard output");
            c->access_log = value;
            break;
        case OPT_FORWARDED_ALLOW: {
            turbo_config *probe = turbo_config_new();
            int rc = probe != NULL ? turbo_config_set_forwarded(probe, value, 1) : TURBO_ENOMEM;
            turbo_config_free(probe);
            if (rc != TURBO_OK)
                serve_cli_fail(c,
                               "--forwarded-allow-ips must be a comma-separated list of at most "
                               "32 IP addresses, networks (10.0.0.0/8) or *, not '%s'",
                               value);
            c->forwarded_allow = value;
            break;
        }
        case OPT_FORWARDED_HEADER:
            if (strcmp(value, "x-forwarded-for") != 0 && strcmp(value, "forwarded") != 0)
                serve_cli_fail(c, "--forwarded-header must be x-forwarded-for or forwarded, not '%s'",
                               value);
            c->forwarded_header = value;
            break;
        case OPT_HEALTH_PATH:
        case OPT_METRICS_PATH: {
            turbo_config *probe = turbo_config_new();
            int rc = probe == NULL ? TURBO_ENOMEM
                     : which == OPT_HEALTH_PATH ? turbo_config_set_health_path(probe, value)
                                                : turbo_config_set_metrics_path(probe, value);
            turbo_config_free(probe);
            if (rc != TURBO_OK || value[0] == '\0')
                serve_cli_fail(c,
                               "%s must be a path starting with '/' (visible ASCII, no {}?#, at "
                               "most 255 bytes), not '%s'",
                               option_names[which], value);
            if (which == OPT_HEALTH_PATH)
                c->health_path = value;
            else
                c->metrics_path = value;
            break;
        }
        default:
            if (parse_num(value, 0, INT_MAX, &c->fd) != 0)
                serve_cli_fail(c, "--fd must be a file descriptor number, not '%s'", value);
            break;
        }
    }
    if (c->fd >= 0 && (c->have_host || c->have_port))
        serve_cli_fail(c, "--fd cannot be combined with --host or --port");
    if (c->health_path != NULL && c->metrics_path != NULL &&
        strcmp(c->health_path, c->metrics_path) == 0)
        serve_cli_fail(c, "--health-path and --metrics-path must differ");
    if (c->blocking && strcmp(c->interface, "wsgi") != 0 && strcmp(c->interface, "auto") != 0)
        serve_cli_fail(c, "--blocking is for WSGI applications (--interface wsgi)");
}

/* turbo_server_listen_fd()'s errno, as the reader of a message wants it. */
static const char *fd_problem(int err)
{
    switch (err) {
    case EBADF: return "not an open file descriptor";
    case ENOTSOCK: return "not a socket";
    case EINVAL: return "not a listening socket (listen() was not called on it)";
    case EPROTOTYPE: return "not a stream socket";
    default: return strerror(err);
    }
}

/* "http://ADDR:PORT/" or "unix:PATH" for the socket fd listens on. */
static void describe_fd(int fd, char *buf, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN];
    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        snprintf(buf, size, "fd %d", fd);
    } else if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        snprintf(buf, size, "http://%s:%u/", ip, (unsigned)ntohs(in->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        snprintf(buf, size, "http://[%s]:%u/", ip, (unsigned)ntohs(in6->sin6_port));
    } else if (ss.ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)&ss;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t n = len > off ? len - off : 0;
        if (n > 0 && un->sun_path[0] == '\0') /* abstract */
            snprintf(buf, size, "unix:@%.*s", (int)(n - 1), un->sun_path + 1);
        else
            snprintf(buf, size, "unix:%.*s", (int)strnlen(un->sun_path, n), un->sun_path);
    } else {
        snprintf(buf, size, "fd %d", fd);
    }
}

int serve_cli_inherited(const serve_cli *c, turbo_server *s, char *where, size_t size)
{
    if (c->fd >= 0) {
        /* --fd wins over socket activation, whose variables must still not
         * reach the processes this one starts. */
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
        if (turbo_server_listen_fd(s, (int)c->fd) != TURBO_OK)
            serve_cli_fail(c, "--fd %ld: %s", c->fd, fd_problem(errno));
        char addr[256];
        describe_fd((int)c->fd, addr, sizeof(addr));
        snprintf(where, size, "%s (inherited fd %ld)", addr, c->fd);
        return (int)c->fd;
    }
    char fds[32];
    snprintf(fds, sizeof(fds), "%s", getenv("LISTEN_FDS") ? getenv("LISTEN_FDS") : "");
    int rc = turbo_server_listen_activated(s);
    if (rc == 1) {
        char addr[256];
        describe_fd(3, addr, sizeof(addr));
        snprintf(where, size, "%s (inherited fd 3)", addr);
        return 3;
    }
    if (rc < 0) {
        if (errno == EDOM)
            serve_cli_fail(c, "LISTEN_FDS='%s' is not a number of sockets", fds);
        if (errno == E2BIG)
            serve_cli_fail(c, "LISTEN_FDS=%s: socket activation passed %s sockets, only one is "
                           "supported", fds, fds);
        serve_cli_fail(c, "LISTEN_FDS fd 3: %s", fd_problem(errno));
    }
    return -1;
}

int serve_cli_listen(const serve_cli *c, turbo_server *s, char *where, size_t size)
{
    if (serve_cli_inherited(c, s, where, size) >= 0)
        return 0;
    if (turbo_server_listen(s, c->host, (int)c->port) != TURBO_OK) {
        int err = errno;
        fprintf(stderr, "%s: cannot listen on %s:%ld: %s%s\n", c->prog, c->host, c->port,
                strerror(err),
                err == EADDRINUSE && !c->reuse_port
                    ? " (another process holds the port; --reuse-port shares it)"
                    : "");
        return 1;
    }
    int bracket = strchr(c->host, ':') != NULL;
    snprintf(where, size, "http://%s%s%s:%d/", bracket ? "[" : "", c->host, bracket ? "]" : "",
             turbo_server_port(s));
    return 0;
}

turbo_server *serve_cli_server(const serve_cli *c, char *where, size_t size)
{
    turbo_config *cfg = turbo_config_new();
    if (cfg == NULL || turbo_config_set_threads(cfg, (unsigned)c->threads) != TURBO_OK ||
        turbo_config_set_exclusive_port(cfg, !c->reuse_port) != TURBO_OK ||
        serve_cli_configure(c, cfg) != TURBO_OK) {
        fprintf(stderr, "%s: cannot configure the server\n", c->prog);
        turbo_config_free(cfg);
        return NULL;
    }
    turbo_server *s = turbo_server_new(cfg);
    turbo_config_free(cfg);
    if (s == NULL) {
        fprintf(stderr, "%s: out of memory\n", c->prog);
        return NULL;
    }
    if (serve_cli_listen(c, s, where, size) != 0) {
        turbo_server_free(s);
        return NULL;
    }
    return s;
}
