/* End-to-end test of the cnnbench command: `list` and `impls`; every PyTorch golden case through
 * `cnnbench run` (outputs, indices and running statistics compared with PyTorch's, within the promise of the
 * implementation `auto` chose); every rejected
 * layer/input of tests/golden/errors*.tsv, malformed specs, malformed .npy files and bad options:
 * non-zero exit, exactly one line on stderr, and no output file.
 * usage: test_cli path/to/cnnbench path/to/tests/golden */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cnnbench.h"
#include "harness/npy.h"
#include "test_util.h"

#define TORCH_REL_TOL 1e-6

static const char *g_bin, *g_golden;
static char g_tmp[256];

#define check tu_check
#define exists tu_exists
#define count_lines tu_count_lines

static int run(char *const args[], char *out, size_t out_size, char *err, size_t err_size) {
    return tu_run(g_bin, args, out, out_size, err, err_size);
}

static void expect_error(const char *what, char *const args[], const char *out_path) {
    char err[4096] = "";
    unlink(out_path);
    int rc = run(args, NULL, 0, err, sizeof err);
    check(rc > 0 && rc < 126, what, "exit status %d, expected a clean failure", rc);
    check(count_lines(err) == 1 && err[0], what, "stderr should be exactly one line, got: '%s'", err);
    check(!exists(out_path), what, "output file %s was written despite the error", out_path);
}

static double rel_err_f32(const float *a, const float *b, int64_t n) {
    double scale = 0, worst = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(b[i]) && fabs(b[i]) > scale) scale = fabs(b[i]);
    if (scale == 0) scale = 1;
    for (int64_t i = 0; i < n; i++) {
        double d;
        if (isnan(a[i]) || isnan(b[i])) d = isnan(a[i]) && isnan(b[i]) ? 0 : INFINITY;
        else if (isinf(a[i]) || isinf(b[i])) d = a[i] == b[i] ? 0 : INFINITY;
        else d = fabs((double)a[i] - b[i]) / scale;
        if (d > worst) worst = d;
    }
    return worst;
}

