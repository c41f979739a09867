// conv2d.winograd_f4x4_3x3.neon: Conv2d 3x3, stride 1, dilation 1 (any padding, groups, bias) by Winograd F(4x4,3x3)
// (Lavin & Gray 2016, points 0, +-1, +-2; tables in kernels/scalar/winograd_scalar.h): 6x6 tiles, U = G' g G'^T as
// [group][36][K/16][C][16] (or per run from [K/16][C][9][16] taps when tiles are few), 16x5 microkernel; NEON.
// Error bound 1.2e-4 = 4 u sqrt(512/2) kappa, kappa = 31.4 the transforms' amplification (docs/winograd.md).
#include "kernels/neon/winograd_neon.h"

cnb_status cnb_conv2d_winograd_f4x4_3x3_neon_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv2d_winograd_f4x4_3x3_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv2d_winograd_f4x4_3x3_neon_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv2d_winograd_f4x4_3x3_neon_free(cnb_plan_data *p);

// B^T d, one 1-D pass (vfmsq_f32(c, a, b) = c - a b):
//   o0 = 4 d0 - 5 d2 + d4
//   o1 = (d4 - 4 d2) + (d3 - 4 d1)      o2 = (d4 - 4 d2) - (d3 - 4 d1)
//   o3 = (d4 - d2) + 2 (d3 - d1)        o4 = (d4 - d2) - 2 (d3 - d1)
//   o5 = 4 d1 - 5 d3 + d5
static inline void input_1d(const float32x4_t *d, float32x4_t *o) {
    const float32x4_t four = vdupq_n_f32(4.f), five = vdupq_n_f32(5.f), two = vdupq_n_f32(2.f);
    const float32x4_t a = vfmsq_f32(d[4], four, d[2]), b = vfmsq_f32(d[3], four, d[1]);
    const float32x4_t c = vsubq_f32(d[4], d[2]), e = vsubq_f32(d[3], d[1]);
    o[0] = vfmsq_f32(vfmaq_f32(d[4], four, d[0]), five, d[2]);
    o[1] = vaddq_f32(a, b);
    o[2] = vsubq_f32(a, b);
    o[3] = vfmaq_f32(c, two, e);
    o[4] = vfmsq_f32(c, two, e);
    o[5] = vfmsq_f32(vfmaq_f32(d[5], four, d[1]), five, d[3]);
}

// V = B^T d B for each half of the 8 channels: the 1-D pass on each row (d B), then on each column.
static void input_tile(const float *s, ptrdiff_t rs, float *v, ptrdiff_t vs) {
    for (int h = 0; h < 8; h += 4) {
        float32x4_t t[6][6];
        for (int r = 0; r < 6; r++) {
            float32x4_t d[6];
            for (int j = 0; j < 6; j++) d[j] = vld1q_f32(s + r * rs + 8 * j + h);
            input_1d(d, t[r]);
        }
        for (int j = 0; j < 6; j++) {
            float32x4_t c[6], o[6];
            for (int i = 0; i < 6; i++) c[i] = t[i][j];
            input_1d(c, o);
            for (int i = 0; i < 6; i++) vst1q_f32(v + (i * 6 + j) * vs + h, o[i]);
        }
    }
}

// A'^T m, where A'^T = A^T diag(1/4, -1/6, -1/6, 1/24, 1/24, 1) undoes G' = diag(4, -6, -6, 24, 24, 1) G
// (below); with s = m1 + m2, t = m1 - m2, u = m3 + m4, w = m3 - m4:
//   o0 = m0/4 - s/6 + u/24    o1 = -t/6 + w/12    o2 = -s/6 + u/6    o3 = -t/6 + w/3 + m5
static inline void output_1d(const float32x4_t *m, float32x4_t *o) {
    const float32x4_t s = vaddq_f32(m[1], m[2]), t = vsubq_f32(m[1], m[2]);
    const float32x4_t u = vaddq_f32(m[3], m[4]), w = vsubq_f32(m[3], m[4]);
    const float32x4_t s6 = vmulq_n_f32(s, -1.f / 6), t6 = vmulq_n_f32(t, -1.f / 6);
    o[0] = vfmaq_n_f32(vfmaq_n_f32(s6, u, 1.f / 24), m[0], 0.25f);
    o[1] = vfmaq_n_f32(t6, w, 1.f / 12);
    o[2] = vfmaq_n_f32(s6, u, 1.f / 6);
    o[3] = vaddq_f32(vfmaq_n_f32(t6, w, 1.f / 3), m[5]);
}

