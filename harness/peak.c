// Machine limits for rooflines: fp32 arithmetic peaks (loops in kernels/scalar/peak_fma_scalar.c and
// kernels/{avx2,neon}/peak_fma_*.c) and the STREAM triad a[i] = b[i] + s*c[i] (McCalpin; 12 bytes per float
// element) from DRAM and from L2 (plain C here, or kernels/{avx2,neon}/peak_triad_*.c). AVX2 (NEON) loops run
// only after cnb_cpu_features() reports AVX2+FMA (NEON). Each figure is the best of many short samples on threads
// pinned one per physical core; a JSON cache keyed by a machine fingerprint saves the seconds this takes.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // getloadavg, madvise
#endif
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/status.h"
#include "harness/peak.h"

double cnb_peak_fma_scalar_run(int64_t iters);
double cnb_peak_fma_scalar_run_vec128(int64_t iters);
#if CNB_HAVE_AVX2
double cnb_peak_fma_avx2_run(int64_t iters);
void cnb_peak_triad_avx2_run(float *a, const float *b, const float *c, float s, size_t n);
#endif
#if CNB_HAVE_NEON
double cnb_peak_fma_neon_run(int64_t iters);
void cnb_peak_triad_neon_run(float *a, const float *b, const float *c, float s, size_t n);
#endif

#define CNB_MIB ((size_t)1 << 20)
#define CNB_PEAKS_FORMAT "cnnbench-peaks/1"

typedef double (*cnb_flops_fn)(int64_t iters);
typedef void (*cnb_triad_fn)(float *a, const float *b, const float *c, float s, size_t n);

// Per-measurement settings and per-thread timestamps ([cores] each).
typedef struct mctx {
    double sample_s;    // aim for samples this long
    int samples;        // best of this many
    double *t0, *t1;
    cnb_triad_fn triad; // the best triad loop the (CNB_ISA-capped) CPU allows
} mctx;

static void add_note(cnb_peaks *p, const char *fmt, ...) CNB_PRINTF(2, 3);
static void add_note(cnb_peaks *p, const char *fmt, ...) {
    size_t n = strlen(p->note);
    if (n && n + 2 < sizeof p->note) n += (size_t)snprintf(p->note + n, sizeof p->note - n, "; ");
    if (n + 1 >= sizeof p->note) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->note + n, sizeof p->note - n, fmt, ap);
    va_end(ap);
}

// From the first thread's start to the last one's end: the team's time, stragglers included.
static double team_wall(const mctx *m, int team) {
    double t0 = m->t0[0], t1 = m->t1[0];
    for (int i = 1; i < team; i++) {
        t0 = fmin(t0, m->t0[i]);
        t1 = fmax(t1, m->t1[i]);
    }
    return fmax(t1 - t0, 1e-9);
}

// One sample: n threads each run fn(iters) at once. Returns GFLOP/s; *wall gets the seconds.
static double fma_sample(const mctx *m, cnb_flops_fn fn, int64_t iters, int n, double *wall) {
    double flops = 0;
    int team = 1;
#pragma omp parallel num_threads(n) reduction(+ : flops)
    {
        const int i = omp_get_thread_num();
#pragma omp master
        team = omp_get_num_threads();
#pragma omp barrier
        m->t0[i] = omp_get_wtime();
        flops += fn(iters);
        m->t1[i] = omp_get_wtime();
    }
    *wall = team_wall(m, team);
    return flops / *wall * 1e-9;
}

// Iterations for one thread to take about m->sample_s, found by growing a short run.
static int64_t fma_calibrate(const mctx *m, cnb_flops_fn fn) {
    const double min_s = fmin(2e-3, m->sample_s / 2);
    int64_t iters = 1024;
    double wall = 0;
    for (;;) {
        fma_sample(m, fn, iters, 1, &wall);
        if (wall >= min_s || iters > ((int64_t)1 << 40)) break;
        iters *= 4;
    }
    const double k = m->sample_s / wall;
    return k > 1 ? (int64_t)((double)iters * k) : iters;
}

// What one figure pair measures: the best of m->samples samples on n threads, of a loop set up in arg.
typedef double (*best_fn)(const mctx *m, const void *arg, int n);

