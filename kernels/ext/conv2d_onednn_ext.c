// conv2d.onednn.ext: Conv2d by oneDNN's direct convolution (libdnnl 2.x C API), a peer to compare against,
// never chosen by `auto`. NCHW in and out; oneDNN picks its own src/weights/dst layouts, the activation
// reorders run inside run() (timed), the weights are reordered once in plan(). Groups, dilation,
// asymmetric padding and bias map directly; padding_mode must be 'zeros'. See onednn_util.h for threads.
#include "kernels/ext/onednn_util.h"

cnb_status cnb_conv2d_onednn_ext_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv2d_onednn_ext_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv2d_onednn_ext_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv2d_onednn_ext_free(cnb_plan_data *p);

static const char k_name[] = "conv2d.onednn.ext";

cnb_status cnb_conv2d_onednn_ext_supports(const cnb_geom *g, cnb_error *why) {
    return cnb_dnnl_conv_supports(g, 2, k_name, why);
}

cnb_status cnb_conv2d_onednn_ext_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    return cnb_dnnl_conv_plan(g, 2, w, p, k_name, err);
}

cnb_status cnb_conv2d_onednn_ext_run(const cnb_plan_data *p, const cnb_io *io) { return cnb_dnnl_run_simple(p, io); }

void cnb_conv2d_onednn_ext_free(cnb_plan_data *p) { cnb_dnnl_free(p); }
