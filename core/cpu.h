/* Internal CPU facts for kernels: the data cache sizes that size their blocking (BLIS-style), read once
 * from hwloc (sysconf, then conservative defaults, where hwloc is not built in). */
#ifndef CNB_CORE_CPU_H
#define CNB_CORE_CPU_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cnb_caches {
    size_t l1d;          /* bytes of one core's L1 data cache */
    size_t l2;           /* bytes of the L2 one core sees (private, or its share) */
    size_t l3;           /* bytes of the last-level cache (0 if none) */
    const char *source;  /* "hwloc", "sysconf" or "default" */
} cnb_caches;

/* Detected once (call_once); never NULL. */
const cnb_caches *cnb_cpu_caches(void);

/* Whether a working set of this many bytes stays in the last-level cache: at most half of it and 16 MiB (a
 * virtual machine's L3 share is often far below what it reports: 508 MiB on the development VM, where 25 MiB
 * already streams from DRAM). Kernels prefetch in software only then: from DRAM it cost them 20%. */
bool cnb_cpu_fits_llc(double bytes);

#endif /* CNB_CORE_CPU_H */
