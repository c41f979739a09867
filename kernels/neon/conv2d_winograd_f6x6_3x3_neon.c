// conv2d.winograd_f6x6_3x3.neon: Conv2d 3x3, stride 1, dilation 1 (any padding, groups, bias) by Winograd F(6x6,3x3)
// (Toom-Cook, points 0, +-1, +-2, +-1/2 as NNPACK; tables in kernels/scalar/winograd_scalar.h): 8x8 tiles, U = G' g G'^T
// as [group][64][K/16][C][16] (or per run from [K/16][C][9][16] taps when tiles are few), 16x5 microkernel; NEON.
// Error bound 1.8e-4 = 4 u sqrt(512/2) kappa, kappa = 46.3 the transforms' amplification (docs/winograd.md).
#include "kernels/neon/winograd_neon.h"

cnb_status cnb_conv2d_winograd_f6x6_3x3_neon_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv2d_winograd_f6x6_3x3_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv2d_winograd_f6x6_3x3_neon_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv2d_winograd_f6x6_3x3_neon_free(cnb_plan_data *p);

// B^T d, one 1-D pass (NNPACK's grouping; vfmsq_f32(c, a, b) = c - a b):
//   o0 = (d0 - d6) + 5.25 (d4 - d2)               o7 = (d7 - d1) + 5.25 (d3 - d5)
//   a = (d2 + d6) - 4.25 d4,  b = (d1 + d5) - 4.25 d3:                 o1 = a + b   o2 = a - b
//   c = (d6 + 0.25 d2) - 1.25 d4,  e = (0.5 d1 - 2.5 d3) + 2 d5:       o3 = c + e   o4 = c - e
//   f = (d6 + 4 d2) - 5 d4,  h = (2 d1 - 2.5 d3) + 0.5 d5:             o5 = f + h   o6 = f - h
static inline void input_1d(const float32x4_t *d, float32x4_t *o) {
    o[0] = vfmaq_n_f32(vsubq_f32(d[0], d[6]), vsubq_f32(d[4], d[2]), 5.25f);
    o[7] = vfmaq_n_f32(vsubq_f32(d[7], d[1]), vsubq_f32(d[3], d[5]), 5.25f);
    const float32x4_t k425 = vdupq_n_f32(4.25f), k25 = vdupq_n_f32(2.5f), k125 = vdupq_n_f32(1.25f), k5 = vdupq_n_f32(5.f);
    const float32x4_t a = vfmsq_f32(vaddq_f32(d[2], d[6]), k425, d[4]);
    const float32x4_t b = vfmsq_f32(vaddq_f32(d[1], d[5]), k425, d[3]);
    o[1] = vaddq_f32(a, b);
    o[2] = vsubq_f32(a, b);
    const float32x4_t c = vfmsq_f32(vfmaq_n_f32(d[6], d[2], 0.25f), k125, d[4]);
    const float32x4_t e = vfmaq_n_f32(vfmsq_f32(vmulq_n_f32(d[1], 0.5f), k25, d[3]), d[5], 2.f);
    o[3] = vaddq_f32(c, e);
    o[4] = vsubq_f32(c, e);
    const float32x4_t f = vfmsq_f32(vfmaq_n_f32(d[6], d[2], 4.f), k5, d[4]);
    const float32x4_t h = vfmaq_n_f32(vfmsq_f32(vmulq_n_f32(d[1], 2.f), k25, d[3]), d[5], 0.5f);
    o[5] = vaddq_f32(f, h);
    o[6] = vsubq_f32(f, h);
}

// V = B^T d B for each half of the 8 channels: the 1-D pass on each row (d B), then on each column.
static void input_tile(const float *s, ptrdiff_t rs, float *v, ptrdiff_t vs) {
    for (int hh = 0; hh < 8; hh += 4) {
        float32x4_t t[8][8];
        for (int r = 0; r < 8; r++) {
            float32x4_t d[8];
            for (int j = 0; j < 8; j++) d[j] = vld1q_f32(s + r * rs + 8 * j + hh);
            input_1d(d, t[r]);
        }
        for (int j = 0; j < 8; j++) {
            float32x4_t c[8], o[8];
            for (int i = 0; i < 8; i++) c[i] = t[i][j];
            input_1d(c, o);
            for (int i = 0; i < 8; i++) vst1q_f32(v + (i * 8 + j) * vs + hh, o[i]);
        }
    }
}

