/* `cnnbench fuzz`: every registered implementation against its layer's reference on random valid layers and
 * small shapes, judged by the benchmark's agreement rule (harness/agree.h) on data chosen for it; a mismatch
 * is shrunk greedily and written out as .npy files with a one-line `cnnbench run ... --expect` reproducer that
 * fails by itself. Case k of seed S depends on (S, k) alone, so a run is deterministic for a seed.
 * docs/fuzzing.md has the details. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#endif

#include "cnnbench.h"
#include "core/spec.h"
#include "core/status.h"
#include "harness/agree.h"
#include "harness/cliopt.h"
#include "harness/cmd.h"
#include "harness/npy.h"

#define DEFAULT_COUNT 200
#define MAX_SHRINK_TRIES 400     // candidate evaluations per shrink
#define MAX_REPORTED 3           // mismatches printed per implementation (the first one shrunk)
#define CANARY 16                // guard elements after each output buffer

/* ---- random numbers ------------------------------------------------------------------------------ */

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next(rng *r) { return mix(r->s += 0x9e3779b97f4a7c15ull); }
static int64_t uni(rng *r, int64_t lo, int64_t hi) { return lo + (int64_t)(next(r) % (uint64_t)(hi - lo + 1)); }
static bool chance(rng *r, int pct) { return (int)(next(r) % 100) < pct; }

/* The bits of tensor t's element at key (its coordinates, hashed): a function of the seed and the place only. */
static uint64_t draw(uint64_t seed, uint64_t t, uint64_t key) {
    return mix(seed ^ mix(t * 0x100000001b3ull + 1) ^ mix(key + 0x632be59bd9b4e019ull));
}

/* ---- cases --------------------------------------------------------------------------------------- */

typedef enum data_kind { DATA_FLOAT, DATA_INT, DATA_OFFSET } data_kind;
enum { P_WEIGHT, P_BIAS, P_MEAN, P_VAR };

/* Everything a case is: regenerating its tensors from it gives the same bits. */
typedef struct fz_case {
    cnb_layer layer;
    cnb_shape shape;
    int64_t nbt;
    uint64_t data_seed;
    int64_t origin[4];        /* where the input sits in its seeded tensor (n, c, h, w): moved by shrinking */
    data_kind data;
    int special_pct;          /* % of input elements replaced by NaN, inf or -inf */
    bool given[4];            /* parameters passed; the others take their defaults */
    int threads;
} fz_case;

typedef struct fz_data {
    int64_t nx, ny, nc;       /* input, output and BN-channel element counts */
    cnb_shape out_shape, pshape[4];
    float *x, *p[4];          /* p[i] NULL: not given */
    float *xbuf;              /* x's allocation: x sits 0-7 floats past a 64-byte boundary (x_offset) */
    int64_t x_offset;
} fz_data;

typedef struct fz_out {
    float *y, *rm, *rv;
    int64_t *idx;
} fz_out;

static bool is_batched(const fz_case *c) {
    const int full = c->layer.kind == CNB_CONV1D ? 3 : 4;
    return c->shape.ndim == full;
}

/* Channel count (dimension 1 of a batched input, 0 of an unbatched one) and the spatial dimensions. */
static int64_t *dim_c(fz_case *c) { return &c->shape.dims[is_batched(c) ? 1 : 0]; }
static int64_t *dim_n(fz_case *c) { return is_batched(c) ? &c->shape.dims[0] : NULL; }
static int64_t *dim_w(fz_case *c) { return &c->shape.dims[c->shape.ndim - 1]; }
static int64_t *dim_h(fz_case *c) { return c->layer.kind == CNB_CONV1D ? NULL : &c->shape.dims[c->shape.ndim - 2]; }

static void set_shape(fz_case *c, bool batched, int64_t n, int64_t ch, int64_t h, int64_t w) {
    cnb_shape *s = &c->shape;
    memset(s, 0, sizeof *s);
    if (batched) s->dims[s->ndim++] = n;
    s->dims[s->ndim++] = ch;
    if (c->layer.kind != CNB_CONV1D) s->dims[s->ndim++] = h;
    s->dims[s->ndim++] = w;
}

/* Sizes around vector-tile edges now and then; mostly small. */
static int64_t spatial(rng *r) {
    static const int64_t edge[] = {7, 8, 9, 15, 16, 17};
    return chance(r, 12) ? edge[uni(r, 0, 5)] : uni(r, 1, 10);
}
static int64_t channels(rng *r) {
    static const int64_t edge[] = {7, 8, 9, 16, 17};
    return chance(r, 10) ? edge[uni(r, 0, 4)] : uni(r, 1, 6);
}

static void gen_conv(rng *r, fz_case *c) {
    cnb_conv_params *p = &c->layer.u.conv;
    const int nsp = c->layer.kind == CNB_CONV1D ? 1 : 2;
    const int64_t g = chance(r, 55) ? 1 : chance(r, 40) ? 0 : uni(r, 2, 3);  // 0: depthwise
    if (g == 0) {
        p->in_channels = channels(r);
        p->groups = p->in_channels;
        p->out_channels = p->in_channels * uni(r, 1, 2);
    } else {
        p->groups = g;
        p->in_channels = g == 1 ? channels(r) : g * uni(r, 1, 3);
        p->out_channels = g == 1 ? channels(r) : g * uni(r, 1, 3);
    }
    static const cnb_padding_mode modes[] = {CNB_PADMODE_REFLECT, CNB_PADMODE_REPLICATE, CNB_PADMODE_CIRCULAR};
    p->padding_mode = chance(r, 55) ? CNB_PADMODE_ZEROS : modes[uni(r, 0, 2)];
    const int pk = (int)uni(r, 0, 99);
    p->padding_kind = pk < 70 ? CNB_PADDING_EXPLICIT : pk < 85 ? CNB_PADDING_SAME : CNB_PADDING_VALID;
    for (int i = 0; i < nsp; i++) {
        p->kernel_size[i] = chance(r, 15) ? 1 : uni(r, 1, 5);
        p->stride[i] = p->padding_kind == CNB_PADDING_SAME || chance(r, 60) ? 1 : uni(r, 2, 3);
        p->dilation[i] = chance(r, 70) ? 1 : uni(r, 2, 3);
        p->padding[i] = uni(r, 0, 3);
        // F.pad crops for a negative amount, which PyTorch allows with the non-zeros modes.
        if (p->padding_mode != CNB_PADMODE_ZEROS && chance(r, 5)) p->padding[i] = -1;
    }
    // A third of the 2-D layers take the shape the Winograd kernels run: 3x3, stride 1, dilation 1.
    if (nsp == 2 && chance(r, 30))
        for (int i = 0; i < 2; i++) p->kernel_size[i] = 3, p->stride[i] = 1, p->dilation[i] = 1;
    p->bias = chance(r, 70);
    const bool batched = p->padding_mode == CNB_PADMODE_CIRCULAR || chance(r, 85);
    const int64_t n = chance(r, 3) ? 0 : uni(r, 1, 3);
    set_shape(c, batched, n, p->in_channels, nsp == 2 ? spatial(r) : 1, spatial(r));
    c->given[P_WEIGHT] = true;
    c->given[P_BIAS] = p->bias && chance(r, 85);
}

