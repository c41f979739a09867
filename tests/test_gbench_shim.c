// tests/test_gbench_shim.c: unit test of harness/gbench_shim.cc, the C interface to Google Benchmark. Registers
// C benchmarks (a summing loop with counters and a label, one that reports an error, one with a fixed
// iteration count that pauses the timer, two that leave their loop wrongly), runs them with repetitions and
// a JSON --benchmark_out file, and checks the result callback and the file (parsed with jansson). Then checks
// that bad command lines give -1 instead of exiting. Files live in a mkdtemp() directory, removed at the end.
// Prints failures and "gbench_shim: N passed, M failed"; exits 0 only if every check passed.
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L  // mkdtemp
#endif
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/gbench_shim.h"

typedef struct tctx {
    int passed, failed;
    char dir[64];
} tctx;

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

// ---- the benchmarks ------------------------------------------------------------------------------------

#define N_DATA 256

typedef struct bench_ctx {
    float data[N_DATA];
    volatile float sink;  // keeps the sums alive
    long calls_sum, calls_fail, calls_fixed, calls_early, calls_noloop;
    long loops_sum;               // iterations of the summing loop, over all calls
    bool fail_loop_entered;       // keep_running said true after skip_with_error
    int64_t fixed_iters_seen;     // cnb_gb_iterations() after test/fixed's loop
    int thread_index_seen;
} bench_ctx;

static void bench_sum(cnb_gb_state *st, void *ctx) {
    bench_ctx *b = ctx;
    b->calls_sum++;
    b->thread_index_seen = cnb_gb_thread_index(st);
    while (cnb_gb_keep_running(st)) {
        float s = 0.f;
        for (int i = 0; i < N_DATA; i++) s += b->data[i];
        b->sink = s;
        b->loops_sum++;
    }
    cnb_gb_set_counter(st, "items", N_DATA, 0);
    cnb_gb_set_counter(st, "GFLOP/s", N_DATA * 1e-9, CNB_GB_RATE | CNB_GB_ITER_INVARIANT);
    cnb_gb_set_counter(st, "bytes/s", (double)(N_DATA * sizeof(float)), CNB_GB_RATE | CNB_GB_ITER_INVARIANT | CNB_GB_K1024);
    cnb_gb_set_counter(st, "one_per_iter", (double)cnb_gb_iterations(st), CNB_GB_AVG_ITERS);
    cnb_gb_set_label(st, "n=256");
}

static void bench_fail(cnb_gb_state *st, void *ctx) {
    bench_ctx *b = ctx;
    b->calls_fail++;
    cnb_gb_skip_with_error(st, "kernel refused the shape");
    cnb_gb_pause(st);  // no-ops after an error (Google Benchmark itself would abort)
    cnb_gb_resume(st);
    while (cnb_gb_keep_running(st)) b->fail_loop_entered = true;
}

static void bench_fixed(cnb_gb_state *st, void *ctx) {
    bench_ctx *b = ctx;
    b->calls_fixed++;
    cnb_gb_pause(st);  // before the loop: ignored
    while (cnb_gb_keep_running(st)) {
        float s = 0.f;
        for (int i = 0; i < N_DATA; i++) s += b->data[i] * b->data[i];
        b->sink = s;
        cnb_gb_pause(st);  // untimed tail; cnb_gb_keep_running() resumes
        cnb_gb_pause(st);  // twice: ignored
        b->sink = 0.f;
    }
    b->fixed_iters_seen = cnb_gb_iterations(st);
}

static void bench_early(cnb_gb_state *st, void *ctx) {
    bench_ctx *b = ctx;
    b->calls_early++;
    while (cnb_gb_keep_running(st)) break;  // leaves the loop without an error: reported as one
}

static void bench_noloop(cnb_gb_state *st, void *ctx) {
    bench_ctx *b = ctx;
    (void)st;
    b->calls_noloop++;
}

// ---- collected results ---------------------------------------------------------------------------------

#define MAX_RECS 128
#define MAX_CTRS 8

typedef struct rec {
    char name[128], run_name[128], family[64], run_type[16], agg[16], label[32], unit[4], err_msg[128];
    bool pct, error;
    int64_t rep, reps, iters;
    double real_ns, cpu_ns;
    int n_ctr;
    char ctr_names[MAX_CTRS][32];
    double ctr_vals[MAX_CTRS];
} rec;

