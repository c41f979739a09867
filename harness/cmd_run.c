/* `cnnbench run`, `impls` and `list`: one layer on .npy tensors through the plan API, the
 * implementations that can run a layer, and the registry with what this CPU has. Errors print one
 * line on stderr and exit 1; outputs are written to temporary files renamed into place only when
 * everything succeeded, so a failure leaves no output file. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cnnbench.h"
#include "core/spec.h"
#include "harness/agree.h"
#include "harness/cmd.h"
#include "harness/npy.h"

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("cnnbench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static int fail_err(const cnb_error *e) { return fail("%s", e->msg[0] ? e->msg : cnb_status_name(e->code)); }

static void shape_str(const cnb_shape *s, char *buf, size_t size) {
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < s->ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%" PRId64, i ? ", " : "", s->dims[i]);
    if (n < size) snprintf(buf + n, size - n, "]");
}

/* ---- run ---- */

typedef struct run_opts {
    const char *spec, *input, *output, *weight, *bias, *rmean, *rvar, *new_rmean, *new_rvar, *indices, *impl, *plan;
    const char *expect[4];  /* --expect, --expect-indices, --expect-running-mean, --expect-running-var */
    long long nbt;
    int threads;
    bool train, any_machine;
} run_opts;

/* Matches "--name VALUE" or "--name=VALUE"; advances *i past what it used. */
static bool opt_value(int argc, char **argv, int *i, const char *name, const char **val, bool *missing) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n)) return false;
    if (argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return true;
    }
    if (argv[*i][n] != 0) return false;
    if (*i + 1 >= argc) {
        *missing = true;
        return true;
    }
    *val = argv[++*i];
    return true;
}

static bool parse_int(const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static int parse_run_opts(int argc, char **argv, run_opts *o, bool allow_files) {
    memset(o, 0, sizeof *o);
    o->threads = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool missing = false;
        const char *v = NULL;
        struct { const char *name; const char **dst; } files[] = {
            {"--input", &o->input}, {"--output", &o->output}, {"--weight", &o->weight}, {"--bias", &o->bias},
            {"--running-mean", &o->rmean}, {"--running-var", &o->rvar}, {"--new-running-mean", &o->new_rmean},
            {"--new-running-var", &o->new_rvar}, {"--indices", &o->indices}, {"--impl", &o->impl},
            {"--plan", &o->plan}, {"--expect", &o->expect[0]}, {"--expect-indices", &o->expect[1]},
            {"--expect-running-mean", &o->expect[2]}, {"--expect-running-var", &o->expect[3]},
        };
        bool used = false;
        for (size_t f = 0; f < sizeof files / sizeof files[0] && !used; f++) {
            if (!allow_files && strcmp(files[f].name, "--impl")) continue;
            if (opt_value(argc, argv, &i, files[f].name, &v, &missing)) {
                if (missing) return fail("option %s needs a value", files[f].name);
                if (*files[f].dst) return fail("option %s given twice", files[f].name);
                *files[f].dst = v;
                used = true;
            }
        }
        if (used) continue;
        if (allow_files && opt_value(argc, argv, &i, "--num-batches-tracked", &v, &missing)) {
            if (missing || !parse_int(v, 0, INT64_MAX - 1, &o->nbt))
                return fail("--num-batches-tracked needs a non-negative integer, got '%s'", missing ? "" : v);
        } else if (allow_files && opt_value(argc, argv, &i, "--threads", &v, &missing)) {
            long long t;
            if (missing || !parse_int(v, 1, 4096, &t))
                return fail("--threads needs a positive integer, got '%s'", missing ? "" : v);
            o->threads = (int)t;
        } else if (!strcmp(a, "--train")) {
            o->train = true;
        } else if (allow_files && !strcmp(a, "--any-machine")) {
            o->any_machine = true;
        } else if (a[0] == '-' && a[1] == '-') {
            return fail("unknown option '%s'", a);
        } else if (!o->spec) {
            o->spec = a;
        } else {
            return fail("unexpected argument '%s' (the SPEC is '%s'; quote it as one argument)", a, o->spec);
        }
    }
    if (!o->spec) return fail("missing the layer SPEC, e.g. \"Conv2d(3, 8, 3)\"");
    return 0;
}