static void gen_pool_common(rng *r, int64_t k[2], bool *stride_given, int64_t s[2], int64_t pad[2], bool *ceil) {
    for (int i = 0; i < 2; i++) {
        k[i] = uni(r, 1, 4);
        s[i] = uni(r, 1, 3);
        pad[i] = uni(r, 0, k[i] / 2);
    }
    *stride_given = chance(r, 70);
    *ceil = chance(r, 35);
}

static void gen_layer(rng *r, cnb_layer_kind kind, fz_case *c) {
    memset(c, 0, sizeof *c);
    cnb_layer_defaults(&c->layer, kind);
    switch (kind) {
    case CNB_CONV1D:
    case CNB_CONV2D:
        gen_conv(r, c);
        break;
    case CNB_MAXPOOL2D: {
        cnb_maxpool2d_params *m = &c->layer.u.maxpool2d;
        gen_pool_common(r, m->kernel_size, &m->stride_given, m->stride, m->padding, &m->ceil_mode);
        for (int i = 0; i < 2; i++) m->dilation[i] = chance(r, 70) ? 1 : uni(r, 2, 3);
        m->return_indices = chance(r, 50);
        set_shape(c, chance(r, 85), chance(r, 3) ? 0 : uni(r, 1, 3), channels(r), spatial(r), spatial(r));
        break;
    }
    case CNB_AVGPOOL2D: {
        cnb_avgpool2d_params *a = &c->layer.u.avgpool2d;
        gen_pool_common(r, a->kernel_size, &a->stride_given, a->stride, a->padding, &a->ceil_mode);
        a->count_include_pad = chance(r, 50);
        a->divisor_override_given = chance(r, 20);
        a->divisor_override = chance(r, 15) ? -3 : uni(r, 1, 9);
        set_shape(c, chance(r, 85), chance(r, 3) ? 0 : uni(r, 1, 3), channels(r), spatial(r), spatial(r));
        break;
    }
    case CNB_ADAPTIVEAVGPOOL2D: {
        const int64_t h = spatial(r), w = spatial(r);
        set_shape(c, chance(r, 85), uni(r, 1, 3), chance(r, 3) ? 0 : channels(r), h, w);
        int64_t *o = c->layer.u.adaptiveavgpool2d.output_size;
        // None, empty, and sizes that do not divide the input or exceed it.
        for (int i = 0; i < 2; i++) o[i] = chance(r, 15) ? -1 : chance(r, 3) ? 0 : uni(r, 1, (i ? w : h) + 3);
        break;
    }
    case CNB_BATCHNORM2D: {
        cnb_batchnorm2d_params *b = &c->layer.u.batchnorm2d;
        static const double eps[] = {1e-5, 1e-3, 0.1, 1.0, -1e-3};
        static const double mom[] = {0.1, 0.0, 1.0, 0.5, 2.0, -0.5};
        b->num_features = channels(r);
        b->eps = eps[chance(r, 60) ? 0 : uni(r, 1, 4)];
        b->momentum_given = !chance(r, 25);
        b->momentum = mom[chance(r, 60) ? 0 : uni(r, 1, 5)];
        b->affine = chance(r, 70);
        b->track_running_stats = chance(r, 70);
        b->training = chance(r, 50);
        int64_t ch = b->num_features;
        // PyTorch checks C against num_features only through the parameters.
        if (!b->affine && !b->track_running_stats && chance(r, 20)) ch = uni(r, 1, 5);
        set_shape(c, true, chance(r, 3) ? 0 : uni(r, 1, 3), ch, chance(r, 3) ? 0 : spatial(r), spatial(r));
        c->nbt = uni(r, 0, 5);
        for (int i = 0; i < 4; i++) c->given[i] = chance(r, 70);
        if (!b->affine) c->given[P_WEIGHT] = c->given[P_BIAS] = false;
        if (!b->track_running_stats) c->given[P_MEAN] = c->given[P_VAR] = false;
        break;
    }
    default:
        break;
    }
    c->data_seed = next(r);
    const int d = (int)uni(r, 0, 99);
    // The agreement rules (harness/agree.h) want integers where they are bit-exact or per-element tight:
    // convolutions (every partial sum an exact float) and average pooling (one rounding of an exact sum).
    // Max pooling and BatchNorm2d also get floats; BatchNorm2d also large inputs with a small spread.
    const bool ints_only = kind == CNB_CONV1D || kind == CNB_CONV2D || kind == CNB_AVGPOOL2D ||
                           kind == CNB_ADAPTIVEAVGPOOL2D;
    c->data = ints_only ? DATA_INT : kind == CNB_BATCHNORM2D && d >= 85 ? DATA_OFFSET : d < 50 ? DATA_FLOAT : DATA_INT;
    // NaN and infinities for pooling and BatchNorm2d: often for max pooling, whose NaN rule is subtle.
    // Not for convolutions, whose bit-exact rule they would void (inf - inf, NaN payloads).
    c->special_pct = kind == CNB_CONV1D || kind == CNB_CONV2D ? 0
                     : chance(r, kind == CNB_MAXPOOL2D ? 30 : 15) ? (int)uni(r, 3, 25) : 0;
    c->threads = chance(r, 70) ? 1 : 2;
}

static bool is_valid(const fz_case *c) { return cnb_output_shape(&c->layer, &c->shape, NULL, NULL) == CNB_OK; }

/* ---- tensors ------------------------------------------------------------------------------------- */