typedef struct recs {
    int n, dropped;
    rec r[MAX_RECS];
} recs;

// Copy src (NULL: "") into dst[size], cut to fit.
static void copy(char *dst, size_t size, const char *src) {
    size_t n = src ? strlen(src) : 0;
    if (n >= size) n = size - 1;
    if (n) memcpy(dst, src, n);
    dst[n] = '\0';
}

static void on_result(const cnb_gb_result *r, void *ctx) {
    recs *rs = ctx;
    if (rs->n == MAX_RECS) {
        rs->dropped++;
        return;
    }
    rec *o = &rs->r[rs->n++];
    memset(o, 0, sizeof *o);
    copy(o->name, sizeof o->name, r->name);
    copy(o->run_name, sizeof o->run_name, r->run_name);
    copy(o->family, sizeof o->family, r->family_name);
    copy(o->run_type, sizeof o->run_type, r->run_type);
    copy(o->agg, sizeof o->agg, r->aggregate_name);
    copy(o->label, sizeof o->label, r->label);
    copy(o->unit, sizeof o->unit, r->time_unit);
    copy(o->err_msg, sizeof o->err_msg, r->error_message);
    o->pct = r->percentage;
    o->error = r->error;
    o->rep = r->repetition_index;
    o->reps = r->repetitions;
    o->iters = r->iterations;
    o->real_ns = r->real_ns;
    o->cpu_ns = r->cpu_ns;
    for (size_t i = 0; i < r->n_counters && i < MAX_CTRS; i++) {
        copy(o->ctr_names[i], sizeof o->ctr_names[i], r->counter_names[i]);
        o->ctr_vals[i] = r->counter_values[i];
        o->n_ctr++;
    }
}

// Number of records of family with run_type type (and aggregate agg, if not NULL).
static int count(const recs *rs, const char *family, const char *type, const char *agg) {
    int n = 0;
    for (int i = 0; i < rs->n; i++) {
        const rec *r = &rs->r[i];
        if (strcmp(r->family, family) == 0 && strcmp(r->run_type, type) == 0 && (!agg || strcmp(r->agg, agg) == 0)) n++;
    }
    return n;
}

static const rec *find(const recs *rs, const char *family, const char *type, const char *agg) {
    for (int i = 0; i < rs->n; i++) {
        const rec *r = &rs->r[i];
        if (strcmp(r->family, family) == 0 && strcmp(r->run_type, type) == 0 && (!agg || strcmp(r->agg, agg) == 0))
            return r;
    }
    return NULL;
}

static bool counter(const rec *r, const char *name, double *value) {
    for (int i = 0; i < r->n_ctr; i++)
        if (strcmp(r->ctr_names[i], name) == 0) {
            *value = r->ctr_vals[i];
            return true;
        }
    return false;
}

// ---- checks ----------------------------------------------------------------------------------------------