/* Read a float parameter file and check its shape against what the layer expects. */
static int load_param(const char *path, const cnb_layer *layer, cnb_param which, const char *opt, float **out) {
    cnb_error e = {0};
    cnb_shape want, got;
    if (cnb_param_shape(layer, which, &want, &e)) {
        char m[320];
        snprintf(m, sizeof m, "%s: %s", opt, e.msg);
        return fail("%s", m);
    }
    if (cnb_npy_read_f32(path, &got, out, &e)) return fail_err(&e);
    bool same = got.ndim == want.ndim;
    for (int i = 0; same && i < got.ndim; i++) same = got.dims[i] == want.dims[i];
    if (!same) {
        char a[96], b[96], m[400];
        shape_str(&got, a, sizeof a);
        shape_str(&want, b, sizeof b);
        snprintf(m, sizeof m, "%s %s has shape %s, but the layer expects %s", opt, path, a, b);
        free(*out);
        *out = NULL;
        return fail("%s", m);
    }
    return 0;
}

/* --expect*: judge the outputs against expected files (a reference's, e.g. written by `cnnbench fuzz`) by the
 * benchmark's agreement rule for impl (harness/agree.h). 0 when they agree; else one line on stderr and 1. */
static int check_expected(const run_opts *o, const cnb_layer *layer, const cnb_shape *ys, int64_t ny, int64_t nc,
                          const char *impl, const float *y, const int64_t *idx, const float *nrm, const float *nrv) {
    cnb_bench_data d = {.layer = *layer, .ny = ny, .nc = nc};
    cnb_error e = {0};
    cnb_shape s[4];
    int rc = 1;
    if (o->expect[0] && cnb_npy_read_f32(o->expect[0], &s[0], &d.ref_y, &e)) goto done;
    if (o->expect[1] && cnb_npy_read_i64(o->expect[1], &s[1], &d.ref_idx, &e)) goto done;
    if (o->expect[2] && cnb_npy_read_f32(o->expect[2], &s[2], &d.ref_rm, &e)) goto done;
    if (o->expect[3] && cnb_npy_read_f32(o->expect[3], &s[3], &d.ref_rv, &e)) goto done;
    const cnb_shape cs = {.ndim = 1, .dims = {nc}};
    for (int i = 0; i < 4; i++) {
        const cnb_shape *want = i < 2 ? ys : &cs;
        bool same = !o->expect[i] || s[i].ndim == want->ndim;
        for (int k = 0; same && o->expect[i] && k < want->ndim; k++) same = s[i].dims[k] == want->dims[k];
        if (!same) {
            char a[96], b[96];
            shape_str(&s[i], a, sizeof a);
            shape_str(want, b, sizeof b);
            fail("run: %s has shape %s, but the output it is compared with has %s", o->expect[i], a, b);
            e.msg[0] = 0;
            goto done;
        }
    }
    // What was expected is compared (each --expect-* goes with the option that writes that output).
    cnb_agreement a;
    cnb_bench_judge(&d, impl, y, d.ref_idx ? idx : NULL, d.ref_rm ? nrm : NULL, d.ref_rv ? nrv : NULL, &a);
    if (!a.pass)
        fail("run: %s disagrees with the expected outputs (%s): %s", impl, a.rule, a.detail[0] ? a.detail : "mismatch");
    else
        printf("agrees with the expected outputs (%s)\n", a.rule);
    rc = a.pass ? 0 : 1;
done:
    if (rc && e.msg[0]) fail_err(&e);
    free(d.ref_y), free(d.ref_idx), free(d.ref_rm), free(d.ref_rv);
    return rc;
}

typedef struct pending_out {
    const char *path;
    char tmp[4096];
    bool written;
} pending_out;

static void tmp_name(pending_out *p) {
    snprintf(p->tmp, sizeof p->tmp, "%s.cnnbench-tmp-%ld", p->path, (long)getpid());
}

