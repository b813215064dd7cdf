/*
 * The two cross-thread edges of the route table, in one place.
 *
 * 1. Publication: a writer builds a table, then stores its address; a
 *    reader loads the address and reads the table. ck_pr_store_ptr after
 *    ck_pr_fence_store, and ck_pr_load_ptr (on x86, plain moves: loads
 *    are not reordered with older loads, stores not with older stores).
 * 2. Grace period: a reader ends its epoch section; later the writer's
 *    poll sees every section that could have seen a retired table ended,
 *    and frees it.
 *
 * ThreadSanitizer cannot see either edge: ck's atomics are inline asm,
 * and the epoch scan runs in the uninstrumented libck. A TSan build
 * (gcc/clang define __SANITIZE_THREAD__) therefore publishes with
 * compiler atomics it understands, and states edge 2 with explicit
 * release/acquire annotations, so TSan checks everything else for real.
 * Other builds get exactly the ck code.
 */
#ifndef TURBO_SYNC_H
#define TURBO_SYNC_H

#include <ck_pr.h>

#if defined(__SANITIZE_THREAD__)
#define TURBO__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TURBO__TSAN 1
#endif
#endif

#ifdef TURBO__TSAN
#include <sanitizer/tsan_interface.h>
#define turbo__publish_ptr(slot, value) __atomic_store_n((slot), (value), __ATOMIC_RELEASE)
#define turbo__load_published(slot) __atomic_load_n((slot), __ATOMIC_ACQUIRE)
/* A reader left its section: everything it did happens before... */
#define turbo__tsan_section_end(rec) __tsan_release(rec)
/* ...the reclamation that waited for it. */
#define turbo__tsan_grace_seen(rec) __tsan_acquire(rec)
#else
#define turbo__publish_ptr(slot, value) \
    do { \
        ck_pr_fence_store(); \
        ck_pr_store_ptr((slot), (value)); \
    } while (0)
#define turbo__load_published(slot) ck_pr_load_ptr(slot)
#define turbo__tsan_section_end(rec) ((void)(rec))
#define turbo__tsan_grace_seen(rec) ((void)(rec))
#endif

#endif