static void check_results(tctx *t, const recs *rs, const bench_ctx *b) {
    check(t, rs->dropped == 0, "more than %d results", MAX_RECS);
    // The bodies really ran: several calls each (iteration-count probing, then 3 repetitions).
    check(t, b->calls_sum >= 3 && b->loops_sum > 0, "test/sum ran %ld times, %ld loops", b->calls_sum, b->loops_sum);
    check(t, b->calls_fail >= 1 && !b->fail_loop_entered, "test/fail: calls %ld, loop entered %d", b->calls_fail,
          b->fail_loop_entered);
    check(t, b->calls_fixed == 3, "test/fixed (7 iterations, 3 repetitions) ran %ld times", b->calls_fixed);
    check(t, b->fixed_iters_seen == 7, "cnb_gb_iterations after test/fixed's loop: %lld", (long long)b->fixed_iters_seen);
    check(t, b->calls_early >= 1 && b->calls_noloop >= 1, "early/noloop calls %ld %ld", b->calls_early, b->calls_noloop);
    check(t, b->thread_index_seen == 0, "thread index %d", b->thread_index_seen);

    // test/sum: 3 repetitions, then mean, median, stddev, cv.
    check(t, count(rs, "test/sum", "iteration", NULL) == 3, "test/sum iteration rows: %d",
          count(rs, "test/sum", "iteration", NULL));
    static const char *const aggs[] = {"mean", "median", "stddev", "cv"};
    for (int i = 0; i < 4; i++)
        check(t, count(rs, "test/sum", "aggregate", aggs[i]) == 1, "test/sum has no %s aggregate", aggs[i]);
    int reps_seen = 0;
    for (int i = 0; i < rs->n; i++) {
        const rec *r = &rs->r[i];
        if (strcmp(r->family, "test/sum") != 0 || strcmp(r->run_type, "iteration") != 0) continue;
        reps_seen |= 1 << (int)r->rep;
        double items = 0, gflops = 0, bytes = 0, per_iter = 0;
        check(t, counter(r, "items", &items) && items == N_DATA, "test/sum rep %lld: items %g", (long long)r->rep, items);
        check(t, counter(r, "GFLOP/s", &gflops) && gflops > 0 && isfinite(gflops), "test/sum: GFLOP/s %g", gflops);
        check(t, counter(r, "bytes/s", &bytes) && bytes > gflops, "test/sum: bytes/s %g", bytes);
        check(t, counter(r, "one_per_iter", &per_iter) && fabs(per_iter - 1.0) < 1e-9, "test/sum: one_per_iter %g", per_iter);
        // GFLOP/s = N * 1e-9 / (seconds per iteration): consistent with real_ns.
        double expect = N_DATA / r->real_ns;
        check(t, fabs(gflops - expect) <= 1e-6 * expect, "test/sum: GFLOP/s %g, expected %g from real_ns", gflops, expect);
        check(t, r->iters > 0 && r->real_ns > 0 && r->cpu_ns > 0, "test/sum: iterations %lld, real %g ns, cpu %g ns",
              (long long)r->iters, r->real_ns, r->cpu_ns);
        check(t, !r->error && r->reps == 3, "test/sum: error %d, repetitions %lld", r->error, (long long)r->reps);
        check(t, strcmp(r->run_name, "test/sum/real_time") == 0 && strcmp(r->name, r->run_name) == 0,
              "test/sum: name '%s', run_name '%s'", r->name, r->run_name);
        check(t, strcmp(r->label, "n=256") == 0, "test/sum: label '%s'", r->label);
        check(t, strcmp(r->unit, "ns") == 0, "test/sum: unit '%s'", r->unit);
    }
    check(t, reps_seen == 7, "test/sum repetition indexes 0..2 (mask %d)", reps_seen);
    const rec *mean = find(rs, "test/sum", "aggregate", "mean");
    const rec *cv = find(rs, "test/sum", "aggregate", "cv");
    if (check(t, mean && cv, "test/sum mean/cv missing")) {
        double items = 0;
        check(t, strcmp(mean->name, "test/sum/real_time_mean") == 0, "mean name '%s'", mean->name);
        check(t, mean->rep == -1 && mean->iters == 3 && !mean->pct, "mean: rep %lld iterations %lld pct %d",
              (long long)mean->rep, (long long)mean->iters, mean->pct);
        check(t, mean->real_ns > 0 && counter(mean, "items", &items) && items == N_DATA, "mean: real %g items %g",
              mean->real_ns, items);
        check(t, cv->pct && cv->real_ns >= 0 && cv->real_ns < 10, "cv: pct %d value %g", cv->pct, cv->real_ns);
        // The mean's per-iteration time lies between the repetitions' (aggregates are rescaled in the library).
        double lo = INFINITY, hi = 0;
        for (int i = 0; i < rs->n; i++) {
            const rec *r = &rs->r[i];
            if (strcmp(r->family, "test/sum") != 0 || strcmp(r->run_type, "iteration") != 0) continue;
            lo = fmin(lo, r->real_ns);
            hi = fmax(hi, r->real_ns);
        }
        check(t, mean->real_ns >= lo * (1 - 1e-9) && mean->real_ns <= hi * (1 + 1e-9), "mean %g ns outside [%g, %g]",
              mean->real_ns, lo, hi);
    }

    // test/fail: error rows carrying the message, no counters, no aggregates.
    int fail_rows = count(rs, "test/fail", "iteration", NULL);
    check(t, fail_rows >= 1, "test/fail: no rows");
    check(t, count(rs, "test/fail", "aggregate", NULL) == 0, "test/fail has aggregates");
    const rec *f = find(rs, "test/fail", "iteration", NULL);
    if (f)
        check(t, f->error && strcmp(f->err_msg, "kernel refused the shape") == 0 && f->n_ctr == 0,
              "test/fail: error %d message '%s' counters %d", f->error, f->err_msg, f->n_ctr);

    // test/fixed: exactly 7 iterations, microseconds, the override in the name.
    const rec *x = find(rs, "test/fixed", "iteration", NULL);
    if (check(t, x != NULL, "test/fixed: no rows")) {
        check(t, x->iters == 7 && !x->error, "test/fixed: %lld iterations, error %d '%s'", (long long)x->iters,
              x->error, x->err_msg);
        check(t, strcmp(x->unit, "us") == 0, "test/fixed: unit '%s'", x->unit);
        check(t, strstr(x->run_name, "iterations:7") && strstr(x->run_name, "real_time"), "test/fixed run_name '%s'",
              x->run_name);
    }
    check(t, count(rs, "test/fixed", "iteration", NULL) == 3, "test/fixed iteration rows: %d",
          count(rs, "test/fixed", "iteration", NULL));

    // Bodies that leave the loop wrongly become errors, not aborts.
    const rec *e = find(rs, "test/early", "iteration", NULL);
    const rec *n = find(rs, "test/noloop", "iteration", NULL);
    check(t, e && e->error && strstr(e->err_msg, "returned before"), "test/early: '%s'", e ? e->err_msg : "(none)");
    check(t, n && n->error && strstr(n->err_msg, "without running"), "test/noloop: '%s'", n ? n->err_msg : "(none)");
}