static bool same_shape(const cnb_shape *a, const cnb_shape *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

/* tol: the promise of the implementation that ran (winograd kernels promise less than float rounding). */
static void compare_file(const char *id, const char *got_path, const char *want_path, bool ints, double tol) {
    cnb_error e = {0};
    cnb_shape gs, ws;
    if (ints) {
        int64_t *g = NULL, *w = NULL;
        if (cnb_npy_read_i64(got_path, &gs, &g, &e) || cnb_npy_read_i64(want_path, &ws, &w, &e)) {
            check(false, id, "%s", e.msg);
        } else {
            int64_t n;
            cnb_shape_numel(&ws, &n, NULL);
            check(same_shape(&gs, &ws) && !memcmp(g, w, (size_t)n * sizeof *g), id, "indices %s differ from PyTorch's", got_path);
        }
        free(g), free(w);
        return;
    }
    float *g = NULL, *w = NULL;
    if (cnb_npy_read_f32(got_path, &gs, &g, &e) || cnb_npy_read_f32(want_path, &ws, &w, &e)) {
        check(false, id, "%s", e.msg);
    } else if (!same_shape(&gs, &ws)) {
        check(false, id, "%s has a different shape than PyTorch's output", got_path);
    } else {
        int64_t n;
        cnb_shape_numel(&ws, &n, NULL);
        double err = rel_err_f32(g, w, n);
        check(err <= tol, id, "%s: rel err %.3g vs PyTorch (tolerance %.3g)", got_path, err, tol);
    }
    free(g), free(w);
}

static void golden_cases(void) {
    char path[1024], line[4096];
    snprintf(path, sizeof path, "%s/cases.tsv", g_golden);
    FILE *f = fopen(path, "r");
    check(f != NULL, "cases.tsv", "cannot open %s", path);
    if (!f) return;
    int k = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *id = line, *flags = strchr(id, '\t'), *spec = flags ? strchr(flags + 1, '\t') : NULL;
        if (!spec) continue;
        *flags++ = 0;
        *spec++ = 0;
        char *args[40], bufs[12][4200], nbt[64];
        int n = 0, b = 0;
        args[n++] = "run";
        args[n++] = spec;
        static const struct { const char *file, *opt; } ins[] = {
            {"input", "--input"}, {"weight", "--weight"}, {"bias", "--bias"},
            {"running_mean", "--running-mean"}, {"running_var", "--running-var"},
        };
        for (size_t i = 0; i < sizeof ins / sizeof ins[0]; i++) {
            snprintf(bufs[b], sizeof bufs[b], "%s/cases/%s/%s.npy", g_golden, id, ins[i].file);
            if (exists(bufs[b])) {
                args[n++] = (char *)ins[i].opt;
                args[n++] = bufs[b++];
            }
        }
        static const struct { const char *file, *opt; bool ints; } outs[] = {
            {"output", "--output", false}, {"indices", "--indices", true},
            {"new_running_mean", "--new-running-mean", false}, {"new_running_var", "--new-running-var", false},
        };
        char got[4][600], want[4][4200];
        bool used[4] = {false};
        for (int i = 0; i < 4; i++) {
            snprintf(want[i], sizeof want[i], "%s/cases/%s/%s.npy", g_golden, id, outs[i].file);
            snprintf(got[i], sizeof got[i], "%s/%s.npy", g_tmp, outs[i].file);
            unlink(got[i]);
            if (exists(want[i])) {
                used[i] = true;
                args[n++] = (char *)outs[i].opt;
                args[n++] = got[i];
            }
        }
        for (char *tok = strtok(flags, ","); tok; tok = strtok(NULL, ",")) {
            if (!strcmp(tok, "train")) args[n++] = "--train";
            else if (!strncmp(tok, "nbt=", 4)) {
                snprintf(nbt, sizeof nbt, "%s", tok + 4);
                args[n++] = "--num-batches-tracked";
                args[n++] = nbt;
            }
        }
        args[n++] = "--threads";
        args[n++] = (k++ % 2) ? "2" : "1";
        args[n] = NULL;
        char err[2048] = "", out[2048] = "";
        int rc = run(args, out, sizeof out, err, sizeof err);
        check(rc == 0, id, "cnnbench run exited %d: %s", rc, err);
        if (rc) continue;
        // `run` reports the implementation auto chose ("NAME: ..."): hold the output to its promise
        out[strcspn(out, ":")] = 0;
        const long impl = cnb_impl_find(out);
        const double tol = TORCH_REL_TOL + (impl >= 0 ? cnb_impl_max_rel_err((size_t)impl) : 0);
        for (int i = 0; i < 4; i++)
            if (used[i]) compare_file(id, got[i], want[i], outs[i].ints, tol);
    }
    fclose(f);
}

/* Write a zero-filled float32 .npy of the given shape. */
static void make_npy(const char *path, const cnb_shape *s) {
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->dims[i];
    float *z = calloc((size_t)n + 1, sizeof *z);
    cnb_error e = {0};
    if (cnb_npy_write_f32(path, s, z, &e)) check(false, "make_npy", "%s", e.msg);
    free(z);
}

/* A zero-filled float32 .npy of any rank, written by hand: the library's writer stops at 4 dimensions,
 * and the command must refuse the higher ranks itself. */
static void make_npy_rank(const char *path, const char *dims) {
    char hdr[256], shape[128];
    long long n = 1;
    size_t k = (size_t)snprintf(shape, sizeof shape, "(");
    for (const char *p = dims; *p;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        n *= v;
        k += (size_t)snprintf(shape + k, sizeof shape - k, "%lld, ", v);
        p = *end == ',' ? end + 1 : end;
        if (end == p && *p) break;
    }
    snprintf(shape + k, sizeof shape - k, ")");
    int hl = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape);
    int total = ((10 + hl + 1 + 63) / 64) * 64 - 10;
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(total & 0xff, f);
    fputc(total >> 8, f);
    fwrite(hdr, 1, (size_t)hl, f);
    for (int i = hl; i < total - 1; i++) fputc(' ', f);
    fputc('\n', f);
    for (long long i = 0; i < 4 * n; i++) fputc(0, f);
    fclose(f);
}

static bool parse_dims(const char *s, cnb_shape *sh) {
    memset(sh, 0, sizeof *sh);
    while (*s && sh->ndim < CNB_MAX_DIMS) {
        char *end;
        sh->dims[sh->ndim++] = strtoll(s, &end, 10);
        if (end == s) return false;
        s = *end == ',' ? end + 1 : end;
        if (*end != ',') break;
    }
    return true;
}

