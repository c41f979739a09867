/* Plans: validate once, choose the implementation (by name or `auto`), own the parameter copies with
 * defaults filled in, and run with a thread count. A plan is immutable after creation, so one plan can
 * run concurrently on different buffers. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/planfile.h"
#include "core/registry.h"
#include "core/status.h"

struct cnb_plan {
    cnb_geom g;
    const cnb_impl *impl;
    cnb_weights w;
    float *owned[4];          /* the arrays behind w */
    cnb_plan_data data;
    int64_t num_batches_tracked;
    bool from_file;           /* `auto` took impl from the loaded plan file */
};

/* A copy of src (n floats), or n copies of fill when src is NULL; NULL when out of memory, or when the
 * byte count overflows size_t (n itself fits int64: BatchNorm2d(2**62) on an empty batch is a valid layer). */
static float *copy_or_fill(const float *src, int64_t n, float fill) {
    size_t bytes;
    if (!cnb_alloc_bytes((size_t)(n > 0 ? n : 1), sizeof(float), &bytes)) return NULL;
    float *p = cnb_malloc(bytes);
    if (!p) return NULL;
    if (src) memcpy(p, src, (size_t)n * sizeof *p);
    else for (int64_t i = 0; i < n; i++) p[i] = fill;
    return p;
}

static cnb_status fill_weights(cnb_plan *pl, const cnb_params *prm, cnb_error *err) {
    const cnb_geom *g = &pl->g;
    const char *name = cnb_kind_name(g->kind);
    static const cnb_params none = {0};
    if (!prm) prm = &none;
    int64_t nw = 0, nb = 0, ns = 0;
    const float *sw = NULL, *sb = NULL, *sm = NULL, *sv = NULL;
    float fw = 0.f, fb = 0.f;
    switch (g->kind) {
    case CNB_CONV1D:
    case CNB_CONV2D:
        if (!prm->weight) return cnb_fail(err, CNB_E_INVALID_ARG, "%s: the weight is required", name);
        nw = g->K * (g->C / g->groups) * g->kh * g->kw;  // checked against overflow by cnb_geom_init
        nb = g->K;
        sw = prm->weight;
        if (prm->bias && !g->has_bias) return cnb_fail(err, CNB_E_INVALID_ARG, "%s: a bias was given but bias=False", name);
        sb = prm->bias;
        break;
    case CNB_BATCHNORM2D:
        if (!g->affine && (prm->weight || prm->bias))
            return cnb_fail(err, CNB_E_INVALID_ARG, "%s: weight/bias given but affine=False", name);
        if (!g->track_running_stats && (prm->running_mean || prm->running_var))
            return cnb_fail(err, CNB_E_INVALID_ARG, "%s: running statistics given but track_running_stats=False", name);
        nw = nb = ns = g->C;
        sw = prm->weight, sb = prm->bias, sm = prm->running_mean, sv = prm->running_var;
        fw = 1.f;
        break;
    default:
        if (prm->weight || prm->bias || prm->running_mean || prm->running_var)
            return cnb_fail(err, CNB_E_INVALID_ARG, "%s has no parameters, but some were given", name);
        return CNB_OK;
    }
    // An implementation that packs the weights in plan() reads the caller's tensor there and never again.
    const bool packs = (g->kind == CNB_CONV1D || g->kind == CNB_CONV2D) && (pl->impl->flags & CNB_IMPL_PACKS_WEIGHTS);
    pl->owned[0] = packs ? NULL : copy_or_fill(sw, nw, fw);
    pl->owned[1] = copy_or_fill(sb, nb, fb);
    if (ns) {
        pl->owned[2] = copy_or_fill(sm, ns, 0.f);
        pl->owned[3] = copy_or_fill(sv, ns, 1.f);
    }
    if ((!packs && !pl->owned[0]) || !pl->owned[1] || (ns && (!pl->owned[2] || !pl->owned[3])))
        return cnb_fail(err, CNB_E_NOMEM, "%s: out of memory copying the parameters (weight %lld, bias %lld, running "
                        "stats 2 x %lld floats)", name, (long long)nw, (long long)nb, (long long)ns);
    pl->w.weight = packs ? sw : pl->owned[0];
    pl->w.bias = pl->owned[1];
    pl->w.running_mean = pl->owned[2];
    pl->w.running_var = pl->owned[3];
    return CNB_OK;
}

static void release(cnb_plan *pl) {
    for (int i = 0; i < 4; i++) cnb_free(pl->owned[i]);
    cnb_free(pl);
}

