/* The benchmark's agreement check: seeded data (small integers where that makes the check exact), the
 * reference computed once per layer and shape, and the rule each implementation is held to (agree.h).
 * Data is drawn per 4096-element chunk from splitmix64(seed, tensor, chunk), so it is the same for any
 * thread count. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/spec.h"
#include "core/status.h"
#include "harness/agree.h"
#include "harness/npy.h"

#define CHUNK 4096

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Integers uniform in [-amp, amp], zero with probability zero_pct/100. */
static void fill_ints(float *p, int64_t n, uint64_t seed, uint64_t tensor, int amp, int zero_pct) {
    const int64_t chunks = (n + CHUNK - 1) / CHUNK;
    #pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; c++) {
        uint64_t s = seed ^ (tensor * 0x100000001b3ull) ^ ((uint64_t)c * 0xc2b2ae3d27d4eb4full);
        const int64_t end = (c + 1) * CHUNK < n ? (c + 1) * CHUNK : n;
        for (int64_t i = c * CHUNK; i < end; i++) {
            const uint64_t r = splitmix64(&s);
            const int v = (int)((r >> 8) % (uint64_t)(2 * amp + 1)) - amp;
            p[i] = (int)(r % 100) < zero_pct ? 0.f : (float)v;
        }
    }
}

/* 64-byte aligned, as PyTorch's CPU allocator makes tensors (and free()-able): kernels see the alignment a
 * framework would give them. */
float *cnb_bench_alloc_f(int64_t n) {
    const size_t bytes = ((size_t)(n > 0 ? n : 1) * sizeof(float) + 63) / 64 * 64;
    return aligned_alloc(64, bytes);
}

void cnb_layer_work(const cnb_layer *layer, const cnb_shape *in, double *flops, double *bytes) {
    cnb_shape out;
    *flops = *bytes = 0;
    if (cnb_output_shape(layer, in, &out, NULL)) return;
    int64_t nin = 1, nout = 1;
    for (int i = 0; i < in->ndim; i++) nin *= in->dims[i];
    for (int i = 0; i < out.ndim; i++) nout *= out.dims[i];
    double win = 1;
    switch (layer->kind) {
    case CNB_CONV1D:
    case CNB_CONV2D: {
        const cnb_conv_params *c = &layer->u.conv;
        const double k = (double)c->kernel_size[0] * (layer->kind == CNB_CONV2D ? (double)c->kernel_size[1] : 1.0);
        const double wn = (double)c->out_channels * (double)(c->in_channels / c->groups) * k;
        *flops = 2.0 * (double)nout * (double)(c->in_channels / c->groups) * k;
        *bytes = 4.0 * ((double)nin + (double)nout + wn + (c->bias ? (double)c->out_channels : 0));
        return;
    }
    case CNB_MAXPOOL2D:
        win = (double)layer->u.maxpool2d.kernel_size[0] * (double)layer->u.maxpool2d.kernel_size[1];
        *flops = (double)nout * win;
        *bytes = 4.0 * ((double)nin + (double)nout) + (layer->u.maxpool2d.return_indices ? 8.0 * (double)nout : 0);
        return;
    case CNB_AVGPOOL2D:
        win = (double)layer->u.avgpool2d.kernel_size[0] * (double)layer->u.avgpool2d.kernel_size[1];
        *flops = (double)nout * win;
        *bytes = 4.0 * ((double)nin + (double)nout);
        return;
    case CNB_ADAPTIVEAVGPOOL2D:
        *flops = (double)nin + (double)nout;
        *bytes = 4.0 * ((double)nin + (double)nout);
        return;
    case CNB_BATCHNORM2D: {
        const cnb_batchnorm2d_params *b = &layer->u.batchnorm2d;
        const bool stats = b->training || !b->track_running_stats;
        *flops = (stats ? 5.0 : 2.0) * (double)nin;  // stats: sum and squared deviations; then one FMA-like step
        *bytes = 4.0 * ((double)nin + (double)nout + 4.0 * (double)b->num_features);
        return;
    }
    default:
        return;
    }
}

void cnb_bench_data_free(cnb_bench_data *d) {
    if (!d) return;
    free(d->x), free(d->w), free(d->b), free(d->rm), free(d->rv);
    free(d->ref_y), free(d->ref_rm), free(d->ref_rv), free(d->ref_idx);
    memset(d, 0, sizeof *d);
}

