/* The per-thread arena and buffer pool. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "bufpool.h"

START_TEST(arena_allocations_are_aligned_and_distinct)
{
    turbo__arena a;
    turbo__arena_init(&a, 1024);
    char *prev = NULL;
    for (size_t n = 1; n < 100; n++) {
        char *p = turbo__arena_alloc(&a, n);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % TURBO__ARENA_ALIGN, 0);
        memset(p, (int)n, n);
        if (prev != NULL)
            ck_assert_ptr_ne(p, prev);
        prev = p;
    }
    turbo__arena_destroy(&a);
}
END_TEST

START_TEST(arena_reset_reuses_blocks_without_allocating)
{
    turbo__arena a;
    turbo__arena_init(&a, 1024);
    for (int i = 0; i < 10; i++)
        ck_assert_ptr_nonnull(turbo__arena_alloc(&a, 200));
    size_t blocks = turbo__arena_blocks(&a);
    ck_assert_uint_ge(blocks, 2);
    void *first = NULL;
    for (int round = 0; round < 5; round++) {
        turbo__arena_reset(&a);
        void *p = turbo__arena_alloc(&a, 200);
        if (first == NULL)
            first = p;
        ck_assert_ptr_eq(p, first); /* rewound to the first block */
        for (int i = 1; i < 10; i++)
            ck_assert_ptr_nonnull(turbo__arena_alloc(&a, 200));
        ck_assert_uint_eq(turbo__arena_blocks(&a), blocks); /* no new blocks */
    }
    turbo__arena_destroy(&a);
    ck_assert_uint_eq(turbo__arena_blocks(&a), 0);
}
END_TEST

START_TEST(arena_large_allocation_gets_its_own_block_freed_at_reset)
{
    turbo__arena a;
    turbo__arena_init(&a, 1024);
    char *small = turbo__arena_alloc(&a, 16);
    char *big = turbo__arena_alloc(&a, 100000);
    ck_assert_ptr_nonnull(big);
    memset(big, 0xab, 100000); /* ASan would catch a short block */
    char *small2 = turbo__arena_alloc(&a, 16);
    ck_assert_ptr_eq(small2, small + 16); /* the regular block went on */
    ck_assert_uint_eq(turbo__arena_blocks(&a), 1);
    turbo__arena_reset(&a);
    ck_assert_ptr_null(a.large);
    turbo__arena_destroy(&a);
}
END_TEST

START_TEST(arena_refuses_impossible_sizes)
{
    turbo__arena a;
    turbo__arena_init(&a, 1024);
    ck_assert_ptr_null(turbo__arena_alloc(&a, SIZE_MAX));
    ck_assert_ptr_null(turbo__arena_alloc(&a, SIZE_MAX - 8));
    turbo__arena_destroy(&a);
}
END_TEST

START_TEST(bufpool_recycles_buffers_lifo)
{
    turbo__bufpool p;
    turbo__bufpool_init(&p, 4096, 4);
    char *a = turbo__bufpool_get(&p);
    char *b = turbo__bufpool_get(&p);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    ck_assert_uint_eq(p.nout, 2);
    memset(a, 1, 4096);
    turbo__bufpool_put(&p, a);
    ck_assert_uint_eq(p.nfree, 1);
    ck_assert_ptr_eq(turbo__bufpool_get(&p), a); /* same buffer back: no malloc */
    ck_assert_uint_eq(p.nfree, 0);
    turbo__bufpool_put(&p, a);
    turbo__bufpool_put(&p, b);
    ck_assert_uint_eq(p.nout, 0);
    ck_assert_uint_eq(p.nfree, 2);
    turbo__bufpool_destroy(&p);
    ck_assert_uint_eq(p.nfree, 0);
}
END_TEST

START_TEST(bufpool_keeps_at_most_keep_free_buffers)
{
    turbo__bufpool p;
    turbo__bufpool_init(&p, 1024, 3);
    char *bufs[10];
    for (int i = 0; i < 10; i++)
        bufs[i] = turbo__bufpool_get(&p);
    for (int i = 0; i < 10; i++)
        turbo__bufpool_put(&p, bufs[i]);
    ck_assert_uint_eq(p.nfree, 3);
    ck_assert_uint_eq(p.nout, 0);
    turbo__bufpool_destroy(&p);
}
END_TEST

static Suite *arena_suite(void)
{
    Suite *s = suite_create("arena");
    TCase *tc = tcase_create("arena");
    tcase_add_test(tc, arena_allocations_are_aligned_and_distinct);
    tcase_add_test(tc, arena_reset_reuses_blocks_without_allocating);
    tcase_add_test(tc, arena_large_allocation_gets_its_own_block_freed_at_reset);
    tcase_add_test(tc, arena_refuses_impossible_sizes);
    suite_add_tcase(s, tc);
    TCase *tp = tcase_create("bufpool");
    tcase_add_test(tp, bufpool_recycles_buffers_lifo);
    tcase_add_test(tp, bufpool_keeps_at_most_keep_free_buffers);
    suite_add_tcase(s, tp);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(arena_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