// g[0] on one thread, g[1] on cores threads. For per-core resources (FP units, L2) the team should reach
// ~cores x one thread (all-core clocks may be 10-15% lower), and for shared DRAM at least one thread's
// figure. A shortfall either way means other work took our cores: sample again, a few times. Returns
// false when the figures still disagree.
static bool measure_pair(const mctx *m, best_fn f, const void *arg, int cores, bool per_core, double g[2]) {
    g[0] = f(m, arg, 1);
    if (cores <= 1) {
        g[1] = g[0];
        return true;
    }
    g[1] = f(m, arg, cores);
    const double want = per_core ? 0.8 * cores : 1.0;
    for (int r = 0; r < 3; r++) {
        const bool low_all = g[1] < want * g[0], low_one = per_core && g[0] < 0.9 * g[1] / cores;
        if (!low_all && !low_one) break;
        if (low_one) g[0] = fmax(g[0], f(m, arg, 1));
        if (low_all) g[1] = fmax(g[1], f(m, arg, cores));
    }
    return g[1] >= want * g[0];
}

typedef struct fma_arg {
    cnb_flops_fn fn;
    int64_t iters;
} fma_arg;

static double fma_best(const mctx *m, const void *arg, int n) {
    const fma_arg *a = arg;
    double best = 0, wall;
    for (int s = 0; s < m->samples; s++) best = fmax(best, fma_sample(m, a->fn, a->iters, n, &wall));
    return best;
}

// One thread's share of the triad arrays.
typedef struct slice {
    float *a, *b, *c;
    size_t n;
} slice;

// STREAM's triad in plain C; restrict lets gcc vectorise it (SSE2) without runtime overlap checks.
static void triad_c(float *restrict a, const float *restrict b, const float *restrict c, float s, size_t n) {
    for (size_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
}

// One sample: n threads each run reps triads over their slice at once. Returns GB/s (12 B per element).
static double triad_sample(const mctx *m, const slice *sl, int n, int reps, double *wall) {
    double elems = 0;
    int team = 1;
#pragma omp parallel num_threads(n) reduction(+ : elems)
    {
        const int i = omp_get_thread_num();
#pragma omp master
        team = omp_get_num_threads();
#pragma omp barrier
        m->t0[i] = omp_get_wtime();
        for (int r = 0; r < reps; r++) m->triad(sl[i].a, sl[i].b, sl[i].c, 3.0f, sl[i].n);
        m->t1[i] = omp_get_wtime();
        elems += (double)sl[i].n * reps;
    }
    *wall = team_wall(m, team);
    return 12.0 * elems / *wall * 1e-9;
}

// The slices of one thread alone, and of the team.
typedef struct triad_arg {
    const slice *one, *all;
    int reps;
} triad_arg;

static double triad_best(const mctx *m, const void *arg, int n) {
    const triad_arg *a = arg;
    double best = 0, wall;
    for (int s = 0; s < m->samples; s++) best = fmax(best, triad_sample(m, n == 1 ? a->one : a->all, n, a->reps, &wall));
    return best;
}

// Split three arrays of ne floats (a, b, c at stride apart in blk) into n slices of multiples of 16.
static void split(float *blk, size_t ne, size_t stride, int n, slice *sl) {
    for (int i = 0; i < n; i++) {
        const size_t lo = ne * (size_t)i / (size_t)n / 16 * 16;
        const size_t hi = i == n - 1 ? ne : ne * (size_t)(i + 1) / (size_t)n / 16 * 16;
        sl[i] = (slice){blk + lo, blk + stride + lo, blk + 2 * stride + lo, hi - lo};
    }
}

// First touch by the thread that will use the slice, so its pages sit on that thread's NUMA node.
static void touch(const slice *sl, int n) {
#pragma omp parallel num_threads(n)
    {
        const slice *s = &sl[omp_get_thread_num()];
        for (size_t k = 0; k < s->n; k++) {
            s->a[k] = 0.0f;
            s->b[k] = 1.0f;
            s->c[k] = 2.0f;
        }
    }
}

// The DRAM set: 4x the total L3 hwloc reports, but within [192 MiB, 256 MiB] and a quarter of RAM; then
// scaled. The cap keeps the first touch short (VMs back fresh pages slowly: ~3 s per GiB seen) and guards
// against VMs that report absurd L3 sizes; when it bites, the note says the set may be partly cached.
static size_t dram_set_bytes(const cnb_topo *t, double scale, cnb_peaks *p) {
    const size_t l3 = t->l3.size * (size_t)(t->l3.count > 0 ? t->l3.count : 1);
    size_t w = 4 * l3;
    const bool capped = w > 256 * CNB_MIB;
    if (w < 192 * CNB_MIB) w = 192 * CNB_MIB;
    if (capped) w = 256 * CNB_MIB;
    const long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psz > 0 && w > (size_t)pages * (size_t)psz / 4) w = (size_t)pages * (size_t)psz / 4;
    w = (size_t)((double)w * scale);
    if (w < 3 * CNB_MIB) w = 3 * CNB_MIB;
    if (capped || w < 2 * l3)
        add_note(p, "hwloc reports %zu MiB of L3; the %zu MiB DRAM set may partly fit in it", l3 / CNB_MIB, w / CNB_MIB);
    return w;
}

