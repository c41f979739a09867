/* Test of `cnnbench compare`: the Mann-Whitney statistics against hand-computed values, then the command
 * end to end on synthetic Google Benchmark result files (seeded pseudo-random repetitions) written to a
 * temporary directory: planted slowdowns and speedups, pure noise, missing and failing entries,
 * machine and build mismatches, single samples, and malformed input and options.
 * usage: test_compare path/to/cnnbench */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  // mkdtemp
#endif
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/mannwhitney.h"
#include "test_util.h"

static int g_pass, g_fail;
static const char *g_bin;
static char g_tmp[256];

static void check(bool ok, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void check(bool ok, const char *what, const char *fmt, ...) {
    if (ok) {
        g_pass++;
        return;
    }
    g_fail++;
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL %s: ", what);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

static void check_near(double got, double want, double rel, const char *what) {
    bool ok = fabs(got - want) <= rel * fabs(want) || (got == want);
    check(ok, what, "got %.17g, want %.17g", got, want);
}

/* ---- (9) the statistics, on examples small enough to count by hand ---- */

static void test_statistics(void) {
    const double lo[] = {1, 2, 3}, hi[] = {4, 5, 6};
    // b above every a: U = 9, and only 1 of the C(6,3) = 20 rank splits is that extreme.
    check_near(cnb_mwu_u(lo, 3, hi, 3), 9, 0, "U separated");
    check_near(cnb_mwu_p_greater(lo, 3, hi, 3), 1.0 / 20, 1e-12, "p_greater separated");
    check_near(cnb_mwu_p_less(lo, 3, hi, 3), 1, 1e-12, "p_less separated");
    check_near(cnb_mwu_u(hi, 3, lo, 3), 0, 0, "U reversed");
    check_near(cnb_mwu_p_less(hi, 3, lo, 3), 1.0 / 20, 1e-12, "p_less reversed");

    // Interleaved: U = 1 + 2 + 3 = 6; for n = 3, 3 the counts of U = 0..9 are 1 1 2 3 3 3 3 2 1 1.
    const double odd[] = {1, 3, 5}, even[] = {2, 4, 6};
    check_near(cnb_mwu_u(odd, 3, even, 3), 6, 0, "U interleaved");
    check_near(cnb_mwu_p_greater(odd, 3, even, 3), 7.0 / 20, 1e-12, "p_greater interleaved");
    check_near(cnb_mwu_p_less(odd, 3, even, 3), 16.0 / 20, 1e-12, "p_less interleaved");

    // One b value above two a values: 1 of C(3,1) = 3 placements.
    const double two[] = {1, 2}, one[] = {3};
    check_near(cnb_mwu_p_greater(two, 2, one, 1), 1.0 / 3, 1e-12, "p_greater 2 vs 1");

    // Ties: pooled 1 2 2 2 3 have midranks 1 3 3 3 5; b = {2, 3} has U = 2 * 0.5 + 1 + 3 = 5. Of the
    // 10 pairs of pooled values, rank sums are 4 (x3), 6 (x1), 6 (x3), 8 (x3): P(R >= 8) = 3/10.
    const double ta[] = {1, 2, 2}, tb[] = {2, 3};
    check_near(cnb_mwu_u(ta, 3, tb, 2), 5, 0, "U ties");
    check_near(cnb_mwu_p_greater(ta, 3, tb, 2), 0.3, 1e-12, "p_greater ties");
    check_near(cnb_mwu_p_less(ta, 3, tb, 2), 1, 1e-12, "p_less ties");

    const double same[] = {5, 5};
    check_near(cnb_mwu_p_greater(same, 2, same, 2), 1, 1e-12, "p_greater all tied");
    check_near(cnb_mwu_p_less(same, 2, same, 2), 1, 1e-12, "p_less all tied");

    const double a5[] = {1, 2, 3, 4, 5}, b5[] = {6, 7, 8, 9, 10};
    check_near(cnb_mwu_p_greater(a5, 5, b5, 5), 1.0 / 252, 1e-12, "p_greater 5 vs 5 separated");

    // Normal approximation (n > 20): a = 1..21, b = 22..42: U = 441, mean 220.5,
    // var = 21 * 21 * 43 / 12 = 1580.25, z = (441 - 220.5 - 0.5) / 39.7524 = 5.5343,
    // p = erfc(z / sqrt 2) / 2 = 1.5627e-08.
    double a21[21], b21[21];
    for (int i = 0; i < 21; i++) a21[i] = i + 1, b21[i] = i + 22;
    cnb_mwu_result r;
    check(cnb_mwu_test(a21, 21, b21, 21, &r, NULL) == CNB_OK && !r.exact, "normal used", "n = 21 should not be exact");
    check_near(r.u, 441, 0, "U normal");
    check_near(r.p_greater, 1.562699999200441e-08, 1e-9, "p_greater normal");
    // The other tail: z = (441 - 220.5 + 0.5) / 39.7524 = 5.5594, p = 1 - 1.3534e-08.
    check_near(r.p_less, 0.9999999864662585, 1e-12, "p_less normal");
    // With ties: a = 1 x10, 2 x11; b = 2 x10, 3 x11: U = 100 + 55 + 231 = 386; tie groups 10, 21, 11:
    // var = 441/12 * (43 - 11550 / 1722) = 1333.756, z = 165 / 36.5206 = 4.518, p = 3.1214e-06.
    for (int i = 0; i < 21; i++) a21[i] = i < 10 ? 1 : 2, b21[i] = i < 10 ? 2 : 3;
    check_near(cnb_mwu_u(a21, 21, b21, 21), 386, 0, "U normal ties");
    check_near(cnb_mwu_p_greater(a21, 21, b21, 21), 3.1213995443612023e-06, 1e-9, "p_greater normal ties");
    check_near(cnb_mwu_p_less(a21, 21, b21, 21), 0.9999972581451326, 1e-12, "p_less normal ties");

    // The exact table covers 20 vs 20: fully separated gives 1 / C(40, 20).
    double a20[20], b20[20];
    for (int i = 0; i < 20; i++) a20[i] = i, b20[i] = i + 100;
    check(cnb_mwu_test(a20, 20, b20, 20, &r, NULL) == CNB_OK && r.exact, "exact 20", "20 vs 20 should be exact");
    check_near(r.p_greater, 1.0 / 137846528820.0, 1e-9, "p_greater 20 vs 20");

    check(cnb_mwu_p_greater(lo, 0, hi, 3) == 1, "empty sample", "p should be 1");
    const double with_nan[] = {1, NAN};
    check(isnan(cnb_mwu_p_greater(with_nan, 2, hi, 3)), "NaN input", "p should be NaN");
}

/* ---- synthetic result files ---- */

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [1 - frac, 1 + frac]. */
static double noise(uint64_t *s, double frac) { return 1 + frac * (2 * ((double)(splitmix(s) >> 11) / 9007199254740992.0) - 1); }

typedef struct series {
    int nkeys, reps;
    double noise;
    int planted;            /* entry whose times are multiplied by factor (-1: none) */
    double factor;
    int skip;               /* entry left out (-1: none) */
    int error;              /* entry whose runs all have error_occurred (-1: none) */
    int agree_fail;         /* entry with "agreement": "fail" (-1: none) */
    const char *unit;       /* time_unit written: ns, us, ms or s */
    bool only_median;       /* write only the median aggregate, no repetitions */
    bool nan_counter;       /* add a counter Google Benchmark writes as bare NaN */
    double on_cpu;          /* on_cpu_share written in every repetition (0: none written) */
    const char *machine;    /* context.cnnbench.machine; NULL: no cnnbench object */
    const char *build;
    const char *host;
    uint64_t seed;
} series;

static series default_series(uint64_t seed) {
    return (series){.nkeys = 5, .reps = 10, .noise = 0.02, .planted = -1, .factor = 1, .skip = -1, .error = -1,
                    .agree_fail = -1, .unit = "ns", .machine = "AMD EPYC 7B13|avx2 fma|2 cores",
                    .build = "0.1.0|abc123|gcc 12.2.0|-O3", .host = "ci-runner", .seed = seed};
}

static double unit_ns(const char *u) { return !strcmp(u, "us") ? 1e3 : !strcmp(u, "ms") ? 1e6 : !strcmp(u, "s") ? 1e9 : 1; }

static void key_of(char *buf, size_t size, int k) {
    snprintf(buf, size, "bench/conv2d.im2col.scalar/resnet50:layer%d/threads:1", k);
}

static void put_run(FILE *f, bool *first, const char *key, const series *s, const char *type, const char *agg,
                    int rep, double t_ns, bool err, bool agree_fail) {
    fprintf(f, "%s    {\n      \"name\": \"%s%s%s\",\n      \"family_index\": 0,\n", *first ? "" : ",\n", key,
            agg ? "_" : "", agg ? agg : "");
    fprintf(f, "      \"per_family_instance_index\": 0,\n      \"run_name\": \"%s\",\n      \"run_type\": \"%s\",\n", key, type);
    fprintf(f, "      \"repetitions\": %d,\n", s->reps);
    if (agg) fprintf(f, "      \"threads\": 1,\n      \"aggregate_name\": \"%s\",\n      \"aggregate_unit\": \"%s\",\n", agg,
                     strcmp(agg, "cv") ? "time" : "percentage");
    else fprintf(f, "      \"repetition_index\": %d,\n      \"threads\": 1,\n", rep);
    if (err) fprintf(f, "      \"error_occurred\": true,\n      \"error_message\": \"agreement failed: rel err 3e-2 > 1e-5\",\n");
    double t = err ? 0 : t_ns / unit_ns(s->unit);
    fprintf(f, "      \"iterations\": %d,\n      \"real_time\": %.17e,\n      \"cpu_time\": %.17e,\n", err ? 0 : 12, t, t);
    fprintf(f, "      \"time_unit\": \"%s\"", s->unit);
    if (!err) {
        fprintf(f, ",\n      \"GFLOP/s\": %s,\n      \"agreement\": \"%s\",\n      \"agreement_error\": 0.0,\n",
                s->nan_counter ? "NaN" : "1.25e+01", agree_fail ? "fail" : "pass");
        fprintf(f, "      \"impl\": \"conv2d.im2col.scalar\",\n      \"shape\": \"1,64,56,56\",\n      \"omp_threads\": 1");
        if (s->on_cpu > 0) fprintf(f, ",\n      \"on_cpu_share\": %.3f", s->on_cpu);
    }
    fprintf(f, "\n    }");
    *first = false;
}

static int cmp_d(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static bool write_series(const char *path, const series *s) {
    FILE *f = fopen(path, "w");
    if (!f) return false;
    fprintf(f, "{\n  \"context\": {\n    \"date\": \"2024-05-01T12:00:00+00:00\",\n    \"host_name\": \"%s\",\n", s->host);
    fprintf(f, "    \"executable\": \"./build/cnnbench\",\n    \"num_cpus\": 2,\n    \"mhz_per_cpu\": 2450,\n");
    fprintf(f, "    \"cpu_scaling_enabled\": false,\n    \"library_build_type\": \"release\"");
    if (s->machine)
        fprintf(f, ",\n    \"cnnbench\": {\"version\": \"0.1.0\", \"git_commit\": \"abc123\", \"machine\": \"%s\", \"build\": \"%s\"}",
                s->machine, s->build);
    fprintf(f, "\n  },\n  \"benchmarks\": [\n");
    bool first = true;
    uint64_t rng = s->seed;
    for (int k = 0; k < s->nkeys; k++) {
        if (k == s->skip) continue;
        char key[128];
        key_of(key, sizeof key, k);
        double base = 1e5 * (k + 1) * (k == s->planted ? s->factor : 1);
        double t[64];
        int n = s->reps < 64 ? s->reps : 64;
        for (int r = 0; r < n; r++) t[r] = base * noise(&rng, s->noise);
        bool err = k == s->error;
        if (!s->only_median)
            for (int r = 0; r < n; r++) put_run(f, &first, key, s, "iteration", NULL, r, t[r], err, k == s->agree_fail);
        // Like Google Benchmark: aggregates only with repetitions, and none when every run failed.
        if ((n > 1 || s->only_median) && !err) {
            qsort(t, (size_t)n, sizeof *t, cmp_d);
            double mean = 0, med = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
            for (int r = 0; r < n; r++) mean += t[r] / n;
            put_run(f, &first, key, s, "aggregate", "mean", 0, mean, false, false);
            put_run(f, &first, key, s, "aggregate", "median", 0, med, false, false);
            put_run(f, &first, key, s, "aggregate", "stddev", 0, mean * s->noise / 2, false, false);
            put_run(f, &first, key, s, "aggregate", "cv", 0, s->noise / 2 * unit_ns(s->unit), false, false);
        }
    }
    fprintf(f, "\n  ]\n}\n");
    return fclose(f) == 0;
}

static bool write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return false;
    fputs(text, f);
    return fclose(f) == 0;
}

/* ---- running the command ---- */

static char g_out[1 << 16], g_err[1 << 12];

/* Run `cnnbench compare ARGS...` (NULL-terminated); stdout and stderr land in g_out and g_err. */
static int compare(const char *first, ...) {
    char *argv[32];
    int n = 0;
    argv[n++] = "compare";
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 31; a = va_arg(ap, const char *)) argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    return tu_run(g_bin, argv, g_out, sizeof g_out, g_err, sizeof g_err);
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* The table row of entry k in g_out (empty when there is none). */
static const char *row_of(int k) {
    static char line[1024];
    char key[128];
    key_of(key, sizeof key, k);
    size_t kl = strlen(key);
    line[0] = 0;
    for (const char *p = g_out; *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > kl && !strncmp(p, key, kl) && p[kl] == ' ') {
            snprintf(line, sizeof line, "%.*s", (int)len, p);
            break;
        }
        p += len + (end != NULL);
    }
    return line;
}

/* The verdict column of entry k's row: what follows the p-value column. */
static bool verdict_is(int k, const char *verdict) {
    const char *r = row_of(k);
    const char *v = strstr(r, verdict);
    if (!v) return false;
    // A verdict starts after two spaces and runs to the end or a " (" note.
    return v >= r + 2 && v[-1] == ' ' && v[-2] == ' ' && (v[strlen(verdict)] == 0 || v[strlen(verdict)] == ' ');
}

static void path_in(char *buf, size_t size, const char *name) { snprintf(buf, size, "%s/%s", g_tmp, name); }

static void expect_exit2(const char *what, const char *must_mention, int rc) {
    check(rc == 2, what, "exit status %d, expected 2; stderr: %s", rc, g_err);
    check(count_lines(g_err) == 1, what, "stderr should be exactly one line, got: '%s'", g_err);
    if (must_mention) check(strstr(g_err, must_mention) != NULL, what, "stderr should mention '%s': %s", must_mention, g_err);
}

/* ---- the command, end to end ---- */

static void test_planted_slowdown(const char *b, const char *n) {
    series sb = default_series(1), sn = default_series(2);
    sn.planted = 2, sn.factor = 1.2;
    write_series(b, &sb);
    write_series(n, &sn);
    int rc = compare(b, n, NULL);
    check(rc == 1, "slowdown: exit", "exit %d, expected 1\n%s%s", rc, g_out, g_err);
    check(verdict_is(2, "slower"), "slowdown: verdict", "row: '%s'", row_of(2));
    for (int k = 0; k < 5; k++)
        if (k != 2) check(strstr(row_of(k), "same") != NULL, "slowdown: others", "row: '%s'", row_of(k));
    check(strstr(row_of(2), "+2") != NULL, "slowdown: change", "expected about +20%%: '%s'", row_of(2));
    check(strstr(g_out, "\ncompare: FAIL (1 slower, 0 disappeared, 0 failing agreement)\n") != NULL, "slowdown: final line",
          "%s", g_out);
    check(strstr(g_out, "summary: 1 slower, 0 faster, 4 same") != NULL, "slowdown: summary", "%s", g_out);
}

/* A slowdown measured while the threads were off the CPU half the time: still slower (the gate does not
 * guess), but the row and the summary say the machine was busy; an undisturbed one says nothing. */
static void test_busy(const char *b, const char *n) {
    series sb = default_series(1), sn = default_series(2);
    sb.on_cpu = 0.99, sn.on_cpu = 0.5;
    sn.planted = 2, sn.factor = 1.2;
    write_series(b, &sb);
    write_series(n, &sn);
    int rc = compare(b, n, NULL);
    check(rc == 1 && verdict_is(2, "slower"), "busy: still a regression", "exit %d: %s", rc, g_out);
    check(strstr(row_of(2), "NEW measured on a busy machine: threads on a CPU 50% of the time") != NULL, "busy: note",
          "row: '%s'", row_of(2));
    check(strstr(g_out, "1 change measured on a busy machine") != NULL, "busy: summary", "%s", g_out);
    sn.on_cpu = 0.97;
    write_series(n, &sn);
    rc = compare(b, n, NULL);
    check(rc == 1 && !strstr(g_out, "busy"), "busy: a quiet run has no note", "exit %d: %s", rc, g_out);
}

static void test_noise_only(const char *b, const char *n) {
    for (uint64_t seed = 0; seed < 5; seed++) {
        series sb = default_series(100 + 2 * seed), sn = default_series(101 + 2 * seed);
        sb.nkeys = sn.nkeys = 20;
        sb.noise = sn.noise = 0.03;
        write_series(b, &sb);
        write_series(n, &sn);
        int rc = compare(b, n, "--threshold", "5", NULL);
        check(rc == 0, "noise: exit", "seed %d: exit %d, expected 0\n%s", (int)seed, rc, g_out);
        check(strstr(g_out, "\ncompare: PASS\n") != NULL, "noise: PASS", "%s", g_out);
        for (int k = 0; k < 20; k++) check(verdict_is(k, "same"), "noise: verdicts", "row '%s'", row_of(k));
    }
}

static void test_identical(const char *b, const char *n) {
    series s = default_series(7);
    write_series(b, &s);
    write_series(n, &s);
    int rc = compare(b, n, NULL);
    check(rc == 0, "identical: exit", "exit %d\n%s%s", rc, g_out, g_err);
    check(strstr(g_out, "summary: 0 slower, 0 faster, 5 same") != NULL, "identical: summary", "%s", g_out);
    check(strstr(g_out, "geometric mean change +0.00%") != NULL, "identical: geomean", "%s", g_out);
    check(strstr(g_out, "+0.0%") != NULL && strstr(g_out, "not significant") != NULL, "identical: rows", "%s", g_out);
    check(g_err[0] == 0, "identical: quiet", "stderr: %s", g_err);
}

static void test_missing_and_new(const char *b, const char *n) {
    series sb = default_series(3), sn = default_series(4);
    sn.skip = 3;
    write_series(b, &sb);
    write_series(n, &sn);
    int rc = compare(b, n, NULL);
    check(rc == 1, "disappeared: exit", "exit %d\n%s", rc, g_out);
    check(verdict_is(3, "DISAPPEARED"), "disappeared: verdict", "row '%s'", row_of(3));
    check(strstr(g_out, "compare: FAIL (0 slower, 1 disappeared, 0 failing agreement)") != NULL, "disappeared: final",
          "%s", g_out);
    // The other way round the entry is new: informational only.
    rc = compare(n, b, NULL);
    check(rc == 0, "new entry: exit", "exit %d\n%s", rc, g_out);
    check(verdict_is(3, "new"), "new entry: verdict", "row '%s'", row_of(3));
    check(strstr(g_out, "1 new") != NULL, "new entry: summary", "%s", g_out);
}

static void test_failing(const char *b, const char *n) {
    series sb = default_series(5), sn = default_series(6);
    sn.error = 1;
    write_series(b, &sb);
    write_series(n, &sn);
    int rc = compare(b, n, NULL);
    check(rc == 1, "error_occurred: exit", "exit %d\n%s", rc, g_out);
    check(verdict_is(1, "FAILS AGREEMENT"), "error_occurred: verdict", "row '%s'", row_of(1));
    check(strstr(row_of(1), "rel err 3e-2") != NULL, "error_occurred: message", "row '%s'", row_of(1));
    check(strstr(g_out, "compare: FAIL (0 slower, 0 disappeared, 1 failing agreement)") != NULL, "error_occurred: final",
          "%s", g_out);

    sn = default_series(6);
    sn.agree_fail = 4;
    write_series(n, &sn);
    rc = compare(b, n, NULL);
    check(rc == 1, "agreement fail: exit", "exit %d\n%s", rc, g_out);
    check(verdict_is(4, "FAILS AGREEMENT"), "agreement fail: verdict", "row '%s'", row_of(4));

    // A failure fixed in NEW is no regression.
    sb.error = 1;
    sn = default_series(6);
    write_series(b, &sb);
    write_series(n, &sn);
    rc = compare(b, n, NULL);
    check(rc == 0, "fixed failure: exit", "exit %d\n%s", rc, g_out);
    check(strstr(row_of(1), "base failed agreement") != NULL, "fixed failure: note", "row '%s'", row_of(1));
}

static void test_speedup(const char *b, const char *n) {
    series sb = default_series(8), sn = default_series(9);
    sn.planted = 0, sn.factor = 0.8;
    write_series(b, &sb);
    write_series(n, &sn);
    int rc = compare(b, n, NULL);
    check(rc == 0, "speedup: exit", "exit %d\n%s", rc, g_out);
    check(verdict_is(0, "faster"), "speedup: verdict", "row '%s'", row_of(0));
    check(strstr(g_out, "summary: 0 slower, 1 faster, 4 same") != NULL, "speedup: summary", "%s", g_out);
    check(strstr(g_out, "\ncompare: PASS\n") != NULL, "speedup: PASS", "%s", g_out);
}

static void test_machines(const char *b, const char *n) {
    series sb = default_series(10), sn = default_series(10);
    sn.machine = "Intel Xeon 8375C|avx2 fma avx512f|2 cores";
    write_series(b, &sb);
    write_series(n, &sn);
    int rc = compare(b, n, NULL);
    expect_exit2("different machine", sb.machine, rc);
    check(strstr(g_err, sn.machine) != NULL, "different machine: both named", "stderr: %s", g_err);
    rc = compare(b, n, "--allow-different-machine", NULL);
    check(rc == 0, "allowed machine: exit", "exit %d\n%s%s", rc, g_out, g_err);
    check(strstr(g_err, "warning") != NULL, "allowed machine: warning", "stderr: %s", g_err);
    sn.seed = 11, sn.planted = 1, sn.factor = 1.25;
    write_series(n, &sn);
    rc = compare("--allow-different-machine", b, n, NULL);
    check(rc == 1, "allowed machine, slower: exit", "exit %d\n%s", rc, g_out);

    // A different build is what a before/after comparison is for: warn and go on.
    sn = default_series(12);
    sn.build = "0.1.0|def456|clang 16|-O3";
    write_series(n, &sn);
    rc = compare(b, n, NULL);
    check(rc == 0, "different build: exit", "exit %d\n%s%s", rc, g_out, g_err);
    check(strstr(g_err, "different builds") != NULL && count_lines(g_err) == 1, "different build: warning", "stderr: %s",
          g_err);

    // Without the cnnbench context the host name and CPU count identify the machine.
    sb.machine = NULL, sn = default_series(13), sn.machine = NULL;
    write_series(b, &sb);
    write_series(n, &sn);
    rc = compare(b, n, NULL);
    check(rc == 0, "fallback same host: exit", "exit %d\n%s%s", rc, g_out, g_err);
    sn.host = "ci-runner-2";
    write_series(n, &sn);
    rc = compare(b, n, NULL);
    expect_exit2("fallback different host", "ci-runner-2", rc);
}

static void test_bad_input(const char *b, const char *n) {
    char bad[300], missing[300];
    path_in(bad, sizeof bad, "bad.json");
    path_in(missing, sizeof missing, "no-such-file.json");
    series s = default_series(14);
    write_series(b, &s);
    write_series(n, &s);

    write_text(bad, "{ \"context\": {}, \"benchmarks\": [ {\"name\": \"x\", ");
    expect_exit2("malformed JSON", bad, compare(b, bad, NULL));
    expect_exit2("missing file", missing, compare(missing, n, NULL));
    write_text(bad, "[1, 2, 3]");
    expect_exit2("top-level array", bad, compare(b, bad, NULL));
    write_text(bad, "{\"context\": {}}");
    expect_exit2("no benchmarks", bad, compare(bad, n, NULL));
    write_text(bad, "{\"benchmarks\": [{\"name\": \"x\", \"run_type\": \"iteration\", \"real_time\": \"fast\", \"time_unit\": \"ns\"}]}");
    expect_exit2("real_time string", bad, compare(b, bad, NULL));
    write_text(bad, "{\"benchmarks\": [{\"name\": \"x\", \"run_type\": \"iteration\", \"real_time\": 1, \"time_unit\": \"weeks\"}]}");
    expect_exit2("bad time_unit", bad, compare(b, bad, NULL));
    write_text(bad, "");
    expect_exit2("empty file", bad, compare(b, bad, NULL));
    expect_exit2("directory", g_tmp, compare(b, g_tmp, NULL));

    expect_exit2("threshold -1", "-1", compare(b, n, "--threshold", "-1", NULL));
    expect_exit2("threshold abc", "abc", compare(b, n, "--threshold", "abc", NULL));
    expect_exit2("threshold 5x", "5x", compare(b, n, "--threshold=5x", NULL));
    expect_exit2("threshold nan", "nan", compare(b, n, "--threshold", "nan", NULL));
    expect_exit2("threshold missing value", "--threshold", compare(b, n, "--threshold", NULL));
    expect_exit2("alpha 0", "--alpha", compare(b, n, "--alpha", "0", NULL));
    expect_exit2("alpha 1", "--alpha", compare(b, n, "--alpha", "1", NULL));
    expect_exit2("alpha x", "--alpha", compare(b, n, "--alpha=x", NULL));
    expect_exit2("unknown option", "--bogus", compare(b, n, "--bogus", NULL));
    expect_exit2("one file", NULL, compare(b, NULL));
    expect_exit2("three files", NULL, compare(b, n, n, NULL));
    check(compare(b, n, "--threshold", "2.5%", "--alpha", "0.01", NULL) == 0, "good options", "%s%s", g_out, g_err);
    check(compare("--help", NULL) == 0 && strstr(g_out, "usage:"), "--help", "%s", g_out);
}

static void test_samples_and_units(const char *b, const char *n) {
    // Units normalise: the same times written in us compare equal to the ns file.
    series sb = default_series(15), sn = default_series(15);
    sn.unit = "us";
    write_series(b, &sb);
    write_series(n, &sn);
    int rc = compare(b, n, NULL);
    check(rc == 0 && strstr(g_out, "summary: 0 slower, 0 faster, 5 same") && strstr(g_out, "+0.00%"), "units",
          "exit %d\n%s", rc, g_out);
    sn.unit = "s", sn.planted = 4, sn.factor = 1.3;
    write_series(n, &sn);
    rc = compare(b, n, NULL);
    check(rc == 1 && verdict_is(4, "slower"), "units: seconds", "exit %d\n%s", rc, g_out);

    // One repetition: no test; the threshold alone decides.
    sb = default_series(16), sn = default_series(17);
    sb.reps = sn.reps = 1;
    sn.planted = 0, sn.factor = 1.2;
    write_series(b, &sb);
    write_series(n, &sn);
    rc = compare(b, n, NULL);
    check(rc == 1, "1 sample: exit", "exit %d\n%s", rc, g_out);
    check(strstr(row_of(0), "slower (no test: 1 sample)") != NULL, "1 sample: slower", "row '%s'", row_of(0));
    check(strstr(row_of(1), "same (no test: 1 sample)") != NULL, "1 sample: same", "row '%s'", row_of(1));

    // Only the median aggregate (--benchmark_report_aggregates_only): likewise one value per side.
    sb = default_series(18), sn = default_series(19);
    sb.only_median = sn.only_median = true;
    sn.planted = 3, sn.factor = 0.7;
    write_series(b, &sb);
    write_series(n, &sn);
    rc = compare(b, n, NULL);
    check(rc == 0 && strstr(row_of(3), "faster (no test: 1 sample)"), "median only", "exit %d\n%s", rc, g_out);

    // 3 vs 3 repetitions can never reach p < 0.05 (the smallest exact p is 1/20) but can reach 0.1.
    sb = default_series(20), sn = default_series(21);
    sb.reps = sn.reps = 3;
    sn.planted = 2, sn.factor = 1.2;
    write_series(b, &sb);
    write_series(n, &sn);
    rc = compare(b, n, NULL);
    check(rc == 0 && verdict_is(2, "same (not significant)"), "3 reps, alpha 0.05", "exit %d\n%s", rc, g_out);
    rc = compare(b, n, "--alpha", "0.1", NULL);
    check(rc == 1 && verdict_is(2, "slower"), "3 reps, alpha 0.1", "exit %d\n%s", rc, g_out);

    // A clear 2% change is significant but under the threshold: noise, unless the threshold is lowered.
    sb = default_series(22), sn = default_series(23);
    sb.noise = sn.noise = 0.001;
    sn.planted = 1, sn.factor = 1.02;
    write_series(b, &sb);
    write_series(n, &sn);
    rc = compare(b, n, NULL);
    check(rc == 0 && verdict_is(1, "same (noise)"), "noise verdict", "exit %d\n%s", rc, g_out);
    rc = compare(b, n, "--threshold=1", NULL);
    check(rc == 1 && verdict_is(1, "slower"), "threshold 1", "exit %d\n%s", rc, g_out);
    rc = compare(b, n, "--threshold", "0", NULL);
    check(rc == 1 && verdict_is(1, "slower"), "threshold 0", "exit %d\n%s", rc, g_out);

    // Google Benchmark writes non-finite counters as bare NaN; such files must still load.
    sb = default_series(24), sn = default_series(25);
    sn.nan_counter = true;
    write_series(b, &sb);
    write_series(n, &sn);
    rc = compare(b, n, NULL);
    check(rc == 0, "NaN counter", "exit %d\n%s%s", rc, g_out, g_err);
}

static void cleanup(void) {
    DIR *d = opendir(g_tmp);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", g_tmp, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(g_tmp);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_compare path/to/cnnbench\n");
        return 2;
    }
    g_bin = argv[1];
    const char *tmpdir = getenv("TMPDIR");
    snprintf(g_tmp, sizeof g_tmp, "%s/cnb_compare_XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(g_tmp)) {
        perror("test_compare: mkdtemp");
        return 1;
    }
    char b[300], n[300];
    path_in(b, sizeof b, "base.json");
    path_in(n, sizeof n, "new.json");

    test_statistics();
    test_planted_slowdown(b, n);
    test_noise_only(b, n);
    test_busy(b, n);
    test_identical(b, n);
    test_missing_and_new(b, n);
    test_failing(b, n);
    test_speedup(b, n);
    test_machines(b, n);
    test_bad_input(b, n);
    test_samples_and_units(b, n);

    cleanup();
    printf("compare: %d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