static json_t *load_json(tctx *t, const char *path) {
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    check(t, root != NULL, "%s: %s (line %d)", path, jerr.text, jerr.line);
    return root;
}

static void check_json(tctx *t, const char *path) {
    json_t *root = load_json(t, path);
    if (!root) return;
    json_t *context = json_object_get(root, "context");
    check(t, json_is_string(json_object_get(context, "cnnbench_test")) &&
                 strcmp(json_string_value(json_object_get(context, "cnnbench_test")), "yes") == 0,
          "out.json: context.cnnbench_test missing");
    json_t *benchmarks = json_object_get(root, "benchmarks");
    int sum_iter = 0, sum_agg = 0, with_counters = 0, fail_err = 0, fail_other = 0;
    size_t i;
    json_t *b;
    json_array_foreach(benchmarks, i, b) {
        const char *name = json_string_value(json_object_get(b, "run_name"));
        const char *type = json_string_value(json_object_get(b, "run_type"));
        if (!name || !type) continue;
        if (strcmp(name, "test/sum/real_time") == 0) {
            if (strcmp(type, "iteration") == 0) sum_iter++;
            if (strcmp(type, "aggregate") == 0) sum_agg++;
            if (json_is_number(json_object_get(b, "items")) && json_is_number(json_object_get(b, "GFLOP/s")))
                with_counters++;
        } else if (strcmp(name, "test/fail/real_time") == 0) {
            const char *msg = json_string_value(json_object_get(b, "error_message"));
            if (json_is_true(json_object_get(b, "error_occurred")) && msg && strcmp(msg, "kernel refused the shape") == 0)
                fail_err++;
            else
                fail_other++;
        }
    }
    check(t, sum_iter == 3 && sum_agg == 4, "out.json: test/sum has %d iteration and %d aggregate entries", sum_iter,
          sum_agg);
    check(t, with_counters == 7, "out.json: %d test/sum entries with items and GFLOP/s", with_counters);
    check(t, fail_err >= 1 && fail_other == 0, "out.json: test/fail has %d error entries, %d others", fail_err, fail_other);
    json_decref(root);
}

// Run with argv = {"test_gbench_shim", args..., NULL}; returns cnb_gb_run_with_results()'s value.
static int run_args(int n, const char *const *args, recs *rs, bool quiet, int *argc_after, char **argv_out) {
    char *argv[16] = {"test_gbench_shim"};
    for (int i = 0; i < n && i < 14; i++) argv[i + 1] = (char *)args[i];
    int argc = n + 1;
    int rc = cnb_gb_run_with_results(&argc, argv, rs ? on_result : NULL, rs, quiet);
    if (argc_after) *argc_after = argc;
    if (argv_out) argv_out[0] = argv[1];
    return rc;
}

