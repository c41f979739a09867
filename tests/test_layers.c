/* Generated layers and golden cases as one structure, with plan/run/compare helpers (test_layers.h). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/spec.h"
#include "harness/npy.h"
#include "test_layers.h"

const tl_gen tl_gens[] = {
    {"Conv2d(16, 16, kernel_size=(3, 3), padding=(1, 1), bias=False)", 4, {2, 16, 20, 20}, false},
    {"Conv2d(32, 24, kernel_size=(1, 1))", 4, {2, 32, 14, 14}, false},
    {"Conv2d(3, 16, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)", 4, {1, 3, 32, 30}, false},
    {"Conv2d(24, 24, kernel_size=(3, 3), padding=(1, 1), groups=24)", 4, {2, 24, 15, 15}, false},
    {"Conv2d(12, 18, kernel_size=(3, 3), padding=same, dilation=(2, 2), groups=3, padding_mode=reflect)", 4,
     {1, 12, 13, 11}, false},
    {"Conv2d(8, 16, kernel_size=(5, 5), stride=(2, 2), padding=(2, 2), padding_mode=circular)", 4, {1, 8, 23, 17},
     false},
    {"Conv2d(128, 8, kernel_size=(3, 3))", 4, {1, 128, 10, 10}, false},
    {"Conv1d(16, 32, kernel_size=(3,), padding=(1,))", 3, {2, 16, 50}, false},
    {"Conv1d(8, 8, kernel_size=(3,), padding=same, dilation=(4,), padding_mode=replicate)", 3, {1, 8, 40}, false},
    {"Conv1d(4, 6, kernel_size=(5,), stride=(2,))", 2, {4, 33}, false},
    {"MaxPool2d(3, stride=2, padding=1, return_indices=True)", 4, {2, 16, 21, 21}, false},
    {"MaxPool2d((2, 3), stride=(2, 1), dilation=(2, 1), ceil_mode=True, return_indices=True)", 4, {1, 8, 17, 13},
     false},
    {"AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)", 4, {2, 16, 21, 21}, false},
    {"AvgPool2d((2, 2), divisor_override=3)", 3, {8, 16, 16}, false},
    {"AdaptiveAvgPool2d((5, 7))", 4, {2, 16, 17, 23}, false},
    {"AdaptiveAvgPool2d(1)", 4, {2, 64, 7, 7}, false},
    {"BatchNorm2d(16)", 4, {4, 16, 12, 12}, true},
    {"BatchNorm2d(16)", 4, {4, 16, 12, 12}, false},
    {"BatchNorm2d(3, momentum=None, affine=False)", 4, {8, 3, 32, 32}, true},
    {"BatchNorm2d(8, track_running_stats=False)", 4, {2, 8, 9, 9}, false},
};
const size_t tl_ngens = sizeof tl_gens / sizeof tl_gens[0];

// Large enough for the kernels' vector loops and multi-thread splits, which the layers above mostly miss:
// pooling kernels give each thread at least 64 Ki floats, BN statistics are cut into 2048-value chunks,
// GEMMs block K at a few hundred, Winograd splits output channels between threads when tiles are few.
const tl_gen tl_large[] = {
    {"Conv2d(64, 64, kernel_size=(3, 3), padding=(1, 1))", 4, {1, 64, 28, 28}, false},
    {"Conv2d(256, 96, kernel_size=(3, 3), padding=(1, 1), bias=False)", 4, {4, 256, 3, 3}, false},   // GEMM transposed
    {"Conv2d(128, 128, kernel_size=(3, 3), padding=(1, 1), bias=False)", 4, {1, 128, 6, 6}, false},
    {"Conv2d(32, 48, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))", 4, {2, 32, 57, 57}, false},
    {"Conv2d(64, 64, kernel_size=(3, 3), padding=(1, 1), groups=64)", 4, {2, 64, 56, 56}, false},
    {"Conv2d(32, 32, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), groups=32, bias=False)", 4, {1, 32, 113, 111},
     false},
    {"Conv1d(64, 64, kernel_size=(3,), padding=(1,))", 3, {4, 64, 1000}, false},
    {"MaxPool2d(3, stride=2, padding=1, return_indices=True)", 4, {2, 64, 112, 112}, false},
    {"MaxPool2d(2)", 4, {4, 64, 56, 56}, false},
    {"AvgPool2d(3, stride=1, padding=1, count_include_pad=False)", 4, {2, 64, 56, 56}, false},
    {"AdaptiveAvgPool2d((7, 7))", 4, {2, 256, 30, 30}, false},
    {"AdaptiveAvgPool2d(1)", 4, {4, 512, 14, 14}, false},
    {"BatchNorm2d(64)", 4, {1, 64, 56, 56}, true},
    {"BatchNorm2d(48)", 4, {8, 48, 29, 29}, true},
    {"BatchNorm2d(64)", 4, {4, 64, 32, 32}, false},
};
const size_t tl_nlarge = sizeof tl_large / sizeof tl_large[0];

static uint64_t next(uint64_t *s) {   // splitmix64
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void tl_random(float *p, int64_t n, uint64_t seed) {
    uint64_t s = seed;
    for (int64_t i = 0; i < n; i++) p[i] = (float)((double)(next(&s) >> 11) * 0x1p-53 * 4.0 - 2.0);
}

static float *alloc_f(int64_t n) { return malloc((size_t)(n > 0 ? n : 1) * sizeof(float)); }

/* Shapes and counts from d->layer and d->in. */
static bool finish(tl_data *d, char *why, size_t why_size) {
    cnb_error e = {0};
    if (cnb_output_shape(&d->layer, &d->in, &d->out, &e) || cnb_shape_numel(&d->in, &d->nx, &e) ||
        cnb_shape_numel(&d->out, &d->ny, &e)) {
        snprintf(why, why_size, "%s: %s", d->spec, e.msg);
        return false;
    }
    d->nc = d->layer.kind == CNB_BATCHNORM2D ? d->layer.u.batchnorm2d.num_features : 0;
    d->indices = d->layer.kind == CNB_MAXPOOL2D && d->layer.u.maxpool2d.return_indices;
    return true;
}

