// Machine topology through hwloc 2.x and OpenMP thread pinning: one thread per physical core, bound with
// hwloc_set_cpubind(HWLOC_CPUBIND_THREAD) from inside the thread, and verified with sched_getcpu().
// Cores are restricted to the process's binding at load time, so `taskset -c 2,3 cnnbench ...` pins
// inside cores 2 and 3 rather than silently widening the mask.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // sched_getcpu, _SC_LEVEL*_CACHE_SIZE
#endif
#include <ctype.h>
#include <errno.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/status.h"
#include "core/planfile.h"
#include "harness/topo.h"

// Data (or unified) caches of one level: instance count and the smallest size.
static cnb_cache_level cache_level(hwloc_topology_t topo, hwloc_obj_type_t type) {
    cnb_cache_level c = {0, 0};
    const int n = hwloc_get_nbobjs_by_type(topo, type);
    for (int i = 0; i < n; i++) {
        const hwloc_obj_t o = hwloc_get_obj_by_type(topo, type, (unsigned)i);
        if (!o->attr || o->attr->cache.type == HWLOC_OBJ_CACHE_INSTRUCTION) continue;
        const size_t s = (size_t)o->attr->cache.size;
        if (!c.count || (s && s < c.size)) c.size = s;
        c.count++;
    }
    return c;
}

// hwloc reads caches from sysfs, which some VMs and containers lack; glibc's sysconf asks CPUID.
static void cache_fallback(cnb_cache_level *c, int name) {
    if (c->size) return;
    const long v = sysconf(name);
    if (v > 0) c->size = (size_t)v;
}

void cnb_topo_free(cnb_topo *t) {
    if (!t) return;
    if (t->core_cpuset) {
        for (int i = 0; i < t->cores; i++) hwloc_bitmap_free(t->core_cpuset[i]);
        free(t->core_cpuset);
    }
    hwloc_bitmap_free(t->bound);
    if (t->topo) hwloc_topology_destroy(t->topo);
    memset(t, 0, sizeof *t);
}

cnb_status cnb_topo_load(cnb_topo *t, cnb_error *err) {
    if (!t) return cnb_fail(err, CNB_E_INVALID_ARG, "cnb_topo_load: topology pointer is NULL");
    memset(t, 0, sizeof *t);
    if (hwloc_topology_init(&t->topo) != 0) {
        t->topo = NULL;
        return cnb_fail(err, CNB_E_NOMEM, "hwloc_topology_init failed: %s", strerror(errno));
    }
    if (hwloc_topology_load(t->topo) != 0) {
        const int e = errno;
        cnb_topo_free(t);
        return cnb_fail(err, CNB_E_IO, "hwloc could not discover the topology: %s", strerror(e));
    }
    hwloc_topology_t topo = t->topo;
    const hwloc_const_cpuset_t all = hwloc_get_root_obj(topo)->cpuset;

    // The binding of the whole process, before anyone pinned anything; outside the root cpuset (or
    // unreadable) it means no restriction. With OMP_PROC_BIND set, libgomp has already bound the initial
    // thread to its first place, which says nothing about the CPUs we were given: use them all then.
    t->bound = hwloc_bitmap_alloc();
    if (!t->bound) {
        cnb_topo_free(t);
        return cnb_fail(err, CNB_E_NOMEM, "out of memory for an hwloc cpuset");
    }
    const char *pb = getenv("OMP_PROC_BIND");
    const bool omp_bound = pb && *pb && strcasecmp(pb, "false") != 0;
    if (omp_bound || hwloc_get_cpubind(topo, t->bound, HWLOC_CPUBIND_PROCESS) != 0 ||
        !hwloc_bitmap_intersects(t->bound, all))
        hwloc_bitmap_copy(t->bound, all);
    hwloc_bitmap_and(t->bound, t->bound, all);

    t->packages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
    t->pus_machine = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    t->pus = hwloc_bitmap_weight(t->bound);
    // Some platforms expose no Core objects; then every PU counts as a core.
    const hwloc_obj_type_t core_type =
        hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE) > 0 ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
    t->cores_machine = hwloc_get_nbobjs_by_type(topo, core_type);
    t->core_cpuset = calloc(t->cores_machine > 0 ? (size_t)t->cores_machine : 1, sizeof *t->core_cpuset);
    if (!t->core_cpuset) {
        cnb_topo_free(t);
        return cnb_fail(err, CNB_E_NOMEM, "out of memory for %d core cpusets", t->cores_machine);
    }
    for (int i = 0; i < t->cores_machine; i++) {
        const hwloc_obj_t core = hwloc_get_obj_by_type(topo, core_type, (unsigned)i);
        if (!hwloc_bitmap_intersects(core->cpuset, t->bound)) continue;
        hwloc_cpuset_t cs = hwloc_bitmap_dup(core->cpuset);
        if (!cs) {
            cnb_topo_free(t);
            return cnb_fail(err, CNB_E_NOMEM, "out of memory for an hwloc cpuset");
        }
        hwloc_bitmap_and(cs, cs, t->bound);
        t->core_cpuset[t->cores++] = cs;
    }
    if (t->cores < 1) {
        cnb_topo_free(t);
        return cnb_fail(err, CNB_E_UNSUPPORTED, "hwloc found no physical core this process may run on");
    }

    t->l1d = cache_level(topo, HWLOC_OBJ_L1CACHE);
    t->l2 = cache_level(topo, HWLOC_OBJ_L2CACHE);
    t->l3 = cache_level(topo, HWLOC_OBJ_L3CACHE);