static const char *ref_name(cnb_layer_kind k) {
    static const char *const names[CNB_KIND_COUNT] = {
        [CNB_CONV1D] = "conv1d.naive.scalar", [CNB_CONV2D] = "conv2d.naive.scalar",
        [CNB_MAXPOOL2D] = "maxpool2d.naive.scalar", [CNB_AVGPOOL2D] = "avgpool2d.naive.scalar",
        [CNB_ADAPTIVEAVGPOOL2D] = "adaptiveavgpool2d.naive.scalar", [CNB_BATCHNORM2D] = "batchnorm2d.naive.scalar",
    };
    return (unsigned)k < CNB_KIND_COUNT ? names[k] : "?";
}

typedef struct outputs {
    float *y, *rm, *rv;
    int64_t *idx;
} outputs;

static cnb_status run_once(const cnb_bench_data *d, const char *impl, int threads, outputs *o, cnb_error *err) {
    cnb_params prm = {.weight = d->w, .bias = d->b, .running_mean = d->rm, .running_var = d->rv,
                      .num_batches_tracked = d->nbt};
    cnb_plan *plan = NULL;
    cnb_status st = cnb_plan_create(&d->layer, &d->in_shape, impl, &prm, &plan, err);
    if (st) return st;
    memset(o, 0, sizeof *o);
    o->y = cnb_bench_alloc_f(d->ny);
    bool ok = o->y != NULL;
    // Indices only when the layer returns them: peers such as oneDNN cannot produce PyTorch's.
    if (d->layer.kind == CNB_MAXPOOL2D && d->layer.u.maxpool2d.return_indices)
        ok = ok && (o->idx = malloc((size_t)(d->ny ? d->ny : 1) * sizeof *o->idx));
    if (d->rm) ok = ok && (o->rm = cnb_bench_alloc_f(d->nc)) && (o->rv = cnb_bench_alloc_f(d->nc));
    if (!ok) {
        cnb_plan_destroy(plan);
        free(o->y), free(o->idx), free(o->rm), free(o->rv);
        return cnb_fail(err, CNB_E_NOMEM, "out of memory for the outputs of %s", impl);
    }
    cnb_run_args a = {.x = d->x, .y = o->y, .indices = o->idx, .new_running_mean = o->rm, .new_running_var = o->rv,
                      .threads = threads};
    st = cnb_plan_run(plan, &a, err);
    cnb_plan_destroy(plan);
    if (st) free(o->y), free(o->idx), free(o->rm), free(o->rv);
    return st;
}

cnb_status cnb_bench_data_make(const cnb_layer *layer, const cnb_shape *shape, uint64_t seed, int threads,
                               cnb_bench_data *d, cnb_error *err) {
    memset(d, 0, sizeof *d);
    d->layer = *layer;
    d->in_shape = *shape;
    cnb_status st = cnb_output_shape(layer, shape, &d->out_shape, err);
    if (st) return st;
    if ((st = cnb_shape_numel(shape, &d->nx, err)) || (st = cnb_shape_numel(&d->out_shape, &d->ny, err))) return st;
    d->ref_impl = ref_name(layer->kind);
    if (!(d->x = cnb_bench_alloc_f(d->nx))) goto nomem;
    switch (layer->kind) {
    case CNB_CONV1D:
    case CNB_CONV2D: {
        cnb_shape ws;
        if ((st = cnb_param_shape(layer, CNB_PARAM_WEIGHT, &ws, err)) || (st = cnb_shape_numel(&ws, &d->nw, err))) goto fail;
        /* Every partial sum must stay an exact float integer: |sum| <= terms * ax * aw + |bias| < 2^24. */
        const int64_t terms = d->nw / (ws.dims[0] ? ws.dims[0] : 1);
        int ax = 4, aw = 2;
        while (ax > 1 && (double)terms * ax * aw + 64 >= 16777216.0) ax--;
        while (aw > 1 && (double)terms * ax * aw + 64 >= 16777216.0) aw--;
        if (!(d->w = cnb_bench_alloc_f(d->nw))) goto nomem;
        fill_ints(d->x, d->nx, seed, 1, ax, 30);
        fill_ints(d->w, d->nw, seed, 2, aw, 30);
        if (layer->u.conv.bias) {
            d->nb = layer->u.conv.out_channels;
            if (!(d->b = cnb_bench_alloc_f(d->nb))) goto nomem;
            fill_ints(d->b, d->nb, seed, 3, 64, 0);
        }
        break;
    }
    case CNB_BATCHNORM2D: {
        const cnb_batchnorm2d_params *p = &layer->u.batchnorm2d;
        d->nc = p->num_features;
        fill_ints(d->x, d->nx, seed, 1, 8, 0);
        if (p->affine) {
            if (!(d->w = cnb_bench_alloc_f(d->nc)) || !(d->b = cnb_bench_alloc_f(d->nc))) goto nomem;
            fill_ints(d->w, d->nc, seed, 2, 3, 0);
            fill_ints(d->b, d->nc, seed, 3, 3, 0);
        }
        if (p->track_running_stats) {
            if (!(d->rm = cnb_bench_alloc_f(d->nc)) || !(d->rv = cnb_bench_alloc_f(d->nc))) goto nomem;
            fill_ints(d->rm, d->nc, seed, 4, 2, 0);
            fill_ints(d->rv, d->nc, seed, 5, 2, 0);
            for (int64_t c = 0; c < d->nc; c++) d->rv[c] = 3.f + d->rv[c];  // a variance: positive
            d->nbt = 3;
        }
        break;
    }
    default:
        fill_ints(d->x, d->nx, seed, 1, 64, 0);  // pooling: integers with many ties
        break;
    }
    outputs o;
    if ((st = run_once(d, d->ref_impl, threads, &o, err))) goto fail;
    d->ref_y = o.y, d->ref_idx = o.idx, d->ref_rm = o.rm, d->ref_rv = o.rv;
    return CNB_OK;
nomem:
    st = cnb_fail(err, CNB_E_NOMEM, "out of memory generating benchmark data (%lld input elements)", (long long)d->nx);
fail:
    cnb_bench_data_free(d);
    return st;
}