bool tl_make(const tl_gen *g, size_t index, uint64_t seed, tl_data *d, char *why, size_t why_size) {
    memset(d, 0, sizeof *d);
    snprintf(d->id, sizeof d->id, "gen%zu", index);
    snprintf(d->spec, sizeof d->spec, "%s", g->spec);
    cnb_error e = {0};
    if (cnb_spec_parse(g->spec, &d->layer, &e)) {
        snprintf(why, why_size, "%s: %s", g->spec, e.msg);
        return false;
    }
    if (d->layer.kind == CNB_BATCHNORM2D) d->layer.u.batchnorm2d.training = g->train;
    d->in.ndim = g->ndim;
    memcpy(d->in.dims, g->dims, sizeof d->in.dims);
    if (!finish(d, why, why_size)) return false;
    if (!(d->x = alloc_f(d->nx))) goto oom;
    tl_random(d->x, d->nx, seed);
    const cnb_layer *L = &d->layer;
    if (L->kind == CNB_CONV1D || L->kind == CNB_CONV2D) {
        cnb_shape ws;
        int64_t nw;
        if (cnb_param_shape(L, CNB_PARAM_WEIGHT, &ws, &e) || cnb_shape_numel(&ws, &nw, &e)) {
            snprintf(why, why_size, "%s: %s", g->spec, e.msg);
            return false;
        }
        if (!(d->w = alloc_f(nw))) goto oom;
        tl_random(d->w, nw, seed + 1);
        if (L->u.conv.bias) {
            if (!(d->b = alloc_f(L->u.conv.out_channels))) goto oom;
            tl_random(d->b, L->u.conv.out_channels, seed + 2);
        }
    } else if (L->kind == CNB_BATCHNORM2D) {
        const int64_t C = d->nc;
        if (L->u.batchnorm2d.affine) {
            if (!(d->w = alloc_f(C)) || !(d->b = alloc_f(C))) goto oom;
            tl_random(d->w, C, seed + 1);
            tl_random(d->b, C, seed + 2);
        }
        if (L->u.batchnorm2d.track_running_stats) {
            if (!(d->rm = alloc_f(C)) || !(d->rv = alloc_f(C))) goto oom;
            tl_random(d->rm, C, seed + 3);
            tl_random(d->rv, C, seed + 4);
            for (int64_t c = 0; c < C; c++) d->rv[c] = 0.5f + fabsf(d->rv[c]);   // a variance is positive
            d->nbt = 3;
        }
    }
    return true;
oom:
    snprintf(why, why_size, "%s: out of memory", g->spec);
    return false;
}

