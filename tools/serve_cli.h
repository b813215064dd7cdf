/*
 * The command line that turbo-hello and turbo-serve share: where to serve
 * (--host/--port, --fd N, or systemd socket activation), whether to share
 * a port another process holds (--reuse-port; refused by default) and how
 * many I/O threads, plus turbo-serve's --workers and MODULE:APP. Bad input is one
 * line on stderr and exit status 2; --help prints the program's usage and
 * exits 0.
 */
#ifndef TURBO_SERVE_CLI_H
#define TURBO_SERVE_CLI_H

#include <stddef.h>
#include <stdio.h>

#include <turbo/turbo.h>

typedef struct serve_cli {
    /* set by the program before serve_cli_parse() */
    const char *prog;             /* "turbo-hello": the prefix of every message */
    void (*usage)(FILE *out);     /* the program's --help text */
    int with_workers;             /* accept --workers N (1..1024) */
    int with_positional;          /* one positional argument is required */
    int with_interface;           /* accept --interface, --root-path, --blocking, --access-log */
    long threads;                 /* default for --threads */
    /* results */
    const char *host;             /* default 127.0.0.1 */
    long port;                    /* default 8000 */
    long fd;                      /* --fd N, or -1 */
    long workers;                 /* default 1 */
    int reuse_port;               /* --reuse-port: share a port somebody holds */
    const char *positional;
    int have_host, have_port;
    const char *interface;        /* auto (default), turbo, wsgi, asgi */
    const char *root_path;        /* default "" */
    int blocking;                 /* --blocking: a WSGI app on the blocking pool */
    const char *access_log;       /* --access-log FILE ("-": stdout), or NULL */
    /* behind a load balancer (both programs) */
    int proxy_protocol;           /* --proxy-protocol: a PROXY header opens every connection */
    const char *forwarded_allow;  /* --forwarded-allow-ips LIST, or NULL */
    const char *forwarded_header; /* --forwarded-header x-forwarded-for|forwarded, or NULL */
    const char *health_path;      /* --health-path PATH, or NULL */
    const char *metrics_path;     /* --metrics-path PATH, or NULL */
} serve_cli;

/* --forwarded-header's value as libturbo's enum turbo_forwarded_header. */
int serve_cli_forwarded_header(const serve_cli *c);

/* Sets what c says of the load balancer in front on cfg (PROXY protocol,
 * trusted forwarded headers, health and metrics routes); the values were
 * checked by serve_cli_parse. */
int serve_cli_configure(const serve_cli *c, turbo_config *cfg);

/* Parses argv into c (defaults first); exits 0 after --help, 2 on an error. */
void serve_cli_parse(serve_cli *c, int argc, char **argv);

/* One line "PROG: message" on stderr, exit status 2. */
__attribute__((format(printf, 2, 3), noreturn)) void serve_cli_fail(const serve_cli *c,
                                                                   const char *fmt, ...);

/* A server with c's threads (and exclusive port unless --reuse-port), listening as c says: --fd N, else a socket
 * from systemd socket activation, else --host/--port. Writes the URL (or
 * the socket) served to where. Exits 2 for an inherited fd that is not a
 * listening socket or a bad LISTEN_FDS; NULL, after a message, when the
 * server cannot be made or bound. */
turbo_server *serve_cli_server(const serve_cli *c, char *where, size_t size);

/* The inherited socket c names, if any: --fd N, else the socket of
 * systemd socket activation. Serves it on s (as turbo_server_listen_fd())
 * and returns its fd, writing what it is to where; -1 when there is none
 * (bind --host/--port then). Exits 2 as serve_cli_server(). */
int serve_cli_inherited(const serve_cli *c, turbo_server *s, char *where, size_t size);

/* The listening part of serve_cli_server(), for a server made elsewhere
 * (turbo-serve's comes from the Python App's configuration). Returns 0, or
 * 1 after a message when binding failed; exits 2 as serve_cli_server(). */
int serve_cli_listen(const serve_cli *c, turbo_server *s, char *where, size_t size);

#endif