/* errors.tsv: id, flags, SPEC, input shape, PyTorch's message. Parameters of a plausible shape are
 * given where the spec's own channels say what they are; the error must come first anyway. */
static void error_cases(void) {
    char path[1024], line[4096];
    snprintf(path, sizeof path, "%s/errors.tsv", g_golden);
    FILE *f = fopen(path, "r");
    check(f != NULL, "errors.tsv", "cannot open %s", path);
    if (!f) return;
    char xin[600], win[600], out[600];
    snprintf(xin, sizeof xin, "%s/err_input.npy", g_tmp);
    snprintf(win, sizeof win, "%s/err_weight.npy", g_tmp);
    snprintf(out, sizeof out, "%s/err_output.npy", g_tmp);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *fld[5] = {line};
        int nf = 1;
        for (char *p = line; *p && nf < 5; p++)
            if (*p == '\t') {
                *p = 0;
                fld[nf++] = p + 1;
            }
        if (nf < 4) continue;
        const char *id = fld[0], *flags = fld[1], *spec = fld[2];
        make_npy_rank(xin, fld[3]);
        char *args[16];
        int n = 0;
        args[n++] = "run";
        args[n++] = (char *)spec;
        args[n++] = "--input";
        args[n++] = xin;
        args[n++] = "--output";
        args[n++] = out;
        if (!strncmp(spec, "Conv", 4) || strstr(spec, ".Conv")) {
            cnb_shape ws = {.ndim = spec[4] == '1' ? 3 : 4, .dims = {1, 1, 1, 1}};
            make_npy(win, &ws);
            args[n++] = "--weight";
            args[n++] = win;
        }
        if (strstr(flags, "train")) args[n++] = "--train";
        args[n] = NULL;
        char what[8400];
        snprintf(what, sizeof what, "error case %s (%s)", id, spec);
        expect_error(what, args, out);
    }
    fclose(f);
}

/* errors_params.tsv: id, SPEC, input shape, which parameter, its wrong shape, message. */
static void param_error_cases(void) {
    char path[1024], line[4096];
    snprintf(path, sizeof path, "%s/errors_params.tsv", g_golden);
    FILE *f = fopen(path, "r");
    if (!f) return;
    char xin[600], pin[600], win[600], out[600];
    snprintf(xin, sizeof xin, "%s/perr_input.npy", g_tmp);
    snprintf(pin, sizeof pin, "%s/perr_param.npy", g_tmp);
    snprintf(win, sizeof win, "%s/perr_weight.npy", g_tmp);
    snprintf(out, sizeof out, "%s/perr_output.npy", g_tmp);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *fld[6] = {line};
        int nf = 1;
        for (char *p = line; *p && nf < 6; p++)
            if (*p == '\t') {
                *p = 0;
                fld[nf++] = p + 1;
            }
        if (nf < 5) continue;
        const char *id = fld[0], *spec = fld[1], *which = fld[3];
        cnb_shape xs, ps;
        if (!parse_dims(fld[2], &xs) || !parse_dims(fld[4], &ps)) continue;
        make_npy(xin, &xs);
        make_npy(pin, &ps);
        char opt[64];
        snprintf(opt, sizeof opt, "--%s", which);
        for (char *p = opt; *p; p++)
            if (*p == '_') *p = '-';
        char *args[16];
        int n = 0;
        args[n++] = "run";
        args[n++] = (char *)spec;
        args[n++] = "--input";
        args[n++] = xin;
        args[n++] = "--output";
        args[n++] = out;
        args[n++] = opt;
        args[n++] = pin;
        if (strcmp(which, "weight") && strstr(spec, "Conv")) {
            /* a correct weight, so only the named parameter is wrong */
            char sp[600];
            snprintf(sp, sizeof sp, "%s", spec);
            args[n++] = "--weight";
            args[n++] = win;
            (void)sp;
        }
        args[n] = NULL;
        char what[8400];
        snprintf(what, sizeof what, "param error %s (%s %s)", id, which, fld[4]);
        expect_error(what, args, out);
    }
    fclose(f);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, n, f);
    fclose(f);
}