static bool load(const char *dir, const char *id, const char *name, float **f, cnb_shape *shape, char *why,
                 size_t why_size) {
    char path[1024];
    snprintf(path, sizeof path, "%s/cases/%s/%s.npy", dir, id, name);
    FILE *t = fopen(path, "rb");
    if (!t) return true;   // absent: the default
    fclose(t);
    cnb_error e = {0};
    cnb_shape s;
    if (cnb_npy_read_f32(path, shape ? shape : &s, f, &e)) {
        snprintf(why, why_size, "%s", e.msg);
        return false;
    }
    return true;
}

bool tl_golden(const char *dir, const char *id, const char *flags, const char *spec, tl_data *d, char *why,
               size_t why_size) {
    memset(d, 0, sizeof *d);
    snprintf(d->id, sizeof d->id, "%s", id);
    snprintf(d->spec, sizeof d->spec, "%s", spec);
    cnb_error e = {0};
    if (cnb_spec_parse(spec, &d->layer, &e)) {
        snprintf(why, why_size, "%s: %s", spec, e.msg);
        return false;
    }
    bool train = false;
    char f[256];
    snprintf(f, sizeof f, "%s", flags);
    char *save = NULL;
    for (char *tok = strtok_r(f, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!strcmp(tok, "train")) train = true;
        else if (!strncmp(tok, "nbt=", 4)) d->nbt = atoll(tok + 4);
    }
    if (d->layer.kind == CNB_BATCHNORM2D) d->layer.u.batchnorm2d.training = train;
    if (!load(dir, id, "input", &d->x, &d->in, why, why_size) || !d->x) {
        if (!d->x) snprintf(why, why_size, "%s: no input.npy", id);
        return false;
    }
    if (!load(dir, id, "weight", &d->w, NULL, why, why_size) || !load(dir, id, "bias", &d->b, NULL, why, why_size) ||
        !load(dir, id, "running_mean", &d->rm, NULL, why, why_size) ||
        !load(dir, id, "running_var", &d->rv, NULL, why, why_size))
        return false;
    return finish(d, why, why_size);
}

void tl_free(tl_data *d) {
    free(d->x), free(d->w), free(d->b), free(d->rm), free(d->rv);
    memset(d, 0, sizeof *d);
}

cnb_status tl_plan(const tl_data *d, const char *impl, int threads, cnb_plan **plan, cnb_error *err) {
    const cnb_params prm = {.weight = d->w, .bias = d->b, .running_mean = d->rm, .running_var = d->rv,
                            .num_batches_tracked = d->nbt, .threads = threads};
    return cnb_plan_create(&d->layer, &d->in, impl, &prm, plan, err);
}

bool tl_out_alloc(const tl_data *d, tl_out *o) {
    memset(o, 0, sizeof *o);
    const bool stats = d->layer.kind == CNB_BATCHNORM2D && d->layer.u.batchnorm2d.track_running_stats;
    o->y = alloc_f(d->ny);
    o->idx = d->indices ? malloc((size_t)(d->ny > 0 ? d->ny : 1) * sizeof *o->idx) : NULL;
    o->nrm = stats ? alloc_f(d->nc) : NULL;
    o->nrv = stats ? alloc_f(d->nc) : NULL;
    if (!o->y || (d->indices && !o->idx) || (stats && (!o->nrm || !o->nrv))) {
        tl_out_free(o);
        return false;
    }
    tl_out_fill(d, o);
    return true;
}

