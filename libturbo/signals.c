/*
 * turbo_server_stop_on_signal: a process-wide signal handler that stops the
 * servers registered for the signal, for callers that cannot install a C
 * signal handler themselves (Rust without libc, LuaJIT, other FFIs).
 *
 * Registrations live in a fixed table of slots, one per server, each with
 * a mask of its signals. The handler reads the table with atomic loads and
 * only calls turbo_server_stop(), which is async-signal-safe. Unregistering
 * (turbo_server_free) clears the slot and then waits until no handler is
 * running, so a handler never touches a freed server: a handler counts
 * itself in before it loads a slot, and both sides are sequentially
 * consistent. When the last server registered for a signal goes, the
 * signal's previous disposition is put back.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#define SIG_SLOTS 32
#define SIG_MAX 64

static _Atomic(turbo_server *) slot_server[SIG_SLOTS];
static _Atomic(uint64_t) slot_signals[SIG_SLOTS];
static atomic_int handlers_running;

/* Registration side: serialized by this lock, never taken by the handler. */
static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t installed;              /* signals whose handler is ours */
static struct sigaction previous[SIG_MAX + 1];

static void on_stop_signal(int sig)
{
    int saved_errno = errno;
    atomic_fetch_add(&handlers_running, 1);
    uint64_t bit = UINT64_C(1) << (sig - 1);
    for (int i = 0; i < SIG_SLOTS; i++) {
        turbo_server *s = atomic_load(&slot_server[i]);
        if (s != NULL && (atomic_load(&slot_signals[i]) & bit))
            turbo_server_stop(s);
    }
    atomic_fetch_sub(&handlers_running, 1);
    errno = saved_errno;
}

int turbo_server_stop_on_signal(turbo_server *s, int signum)
{
    if (s == NULL || signum < 1 || signum > SIG_MAX || signum == SIGKILL || signum == SIGSTOP)
        return TURBO_EINVAL;
    uint64_t bit = UINT64_C(1) << (signum - 1);
    int rc = TURBO_OK;
    pthread_mutex_lock(&sig_lock);
    int slot = -1;
    for (int i = 0; i < SIG_SLOTS; i++) {
        turbo_server *cur = atomic_load(&slot_server[i]);
        if (cur == s) {
            slot = i;
            break;
        }
        if (cur == NULL && slot < 0)
            slot = i;
    }
    if (slot < 0) {
        rc = TURBO_ENOMEM;
        goto out;
    }
    if (!(installed & bit)) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        if (sigaction(signum, &sa, &previous[signum]) != 0) {
            rc = errno == EINVAL ? TURBO_EINVAL : TURBO_ESYS;
            goto out;
        }
        installed |= bit;
    }
    /* The mask before the server: a handler that sees the server sees its
     * signals (a new slot's mask is 0 until now). */
    atomic_fetch_or(&slot_signals[slot], bit);
    atomic_store(&slot_server[slot], s);
out:
    pthread_mutex_unlock(&sig_lock);
    return rc;
}

void turbo__signals_forget(turbo_server *s)
{
    pthread_mutex_lock(&sig_lock);
    uint64_t dropped = 0;
    for (int i = 0; i < SIG_SLOTS; i++) {
        if (atomic_load(&slot_server[i]) == s) {
            atomic_store(&slot_server[i], NULL);
            dropped = atomic_exchange(&slot_signals[i], 0);
        }
    }
    if (dropped == 0) {
        pthread_mutex_unlock(&sig_lock);
        return;
    }
    /* A handler that loaded s before the slot was cleared is still counted. */
    while (atomic_load(&handlers_running) != 0)
        sched_yield();
    uint64_t still = 0;
    for (int i = 0; i < SIG_SLOTS; i++) {
        if (atomic_load(&slot_server[i]) != NULL)
            still |= atomic_load(&slot_signals[i]);
    }
    for (int sig = 1; sig <= SIG_MAX; sig++) {
        uint64_t bit = UINT64_C(1) << (sig - 1);
        if ((dropped & bit) && (installed & bit) && !(still & bit)) {
            sigaction(sig, &previous[sig], NULL);
            installed &= ~bit;
        }
    }
    pthread_mutex_unlock(&sig_lock);
}