static void data_free(fz_data *d) {
#ifdef __SANITIZE_ADDRESS__
    if (d->xbuf) ASAN_UNPOISON_MEMORY_REGION(d->xbuf, (size_t)d->x_offset * sizeof(float));
#endif
    free(d->xbuf);
    for (int i = 0; i < 4; i++) free(d->p[i]);
    memset(d, 0, sizeof *d);
}

static float value(const fz_case *c, uint64_t t, uint64_t key, bool input) {
    const uint64_t h = draw(c->data_seed, t, key);
    if (input && c->special_pct && (int)(h % 100) < c->special_pct) {
        const int k = (int)((h >> 8) % 3);
        return k == 0 ? NAN : k == 1 ? INFINITY : -INFINITY;
    }
    const double u = (double)(h >> 11) * 0x1p-53;  // [0, 1)
    switch (c->data) {
    case DATA_INT:
        // Small integers: exact sums whatever the order, and many ties for max pooling.
        return (float)((int64_t)(h >> 40) % 7 - 3);
    case DATA_OFFSET:
        // BatchNorm2d inputs far from zero with a small spread: a naive variance loses them.
        return input ? (float)(1e4 + (u - 0.5) * 0.5) : (float)(2 * u - 1);
    default:
        return (float)(2 * u - 1);
    }
}

/* A tensor of dims[4], its element at coordinates q drawn from position origin + q of tensor t, so that a
 * case cut down to part of its tensor keeps the values of that part (shrinking relies on it). Mapped into
 * [lo, hi) when lo < hi. */
static float *tensor(const fz_case *c, uint64_t t, const int64_t dims[4], const int64_t origin[4], bool input, double lo,
                     double hi) {
    const int64_t n = dims[0] * dims[1] * dims[2] * dims[3];
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    if (!p) return NULL;
    for (int64_t i = 0; i < n; i++) {
        int64_t q[4], rest = i;
        for (int j = 3; j >= 0; j--) q[j] = rest % dims[j], rest /= dims[j];
        uint64_t key = 0;
        for (int j = 0; j < 4; j++) key = mix(key ^ (uint64_t)(q[j] + origin[j]));
        float v = value(c, t, key, input);
        if (lo < hi) v = (float)(lo + (hi - lo) * (0.5 + 0.5 * fabs((double)v) / (fabs((double)v) + 1)));
        p[i] = v;
    }
    return p;
}

static cnb_status data_make(const fz_case *c, fz_data *d, cnb_error *err) {
    memset(d, 0, sizeof *d);
    cnb_status st = cnb_output_shape(&c->layer, &c->shape, &d->out_shape, err);
    if (st) return st;
    if ((st = cnb_shape_numel(&c->shape, &d->nx, err)) || (st = cnb_shape_numel(&d->out_shape, &d->ny, err))) return st;
    if (c->layer.kind == CNB_BATCHNORM2D) d->nc = c->layer.u.batchnorm2d.num_features;
    fz_case tmp = *c;
    const int64_t *pn = dim_n(&tmp), *ph = dim_h(&tmp);
    const int64_t nchw[4] = {pn ? *pn : 1, *dim_c(&tmp), ph ? *ph : 1, *dim_w(&tmp)}, zero[4] = {0, 0, 0, 0};
    float *x = tensor(c, 1, nchw, c->origin, true, 0, 0);
    if (!x) goto nomem;
    // Kernels take aligned fast paths (whole aligned vectors over several planes): the input starts anywhere
    // from a 64-byte boundary to 7 floats past one, so both those paths and the unaligned ones are checked.
    d->x_offset = (int64_t)(mix(c->data_seed ^ 0xa11) % 8);
    d->xbuf = cnb_bench_alloc_f(d->nx + d->x_offset);
    if (!d->xbuf) {
        free(x);
        goto nomem;
    }
    d->x = d->xbuf + d->x_offset;
    memcpy(d->x, x, (size_t)d->nx * sizeof(float));
    free(x);
#ifdef __SANITIZE_ADDRESS__
    ASAN_POISON_MEMORY_REGION(d->xbuf, (size_t)d->x_offset * sizeof(float));   // reads before x still caught
#endif
    for (int i = 0; i < 4; i++) {
        if (!c->given[i] || cnb_param_shape(&c->layer, (cnb_param)i, &d->pshape[i], NULL)) continue;
        // Right-aligned into four dimensions; BatchNorm2d's per-channel parameters move with the input's channels.
        int64_t dims[4] = {1, 1, 1, 1}, org[4] = {0, 0, 0, 0};
        const cnb_shape *ps = &d->pshape[i];
        for (int k = 0; k < ps->ndim; k++) dims[4 - ps->ndim + k] = ps->dims[k];
        if (c->layer.kind == CNB_BATCHNORM2D) dims[1] = dims[3], dims[3] = 1, org[1] = c->origin[1];
        // A running variance is positive; the other parameters are data like the input.
        if (!(d->p[i] = tensor(c, 2 + (uint64_t)i, dims, c->layer.kind == CNB_BATCHNORM2D ? org : zero, false,
                               i == P_VAR ? 0.1 : 0, i == P_VAR ? 3.0 : 0)))
            goto nomem;
    }
    return CNB_OK;
nomem:
    data_free(d);
    return cnb_fail(err, CNB_E_NOMEM, "out of memory generating data");
}

/* ---- running one implementation ------------------------------------------------------------------ */

static void out_free(fz_out *o) {
    free(o->y), free(o->rm), free(o->rv), free(o->idx);
    memset(o, 0, sizeof *o);
}

static const uint32_t k_poison = 0x7fa5a5a5u;  // a NaN no kernel computes: an element left unwritten keeps it

static float *poisoned(int64_t n) {
    float *p = malloc((size_t)(n + CANARY) * sizeof *p);
    if (p)
        for (int64_t i = 0; i < n + CANARY; i++) memcpy(&p[i], &k_poison, sizeof k_poison);
    return p;
}

static bool canary_ok(const float *p, int64_t n) {
    for (int64_t i = n; p && i < n + CANARY; i++)
        if (memcmp(&p[i], &k_poison, sizeof k_poison)) return false;
    return true;
}

