/* Every registered implementation x every PyTorch golden case (tests/golden/cases.tsv): the reference
 * (<layer>.naive.scalar) must match PyTorch 1.13's output within float rounding (indices exactly), and
 * every other implementation whose ISA is present and whose supports() says yes must match the
 * reference within its promised max_rel_err, with 1 and 2 threads. A new kernel needs no edit here.
 * Run again with CNB_ISA=scalar by CTest. Exit 0 all passed, 1 a failure, 77 nothing could run.
 * usage: test_impls [GOLDEN_DIR [NAME_SUBSTRING]]: the substring limits the implementations checked (the
 * references are always checked against PyTorch). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cnnbench.h"
#include "core/spec.h"
#include "harness/npy.h"

/* PyTorch accumulates in float, the reference in double: allow float rounding of the result, measured
 * against the largest magnitude in the tensor (a sum's rounding scales with its terms, not its value). */
#define TORCH_REL_TOL 1e-6

typedef struct tensor {
    cnb_shape shape;
    float *f;
    int64_t *i;
    int64_t n;
} tensor;

static int g_pass, g_fail, g_skip, g_known;
/* Set while checking a peer library's implementation (<layer>.<lib>.ext) on a case outside what it
 * promises: non-finite inputs (oneDNN's max pooling ignores NaN) or ill-conditioned BatchNorm inputs
 * (oneDNN keeps batch statistics in float). Its mismatches are then reported as KNOWN, not failures. */
static bool g_peer_exempt;
static const char *g_dir;
static const char *g_only;    /* check only implementations whose name contains this (NULL: all) */

