/* `cnnbench fuzz` end to end: the test build's wrong conv2d.broken.scalar and maxpool2d.broken.scalar are
 * caught and shrunk to a tiny input with a reproducer that runs and shows the difference; a seed gives the
 * same report twice; the real implementations pass a short run; usage errors exit 2.
 * usage: test_fuzz path/to/cnnbench path/to/cnnbench_broken */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness/npy.h"
#include "test_util.h"

static const char *g_bin, *g_broken;
static char g_out[1 << 16], g_err[1 << 14];

static int fuzz(const char *bin, char *const args[]) {
    return tu_run(bin, args, g_out, sizeof g_out, g_err, sizeof g_err);
}

static int64_t numel(const cnb_shape *s) {
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->dims[i];
    return n;
}

/* Run the reproducer line of g_out with the test build's command, its --impl replaced by impl when given;
 * true when it exits with want (1: the line shows the mismatch itself; 0: it agrees). */
static bool run_reproducer(const char *what, const char *impl, int want) {
    const char *r = strstr(g_out, "reproduce: cnnbench run ");
    tu_check(r != NULL, what, "no reproducer line:\n%s", g_out);
    if (!r) return false;
    const char *line = r + strlen("reproduce: cnnbench");
    char cmd[8192], l[6000];
    snprintf(l, sizeof l, "%.*s", (int)strcspn(line, "\n"), line);
    char *at = strstr(l, "--impl ");
    tu_check(at != NULL, what, "the reproducer names no implementation: %s", l);
    if (!at) return false;
    if (impl) {  // the implementation's name is the last word before " --threads"
        char *end = strstr(at, " --threads");
        char tail[256];
        snprintf(tail, sizeof tail, "%s", end ? end : "");
        snprintf(at, sizeof l - (size_t)(at - l), "--impl %s%s", impl, tail);
    }
    const char *wrap = getenv("CNB_TEST_EXEC");
    snprintf(cmd, sizeof cmd, "%s '%s'%s > /dev/null 2>&1", wrap ? wrap : "", g_broken, l);
    const int st = system(cmd);
    const bool ran = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == want;
    tu_check(ran, what, "the reproducer exits %d, expected %d: %s", st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1,
             want, cmd);
    return ran;
}

static bool same_file_data(const char *a, const char *b, bool *same) {
    cnb_shape sa, sb;
    float *da = NULL, *db = NULL;
    cnb_error e = {0};
    bool ok = !cnb_npy_read_f32(a, &sa, &da, &e) && !cnb_npy_read_f32(b, &sb, &db, &e);
    if (ok) *same = sa.ndim == sb.ndim && numel(&sa) == numel(&sb) && !memcmp(da, db, (size_t)numel(&sa) * sizeof *da);
    free(da), free(db);
    return ok;
}

static void test_broken_conv(const char *tmp) {
    char dir[512], idir[700], path[800];
    snprintf(dir, sizeof dir, "%s/conv", tmp);
    char *args[] = {"fuzz", "--impl", "conv2d.broken*", "--count", "50", "--seed", "7", "--out-dir", dir, NULL};
    int rc = fuzz(g_broken, args);
    tu_check(rc == 1, "broken conv", "exit %d, expected 1:\n%s%s", rc, g_out, g_err);
    tu_check(strstr(g_out, "MISMATCH conv2d.broken.scalar") && strstr(g_out, "shrunk"), "broken conv", "%s", g_out);
    tu_check(strstr(g_out, "FAILED: conv2d.broken.scalar") != NULL, "broken conv summary", "%s", g_out);
    snprintf(idir, sizeof idir, "%s/conv2d.broken.scalar", dir);
    snprintf(path, sizeof path, "%s/input.npy", idir);
    cnb_shape s;
    float *x = NULL;
    cnb_error e = {0};
    if (!cnb_npy_read_f32(path, &s, &x, &e)) {
        // Off by one in one element fails on any layer: the shrinker must get to a single element.
        tu_check(numel(&s) <= 2, "broken conv shrunk", "the reproducer's input has %lld elements", (long long)numel(&s));
        free(x);
    } else {
        tu_check(false, "broken conv shrunk", "no reproducer input: %s", e.msg);
    }
    char a[800], b[800];
    bool same = true;
    snprintf(a, sizeof a, "%s/output.npy", idir);
    snprintf(b, sizeof b, "%s/expected_output.npy", idir);
    // The line fails by itself (--expect), and its output really differs; with the reference it passes.
    if (run_reproducer("broken conv reproducer", NULL, 1))
        tu_check(same_file_data(a, b, &same) && !same, "broken conv reproducer", "its output equals the expected one");
    if (run_reproducer("broken conv reproducer, reference", "conv2d.naive.scalar", 0))
        tu_check(same_file_data(a, b, &same) && same, "broken conv reproducer",
                 "the reference's output differs from expected_output.npy");

    // Deterministic: the same seed gives the same report, shrinking included.
    char first[sizeof g_out];
    memcpy(first, g_out, sizeof first);
    rc = fuzz(g_broken, args);
    tu_check(rc == 1 && !strcmp(first, g_out), "fuzz is deterministic", "two runs differ:\n%s\n----\n%s", first, g_out);
}

