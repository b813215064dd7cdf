/*
 * turbo-techempower-pg: the TechEmpower database tests on PostgreSQL
 * (techempower.h lists the files). The command line is turbo-hello's
 * (tools/serve_cli.c) plus --pg and --blocking-threads.
 */
#define _GNU_SOURCE /* sigaction */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_cli.h"
#include "techempower.h"

static turbo_server *server;

static void on_signal(int sig)
{
    (void)sig;
    turbo_server_stop(server);
}

static void usage(FILE *out)
{
    fputs("usage: turbo-techempower-pg [--pg CONNINFO] [--host HOST] [--port PORT] [--reuse-port]\n"
          "                            [--threads N] [--blocking-threads N]\n"
          "       turbo-techempower-pg [--pg CONNINFO] --fd N [--threads N] [--blocking-threads N]\n"
          "\n"
          "Serves the six TechEmpower tests until SIGINT or SIGTERM:\n"
          "  GET /plaintext, /json\n"
          "      inline handlers, no database\n"
          "  GET /db, /queries?queries=N, /fortunes, /updates?queries=N\n"
          "      libpq's non-blocking API on each I/O thread's loop, one pipelined\n"
          "      connection per I/O thread\n"
          "  GET /blocking/db, /blocking/queries, /blocking/fortunes, /blocking/updates\n"
          "      the same with blocking libpq calls on the blocking pool, one connection\n"
          "      per pool thread\n"
          "The database needs the tables World and Fortune (scripts/pg-cluster.sh makes them).\n"
          "\n"
          "Options (--name VALUE or --name=VALUE):\n"
          "  --pg CONNINFO         libpq connection string, e.g. \"host=/tmp/pg port=5432\n"
          "                        dbname=hello_world\"; unset parts come from the PGHOST,\n"
          "                        PGPORT, PGDATABASE, PGUSER... variables (default \"\")\n"
          "  --host HOST           address to bind (default 127.0.0.1)\n"
          "  --port PORT           port to bind, 0 for any free one (default 8000)\n"
          "  --reuse-port          share the port with the processes that hold it\n"
          "  --fd N                serve on the inherited listening socket N\n"
          "  --threads N           I/O threads, 0 for one per CPU (default 0); each makes\n"
          "                        one database connection\n"
          "  --blocking-threads N  blocking-pool threads for /blocking/... (default 16);\n"
          "                        each makes one database connection\n"
          "  --help                show this text and exit\n"
          "\n"
          "Exit status: 0 stopped by a signal, 1 the server failed, 2 usage error.\n",
          out);
}

/* Takes --pg and --blocking-threads out of argv; serve_cli_parse() gets
 * the rest. */
static int take_own_options(serve_cli *cli, int argc, char **argv, const char **pg,
                            unsigned *blocking)
{
    int out = 1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = NULL;
        int which = 0;
        if (strcmp(arg, "--") == 0) {
            while (i < argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strncmp(arg, "--pg", 4) == 0 && (arg[4] == '\0' || arg[4] == '='))
            which = 1, value = arg[4] == '=' ? arg + 5 : NULL;
        else if (strncmp(arg, "--blocking-threads", 18) == 0 && (arg[18] == '\0' || arg[18] == '='))
            which = 2, value = arg[18] == '=' ? arg + 19 : NULL;
        if (which == 0) {
            argv[out++] = argv[i];
            continue;
        }
        if (value == NULL) {
            if (i + 1 >= argc)
                serve_cli_fail(cli, "option %s needs a value", which == 1 ? "--pg" : "--blocking-threads");
            value = argv[++i];
        }
        if (which == 1) {
            *pg = value;
        } else {
            char *end;
            errno = 0;
            long n = strtol(value, &end, 10);
            if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0 || n < 1 || n > 1024)
                serve_cli_fail(cli, "--blocking-threads must be a number from 1 to 1024, not '%s'",
                               value);
            *blocking = (unsigned)n;
        }
    }
    argv[out] = NULL;
    return out;
}

int main(int argc, char **argv)
{
    serve_cli cli = {.prog = "turbo-techempower-pg", .usage = usage, .threads = 0};
    const char *pg = "";
    unsigned blocking = 16;
    argc = take_own_options(&cli, argc, argv, &pg, &blocking);
    serve_cli_parse(&cli, argc, argv);

    turbo_config *cfg = turbo_config_new();
    if (cfg == NULL || turbo_config_set_threads(cfg, (unsigned)cli.threads) != TURBO_OK ||
        turbo_config_set_exclusive_port(cfg, !cli.reuse_port) != TURBO_OK ||
        turbo_config_set_blocking_threads(cfg, blocking) != TURBO_OK) {
        fprintf(stderr, "turbo-techempower-pg: cannot configure the server\n");
        turbo_config_free(cfg);
        return 1;
    }
    server = turbo_server_new(cfg);
    turbo_config_free(cfg);
    if (server == NULL) {
        fprintf(stderr, "turbo-techempower-pg: out of memory\n");
        return 1;
    }
    char where[512];
    if (serve_cli_listen(&cli, server, where, sizeof(where)) != 0) {
        turbo_server_free(server);
        return 1;
    }
    int rc;
    if ((rc = te_plain_routes(server)) != TURBO_OK || (rc = te_loop_routes(server, pg)) != TURBO_OK ||
        (rc = te_blocking_routes(server, pg)) != TURBO_OK) {
        fprintf(stderr, "turbo-techempower-pg: cannot add routes: %s\n", turbo_strerror(rc));
        turbo_server_free(server);
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf("turbo-techempower-pg: serving on %s with %u thread(s)\n", where,
           turbo_server_threads(server));
    fflush(stdout);
    rc = turbo_server_run(server);
    turbo_server_free(server);
    te_loop_close();
    if (rc != TURBO_OK) {
        fprintf(stderr, "turbo-techempower-pg: %s\n", turbo_strerror(rc));
        return 1;
    }
    printf("turbo-techempower-pg: stopped\n");
    return 0;
}