int cnb_cmd_run(int argc, char **argv) {
    run_opts o;
    if (parse_run_opts(argc, argv, &o, true)) return 1;
    if (!o.input) return fail("run: --input X.npy is required");
    if (!o.output) return fail("run: --output Y.npy is required");

    cnb_error e = {0};
    cnb_layer layer;
    if (cnb_spec_parse(o.spec, &layer, &e)) return fail_err(&e);
    if (layer.kind == CNB_BATCHNORM2D) layer.u.batchnorm2d.training = o.train;
    const bool is_conv = layer.kind == CNB_CONV1D || layer.kind == CNB_CONV2D;
    const bool is_bn = layer.kind == CNB_BATCHNORM2D;
    const char *kind = cnb_kind_name(layer.kind);
    if (!is_conv && !is_bn && (o.weight || o.bias))
        return fail("run: %s has no weight or bias, but --weight/--bias was given", kind);
    if (!is_bn && (o.rmean || o.rvar || o.new_rmean || o.new_rvar))
        return fail("run: %s has no running statistics, but a --running-*/--new-running-* option was given", kind);
    if (layer.kind != CNB_MAXPOOL2D && o.indices)
        return fail("run: --indices is only for MaxPool2d, not %s", kind);
    if (is_conv && !o.weight) return fail("run: %s needs --weight W.npy", kind);
    if (o.any_machine && !o.plan) return fail("run: --any-machine goes with --plan FILE");
    if (!o.expect[0] && (o.expect[1] || o.expect[2] || o.expect[3]))
        return fail("run: --expect-indices/-running-mean/-running-var go with --expect Y.npy");
    if (o.expect[1] && !o.indices) return fail("run: --expect-indices needs --indices I.npy");
    if ((o.expect[2] && !o.new_rmean) || (o.expect[3] && !o.new_rvar))
        return fail("run: --expect-running-mean/-var need --new-running-mean/-var");
    if (o.plan && cnb_plan_file_load(o.plan, o.any_machine ? CNB_PLAN_FILE_ANY_MACHINE : 0, &e)) return fail_err(&e);

    int rc = 1;
    float *x = NULL, *y = NULL, *w = NULL, *b = NULL, *rm = NULL, *rv = NULL, *nrm = NULL, *nrv = NULL;
    int64_t *idx = NULL;
    cnb_plan *plan = NULL;
    pending_out outs[4] = {{.path = o.output}, {.path = o.indices}, {.path = o.new_rmean}, {.path = o.new_rvar}};
    cnb_shape xs;

    if (cnb_npy_read_f32(o.input, &xs, &x, &e)) { fail_err(&e); goto done; }
    cnb_shape ys;
    if (cnb_output_shape(&layer, &xs, &ys, &e)) { fail_err(&e); goto done; }
    if (o.weight && load_param(o.weight, &layer, CNB_PARAM_WEIGHT, "--weight", &w)) goto done;
    if (o.bias && load_param(o.bias, &layer, CNB_PARAM_BIAS, "--bias", &b)) goto done;
    if (o.rmean && load_param(o.rmean, &layer, CNB_PARAM_RUNNING_MEAN, "--running-mean", &rm)) goto done;
    if (o.rvar && load_param(o.rvar, &layer, CNB_PARAM_RUNNING_VAR, "--running-var", &rv)) goto done;
    if (is_bn && !layer.u.batchnorm2d.track_running_stats && (o.new_rmean || o.new_rvar)) {
        fail("run: BatchNorm2d with track_running_stats=False has no running statistics to write");
        goto done;
    }

    cnb_params prm = {.weight = w, .bias = b, .running_mean = rm, .running_var = rv, .num_batches_tracked = o.nbt,
                      .threads = o.threads};
    if (cnb_plan_create(&layer, &xs, o.impl, &prm, &plan, &e)) { fail_err(&e); goto done; }

    int64_t ny, nc = is_bn ? layer.u.batchnorm2d.num_features : 0;
    if (cnb_shape_numel(&ys, &ny, &e)) { fail_err(&e); goto done; }
    y = malloc((size_t)(ny ? ny : 1) * sizeof *y);
    if (o.indices) idx = malloc((size_t)(ny ? ny : 1) * sizeof *idx);
    if (o.new_rmean) nrm = malloc((size_t)nc * sizeof *nrm);
    if (o.new_rvar) nrv = malloc((size_t)nc * sizeof *nrv);
    if (!y || (o.indices && !idx) || (o.new_rmean && !nrm) || (o.new_rvar && !nrv)) {
        fail("run: out of memory for the output ");
        goto done;
    }
    cnb_run_args args = {.x = x, .y = y, .indices = idx, .new_running_mean = nrm, .new_running_var = nrv, .threads = o.threads};
    if (cnb_plan_run(plan, &args, &e)) { fail_err(&e); goto done; }

    cnb_shape cs = {.ndim = 1, .dims = {nc}};
    for (int i = 0; i < 4; i++) {
        if (!outs[i].path) continue;
        tmp_name(&outs[i]);
        cnb_status st = i == 0 ? cnb_npy_write_f32(outs[i].tmp, &ys, y, &e)
                      : i == 1 ? cnb_npy_write_i64(outs[i].tmp, &ys, idx, &e)
                      : cnb_npy_write_f32(outs[i].tmp, &cs, i == 2 ? nrm : nrv, &e);
        if (st) { fail_err(&e); goto done; }
        outs[i].written = true;
    }
    for (int i = 0; i < 4; i++) {
        if (outs[i].written && rename(outs[i].tmp, outs[i].path)) {
            fail("cannot write %s: %s", outs[i].path, strerror(errno));
            for (int j = 0; j < i; j++)
                if (outs[j].written) unlink(outs[j].path);  // all outputs or none
            goto done;
        }
        outs[i].written = false;
    }
    char a[96], bshape[96];
    shape_str(&xs, a, sizeof a);
    shape_str(&ys, bshape, sizeof bshape);
    printf("%s: %s %s -> %s%s\n", cnb_plan_impl(plan), cnb_kind_name(layer.kind), a, bshape,
           cnb_plan_from_file(plan) ? " (from plan file)" : "");
    // A disagreement leaves the outputs written (they are what to look at) and exits 1.
    rc = o.expect[0] ? check_expected(&o, &layer, &ys, ny, nc, cnb_plan_impl(plan), y, idx, nrm, nrv) : 0;
done:
    for (int i = 0; i < 4; i++)
        if (outs[i].written) unlink(outs[i].tmp);
    cnb_plan_destroy(plan);
    free(x), free(y), free(w), free(b), free(rm), free(rv), free(nrm), free(nrv), free(idx);
    return rc;
}

