// batchnorm2d.onednn.ext: BatchNorm2d forward by oneDNN's batch normalization (libdnnl 2.x), a peer never
// chosen by `auto`. NCHW in and out; oneDNN's batch norm will not choose a layout (format_tag_any is refused),
// so we give it the blocked one its JIT kernel wants (nChw16c with AVX-512, nChw8c with AVX2; on NCHW it runs
// a plain C++ kernel about 2x slower than blocked + both reorders), reordering inside run(). Eval with running
// stats: use_global_stats; batch stats (training, or track_running_stats=False): forward_training, which
// returns the batch mean and biased variance (float), from which PyTorch's running-stat update is done here
// in double. affine: use_scale | use_shift; affine=False: neither. oneDNN computes the statistics in float
// and takes eps as a float: on inputs near 1e4 with a small spread its outputs are off by percents.
#include "kernels/ext/onednn_util.h"

cnb_status cnb_batchnorm2d_onednn_ext_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_batchnorm2d_onednn_ext_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_batchnorm2d_onednn_ext_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_batchnorm2d_onednn_ext_free(cnb_plan_data *p);

static const char k_name[] = "batchnorm2d.onednn.ext";

static dnnl_status_t describe(const cnb_geom *g, dnnl_format_tag_t tag, cnb_dnnl_op *op, dnnl_dims_t d) {
    d[0] = g->N, d[1] = g->C, d[2] = g->H, d[3] = g->W;
    dnnl_memory_desc_t data;
    const unsigned flags = (g->use_batch_stats ? 0u : (unsigned)dnnl_use_global_stats) |
                           (g->affine ? (unsigned)(dnnl_use_scale | dnnl_use_shift) : 0u);
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&data, 4, d, dnnl_f32, tag);
    if (s == dnnl_success)
        s = dnnl_batch_normalization_forward_desc_init(&op->bnorm,
                                                       g->use_batch_stats ? dnnl_forward_training : dnnl_forward_inference,
                                                       &data, (float)g->eps, flags);
    return s;
}

// The blocked layout for oneDNN's ISA, kept only if oneDNN has more than its reference kernel for it;
// otherwise NCHW (no reorders).
static dnnl_format_tag_t pick_layout(const cnb_geom *g) {
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    const dnnl_format_tag_t blocked = (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core ? dnnl_nChw16c
                                      : (isa & dnnl_cpu_isa_avx2) == dnnl_cpu_isa_avx2             ? dnnl_nChw8c
                                                                                                   : dnnl_nchw;
    if (blocked == dnnl_nchw) return dnnl_nchw;
    cnb_dnnl_op op;
    dnnl_dims_t d;
    dnnl_engine_t eng = NULL;
    dnnl_primitive_desc_t pd = NULL;
    const char *impl = "ref";
    if (describe(g, blocked, &op, d) == dnnl_success && dnnl_engine_create(&eng, dnnl_cpu, 0) == dnnl_success &&
        dnnl_primitive_desc_create(&pd, &op, NULL, eng, NULL) == dnnl_success)
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    const bool jit = strncmp(impl, "ref", 3) != 0;
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (eng) dnnl_engine_destroy(eng);
    return jit ? blocked : dnnl_nchw;
}

cnb_status cnb_batchnorm2d_onednn_ext_supports(const cnb_geom *g, cnb_error *why) {
    cnb_status st = cnb_dnnl_common_supports(g, why);
    if (st) return st;
    cnb_dnnl_op op;
    dnnl_dims_t d;
    dnnl_status_t s = describe(g, pick_layout(g), &op, d);
    if (s != dnnl_success)
        return cnb_fail(why, CNB_E_UNSUPPORTED, "oneDNN rejects the batch normalization (%s)", dnnl_status2str(s));
    return cnb_dnnl_try_op(&op, k_name, why);
}

// Batch statistics go to the layer's region of each run's workspace: mean at 0, variance after it.
static size_t stat_bytes(const cnb_geom *g) { return cnb_dnnl_round((size_t)g->C * sizeof(float)); }

cnb_status cnb_batchnorm2d_onednn_ext_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    p->priv = NULL;
    p->workspace_bytes = 0;
    if (g->in_numel == 0) return CNB_OK;   // empty batch: cnb_plan_run passes the running stats through
    cnb_dnnl_op op;
    dnnl_dims_t d;
    cnb_status st = CNB_OK;
    if (!cnb_dnnl_ok(describe(g, pick_layout(g), &op, d), "dnnl_batch_normalization_forward_desc_init", k_name, err, &st))
        return st;
    cnb_dnnl_plan *dp;
    if ((st = cnb_dnnl_plan_create(&dp, k_name, &op, 4, d, d, dnnl_nchw, NULL, NULL,
                                   g->use_batch_stats ? 2 * stat_bytes(g) : 0, err)))
        return st;
    dnnl_memory_desc_t cmd;
    dnnl_dims_t cd = {g->C};
    if (!cnb_dnnl_ok(dnnl_memory_desc_init_by_tag(&cmd, 1, cd, dnnl_f32, dnnl_x), "dnnl_memory_desc_init_by_tag(C)", k_name,
                     err, &st) ||
        (g->affine && ((st = cnb_dnnl_add_const(dp, DNNL_ARG_SCALE, &cmd, w->weight, err)) ||
                       (st = cnb_dnnl_add_const(dp, DNNL_ARG_SHIFT, &cmd, w->bias, err)))) ||
        (!g->use_batch_stats && ((st = cnb_dnnl_add_const(dp, DNNL_ARG_MEAN, &cmd, w->running_mean, err)) ||
                                 (st = cnb_dnnl_add_const(dp, DNNL_ARG_VARIANCE, &cmd, w->running_var, err))))) {
        cnb_dnnl_plan_free(dp);
        return st;
    }
    p->priv = dp;
    p->workspace_bytes = dp->planned;
    return CNB_OK;
}

