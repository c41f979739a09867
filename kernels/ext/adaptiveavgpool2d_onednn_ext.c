// adaptiveavgpool2d.onednn.ext: AdaptiveAvgPool2d by oneDNN's average pooling (libdnnl 2.x), a peer never
// chosen by `auto`, for uniform cells only: when OH divides H and OW divides W, cell o spans
// [o*H/OH, (o+1)*H/OH), i.e. an AvgPool2d with kernel = stride = H/OH (W/OW) and no padding. Other sizes
// have cells of varying length, which oneDNN cannot express: refused. NCHW in and out, no reorders.
#include "kernels/ext/onednn_util.h"

cnb_status cnb_adaptiveavgpool2d_onednn_ext_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_adaptiveavgpool2d_onednn_ext_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                                 cnb_error *err);
cnb_status cnb_adaptiveavgpool2d_onednn_ext_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_adaptiveavgpool2d_onednn_ext_free(cnb_plan_data *p);

static const char k_name[] = "adaptiveavgpool2d.onednn.ext";

cnb_status cnb_adaptiveavgpool2d_onednn_ext_supports(const cnb_geom *g, cnb_error *why) {
    cnb_status st = cnb_dnnl_common_supports(g, why);
    if (st) return st;
    if (g->OH < 1 || g->OW < 1 || g->H % g->OH || g->W % g->OW)
        return cnb_fail(why, CNB_E_UNSUPPORTED,
                        "cells are not uniform (%lldx%lld input, %lldx%lld output): not a plain avg pool",
                        (long long)g->H, (long long)g->W, (long long)g->OH, (long long)g->OW);
    const int64_t kh = g->H / g->OH, kw = g->W / g->OW;
    return cnb_dnnl_pool_try(g, dnnl_pooling_avg_exclude_padding, kh, kw, kh, kw, 1, 1, 0, 0, 0, 0, k_name, why);
}

cnb_status cnb_adaptiveavgpool2d_onednn_ext_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                                 cnb_error *err) {
    (void)w;
    p->priv = NULL;
    p->workspace_bytes = 0;
    if (g->in_numel == 0 || g->out_numel == 0) return CNB_OK;
    const int64_t kh = g->H / g->OH, kw = g->W / g->OW;
    return cnb_dnnl_pool_plan(g, dnnl_pooling_avg_exclude_padding, kh, kw, kh, kw, 1, 1, 0, 0, 0, 0, p, k_name, err);
}

cnb_status cnb_adaptiveavgpool2d_onednn_ext_run(const cnb_plan_data *p, const cnb_io *io) {
    return cnb_dnnl_run_simple(p, io);
}

void cnb_adaptiveavgpool2d_onednn_ext_free(cnb_plan_data *p) { cnb_dnnl_free(p); }
