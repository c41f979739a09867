/* The test build's allocator (core/alloc.h): the C library's calls, counted, with one allocation made to
 * fail on request (tests/test_alloc_fail.c). The counters are the test build's only process-wide mutable
 * state (atomics). A normal build compiles only cnb_alloc_huge here: its cnb_malloc & co. are inline in
 * alloc.h. */
#include "core/alloc.h"

#include <sys/mman.h>

void *cnb_alloc_huge(size_t size) {
    const size_t bytes = cnb_alloc_round(size, CNB_ALLOC_HUGE_PAGE);
    void *p = bytes ? aligned_alloc(CNB_ALLOC_HUGE_PAGE, bytes) : NULL;
#ifdef MADV_HUGEPAGE
    if (p) (void)madvise(p, bytes, MADV_HUGEPAGE);  // a hint: without THP the pages stay small
#endif
    return p;
}

#if CNB_TEST_IMPLS
#include <stdatomic.h>

static atomic_long g_count;     /* allocations attempted */
static atomic_long g_live;      /* blocks not yet freed */
static atomic_long g_fail_at;   /* the g_count value that fails; 0: none */
static atomic_bool g_fired;

/* Count one attempt; false when it is the one to fail. */
static bool attempt(void) {
    const long n = atomic_fetch_add(&g_count, 1) + 1;
    long want = n;
    if (atomic_load(&g_fail_at) == n && atomic_compare_exchange_strong(&g_fail_at, &want, 0)) {
        atomic_store(&g_fired, true);
        return false;
    }
    return true;
}

static void *counted(void *p) {
    if (p) atomic_fetch_add(&g_live, 1);
    return p;
}

void *cnb_malloc(size_t size) {
    return attempt() ? counted(size >= CNB_ALLOC_HUGE_MIN ? cnb_alloc_huge(size) : malloc(size)) : NULL;
}
void *cnb_calloc(size_t n, size_t size) { return attempt() ? counted(calloc(n, size)) : NULL; }

void *cnb_aligned_alloc(size_t align, size_t size) {
    if (!attempt()) return NULL;
    const size_t bytes = cnb_alloc_round(size, align);
    if (bytes >= CNB_ALLOC_HUGE_MIN && align <= CNB_ALLOC_HUGE_PAGE) return counted(cnb_alloc_huge(bytes));
    return bytes ? counted(aligned_alloc(align, bytes)) : NULL;
}

void *cnb_realloc(void *p, size_t size) {
    if (!attempt()) return NULL;   // like a real failure: p stays valid and allocated
    void *q = realloc(p, size);
    if (q && !p) atomic_fetch_add(&g_live, 1);
    return q;
}

void cnb_free(void *p) {
    if (p) atomic_fetch_sub(&g_live, 1);
    free(p);
}

void cnb_alloc_test_fail_at(long k) {
    atomic_store(&g_fired, false);
    atomic_store(&g_fail_at, k > 0 ? atomic_load(&g_count) + k : 0);
}
bool cnb_alloc_test_fired(void) { return atomic_load(&g_fired); }
long cnb_alloc_test_count(void) { return atomic_load(&g_count); }
long cnb_alloc_test_live(void) { return atomic_load(&g_live); }
#endif
