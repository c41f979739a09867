/* `cnnbench bench` end to end: a single layer and a small suite of every layer kind are checked and
 * timed (short Google Benchmark runs); the result file carries the context and per-entry metadata and
 * compares clean against itself; the test build's deliberately wrong implementations are caught by the
 * agreement check, reported with a reproducer that runs, and make bench exit non-zero; refusals (more
 * threads than cores, unknown suite, bad suite line, no matching implementation) are one-line errors.
 * usage: test_bench path/to/cnnbench path/to/cnnbench_broken path/to/suites */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/gbjson.h"
#include "harness/topo.h"
#include "test_util.h"

static const char *g_bin, *g_broken;
static char g_peaks[256];
static char g_out[1 << 17], g_err[1 << 14];

#define FAST "--benchmark_min_time=0.01", "--benchmark_repetitions=3"

static int bench(const char *bin, char *const args[]) {
    char *argv[64];
    int n = 0;
    argv[n++] = "bench";
    for (int i = 0; args[i] && n < 60; i++) argv[n++] = args[i];
    argv[n++] = "--peaks-cache";
    argv[n++] = g_peaks;
    argv[n] = NULL;
    return tu_run(bin, argv, g_out, sizeof g_out, g_err, sizeof g_err);
}

static json_t *load(const char *path) {
    json_error_t je;
    json_t *j = cnb_gbjson_load_file(path, &je);
    tu_check(j != NULL, "result file", "%s does not parse: %s", path, je.text);
    return j;
}