// Triad from DRAM on 1 and on all threads; the arrays are shared, split by thread in static chunks.
static void measure_triad_dram(const cnb_topo *t, const mctx *m, double scale, cnb_peaks *p) {
    const int cores = t->cores;
    size_t w = dram_set_bytes(t, scale, p);
    float *blk = NULL;
    size_t ne = 0, stride = 0;
    while (w >= 3 * CNB_MIB) {
        ne = w / 12 / 64 * 64;
        stride = ne + 32; // a[i], b[i], c[i] 128 B apart modulo 4 KiB: no 4K-aliasing stalls
        if (posix_memalign((void **)&blk, 2 * CNB_MIB, 3 * stride * sizeof(float)) == 0) break;
        blk = NULL;
        w /= 2;
    }
    if (!blk) {
        add_note(p, "no memory for the DRAM triad");
        return;
    }
    slice *sl = malloc((size_t)cores * sizeof *sl);
    if (!sl) {
        free(blk);
        add_note(p, "no memory for the DRAM triad");
        return;
    }
    p->triad_dram_bytes = 12 * ne;
#ifdef MADV_HUGEPAGE
    // Transparent huge pages where the kernel only grants them on request: the first touch of the set
    // faults 512x fewer pages (seconds less in VMs), and the triad stops missing the TLB.
    madvise(blk, 3 * stride * sizeof(float), MADV_HUGEPAGE);
#endif
    split(blk, ne, stride, cores, sl);
    touch(sl, cores);
    const slice whole = {blk, blk + stride, blk + 2 * stride, ne};
    const triad_arg arg = {&whole, sl, 1};
    if (!measure_pair(m, triad_best, &arg, cores, false, p->triad_dram_gbs))
        add_note(p, "DRAM triad on %d threads below one thread's", cores);
    free(sl);
    free(blk);
}

// Triad from L2: each thread its own three arrays totalling half of one core's L2, repeated.
static void measure_triad_l2(const cnb_topo *t, const mctx *m, cnb_peaks *p) {
    const int cores = t->cores;
    const size_t l2 = cnb_topo_l2_per_core(t);
    if (!l2) {
        add_note(p, "L2 size unknown: no L2 triad");
        return;
    }
    const size_t ne = l2 / 2 / 12 / 16 * 16;
    const size_t stride = ne + 32;
    const size_t per_thread = (3 * stride * sizeof(float) + 4095) / 4096 * 4096 / sizeof(float);
    float *blk = NULL;
    slice *sl = malloc((size_t)cores * sizeof *sl);
    if (!sl || posix_memalign((void **)&blk, 4096, (size_t)cores * per_thread * sizeof(float)) != 0) {
        free(sl);
        add_note(p, "no memory for the L2 triad");
        return;
    }
    p->triad_l2_bytes = 12 * ne;
    for (int i = 0; i < cores; i++) split(blk + (size_t)i * per_thread, ne, stride, 1, &sl[i]);
    touch(sl, cores);
    // Passes per sample: grow until a run is long enough to time, then aim at sample_s.
    const double min_s = fmin(2e-3, m->sample_s / 2);
    int reps = 4;
    double wall = 0;
    for (;;) {
        triad_sample(m, sl, 1, reps, &wall);
        if (wall >= min_s || reps > (1 << 24)) break;
        reps *= 4;
    }
    const double k = m->sample_s / wall;
    if (k > 1) reps = (int)fmin((double)reps * k, 1 << 30);
    const triad_arg arg = {sl, sl, reps};
    if (!measure_pair(m, triad_best, &arg, cores, true, p->triad_l2_gbs))
        add_note(p, "L2 triad on %d threads reached only %.1fx one thread", cores, p->triad_l2_gbs[1] / p->triad_l2_gbs[0]);
    free(sl);
    free(blk);
}