static void check(bool ok, const char *impl, const char *id, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void check(bool ok, const char *impl, const char *id, const char *fmt, ...) {
    if (ok) {
        g_pass++;
        return;
    }
    if (g_peer_exempt) g_known++;
    else g_fail++;
    va_list ap;
    va_start(ap, fmt);
    printf("%s %s %s: ", g_peer_exempt ? "KNOWN" : "FAIL", impl, id);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Load cases/<id>/<name>.npy if present. */
static bool load(const char *id, const char *name, bool ints, tensor *t) {
    char path[1024];
    memset(t, 0, sizeof *t);
    snprintf(path, sizeof path, "%s/cases/%s/%s.npy", g_dir, id, name);
    if (!exists(path)) return false;
    cnb_error e = {0};
    cnb_status st = ints ? cnb_npy_read_i64(path, &t->shape, &t->i, &e) : cnb_npy_read_f32(path, &t->shape, &t->f, &e);
    if (st) {
        check(false, "golden", id, "cannot read %s: %s", path, e.msg);
        return false;
    }
    cnb_shape_numel(&t->shape, &t->n, NULL);
    return true;
}

static void drop(tensor *t) {
    free(t->f);
    free(t->i);
    memset(t, 0, sizeof *t);
}

/* Max |a-b| / max|ref|, with NaN and infinities required to sit at the same places with the same value. */
static double rel_err(const float *a, const float *ref, int64_t n, int64_t *where) {
    double scale = 0, worst = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(ref[i]) && fabs(ref[i]) > scale) scale = fabs(ref[i]);
    if (scale == 0) scale = 1;
    *where = -1;
    for (int64_t i = 0; i < n; i++) {
        double d;
        if (isnan(ref[i]) || isnan(a[i])) d = (isnan(ref[i]) && isnan(a[i])) ? 0 : INFINITY;
        else if (isinf(ref[i]) || isinf(a[i])) d = a[i] == ref[i] ? 0 : INFINITY;
        else d = fabs((double)a[i] - (double)ref[i]) / scale;
        if (d > worst || (*where < 0 && d > 0)) {
            worst = d;
            *where = i;
        }
    }
    return worst;
}

typedef struct golden {
    const char *id;
    cnb_layer layer;
    tensor x, w, b, rm, rv, y, idx, nrm, nrv;
    int64_t nbt;
} golden;

typedef struct result {
    float *y, *nrm, *nrv;
    int64_t *idx;
} result;

static void result_free(result *r) {
    free(r->y), free(r->nrm), free(r->nrv), free(r->idx);
    memset(r, 0, sizeof *r);
}

/* Plan and run impl on the case; false (with a FAIL recorded) if it could not. */
static bool run_impl(const golden *gc, const char *impl, int threads, result *r) {
    cnb_error e = {0};
    cnb_params prm = {.weight = gc->w.f, .bias = gc->b.f, .running_mean = gc->rm.f, .running_var = gc->rv.f,
                      .num_batches_tracked = gc->nbt};
    cnb_plan *plan = NULL;
    memset(r, 0, sizeof *r);
    if (cnb_plan_create(&gc->layer, &gc->x.shape, impl, &prm, &plan, &e)) {
        check(false, impl, gc->id, "plan: %s", e.msg);
        return false;
    }
    const int64_t ny = gc->y.n, nc = gc->layer.kind == CNB_BATCHNORM2D ? gc->layer.u.batchnorm2d.num_features : 0;
    r->y = calloc((size_t)ny + 1, sizeof *r->y);
    r->idx = gc->idx.i ? calloc((size_t)ny + 1, sizeof *r->idx) : NULL;
    r->nrm = gc->nrm.f ? calloc((size_t)nc + 1, sizeof *r->nrm) : NULL;
    r->nrv = gc->nrv.f ? calloc((size_t)nc + 1, sizeof *r->nrv) : NULL;
    cnb_run_args a = {.x = gc->x.f, .y = r->y, .indices = r->idx, .new_running_mean = r->nrm, .new_running_var = r->nrv,
                      .threads = threads};
    cnb_status st = cnb_plan_run(plan, &a, &e);
    const cnb_shape *os = cnb_plan_output_shape(plan);
    bool same_shape = os->ndim == gc->y.shape.ndim;
    for (int i = 0; same_shape && i < os->ndim; i++) same_shape = os->dims[i] == gc->y.shape.dims[i];
    cnb_plan_destroy(plan);
    check(same_shape, impl, gc->id, "output shape differs from PyTorch's");
    if (st) check(false, impl, gc->id, "run: %s", e.msg);
    if (st || !same_shape) {
        result_free(r);
        return false;
    }
    return true;
}

static void compare(const golden *gc, const char *impl, const char *what, const result *got, const result *want,
                    double tol, bool exact_indices) {
    int64_t at;
    double err = rel_err(got->y, want->y, gc->y.n, &at);
    check(err <= tol, impl, gc->id, "%s: output rel err %.3g > %.3g (first worst at %lld: %.9g vs %.9g)", what, err, tol,
          (long long)at, at >= 0 ? got->y[at] : 0.0, at >= 0 ? want->y[at] : 0.0);
    /* Pooling's zeros carry PyTorch's sign: an average is summed from +0 (of -0s: +0); a maximum is the
     * first of the equal ones in its window, sign included. */
    const cnb_layer_kind k = gc->layer.kind;
    if (k == CNB_MAXPOOL2D || k == CNB_AVGPOOL2D || k == CNB_ADAPTIVEAVGPOOL2D) {
        int64_t bad = -1;
        for (int64_t i = 0; i < gc->y.n && bad < 0; i++)
            if (got->y[i] == 0 && want->y[i] == 0 && signbit(got->y[i]) != signbit(want->y[i])) bad = i;
        check(bad < 0, impl, gc->id, "%s: output %lld is %g, expected %g", what, (long long)bad,
              bad >= 0 ? got->y[bad] : 0.0, bad >= 0 ? want->y[bad] : 0.0);
    }
    if (got->idx && want->idx && exact_indices) {
        int64_t bad = -1;
        for (int64_t i = 0; i < gc->y.n && bad < 0; i++)
            if (got->idx[i] != want->idx[i]) bad = i;
        check(bad < 0, impl, gc->id, "%s: index %lld is %lld, expected %lld", what, (long long)bad,
              bad >= 0 ? (long long)got->idx[bad] : 0LL, bad >= 0 ? (long long)want->idx[bad] : 0LL);
    }
    const int64_t nc = gc->nrm.n;
    if (got->nrm && want->nrm) {
        err = rel_err(got->nrm, want->nrm, nc, &at);
        check(err <= tol, impl, gc->id, "%s: new running_mean rel err %.3g", what, err);
    }
    if (got->nrv && want->nrv) {
        err = rel_err(got->nrv, want->nrv, nc, &at);
        check(err <= tol, impl, gc->id, "%s: new running_var rel err %.3g", what, err);
    }
}

static bool same_bits(const result *a, const result *b, int64_t ny) {
    if (memcmp(a->y, b->y, (size_t)ny * sizeof *a->y)) return false;
    if (a->idx && memcmp(a->idx, b->idx, (size_t)ny * sizeof *a->idx)) return false;
    return true;
}

static bool is_peer(const char *impl) {
    const size_t n = strlen(impl);
    return n > 4 && !strcmp(impl + n - 4, ".ext");
}

/* Non-finite values anywhere, or (BatchNorm2d) values whose magnitude dwarfs their spread. */
static bool outside_peer_promise(const golden *gc) {
    float lo = INFINITY, hi = -INFINITY, mag = 0;
    for (int64_t i = 0; i < gc->x.n; i++) {
        const float v = gc->x.f[i];
        if (!isfinite(v)) return true;
        lo = fminf(lo, v), hi = fmaxf(hi, v), mag = fmaxf(mag, fabsf(v));
    }
    return gc->layer.kind == CNB_BATCHNORM2D && mag > 1000.f * (hi - lo);
}

static void run_case(golden *gc, int *ran_any) {
    /* The reference first: against PyTorch, and deterministic across thread counts. */
    char ref_name[64];
    snprintf(ref_name, sizeof ref_name, "%s.naive.scalar", cnb_kind_name(gc->layer.kind));
    for (char *p = ref_name; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    result ref, ref2;
    if (!run_impl(gc, ref_name, 1, &ref)) return;
    result torch = {.y = gc->y.f, .idx = gc->idx.i, .nrm = gc->nrm.f, .nrv = gc->nrv.f};
    compare(gc, ref_name, "vs PyTorch", &ref, &torch, TORCH_REL_TOL, true);
    if (run_impl(gc, ref_name, 2, &ref2)) {
        check(same_bits(&ref, &ref2, gc->y.n), ref_name, gc->id, "2 threads give different bits than 1 thread");
        result_free(&ref2);
    }
    *ran_any = 1;

    for (size_t i = 0; i < cnb_impl_count(); i++) {
        const char *name = cnb_impl_name(i);
        if (cnb_impl_kind(i) != gc->layer.kind || !strcmp(name, ref_name)) continue;
        if (g_only && !strstr(name, g_only)) continue;
        cnb_error why = {0};
        if (cnb_impl_check(i, &gc->layer, &gc->x.shape, &why)) {
            g_skip++;
            continue;
        }
        g_peer_exempt = is_peer(name) && outside_peer_promise(gc);
        for (int threads = 1; threads <= 2; threads++) {
            result r;
            if (!run_impl(gc, name, threads, &r)) continue;
            char what[32];
            snprintf(what, sizeof what, "vs reference, %d thread%s", threads, threads > 1 ? "s" : "");
            compare(gc, name, what, &r, &ref, cnb_impl_max_rel_err(i) > 0 ? cnb_impl_max_rel_err(i) : 1e-6, true);
            /* Against PyTorch too, within the implementation's promise plus float rounding. */
            compare(gc, name, "vs PyTorch", &r, &torch, cnb_impl_max_rel_err(i) + TORCH_REL_TOL, true);
            result_free(&r);
        }
        g_peer_exempt = false;
    }
    result_free(&ref);
}

int main(int argc, char **argv) {
    g_dir = argc > 1 ? argv[1] : CNB_GOLDEN_DIR;
    g_only = argc > 2 && argv[2][0] ? argv[2] : NULL;
    char path[1024];
    snprintf(path, sizeof path, "%s/cases.tsv", g_dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("cannot open %s\n", path);
        return 1;
    }
    char line[4096];
    int ran_any = 0, ncases = 0, lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *id = line, *flags = strchr(id, '\t'), *spec = flags ? strchr(flags + 1, '\t') : NULL;
        if (!spec) {
            check(false, "golden", "cases.tsv", "line %d: expected id<TAB>flags<TAB>SPEC", lineno);
            continue;
        }
        *flags++ = 0;
        *spec++ = 0;
        golden gc = {.id = id};
        cnb_error e = {0};
        if (cnb_spec_parse(spec, &gc.layer, &e)) {
            check(false, "golden", id, "spec '%s': %s", spec, e.msg);
            continue;
        }
        bool train = false;
        for (char *tok = strtok(flags, ","); tok; tok = strtok(NULL, ",")) {
            if (!strcmp(tok, "train")) train = true;
            else if (!strncmp(tok, "nbt=", 4)) gc.nbt = atoll(tok + 4);
        }
        if (gc.layer.kind == CNB_BATCHNORM2D) gc.layer.u.batchnorm2d.training = train;
        bool ok = load(id, "input", false, &gc.x) && load(id, "output", false, &gc.y);
        if (!ok) check(false, "golden", id, "missing input.npy or output.npy");
        load(id, "weight", false, &gc.w);
        load(id, "bias", false, &gc.b);
        load(id, "running_mean", false, &gc.rm);
        load(id, "running_var", false, &gc.rv);
        load(id, "indices", true, &gc.idx);
        load(id, "new_running_mean", false, &gc.nrm);
        load(id, "new_running_var", false, &gc.nrv);
        if (ok) {
            ncases++;
            run_case(&gc, &ran_any);
        }
        tensor *all[] = {&gc.x, &gc.w, &gc.b, &gc.rm, &gc.rv, &gc.y, &gc.idx, &gc.nrm, &gc.nrv};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) drop(all[i]);
    }
    fclose(f);
    char isa[64];
    printf("impls (isa: %s): %d cases, %d known peer differences\n", cnb_isa_names(cnb_cpu_features(), isa, sizeof isa),
           ncases, g_known);
    printf("%d passed, %d failed, %d skipped\n", g_pass, g_fail, g_skip);
    if (g_fail) return 1;
    return ran_any ? 0 : 77;
}