/* Every iteration entry of the file has cnnbench's fields; returns how many entries passed agreement. */
static int check_entries(json_t *root, const char *what, int *failed) {
    json_t *arr = json_object_get(root, "benchmarks");
    tu_check(json_is_array(arr) && json_array_size(arr) > 0, what, "no benchmarks array");
    size_t i;
    json_t *b;
    int pass = 0;
    *failed = 0;
    json_array_foreach(arr, i, b) {
        const char *rt = json_string_value(json_object_get(b, "run_type"));
        if (!rt || strcmp(rt, "iteration")) continue;
        static const char *const keys[] = {"spec", "shape", "impl", "omp_threads", "flops", "bytes", "agreement",
                                           "agreement_rule", "suite", "layer", "count", "pack_ms"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            tu_check(json_object_get(b, keys[k]) != NULL, what, "entry %zu lacks \"%s\"", i, keys[k]);
        const char *ag = json_string_value(json_object_get(b, "agreement"));
        if (ag && !strcmp(ag, "pass")) {
            pass++;
            json_t *gf = json_object_get(b, "GFLOP/s");
            tu_check(json_is_number(gf) && json_number_value(gf) > 0, what, "entry %zu: GFLOP/s counter missing or 0", i);
            tu_check(json_is_number(json_object_get(b, "pct_peak")), what, "entry %zu: no %% of peak", i);
            const char *pin = json_string_value(json_object_get(b, "pinned_cpus"));
            tu_check(pin && strstr(pin, "thread 0: cpu"), what, "entry %zu: pinning not reported", i);
        } else {
            (*failed)++;
        }
    }
    return pass;
}

static void test_single_layer(const char *dir) {
    char out[512];
    snprintf(out, sizeof out, "%s/single.json", dir);
    char *args[] = {"Conv2d(3, 8, kernel_size=(3, 3), padding=(1, 1))", "--shape", "1,3,16,16", "--threads", "scaling",
                    "--out", out, FAST, NULL};
    int rc = bench(g_bin, args);
    tu_check(rc == 0, "bench single layer", "exit %d: %s", rc, g_err);
    tu_check(strstr(g_out, "conv2d.naive.scalar") && strstr(g_out, "GFLOP/s") && strstr(g_out, "%peak"),
             "bench table", "missing columns:\n%s", g_out);
    tu_check(strstr(g_out, "pinned: thread 0: cpu") != NULL, "bench pinning", "no pinning report:\n%s", g_out);
    tu_check(strstr(g_err, "[1/") != NULL, "bench progress", "no progress on stderr");
    json_t *root = load(out);
    if (!root) return;
    json_t *cnb = json_object_get(json_object_get(root, "context"), "cnnbench");
    tu_check(json_is_object(cnb), "result context", "no context.cnnbench");
    static const char *const ck[] = {"version", "git_commit", "compiler", "flags", "cpu_model", "features", "topology",
                                     "peaks", "machine", "build"};
    for (size_t k = 0; k < sizeof ck / sizeof ck[0]; k++)
        tu_check(json_object_get(cnb, ck[k]) != NULL, "result context", "lacks \"%s\"", ck[k]);
    /* Cross builds run the command under the emulator (CNB_TEST_EXEC): the file must say so, and a native run
     * must not. */
    const char *exec = getenv("CNB_TEST_EXEC");
    const bool emu = exec && *exec;
    json_t *je = json_object_get(cnb, "emulated");
    tu_check(json_is_boolean(je) && json_is_true(je) == emu, "result context", "\"emulated\" is %s, expected %s (%s)",
             json_is_boolean(je) ? (json_is_true(je) ? "true" : "false") : "missing", emu ? "true" : "false",
             json_string_value(json_object_get(cnb, "emulation")) ? json_string_value(json_object_get(cnb, "emulation"))
                                                                   : "");
    int failed;
    int pass = check_entries(root, "single-layer file", &failed);
    tu_check(pass >= 3 && failed == 0, "single-layer file", "%d passing, %d failing entries", pass, failed);
    json_decref(root);

    /* The file is a valid compare input, and equal to itself. */
    char *cargs[] = {"compare", out, out, NULL};
    rc = tu_run(g_bin, cargs, g_out, sizeof g_out, g_err, sizeof g_err);
    tu_check(rc == 0 && strstr(g_out, "compare: PASS"), "compare self", "exit %d: %s%s", rc, g_out, g_err);

    /* The second run reads the cached peaks. */
    char *args2[] = {"MaxPool2d(2)", "--shape", "1,2,8,8", FAST, NULL};
    rc = bench(g_bin, args2);
    tu_check(rc == 0 && strstr(g_out, "(cached)"), "peaks cache", "exit %d, not cached:\n%s", rc, g_out);
}

static void test_suite_all_kinds(const char *dir) {
    char suite[512], out[512];
    snprintf(suite, sizeof suite, "%s/kinds.suite", dir);
    snprintf(out, sizeof out, "%s/kinds.json", dir);
    FILE *f = fopen(suite, "w");
    if (!f) return;
    fputs("# every layer kind, small\n"
          "c1 | Conv1d(4, 6, kernel_size=(3,), padding=(2,), dilation=(2,)) | 1,4,33 | 2\n"
          "c2 | Conv2d(4, 4, kernel_size=(3, 3), padding=same, groups=4, padding_mode=reflect) | 2,4,9,9 | 1\n"
          "mp | MaxPool2d(3, stride=2, padding=1, return_indices=True, ceil_mode=True) | 1,3,11,11 | 1\n"
          "ap | AvgPool2d(3, stride=2, padding=1, count_include_pad=False) | 1,3,11,11 | 1\n"
          "aa | AdaptiveAvgPool2d((3, 5)) | 1,3,10,11 | 1\n"
          "bn | BatchNorm2d(3) | 2,3,5,5 | 1 | train\n"
          "bne | BatchNorm2d(3, momentum=None) | 2,3,5,5 | 1\n",
          f);
    fclose(f);
    char *args[] = {"--suite", suite, "--threads", "1", "--out", out, "--cold-cache", FAST, NULL};
    int rc = bench(g_bin, args);
    tu_check(rc == 0, "bench suite of every kind", "exit %d: %s", rc, g_err);
    for (const char *n = "c1\0c2\0mp\0ap\0aa\0bn\0bne\0"; *n; n += strlen(n) + 1) {
        char key[64];
        snprintf(key, sizeof key, "kinds:%s ", n);
        tu_check(strstr(g_out, key) != NULL, "bench suite table", "layer %s missing", n);
    }
    json_t *root = load(out);
    if (!root) return;
    int failed;
    int pass = check_entries(root, "suite file", &failed);
    tu_check(pass >= 7 && failed == 0, "suite file", "%d passing, %d failing entries", pass, failed);
    json_decref(root);
}

static void test_broken(const char *dir) {
    char out[512];
    snprintf(out, sizeof out, "%s/broken.json", dir);
    char *args[] = {"Conv2d(4, 8, kernel_size=(3, 3), stride=(2, 2))", "--shape", "1,4,12,12", "--impl", "conv2d.*",
                    "--out", out, FAST, NULL};
    int rc = bench(g_broken, args);
    tu_check(rc == 1, "broken conv caught", "bench exit %d, expected 1", rc);
    tu_check(strstr(g_err, "AGREEMENT FAILED") && strstr(g_err, "conv2d.broken.scalar"), "broken conv caught",
             "no agreement failure reported:\n%s", g_err);
    tu_check(strstr(g_out, "conv2d.naive.scalar") != NULL, "broken conv: others still timed", "%s", g_out);
    /* The reproducer is a command line that runs. */
    const char *r = strstr(g_err, "reproduce: cnnbench run ");
    tu_check(r != NULL, "reproducer", "no reproducer line");
    if (r) {
        char cmd[4096];
        const char *line = r + strlen("reproduce: cnnbench");
        size_t len = strcspn(line, "\n");
        const char *wrap = getenv("CNB_TEST_EXEC");
        snprintf(cmd, sizeof cmd, "%s '%s'%.*s > /dev/null 2>&1", wrap ? wrap : "", g_broken, (int)len, line);
        tu_check(system(cmd) == 0, "reproducer", "does not run: %s", cmd);
    }
    json_t *root = load(out);
    if (root) {
        int failed;
        check_entries(root, "broken file", &failed);
        tu_check(failed > 0, "broken file", "no entry marked as failing agreement");
        json_decref(root);
    }
    char *margs[] = {"MaxPool2d(2, return_indices=True)", "--shape", "1,2,8,8", "--impl", "maxpool2d.broken.*", FAST, NULL};
    rc = bench(g_broken, margs);
    tu_check(rc == 1 && strstr(g_err, "index"), "broken maxpool indices caught", "exit %d: %s", rc, g_err);
}

static void test_refusals(const char *dir, const char *suites) {
    cnb_topo t;
    cnb_error e = {0};
    char more[16] = "99";
    if (cnb_topo_load(&t, &e) == CNB_OK) {
        snprintf(more, sizeof more, "%d", cnb_topo_cores(&t) + 1);
        cnb_topo_free(&t);
    }
    struct { const char *what; char *args[12]; } cases[] = {
        {"more threads than cores", {"MaxPool2d(2)", "--shape", "1,2,8,8", "--threads", more, NULL}},
        {"unknown suite", {"--suite", "nosuchnet", NULL}},
        {"no implementation matches", {"MaxPool2d(2)", "--shape", "1,2,8,8", "--impl", "conv2d.*", NULL}},
        {"SPEC without --shape", {"MaxPool2d(2)", NULL}},
        {"invalid layer", {"MaxPool2d(2, padding=2)", "--shape", "1,2,8,8", NULL}},
        {"unknown option", {"MaxPool2d(2)", "--shape", "1,2,8,8", "--frobnicate", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = bench(g_bin, cases[i].args);
        tu_check(rc != 0 && rc < 126 && tu_count_lines(g_err) >= 1, cases[i].what, "exit %d, stderr: %s", rc, g_err);
        tu_check(strstr(g_err, "cnnbench: bench: ") != NULL, cases[i].what, "no message: %s", g_err);
    }
    tu_check(strstr(g_err, "unknown option") != NULL, "unknown option", "%s", g_err);
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad.suite", dir);
    FILE *f = fopen(bad, "w");
    if (f) {
        fputs("ok | MaxPool2d(2) | 1,2,8,8 | 1\nbad | Conv2d(3, 8, 3) | 1,4,8,8 | 1\n", f);
        fclose(f);
        char *args[] = {"--suite", bad, NULL};
        int rc = bench(g_bin, args);
        tu_check(rc != 0 && strstr(g_err, "bad.suite:2:"), "bad suite line", "exit %d: %s", rc, g_err);
    }
    (void)suites;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        printf("usage: test_bench cnnbench cnnbench_broken suites_dir\n");
        return 2;
    }
    g_bin = argv[1];
    g_broken = argv[2];
    const char *dir = tu_tmpdir();
    if (!dir) return 1;
    snprintf(g_peaks, sizeof g_peaks, "%s/peaks.json", dir);
    test_single_layer(dir);
    test_suite_all_kinds(dir);
    test_broken(dir);
    test_refusals(dir, argv[3]);
    tu_cleanup();
    return tu_summary("bench");
}
