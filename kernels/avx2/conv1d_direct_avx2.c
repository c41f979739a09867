// conv1d.direct.avx2: Conv1d by direct convolution. core/ describes a Conv1d as a Conv2d with H == 1 and a
// 1-high kernel, and NCL data is NC1L in memory, so this is conv2d.direct.avx2 on that geometry: per tile,
// mr output channels x nv*8 outputs accumulated over (channel, tap), the dilation only shifting the
// contiguous input load (see kernels/avx2/conv2d_direct_avx2.c). Needs AVX2+FMA.
#include "core/registry.h"

cnb_status cnb_conv2d_direct_avx2_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv2d_direct_avx2_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv2d_direct_avx2_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv2d_direct_avx2_free(cnb_plan_data *p);

cnb_status cnb_conv1d_direct_avx2_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv1d_direct_avx2_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv1d_direct_avx2_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv1d_direct_avx2_free(cnb_plan_data *p);

cnb_status cnb_conv1d_direct_avx2_supports(const cnb_geom *g, cnb_error *why) {
    return cnb_conv2d_direct_avx2_supports(g, why);
}

cnb_status cnb_conv1d_direct_avx2_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    return cnb_conv2d_direct_avx2_plan(g, w, p, err);
}

cnb_status cnb_conv1d_direct_avx2_run(const cnb_plan_data *p, const cnb_io *io) {
    return cnb_conv2d_direct_avx2_run(p, io);
}

void cnb_conv1d_direct_avx2_free(cnb_plan_data *p) { cnb_conv2d_direct_avx2_free(p); }