cnb_status cnb_plan_create(const cnb_layer *layer, const cnb_shape *input, const char *impl,
                           const cnb_params *params, cnb_plan **out, cnb_error *err) {
    if (!out) return cnb_fail(err, CNB_E_INVALID_ARG, "NULL plan pointer");
    *out = NULL;
    cnb_plan *pl = cnb_calloc(1, sizeof *pl);
    if (!pl) return cnb_fail(err, CNB_E_NOMEM, "out of memory allocating a plan");
    pl->num_batches_tracked = params ? params->num_batches_tracked : 0;
    cnb_status st = cnb_geom_init(&pl->g, layer, input, pl->num_batches_tracked, err);
    if (st) goto fail;
    if (pl->num_batches_tracked < 0) {
        st = cnb_fail(err, CNB_E_INVALID_ARG, "num_batches_tracked must be non-negative, got %lld", (long long)pl->num_batches_tracked);
        goto fail;
    }
    if (!impl || !strcmp(impl, "auto")) {
        const int threads = params ? params->threads : 0;
        if (threads < 0) {
            st = cnb_fail(err, CNB_E_INVALID_ARG, "params.threads must be 0 (the OpenMP default) or positive, got %d", threads);
            goto fail;
        }
        if (!(params && params->builtin_rule) &&
            (st = cnb_planfile_choose(&pl->g, threads > 0 ? threads : omp_get_max_threads(), &pl->impl, err)))
            goto fail;
        pl->from_file = pl->impl != NULL;
        if (!pl->impl && !(pl->impl = cnb_pick(&pl->g, err))) { st = CNB_E_UNSUPPORTED; goto fail; }
    } else {
        long i = cnb_impl_find(impl);
        if (i < 0) { st = cnb_fail(err, CNB_E_NOT_FOUND, "no implementation named '%s' (see `cnnbench list`)", impl); goto fail; }
        pl->impl = cnb_impl_at((size_t)i);
        if ((st = cnb_impl_usable(pl->impl, &pl->g, err))) goto fail;
    }
    if ((st = fill_weights(pl, params, err))) goto fail;
    pl->data.g = &pl->g;
    pl->data.w = &pl->w;
    if ((st = pl->impl->plan(&pl->g, &pl->w, &pl->data, err))) goto fail;
    if (!pl->owned[0]) pl->w.weight = NULL;   // CNB_IMPL_PACKS_WEIGHTS: the caller's tensor may go now
    *out = pl;
    return CNB_OK;
fail:
    release(pl);
    return st;
}

const char *cnb_plan_impl(const cnb_plan *p) { return p ? p->impl->name : NULL; }
bool cnb_plan_from_file(const cnb_plan *p) { return p && p->from_file; }
const cnb_shape *cnb_plan_output_shape(const cnb_plan *p) { return p ? &p->g.out_shape : NULL; }
size_t cnb_plan_workspace_size(const cnb_plan *p) { return p ? p->data.workspace_bytes : 0; }

cnb_status cnb_plan_run(const cnb_plan *p, const cnb_run_args *a, cnb_error *err) {
    if (!p || !a) return cnb_fail(err, CNB_E_INVALID_ARG, "NULL plan or run arguments");
    if ((p->g.in_numel && !a->x) || (p->g.out_numel && !a->y))
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s: input and output buffers are required", p->impl->name);
    if (a->indices && p->g.kind != CNB_MAXPOOL2D)
        return cnb_fail(err, CNB_E_INVALID_ARG, "indices are produced only by MaxPool2d");
    if ((a->new_running_mean || a->new_running_var || a->new_num_batches_tracked) && p->g.kind != CNB_BATCHNORM2D)
        return cnb_fail(err, CNB_E_INVALID_ARG, "running statistics are produced only by BatchNorm2d");
    if ((a->new_running_mean || a->new_running_var) && !p->g.track_running_stats)
        return cnb_fail(err, CNB_E_INVALID_ARG, "BatchNorm2d: track_running_stats=False, so there are no running statistics");
    cnb_io io = {
        .x = a->x, .y = a->y, .indices = a->indices,
        .new_running_mean = a->new_running_mean, .new_running_var = a->new_running_var,
        .workspace = a->workspace,
        .threads = a->threads > 0 ? a->threads : omp_get_max_threads(),
    };
    void *scratch = NULL;
    if (p->data.workspace_bytes && !io.workspace) {
        scratch = cnb_malloc(p->data.workspace_bytes);
        if (!scratch) return cnb_fail(err, CNB_E_NOMEM, "%s: out of memory for a %zu-byte workspace", p->impl->name, p->data.workspace_bytes);
        io.workspace = scratch;
    }
    cnb_status st = CNB_OK;
    if (p->g.out_numel > 0) st = p->impl->run(&p->data, &io);  // empty tensors (batch 0): nothing to compute
    else if (p->g.kind == CNB_BATCHNORM2D) {
        /* An empty batch leaves the running statistics as they were (PyTorch 1.13 does the same). */
        for (int64_t c = 0; c < p->g.C; c++) {
            if (io.new_running_mean) io.new_running_mean[c] = p->w.running_mean[c];
            if (io.new_running_var) io.new_running_var[c] = p->w.running_var[c];
        }
    }
    cnb_free(scratch);
    if (st) return cnb_fail(err, st, "%s: run failed (%s)", p->impl->name, cnb_status_name(st));
    if (a->new_num_batches_tracked)
        *a->new_num_batches_tracked = p->num_batches_tracked + (p->g.update_running ? 1 : 0);
    return CNB_OK;
}

void cnb_plan_destroy(cnb_plan *p) {
    if (!p) return;
    if (p->impl) p->impl->free(&p->data);
    release(p);
}
