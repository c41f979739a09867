// conv2d.winograd_f6x6_3x3.avx2: Conv2d 3x3, stride 1, dilation 1 (any padding, groups, bias) by Winograd F(6x6,3x3)
// (Toom-Cook, points 0, +-1, +-2, +-1/2 as NNPACK; tables in kernels/scalar/winograd_scalar.h): 8x8 tiles, U = G' g G'^T
// as [group][64][K/16][C][16] (or per run from [K/16][C][9][16] taps when tiles are few), 16x6 microkernel; AVX2+FMA.
// Error bound 1.8e-4 = 4 u sqrt(512/2) kappa, kappa = 46.3 the transforms' amplification (docs/winograd.md).
#include "kernels/avx2/winograd_avx2.h"

cnb_status cnb_conv2d_winograd_f6x6_3x3_avx2_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv2d_winograd_f6x6_3x3_avx2_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv2d_winograd_f6x6_3x3_avx2_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv2d_winograd_f6x6_3x3_avx2_free(cnb_plan_data *p);

// B^T d, one 1-D pass (NNPACK's grouping):
//   o0 = (d0 - d6) + 5.25 (d4 - d2)               o7 = (d7 - d1) + 5.25 (d3 - d5)
//   a = (d2 + d6) - 4.25 d4,  b = (d1 + d5) - 4.25 d3:                 o1 = a + b   o2 = a - b
//   c = (d6 + 0.25 d2) - 1.25 d4,  e = (0.5 d1 - 2.5 d3) + 2 d5:       o3 = c + e   o4 = c - e
//   f = (d6 + 4 d2) - 5 d4,  h = (2 d1 - 2.5 d3) + 0.5 d5:             o5 = f + h   o6 = f - h
static inline void input_1d(const __m256 *d, __m256 *o) {
    const __m256 k525 = _mm256_set1_ps(5.25f), k425 = _mm256_set1_ps(4.25f), k25 = _mm256_set1_ps(2.5f);
    const __m256 k125 = _mm256_set1_ps(1.25f), k05 = _mm256_set1_ps(0.5f), k2 = _mm256_set1_ps(2.f);
    const __m256 k4 = _mm256_set1_ps(4.f), k5 = _mm256_set1_ps(5.f), k025 = _mm256_set1_ps(0.25f);
    o[0] = _mm256_fmadd_ps(k525, _mm256_sub_ps(d[4], d[2]), _mm256_sub_ps(d[0], d[6]));
    o[7] = _mm256_fmadd_ps(k525, _mm256_sub_ps(d[3], d[5]), _mm256_sub_ps(d[7], d[1]));
    const __m256 a = _mm256_fnmadd_ps(k425, d[4], _mm256_add_ps(d[2], d[6]));
    const __m256 b = _mm256_fnmadd_ps(k425, d[3], _mm256_add_ps(d[1], d[5]));
    o[1] = _mm256_add_ps(a, b);
    o[2] = _mm256_sub_ps(a, b);
    const __m256 c = _mm256_fnmadd_ps(k125, d[4], _mm256_fmadd_ps(k025, d[2], d[6]));
    const __m256 e = _mm256_fmadd_ps(k2, d[5], _mm256_fnmadd_ps(k25, d[3], _mm256_mul_ps(k05, d[1])));
    o[3] = _mm256_add_ps(c, e);
    o[4] = _mm256_sub_ps(c, e);
    const __m256 f = _mm256_fnmadd_ps(k5, d[4], _mm256_fmadd_ps(k4, d[2], d[6]));
    const __m256 h = _mm256_fmadd_ps(k05, d[5], _mm256_fnmadd_ps(k25, d[3], _mm256_mul_ps(k2, d[1])));
    o[5] = _mm256_add_ps(f, h);
    o[6] = _mm256_sub_ps(f, h);
}

// V = B^T d B: the 1-D pass on each row (d B), then on each column.
static void input_tile(const float *s, ptrdiff_t rs, float *v, ptrdiff_t vs) {
    __m256 t[8][8];
    for (int r = 0; r < 8; r++) {
        __m256 d[8];
        for (int j = 0; j < 8; j++) d[j] = _mm256_load_ps(s + r * rs + 8 * j);
        input_1d(d, t[r]);
    }
    for (int j = 0; j < 8; j++) {
        __m256 c[8], o[8];
        for (int i = 0; i < 8; i++) c[i] = t[i][j];
        input_1d(c, o);
        for (int i = 0; i < 8; i++) _mm256_store_ps(v + (i * 8 + j) * vs, o[i]);
    }
}

