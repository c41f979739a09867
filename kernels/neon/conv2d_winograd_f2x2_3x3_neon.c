// conv2d.winograd_f2x2_3x3.neon: Conv2d 3x3, stride 1, dilation 1 (any padding, groups, bias) by Winograd F(2x2,3x3)
// (Lavin & Gray 2016, points 0, +-1; tables in kernels/scalar/winograd_scalar.h): 4x4 tiles, U = G' g G'^T as
// [group][16][K/16][C][16] (or per run from [K/16][C][9][16] taps when tiles are few), 16x5 microkernel; NEON.
// Error bound 6.4e-6 = 4 u sqrt(512/2) kappa, kappa = 1.67 the transforms' amplification (docs/winograd.md).
#include "kernels/neon/winograd_neon.h"

cnb_status cnb_conv2d_winograd_f2x2_3x3_neon_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv2d_winograd_f2x2_3x3_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv2d_winograd_f2x2_3x3_neon_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv2d_winograd_f2x2_3x3_neon_free(cnb_plan_data *p);

// B^T d, one 1-D pass:  o0 = d0 - d2   o1 = d1 + d2   o2 = d2 - d1   o3 = d1 - d3
static inline void input_1d(const float32x4_t *d, float32x4_t *o) {
    o[0] = vsubq_f32(d[0], d[2]);
    o[1] = vaddq_f32(d[1], d[2]);
    o[2] = vsubq_f32(d[2], d[1]);
    o[3] = vsubq_f32(d[1], d[3]);
}

// V = B^T d B for each half of the 8 channels: the 1-D pass on each row (d B), then on each column.
static void input_tile(const float *s, ptrdiff_t rs, float *v, ptrdiff_t vs) {
    for (int h = 0; h < 8; h += 4) {
        float32x4_t t[4][4];
        for (int r = 0; r < 4; r++) {
            float32x4_t d[4];
            for (int j = 0; j < 4; j++) d[j] = vld1q_f32(s + r * rs + 8 * j + h);
            input_1d(d, t[r]);
        }
        for (int j = 0; j < 4; j++) {
            float32x4_t c[4], o[4];
            for (int i = 0; i < 4; i++) c[i] = t[i][j];
            input_1d(c, o);
            for (int i = 0; i < 4; i++) vst1q_f32(v + (i * 4 + j) * vs + h, o[i]);
        }
    }
}

// A'^T m, where A'^T = A^T diag(1, 1/2, 1/2, 1) undoes G' = diag(1, 2, 2, 1) G (below):
//   o0 = m0 + (m1 + m2)/2    o1 = (m1 - m2)/2 - m3
static inline void output_1d(const float32x4_t *m, float32x4_t *o) {
    o[0] = vfmaq_n_f32(m[0], vaddq_f32(m[1], m[2]), 0.5f);
    o[1] = vsubq_f32(vmulq_n_f32(vsubq_f32(m[1], m[2]), 0.5f), m[3]);   // halving is exact: one rounding, as fmsub
}

// Y = A'^T M A': the 1-D pass on each column (A'^T M, 2 x 4), then on each of its rows; plus bias, into y.
static void output_tile(const float *mm, ptrdiff_t ms, const float *bias, float *y, ptrdiff_t cs, ptrdiff_t ys, int rows,
                        int cols, int lanes) {
    for (int h = 0; h < lanes; h += 4) {
        float32x4_t t[2][4], out[4];
        for (int j = 0; j < 4; j++) {
            float32x4_t c[4], o[2];
            for (int i = 0; i < 4; i++) c[i] = vld1q_f32(mm + (i * 4 + j) * ms + h);
            output_1d(c, o);
            t[0][j] = o[0], t[1][j] = o[1];
        }
        output_1d(t[0], out);
        output_1d(t[1], out + 2);
        cnb_wino_neon_store_tile(out, 2, bias + h, y + h * cs, cs, ys, rows, cols, lanes - h < 4 ? lanes - h : 4);
    }
}

// G' g, one 1-D pass, G' = diag(1, 2, 2, 1) G = [1 0 0; 1 1 1; 1 -1 1; 0 0 1]:
//   u0 = g0   u1 = (g0 + g2) + g1   u2 = (g0 + g2) - g1   u3 = g2
static inline void weight_1d(const float32x4_t *g, float32x4_t *u) {
    const float32x4_t s = vaddq_f32(g[0], g[2]);
    u[0] = g[0];
    u[1] = vaddq_f32(s, g[1]);
    u[2] = vsubq_f32(s, g[1]);
    u[3] = g[2];
}

// U' = G' g G'^T for 16 output channels, [16][16]: columns of g (G' g, 4 x 3), then its rows; 4 channels at a time.
static void weight_tile(const float *w, float *u) {
    for (int h = 0; h < 16; h += 4) {
        float32x4_t t[4][3];
        for (int j = 0; j < 3; j++) {
            float32x4_t g[3], o[4];
            for (int i = 0; i < 3; i++) g[i] = vld1q_f32(w + (i * 3 + j) * 16 + h);
            weight_1d(g, o);
            for (int i = 0; i < 4; i++) t[i][j] = o[i];
        }
        for (int i = 0; i < 4; i++) {
            float32x4_t o[4];
            weight_1d(t[i], o);
            for (int j = 0; j < 4; j++) vst1q_f32(u + (i * 4 + j) * 16 + h, o[j]);
        }
    }
}

static const cnb_wino_neon_variant k_variant = {2, 4, "conv2d.winograd_f2x2_3x3.neon", input_tile, output_tile, weight_tile};

cnb_status cnb_conv2d_winograd_f2x2_3x3_neon_supports(const cnb_geom *g, cnb_error *why) {
    return cnb_wino_supports(g, k_variant.name, why);
}

cnb_status cnb_conv2d_winograd_f2x2_3x3_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    return cnb_wino_neon_plan_make(&k_variant, g, w, p, err);
}

cnb_status cnb_conv2d_winograd_f2x2_3x3_neon_run(const cnb_plan_data *p, const cnb_io *io) { return cnb_wino_neon_run(p, io); }

void cnb_conv2d_winograd_f2x2_3x3_neon_free(cnb_plan_data *p) { cnb_wino_neon_free(p); }
