/* The library's one allocator: core/, kernels/ (and the harness's .npy and suite readers) allocate through
 * these, never malloc & co. directly, so that the test build can make any one allocation fail
 * (tests/test_alloc_fail.c). In a normal build they are the C library's calls; memory from any of them,
 * cnb_aligned_alloc's included, is released by cnb_free (which is free()). */
#ifndef CNB_CORE_ALLOC_H
#define CNB_CORE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* align must be a power of two >= sizeof(void *); size is rounded up to a multiple of it (as C11's
 * aligned_alloc requires), so any size is fine. NULL when out of memory or when the rounding overflows. */
static inline size_t cnb_alloc_round(size_t size, size_t align) {
    if (size == 0) return align;
    return size > SIZE_MAX - (align - 1) ? 0 : (size + align - 1) & ~(align - 1);
}

/* *bytes = n * size; false when that overflows size_t. */
static inline bool cnb_alloc_bytes(size_t n, size_t size, size_t *bytes) {
    return !__builtin_mul_overflow(n, size, bytes);
}

/* Blocks of at least CNB_ALLOC_HUGE_MIN bytes (packed weights, transforms, workspaces) are aligned to
 * CNB_ALLOC_HUGE_PAGE, rounded up to it and marked for transparent huge pages: first-touch page faults are
 * most of a plan's creation time otherwise (on the development VM a fault costs ~10 us: a 9 MB weight
 * pack took 67 ms of CPU with 4 KiB pages, 5 ms with huge pages). At most half of a block is rounding. */
#define CNB_ALLOC_HUGE_PAGE ((size_t)2 << 20)
#define CNB_ALLOC_HUGE_MIN ((size_t)1 << 20)

/* size bytes (size >= CNB_ALLOC_HUGE_MIN) as described above; released by cnb_free. core/alloc.c. */
void *cnb_alloc_huge(size_t size);

#if CNB_TEST_IMPLS
/* The test build counts every call and can fail one: core/alloc.c. */
void *cnb_malloc(size_t size);
void *cnb_calloc(size_t n, size_t size);
void *cnb_realloc(void *p, size_t size);
void *cnb_aligned_alloc(size_t align, size_t size);
void cnb_free(void *p);
#else
static inline void *cnb_malloc(size_t size) { return size >= CNB_ALLOC_HUGE_MIN ? cnb_alloc_huge(size) : malloc(size); }
static inline void *cnb_calloc(size_t n, size_t size) { return calloc(n, size); }
static inline void *cnb_realloc(void *p, size_t size) { return realloc(p, size); }
static inline void *cnb_aligned_alloc(size_t align, size_t size) {
    const size_t bytes = cnb_alloc_round(size, align);
    if (bytes >= CNB_ALLOC_HUGE_MIN && align <= CNB_ALLOC_HUGE_PAGE) return cnb_alloc_huge(bytes);
    return bytes ? aligned_alloc(align, bytes) : NULL;
}
static inline void cnb_free(void *p) { free(p); }
#endif

/* Test-only API, defined only in the test build's library (cnnbench_lib_broken, CNB_TEST_IMPLS); for
 * single-threaded tests. Every cnb_malloc / cnb_calloc / cnb_realloc / cnb_aligned_alloc call counts as
 * one allocation, failed or not. */
/* Make the k-th allocation from now fail (return NULL, nothing allocated), once; k <= 0 disarms. */
void cnb_alloc_test_fail_at(long k);
/* Whether the failure armed by the last cnb_alloc_test_fail_at has happened. */
bool cnb_alloc_test_fired(void);
/* Allocations attempted so far. */
long cnb_alloc_test_count(void);
/* Blocks allocated (cnb_malloc, cnb_calloc, cnb_aligned_alloc, cnb_realloc(NULL, ...)) and not yet passed to
 * cnb_free: equal before and after any library call that leaks nothing. */
long cnb_alloc_test_live(void);

#endif /* CNB_CORE_ALLOC_H */
