/*
 * What the C suites share beside the HTTP client (http_client.h): servers
 * started on an ephemeral port of 127.0.0.1 from a route table, stopped
 * and freed; counters polled until they settle; time; and the assertion
 * on a turbo_str slice.
 *
 * Every function here fails the running test through Check, as the test's
 * own assertions would, except now_ms and sleep_ms: call the others from
 * the test's thread only.
 *
 * Linked into every suite. The unit suites (which test turbo__ internals)
 * get the same public functions from the library's objects.
 */
#ifndef TURBO_TESTS_TEST_SUPPORT_H
#define TURBO_TESTS_TEST_SUPPORT_H

#include <stdint.h>
#include <string.h>

#include <check.h>
#include <turbo/turbo.h>

/* ---- servers ----------------------------------------------------------- */

/* One route of a suite's table; a table ends with {NULL}. */
typedef struct test_route {
    const char *method;
    const char *pattern;
    turbo_handler fn;
} test_route;

/* A config with `threads` I/O threads, every other value the default. */
turbo_config *config_with_threads(unsigned threads);

/* A new server with a copy of cfg (freed here; NULL: the defaults),
 * listening on 127.0.0.1 at an ephemeral port. Not started. */
turbo_server *server_listening(turbo_config *cfg);

/* Adds every route of the table (user_data NULL). */
void add_test_routes(turbo_server *s, const test_route *routes);

/* server_listening(cfg), the routes, then turbo_server_start. */
turbo_server *server_started(turbo_config *cfg, const test_route *routes);

/* turbo_server_stop, then a successful turbo_server_wait, then free. */
void stop_and_free(turbo_server *s);

/* ---- counters ---------------------------------------------------------- */

/* How long assert_stat waits: long enough for a loaded machine running
 * sanitizers; a passing test waits only as long as the server takes. */
#define STAT_WAIT_MS 10000

/*
 * Polls counter `which` of s until it equals want or ms have passed, then
 * asserts it. Counters are bumped on the server's threads, perhaps just
 * after the client saw the bytes, so reading once would race. The failure
 * names who (a table case; NULL: none), the caller's line and the counter.
 */
void assert_stat_at(const char *who, int line, turbo_server *s, int which, uint64_t want,
                    unsigned ms);

#define assert_stat(s, which, want) assert_stat_at(NULL, __LINE__, s, which, want, STAT_WAIT_MS)
#define assert_stat_within(s, which, want, ms) assert_stat_at(NULL, __LINE__, s, which, want, ms)
#define assert_case_stat(who, s, which, want)                                                      \
    assert_stat_at(who, __LINE__, s, which, want, STAT_WAIT_MS)

/* ---- time: no Check assertions, any thread ----------------------------- */

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t now_ms(void);

/* Sleeps ms milliseconds, whatever signals arrive. */
void sleep_ms(unsigned ms);

/* ---- slices ------------------------------------------------------------ */

/* The turbo_str `slice` holds exactly the bytes of the C string expected
 * (its ptr may be NULL when both are empty). */
#define ck_assert_slice(slice, expected)                                                           \
    do {                                                                                           \
        turbo_str s_ = (slice);                                                                    \
        const char *e_ = (expected);                                                               \
        ck_assert_uint_eq(s_.len, strlen(e_));                                                     \
        if (s_.len > 0)                                                                            \
            ck_assert_mem_eq(s_.ptr, e_, s_.len);                                                  \
    } while (0)

#endif
