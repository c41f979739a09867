/* `cnnbench bench`: every (layer, input shape, implementation, thread count) asked for, measured through
 * Google Benchmark (harness/gbench_shim.h) after an agreement check against the reference (agree.h).
 * Threads are pinned one per physical core (hwloc, harness/topo.h) and checked; figures are shown against
 * the machine's measured peaks (harness/peak.h). Human table on stdout, progress on stderr, and with
 * --out a Google Benchmark JSON file with cnnbench's context and per-entry metadata added. */
#include <errno.h>
#include <fnmatch.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cnnbench.h"
#include "core/alloc.h"
#include "core/cpu.h"
#include "core/spec.h"
#include "harness/agree.h"
#include "harness/cliopt.h"
#include "harness/bench_meta.h"
#include "harness/cmd.h"
#include "harness/gbench_shim.h"
#include "harness/gbjson.h"
#include "harness/peak.h"
#include "harness/suite.h"
#include "harness/topo.h"


typedef struct layer_item {
    char suite[64], name[64], spec[512];
    cnb_layer layer;
    cnb_shape shape;
    int64_t count;
    double flops, bytes;
    cnb_bench_data data;
    bool data_ok;
    char auto_impl[CNB_MAX_THREAD_COUNTS][64];   /* what `auto` picks for this layer at each --threads count */
    bool auto_from_plan[CNB_MAX_THREAD_COUNTS];  /* ... taken from the --plan file */
    char rule_impl[CNB_MAX_THREAD_COUNTS][64];   /* the built-in rule's choice (differs only with --plan) */
    float *y;               /* output buffer shared by this layer's benchmarks (they run one at a time) */
    int64_t *idx;
    float *nrm, *nrv;
} layer_item;

typedef struct bench_entry {
    struct bench_ctx *ctx;
    layer_item *L;
    size_t impl;            /* registry index */
    int threads;
    cnb_plan *plan;         /* shared by the entries of one (layer, impl) */
    bool owns_plan;
    double pack_ms;
    cnb_agreement agree;
    bool failed;            /* agreement failed, or plan/run error */
    char error[2600];
    char repro[2048];
    char name[400];         /* the benchmark's registered name */
    void *workspace;
    size_t workspace_size;
    int cpus[CNB_MAX_THREADS];        /* where each thread was pinned */
    long tids[CNB_MAX_THREADS];       /* and which OS thread it was */
    char pin_report[256];
    bool pin_ok, announced;
    double est_s;           /* wall time of the agreement run (plan + one run): an upper bound of one run */
    /* results */
    double median_ns;
    double on_cpu;          /* CPU time of the process / (threads used x wall time) of the median: below 1
                             * when the threads were not all running, i.e. something else had the cores */
    int threads_used;       /* of `threads`, those the kernel ran on (small layers take fewer); 0: unknown */
    int nsamples;
    bool have_result;
} bench_entry;