// Triad over a mid-sized set (MID_BYTES, split by thread): what a tensor too big for L2 but well inside a
// usual L3 streams at. Without it such layers were held against DRAM and read above 100% of their peak.
#define MID_BYTES (16 * CNB_MIB)
static void measure_triad_mid(const cnb_topo *t, const mctx *m, cnb_peaks *p) {
    const int cores = t->cores;
    const size_t ne = MID_BYTES / 12 / 64 * 64, stride = ne + 32;
    float *blk = NULL;
    slice *sl = malloc((size_t)cores * sizeof *sl);
    if (!sl || posix_memalign((void **)&blk, 2 * CNB_MIB, 3 * stride * sizeof(float)) != 0) {
        free(sl);
        add_note(p, "no memory for the 16 MiB triad");
        return;
    }
#ifdef MADV_HUGEPAGE
    madvise(blk, 3 * stride * sizeof(float), MADV_HUGEPAGE);
#endif
    p->triad_mid_bytes = 12 * ne;
    split(blk, ne, stride, cores, sl);
    touch(sl, cores);
    const slice whole = {blk, blk + stride, blk + 2 * stride, ne};
    // Passes per sample as for L2: grow until a run is long enough to time, then aim at sample_s.
    int reps = 1;
    double wall = 0;
    for (;;) {
        triad_sample(m, &whole, 1, reps, &wall);
        if (wall >= fmin(2e-3, m->sample_s / 2) || reps > (1 << 20)) break;
        reps *= 2;
    }
    const double k = m->sample_s / wall;
    if (k > 1) reps = (int)fmin((double)reps * k, 1 << 24);
    const triad_arg arg = {&whole, sl, reps};
    if (!measure_pair(m, triad_best, &arg, cores, false, p->triad_mid_gbs))
        add_note(p, "16 MiB triad on %d threads below one thread's", cores);
    free(sl);
    free(blk);
}

cnb_status cnb_peaks_measure_scaled(const cnb_topo *t, double scale, cnb_peaks *p, cnb_error *err) {
    if (!t || !t->topo || t->cores < 1) return cnb_fail(err, CNB_E_INVALID_ARG, "peaks: topology not loaded");
    if (!p) return cnb_fail(err, CNB_E_INVALID_ARG, "peaks: result pointer is NULL");
    if (!(scale > 0 && scale <= 1)) return cnb_fail(err, CNB_E_INVALID_ARG, "peaks: scale %g must be in (0, 1]", scale);
    memset(p, 0, sizeof *p);
    const double start = omp_get_wtime();
    const int cores = t->cores;
    p->cores = cores;
    int *cpus = malloc((size_t)cores * sizeof *cpus);
    double *ts = malloc(2 * (size_t)cores * sizeof *ts);
    if (!cpus || !ts) {
        free(cpus);
        free(ts);
        return cnb_fail(err, CNB_E_NOMEM, "peaks: out of memory for %d threads", cores);
    }
    // Many short samples, keeping the best: on a shared machine some land in a slice where nothing else
    // runs on our cores, which long samples rarely do (the scheduler's slices are a few ms).
    mctx m = {fmax(0.004 * scale, 2e-4), scale >= 0.5 ? 15 : 5, ts, ts + cores, triad_c};

    double load[1];
    if (getloadavg(load, 1) == 1 && load[0] >= 1.0)
        add_note(p, "load average %.1f before measuring: other work shares the CPUs, figures may be low", load[0]);

    cnb_error perr = {CNB_OK, ""};
    p->pinned = cnb_topo_pin_threads(t, cores, cpus, &perr) == CNB_OK;
    if (!p->pinned) add_note(p, "not pinned: %s", perr.msg);

    // The AVX2 (NEON) loop is only reachable once the (CNB_ISA-capped) features include AVX2 and FMA (NEON).
    struct fma_loop {
        cnb_flops_fn fn;
        double *out;
    } k[3] = {{cnb_peak_fma_scalar_run, p->fma_gflops[CNB_PEAK_SCALAR]},
              {cnb_peak_fma_scalar_run_vec128, p->vec128_gflops}};
    int nk = 2;
#if CNB_HAVE_AVX2
    const uint32_t need = CNB_ISA_AVX2 | CNB_ISA_FMA;
    if ((cnb_cpu_features() & need) == need) {
        k[nk++] = (struct fma_loop){cnb_peak_fma_avx2_run, p->fma_gflops[CNB_PEAK_AVX2]};
        m.triad = cnb_peak_triad_avx2_run;
    }
#endif
#if CNB_HAVE_NEON
    if (cnb_cpu_features() & CNB_ISA_NEON) {
        k[nk++] = (struct fma_loop){cnb_peak_fma_neon_run, p->fma_gflops[CNB_PEAK_NEON]};
        m.triad = cnb_peak_triad_neon_run;
    }
    static const char *const fma_name[3] = {"scalar", "vec128", "neon"};
#else
    static const char *const fma_name[3] = {"scalar", "vec128", "avx2"};
#endif
    snprintf(p->isa_best, sizeof p->isa_best, "%s", nk == 3 ? fma_name[2] : "scalar");
    for (int i = 0; i < nk; i++) {
        const fma_arg arg = {k[i].fn, fma_calibrate(&m, k[i].fn)};
        if (!measure_pair(&m, fma_best, &arg, cores, true, k[i].out))
            add_note(p, "%s peak on %d threads reached only %.1fx one thread", fma_name[i], cores, k[i].out[1] / k[i].out[0]);
    }
    measure_triad_l2(t, &m, p);
    measure_triad_mid(t, &m, p);
    measure_triad_dram(t, &m, scale, p);

    if (p->pinned) {
        char rep[256];
        if (cnb_topo_check_pinning(t, cores, cpus, NULL, rep, sizeof rep) != CNB_OK) {
            p->pinned = false;
            add_note(p, "threads moved during the measurement: %s", rep);
        }
    }
    if (cnb_topo_unpin_threads(t, cores, &perr) != CNB_OK) add_note(p, "%s", perr.msg);
    free(cpus);
    free(ts);
    p->seconds = omp_get_wtime() - start;
    return CNB_OK;
}