#ifdef _SC_LEVEL1_DCACHE_SIZE
    cache_fallback(&t->l1d, _SC_LEVEL1_DCACHE_SIZE);
    cache_fallback(&t->l2, _SC_LEVEL2_CACHE_SIZE);
    cache_fallback(&t->l3, _SC_LEVEL3_CACHE_SIZE);
#else
    (void)cache_fallback;
#endif

    // The same model string plan files are fingerprinted with (hwloc's CPUModel, else /proc/cpuinfo).
    snprintf(t->cpu_model, sizeof t->cpu_model, "%s", cnb_fingerprint_here()->cpu_model);
    return CNB_OK;
}

int cnb_topo_cores(const cnb_topo *t) { return t ? t->cores : 0; }

static const cnb_cache_level *level_of(const cnb_topo *t, int level) {
    if (!t) return NULL;
    return level == 1 ? &t->l1d : level == 2 ? &t->l2 : level == 3 ? &t->l3 : NULL;
}

size_t cnb_topo_cache_size(const cnb_topo *t, int level) {
    const cnb_cache_level *c = level_of(t, level);
    return c ? c->size : 0;
}

int cnb_topo_cache_count(const cnb_topo *t, int level) {
    const cnb_cache_level *c = level_of(t, level);
    return c ? c->count : 0;
}

size_t cnb_topo_l2_per_core(const cnb_topo *t) {
    if (!t || !t->l2.size) return 0;
    // Count unknown (sysconf fallback) or one L2 per core: the whole instance.
    if (t->l2.count <= 0 || t->l2.count >= t->cores_machine) return t->l2.size;
    return t->l2.size * (size_t)t->l2.count / (size_t)t->cores_machine;
}

int cnb_topo_core_of_cpu(const cnb_topo *t, int os_cpu) {
    if (!t || os_cpu < 0) return -1;
    for (int i = 0; i < t->cores; i++)
        if (hwloc_bitmap_isset(t->core_cpuset[i], (unsigned)os_cpu)) return i;
    return -1;
}

static void fmt_bytes(size_t b, char *buf, size_t size) {
    if (b && b % (1024 * 1024) == 0) snprintf(buf, size, "%zu MiB", b / (1024 * 1024));
    else if (b && b % 1024 == 0) snprintf(buf, size, "%zu KiB", b / 1024);
    else snprintf(buf, size, "%zu B", b);
}

static void print_cache(FILE *f, const char *name, const cnb_cache_level *c) {
    char s[32];
    if (!c->size) {
        fprintf(f, " %s unknown", name);
        return;
    }
    fmt_bytes(c->size, s, sizeof s);
    if (c->count) fprintf(f, " %s %s x %d", name, s, c->count);
    else fprintf(f, " %s %s", name, s);
}