/* ---- impls ---- */

int cnb_cmd_impls(int argc, char **argv) {
    const char *shape_arg = NULL;
    bool train = false;
    const char *spec = NULL;
    for (int i = 0; i < argc; i++) {
        bool missing = false;
        const char *v = NULL;
        if (opt_value(argc, argv, &i, "--shape", &v, &missing)) {
            if (missing) return fail("option --shape needs a value like 1,3,224,224");
            shape_arg = v;
        } else if (!strcmp(argv[i], "--train")) {
            train = true;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            return fail("unknown option '%s'", argv[i]);
        } else if (!spec) {
            spec = argv[i];
        } else {
            return fail("unexpected argument '%s' (the SPEC is '%s'; quote it as one argument)", argv[i], spec);
        }
    }
    if (!spec) return fail("impls: missing the layer SPEC");
    if (!shape_arg) return fail("impls: --shape N,C,H,W is required");
    cnb_error e = {0};
    cnb_layer layer;
    cnb_shape shape;
    char msg[256];
    if (cnb_spec_parse(spec, &layer, &e)) return fail_err(&e);
    if (layer.kind == CNB_BATCHNORM2D) layer.u.batchnorm2d.training = train;
    if (!cnb_parse_shape(shape_arg, &shape, msg, sizeof msg)) return fail("%s", msg);
    cnb_shape out;
    if (cnb_output_shape(&layer, &shape, &out, &e)) return fail_err(&e);

    /* Best first, as `auto`'s built-in rule weighs them; ties in registry order, as auto breaks them. */
    size_t n = cnb_impl_count(), order[n ? n : 1], m = 0;
    for (size_t i = 0; i < n; i++)
        if (cnb_impl_check(i, &layer, &shape, NULL) == CNB_OK) order[m++] = i;
    for (size_t i = 1; i < m; i++)
        for (size_t j = i; j > 0 && cnb_impl_score(order[j], &layer, &shape) > cnb_impl_score(order[j - 1], &layer, &shape); j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (size_t i = 0; i < m; i++) puts(cnb_impl_name(order[i]));
    return 0;
}

/* ---- list ---- */

int cnb_cmd_list(int argc, char **argv) {
    if (argc > 0) return fail("list takes no arguments, got '%s'", argv[0]);
    char a[64], b[64];
    const uint32_t have = cnb_cpu_features(), det = cnb_cpu_features_detected();
    const char *cap = getenv("CNB_ISA");
    printf("cpu features: %s", cnb_isa_names(det, a, sizeof a));
    if (cap && *cap) printf(" (CNB_ISA=%s caps them to: %s)", cap, cnb_isa_names(have, b, sizeof b));
    printf("\n\n%-34s %-18s %-12s %5s %9s %-7s  %s\n", "implementation", "layer", "needs", "prio", "max_err", "threads",
           "status");
    for (size_t i = 0; i < cnb_impl_count(); i++) {
        const uint32_t need = cnb_impl_isa(i);
        const bool ok = (need & have) == need;
        char st[160];
        if (ok) snprintf(st, sizeof st, "available");
        else snprintf(st, sizeof st, "unavailable: needs %s", cnb_isa_names(need & ~have, b, sizeof b));
        printf("%-34s %-18s %-12s %5d %9.2g %-7s  %s%s\n", cnb_impl_name(i), cnb_kind_name(cnb_impl_kind(i)),
               need ? cnb_isa_names(need, a, sizeof a) : "-", cnb_impl_prio(i), (double)cnb_impl_max_rel_err(i),
               cnb_impl_thread_invariant(i) ? "same" : "vary", st,
               cnb_impl_prio(i) == 0 && strstr(cnb_impl_name(i), ".naive.") ? " (reference)" : "");
    }
    printf("\nthreads: same = bit-identical results at any thread count; vary = the last bits may change with the\n"
           "thread count (a reduction split between threads). Repeated runs at one count are always bit-identical.\n");
    return 0;
}
