// The machine as hwloc sees it (packages, physical cores, PUs, caches, CPU model) and thread pinning for
// OpenMP: one thread per physical core, each bound to one PU of its core, checked with sched_getcpu().
// Cores are those the process may run on when the topology is loaded (taskset/cgroups are honoured;
// with OMP_PROC_BIND set, only cgroups, as libgomp has already bound the initial thread).
#ifndef CNB_HARNESS_TOPO_H
#define CNB_HARNESS_TOPO_H

#include <hwloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cnnbench.h"

// One cache level: the size of one instance (the smallest, should they differ, as on hybrid CPUs) and the
// number of instances in the machine. Both 0 when unknown.
typedef struct cnb_cache_level {
    size_t size;
    int count;
} cnb_cache_level;

// Filled by cnb_topo_load, released by cnb_topo_free. Read the fields directly or through the getters.
typedef struct cnb_topo {
    hwloc_topology_t topo;       // owned hwloc handle
    int packages;                // packages (sockets) in the machine
    int cores;                   // physical cores this process may run on: the pinning targets
    int cores_machine;           // physical cores in the machine (those the cgroup allows)
    int pus;                     // PUs (hardware threads) this process may run on
    int pus_machine;             // PUs in the machine (those the cgroup allows)
    cnb_cache_level l1d, l2, l3; // data/unified caches; size in bytes
    char cpu_model[128];         // hwloc's CPUModel, else /proc/cpuinfo, else "unknown"
    hwloc_cpuset_t *core_cpuset; // [cores]: the PUs of core i that this process may use
    hwloc_cpuset_t bound;        // the process's CPU binding at load time; cnb_topo_unpin_threads restores it
} cnb_topo;

// Discover the machine. Cache sizes hwloc does not report fall back to sysconf(_SC_LEVEL*_CACHE_SIZE)
// (count 0 then). On failure *t is left empty (safe to cnb_topo_free).
cnb_status cnb_topo_load(cnb_topo *t, cnb_error *err);
// Release what cnb_topo_load allocated; t may be zeroed or NULL.
void cnb_topo_free(cnb_topo *t);
// A readable summary: packages, cores, PUs, caches and sizes, the PUs of each core.
void cnb_topo_print(const cnb_topo *t, FILE *f);

// Physical cores this process may run on (>= 1 after a successful load).
int cnb_topo_cores(const cnb_topo *t);
// Bytes of one instance of cache level 1 (data), 2 or 3; 0 when unknown or no such level.
size_t cnb_topo_cache_size(const cnb_topo *t, int level);
// Instances of cache level 1 (data), 2 or 3 in the machine; 0 when unknown.
int cnb_topo_cache_count(const cnb_topo *t, int level);
// L2 bytes one core can count on: the L2 size divided among the cores sharing an instance; 0 if unknown.
size_t cnb_topo_l2_per_core(const cnb_topo *t);
// Index of the usable physical core holding OS CPU number os_cpu (as sched_getcpu() returns), or -1.
int cnb_topo_core_of_cpu(const cnb_topo *t, int os_cpu);

// Pin the OpenMP threads of a team of nthreads: thread i binds itself (HWLOC_CPUBIND_THREAD) to the first
// usable PU of physical core i, then records sched_getcpu() in cpu_of_thread[i] (may be NULL). Refuses
// nthreads < 1 or > cnb_topo_cores(). Turns off dynamic team sizes (omp_set_dynamic(0)) for the calling
// thread. Fails if OpenMP still gives a smaller team (OMP_THREAD_LIMIT), a thread cannot bind, or a
// thread runs outside its core afterwards. Later `omp parallel num_threads(nthreads)` regions reuse the
// same, now pinned threads (see topo.c); cnb_topo_check_pinning verifies that.
cnb_status cnb_topo_pin_threads(const cnb_topo *t, int nthreads, int *cpu_of_thread, cnb_error *err);
// The OS thread id (gettid) of each member of a team of nthreads, into tid[0, nthreads).
void cnb_topo_thread_ids(int nthreads, long *tid);
// Nanoseconds OS thread tid of this process has run on a CPU (Linux: /proc/self/task/TID/schedstat), or -1.
double cnb_topo_thread_cpu_ns(long tid);
// Run a parallel region of nthreads and compare each thread's sched_getcpu() with expected_cpu[i].
// CNB_OK when all match; CNB_E_UNSUPPORTED when some thread moved (or the team is smaller);
// CNB_E_INVALID_ARG for bad arguments. report (may be NULL) gets one line: "thread 0: cpu 0, ...".
// With expected_tid (from cnb_topo_thread_ids right after pinning; may be NULL), a member that is another
// OS thread than the one pinned is reported "replaced", not counted as moved: the pinned one has ended
// (the OpenMP runtime ended it after a smaller team) and the new one was never pinned.
cnb_status cnb_topo_check_pinning(const cnb_topo *t, int nthreads, const int *expected_cpu, const long *expected_tid,
                                  char *report, size_t size);
// Bind the threads of a team of nthreads back to the process's binding at load time (undoes pinning).
cnb_status cnb_topo_unpin_threads(const cnb_topo *t, int nthreads, cnb_error *err);

#endif // CNB_HARNESS_TOPO_H