/* Run impl on the case: CNB_OK with o filled, or an error; *past set when it wrote past an output. */
static cnb_status run_impl(const fz_case *c, const fz_data *d, const char *impl, int threads, fz_out *o, bool *past,
                           cnb_error *err) {
    memset(o, 0, sizeof *o);
    *past = false;
    const cnb_params prm = {.weight = d->p[P_WEIGHT], .bias = d->p[P_BIAS], .running_mean = d->p[P_MEAN],
                            .running_var = d->p[P_VAR], .num_batches_tracked = c->nbt, .threads = threads};
    cnb_plan *plan = NULL;
    cnb_status st = cnb_plan_create(&c->layer, &c->shape, impl, &prm, &plan, err);
    if (st) return st;
    const bool idx = c->layer.kind == CNB_MAXPOOL2D && c->layer.u.maxpool2d.return_indices;
    const bool stats = c->layer.kind == CNB_BATCHNORM2D && c->layer.u.batchnorm2d.track_running_stats;
    bool ok = (o->y = poisoned(d->ny)) != NULL;
    if (ok && idx) {
        ok = (o->idx = malloc((size_t)(d->ny + CANARY) * sizeof *o->idx)) != NULL;
        for (int64_t i = 0; ok && i < d->ny + CANARY; i++) o->idx[i] = INT64_MIN;
    }
    if (ok && stats) ok = (o->rm = poisoned(d->nc)) && (o->rv = poisoned(d->nc));
    if (!ok) {
        cnb_plan_destroy(plan);
        out_free(o);
        return cnb_fail(err, CNB_E_NOMEM, "out of memory for the outputs of %s", impl);
    }
    const cnb_run_args a = {.x = d->x, .y = o->y, .indices = o->idx, .new_running_mean = o->rm,
                            .new_running_var = o->rv, .threads = threads};
    st = cnb_plan_run(plan, &a, err);
    cnb_plan_destroy(plan);
    if (st) {
        out_free(o);
        return st;
    }
    *past = !canary_ok(o->y, d->ny) || !canary_ok(o->rm, d->nc) || !canary_ok(o->rv, d->nc);
    for (int64_t i = d->ny; o->idx && i < d->ny + CANARY; i++) *past = *past || o->idx[i] != INT64_MIN;
    return CNB_OK;
}

/* ---- judging: the benchmark's agreement rule (harness/agree.h) ------------------------------------ */

static bool is_peer(const char *impl) {
    const size_t n = strlen(impl);
    return n > 4 && !strcmp(impl + n - 4, ".ext");
}

/* A difference that is no failure: a peer library (<layer>.*.ext) outside what it promises (non-finite
 * inputs; BatchNorm2d inputs whose magnitude dwarfs their spread), as in tests/test_impls.c. */
static bool exempt(const char *impl, const fz_case *c, const fz_data *d) {
    if (!is_peer(impl)) return false;
    float lo = INFINITY, hi = -INFINITY, mag = 0;
    for (int64_t i = 0; i < d->nx; i++) {
        const float v = d->x[i];
        if (!isfinite(v)) return true;
        lo = fminf(lo, v), hi = fmaxf(hi, v), mag = fmaxf(mag, fabsf(v));
    }
    return c->layer.kind == CNB_BATCHNORM2D && mag > 1000.f * (hi - lo);
}

/* ---- one check: reference and implementation on a case ------------------------------------------- */

typedef enum verdict { V_PASS, V_FAIL, V_KNOWN, V_SKIP } verdict;

static const char *ref_of(cnb_layer_kind k) {
    static const char *const names[CNB_KIND_COUNT] = {
        [CNB_CONV1D] = "conv1d.naive.scalar", [CNB_CONV2D] = "conv2d.naive.scalar",
        [CNB_MAXPOOL2D] = "maxpool2d.naive.scalar", [CNB_AVGPOOL2D] = "avgpool2d.naive.scalar",
        [CNB_ADAPTIVEAVGPOOL2D] = "adaptiveavgpool2d.naive.scalar", [CNB_BATCHNORM2D] = "batchnorm2d.naive.scalar",
    };
    return (unsigned)k < CNB_KIND_COUNT ? names[k] : NULL;
}

/* Reference outputs of a case, computed once per case and kept while its implementations are checked. */
typedef struct fz_ref {
    fz_data d;
    fz_out o;
    bool ok;
    char why[300];
} fz_ref;

static void ref_free(fz_ref *r) {
    data_free(&r->d);
    out_free(&r->o);
    r->ok = false;
}

static void ref_make(const fz_case *c, fz_ref *r) {
    memset(r, 0, sizeof *r);
    cnb_error e = {0};
    bool past;
    if (data_make(c, &r->d, &e) || run_impl(c, &r->d, ref_of(c->layer.kind), 1, &r->o, &past, &e)) {
        snprintf(r->why, sizeof r->why, "the reference %s failed: %s", ref_of(c->layer.kind), e.msg);
        data_free(&r->d);
        return;
    }
    r->ok = true;
}

static verdict check_impl(const fz_case *c, const fz_ref *r, size_t i, char *why, size_t size) {
    const char *name = cnb_impl_name(i);
    cnb_error e = {0};
    if (cnb_impl_check(i, &c->layer, &c->shape, &e)) return V_SKIP;
    fz_out o;
    bool past;
    cnb_status st = run_impl(c, &r->d, name, c->threads, &o, &past, &e);
    verdict v = V_PASS;
    if (st) {
        snprintf(why, size, "it accepted the layer but failed: %s", e.msg);
        v = V_FAIL;
    } else if (past) {
        snprintf(why, size, "it wrote past the end of an output buffer");
        v = V_FAIL;
    } else {
        // With the inputs, so that running statistics and eval outputs are judged at the scale of their terms.
        const cnb_bench_data bd = {.layer = c->layer, .in_shape = c->shape, .nx = r->d.nx, .ny = r->d.ny,
                                   .nc = r->d.nc, .x = r->d.x, .w = r->d.p[P_WEIGHT], .b = r->d.p[P_BIAS],
                                   .rm = r->d.p[P_MEAN], .rv = r->d.p[P_VAR], .nbt = c->nbt, .ref_y = r->o.y,
                                   .ref_idx = r->o.idx, .ref_rm = r->o.rm, .ref_rv = r->o.rv};
        cnb_agreement a;
        cnb_bench_judge(&bd, name, o.y, o.idx, o.rm, o.rv, &a);
        if (!a.pass) {
            snprintf(why, size, "%s (rule: %s)", a.detail[0] ? a.detail : "mismatch", a.rule);
            v = exempt(name, c, &r->d) ? V_KNOWN : V_FAIL;
        }
    }
    out_free(&o);
    return v;
}