cnb_status cnb_peaks_measure(const cnb_topo *t, cnb_peaks *p, cnb_error *err) {
    return cnb_peaks_measure_scaled(t, 1.0, p, err);
}

// ---- consumers' helpers ----

// Linear from (1 thread, one) to (cores threads, all), never above threads x one; all beyond cores.
// A core cannot do less alone than its share of the team, so a disturbed 1-thread figure below all/cores
// is raised to that.
static double for_threads(double one, double all, int threads, int cores) {
    if (cores <= 1) return one;
    if (all <= 0) all = one * cores;
    one = fmax(one, all / cores);
    if (threads == 1) return one;
    if (threads <= 0 || threads >= cores) return all;
    const double v = one + (all - one) * (double)(threads - 1) / (double)(cores - 1);
    return fmin(v, one * threads);
}

double cnb_peaks_fma_for(const cnb_peaks *p, int threads) {
    if (!p) return 0;
    const double *g = p->fma_gflops[CNB_PEAK_SCALAR];
    const uint32_t need = CNB_ISA_AVX2 | CNB_ISA_FMA;
    if ((cnb_cpu_features() & need) == need && p->fma_gflops[CNB_PEAK_AVX2][0] > 0) g = p->fma_gflops[CNB_PEAK_AVX2];
    else if ((cnb_cpu_features() & CNB_ISA_NEON) && p->fma_gflops[CNB_PEAK_NEON][0] > 0) g = p->fma_gflops[CNB_PEAK_NEON];
    else if (p->vec128_gflops[0] > 0) g = p->vec128_gflops;
    return for_threads(g[0], g[1], threads, p->cores);
}

double cnb_peaks_bw_for(const cnb_peaks *p, int threads, size_t working_set_bytes, const cnb_topo *t) {
    if (!p) return 0;
    const int n = threads <= 0 || threads > p->cores ? p->cores : threads;
    const size_t l2 = t ? cnb_topo_l2_per_core(t) : 0;
    const bool in_l2 = l2 && p->triad_l2_gbs[0] > 0 && working_set_bytes <= (size_t)n * l2;
    const bool in_mid = !in_l2 && p->triad_mid_gbs[0] > 0 && working_set_bytes <= p->triad_mid_bytes;
    const double *g = in_l2 ? p->triad_l2_gbs : in_mid ? p->triad_mid_gbs : p->triad_dram_gbs;
    return for_threads(g[0], g[1], threads, p->cores);
}

// ---- printing and JSON ----

static void print_row(FILE *f, const char *what, const double v[2], int cores, const char *unit) {
    fprintf(f, "  %-34s", what);
    for (int i = 0; i < (cores > 1 ? 2 : 1); i++) {
        if (v[i] > 0) fprintf(f, " %10.1f", v[i]);
        else fprintf(f, " %10s", "-");
    }
    fprintf(f, "  %s\n", unit);
}