void cnb_topo_print(const cnb_topo *t, FILE *f) {
    if (!t || !t->topo) {
        fprintf(f, "topology: not loaded\n");
        return;
    }
    fprintf(f, "cpu:        %s\n", t->cpu_model);
    fprintf(f, "topology:   %d package%s, %d physical core%s, %d PU%s (hwloc %s)\n", t->packages,
            t->packages == 1 ? "" : "s", t->cores_machine, t->cores_machine == 1 ? "" : "s", t->pus_machine,
            t->pus_machine == 1 ? "" : "s", HWLOC_VERSION);
    if (t->cores != t->cores_machine || t->pus != t->pus_machine)
        fprintf(f, "usable:     %d core%s, %d PU%s (the process's CPU binding)\n", t->cores,
                t->cores == 1 ? "" : "s", t->pus, t->pus == 1 ? "" : "s");
    fprintf(f, "caches:    ");
    print_cache(f, "L1d", &t->l1d);
    fputc(',', f);
    print_cache(f, "L2", &t->l2);
    fputc(',', f);
    print_cache(f, "L3", &t->l3);
    fputc('\n', f);
    fprintf(f, "cores:     ");
    for (int i = 0; i < t->cores; i++) {
        char s[64];
        hwloc_bitmap_list_snprintf(s, sizeof s, t->core_cpuset[i]);
        fprintf(f, " %d:{%s}", i, s);
    }
    fputs("  (core: OS CPU numbers of its PUs)\n", f);
}

// Pinning relies on libgomp (and LLVM's libomp) keeping a pool of worker threads: a later non-nested
// `omp parallel num_threads(n)` with the same n gives team member i the same OS thread, so a binding made
// from inside that thread persists. Nothing in the OpenMP standard promises it (OMP_PROC_BIND may reorder
// threads over places), hence cnb_topo_check_pinning. A larger team later gets new threads that inherit
// the master's one-PU mask: pin for the largest team you will use. A smaller team may end the pool's
// excess threads (libgomp 12 on a 16-core VM did, after a pooling kernel ran 3 of 4 threads; on 2 cores it
// kept them): the check tells such replaced threads from moved ones by their OS thread ids.
cnb_status cnb_topo_pin_threads(const cnb_topo *t, int nthreads, int *cpu_of_thread, cnb_error *err) {
    if (!t || !t->topo) return cnb_fail(err, CNB_E_INVALID_ARG, "pinning: topology not loaded");
    if (nthreads < 1) return cnb_fail(err, CNB_E_INVALID_ARG, "pinning: thread count %d must be at least 1", nthreads);
    if (nthreads > t->cores)
        return cnb_fail(err, CNB_E_INVALID_ARG,
                        "cannot pin %d threads one per physical core: this process has %d physical core%s",
                        nthreads, t->cores, t->cores == 1 ? "" : "s");
    if (omp_in_parallel())
        return cnb_fail(err, CNB_E_UNSUPPORTED, "pinning: called inside a parallel region; a nested team would not be the pool");
    // A benchmark needs exactly the team it asks for; OMP_DYNAMIC would let libgomp shrink it under load.
    omp_set_dynamic(0);
    int *cpu = malloc(2 * (size_t)nthreads * sizeof *cpu);
    if (!cpu) return cnb_fail(err, CNB_E_NOMEM, "pinning: out of memory for %d threads", nthreads);
    int *bind_errno = cpu + nthreads;
    int team = 0;
#pragma omp parallel num_threads(nthreads)
    {
        const int i = omp_get_thread_num();
#pragma omp master
        team = omp_get_num_threads();
        hwloc_bitmap_t pu = hwloc_bitmap_alloc();
        bind_errno[i] = 0;
        if (!pu) {
            bind_errno[i] = ENOMEM;
        } else {
            hwloc_bitmap_only(pu, (unsigned)hwloc_bitmap_first(t->core_cpuset[i]));
            if (hwloc_set_cpubind(t->topo, pu, HWLOC_CPUBIND_THREAD) != 0) bind_errno[i] = errno ? errno : EINVAL;
            hwloc_bitmap_free(pu);
        }
        // sched_setaffinity migrates the caller before returning, so this is where the thread now runs.
        cpu[i] = sched_getcpu();
    }
    cnb_status st = CNB_OK;
    if (team != nthreads) {
        st = cnb_fail(err, CNB_E_UNSUPPORTED, "pinning: OpenMP gave a team of %d threads, not %d (OMP_THREAD_LIMIT or OMP_DYNAMIC?)",
                      team, nthreads);
    } else {
        for (int i = 0; i < nthreads && st == CNB_OK; i++) {
            if (bind_errno[i])
                st = cnb_fail(err, CNB_E_UNSUPPORTED, "pinning: thread %d could not bind to a PU of core %d: %s", i, i,
                              strerror(bind_errno[i]));
            else if (cpu[i] < 0 || !hwloc_bitmap_isset(t->core_cpuset[i], (unsigned)cpu[i]))
                st = cnb_fail(err, CNB_E_UNSUPPORTED, "pinning: thread %d runs on cpu %d, outside core %d", i, cpu[i], i);
        }
    }
    if (st == CNB_OK && cpu_of_thread) memcpy(cpu_of_thread, cpu, (size_t)nthreads * sizeof *cpu);
    free(cpu);
    return st;
}