typedef struct bench_ctx {
    cnb_topo topo;
    cnb_peaks peaks;
    bool cold;
    float *flush;
    size_t flush_n;
    bench_entry *entries;
    size_t n_entries, done;
    int fail_count;
    int tl[CNB_MAX_THREAD_COUNTS], nt;   /* the thread counts, as given */
} bench_ctx;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("cnnbench: bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* What `auto` picks for L at threads threads ("" if it cannot run it), and whether a plan file said so. */
static const char *auto_of(const bench_ctx *c, const layer_item *L, int threads, bool *from_plan) {
    for (int k = 0; k < c->nt; k++)
        if (c->tl[k] == threads) {
            if (from_plan) *from_plan = L->auto_from_plan[k];
            return L->auto_impl[k];
        }
    if (from_plan) *from_plan = false;
    return "";
}

/* The benchmark body: pin, then the timed loop over cnb_plan_run. */
static void bench_body(cnb_gb_state *st, void *arg) {
    bench_entry *e = arg;
    bench_ctx *c = e->ctx;
    if (!e->announced) {
        e->announced = true;
        c->done++;
        fprintf(stderr, "[%zu/%zu] %s:%s %s threads=%d\n", c->done, c->n_entries, e->L->suite, e->L->name,
                cnb_impl_name(e->impl), e->threads);
    }
    cnb_error err = {0};
    if (cnb_topo_pin_threads(&c->topo, e->threads, e->cpus, &err)) {
        cnb_gb_skip_with_error(st, err.msg);
        return;
    }
    cnb_topo_thread_ids(e->threads, e->tids);
    // The library's allocator: a large workspace gets huge pages, as the library's own buffers do.
    if (e->workspace_size && !e->workspace && !(e->workspace = cnb_malloc(e->workspace_size))) {
        cnb_gb_skip_with_error(st, "out of memory for the workspace");
        return;
    }
    layer_item *L = e->L;
    cnb_run_args a = {.x = L->data.x, .y = L->y, .indices = L->idx, .new_running_mean = L->nrm,
                      .new_running_var = L->nrv, .workspace = e->workspace, .threads = e->threads};
    // Each thread's CPU time over the loop: a kernel may take fewer threads than offered (small layers), and
    // the on-cpu share should count only those it used.
    double cpu0[CNB_MAX_THREADS];
    bool per_thread = true;
    for (int i = 0; i < e->threads; i++) per_thread &= (cpu0[i] = cnb_topo_thread_cpu_ns(e->tids[i])) >= 0;
    cnb_status rs = CNB_OK;
    while (cnb_gb_keep_running(st)) {
        if (c->cold) {
            cnb_gb_pause(st);
            // Touch a buffer larger than the last-level cache so the layer starts from DRAM.
            for (size_t i = 0; i < c->flush_n; i += 16) c->flush[i] += 1.f;
            cnb_gb_resume(st);
        }
        rs = cnb_plan_run(e->plan, &a, &err);
        if (rs) break;
    }
    if (rs) {
        cnb_gb_skip_with_error(st, err.msg);
        return;
    }
    if (per_thread) {
        // A thread the kernel used ran about as long as the calling one; one it left idle, only while it
        // spun down after the pinning regions before the loop.
        double d[CNB_MAX_THREADS], most = 0;
        for (int i = 0; i < e->threads; i++) {
            const double now = cnb_topo_thread_cpu_ns(e->tids[i]);
            d[i] = now >= 0 ? now - cpu0[i] : 0;
            if (d[i] > most) most = d[i];
        }
        int used = 0;
        for (int i = 0; i < e->threads; i++) used += d[i] >= 0.5 * most;
        if (used > 0) cnb_gb_set_counter(st, "threads_used", used, 0);
    }
    const double it = (double)cnb_gb_iterations(st);
    cnb_gb_set_counter(st, "GFLOP/s", L->flops * it * 1e-9, CNB_GB_RATE);
    cnb_gb_set_counter(st, "GB/s", L->bytes * it * 1e-9, CNB_GB_RATE);
    cnb_gb_set_counter(st, "agreement_error", e->agree.err, 0);
    e->pin_ok = cnb_topo_check_pinning(&c->topo, e->threads, e->cpus, e->tids, e->pin_report, sizeof e->pin_report) == CNB_OK;
}

/* An entry that failed its agreement check or its plan is reported, never timed. */
static void failed_body(cnb_gb_state *st, void *arg) {
    const bench_entry *e = arg;
    cnb_gb_skip_with_error(st, e->error);
}

/* The peak a layer is held against at t threads: compute-bound layers against the FMA peak, memory-bound
 * ones (arithmetic intensity below the machine balance) against the bandwidth of where they live. */
static void peak_for(const bench_ctx *c, const layer_item *L, int t, double *peak, bool *compute) {
    const double fma = cnb_peaks_fma_for(&c->peaks, t) * 1e9;
    const double bw = cnb_peaks_bw_for(&c->peaks, t, (size_t)L->bytes, &c->topo) * 1e9;
    const bool is_conv = L->layer.kind == CNB_CONV1D || L->layer.kind == CNB_CONV2D;
    *compute = is_conv && bw > 0 && L->flops / L->bytes >= fma / bw;
    *peak = *compute ? fma : bw;
}

/* The share of the wall time the benchmark's threads were on a CPU (process CPU time over threads x wall
 * time). OpenMP's workers spin while they wait, so an undisturbed run is close to 1; another process
 * that takes a core shows as less. Aggregates of CPU and real time are medians taken apart, so this can
 * exceed 1 a little. */
static double on_cpu_share(double cpu_ns, double real_ns, int threads) {
    return real_ns > 0 && threads > 0 ? cpu_ns / (real_ns * threads) : 0;
}

/* Below this share a time is marked as measured on a busy machine. */
#define BUSY_SHARE 0.9

// The threads a run used (its "threads_used" counter), else all it was given.
static int used_threads(const cnb_gb_result *r, int threads) {
    for (size_t k = 0; k < r->n_counters; k++)
        if (!strcmp(r->counter_names[k], "threads_used") && r->counter_values[k] >= 1 && r->counter_values[k] <= threads)
            return (int)(r->counter_values[k] + 0.5);
    return threads;
}

static void on_result(const cnb_gb_result *r, void *arg) {
    bench_ctx *c = arg;
    for (size_t i = 0; i < c->n_entries; i++) {
        bench_entry *e = &c->entries[i];
        if (strcmp(r->family_name, e->name)) continue;
        if (r->error) {
            if (!e->failed) snprintf(e->error, sizeof e->error, "%s", r->error_message);
            e->failed = true;
        } else if (!strcmp(r->run_type, "aggregate") && !strcmp(r->aggregate_name, "median")) {
            e->median_ns = r->real_ns;
            e->threads_used = used_threads(r, e->threads);
            e->on_cpu = on_cpu_share(r->cpu_ns, r->real_ns, e->threads_used);
            e->have_result = true;
        } else if (!strcmp(r->run_type, "iteration")) {
            e->nsamples++;
            if (e->nsamples == 1 || !e->have_result) {  // one repetition: no aggregates are reported
                e->median_ns = r->real_ns;
                e->threads_used = used_threads(r, e->threads);
                e->on_cpu = on_cpu_share(r->cpu_ns, r->real_ns, e->threads_used);
                e->have_result = true;
            }
        }
        return;
    }
}

static double entry_time(const bench_ctx *c, const layer_item *L, const char *impl_glob, int threads) {
    double best = 0;
    for (size_t i = 0; i < c->n_entries; i++) {
        const bench_entry *e = &c->entries[i];
        if (e->L != L || e->threads != threads || !e->have_result || e->failed) continue;
        if (fnmatch(impl_glob, cnb_impl_name(e->impl), 0)) continue;
        if (!best || e->median_ns < best) best = e->median_ns;
    }
    return best;
}

static void fmt_time(double ns, char *buf, size_t size) {
    if (ns <= 0) snprintf(buf, size, "-");
    else if (ns < 1e3) snprintf(buf, size, "%.0f ns", ns);
    else if (ns < 1e6) snprintf(buf, size, "%.1f us", ns / 1e3);
    else if (ns < 1e9) snprintf(buf, size, "%.2f ms", ns / 1e6);
    else snprintf(buf, size, "%.2f s", ns / 1e9);
}

static int cmp_rows(const void *a, const void *b) {
    const bench_entry *x = *(bench_entry *const *)a, *y = *(bench_entry *const *)b;
    if (x->threads != y->threads) return x->threads - y->threads;
    if (x->failed != y->failed) return x->failed - y->failed;
    double tx = x->median_ns > 0 ? x->median_ns : INFINITY, ty = y->median_ns > 0 ? y->median_ns : INFINITY;
    return tx < ty ? -1 : tx > ty;
}

static void print_table(const bench_ctx *c, layer_item *layers, size_t nl) {
    bench_entry **rows = malloc((c->n_entries + 1) * sizeof *rows);
    if (!rows) return;
    for (size_t l = 0; l < nl; l++) {
        layer_item *L = &layers[l];
        size_t n = 0;
        for (size_t i = 0; i < c->n_entries; i++)
            if (c->entries[i].L == L) rows[n++] = &c->entries[i];
        if (!n) continue;
        qsort(rows, n, sizeof *rows, cmp_rows);
        char shape[96] = "";
        size_t k = 0;
        for (int d = 0; d < L->shape.ndim; d++)
            k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%lld", d ? "x" : "", (long long)L->shape.dims[d]);
        double peak;
        bool compute;
        peak_for(c, L, 1, &peak, &compute);
        // auto's choice: one name when it is the same at every thread count, else one per count.
        char autos[600] = "";
        bool same = true;
        for (int k = 1; k < c->nt; k++)
            same &= !strcmp(L->auto_impl[k], L->auto_impl[0]) && L->auto_from_plan[k] == L->auto_from_plan[0];
        for (int k = 0, q = 0; k < (same ? 1 : c->nt) && q < (int)sizeof autos; k++) {
            char thr[24] = "";
            if (!same) snprintf(thr, sizeof thr, " at %d thread%s", c->tl[k], c->tl[k] == 1 ? "" : "s");
            char rule[96] = "";
            if (L->auto_from_plan[k] && strcmp(L->rule_impl[k], L->auto_impl[k]))
                snprintf(rule, sizeof rule, " instead of the built-in rule's %s", L->rule_impl[k][0] ? L->rule_impl[k] : "?");
            q += snprintf(autos + q, sizeof autos - (size_t)q, "%s%s%s%s%s", k ? ", " : "",
                          L->auto_impl[k][0] ? L->auto_impl[k] : "?", L->auto_from_plan[k] ? " from the plan file" : "",
                          rule, thr);
        }
        printf("\n%s:%s  %s  %s  x%lld  %.4g GFLOP  %.4g MB  (%s-bound; auto: %s)\n", L->suite, L->name, L->spec, shape,
               (long long)L->count, L->flops * 1e-9, L->bytes * 1e-6, compute ? "compute" : "memory", autos);
        printf("  %-34s %3s %10s %9s %8s %7s %9s %9s %8s %9s %6s  %s\n", "implementation", "thr", "time", "GFLOP/s",
               "GB/s", "%peak", "vs naive", "vs im2col", "scaling", "pack", "on-cpu", "agreement");
        for (size_t i = 0; i < n; i++) {
            const bench_entry *e = rows[i];
            char t[32], agree[128];
            if (e->failed) {
                printf("  %-34s %3d %10s %9s %8s %7s %9s %9s %8s %9s %6s  FAILED: %s\n", cnb_impl_name(e->impl),
                       e->threads, "-", "-", "-", "-", "-", "-", "-", "-", "-", e->error);
                continue;
            }
            fmt_time(e->median_ns, t, sizeof t);
            const double s = e->median_ns * 1e-9;
            const double gf = s > 0 ? L->flops / s * 1e-9 : 0, gb = s > 0 ? L->bytes / s * 1e-9 : 0;
            peak_for(c, L, e->threads, &peak, &compute);
            const double pct = peak > 0 && s > 0 ? 100.0 * (compute ? L->flops : L->bytes) / s / peak : 0;
            const double tn = entry_time(c, L, "*.naive.*", e->threads), ti = entry_time(c, L, "*.im2col.*", e->threads);
            char vn[16] = "-", vi[16] = "-", sc[16] = "-", pk[16];
            if (tn > 0 && s > 0) snprintf(vn, sizeof vn, "%.2fx", tn / e->median_ns);
            if (ti > 0 && s > 0) snprintf(vi, sizeof vi, "%.2fx", ti / e->median_ns);
            if (e->threads > 1) {
                for (size_t j = 0; j < c->n_entries; j++) {
                    const bench_entry *o = &c->entries[j];
                    if (o->L == L && o->impl == e->impl && o->threads == 1 && o->have_result && !o->failed && s > 0)
                        snprintf(sc, sizeof sc, "%.0f%%", 100.0 * o->median_ns / (e->threads * e->median_ns));
                }
            }
            snprintf(pk, sizeof pk, "%.2f ms", e->pack_ms);
            char oc[16];
            snprintf(oc, sizeof oc, "%.0f%%%s", 100.0 * e->on_cpu, e->on_cpu < BUSY_SHARE ? "!" : "");
            if (e->agree.err != 0) snprintf(agree, sizeof agree, "%s (err %.3g)", e->agree.rule, e->agree.err);
            else snprintf(agree, sizeof agree, "%s", e->agree.rule);
            printf("  %-34s %3d %10s %9.2f %8.2f %6.1f%% %9s %9s %8s %9s %6s  %s%s\n", cnb_impl_name(e->impl), e->threads,
                   t, gf, gb, pct, vn, vi, sc, pk, oc, agree, e->pin_ok ? "" : "  [pinning moved]");
        }
    }
    free(rows);
}

/* Whole-network totals per thread count, each layer weighted by its count: the best implementation per
 * layer, auto's choice, and every algorithm family that covers every layer of its kind. */
static void print_totals(const bench_ctx *c, layer_item *layers, size_t nl, const int *tl, int nt) {
    if (nl < 2) return;
    printf("\nwhole network (%zu distinct layers, each weighted by its count):\n", nl);
    for (int k = 0; k < nt; k++) {
        double best = 0, aut = 0, rule = 0;
        bool auto_ok = true, rule_ok = true;
        size_t from_plan = 0;
        for (size_t l = 0; l < nl; l++) {
            from_plan += layers[l].auto_from_plan[k];
            const double b = entry_time(c, &layers[l], "*", tl[k]);
            const double a = layers[l].auto_impl[k][0] ? entry_time(c, &layers[l], layers[l].auto_impl[k], tl[k]) : 0;
            const double r = layers[l].rule_impl[k][0] ? entry_time(c, &layers[l], layers[l].rule_impl[k], tl[k]) : 0;
            best += (double)layers[l].count * b;
            aut += (double)layers[l].count * a;
            rule += (double)layers[l].count * r;
            auto_ok &= a > 0;
            rule_ok &= r > 0;
        }
        char tb[32], ta[32];
        fmt_time(best, tb, sizeof tb);
        fmt_time(aut, ta, sizeof ta);
        char src[96] = "";
        if (from_plan) snprintf(src, sizeof src, " (from the plan file for %zu of %zu layers)", from_plan, nl);
        printf("  threads=%d: best per layer %s; auto's choice%s %s%s", tl[k], tb, src, auto_ok ? ta : "-",
               auto_ok && best > 0 ? "" : " (auto's choice not measured everywhere)");
        if (auto_ok && best > 0) printf(" (%.1f%% over the best)", 100.0 * (aut / best - 1));
        putchar('\n');
        if (from_plan) {  // the plan against the rule it replaces, measured in the same run
            char tr[32];
            fmt_time(rule, tr, sizeof tr);
            printf("  threads=%d: the built-in rule's choice %s", tl[k], rule_ok ? tr : "- (not measured everywhere)");
            if (rule_ok && best > 0) printf(" (%.1f%% over the best", 100.0 * (rule / best - 1));
            if (rule_ok && auto_ok && aut > 0) printf("; %.1f%% over the plan's)", 100.0 * (rule / aut - 1));
            else if (rule_ok && best > 0) putchar(')');
            putchar('\n');
        }
    }
}

/* Add cnnbench's context and per-entry metadata to the Google Benchmark JSON file raw, writing out. */
static int write_results(const bench_ctx *c, const char *raw, const char *out) {
    json_error_t je;
    json_t *root = cnb_gbjson_load_file(raw, &je);
    if (!root) {
        return fail("cannot read Google Benchmark's output %s: %s (line %d)", raw, je.text, je.line);
    }
    json_t *ctxo = json_object_get(root, "context");
    json_t *cnb = cnb_bench_context_json(&c->topo, &c->peaks);
    if (json_is_object(ctxo) && cnb) {
        json_object_set(ctxo, "cnnbench_machine", json_object_get(cnb, "machine"));
        json_object_set(ctxo, "cnnbench_build", json_object_get(cnb, "build"));
        json_object_set_new(ctxo, "cnnbench", cnb);
    } else {
        json_decref(cnb);
    }
    json_t *arr = json_object_get(root, "benchmarks");
    size_t i;
    json_t *b;
    json_array_foreach(arr, i, b) {
        const char *rn = json_string_value(json_object_get(b, "run_name"));
        if (!rn) rn = json_string_value(json_object_get(b, "name"));
        if (!rn) continue;
        for (size_t k = 0; k < c->n_entries; k++) {
            const bench_entry *e = &c->entries[k];
            size_t nl = strlen(e->name);
            if (strncmp(rn, e->name, nl) || (rn[nl] && rn[nl] != '/')) continue;
            const layer_item *L = e->L;
            char shape[96] = "";
            size_t q = 0;
            for (int d = 0; d < L->shape.ndim; d++)
                q += (size_t)snprintf(shape + q, sizeof shape - q, "%s%lld", d ? "," : "", (long long)L->shape.dims[d]);
            double peak;
            bool compute;
            peak_for(c, L, e->threads, &peak, &compute);
            const double rt = json_number_value(json_object_get(b, "real_time"));
            const char *unit = json_string_value(json_object_get(b, "time_unit"));
            const double scale = !unit ? 1 : !strcmp(unit, "us") ? 1e3 : !strcmp(unit, "ms") ? 1e6 : !strcmp(unit, "s") ? 1e9 : 1;
            const double secs = rt * scale * 1e-9;
            json_object_set_new(b, "suite", json_string(L->suite));
            json_object_set_new(b, "layer", json_string(L->name));
            json_object_set_new(b, "spec", json_string(L->spec));
            json_object_set_new(b, "shape", json_string(shape));
            json_object_set_new(b, "count", json_integer(L->count));
            json_object_set_new(b, "impl", json_string(cnb_impl_name(e->impl)));
            bool from_plan;
            json_object_set_new(b, "auto_impl", json_string(auto_of(c, L, e->threads, &from_plan)));
            json_object_set_new(b, "auto_from_plan", json_boolean(from_plan));
            for (int k = 0; k < c->nt; k++)
                if (c->tl[k] == e->threads) json_object_set_new(b, "rule_impl", json_string(L->rule_impl[k]));
            json_object_set_new(b, "omp_threads", json_integer(e->threads));
            json_object_set_new(b, "flops", json_real(L->flops));
            json_object_set_new(b, "bytes", json_real(L->bytes));
            json_object_set_new(b, "bound", json_string(compute ? "compute" : "memory"));
            json_object_set_new(b, "peak_per_s", json_real(peak));
            if (secs > 0 && peak > 0 && !json_object_get(b, "error_occurred"))
                json_object_set_new(b, "pct_peak", json_real(100.0 * (compute ? L->flops : L->bytes) / secs / peak));
            json_object_set_new(b, "pack_ms", json_real(e->pack_ms));
            // A repetition or the mean/median: stddev and cv are not times.
            const char *agg = json_string_value(json_object_get(b, "aggregate_name"));
            const double ct = json_number_value(json_object_get(b, "cpu_time"));
            const double tu = json_number_value(json_object_get(b, "threads_used"));
            const int used = tu >= 1 && tu <= e->threads ? (int)(tu + 0.5) : e->threads;
            if (rt > 0 && !json_object_get(b, "error_occurred") && (!agg || !strcmp(agg, "mean") || !strcmp(agg, "median")))
                json_object_set_new(b, "on_cpu_share", json_real(on_cpu_share(ct, rt, used)));
            json_object_set_new(b, "agreement", json_string(e->failed && e->agree.rule[0] && !e->agree.pass ? "fail"
                                                            : e->failed ? "error" : "pass"));
            json_object_set_new(b, "agreement_rule", json_string(e->agree.rule));
            json_object_set_new(b, "agreement_error", json_real(isfinite(e->agree.err) ? e->agree.err : 1e300));
            if (e->repro[0]) json_object_set_new(b, "reproducer", json_string(e->repro));
            json_object_set_new(b, "pinned_cpus", json_string(e->pin_report));
            break;
        }
    }
    int rc = json_dump_file(root, out, JSON_INDENT(2));
    json_decref(root);
    if (rc) return fail("cannot write %s: %s", out, strerror(errno));
    return 0;
}

int cnb_cmd_bench(int argc, char **argv) {
    const char *spec = NULL, *shape_arg = NULL, *impl_glob = NULL, *threads_arg = "1", *out = NULL, *peaks_cache = NULL;
    const char *plan_file = NULL;
    const char *suites[16];
    int nsuites = 0;
    long long batch = 0, seed = 1;
    bool train = false, cold = false, remeasure = false, any_machine = false;
    char *gb_argv[256];
    int gb_argc = 0;
    gb_argv[gb_argc++] = "cnnbench-bench";
    bool user_reps = false, user_min_time = false, user_out = false;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        if (!strncmp(a, "--benchmark_", 12)) {
            if (gb_argc >= 250) return fail("too many --benchmark_* flags");
            gb_argv[gb_argc++] = (char *)a;
            user_reps |= !strncmp(a, "--benchmark_repetitions", 23);
            user_min_time |= !strncmp(a, "--benchmark_min_time", 20);
            user_out |= !strncmp(a, "--benchmark_out=", 16) || !strcmp(a, "--benchmark_out");
            continue;
        }
        static const char *const valued[] = {"--shape", "--suite", "--impl", "--threads", "--out", "--peaks-cache",
                                             "--batch", "--seed", "--plan"};
        const char *opt = NULL;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0] && !opt; k++)
            if (cnb_opt_take(argc, argv, &i, valued[k], &v)) opt = valued[k];
        if (opt && !v) return fail("%s needs a value", opt);
        if (!opt) {
            if (!strcmp(a, "--train")) train = true;
            else if (!strcmp(a, "--cold-cache")) cold = true;
            else if (!strcmp(a, "--remeasure-peaks")) remeasure = true;
            else if (!strcmp(a, "--any-machine")) any_machine = true;
            else if (a[0] == '-' && a[1] == '-') return fail("unknown option '%s'", a);
            else if (!spec) spec = a;
            else return fail("unexpected argument '%s' (quote the SPEC as one argument)", a);
            continue;
        }
        char *end;
        if (!strcmp(opt, "--shape")) shape_arg = v;
        else if (!strcmp(opt, "--suite")) {
            if (nsuites == 16) return fail("at most 16 --suite options");
            suites[nsuites++] = v;
        } else if (!strcmp(opt, "--impl")) impl_glob = v;
        else if (!strcmp(opt, "--threads")) threads_arg = v;
        else if (!strcmp(opt, "--out")) out = v;
        else if (!strcmp(opt, "--peaks-cache")) peaks_cache = v;
        else if (!strcmp(opt, "--plan")) plan_file = v;
        else if (!strcmp(opt, "--batch")) {
            batch = strtoll(v, &end, 10);
            if (!*v || *end || batch < 1) return fail("--batch needs a positive integer, got '%s'", v);
        } else if (!strcmp(opt, "--seed")) {
            seed = strtoll(v, &end, 10);
            if (!*v || *end) return fail("--seed needs an integer, got '%s'", v);
        }
    }
    if (!spec && !nsuites) suites[nsuites++] = "resnet50";  // the default suite
    if (spec && !shape_arg) return fail("a SPEC needs --shape N,C,H,W");
    if (spec && nsuites) return fail("give either a SPEC or --suite, not both");
    if (any_machine && !plan_file) return fail("--any-machine goes with --plan FILE");

    bench_ctx c = {.cold = cold};
    cnb_error err = {0};
    if (cnb_topo_load(&c.topo, &err)) return fail("%s", err.msg);
    int rc = 1;
    layer_item *layers = NULL;
    size_t nl = 0;
    int tl[CNB_MAX_THREAD_COUNTS], nt = 0;
    char msg[512], raw[512] = "";
    if (!cnb_parse_threads(threads_arg, cnb_topo_cores(&c.topo), tl, &nt, msg, sizeof msg)) {
        fail("%s", msg);
        goto done;
    }
    memcpy(c.tl, tl, sizeof tl);
    c.nt = nt;
    if (plan_file && cnb_plan_file_load(plan_file, any_machine ? CNB_PLAN_FILE_ANY_MACHINE : 0, &err)) {
        fail("%s", err.msg);
        goto done;
    }

    /* The layers. */
    if (spec) {
        layers = calloc(1, sizeof *layers);
        if (!layers) goto nomem;
        layer_item *L = &layers[nl++];
        if (cnb_spec_parse(spec, &L->layer, &err)) { fail("%s", err.msg); goto done; }
        if (!cnb_parse_shape(shape_arg, &L->shape, msg, sizeof msg)) { fail("%s", msg); goto done; }
        snprintf(L->suite, sizeof L->suite, "cli");
        snprintf(L->name, sizeof L->name, "layer");
        snprintf(L->spec, sizeof L->spec, "%s", spec);
        L->count = 1;
        if (L->layer.kind == CNB_BATCHNORM2D) L->layer.u.batchnorm2d.training = train;
    } else {
        for (int s = 0; s < nsuites; s++) {
            cnb_suite su;
            if (cnb_suite_load(suites[s], CNB_SUITES_DIR, &su, &err)) { fail("%s", err.msg); goto done; }
            layer_item *grown = realloc(layers, (nl + su.n) * sizeof *layers);
            if (!grown) { cnb_suite_free(&su); goto nomem; }
            layers = grown;
            for (size_t k = 0; k < su.n; k++) {
                layer_item *L = &layers[nl++];
                memset(L, 0, sizeof *L);
                snprintf(L->suite, sizeof L->suite, "%s", su.name);
                snprintf(L->name, sizeof L->name, "%s", su.layers[k].name);
                snprintf(L->spec, sizeof L->spec, "%s", su.layers[k].spec);
                L->layer = su.layers[k].layer;
                L->shape = su.layers[k].shape;
                L->count = su.layers[k].count;
            }
            cnb_suite_free(&su);
        }
    }
    for (size_t l = 0; l < nl; l++) {
        layer_item *L = &layers[l];
        const int batched_nd = L->layer.kind == CNB_CONV1D ? 3 : 4;
        if (batch > 0 && L->shape.ndim == batched_nd) L->shape.dims[0] = batch;
        cnb_shape os;
        if (cnb_output_shape(&L->layer, &L->shape, &os, &err)) { fail("%s:%s: %s", L->suite, L->name, err.msg); goto done; }
        cnb_layer_work(&L->layer, &L->shape, &L->flops, &L->bytes);
    }

    /* Machine limits (cached between runs; --remeasure-peaks refreshes them). */
    char cache_path[1024];
    if (!peaks_cache && cnb_peaks_default_cache_path(cache_path, sizeof cache_path)) peaks_cache = cache_path;
    fprintf(stderr, "measuring or loading the machine's peaks...\n");
    if (cnb_peaks_load_or_measure(&c.topo, peaks_cache, remeasure, &c.peaks, &err)) { fail("%s", err.msg); goto done; }
    if (cold) {
        // Twice the last-level cache, but at most 256 MiB: VMs can report absurd L3 sizes (1 GiB here),
        // and the flush runs before every timed iteration.
        size_t l3 = cnb_topo_cache_size(&c.topo, 3), bytes = l3 ? 2 * l3 : (size_t)64 << 20;
        if (bytes > ((size_t)256 << 20)) bytes = (size_t)256 << 20;
        c.flush_n = bytes / sizeof(float);
        if (!(c.flush = calloc(c.flush_n, sizeof(float)))) goto nomem;
    }

    /* Data, reference and agreement per layer; one plan per (layer, implementation). The kernels' cache
     * sizes come from hwloc once per process: load them now, so the first plan's packing time is its own. */
    (void)cnb_cpu_caches();
    size_t cap = 0;
    const int tmax = tl[0] > 0 ? cnb_topo_cores(&c.topo) : 1;
    for (size_t l = 0; l < nl; l++) {
        layer_item *L = &layers[l];
        fprintf(stderr, "checking %s:%s (%zu/%zu)\n", L->suite, L->name, l + 1, nl);
        const double t0 = now_s();
        if (cnb_bench_data_make(&L->layer, &L->shape, (uint64_t)seed, tmax, &L->data, &err)) {
            fail("%s:%s: %s", L->suite, L->name, err.msg);
            goto done;
        }
        L->data_ok = true;
        for (int k = 0; k < nt; k++) {  // a plan file's choice depends on the thread count
            cnb_plan *ap = NULL;
            cnb_params aprm = {.weight = L->data.w, .bias = L->data.b, .running_mean = L->data.rm,
                               .running_var = L->data.rv, .threads = tl[k]};
            if (cnb_plan_create(&L->layer, &L->shape, "auto", &aprm, &ap, &err) == CNB_OK) {
                snprintf(L->auto_impl[k], sizeof L->auto_impl[k], "%s", cnb_plan_impl(ap));
                L->auto_from_plan[k] = cnb_plan_from_file(ap);
            } else if (plan_file) {  // the plan file names what cannot run here: an error, not a fall-back
                fail("%s:%s: auto: %s", L->suite, L->name, err.msg);
                goto done;
            }
            cnb_plan_destroy(ap);
            ap = NULL;
            aprm.builtin_rule = true;
            if (cnb_plan_create(&L->layer, &L->shape, "auto", &aprm, &ap, &err) == CNB_OK)
                snprintf(L->rule_impl[k], sizeof L->rule_impl[k], "%s", cnb_plan_impl(ap));
            cnb_plan_destroy(ap);
        }
        const double ref_s = now_s() - t0;
        L->y = cnb_bench_alloc_f(L->data.ny);
        if (L->data.ref_idx) L->idx = malloc((size_t)(L->data.ny ? L->data.ny : 1) * sizeof *L->idx);
        if (L->data.rm) {
            L->nrm = malloc((size_t)L->data.nc * sizeof *L->nrm);
            L->nrv = malloc((size_t)L->data.nc * sizeof *L->nrv);
        }
        if (!L->y || (L->data.ref_idx && !L->idx) || (L->data.rm && (!L->nrm || !L->nrv))) goto nomem;
        for (size_t i = 0; i < cnb_impl_count(); i++) {
            if (cnb_impl_kind(i) != L->layer.kind || !cnb_impl_matches(cnb_impl_name(i), impl_glob)) continue;
            if (cnb_impl_check(i, &L->layer, &L->shape, NULL) != CNB_OK) continue;
            cnb_plan *plan = NULL;
            double pack_ms = 0;
            char perr[320] = "";
            cnb_params prm = {.weight = L->data.w, .bias = L->data.b, .running_mean = L->data.rm,
                              .running_var = L->data.rv, .num_batches_tracked = L->data.nbt};
            // The fastest of three creations: one is a few milliseconds at most for our kernels, and a
            // single one on a shared machine can be stretched many times by a descheduling.
            for (int rep = 0; rep < 3; rep++) {
                cnb_plan_destroy(plan);
                plan = NULL;
                const double t0 = now_s();
                if (cnb_plan_create(&L->layer, &L->shape, cnb_impl_name(i), &prm, &plan, &err)) {
                    snprintf(perr, sizeof perr, "plan: %s", err.msg);
                    break;
                }
                const double ms = (now_s() - t0) * 1e3;
                if (!rep || ms < pack_ms) pack_ms = ms;
            }
            for (int k = 0; k < nt; k++) {
                if (c.n_entries == cap) {
                    cap = cap ? 2 * cap : 64;
                    bench_entry *g = realloc(c.entries, cap * sizeof *g);
                    if (!g) { cnb_plan_destroy(plan); goto nomem; }
                    c.entries = g;
                }
                bench_entry *e = &c.entries[c.n_entries++];
                memset(e, 0, sizeof *e);
                e->L = L;
                e->impl = i;
                e->threads = tl[k];
                e->plan = plan;
                e->owns_plan = k == 0;
                e->pack_ms = pack_ms;
                e->workspace_size = plan ? cnb_plan_workspace_size(plan) : 0;
                e->pin_ok = true;
                snprintf(e->name, sizeof e->name, "bench/%s/%s:%s/threads:%d", cnb_impl_name(i), L->suite, L->name, tl[k]);
                if (!plan) {
                    e->failed = true;
                    snprintf(e->error, sizeof e->error, "%s", perr);
                    continue;
                }
                const bool is_ref = !strcmp(cnb_impl_name(i), L->data.ref_impl) && tl[k] == tmax;
                if (is_ref) {
                    snprintf(e->agree.rule, sizeof e->agree.rule, "reference");
                    e->agree.pass = true;
                    e->est_s = ref_s;
                    continue;
                }
                const double t1 = now_s();
                const cnb_status cs = cnb_bench_check(&L->data, cnb_impl_name(i), tl[k], &e->agree, &err);
                e->est_s = now_s() - t1;
                if (cs) {
                    e->failed = true;
                    snprintf(e->error, sizeof e->error, "run: %s", err.msg);
                } else if (!e->agree.pass) {
                    e->failed = true;
                    char dir[600];
                    snprintf(dir, sizeof dir, "%s/cnnbench-repro-%ld-%zu", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
                             (long)getpid(), c.n_entries);
                    cnb_error re = {0};
                    if (cnb_bench_reproducer(&L->data, cnb_impl_name(i), dir, e->repro, sizeof e->repro, &re))
                        snprintf(e->repro, sizeof e->repro, "(could not write a reproducer: %s)", re.msg);
                    snprintf(e->error, sizeof e->error, "disagrees with %s: %s (%s); reproduce: %s", L->data.ref_impl,
                             e->agree.detail, e->agree.rule, e->repro);
                    fprintf(stderr, "AGREEMENT FAILED %s:%s %s threads=%d: %s\n  reproduce: %s\n", L->suite, L->name,
                            cnb_impl_name(i), tl[k], e->agree.detail, e->repro);
                }
            }
        }
    }
    if (!c.n_entries) {
        fail("no implementation matches%s%s and supports the layers given", impl_glob ? " --impl " : "", impl_glob ? impl_glob : "");
        goto done;
    }

    /* Register: a failed entry is reported through SkipWithError, never timed. */
    for (size_t i = 0; i < c.n_entries; i++) {
        c.entries[i].ctx = &c;
        if (c.entries[i].failed) c.fail_count++;
    }
    for (size_t i = 0; i < c.n_entries; i++) {
        bench_entry *e = &c.entries[i];
        if (e->failed) {
            if (cnb_gb_register(e->name, failed_body, e, CNB_GB_UNIT_US)) {
                fail("cannot register benchmark %s", e->name);
                goto done;
            }
            continue;
        }
        // With a cold cache the flush is paused time, which Google Benchmark's min_time does not count: a
        // fixed iteration count (about 20 ms of runs, 1 to 20) keeps small layers from flushing for minutes.
        cnb_gb_opts opts = {0};
        if (cold) opts.iterations = (int64_t)fmax(1.0, fmin(20.0, 0.02 / fmax(e->est_s, 1e-6)));
        if (cnb_gb_register_opts(e->name, bench_body, e, CNB_GB_UNIT_US | CNB_GB_PROCESS_CPU, &opts)) {
            fail("cannot register benchmark %s", e->name);
            goto done;
        }
    }
    static char reps[] = "--benchmark_repetitions=5", mint[] = "--benchmark_min_time=0.1";
    char outflag[600];
    if (!user_reps) gb_argv[gb_argc++] = reps;
    if (!user_min_time) gb_argv[gb_argc++] = mint;
    if (out && !user_out) {
        snprintf(raw, sizeof raw, "%s.gbench-tmp-%ld", out, (long)getpid());
        snprintf(outflag, sizeof outflag, "--benchmark_out=%s", raw);
        gb_argv[gb_argc++] = outflag;
        gb_argv[gb_argc++] = "--benchmark_out_format=json";
    }
    gb_argv[gb_argc] = NULL;
    fprintf(stderr, "timing %zu benchmarks (%zu layers x implementations x %d thread count%s)\n", c.n_entries, nl, nt,
            nt > 1 ? "s" : "");
    if (cnb_gb_run_with_results(&gb_argc, gb_argv, on_result, &c, true) < 0) {
        fail("Google Benchmark refused its arguments (see above)");
        goto done;
    }
    cnb_topo_unpin_threads(&c.topo, tl[nt - 1], NULL);
    for (size_t i = 0; i < c.n_entries; i++)
        if (c.entries[i].announced && !c.entries[i].pin_ok)
            fprintf(stderr, "warning: %s: threads moved during the run: %s\n", c.entries[i].name, c.entries[i].pin_report);

    printf("cnnbench bench: peaks for 1 thread: %.1f GFLOP/s FMA (%s), triad %.1f GB/s DRAM, %.1f GB/s L2%s\n",
           cnb_peaks_fma_for(&c.peaks, 1), c.peaks.isa_best, c.peaks.triad_dram_gbs[0], c.peaks.triad_l2_gbs[0],
           c.peaks.from_cache ? " (cached)" : "");
    if (plan_file) printf("auto takes its choices from the plan file %s where it has the layer\n", plan_file);
    for (int k = 0; k < nt; k++) {
        for (size_t i = 0; i < c.n_entries; i++)
            if (c.entries[i].threads == tl[k] && c.entries[i].announced) {
                printf("threads=%d pinned: %s\n", tl[k], c.entries[i].pin_report);
                break;
            }
    }
    print_table(&c, layers, nl);
    print_totals(&c, layers, nl, tl, nt);
    size_t busy = 0, timed = 0;
    for (size_t i = 0; i < c.n_entries; i++)
        if (c.entries[i].have_result && !c.entries[i].failed) timed++, busy += c.entries[i].on_cpu < BUSY_SHARE;
    if (busy)
        printf("\nwarning: %zu of %zu measurements (on-cpu marked '!') had their threads on a CPU less than %.0f%% of the\n"
               "time: something else was running on these cores, so their times are inflated. Measure again on a\n"
               "quiet machine, or compare only implementations measured side by side.\n",
               busy, timed, 100 * BUSY_SHARE);
    rc = 0;
    if (out && !user_out && write_results(&c, raw, out)) rc = 1;
    if (c.fail_count) {
        fprintf(stderr, "cnnbench: bench: %d entr%s failed the agreement check or could not run\n", c.fail_count,
                c.fail_count == 1 ? "y" : "ies");
        rc = 1;
    }
    goto done;
nomem:
    fail("out of memory");
    rc = 1;
done:
    if (raw[0]) unlink(raw);
    for (size_t i = 0; i < c.n_entries; i++) {
        if (c.entries[i].owns_plan) cnb_plan_destroy(c.entries[i].plan);
        cnb_free(c.entries[i].workspace);
    }
    free(c.entries);
    for (size_t l = 0; l < nl; l++) {
        cnb_bench_data_free(&layers[l].data);
        free(layers[l].y), free(layers[l].idx), free(layers[l].nrm), free(layers[l].nrv);
    }
    free(layers);
    free(c.flush);
    cnb_topo_free(&c.topo);
    return rc;
}