void cnb_peaks_print(const cnb_peaks *p, FILE *f) {
    char what[64];
    fprintf(f, "machine limits (%s in %.1f s, %s):\n", p->from_cache ? "cached, measured" : "measured",
            p->seconds, p->pinned ? "one pinned thread per core" : "threads not pinned");
    fprintf(f, "  %-34s %10s", "", "1 thread");
    if (p->cores > 1) fprintf(f, " %7d thr", p->cores);
    fputc('\n', f);
#if CNB_HAVE_NEON
    print_row(f, "fp32 neon FMA (4 lanes)", p->fma_gflops[CNB_PEAK_NEON], p->cores, "GFLOP/s");
#else
    print_row(f, "fp32 avx2 FMA (8 lanes)", p->fma_gflops[CNB_PEAK_AVX2], p->cores, "GFLOP/s");
#endif
    print_row(f, "fp32 128-bit mul+add (4 lanes)", p->vec128_gflops, p->cores, "GFLOP/s");
    print_row(f, "fp32 scalar mul+add (1 lane)", p->fma_gflops[CNB_PEAK_SCALAR], p->cores, "GFLOP/s");
    snprintf(what, sizeof what, "triad L2 (%zu KiB per thread)", (p->triad_l2_bytes + 512) / 1024);
    print_row(f, what, p->triad_l2_gbs, p->cores, "GB/s");
    snprintf(what, sizeof what, "triad %zu MiB (L3 if it holds it)", (p->triad_mid_bytes + CNB_MIB / 2) / CNB_MIB);
    if (p->triad_mid_gbs[0] > 0) print_row(f, what, p->triad_mid_gbs, p->cores, "GB/s");
    snprintf(what, sizeof what, "triad DRAM (%zu MiB)", (p->triad_dram_bytes + CNB_MIB / 2) / CNB_MIB);
    print_row(f, what, p->triad_dram_gbs, p->cores, "GB/s");
    fprintf(f, "  best ISA: %s; GB/s count 12 B per triad element (STREAM; write-allocate not counted)\n",
            p->isa_best);
    if (p->note[0]) fprintf(f, "  note: %s\n", p->note);
}

// Three decimals are plenty for figures that swing by 15%; null marks "not measured".
static json_t *num(double v) { return v > 0 && isfinite(v) ? json_real(round(v * 1000) / 1000) : json_null(); }
static json_t *pair(const double v[2]) { return json_pack("[o,o]", num(v[0]), num(v[1])); }