/* Distance in units in the last place between two floats of the same sign (INFINITY otherwise); 0 for two
 * NaNs. */
static double ulps(float a, float b) {
    if (a == b || (isnan(a) && isnan(b))) return 0;  // NaN where the reference has NaN (fuzzed inputs)
    if (isnan(a) || isnan(b) || (a < 0) != (b < 0)) return INFINITY;
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    return fabs((double)ia - (double)ib);
}

static bool is_winograd(const char *impl) {
    const char *alg = strchr(impl, '.');
    return alg && !strncmp(alg + 1, "winograd", 8);
}

/* The scale of the rounding in a new running statistic (t = 1 mean, 2 variance), (1 - f) x old + f x batch
 * statistic, when d has the inputs (cnnbench fuzz): each term is only as exact as its own magnitude, and the
 * batch mean only as exact as f x max|x| allows in float, so when the two terms cancel (a momentum outside
 * [0, 1], or by chance) max|ref| alone is too small a scale. 0 without the inputs or outside training. */
static double stat_scale(const cnb_bench_data *d, int t) {
    const cnb_batchnorm2d_params *b = &d->layer.u.batchnorm2d;
    if (!d->x || !b->training || !b->track_running_stats) return 0;
    const double f = b->momentum_given ? b->momentum : 1.0 / ((double)d->nbt + 1);
    const float *old = t == 1 ? d->rm : d->rv;
    double mo = old ? 0 : t == 1 ? 0 : 1, mx = 0;  // defaults: mean 0, var 1
    for (int64_t i = 0; old && i < d->nc; i++)
        if (isfinite(old[i]) && fabs(old[i]) > mo) mo = fabs(old[i]);
    for (int64_t i = 0; t == 1 && i < d->nx; i++)
        if (isfinite(d->x[i]) && fabs(d->x[i]) > mx) mx = fabs(d->x[i]);
    return fmax(fabs(1 - f) * mo, fabs(f) * mx);
}

/* The scale of the rounding in an eval-mode output y = x * a + s per channel (a = weight / sqrt(var + eps),
 * s = bias - mean * a; PyTorch folds it so too), when d has the inputs: each term is only as exact as its
 * own magnitude, so where they cancel (y near 0 from x * a near -s) max|ref| alone is too small a scale.
 * 0 without the inputs or in training mode. */
static double out_scale(const cnb_bench_data *d) {
    const cnb_batchnorm2d_params *b = &d->layer.u.batchnorm2d;
    if (!d->x || (b->training || !b->track_running_stats) || d->in_shape.ndim < 2 || d->nc < 1) return 0;
    const int64_t C = d->nc, inner = d->nx / (d->in_shape.dims[0] > 0 ? d->in_shape.dims[0] : 1) / C;
    if (inner < 1) return 0;
    double scale = 0;
    for (int64_t c = 0; c < C; c++) {
        const double var = d->rv ? d->rv[c] : 1, mean = d->rm ? d->rm[c] : 0;
        const double a = (d->w ? d->w[c] : 1) / sqrt(var + b->eps), s = fabs(mean * a) + fabs(d->b ? d->b[c] : 0);
        double mx = 0;
        for (int64_t i = c * inner; i < d->nx; i += C * inner)
            for (int64_t k = 0; k < inner; k++)
                if (isfinite(d->x[i + k]) && fabs(d->x[i + k]) > mx) mx = fabs(d->x[i + k]);
        const double t = fmax(fabs(a) * mx, s);
        if (isfinite(t) && t > scale) scale = t;
    }
    return scale;
}