// All-ones bytes: a NaN no kernel computes (NaN results are the default quiet NaN) and index -1.
void tl_out_fill(const tl_data *d, tl_out *o) {
    if (o->y) memset(o->y, 0xff, (size_t)d->ny * sizeof *o->y);
    if (o->idx) memset(o->idx, 0xff, (size_t)d->ny * sizeof *o->idx);
    if (o->nrm) memset(o->nrm, 0xff, (size_t)d->nc * sizeof *o->nrm);
    if (o->nrv) memset(o->nrv, 0xff, (size_t)d->nc * sizeof *o->nrv);
}

static int64_t first_written(const void *p, size_t bytes) {
    const unsigned char *b = p;
    for (size_t i = 0; p && i < bytes; i++)
        if (b[i] != 0xff) return (int64_t)i;
    return -1;
}

bool tl_out_untouched(const tl_data *d, const tl_out *o, char *what, size_t what_size) {
    const struct { const char *name; const void *p; size_t bytes, elem; } f[] = {
        {"output", o->y, (size_t)d->ny * sizeof(float), sizeof(float)},
        {"indices", o->idx, (size_t)d->ny * sizeof(int64_t), sizeof(int64_t)},
        {"new running_mean", o->nrm, (size_t)d->nc * sizeof(float), sizeof(float)},
        {"new running_var", o->nrv, (size_t)d->nc * sizeof(float), sizeof(float)},
    };
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
        const int64_t i = first_written(f[k].p, f[k].bytes);
        if (i >= 0) {
            snprintf(what, what_size, "%s[%lld] written", f[k].name, (long long)((size_t)i / f[k].elem));
            return false;
        }
    }
    return true;
}

void tl_out_free(tl_out *o) {
    free(o->y), free(o->nrm), free(o->nrv), free(o->idx);
    memset(o, 0, sizeof *o);
}

cnb_status tl_run(const cnb_plan *plan, const tl_data *d, const float *x, tl_out *o, int threads, void *workspace,
                  cnb_error *err) {
    const cnb_run_args a = {.x = x ? x : d->x, .y = o->y, .indices = o->idx, .new_running_mean = o->nrm,
                            .new_running_var = o->nrv, .workspace = workspace, .threads = threads};
    return cnb_plan_run(plan, &a, err);
}

static int64_t first_diff(const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]) && !(isnan(a[i]) && isnan(b[i]))) return i;
    return -1;
}

bool tl_same(const tl_data *d, const tl_out *a, const tl_out *b, char *what, size_t what_size) {
    const struct { const char *name; const float *p, *q; int64_t n; } f[] = {
        {"output", a->y, b->y, d->ny}, {"new running_mean", a->nrm, b->nrm, d->nc}, {"new running_var", a->nrv, b->nrv, d->nc},
    };
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
        if (!f[k].p || !f[k].q) continue;
        const int64_t i = first_diff(f[k].p, f[k].q, f[k].n);
        if (i >= 0) {
            snprintf(what, what_size, "%s[%lld]: %a vs %a", f[k].name, (long long)i, (double)f[k].p[i], (double)f[k].q[i]);
            return false;
        }
    }
    for (int64_t i = 0; a->idx && b->idx && i < d->ny; i++)
        if (a->idx[i] != b->idx[i]) {
            snprintf(what, what_size, "indices[%lld]: %lld vs %lld", (long long)i, (long long)a->idx[i], (long long)b->idx[i]);
            return false;
        }
    return true;
}

long tl_reference(cnb_layer_kind kind) {
    char name[64];
    snprintf(name, sizeof name, "%s.naive.scalar", cnb_kind_name(kind));
    for (char *p = name; *p; p++) *p = (char)tolower((unsigned char)*p);
    return cnb_impl_find(name);
}