/* ---- shrinking ------------------------------------------------------------------------------------ */

/* Whether impl still fails on c (a valid case it supports). */
static bool still_fails(const fz_case *c, size_t impl, char *why, size_t size) {
    if (!is_valid(c)) return false;
    fz_ref r;
    ref_make(c, &r);
    if (!r.ok) return false;  // a smaller case the reference refuses is not the same failure
    const verdict v = check_impl(c, &r, impl, why, size);
    ref_free(&r);
    return v == V_FAIL;
}

/* Simpler variants of c, in the order they are tried: fewer elements first, then fewer options. */
static int candidates(const fz_case *c, fz_case *out, int max) {
    int n = 0;
#define TRY(stmt)                         \
    do {                                  \
        if (n < max) {                    \
            fz_case t = *c;               \
            fz_case *v = &t;              \
            stmt;                         \
            (void)v;                      \
            if (memcmp(&t, c, sizeof t)) out[n++] = t; \
        }                                 \
    } while (0)
    const cnb_layer_kind k = c->layer.kind;
    fz_case base = *c;
    const int64_t *nn = dim_n(&base), *hh = dim_h(&base), ww = *dim_w(&base), cc = *dim_c(&base);
    // Batch and spatial sizes, cut from the end or the front (the data stays where it was: see tensor()):
    // the first or last element, the first or second half, all but the last or the first.
#define CUT(dim, axis, size)                                                          \
    do {                                                                              \
        TRY(*dim(v) = 1);                                                             \
        TRY(*dim(v) = 1; v->origin[axis] += (size) - 1);                              \
        TRY(*dim(v) = (size) / 2);                                                    \
        TRY(*dim(v) = (size) - (size) / 2; v->origin[axis] += (size) / 2);            \
        TRY(*dim(v) -= 1);                                                            \
        TRY(*dim(v) -= 1; v->origin[axis] += 1);                                      \
    } while (0)
    if (nn && *nn > 1) CUT(dim_n, 0, *nn);
    if (nn && k != CNB_BATCHNORM2D) TRY(set_shape(v, false, 0, cc, hh ? *hh : 1, ww));
    if (hh && *hh > 1) CUT(dim_h, 2, *hh);
    if (ww > 1) CUT(dim_w, 3, ww);
    switch (k) {
    case CNB_CONV1D:
    case CNB_CONV2D: {
        const cnb_conv_params *p = &c->layer.u.conv;
        const int nsp = k == CNB_CONV1D ? 1 : 2;
        const int64_t g = p->groups, cg = p->in_channels / g, kg = p->out_channels / g;
        if (g > 1) {  // one group, then fewer groups
            TRY(v->layer.u.conv.groups = 1; v->layer.u.conv.in_channels = cg; v->layer.u.conv.out_channels = kg;
                *dim_c(v) = cg);
            TRY(v->layer.u.conv.groups = 1);
        }
        if (cg > 1) {
            TRY(v->layer.u.conv.in_channels = g; *dim_c(v) = g);
            TRY(v->layer.u.conv.in_channels -= g; *dim_c(v) -= g);
        }
        if (kg > 1) {
            TRY(v->layer.u.conv.out_channels = g);
            TRY(v->layer.u.conv.out_channels -= g);
        }
        for (int i = 0; i < nsp; i++) {
            if (p->kernel_size[i] > 1) {
                TRY(v->layer.u.conv.kernel_size[i] = 1);
                TRY(v->layer.u.conv.kernel_size[i] -= 1);
            }
            if (p->stride[i] > 1) TRY(v->layer.u.conv.stride[i] = 1);
            if (p->dilation[i] > 1) TRY(v->layer.u.conv.dilation[i] = 1);
            if (p->padding_kind == CNB_PADDING_EXPLICIT && p->padding[i]) {
                TRY(v->layer.u.conv.padding[i] = 0);
                if (p->padding[i] > 1) TRY(v->layer.u.conv.padding[i] -= 1);
            }
        }
        if (p->padding_kind != CNB_PADDING_EXPLICIT) {
            TRY(v->layer.u.conv.padding_kind = CNB_PADDING_EXPLICIT; v->layer.u.conv.padding[0] = 0;
                v->layer.u.conv.padding[1] = 0);
        }
        if (p->padding_mode != CNB_PADMODE_ZEROS) TRY(v->layer.u.conv.padding_mode = CNB_PADMODE_ZEROS);
        if (p->bias) TRY(v->layer.u.conv.bias = false; v->given[P_BIAS] = false);
        if (c->given[P_BIAS]) TRY(v->given[P_BIAS] = false);
        break;
    }
    case CNB_MAXPOOL2D:
    case CNB_AVGPOOL2D: {
        const bool mp = k == CNB_MAXPOOL2D;
        cnb_layer L = c->layer;
        int64_t *kk = mp ? L.u.maxpool2d.kernel_size : L.u.avgpool2d.kernel_size;
        int64_t *ss = mp ? L.u.maxpool2d.stride : L.u.avgpool2d.stride;
        int64_t *pp = mp ? L.u.maxpool2d.padding : L.u.avgpool2d.padding;
        const bool sg = mp ? L.u.maxpool2d.stride_given : L.u.avgpool2d.stride_given;
        (void)ss;
        if (cc > 1) CUT(dim_c, 1, cc);
        for (int i = 0; i < 2; i++) {
#define POOL(field) (mp ? v->layer.u.maxpool2d.field : v->layer.u.avgpool2d.field)
            if (kk[i] > 1) {
                TRY(POOL(kernel_size)[i] = 1; POOL(padding)[i] = 0);
                TRY(POOL(kernel_size)[i] -= 1; if (POOL(padding)[i] > POOL(kernel_size)[i] / 2) POOL(padding)[i] = POOL(kernel_size)[i] / 2);
            }
            if (pp[i]) TRY(POOL(padding)[i] = 0);
            if (sg && ss[i] > 1) TRY(POOL(stride)[i] = 1);
            if (mp && L.u.maxpool2d.dilation[i] > 1) TRY(v->layer.u.maxpool2d.dilation[i] = 1);
#undef POOL
        }
        if (sg) TRY(if (mp) v->layer.u.maxpool2d.stride_given = false; else v->layer.u.avgpool2d.stride_given = false);
        if (mp && L.u.maxpool2d.ceil_mode) TRY(v->layer.u.maxpool2d.ceil_mode = false);
        if (mp && L.u.maxpool2d.return_indices) TRY(v->layer.u.maxpool2d.return_indices = false);
        if (!mp && L.u.avgpool2d.ceil_mode) TRY(v->layer.u.avgpool2d.ceil_mode = false);
        if (!mp && !L.u.avgpool2d.count_include_pad) TRY(v->layer.u.avgpool2d.count_include_pad = true);
        if (!mp && L.u.avgpool2d.divisor_override_given) TRY(v->layer.u.avgpool2d.divisor_override_given = false);
        break;
    }
    case CNB_ADAPTIVEAVGPOOL2D: {
        const int64_t *o = c->layer.u.adaptiveavgpool2d.output_size;
        if (cc > 1) CUT(dim_c, 1, cc);
        for (int i = 0; i < 2; i++) {
            if (o[i] != 1) TRY(v->layer.u.adaptiveavgpool2d.output_size[i] = 1);
            if (o[i] > 1) TRY(v->layer.u.adaptiveavgpool2d.output_size[i] -= 1);
        }
        break;
    }
    case CNB_BATCHNORM2D: {
        const cnb_batchnorm2d_params *b = &c->layer.u.batchnorm2d;
        if (b->num_features > 1 && b->num_features == cc) {
            TRY(v->layer.u.batchnorm2d.num_features = 1; *dim_c(v) = 1);
            TRY(v->layer.u.batchnorm2d.num_features = 1; *dim_c(v) = 1; v->origin[1] += cc - 1);
            TRY(v->layer.u.batchnorm2d.num_features -= 1; *dim_c(v) -= 1);
            TRY(v->layer.u.batchnorm2d.num_features -= 1; *dim_c(v) -= 1; v->origin[1] += 1);
        }
        if (b->training) TRY(v->layer.u.batchnorm2d.training = false);
        if (b->affine) TRY(v->layer.u.batchnorm2d.affine = false; v->given[P_WEIGHT] = v->given[P_BIAS] = false);
        if (b->track_running_stats)
            TRY(v->layer.u.batchnorm2d.track_running_stats = false; v->given[P_MEAN] = v->given[P_VAR] = false);
        if (!b->momentum_given || b->momentum != 0.1) TRY(v->layer.u.batchnorm2d.momentum_given = true; v->layer.u.batchnorm2d.momentum = 0.1);
        if (b->eps != 1e-5) TRY(v->layer.u.batchnorm2d.eps = 1e-5);
        if (c->nbt) TRY(v->nbt = 0);
        for (int i = 0; i < 4; i++)
            if (c->given[i]) TRY(v->given[i] = false);
        break;
    }
    default:
        break;
    }
    // The data: no NaN or infinities, integers, one thread.
    if (c->special_pct) TRY(v->special_pct = 0);
    if (c->data != DATA_INT) TRY(v->data = DATA_INT);
    if (c->threads > 1) TRY(v->threads = 1);
#undef CUT
#undef TRY
    return n;
}

