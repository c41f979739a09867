// maxpool2d.onednn.ext: MaxPool2d by oneDNN's max pooling (libdnnl 2.x pooling_v2, which has dilation), a
// peer never chosen by `auto`. NCHW in and out, no reorders (oneDNN's pooling takes NCHW as given); ceil_mode
// becomes extra bottom/right padding, which max pooling never selects. No indices: oneDNN's workspace holds
// window offsets for its own backward pass, not PyTorch's flat h*W+w, so return_indices=True is refused.
// NaN and -inf differ from PyTorch (data the registry cannot see): see cnb_maxpool2d_onednn_ext_run.
#include "kernels/ext/onednn_util.h"

cnb_status cnb_maxpool2d_onednn_ext_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_maxpool2d_onednn_ext_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_maxpool2d_onednn_ext_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_maxpool2d_onednn_ext_free(cnb_plan_data *p);

static const char k_name[] = "maxpool2d.onednn.ext";

// Whether some window along one dimension touches no input element. Windows that start inside the input
// always touch it (PyTorch makes every window start before in + lo), so only those starting in the low
// padding are checked: with dilation their taps can jump over a short input.
static bool empty_window(int64_t in, int64_t out, int64_t k, int64_t s, int64_t d, int64_t lo) {
    for (int64_t o = 0; o < out && o * s < lo; o++) {
        const int64_t start = o * s - lo;
        const int64_t i0 = (-start + d - 1) / d;   // first tap at or after 0
        if (i0 >= k || start + i0 * d >= in) return true;
    }
    return false;
}

cnb_status cnb_maxpool2d_onednn_ext_supports(const cnb_geom *g, cnb_error *why) {
    cnb_status st = cnb_dnnl_common_supports(g, why);
    if (st) return st;
    if (g->return_indices)
        return cnb_fail(why, CNB_E_UNSUPPORTED, "return_indices=True: oneDNN does not produce PyTorch's flat indices");
    // PyTorch gives -inf for a window of padding only; oneDNN gives -FLT_MAX.
    if (empty_window(g->H, g->OH, g->kh, g->sh, g->dh, g->pad_t) || empty_window(g->W, g->OW, g->kw, g->sw, g->dw, g->pad_l))
        return cnb_fail(why, CNB_E_UNSUPPORTED, "a window covers padding only (PyTorch: -inf, oneDNN: -FLT_MAX)");
    return cnb_dnnl_pool_try(g, dnnl_pooling_max, g->kh, g->kw, g->sh, g->sw, g->dh, g->dw, g->pad_t, g->pad_b, g->pad_l,
                             g->pad_r, k_name, why);
}

cnb_status cnb_maxpool2d_onednn_ext_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    (void)w;
    return cnb_dnnl_pool_plan(g, dnnl_pooling_max, g->kh, g->kw, g->sh, g->sw, g->dh, g->dw, g->pad_t, g->pad_b, g->pad_l,
                              g->pad_r, p, k_name, err);
}

// NaN and -inf, measured on 2.6.3 (jit and simple_nchw kernels alike): oneDNN's max starts from -FLT_MAX and
// takes an element only if it is greater, so every NaN is ignored ([NaN, 1] gives 1 where PyTorch gives NaN)
// and a window holding only NaN and -inf gives -FLT_MAX (PyTorch: NaN or -inf). Tests that feed NaN or -inf
// to peers must expect this; the lead decides how.
cnb_status cnb_maxpool2d_onednn_ext_run(const cnb_plan_data *p, const cnb_io *io) {
    // Indices were asked for but cannot be produced: fail rather than leave them unwritten.
    if (io->indices) return CNB_E_UNSUPPORTED;
    return cnb_dnnl_run_simple(p, io);
}

void cnb_maxpool2d_onednn_ext_free(cnb_plan_data *p) { cnb_dnnl_free(p); }
