/* The parallel driver shared by the pooling kernels ({max,avg,adaptiveavg}pool2d.direct.{scalar,avx2,neon}).
 * Included by each kernel file after it defines its `job` type (what its work functions read). */
#ifndef CNB_KERNELS_POOL_DRIVE_H
#define CNB_KERNELS_POOL_DRIVE_H

#include <stdatomic.h>
#include <stdint.h>

#include "kernels/scalar/team.h"

// Items [0, n) by work(j, i0, i1). Threads take chunks of items from a shared counter rather than fixed
// shares: on cores shared with other work, a preempted thread then holds the layer up by one chunk, not by
// its whole share.
static void drive(void (*work)(const job *, int64_t, int64_t), const job *j, int64_t n, int64_t chunk, int nt) {
    if (nt == 1) {
        work(j, 0, n);   // no parallel region: entering one costs microseconds even for one thread
        return;
    }
    atomic_llong next = 0;
#pragma omp parallel num_threads(nt)
    for (int64_t r0; (r0 = atomic_fetch_add_explicit(&next, chunk, memory_order_relaxed)) < n;)
        work(j, r0, r0 + chunk < n ? r0 + chunk : n);
}

#endif /* CNB_KERNELS_POOL_DRIVE_H */
