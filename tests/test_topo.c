// tests/test_topo.c: unit test of harness/topo.c and harness/peak.c. Loads the hwloc topology, pins 1..cores
// OpenMP threads and checks one thread per distinct physical core that stays put in a later parallel region,
// expects a refusal for cores+1 threads, runs a scaled-down peak measurement (well under a second), and
// round-trips the figures through JSON and the cache file (in a mkdtemp() directory). Exits 0 only if all passed.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // mkdtemp, sched_getcpu
#endif
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/peak.h"
#include "harness/topo.h"

typedef struct tctx {
    int passed, failed;
} tctx;

static bool check(tctx *t, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool check(tctx *t, bool ok, const char *fmt, ...) {
    if (ok) {
        t->passed++;
        return true;
    }
    t->failed++;
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    return false;
}

static bool good(double v) { return isfinite(v) && v > 0; }

static void test_topology(tctx *c, const cnb_topo *t) {
    check(c, cnb_topo_cores(t) >= 1, "cores = %d, want >= 1", cnb_topo_cores(t));
    check(c, t->cores <= t->cores_machine, "usable cores %d > machine cores %d", t->cores, t->cores_machine);
    check(c, t->pus >= t->cores, "PUs %d < cores %d", t->pus, t->cores);
    check(c, t->cpu_model[0] != 0, "empty CPU model");
    for (int level = 1; level <= 3; level++)
        if (cnb_topo_cache_count(t, level) > 0)
            check(c, cnb_topo_cache_size(t, level) > 0, "L%d reported (%d instances) with size 0", level,
                  cnb_topo_cache_count(t, level));
    if (cnb_topo_cache_size(t, 2)) check(c, cnb_topo_l2_per_core(t) > 0, "L2 per core is 0");
    check(c, cnb_topo_cache_size(t, 4) == 0 && cnb_topo_cache_size(NULL, 2) == 0, "bad levels give size 0");
    check(c, cnb_topo_core_of_cpu(t, -1) == -1, "core of cpu -1");
}

static void test_pinning(tctx *c, const cnb_topo *t) {
    const int cores = cnb_topo_cores(t);
    int *cpu = calloc((size_t)cores + 1, sizeof *cpu);
    char rep[512];
    cnb_error err = {CNB_OK, ""};
    // OMP_THREAD_LIMIT caps every team; pinning more threads than that must fail, and is not tested here.
    const int maxn = omp_get_thread_limit() < cores ? omp_get_thread_limit() : cores;
    if (maxn < cores) printf("note: OMP_THREAD_LIMIT=%d: pinning tested up to %d threads\n", maxn, maxn);
    for (int n = 1; n <= maxn; n++) {
        if (!check(c, cnb_topo_pin_threads(t, n, cpu, &err) == CNB_OK, "pin %d threads: %s", n, err.msg)) continue;
        // Thread i must sit on core i, so the threads sit on n distinct physical cores.
        for (int i = 0; i < n; i++)
            check(c, cnb_topo_core_of_cpu(t, cpu[i]) == i, "%d threads: thread %d on cpu %d, core %d, want core %d", n,
                  i, cpu[i], cnb_topo_core_of_cpu(t, cpu[i]), i);
        check(c, cnb_topo_check_pinning(t, n, cpu, NULL, rep, sizeof rep) == CNB_OK, "%d threads moved in a second region: %s",
              n, rep);
        // A region that does some work in between, then the check again.
        double s = 0;
#pragma omp parallel for num_threads(n) reduction(+ : s)
        for (int k = 0; k < 1000000; k++) s += k * 0.5;
        check(c, s > 0 && cnb_topo_check_pinning(t, n, cpu, NULL, rep, sizeof rep) == CNB_OK,
              "%d threads moved after a parallel for: %s", n, rep);
    }
    err.msg[0] = 0;
    check(c, cnb_topo_pin_threads(t, cores + 1, cpu, &err) == CNB_E_INVALID_ARG && strstr(err.msg, "physical core"),
          "pinning %d threads on %d cores was not refused (message '%s')", cores + 1, cores, err.msg);
    check(c, cnb_topo_pin_threads(t, 0, cpu, &err) == CNB_E_INVALID_ARG, "pinning 0 threads was not refused");
    check(c, cnb_topo_check_pinning(t, 1, NULL, NULL, rep, sizeof rep) == CNB_E_INVALID_ARG, "check without expectations");
    // A wrong expectation must be reported as moved.
    if (cnb_topo_pin_threads(t, 1, cpu, &err) == CNB_OK) {
        int wrong = cpu[0] + 1000;
        check(c, cnb_topo_check_pinning(t, 1, &wrong, NULL, rep, sizeof rep) == CNB_E_UNSUPPORTED && strstr(rep, "expected"),
              "a wrong cpu was not reported: %s", rep);
    }
    check(c, cnb_topo_unpin_threads(t, maxn, &err) == CNB_OK, "unpin: %s", err.msg);
    free(cpu);
}

static void test_peaks(tctx *c, const cnb_topo *t) {
    cnb_peaks p, q;
    cnb_error err = {CNB_OK, ""};
    const uint32_t need = CNB_ISA_AVX2 | CNB_ISA_FMA;
    if (!check(c, cnb_peaks_measure_scaled(t, 0.02, &p, &err) == CNB_OK, "measure: %s", err.msg)) return;
    printf("scaled-down measurement (%.2f s; figures noisy):\n", p.seconds);
    cnb_peaks_print(&p, stdout);
    check(c, p.cores == cnb_topo_cores(t), "peaks cores %d", p.cores);
    for (int k = 0; k < 2; k++) {
        check(c, good(p.fma_gflops[CNB_PEAK_SCALAR][k]), "scalar GFLOP/s [%d] = %g", k, p.fma_gflops[CNB_PEAK_SCALAR][k]);
        check(c, good(p.vec128_gflops[k]), "vec128 GFLOP/s [%d] = %g", k, p.vec128_gflops[k]);
        check(c, good(p.triad_dram_gbs[k]), "triad DRAM GB/s [%d] = %g", k, p.triad_dram_gbs[k]);
        if (cnb_topo_l2_per_core(t)) check(c, good(p.triad_l2_gbs[k]), "triad L2 GB/s [%d] = %g", k, p.triad_l2_gbs[k]);
#if CNB_HAVE_AVX2
        if ((cnb_cpu_features() & need) == need)
            check(c, good(p.fma_gflops[CNB_PEAK_AVX2][k]), "avx2 GFLOP/s [%d] = %g", k, p.fma_gflops[CNB_PEAK_AVX2][k]);
#endif
#if CNB_HAVE_NEON
        if (cnb_cpu_features() & CNB_ISA_NEON)
            check(c, good(p.fma_gflops[CNB_PEAK_NEON][k]), "neon GFLOP/s [%d] = %g", k, p.fma_gflops[CNB_PEAK_NEON][k]);
#endif
    }
    if ((cnb_cpu_features() & need) != need)
        check(c, p.fma_gflops[CNB_PEAK_AVX2][0] == 0 &&
                     !strcmp(p.isa_best, (cnb_cpu_features() & CNB_ISA_NEON) ? "neon" : "scalar"),
              "avx2 measured without AVX2 (best ISA '%s')", p.isa_best);
    if (!(cnb_cpu_features() & CNB_ISA_NEON))
        check(c, p.fma_gflops[CNB_PEAK_NEON][0] == 0, "neon measured without NEON");
    check(c, good(p.seconds) && p.seconds < 5, "measurement took %g s", p.seconds);
    check(c, good(cnb_peaks_fma_for(&p, 1)) && good(cnb_peaks_fma_for(&p, 0)), "fma_for not positive");
    // Never more than threads x the 1-thread figure; beyond the cores, the all-core figure.
    for (int n = 1; n <= p.cores + 2; n++)
        check(c, cnb_peaks_fma_for(&p, n) <= n * cnb_peaks_fma_for(&p, 1) * (1 + 1e-12), "fma_for(%d) above %d x fma_for(1)", n, n);
    check(c, cnb_peaks_fma_for(&p, p.cores + 3) == cnb_peaks_fma_for(&p, p.cores), "fma_for beyond cores");
    // One thread gets its 1-thread figure, or its share of the team's when that is larger.
    const double dram1 = fmax(p.triad_dram_gbs[0], p.triad_dram_gbs[1] / p.cores);
    const double l2_1 = fmax(p.triad_l2_gbs[0], p.triad_l2_gbs[1] / p.cores);
    check(c, cnb_peaks_bw_for(&p, 1, (size_t)1 << 30, t) == dram1, "1 GiB set should use the DRAM figure");
    if (p.triad_l2_gbs[0] > 0) check(c, cnb_peaks_bw_for(&p, 1, 1024, t) == l2_1, "1 KiB set should use the L2 figure");
    // Past L2 but within the 16 MiB set: the mid figure (L3 where it holds it); without a topology too.
    const double mid1 = fmax(p.triad_mid_gbs[0], p.triad_mid_gbs[1] / p.cores);
    check(c, good(p.triad_mid_gbs[0]) && p.triad_mid_bytes > (size_t)8 << 20, "16 MiB triad not measured");
    check(c, cnb_peaks_bw_for(&p, 1, p.triad_mid_bytes, t) == mid1, "a 16 MiB set should use the mid figure");
    check(c, cnb_peaks_bw_for(&p, 1, 1024, NULL) == mid1, "no topology: the mid figure for a small set");
    check(c, cnb_peaks_bw_for(&p, 1, p.triad_mid_bytes + 1, NULL) == dram1, "no topology: DRAM past 16 MiB");
    check(c, cnb_peaks_bw_for(&p, 0, (size_t)1 << 30, t) == p.triad_dram_gbs[1], "all threads: all-core DRAM figure");

    // JSON round trip (figures are rounded to 3 decimals).
    json_t *j = cnb_peaks_to_json(&p);
    if (check(c, j != NULL, "to_json failed") &&
        check(c, cnb_peaks_from_json(j, &q, &err) == CNB_OK, "from_json: %s", err.msg)) {
        check(c, q.cores == p.cores && fabs(q.fma_gflops[1][0] - p.fma_gflops[1][0]) < 1e-3 &&
                     fabs(q.fma_gflops[CNB_PEAK_NEON][0] - p.fma_gflops[CNB_PEAK_NEON][0]) < 1e-3 &&
                     fabs(q.triad_dram_gbs[1] - p.triad_dram_gbs[1]) < 1e-3 && q.triad_l2_bytes == p.triad_l2_bytes &&
                     fabs(q.triad_mid_gbs[0] - p.triad_mid_gbs[0]) < 1e-3 && q.triad_mid_bytes == p.triad_mid_bytes &&
                     !strcmp(q.isa_best, p.isa_best),
              "JSON round trip changed the figures");
        json_object_del(j, "triad_l2_gbs");
        err.msg[0] = 0;
        check(c, cnb_peaks_from_json(j, &q, &err) == CNB_E_PARSE && strstr(err.msg, "triad_l2_gbs"),
              "missing field not named: '%s'", err.msg);
    }
    json_decref(j);

    // The cache file: written, read back, ignored when the fingerprint differs.
    char dir[] = "/tmp/cnb_test_topo_XXXXXX", path[256];
    if (!check(c, mkdtemp(dir) != NULL, "mkdtemp")) return;
    snprintf(path, sizeof path, "%s/sub/dir/peaks.json", dir);
    check(c, cnb_peaks_load_cache(t, path, &q, &err) == CNB_E_NOT_FOUND, "missing cache: %s", err.msg);
    if (check(c, cnb_peaks_save_cache(t, path, &p, &err) == CNB_OK, "save cache: %s", err.msg)) {
        check(c, cnb_peaks_load_cache(t, path, &q, &err) == CNB_OK && q.from_cache &&
                     fabs(q.vec128_gflops[0] - p.vec128_gflops[0]) < 1e-3,
              "cache not read back: %s", err.msg);
        // load_or_measure must take the file without measuring.
        check(c, cnb_peaks_load_or_measure(t, path, false, &q, &err) == CNB_OK && q.from_cache,
              "load_or_measure ignored a matching cache");
        json_error_t jerr;
        json_t *root = json_load_file(path, 0, &jerr);
        json_object_set_new(json_object_get(root, "fingerprint"), "cpu_model", json_string("another CPU"));
        json_dump_file(root, path, 0);
        json_decref(root);
        check(c, cnb_peaks_load_cache(t, path, &q, &err) == CNB_E_NOT_FOUND && strstr(err.msg, "another machine"),
              "a cache from another machine was accepted: %s", err.msg);
        FILE *f = fopen(path, "w");
        if (f) {
            fputs("{ not json", f);
            fclose(f);
        }
        check(c, cnb_peaks_load_cache(t, path, &q, &err) == CNB_E_PARSE, "a corrupt cache was accepted");
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/sub/dir", dir);
    rmdir(path);
    snprintf(path, sizeof path, "%s/sub", dir);
    rmdir(path);
    rmdir(dir);
}

int main(void) {
    tctx c = {0, 0};
    cnb_topo t;
    cnb_error err = {CNB_OK, ""};
    if (!check(&c, cnb_topo_load(&t, &err) == CNB_OK, "load topology: %s", err.msg)) {
        printf("topo: %d passed, %d failed\n", c.passed, c.failed);
        return 1;
    }
    cnb_topo_print(&t, stdout);
    test_topology(&c, &t);
    test_pinning(&c, &t);
    test_peaks(&c, &t);
    cnb_topo_free(&t);
    printf("topo: %d passed, %d failed\n", c.passed, c.failed);
    return c.failed ? 1 : 0;
}
