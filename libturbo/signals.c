/*
 * turbo_server_stop_on_signal: a process-wide signal handler that stops the
 * servers registered for the signal, for callers that cannot install a C
 * signal handler themselves (Rust without libc, LuaJIT, other FFIs).
 *
 * Registrations live in a fixed table of slots, one per server, each with
 * a flag per signal. The handler reads the table with atomic loads of
 * lock-free types only (a pointer and a byte) and only calls
 * turbo_server_stop(), which is async-signal-safe. Unregistering
 * (turbo_server_free) clears the slot and then waits until no handler is
 * running, so a handler never touches a freed server: a handler counts
 * itself in before it loads a slot, and both sides are sequentially
 * consistent.
 *
 * No signal is lost in between: a registration is published before the
 * handler is installed, and a signal's previous disposition is put back
 * (only if the handler is still ours: the application may have installed
 * its own since) before the last server that wanted it is unpublished.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "signals.h"

#define SIG_SLOTS 32
#define SIG_MAX 64

static _Atomic(turbo_server *) slot_server[SIG_SLOTS];
static atomic_uchar slot_wants[SIG_SLOTS][SIG_MAX + 1]; /* [slot][signal] */
static atomic_int handlers_running;

/* Registration side: serialized by this lock, never taken by the handler. */
static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char installed[SIG_MAX + 1]; /* our handler is in place */
static struct sigaction previous[SIG_MAX + 1];

static void on_stop_signal(int sig)
{
    int saved_errno = errno;
    atomic_fetch_add(&handlers_running, 1);
    if (sig >= 1 && sig <= SIG_MAX) {
        for (int i = 0; i < SIG_SLOTS; i++) {
            turbo_server *s = atomic_load(&slot_server[i]);
            if (s != NULL && atomic_load(&slot_wants[i][sig]))
                turbo_server_stop(s);
        }
    }
    atomic_fetch_sub(&handlers_running, 1);
    errno = saved_errno;
}

/* Signals that must keep their meaning: those that cannot be caught, and
 * the synchronous faults, after which returning from a handler re-runs the
 * faulting instruction forever. */
static int refused(int sig)
{
    switch (sig) {
    case SIGKILL: case SIGSTOP:
    case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGTRAP: case SIGSYS:
        return 1;
    default:
        return 0;
    }
}

int turbo_server_stop_on_signal(turbo_server *s, int signum)
{
    if (s == NULL || signum < 1 || signum > SIG_MAX || refused(signum))
        return TURBO_EINVAL;
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
    /* The current disposition is saved first: the query also refuses the
     * signals the C library reserves, so the install below cannot fail. */
    if (!installed[signum] && sigaction(signum, NULL, &previous[signum]) != 0) {
        rc = errno == EINVAL ? TURBO_EINVAL : TURBO_ESYS;
        goto out;
    }
    /* Published before the handler goes in (the flag before the server: a
     * handler that sees the server sees its signals), so it finds it. */
    atomic_store(&slot_wants[slot][signum], 1);
    atomic_store(&slot_server[slot], s);
    if (!installed[signum]) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        sigaction(signum, &sa, NULL);
        installed[signum] = 1;
    }
out:
    pthread_mutex_unlock(&sig_lock);
    return rc;
}

void turbo__signals_forget(turbo_server *s)
{
    pthread_mutex_lock(&sig_lock);
    int slot = -1;
    for (int i = 0; i < SIG_SLOTS && slot < 0; i++)
        if (atomic_load(&slot_server[i]) == s)
            slot = i;
    if (slot < 0) {
        pthread_mutex_unlock(&sig_lock);
        return;
    }
    /* Put back the dispositions no other server needs, while s is still
     * published: a signal meanwhile still stops s. */
    for (int sig = 1; sig <= SIG_MAX; sig++) {
        if (!atomic_load(&slot_wants[slot][sig]) || !installed[sig])
            continue;
        int others = 0;
        for (int i = 0; i < SIG_SLOTS && !others; i++)
            others = i != slot && atomic_load(&slot_server[i]) != NULL &&
                     atomic_load(&slot_wants[i][sig]);
        if (others)
            continue;
        struct sigaction now;
        if (sigaction(sig, NULL, &now) == 0 && now.sa_handler == on_stop_signal)
            sigaction(sig, &previous[sig], NULL);
        /* else the application installed its own since: leave it */
        installed[sig] = 0;
    }
    atomic_store(&slot_server[slot], NULL);
    for (int sig = 1; sig <= SIG_MAX; sig++)
        atomic_store(&slot_wants[slot][sig], 0);
    /* A handler that loaded s before the slot was cleared is still counted. */
    while (atomic_load(&handlers_running) != 0)
        sched_yield();
    pthread_mutex_unlock(&sig_lock);
}