/* Bit-exact, except that any NaN matches any NaN: PyTorch does not define NaN payloads. */
static bool same_value(float a, float b) { return !memcmp(&a, &b, sizeof a) || (isnan(a) && isnan(b)); }

static void judge(const cnb_bench_data *d, const char *impl, const outputs *o, cnb_agreement *a) {
    const int64_t n = d->ny;
    long idx = cnb_impl_find(impl);
    const double tol = idx >= 0 ? cnb_impl_max_rel_err((size_t)idx) : 0;
    a->pass = true;
    a->err = 0;
    a->detail[0] = 0;
    switch (d->layer.kind) {
    case CNB_CONV1D:
    case CNB_CONV2D:
        if (is_winograd(impl)) {
            double num = 0, den = 0;
            for (int64_t i = 0; i < n; i++) {
                const double e = (double)o->y[i] - d->ref_y[i];
                num += e * e;
                den += (double)d->ref_y[i] * d->ref_y[i];
            }
            a->err = den > 0 ? sqrt(num / den) : sqrt(num);
            snprintf(a->rule, sizeof a->rule, "rel L2 <= %.3g", tol);
            a->pass = a->err <= tol;  // NaN fails too
            if (!a->pass) snprintf(a->detail, sizeof a->detail, "relative L2 error %.3g", a->err);
            return;
        }
        __attribute__((fallthrough));  // other convolutions are bit-exact, like max pooling
    case CNB_MAXPOOL2D:
        snprintf(a->rule, sizeof a->rule, "bit-exact");
        for (int64_t i = 0; i < n; i++) {
            if (!same_value(o->y[i], d->ref_y[i])) {
                a->pass = false;
                a->err = fmax(a->err, ulps(o->y[i], d->ref_y[i]));
                if (!a->detail[0])
                    snprintf(a->detail, sizeof a->detail, "output[%lld] = %.9g, reference %.9g", (long long)i, o->y[i],
                             d->ref_y[i]);
            }
            if (o->idx && d->ref_idx && o->idx[i] != d->ref_idx[i]) {
                a->pass = false;
                if (!a->detail[0])
                    snprintf(a->detail, sizeof a->detail, "index[%lld] = %lld, reference %lld", (long long)i,
                             (long long)o->idx[i], (long long)d->ref_idx[i]);
            }
        }
        return;
    case CNB_AVGPOOL2D:
    case CNB_ADAPTIVEAVGPOOL2D:
        snprintf(a->rule, sizeof a->rule, "<= 2 ulp each");
        for (int64_t i = 0; i < n; i++) {
            const double u = ulps(o->y[i], d->ref_y[i]);
            if (u > a->err) {
                a->err = u;
                if (u > 2) snprintf(a->detail, sizeof a->detail, "output[%lld] = %.9g, reference %.9g (%.3g ulp)",
                                    (long long)i, o->y[i], d->ref_y[i], u);
            }
        }
        a->pass = a->err <= 2;
        return;
    case CNB_BATCHNORM2D: {
        // An implementation may promise less (a peer that keeps its statistics in float): its max_rel_err.
        const double bound = fmax(8.0, tol / FLT_EPSILON);
        snprintf(a->rule, sizeof a->rule, "<= %.3g ulp of max|ref|", bound);
        const float *got[3] = {o->y, o->rm, o->rv}, *want[3] = {d->ref_y, d->ref_rm, d->ref_rv};
        const int64_t cnt[3] = {n, d->nc, d->nc};
        static const char *const what[3] = {"output", "running_mean", "running_var"};
        for (int t = 0; t < 3; t++) {
            if (!got[t] || !want[t]) continue;
            double scale = 0;
            for (int64_t i = 0; i < cnt[t]; i++)  // not fmax(): gcc 12 for aarch64 ICEs vectorising it
                if (isfinite(want[t][i]) && fabs(want[t][i]) > scale) scale = fabs(want[t][i]);
            scale = fmax(scale, t > 0 ? stat_scale(d, t) : out_scale(d));
            const double unit = FLT_EPSILON * (scale > 0 ? scale : 1);
            for (int64_t i = 0; i < cnt[t]; i++) {
                // NaN and infinities (fuzzed inputs) must be where the reference has them, as they are.
                const double e = isfinite(want[t][i]) ? fabs((double)got[t][i] - want[t][i]) / unit
                                 : got[t][i] == want[t][i] || (isnan(got[t][i]) && isnan(want[t][i])) ? 0 : INFINITY;
                if (!(e <= a->err)) {  // also catches NaN
                    a->err = isnan(e) ? INFINITY : e;
                    if (!(e <= bound))
                        snprintf(a->detail, sizeof a->detail, "%s[%lld] = %.9g, reference %.9g", what[t], (long long)i,
                                 got[t][i], want[t][i]);
                }
            }
        }
        a->pass = a->err <= bound;
        return;
    }
    default:
        a->pass = false;
        snprintf(a->detail, sizeof a->detail, "unknown layer kind");
    }
}