/* Greedy: take the first simpler variant that still fails, start again from it; stop when none does. */
static int shrink(fz_case *c, size_t impl, char *why, size_t size, int *tries) {
    int steps = 0;
    *tries = 0;
    fz_case cand[96];
    for (bool progress = true; progress && *tries < MAX_SHRINK_TRIES;) {
        progress = false;
        const int n = candidates(c, cand, 96);
        for (int j = 0; j < n && *tries < MAX_SHRINK_TRIES; j++) {
            ++*tries;
            char w[300];
            if (still_fails(&cand[j], impl, w, sizeof w)) {
                *c = cand[j];
                snprintf(why, size, "%s", w);
                steps++;
                progress = true;
                break;
            }
        }
    }
    return steps;
}

/* ---- the reproducer ------------------------------------------------------------------------------- */

static cnb_status save_f32(const char *dir, const char *name, const float *p, int64_t n, char *path, size_t size,
                           cnb_error *err) {
    const cnb_shape s = {.ndim = 1, .dims = {n}};
    snprintf(path, size, "%s/%s.npy", dir, name);
    return cnb_npy_write_f32(path, &s, p, err);
}

static bool mkdirs(const char *path) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0777) && errno != EEXIST) return false;
            *p = '/';
        }
    return !mkdir(tmp, 0777) || errno == EEXIST;
}