static long total_calls(const bench_ctx *b) {
    return b->calls_sum + b->calls_fail + b->calls_fixed + b->calls_early + b->calls_noloop;
}

int main(void) {
    tctx t = {0, 0, "/tmp/test_gbench_shim.XXXXXX"};
    if (!mkdtemp(t.dir)) {
        perror("mkdtemp");
        return 1;
    }
    char out1[128], out2[128], bad_out[128];
    snprintf(out1, sizeof out1, "%s/out.json", t.dir);
    snprintf(out2, sizeof out2, "%s/out2.json", t.dir);
    snprintf(bad_out, sizeof bad_out, "%s/no/such/dir/out.json", t.dir);

    static bench_ctx b;
    for (int i = 0; i < N_DATA; i++) b.data[i] = (float)(i % 7) * 0.25f;

    // Registration, including refusals.
    check(&t, cnb_gb_register("test/sum", bench_sum, &b, CNB_GB_UNIT_DEFAULT) == 0, "register test/sum");
    check(&t, cnb_gb_register("test/fail", bench_fail, &b, CNB_GB_UNIT_NS) == 0, "register test/fail");
    cnb_gb_opts fixed = {.iterations = 7};
    check(&t, cnb_gb_register_opts("test/fixed", bench_fixed, &b, CNB_GB_UNIT_US, &fixed) == 0, "register test/fixed");
    check(&t, cnb_gb_register("test/early", bench_early, &b, 0) == 0, "register test/early");
    check(&t, cnb_gb_register("test/noloop", bench_noloop, &b, CNB_GB_PROCESS_CPU) == 0, "register test/noloop");
    check(&t, cnb_gb_register(NULL, bench_sum, &b, 0) == -1, "register with a NULL name");
    check(&t, cnb_gb_register("x", NULL, &b, 0) == -1, "register with a NULL function");
    check(&t, cnb_gb_register("x", bench_sum, &b, 0x100) == -1, "register with unknown flags");
    check(&t, cnb_gb_register("x", bench_sum, &b, 5) == -1, "register with unit 5");
    cnb_gb_opts both = {.iterations = 3, .min_time = 0.1};
    check(&t, cnb_gb_register_opts("x", bench_sum, &b, 0, &both) == -1, "register with iterations and min_time");
    cnb_gb_opts neg = {.repetitions = -1};
    check(&t, cnb_gb_register_opts("x", bench_sum, &b, 0, &neg) == -1, "register with negative repetitions");

    check(&t, cnb_gb_add_context("cnnbench_test", "yes") == 0, "add_context");
    check(&t, cnb_gb_add_context("cnnbench_test", "again") == -1, "add_context with a duplicate key");
    check(&t, cnb_gb_add_context(NULL, "x") == -1, "add_context with a NULL key");

    // The main run: console table on stdout, JSON file, results through the callback.
    char out_arg[160];
    snprintf(out_arg, sizeof out_arg, "--benchmark_out=%s", out1);
    const char *args1[] = {"--benchmark_repetitions=3", "--benchmark_min_time=0.01", out_arg,
                           "--benchmark_out_format=json", "--benchmark_color=false"};
    static recs rs1;
    int argc_after = 0;
    int rc = run_args(5, args1, &rs1, false, &argc_after, NULL);
    check(&t, rc == 5, "run: returned %d, expected 5 benchmarks", rc);
    check(&t, argc_after == 1, "run: argc after Initialize %d, expected 1", argc_after);
    check_results(&t, &rs1, &b);
    check(&t, access(out1, F_OK) == 0, "%s was not written", out1);
    check_json(&t, out1);

    // A second run in the same process: filter, new file, quiet, one repetition. The context of the first run
    // is gone (cleared by the shim's Shutdown) and a new one is reported.
    check(&t, cnb_gb_add_context("second_run", "2") == 0, "add_context before the second run");
    char out2_arg[160];
    snprintf(out2_arg, sizeof out2_arg, "--benchmark_out=%s", out2);
    const char *args2[] = {"--benchmark_filter=^test/sum", "--benchmark_repetitions=1", out2_arg};
    static recs rs2;
    long loops_before = b.loops_sum;
    rc = run_args(3, args2, &rs2, true, NULL, NULL);
    check(&t, rc == 1, "second run: returned %d, expected 1", rc);
    check(&t, rs2.n == 1 && count(&rs2, "test/sum", "iteration", NULL) == 1, "second run: %d results", rs2.n);
    check(&t, b.loops_sum > loops_before, "second run: test/sum did not run");
    json_t *root2 = load_json(&t, out2);
    if (root2) {
        json_t *context = json_object_get(root2, "context");
        check(&t, json_object_get(context, "cnnbench_test") == NULL, "second run: the first run's context is still there");
        check(&t, json_is_string(json_object_get(context, "second_run")), "second run: context.second_run missing");
        check(&t, json_array_size(json_object_get(root2, "benchmarks")) == 1, "second run: %zu benchmarks in the file",
              json_array_size(json_object_get(root2, "benchmarks")));
        json_decref(root2);
    }

    // Listing runs nothing and counts the matches.
    long calls = total_calls(&b);
    const char *args_list[] = {"--benchmark_list_tests=true", "--benchmark_filter=test/(sum|fail)"};
    rc = run_args(2, args_list, NULL, false, NULL, NULL);
    check(&t, rc == 2 && total_calls(&b) == calls, "list_tests: returned %d, calls %ld -> %ld", rc, calls, total_calls(&b));
    const char *args_nolist[] = {"--benchmark_list_tests=false", "--benchmark_filter=nothing_matches_this"};
    rc = run_args(2, args_nolist, NULL, true, NULL, NULL);
    check(&t, rc == 0, "a filter matching nothing: returned %d", rc);

    // Bad command lines: -1 (with a message on stderr), nothing runs, the process goes on.
    char bad_out_arg[200];
    snprintf(bad_out_arg, sizeof bad_out_arg, "--benchmark_out=%s", bad_out);
    const char *bad[] = {
        "--benchmark_frobnicate",           // unrecognized
        "--benchmark_format=bogus",         // Google Benchmark: print usage, exit(0)
        "--benchmark_out_format=xml",       // likewise
        "--benchmark_color=",               // likewise
        "--benchmark_time_unit=fs",         // likewise
        "--benchmark_min_time=0.01s",       // 1.7.1 takes a plain number of seconds
        "--benchmark_repetitions=0",        // would run nothing
        "--benchmark_repetitions=-2",       // std::length_error inside the library
        "--benchmark_filter=(",             // invalid regular expression
        bad_out_arg,                        // Google Benchmark: exit(1)
        "positional",                       // not a flag at all
    };
    calls = total_calls(&b);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *args[] = {"--benchmark_filter=test/sum", bad[i]};
        rc = run_args(2, args, NULL, true, NULL, NULL);
        check(&t, rc == -1, "'%s': returned %d, expected -1", bad[i], rc);
    }
    check(&t, total_calls(&b) == calls, "a refused command line ran benchmarks");
    // Recognized flags are taken out of argv; the unrecognized one stays.
    char *left[1] = {NULL};
    const char *args_mixed[] = {"--benchmark_repetitions=1", "--benchmark_frobnicate"};
    rc = run_args(2, args_mixed, NULL, true, &argc_after, left);
    check(&t, rc == -1 && argc_after == 2 && left[0] && strcmp(left[0], "--benchmark_frobnicate") == 0,
          "mixed flags: rc %d, argc %d, argv[1] '%s'", rc, argc_after, left[0] ? left[0] : "(null)");
    check(&t, cnb_gb_run(NULL, NULL) == -1, "cnb_gb_run(NULL, NULL)");

    // --help prints the flags and returns 0 instead of exiting.
    const char *args_help[] = {"--help"};
    rc = run_args(1, args_help, NULL, true, NULL, NULL);
    check(&t, rc == 0 && total_calls(&b) == calls, "--help: returned %d", rc);

    // After clearing, nothing is registered.
    cnb_gb_clear();
    const char *args_all[] = {"--benchmark_filter=."};
    rc = run_args(1, args_all, NULL, true, NULL, NULL);
    check(&t, rc == 0 && total_calls(&b) == calls, "after cnb_gb_clear: returned %d", rc);

    unlink(out1);
    unlink(out2);
    rmdir(t.dir);
    printf("gbench_shim: %d passed, %d failed\n", t.passed, t.failed);
    return t.failed ? 1 : 0;
}
