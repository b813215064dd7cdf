/*
 * What the C suites share beside the HTTP client; see test_support.h.
 */
#include "test_support.h"

#include <errno.h>
#include <time.h>

turbo_config *config_with_threads(unsigned threads)
{
    turbo_config *cfg = turbo_config_new();
    ck_assert_ptr_nonnull(cfg);
    ck_assert_int_eq(turbo_config_set_threads(cfg, threads), TURBO_OK);
    return cfg;
}

turbo_server *server_listening(turbo_config *cfg)
{
    turbo_server *s = turbo_server_new(cfg);
    turbo_config_free(cfg);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(turbo_server_listen(s, "127.0.0.1", 0), TURBO_OK);
    ck_assert_int_gt(turbo_server_port(s), 0);
    return s;
}

void add_test_routes(turbo_server *s, const test_route *routes)
{
    for (const test_route *r = routes; r->method != NULL; r++) {
        int rc = turbo_route_add(s, r->method, r->pattern, r->fn, NULL);
        ck_assert_msg(rc == TURBO_OK, "route %s %s: %s", r->method, r->pattern, turbo_strerror(rc));
    }
}

turbo_server *server_started(turbo_config *cfg, const test_route *routes)
{
    turbo_server *s = server_listening(cfg);
    add_test_routes(s, routes);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    return s;
}

void stop_and_free(turbo_server *s)
{
    turbo_server_stop(s);
    ck_assert_int_eq(turbo_server_wait(s), TURBO_OK);
    turbo_server_free(s);
}

static const char *stat_name(int which)
{
    switch (which) {
    case TURBO_STAT_CONNECTIONS_ACCEPTED: return "CONNECTIONS_ACCEPTED";
    case TURBO_STAT_CONNECTIONS_OPEN: return "CONNECTIONS_OPEN";
    case TURBO_STAT_REQUESTS: return "REQUESTS";
    case TURBO_STAT_BAD_REQUESTS: return "BAD_REQUESTS";
    case TURBO_STAT_HANDLER_ERRORS: return "HANDLER_ERRORS";
    case TURBO_STAT_CONNECTIONS_REFUSED: return "CONNECTIONS_REFUSED";
    case TURBO_STAT_TIMEOUTS: return "TIMEOUTS";
    case TURBO_STAT_WRITES: return "WRITES";
    default: return "(unknown)";
    }
}

void assert_stat_at(const char *who, int line, turbo_server *s, int which, uint64_t want,
                    unsigned ms)
{
    uint64_t until = now_ms() + ms;
    while (turbo_server_stat(s, which) != want && now_ms() < until)
        sleep_ms(5);
    uint64_t got = turbo_server_stat(s, which);
    ck_assert_msg(got == want, "%s%sline %d: stat %s is %llu, want %llu", who != NULL ? who : "",
                  who != NULL ? ": " : "", line, stat_name(which), (unsigned long long)got,
                  (unsigned long long)want);
}

uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
