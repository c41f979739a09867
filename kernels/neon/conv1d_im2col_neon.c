// conv1d.im2col.neon: Conv1d by implicit im2col + the 8x12 NEON GEMM. core/ describes a Conv1d as a
// Conv2d with H == 1 and a 1-high kernel, and NCL data is NC1L in memory, so this is conv2d.im2col.neon
// on that geometry. AArch64 NEON; reached only through the registry.
#include "core/registry.h"

cnb_status cnb_conv2d_im2col_neon_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv2d_im2col_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv2d_im2col_neon_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv2d_im2col_neon_free(cnb_plan_data *p);

cnb_status cnb_conv1d_im2col_neon_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv1d_im2col_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv1d_im2col_neon_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv1d_im2col_neon_free(cnb_plan_data *p);

cnb_status cnb_conv1d_im2col_neon_supports(const cnb_geom *g, cnb_error *why) {
    return cnb_conv2d_im2col_neon_supports(g, why);
}

cnb_status cnb_conv1d_im2col_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    return cnb_conv2d_im2col_neon_plan(g, w, p, err);
}

cnb_status cnb_conv1d_im2col_neon_run(const cnb_plan_data *p, const cnb_io *io) {
    return cnb_conv2d_im2col_neon_run(p, io);
}

void cnb_conv1d_im2col_neon_free(cnb_plan_data *p) { cnb_conv2d_im2col_neon_free(p); }