static void malformed_inputs(void) {
    char good[600], bad[600], out[600], w[600];
    snprintf(good, sizeof good, "%s/good.npy", g_tmp);
    snprintf(bad, sizeof bad, "%s/bad.npy", g_tmp);
    snprintf(out, sizeof out, "%s/out.npy", g_tmp);
    snprintf(w, sizeof w, "%s/w.npy", g_tmp);
    cnb_shape xs = {.ndim = 4, .dims = {1, 3, 8, 8}}, ws = {.ndim = 4, .dims = {4, 3, 3, 3}};
    make_npy(good, &xs);
    make_npy(w, &ws);
    char *spec = "Conv2d(3, 4, 3)";

    /* sanity: the good files work */
    char *ok_args[] = {"run", spec, "--input", good, "--weight", w, "--output", out, NULL};
    char err[2048] = "";
    unlink(out);
    check(run(ok_args, NULL, 0, err, sizeof err) == 0 && exists(out), "good conv", "failed: %s", err);

    /* malformed .npy inputs */
    FILE *f = fopen(good, "rb");
    char buf[1024];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    char *args[] = {"run", spec, "--input", bad, "--weight", w, "--output", out, NULL};
    write_bytes(bad, buf, n / 2);
    expect_error("truncated npy", args, out);
    write_bytes(bad, "not a numpy file at all", 23);
    expect_error("garbage npy", args, out);
    const char *hdrs[] = {
        "{'descr': '>f4', 'fortran_order': False, 'shape': (1, 3, 8, 8), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 3, 8, 8), }",
        "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 3, 8, 8), }",
        "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 3, 8, 8), }",
    };
    const char *names[] = {"big-endian npy", "float64 npy", "fortran-order npy", "int64 npy as input"};
    for (int i = 0; i < 4; i++) {
        char file[2048];
        size_t hl = strlen(hdrs[i]);
        size_t pad = 64 - (10 + hl + 1) % 64;
        size_t total_h = hl + pad + 1;
        memcpy(file, "\x93NUMPY\x01\x00", 8);
        file[8] = (char)(total_h & 0xff);
        file[9] = (char)(total_h >> 8);
        memcpy(file + 10, hdrs[i], hl);
        memset(file + 10 + hl, ' ', pad);
        file[10 + hl + pad] = '\n';
        size_t dbytes = (i == 1 || i == 3) ? 8 * 192 : 4 * 192;
        FILE *o = fopen(bad, "wb");
        if (!o) continue;
        fwrite(file, 1, 10 + total_h, o);
        for (size_t k = 0; k < dbytes; k++) fputc(0, o);
        fclose(o);
        expect_error(names[i], args, out);
    }
    char missing[600];
    snprintf(missing, sizeof missing, "%s/does-not-exist.npy", g_tmp);
    char *m_args[] = {"run", spec, "--input", missing, "--weight", w, "--output", out, NULL};
    expect_error("missing input file", m_args, out);

    /* malformed specs and bad options */
    const char *specs[] = {"Conv2d(3, 4", "Conv2d(3, 4, 3))", "Conv3d(3, 4, 3)", "Conv2d(3, 4, kernel_size=3, strid=2)",
                           "Conv2d(3, 4, 3.5)", "Conv2d(3, 4, 3, padding='sam')", "Conv2d(3, 4, 3, padding_mode='mirror')",
                           "Conv2d(3, 4, (3, 3, 3))", "", "Conv2d(3, 4, 3, bias=maybe)", "Conv2d(3, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3)"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        char *sargs[] = {"run", (char *)specs[i], "--input", good, "--weight", w, "--output", out, NULL};
        char what[128];
        snprintf(what, sizeof what, "bad spec '%s'", specs[i]);
        expect_error(what, sargs, out);
    }
    char *o1[] = {"run", spec, "--input", good, "--output", out, NULL};
    expect_error("conv without --weight", o1, out);
    char *o2[] = {"run", spec, "--input", good, "--weight", w, "--output", out, "--frobnicate", NULL};
    expect_error("unknown option", o2, out);
    char *o3[] = {"run", spec, "--input", good, "--weight", w, "--output", out, "--impl", "conv2d.nonexistent.scalar", NULL};
    expect_error("unknown implementation", o3, out);
    char *o4[] = {"run", spec, "--input", good, "--weight", w, "--output", out, "--impl", "maxpool2d.naive.scalar", NULL};
    expect_error("implementation of another layer", o4, out);
    char *o5[] = {"run", spec, "--input", good, "--weight", w, "--output", out, "--threads", "0", NULL};
    expect_error("zero threads", o5, out);
    char *o6[] = {"run", spec, "--input", good, "--weight", good, "--output", out, NULL};
    expect_error("weight of the wrong shape", o6, out);
    char *o7[] = {"run", "MaxPool2d(2)", "--input", good, "--output", out, "--weight", w, NULL};
    expect_error("weight for a pool", o7, out);
    char *o8[] = {"run", "Conv2d(3, 4, 3, bias=False)", "--input", good, "--weight", w, "--bias", w, "--output", out, NULL};
    expect_error("bias with bias=False", o8, out);

    /* an existing output file is left alone when the run fails */
    write_bytes(out, "keep", 4);
    char *o9[] = {"run", "Conv2d(4, 4, 3)", "--input", good, "--weight", w, "--output", out, NULL};
    err[0] = 0;
    int rc = run(o9, NULL, 0, err, sizeof err);
    struct stat st;
    check(rc != 0 && stat(out, &st) == 0 && st.st_size == 4, "failed run keeps an existing output", "rc %d", rc);
    unlink(out);
}