static long thread_id(void) { return (long)syscall(SYS_gettid); }

void cnb_topo_thread_ids(int nthreads, long *tid) {
#pragma omp parallel num_threads(nthreads)
    tid[omp_get_thread_num()] = thread_id();
}

double cnb_topo_thread_cpu_ns(long tid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/schedstat", tid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    unsigned long long ns = 0;
    const int got = fscanf(f, "%llu", &ns);
    fclose(f);
    return got == 1 ? (double)ns : -1;
}

cnb_status cnb_topo_check_pinning(const cnb_topo *t, int nthreads, const int *expected_cpu, const long *expected_tid,
                                  char *report, size_t size) {
    if (report && size) report[0] = 0;
    if (!t || !t->topo || nthreads < 1 || !expected_cpu) {
        if (report && size) snprintf(report, size, "bad arguments");
        return CNB_E_INVALID_ARG;
    }
    int *cpu = malloc((size_t)nthreads * sizeof *cpu);
    long *tid = malloc((size_t)nthreads * sizeof *tid);
    if (!cpu || !tid) {
        free(cpu), free(tid);
        if (report && size) snprintf(report, size, "out of memory");
        return CNB_E_NOMEM;
    }
    int team = 0;
#pragma omp parallel num_threads(nthreads)
    {
#pragma omp master
        team = omp_get_num_threads();
        cpu[omp_get_thread_num()] = sched_getcpu();
        tid[omp_get_thread_num()] = thread_id();
    }
    cnb_status st = team == nthreads ? CNB_OK : CNB_E_UNSUPPORTED;
    size_t n = 0;
    if (report && size && team != nthreads) n += (size_t)snprintf(report, size, "team of %d, not %d; ", team, nthreads);
    for (int i = 0; i < team && i < nthreads; i++) {
        const bool ok = cpu[i] == expected_cpu[i], replaced = expected_tid && tid[i] != expected_tid[i];
        if (!ok && !replaced) st = CNB_E_UNSUPPORTED;
        if (report && n < size)
            n += (size_t)snprintf(report + n, size - n,
                                  ok ? "%sthread %d: cpu %d" : replaced ? "%sthread %d: replaced (cpu %d, pinned %d)"
                                                                        : "%sthread %d: cpu %d (expected %d)",
                                  i ? ", " : "", i, cpu[i], expected_cpu[i]);
    }
    free(cpu), free(tid);
    return st;
}

cnb_status cnb_topo_unpin_threads(const cnb_topo *t, int nthreads, cnb_error *err) {
    if (!t || !t->topo || nthreads < 1) return cnb_fail(err, CNB_E_INVALID_ARG, "unpinning: bad arguments");
    int failed = 0, first_errno = 0;
#pragma omp parallel num_threads(nthreads)
    {
        if (hwloc_set_cpubind(t->topo, t->bound, HWLOC_CPUBIND_THREAD) != 0) {
#pragma omp critical(cnb_unpin)
            {
                if (!failed++) first_errno = errno;
            }
        }
    }
    if (failed)
        return cnb_fail(err, CNB_E_UNSUPPORTED, "unpinning: %d thread%s could not rebind: %s", failed,
                        failed == 1 ? "" : "s", strerror(first_errno));
    return CNB_OK;
}