cnb_status cnb_batchnorm2d_onednn_ext_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    const cnb_weights *w = p->w;
    const cnb_dnnl_plan *dp = p->priv;
    if (!dp) return CNB_OK;
    cnb_dnnl_ctx c;
    cnb_status st = cnb_dnnl_begin(dp, io, &c);
    dnnl_memory_t mm = NULL, vm = NULL;
    float *mean = NULL, *var = NULL;
    if (!st && g->use_batch_stats) {
        mean = (float *)c.base;
        var = (float *)(c.base + stat_bytes(g));
        dnnl_memory_desc_t cmd;
        dnnl_dims_t cd = {g->C};
        dnnl_status_t s = dnnl_memory_desc_init_by_tag(&cmd, 1, cd, dnnl_f32, dnnl_x);
        if (s == dnnl_success) s = dnnl_memory_create(&mm, &cmd, dp->engine, mean);
        if (s == dnnl_success) s = dnnl_memory_create(&vm, &cmd, dp->engine, var);
        st = cnb_dnnl_code(s);
    }
    if (!st) {
        const dnnl_exec_arg_t stats[2] = {{DNNL_ARG_MEAN, mm}, {DNNL_ARG_VARIANCE, vm}};
        st = cnb_dnnl_exec(dp, &c, io->x, io->y, stats, g->use_batch_stats ? 2 : 0);
    }
    if (!st) {
        // running = (1 - f) * running + f * batch, with the unbiased variance var * n / (n - 1) (n > 1 in
        // training: core/ rejects n == 1). Without an update the running stats pass through.
        const double f = g->momentum, n = (double)(g->N * g->H * g->W);
        for (int64_t ch = 0; ch < g->C; ch++) {
            if (io->new_running_mean)
                io->new_running_mean[ch] = g->update_running
                                               ? (float)((1.0 - f) * w->running_mean[ch] + f * (double)mean[ch])
                                               : w->running_mean[ch];
            if (io->new_running_var)
                io->new_running_var[ch] = g->update_running
                                              ? (float)((1.0 - f) * w->running_var[ch] + f * (double)var[ch] * n / (n - 1.0))
                                              : w->running_var[ch];
        }
    }
    if (vm) dnnl_memory_destroy(vm);
    if (mm) dnnl_memory_destroy(mm);
    cnb_dnnl_end(&c);
    return st;
}

void cnb_batchnorm2d_onednn_ext_free(cnb_plan_data *p) { cnb_dnnl_free(p); }