static void list_and_impls(void) {
    char out[1 << 16] = "", err[4096] = "";
    char *l[] = {"list", NULL};
    check(run(l, out, sizeof out, err, sizeof err) == 0, "list", "failed: %s", err);
    for (size_t i = 0; i < cnb_impl_count(); i++) {
        // Its line, and on it whether its bits depend on the thread count (issue 8.4).
        char key[128];
        snprintf(key, sizeof key, "\n%s ", cnb_impl_name(i));
        const char *line = strstr(out, key), *end = line ? strchr(line + 1, '\n') : NULL;
        const char *want = cnb_impl_thread_invariant(i) ? " same " : " vary ", *at = line ? strstr(line, want) : NULL;
        check(line != NULL, "list", "does not show %s", cnb_impl_name(i));
        check(!line || (at && (!end || at < end)), "list", "%s: its line does not say '%s' in the threads column",
              cnb_impl_name(i), want);
    }
    check(strstr(out, "cpu features:") != NULL, "list", "does not show the CPU features");

    char *a[] = {"impls", "Conv2d(3, 8, kernel_size=(3, 3), padding=same)", "--shape", "1,3,9,9", NULL};
    check(run(a, out, sizeof out, err, sizeof err) == 0, "impls", "failed: %s", err);
    check(strstr(out, "conv2d.naive.scalar\n") != NULL, "impls", "conv2d.naive.scalar missing from:\n%s", out);
    check(strstr(out, "maxpool") == NULL, "impls", "lists an implementation of another layer:\n%s", out);
    char *b[] = {"impls", "Conv1d(3, 8, 3)", "--shape", "2,3,17", NULL};
    check(run(b, out, sizeof out, err, sizeof err) == 0 && strstr(out, "conv1d.naive.scalar\n"), "impls conv1d", "got: %s%s", out, err);
    char *c[] = {"impls", "BatchNorm2d(4)", "--shape", "1,4,1,1", "--train", NULL};
    check(run(c, out, sizeof out, err, sizeof err) != 0 && count_lines(err) == 1, "impls invalid", "BN training with one value per channel accepted");
    char *d[] = {"impls", "MaxPool2d(2)", "--shape", "1,3,x", NULL};
    check(run(d, out, sizeof out, err, sizeof err) != 0, "impls bad shape", "accepted");
    char *e[] = {"frobnicate", NULL};
    check(run(e, out, sizeof out, err, sizeof err) != 0, "unknown command", "accepted");
}

int main(int argc, char **argv) {
    if (argc < 3) {
        printf("usage: test_cli path/to/cnnbench path/to/tests/golden\n");
        return 2;
    }
    g_bin = argv[1];
    g_golden = argv[2];
    const char *dir = tu_tmpdir();
    if (!dir) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(g_tmp, sizeof g_tmp, "%s", dir);
    list_and_impls();
    golden_cases();
    error_cases();
    param_error_cases();
    malformed_inputs();
    tu_cleanup();
    return tu_summary("cli");
}