void cnb_bench_judge(const cnb_bench_data *d, const char *impl, const float *y, const int64_t *idx, const float *rm,
                     const float *rv, cnb_agreement *a) {
    memset(a, 0, sizeof *a);
    const outputs o = {.y = (float *)y, .idx = (int64_t *)idx, .rm = (float *)rm, .rv = (float *)rv};
    judge(d, impl, &o, a);
}

cnb_status cnb_bench_check(const cnb_bench_data *d, const char *impl, int threads, cnb_agreement *a, cnb_error *err) {
    memset(a, 0, sizeof *a);
    outputs o;
    cnb_status st = run_once(d, impl, threads, &o, err);
    if (st) return st;
    judge(d, impl, &o, a);
    free(o.y), free(o.idx), free(o.rm), free(o.rv);
    return CNB_OK;
}

static cnb_status save(const char *dir, const char *name, const float *p, int64_t n, const cnb_shape *shape, char *path,
                       size_t size, cnb_error *err) {
    cnb_shape flat = {.ndim = 1, .dims = {n}};
    snprintf(path, size, "%s/%s.npy", dir, name);
    return cnb_npy_write_f32(path, shape ? shape : &flat, p, err);
}

cnb_status cnb_bench_reproducer(const cnb_bench_data *d, const char *impl, const char *dir, char *cmd, size_t size,
                                cnb_error *err) {
    mkdir(dir, 0777);
    char spec[600], px[1200], pw[1200], pb[1200], pm[1200], pv[1200];
    cnb_spec_format(&d->layer, spec, sizeof spec);
    cnb_status st = save(dir, "input", d->x, d->nx, &d->in_shape, px, sizeof px, err);
    cnb_shape ws;
    pw[0] = pb[0] = pm[0] = pv[0] = 0;
    if (!st && d->w) {
        if (cnb_param_shape(&d->layer, CNB_PARAM_WEIGHT, &ws, NULL) == CNB_OK) st = save(dir, "weight", d->w, 0, &ws, pw, sizeof pw, err);
    }
    if (!st && d->b) st = save(dir, "bias", d->b, d->nb ? d->nb : d->nc, NULL, pb, sizeof pb, err);
    if (!st && d->rm) st = save(dir, "running_mean", d->rm, d->nc, NULL, pm, sizeof pm, err);
    if (!st && d->rv) st = save(dir, "running_var", d->rv, d->nc, NULL, pv, sizeof pv, err);
    if (st) return st;
    const bool train = d->layer.kind == CNB_BATCHNORM2D && d->layer.u.batchnorm2d.training;
    size_t n = (size_t)snprintf(cmd, size, "cnnbench run \"%s\" --input %s", spec, px);
    if (pw[0] && n < size) n += (size_t)snprintf(cmd + n, size - n, " --weight %s", pw);
    if (pb[0] && n < size) n += (size_t)snprintf(cmd + n, size - n, " --bias %s", pb);
    if (pm[0] && n < size) n += (size_t)snprintf(cmd + n, size - n, " --running-mean %s --running-var %s --num-batches-tracked %lld",
                                                 pm, pv, (long long)d->nbt);
    if (train && n < size) n += (size_t)snprintf(cmd + n, size - n, " --train");
    if (d->ref_idx && n < size) n += (size_t)snprintf(cmd + n, size - n, " --indices %s/indices.npy", dir);
    if (n < size) snprintf(cmd + n, size - n, " --output %s/output.npy --impl %s", dir, impl);
    return CNB_OK;
}