// A'^T m, where A'^T = A^T diag(1, -2/9, -2/9, 1/90, 1/90, 8/45, 8/45, 1) undoes G' = D G (below); with
// S = -2/9 (m1 + m2), T = -2/9 (m1 - m2), u = m3 + m4, w = m3 - m4, p = m5 + m6, q = m5 - m6:
//   o0 = m0 + S + u/90 + 8p/45     o1 = T + 2w/90 + 4q/45     o2 = S + 4u/90 + 2p/45
//   o3 = T + 8w/90 + q/45          o4 = S + 16u/90 + p/90     o5 = T + 32w/90 + q/180 + m7
static inline void output_1d(const float32x4_t *m, float32x4_t *o) {
    const float k29 = (float)(-2.0 / 9);
    const float32x4_t S = vmulq_n_f32(vaddq_f32(m[1], m[2]), k29), T = vmulq_n_f32(vsubq_f32(m[1], m[2]), k29);
    const float32x4_t u = vaddq_f32(m[3], m[4]), w = vsubq_f32(m[3], m[4]);
    const float32x4_t p = vaddq_f32(m[5], m[6]), q = vsubq_f32(m[5], m[6]);
    o[0] = vaddq_f32(m[0], vfmaq_n_f32(vfmaq_n_f32(S, p, (float)(8.0 / 45)), u, (float)(1.0 / 90)));
    o[1] = vfmaq_n_f32(vfmaq_n_f32(T, q, (float)(4.0 / 45)), w, (float)(2.0 / 90));
    o[2] = vfmaq_n_f32(vfmaq_n_f32(S, p, (float)(2.0 / 45)), u, (float)(4.0 / 90));
    o[3] = vfmaq_n_f32(vfmaq_n_f32(T, q, (float)(1.0 / 45)), w, (float)(8.0 / 90));
    o[4] = vfmaq_n_f32(vfmaq_n_f32(S, p, (float)(1.0 / 90)), u, (float)(16.0 / 90));
    o[5] = vaddq_f32(m[7], vfmaq_n_f32(vfmaq_n_f32(T, q, (float)(1.0 / 180)), w, (float)(32.0 / 90)));
}

// Y = A'^T M A': the 1-D pass on each column (A'^T M, 6 x 8), then on each of its rows; plus bias, into y.
static void output_tile(const float *mm, ptrdiff_t ms, const float *bias, float *y, ptrdiff_t cs, ptrdiff_t ys, int rows,
                        int cols, int lanes) {
    for (int h = 0; h < lanes; h += 4) {
        float32x4_t t[6][8], out[36];
        for (int j = 0; j < 8; j++) {
            float32x4_t c[8], o[6];
            for (int i = 0; i < 8; i++) c[i] = vld1q_f32(mm + (i * 8 + j) * ms + h);
            output_1d(c, o);
            for (int i = 0; i < 6; i++) t[i][j] = o[i];
        }
        for (int i = 0; i < 6; i++) output_1d(t[i], out + 6 * i);
        cnb_wino_neon_store_tile(out, 6, bias + h, y + h * cs, cs, ys, rows, cols, lanes - h < 4 ? lanes - h : 4);
    }
}

// G' g, one 1-D pass, G' = diag(1, -9/2, -9/2, 90, 90, 45/8, 45/8, 1) G
//   = [1 0 0; 1 1 1; 1 -1 1; 1 2 4; 1 -2 4; 4 2 1; 4 -2 1; 0 0 1]:
//   u0 = g0   u1,2 = (g0 + g2) +- g1   u3,4 = (g0 + 4 g2) +- 2 g1   u5,6 = (4 g0 + g2) +- 2 g1   u7 = g2
static inline void weight_1d(const float32x4_t *g, float32x4_t *u) {
    const float32x4_t s = vaddq_f32(g[0], g[2]), d = vaddq_f32(g[1], g[1]);
    const float32x4_t c = vfmaq_n_f32(g[0], g[2], 4.f), e = vfmaq_n_f32(g[2], g[0], 4.f);
    u[0] = g[0];
    u[1] = vaddq_f32(s, g[1]);
    u[2] = vsubq_f32(s, g[1]);
    u[3] = vaddq_f32(c, d);
    u[4] = vsubq_f32(c, d);
    u[5] = vaddq_f32(e, d);
    u[6] = vsubq_f32(e, d);
    u[7] = g[2];
}

// U' = G' g G'^T for 16 output channels, [64][16]: columns of g (G' g, 8 x 3), then its rows; 4 channels at a time.
static void weight_tile(const float *w, float *u) {
    for (int h = 0; h < 16; h += 4) {
        float32x4_t t[8][3];
        for (int j = 0; j < 3; j++) {
            float32x4_t g[3], o[8];
            for (int i = 0; i < 3; i++) g[i] = vld1q_f32(w + (i * 3 + j) * 16 + h);
            weight_1d(g, o);
            for (int i = 0; i < 8; i++) t[i][j] = o[i];
        }
        for (int i = 0; i < 8; i++) {
            float32x4_t o[8];
            weight_1d(t[i], o);
            for (int j = 0; j < 8; j++) vst1q_f32(u + (i * 8 + j) * 16 + h, o[j]);
        }
    }
}

static const cnb_wino_neon_variant k_variant = {6, 8, "conv2d.winograd_f6x6_3x3.neon", input_tile, output_tile, weight_tile};

cnb_status cnb_conv2d_winograd_f6x6_3x3_neon_supports(const cnb_geom *g, cnb_error *why) {
    return cnb_wino_supports(g, k_variant.name, why);
}

cnb_status cnb_conv2d_winograd_f6x6_3x3_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    return cnb_wino_neon_plan_make(&k_variant, g, w, p, err);
}

cnb_status cnb_conv2d_winograd_f6x6_3x3_neon_run(const cnb_plan_data *p, const cnb_io *io) { return cnb_wino_neon_run(p, io); }

void cnb_conv2d_winograd_f6x6_3x3_neon_free(cnb_plan_data *p) { cnb_wino_neon_free(p); }