// A'^T m, where A'^T = A^T diag(1, -2/9, -2/9, 1/90, 1/90, 8/45, 8/45, 1) undoes G' = D G (below); with
// S = -2/9 (m1 + m2), T = -2/9 (m1 - m2), u = m3 + m4, w = m3 - m4, p = m5 + m6, q = m5 - m6:
//   o0 = m0 + S + u/90 + 8p/45     o1 = T + 2w/90 + 4q/45     o2 = S + 4u/90 + 2p/45
//   o3 = T + 8w/90 + q/45          o4 = S + 16u/90 + p/90     o5 = T + 32w/90 + q/180 + m7
static inline void output_1d(const __m256 *m, __m256 *o) {
    const __m256 k29 = _mm256_set1_ps(-2.f / 9);
    const __m256 S = _mm256_mul_ps(_mm256_add_ps(m[1], m[2]), k29), T = _mm256_mul_ps(_mm256_sub_ps(m[1], m[2]), k29);
    const __m256 u = _mm256_add_ps(m[3], m[4]), w = _mm256_sub_ps(m[3], m[4]);
    const __m256 p = _mm256_add_ps(m[5], m[6]), q = _mm256_sub_ps(m[5], m[6]);
#define CNB_K(x) _mm256_set1_ps((float)(x))
    o[0] = _mm256_add_ps(m[0], _mm256_fmadd_ps(u, CNB_K(1.0 / 90), _mm256_fmadd_ps(p, CNB_K(8.0 / 45), S)));
    o[1] = _mm256_fmadd_ps(w, CNB_K(2.0 / 90), _mm256_fmadd_ps(q, CNB_K(4.0 / 45), T));
    o[2] = _mm256_fmadd_ps(u, CNB_K(4.0 / 90), _mm256_fmadd_ps(p, CNB_K(2.0 / 45), S));
    o[3] = _mm256_fmadd_ps(w, CNB_K(8.0 / 90), _mm256_fmadd_ps(q, CNB_K(1.0 / 45), T));
    o[4] = _mm256_fmadd_ps(u, CNB_K(16.0 / 90), _mm256_fmadd_ps(p, CNB_K(1.0 / 90), S));
    o[5] = _mm256_add_ps(m[7], _mm256_fmadd_ps(w, CNB_K(32.0 / 90), _mm256_fmadd_ps(q, CNB_K(1.0 / 180), T)));
#undef CNB_K
}

// Y = A'^T M A': the 1-D pass on each column (A'^T M, 6 x 8), then on each of its rows; plus bias, into y.
static void output_tile(const float *mm, ptrdiff_t ms, const float *bias, float *y, ptrdiff_t cs, ptrdiff_t ys, int rows,
                        int cols, int lanes) {
    __m256 t[6][8], out[36];
    for (int j = 0; j < 8; j++) {
        __m256 c[8], o[6];
        for (int i = 0; i < 8; i++) c[i] = _mm256_load_ps(mm + (i * 8 + j) * ms);
        output_1d(c, o);
        for (int i = 0; i < 6; i++) t[i][j] = o[i];
    }
    for (int i = 0; i < 6; i++) output_1d(t[i], out + 6 * i);
    cnb_wino_store_tile(out, 6, bias, y, cs, ys, rows, cols, lanes);
}

// G' g, one 1-D pass, G' = diag(1, -9/2, -9/2, 90, 90, 45/8, 45/8, 1) G
//   = [1 0 0; 1 1 1; 1 -1 1; 1 2 4; 1 -2 4; 4 2 1; 4 -2 1; 0 0 1]:
//   u0 = g0   u1,2 = (g0 + g2) +- g1   u3,4 = (g0 + 4 g2) +- 2 g1   u5,6 = (4 g0 + g2) +- 2 g1   u7 = g2
static inline void weight_1d(const __m256 *g, __m256 *u) {
    // adds only, so that no operand is overwritten (an FMA would cost a register copy here)
    const __m256 four = _mm256_set1_ps(4.f);
    const __m256 s = _mm256_add_ps(g[0], g[2]), d = _mm256_add_ps(g[1], g[1]);
    const __m256 c = _mm256_add_ps(g[0], _mm256_mul_ps(four, g[2])), e = _mm256_add_ps(g[2], _mm256_mul_ps(four, g[0]));
    u[0] = g[0];
    u[1] = _mm256_add_ps(s, g[1]);
    u[2] = _mm256_sub_ps(s, g[1]);
    u[3] = _mm256_add_ps(c, d);
    u[4] = _mm256_sub_ps(c, d);
    u[5] = _mm256_add_ps(e, d);
    u[6] = _mm256_sub_ps(e, d);
    u[7] = g[2];
}

// U' = G' g G'^T for 16 output channels, [64][16]: columns of g (G' g, 8 x 3), then its rows.
static void weight_tile(const float *w, float *u) {
    for (int h = 0; h < 16; h += 8) {
        __m256 t[8][3];
        for (int j = 0; j < 3; j++) {
            __m256 g[3], o[8];
            for (int i = 0; i < 3; i++) g[i] = _mm256_load_ps(w + (i * 3 + j) * 16 + h);
            weight_1d(g, o);
            for (int i = 0; i < 8; i++) t[i][j] = o[i];
        }
        for (int i = 0; i < 8; i++) {
            __m256 o[8];
            weight_1d(t[i], o);
            for (int j = 0; j < 8; j++) _mm256_store_ps(u + (i * 8 + j) * 16 + h, o[j]);
        }
    }
}

static const cnb_wino_avx2_variant k_variant = {6, 8, "conv2d.winograd_f6x6_3x3.avx2", input_tile, output_tile, weight_tile};

cnb_status cnb_conv2d_winograd_f6x6_3x3_avx2_supports(const cnb_geom *g, cnb_error *why) {
    return cnb_wino_supports(g, k_variant.name, why);
}

cnb_status cnb_conv2d_winograd_f6x6_3x3_avx2_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    return cnb_wino_avx2_plan_make(&k_variant, g, w, p, err);
}

cnb_status cnb_conv2d_winograd_f6x6_3x3_avx2_run(const cnb_plan_data *p, const cnb_io *io) { return cnb_wino_avx2_run(p, io); }

void cnb_conv2d_winograd_f6x6_3x3_avx2_free(cnb_plan_data *p) { cnb_wino_avx2_free(p); }
