// avgpool2d.onednn.ext: AvgPool2d by oneDNN's average pooling (libdnnl 2.x pooling_v2), a peer never chosen
// by `auto`. NCHW in and out, no reorders. count_include_pad maps to avg_include_padding / avg_exclude_padding;
// ceil_mode becomes extra bottom/right padding. Refused: divisor_override, and count_include_pad=True when
// a ceil_mode window hangs past the padding (PyTorch then divides by the part inside input+padding, oneDNN
// by the whole kernel).
#include "kernels/ext/onednn_util.h"

cnb_status cnb_avgpool2d_onednn_ext_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_avgpool2d_onednn_ext_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_avgpool2d_onednn_ext_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_avgpool2d_onednn_ext_free(cnb_plan_data *p);

static const char k_name[] = "avgpool2d.onednn.ext";

static dnnl_alg_kind_t alg(const cnb_geom *g) {
    return g->count_include_pad ? dnnl_pooling_avg_include_padding : dnnl_pooling_avg_exclude_padding;
}

cnb_status cnb_avgpool2d_onednn_ext_supports(const cnb_geom *g, cnb_error *why) {
    cnb_status st = cnb_dnnl_common_supports(g, why);
    if (st) return st;
    if (g->divisor != 0) return cnb_fail(why, CNB_E_UNSUPPORTED, "divisor_override: oneDNN has no fixed divisor");
    // PyTorch: pool = (min(hs + k, H + pad) - hs) * ...: the padding counts, the ceil_mode overhang does not.
    // oneDNN's include_padding divides by kh*kw always; they agree while no window passes H + pad.
    if (g->count_include_pad && (cnb_dnnl_pool_pad_hi(g->H, g->OH, g->kh, g->sh, 1, g->pad_t, g->pad_b) > g->pad_b ||
                                 cnb_dnnl_pool_pad_hi(g->W, g->OW, g->kw, g->sw, 1, g->pad_l, g->pad_r) > g->pad_r))
        return cnb_fail(why, CNB_E_UNSUPPORTED,
                        "count_include_pad with a ceil_mode window past the padding: oneDNN would divide by kh*kw");
    return cnb_dnnl_pool_try(g, alg(g), g->kh, g->kw, g->sh, g->sw, 1, 1, g->pad_t, g->pad_b, g->pad_l, g->pad_r, k_name,
                             why);
}

cnb_status cnb_avgpool2d_onednn_ext_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    (void)w;
    return cnb_dnnl_pool_plan(g, alg(g), g->kh, g->kw, g->sh, g->sw, 1, 1, g->pad_t, g->pad_b, g->pad_l, g->pad_r, p,
                              k_name, err);
}

cnb_status cnb_avgpool2d_onednn_ext_run(const cnb_plan_data *p, const cnb_io *io) { return cnb_dnnl_run_simple(p, io); }

void cnb_avgpool2d_onednn_ext_free(cnb_plan_data *p) { cnb_dnnl_free(p); }