static void test_broken_maxpool(const char *tmp) {
    char dir[512], path[800];
    snprintf(dir, sizeof dir, "%s/maxpool", tmp);
    char *args[] = {"fuzz", "--impl", "maxpool2d.broken*", "--count", "60", "--seed", "3", "--out-dir", dir, NULL};
    int rc = fuzz(g_broken, args);
    tu_check(rc == 1 && strstr(g_out, "MISMATCH maxpool2d.broken.scalar") && strstr(g_out, "index"), "broken maxpool",
             "exit %d:\n%s%s", rc, g_out, g_err);
    snprintf(path, sizeof path, "%s/maxpool2d.broken.scalar/input.npy", dir);
    cnb_shape s;
    float *x = NULL;
    cnb_error e = {0};
    if (!cnb_npy_read_f32(path, &s, &x, &e)) {
        tu_check(numel(&s) <= 2, "broken maxpool shrunk", "the reproducer's input has %lld elements", (long long)numel(&s));
        free(x);
    } else {
        tu_check(false, "broken maxpool shrunk", "no reproducer input: %s", e.msg);
    }
    tu_check(strstr(g_out, "return_indices=True") != NULL, "broken maxpool shrunk", "indices were shrunk away:\n%s", g_out);
    run_reproducer("broken maxpool reproducer", NULL, 1);
    run_reproducer("broken maxpool reproducer, reference", "maxpool2d.naive.scalar", 0);
}

static void test_clean(const char *tmp) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/clean", tmp);
    // The healthy build, every implementation, a few dozen cases: no mismatch, every kind seen.
    char *args[] = {"fuzz", "--count", "40", "--seed", "11", "--out-dir", dir, NULL};
    int rc = fuzz(g_bin, args);
    tu_check(rc == 0 && strstr(g_out, "no mismatch"), "clean run", "exit %d:\n%s%s", rc, g_out, g_err);
    // --kind and --impl select.
    char *kargs[] = {"fuzz", "--count", "5", "--seed", "2", "--kind", "BatchNorm2d", "--out-dir", dir, NULL};
    rc = fuzz(g_broken, kargs);
    tu_check(rc == 0 && !strstr(g_out, "conv2d.") && !strstr(g_out, "maxpool2d."), "--kind", "exit %d:\n%s", rc, g_out);
}

static void test_usage(void) {
    char *bad[][6] = {
        {"fuzz", "--time", "1", "--count", "2", NULL},
        {"fuzz", "--kind", "Conv3d", NULL},
        {"fuzz", "--impl", "no.such.*", NULL},
        {"fuzz", "--seed", "-1", NULL},
        {"fuzz", "--count", "0", NULL},
        {"fuzz", "--impl", "conv2d.naive.scalar", NULL},
        {"fuzz", "--bogus", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = fuzz(g_bin, bad[i]);
        tu_check(rc == 2 && tu_count_lines(g_err) >= 1, "usage error", "'%s %s' exit %d, expected 2", bad[i][1],
                 bad[i][2] ? bad[i][2] : "", rc);
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        printf("usage: test_fuzz cnnbench cnnbench_broken\n");
        return 2;
    }
    g_bin = argv[1];
    g_broken = argv[2];
    const char *tmp = tu_tmpdir();
    if (!tmp) {
        printf("cannot create a temporary folder\n");
        return 1;
    }
    test_usage();
    test_broken_conv(tmp);
    test_broken_maxpool(tmp);
    test_clean(tmp);
    tu_cleanup();
    return tu_summary("fuzz_cmd");
}
