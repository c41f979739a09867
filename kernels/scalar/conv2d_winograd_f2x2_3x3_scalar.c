// conv2d.winograd_f2x2_3x3.scalar: Conv2d 3x3, stride 1, dilation 1 (any padding, groups, bias) by Winograd
// F(2x2, 3x3) (Lavin & Gray 2016; matrices, derivation and formulas in winograd_scalar.h): 4x4 tiles, U = G g G^T
// in double in plan() as [group][4x4][K][C], per block of tiles V = B^T d B, 16 K x C by C x tiles products, Y = A^T M A.
// Portable C. Error bound 6.4e-6 = 4 u sqrt(512/2) kappa, kappa = 1.67 the transforms' amplification (docs/winograd.md).
#include "kernels/scalar/winograd_scalar.h"

cnb_status cnb_conv2d_winograd_f2x2_3x3_scalar_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv2d_winograd_f2x2_3x3_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv2d_winograd_f2x2_3x3_scalar_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv2d_winograd_f2x2_3x3_scalar_free(cnb_plan_data *p);

cnb_status cnb_conv2d_winograd_f2x2_3x3_scalar_supports(const cnb_geom *g, cnb_error *why) {
    return cnb_wino_supports(g, "conv2d.winograd_f2x2_3x3.scalar", why);
}

cnb_status cnb_conv2d_winograd_f2x2_3x3_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    return cnb_wino_scalar_plan_make(2, cnb_wino_f2_input_1d, cnb_wino_f2_output_1d, g, w, p, err);
}

cnb_status cnb_conv2d_winograd_f2x2_3x3_scalar_run(const cnb_plan_data *p, const cnb_io *io) {
    return cnb_wino_scalar_run(p, io);
}

void cnb_conv2d_winograd_f2x2_3x3_scalar_free(cnb_plan_data *p) { cnb_wino_scalar_free(p); }