// Y = A'^T M A': the 1-D pass on each column (A'^T M, 4 x 6), then on each of its rows; plus bias, into y.
static void output_tile(const float *mm, ptrdiff_t ms, const float *bias, float *y, ptrdiff_t cs, ptrdiff_t ys, int rows,
                        int cols, int lanes) {
    for (int h = 0; h < lanes; h += 4) {
        float32x4_t t[4][6], out[16];
        for (int j = 0; j < 6; j++) {
            float32x4_t c[6], o[4];
            for (int i = 0; i < 6; i++) c[i] = vld1q_f32(mm + (i * 6 + j) * ms + h);
            output_1d(c, o);
            for (int i = 0; i < 4; i++) t[i][j] = o[i];
        }
        for (int i = 0; i < 4; i++) output_1d(t[i], out + 4 * i);
        cnb_wino_neon_store_tile(out, 4, bias + h, y + h * cs, cs, ys, rows, cols, lanes - h < 4 ? lanes - h : 4);
    }
}

// G' g, one 1-D pass, G' = diag(4, -6, -6, 24, 24, 1) G = [1 0 0; 1 1 1; 1 -1 1; 1 2 4; 1 -2 4; 0 0 1]:
//   u0 = g0   u1 = (g0 + g2) + g1   u2 = (g0 + g2) - g1   u3 = (g0 + 4 g2) + 2 g1   u4 = (g0 + 4 g2) - 2 g1   u5 = g2
static inline void weight_1d(const float32x4_t *g, float32x4_t *u) {
    const float32x4_t s = vaddq_f32(g[0], g[2]), c = vfmaq_n_f32(g[0], g[2], 4.f), d = vaddq_f32(g[1], g[1]);
    u[0] = g[0];
    u[1] = vaddq_f32(s, g[1]);
    u[2] = vsubq_f32(s, g[1]);
    u[3] = vaddq_f32(c, d);
    u[4] = vsubq_f32(c, d);
    u[5] = g[2];
}

// U' = G' g G'^T for 16 output channels, [36][16]: columns of g (G' g, 6 x 3), then its rows; 4 channels at a time.
static void weight_tile(const float *w, float *u) {
    for (int h = 0; h < 16; h += 4) {
        float32x4_t t[6][3];
        for (int j = 0; j < 3; j++) {
            float32x4_t g[3], o[6];
            for (int i = 0; i < 3; i++) g[i] = vld1q_f32(w + (i * 3 + j) * 16 + h);
            weight_1d(g, o);
            for (int i = 0; i < 6; i++) t[i][j] = o[i];
        }
        for (int i = 0; i < 6; i++) {
            float32x4_t o[6];
            weight_1d(t[i], o);
            for (int j = 0; j < 6; j++) vst1q_f32(u + (i * 6 + j) * 16 + h, o[j]);
        }
    }
}

static const cnb_wino_neon_variant k_variant = {4, 6, "conv2d.winograd_f4x4_3x3.neon", input_tile, output_tile, weight_tile};

cnb_status cnb_conv2d_winograd_f4x4_3x3_neon_supports(const cnb_geom *g, cnb_error *why) {
    return cnb_wino_supports(g, k_variant.name, why);
}

cnb_status cnb_conv2d_winograd_f4x4_3x3_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    return cnb_wino_neon_plan_make(&k_variant, g, w, p, err);
}

cnb_status cnb_conv2d_winograd_f4x4_3x3_neon_run(const cnb_plan_data *p, const cnb_io *io) { return cnb_wino_neon_run(p, io); }

void cnb_conv2d_winograd_f4x4_3x3_neon_free(cnb_plan_data *p) { cnb_wino_neon_free(p); }