/* Write the case's tensors and the reference's outputs to dir; cmd gets the `cnnbench run` line. */
static cnb_status reproducer(const fz_case *c, const char *impl, const char *dir, char *cmd, size_t size,
                             char *expected, size_t esize, cnb_error *err) {
    if (!mkdirs(dir)) return cnb_fail(err, CNB_E_IO, "cannot create %s: %s", dir, strerror(errno));
    fz_ref r;
    ref_make(c, &r);
    if (!r.ok) return cnb_fail(err, CNB_E_INVALID_ARG, "%s", r.why);
    // The benchmark's reproducer writes the input and parameters and spells the command.
    cnb_bench_data bd = {.layer = c->layer, .in_shape = c->shape, .out_shape = r.d.out_shape, .nx = r.d.nx,
                         .ny = r.d.ny, .nc = r.d.nc, .x = r.d.x, .w = r.d.p[P_WEIGHT], .b = r.d.p[P_BIAS],
                         .rm = r.d.p[P_MEAN], .rv = r.d.p[P_VAR], .nbt = c->nbt, .ref_idx = r.o.idx};
    if (bd.b) cnb_shape_numel(&r.d.pshape[P_BIAS], &bd.nb, NULL);
    // The command reads num_batches_tracked only beside the running statistics: with tracking, write both,
    // the defaults (mean 0, var 1) for one not given.
    if (c->layer.kind == CNB_BATCHNORM2D && c->layer.u.batchnorm2d.track_running_stats) {
        for (int k = P_MEAN; k <= P_VAR; k++) {
            if (r.d.p[k]) continue;
            if (!(r.d.p[k] = malloc((size_t)(r.d.nc ? r.d.nc : 1) * sizeof(float)))) {
                ref_free(&r);
                return cnb_fail(err, CNB_E_NOMEM, "out of memory");
            }
            for (int64_t i = 0; i < r.d.nc; i++) r.d.p[k][i] = k == P_MEAN ? 0.f : 1.f;
        }
        bd.rm = r.d.p[P_MEAN], bd.rv = r.d.p[P_VAR];
    }
    cnb_status st = cnb_bench_reproducer(&bd, impl, dir, cmd, size, err);
    char p[1100];
    if (!st) {
        snprintf(expected, esize, "%s/expected_output.npy", dir);
        st = cnb_npy_write_f32(expected, &r.d.out_shape, r.o.y, err);
    }
    if (!st && r.o.idx) {
        snprintf(p, sizeof p, "%s/expected_indices.npy", dir);
        st = cnb_npy_write_i64(p, &r.d.out_shape, r.o.idx, err);
    }
    if (!st && r.o.rm) st = save_f32(dir, "expected_running_mean", r.o.rm, r.d.nc, p, sizeof p, err);
    if (!st && r.o.rv) st = save_f32(dir, "expected_running_var", r.o.rv, r.d.nc, p, sizeof p, err);
    size_t n = strlen(cmd);
    if (!st && r.o.rm && n < size)
        n += (size_t)snprintf(cmd + n, size - n, " --new-running-mean %s/new_running_mean.npy --new-running-var %s/new_running_var.npy",
                              dir, dir);
    if (!st && n < size) n += (size_t)snprintf(cmd + n, size - n, " --threads %d", c->threads);
    // The run judges its outputs against the reference's by the same rule, so the line itself fails (exit 1).
    if (!st && n < size) n += (size_t)snprintf(cmd + n, size - n, " --expect %s", expected);
    if (!st && r.o.idx && n < size) n += (size_t)snprintf(cmd + n, size - n, " --expect-indices %s/expected_indices.npy", dir);
    if (!st && r.o.rm && n < size)
        n += (size_t)snprintf(cmd + n, size - n, " --expect-running-mean %s/expected_running_mean.npy"
                              " --expect-running-var %s/expected_running_var.npy", dir, dir);
    if (!st && n >= size) st = cnb_fail(err, CNB_E_INVALID_ARG, "the reproducer's command line is longer than %zu", size);
    ref_free(&r);
    return st;
}

/* ---- the command ---------------------------------------------------------------------------------- */

typedef struct tally {
    long cases, pass, fail, known, skip;
    int reported;
} tally;

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("cnnbench fuzz: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nusage: cnnbench fuzz [--time SECONDS | --count N] [--seed S] [--impl GLOB[,GLOB]] [--kind KIND[,KIND]]"
          " [--out-dir DIR]\n", stderr);
    va_end(ap);
    return 2;
}

static bool parse_num(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || !(v >= lo && v <= hi)) return false;
    *out = v;
    return true;
}