// "neon" only where it was measured (AArch64), so x86 files and reports stay as they were.
json_t *cnb_peaks_to_json(const cnb_peaks *p) {
    json_t *j = json_pack("{s:i, s:[i,i], s:{s:o, s:o, s:o}, s:o, s:o, s:I, s:I, s:i, s:s, s:o, s:b, s:s}",
                     "cores", p->cores,
                     "threads", 1, p->cores,
                     "fma_gflops", "scalar", pair(p->fma_gflops[CNB_PEAK_SCALAR]), "vec128", pair(p->vec128_gflops),
                     "avx2", pair(p->fma_gflops[CNB_PEAK_AVX2]),
                     "triad_dram_gbs", pair(p->triad_dram_gbs),
                     "triad_l2_gbs", pair(p->triad_l2_gbs),
                     "triad_dram_bytes", (json_int_t)p->triad_dram_bytes,
                     "triad_l2_bytes_per_thread", (json_int_t)p->triad_l2_bytes,
                     "triad_bytes_per_element", 12,
                     "isa_best", p->isa_best,
                     "seconds", num(p->seconds),
                     "pinned", p->pinned,
                     "note", p->note);
    if (j && p->triad_mid_gbs[0] > 0 &&
        (json_object_set_new(j, "triad_mid_gbs", pair(p->triad_mid_gbs)) ||
         json_object_set_new(j, "triad_mid_bytes", json_integer((json_int_t)p->triad_mid_bytes)))) {
        json_decref(j);
        return NULL;
    }
    if (j && p->fma_gflops[CNB_PEAK_NEON][0] > 0 &&
        json_object_set_new(json_object_get(j, "fma_gflops"), "neon", pair(p->fma_gflops[CNB_PEAK_NEON]))) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static bool get_pair(const json_t *o, const char *key, double v[2]) {
    const json_t *a = json_object_get(o, key);
    if (!json_is_array(a) || json_array_size(a) != 2) return false;
    for (size_t i = 0; i < 2; i++) {
        const json_t *x = json_array_get(a, i);
        if (json_is_null(x)) v[i] = 0;
        else if (json_is_number(x) && isfinite(json_number_value(x)) && json_number_value(x) >= 0) v[i] = json_number_value(x);
        else return false;
    }
    return true;
}

cnb_status cnb_peaks_from_json(const json_t *j, cnb_peaks *p, cnb_error *err) {
    memset(p, 0, sizeof *p);
    const json_t *fma = json_object_get(j, "fma_gflops");
    const json_t *cores = json_object_get(j, "cores"), *dram = json_object_get(j, "triad_dram_bytes");
    const json_t *l2 = json_object_get(j, "triad_l2_bytes_per_thread"), *isa = json_object_get(j, "isa_best");
    const json_t *secs = json_object_get(j, "seconds"), *pinned = json_object_get(j, "pinned");
    const json_t *note = json_object_get(j, "note");
    const char *bad = NULL;
    if (!json_is_object(j)) bad = "(top level)";
    else if (!json_is_integer(cores) || json_integer_value(cores) < 1 || json_integer_value(cores) > 1 << 20) bad = "cores";
    else if (!json_is_object(fma)) bad = "fma_gflops";
    else if (!get_pair(fma, "scalar", p->fma_gflops[CNB_PEAK_SCALAR])) bad = "fma_gflops.scalar";
    else if (!get_pair(fma, "vec128", p->vec128_gflops)) bad = "fma_gflops.vec128";
    else if (!get_pair(fma, "avx2", p->fma_gflops[CNB_PEAK_AVX2])) bad = "fma_gflops.avx2";
    else if (json_object_get(fma, "neon") && !get_pair(fma, "neon", p->fma_gflops[CNB_PEAK_NEON]))
        bad = "fma_gflops.neon";   // optional: written by AArch64 builds only
    else if (!get_pair(j, "triad_dram_gbs", p->triad_dram_gbs)) bad = "triad_dram_gbs";
    else if (!get_pair(j, "triad_l2_gbs", p->triad_l2_gbs)) bad = "triad_l2_gbs";
    else if (!json_is_integer(dram) || json_integer_value(dram) < 0) bad = "triad_dram_bytes";
    else if (!json_is_integer(l2) || json_integer_value(l2) < 0) bad = "triad_l2_bytes_per_thread";
    else if (json_object_get(j, "triad_mid_gbs") &&   // optional: older files lack it
             (!get_pair(j, "triad_mid_gbs", p->triad_mid_gbs) || !json_is_integer(json_object_get(j, "triad_mid_bytes")) ||
              json_integer_value(json_object_get(j, "triad_mid_bytes")) < 0))
        bad = "triad_mid_gbs";
    else if (!json_is_string(isa)) bad = "isa_best";
    else if (!json_is_number(secs) && !json_is_null(secs)) bad = "seconds";
    else if (!json_is_boolean(pinned)) bad = "pinned";
    else if (!json_is_string(note)) bad = "note";
    if (bad) {
        memset(p, 0, sizeof *p);
        return cnb_fail(err, CNB_E_PARSE, "peaks JSON: field '%s' is missing or invalid", bad);
    }
    p->cores = (int)json_integer_value(cores);
    p->triad_dram_bytes = (size_t)json_integer_value(dram);
    p->triad_l2_bytes = (size_t)json_integer_value(l2);
    if (p->triad_mid_gbs[0] > 0) p->triad_mid_bytes = (size_t)json_integer_value(json_object_get(j, "triad_mid_bytes"));
    snprintf(p->isa_best, sizeof p->isa_best, "%s", json_string_value(isa));
    p->seconds = json_is_number(secs) ? json_number_value(secs) : 0;
    p->pinned = json_is_true(pinned);
    snprintf(p->note, sizeof p->note, "%s", json_string_value(note));
    return CNB_OK;
}

// ---- the cache ----

bool cnb_peaks_default_cache_path(char *buf, size_t size) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    // The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
    if (xdg && xdg[0] == '/') n = snprintf(buf, size, "%s/cnnbench/peaks.json", xdg);
    else if (home && home[0]) n = snprintf(buf, size, "%s/.cache/cnnbench/peaks.json", home);
    else return false;
    return n > 0 && (size_t)n < size;
}

// What must match for cached figures to apply: CNB_ISA changes which loops are measured.
static json_t *fingerprint(const cnb_topo *t) {
    char feat[64];
    cnb_isa_names(cnb_cpu_features(), feat, sizeof feat);
    return json_pack("{s:s, s:s, s:i, s:i, s:I, s:I, s:I}", "cpu_model", t->cpu_model, "features", feat,
                     "cores", t->cores, "pus", t->pus, "l1d_bytes", (json_int_t)t->l1d.size,
                     "l2_bytes", (json_int_t)t->l2.size, "l3_bytes", (json_int_t)t->l3.size);
}

// mkdir -p of the directory part of path.
static int make_parent_dirs(const char *path) {
    char d[4096];
    if (snprintf(d, sizeof d, "%s", path) >= (int)sizeof d) return ENAMETOOLONG;
    char *slash = strrchr(d, '/');
    if (!slash || slash == d) return 0;
    *slash = 0;
    for (char *s = d + 1;; s++) {
        const bool end = *s == 0;
        if (*s == '/' || end) {
            *s = 0;
            if (mkdir(d, 0777) != 0 && errno != EEXIST) return errno;
            if (end) break;
            *s = '/';
        }
    }
    return 0;
}

cnb_status cnb_peaks_load_cache(const cnb_topo *t, const char *path, cnb_peaks *p, cnb_error *err) {
    if (!t || !t->topo || !path || !p) return cnb_fail(err, CNB_E_INVALID_ARG, "peaks cache: bad arguments");
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        if (access(path, F_OK) != 0) return cnb_fail(err, CNB_E_NOT_FOUND, "peaks cache %s does not exist", path);
        return cnb_fail(err, CNB_E_PARSE, "peaks cache %s, line %d: %s", path, jerr.line, jerr.text);
    }
    json_t *fp = fingerprint(t);
    const json_t *fmt = json_object_get(root, "format");
    cnb_status st = CNB_OK;
    if (!fp) st = cnb_fail(err, CNB_E_NOMEM, "peaks cache: out of memory");
    else if (!json_is_string(fmt) || strcmp(json_string_value(fmt), CNB_PEAKS_FORMAT))
        st = cnb_fail(err, CNB_E_NOT_FOUND, "peaks cache %s is not in format %s", path, CNB_PEAKS_FORMAT);
    else if (!json_equal(json_object_get(root, "fingerprint"), fp))
        st = cnb_fail(err, CNB_E_NOT_FOUND, "peaks cache %s was measured on another machine or CNB_ISA", path);
    else if (cnb_peaks_from_json(json_object_get(root, "peaks"), p, err) != CNB_OK)
        st = CNB_E_PARSE;
    else if (p->cores != t->cores)
        st = cnb_fail(err, CNB_E_NOT_FOUND, "peaks cache %s is for %d cores, not %d", path, p->cores, t->cores);
    if (st == CNB_OK) p->from_cache = true;
    json_decref(fp);
    json_decref(root);
    return st;
}

cnb_status cnb_peaks_save_cache(const cnb_topo *t, const char *path, const cnb_peaks *p, cnb_error *err) {
    if (!t || !t->topo || !path || !p) return cnb_fail(err, CNB_E_INVALID_ARG, "peaks cache: bad arguments");
    char tmp[4200];
    int e = make_parent_dirs(path);
    if (e) return cnb_fail(err, CNB_E_IO, "peaks cache %s: cannot create its directory: %s", path, strerror(e));
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return cnb_fail(err, CNB_E_IO, "peaks cache path is too long");
    json_t *root = json_pack("{s:s, s:o, s:o}", "format", CNB_PEAKS_FORMAT, "fingerprint", fingerprint(t), "peaks",
                             cnb_peaks_to_json(p));
    if (!root) return cnb_fail(err, CNB_E_NOMEM, "peaks cache: out of memory");
    // Write then rename, so a concurrent reader sees the old file or the new one, never half of one.
    cnb_status st = CNB_OK;
    if (json_dump_file(root, tmp, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) != 0 || rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        st = cnb_fail(err, CNB_E_IO, "peaks cache %s not written: %s", path, strerror(e));
    }
    json_decref(root);
    return st;
}

cnb_status cnb_peaks_load_or_measure(const cnb_topo *t, const char *cache_path, bool refresh, cnb_peaks *p,
                                     cnb_error *err) {
    if (!t || !t->topo) return cnb_fail(err, CNB_E_INVALID_ARG, "peaks: topology not loaded");
    if (!p) return cnb_fail(err, CNB_E_INVALID_ARG, "peaks: result pointer is NULL");
    char path[4096];
    bool have_path;
    if (cache_path && cache_path[0]) have_path = snprintf(path, sizeof path, "%s", cache_path) < (int)sizeof path;
    else have_path = cnb_peaks_default_cache_path(path, sizeof path);
    if (have_path && !refresh && cnb_peaks_load_cache(t, path, p, NULL) == CNB_OK) return CNB_OK;
    const cnb_status st = cnb_peaks_measure(t, p, err);
    if (st != CNB_OK) return st;
    cnb_error werr = {CNB_OK, ""};
    if (!have_path) add_note(p, "no cache: neither XDG_CACHE_HOME nor HOME is set");
    else if (cnb_peaks_save_cache(t, path, p, &werr) != CNB_OK) add_note(p, "%s", werr.msg);
    return CNB_OK;
}