static bool kind_listed(cnb_layer_kind k, const char *list) {
    if (!list) return true;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (!strcasecmp(t, cnb_kind_name(k))) return true;
    return false;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void describe(const fz_case *c, char *buf, size_t size) {
    char spec[600], shape[96];
    cnb_spec_format(&c->layer, spec, sizeof spec);
    size_t n = (size_t)snprintf(shape, sizeof shape, "[");
    for (int i = 0; i < c->shape.ndim && n < sizeof shape; i++)
        n += (size_t)snprintf(shape + n, sizeof shape - n, "%s%" PRId64, i ? ", " : "", c->shape.dims[i]);
    if (n < sizeof shape) snprintf(shape + n, sizeof shape - n, "]");
    static const char *const data[] = {"float data", "integer data", "data around 1e4"};
    n = (size_t)snprintf(buf, size, "%s on %s, %s%s", spec, shape, data[c->data],
                         c->special_pct ? " with NaN/inf" : "");
    if (c->layer.kind == CNB_BATCHNORM2D && n < size)
        snprintf(buf + n, size - n, ", %s, num_batches_tracked %" PRId64, c->layer.u.batchnorm2d.training ? "train" : "eval",
                 c->nbt);
}

int cnb_cmd_fuzz(int argc, char **argv) {
    const char *impl_glob = NULL, *kinds = NULL, *out_dir = NULL, *v;
    double time_limit = 0, count = 0;
    uint64_t seed = 0;
    bool seed_given = false;
    for (int i = 0; i < argc; i++) {
        if (cnb_opt_take(argc, argv, &i, "--time", &v)) {
            if (!parse_num(v, 0.001, 1e7, &time_limit)) return usage_error("--time needs a positive number of seconds");
        } else if (cnb_opt_take(argc, argv, &i, "--count", &v)) {
            if (!parse_num(v, 1, 1e12, &count) || count != floor(count)) return usage_error("--count needs a positive integer");
        } else if (cnb_opt_take(argc, argv, &i, "--seed", &v)) {
            char *end = NULL;
            errno = 0;
            if (v && *v >= '0' && *v <= '9') seed = strtoull(v, &end, 10);
            if (!end || *end || errno) return usage_error("--seed needs a non-negative integer");
            seed_given = true;
        } else if (cnb_opt_take(argc, argv, &i, "--impl", &v)) {
            if (!v || !*v) return usage_error("--impl needs a glob");
            impl_glob = v;
        } else if (cnb_opt_take(argc, argv, &i, "--kind", &v)) {
            if (!v || !*v) return usage_error("--kind needs a layer kind");
            kinds = v;
        } else if (cnb_opt_take(argc, argv, &i, "--out-dir", &v)) {
            if (!v || !*v) return usage_error("--out-dir needs a folder");
            out_dir = v;
        } else {
            return usage_error("unknown argument '%s'", argv[i]);
        }
    }
    if (time_limit > 0 && count > 0) return usage_error("give --time or --count, not both");
    if (!time_limit && !count) count = DEFAULT_COUNT;
    if (!seed_given) seed = mix((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32)) % 1000000000u;
    if (kinds) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", kinds);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            bool known = false;
            for (int j = 0; j < CNB_KIND_COUNT; j++) known = known || !strcasecmp(t, cnb_kind_name((cnb_layer_kind)j));
            if (!known)
                return usage_error("unknown layer kind '%s' (conv1d, conv2d, maxpool2d, avgpool2d, adaptiveavgpool2d, "
                                   "batchnorm2d)", t);
        }
    }

    // What is checked: every implementation but the references, of the kinds asked for, matching the globs.
    const size_t ni = cnb_impl_count();
    bool *tested = calloc(ni, sizeof *tested);
    tally *t = calloc(ni, sizeof *t);
    if (!tested || !t) {
        free(tested), free(t);
        fprintf(stderr, "cnnbench fuzz: out of memory\n");
        return 2;
    }
    cnb_layer_kind pool[CNB_KIND_COUNT];
    int npool = 0, ntested = 0;
    for (int k = 0; k < CNB_KIND_COUNT; k++) {
        const char *ref = ref_of((cnb_layer_kind)k);
        if (!kind_listed((cnb_layer_kind)k, kinds) || cnb_impl_find(ref) < 0) continue;
        bool any = false;
        for (size_t i = 0; i < ni; i++) {
            if (cnb_impl_kind(i) != (cnb_layer_kind)k || !strcmp(cnb_impl_name(i), ref)) continue;
            if (!cnb_impl_matches(cnb_impl_name(i), impl_glob)) continue;
            tested[i] = any = true;
            ntested++;
        }
        if (any) pool[npool++] = (cnb_layer_kind)k;
    }
    if (!npool) {
        free(tested), free(t);
        return usage_error("no implementation to check%s%s%s%s (the references <layer>.naive.scalar are what the "
                           "others are checked against)", impl_glob ? " matches --impl " : "", impl_glob ? impl_glob : "",
                           kinds ? " of --kind " : "", kinds ? kinds : "");
    }
    char dirbuf[512];
    if (!out_dir) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dirbuf, sizeof dirbuf, "%s/cnnbench-fuzz-%" PRIu64 "-%ld", tmp && *tmp ? tmp : "/tmp", seed, (long)getpid());
        out_dir = dirbuf;
    }
    char isa[64];
    if (time_limit > 0)
        printf("fuzz: seed %" PRIu64 ", for %g s; %d implementation%s of %d layer kind%s against the references (isa: %s)\n",
               seed, time_limit, ntested, ntested == 1 ? "" : "s", npool, npool == 1 ? "" : "s",
               cnb_isa_names(cnb_cpu_features(), isa, sizeof isa));
    else
        printf("fuzz: seed %" PRIu64 ", %.0f cases; %d implementation%s of %d layer kind%s against the references (isa: %s)\n",
               seed, count, ntested, ntested == 1 ? "" : "s", npool, npool == 1 ? "" : "s",
               cnb_isa_names(cnb_cpu_features(), isa, sizeof isa));
    fflush(stdout);

    const double t0 = now_s();
    long cases = 0, ref_failures = 0;
    for (uint64_t k = 0;; k++) {
        if (count > 0 && (double)k >= count) break;
        if (time_limit > 0 && now_s() - t0 >= time_limit) break;
        rng r = {mix(seed) ^ mix(k + 0x5851f42d4c957f2dull)};
        const cnb_layer_kind kind = pool[uni(&r, 0, npool - 1)];
        fz_case c;
        bool valid = false;
        for (int attempt = 0; attempt < 100 && !valid; attempt++) {
            gen_layer(&r, kind, &c);
            valid = is_valid(&c);
        }
        if (!valid) continue;
        cases++;
        fz_ref ref;
        ref_make(&c, &ref);
        if (!ref.ok) {
            char d[1024];
            describe(&c, d, sizeof d);
            printf("REFERENCE FAILED case %" PRIu64 ": %s\n  layer: %s\n", k, ref.why, d);
            ref_failures++;
            continue;
        }
        for (size_t i = 0; i < ni; i++) {
            if (!tested[i] || cnb_impl_kind(i) != kind) continue;
            char why[300];
            const verdict vd = check_impl(&c, &ref, i, why, sizeof why);
            t[i].cases++;
            if (vd == V_PASS) t[i].pass++;
            else if (vd == V_KNOWN) t[i].known++;
            else if (vd == V_SKIP) t[i].skip++;
            if (vd != V_FAIL) continue;
            t[i].fail++;
            if (t[i].reported++ >= MAX_REPORTED) continue;
            char d[1024];
            describe(&c, d, sizeof d);
            printf("MISMATCH %s, case %" PRIu64 " (threads %d): %s\n  layer: %s\n", cnb_impl_name(i), k, c.threads, why, d);
            if (t[i].reported == 1) {
                fz_case s = c;
                int tries;
                char swhy[300];
                snprintf(swhy, sizeof swhy, "%s", why);
                const int steps = shrink(&s, i, swhy, sizeof swhy, &tries);
                describe(&s, d, sizeof d);
                printf("  shrunk in %d step%s (%d tried) to: %s\n  which gives: %s\n", steps, steps == 1 ? "" : "s", tries,
                       d, swhy);
                char dir[1024], cmd[6000], expected[1100];
                cnb_error e = {0};
                snprintf(dir, sizeof dir, "%s/%s", out_dir, cnb_impl_name(i));
                if (reproducer(&s, cnb_impl_name(i), dir, cmd, sizeof cmd, expected, sizeof expected, &e))
                    printf("  (could not write a reproducer: %s)\n", e.msg);
                else
                    printf("  reproduce: %s\n  expected (%s): %s\n", cmd, ref_of(kind), expected);
            }
            fflush(stdout);
        }
        ref_free(&ref);
    }

    printf("\n%-34s %7s %7s %7s %7s %11s\n", "implementation", "cases", "passed", "FAILED", "known", "unsupported");
    int failed_impls = 0;
    for (size_t i = 0; i < ni; i++) {
        if (!tested[i]) continue;
        printf("%-34s %7ld %7ld %7ld %7ld %11ld\n", cnb_impl_name(i), t[i].cases, t[i].pass, t[i].fail, t[i].known, t[i].skip);
        failed_impls += t[i].fail > 0;
    }
    printf("fuzz: %ld cases", cases);
    if (ref_failures) printf(", the reference failed on %ld", ref_failures);
    if (failed_impls) {
        printf("; %d implementation%s FAILED:", failed_impls, failed_impls == 1 ? "" : "s");
        for (size_t i = 0; i < ni; i++)
            if (tested[i] && t[i].fail) printf(" %s", cnb_impl_name(i));
        printf(" (reproducers in %s)\n", out_dir);
    } else {
        printf("; no mismatch\n");
    }
    free(tested), free(t);
    return failed_impls || ref_failures ? 1 : 0;
}
