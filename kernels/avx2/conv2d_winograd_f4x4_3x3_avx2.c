// conv2d.winograd_f4x4_3x3.avx2: Conv2d 3x3, stride 1, dilation 1 (any padding, groups, bias) by Winograd F(4x4,3x3)
// (Lavin & Gray 2016, points 0, +-1, +-2; tables in kernels/scalar/winograd_scalar.h): 6x6 tiles, U = G' g G'^T as
// [group][36][K/16][C][16] (or per run from [K/16][C][9][16] taps when tiles are few), 16x6 microkernel; AVX2+FMA.
// Error bound 1.2e-4 = 4 u sqrt(512/2) kappa, kappa = 31.4 the transforms' amplification (docs/winograd.md).
#include "kernels/avx2/winograd_avx2.h"

cnb_status cnb_conv2d_winograd_f4x4_3x3_avx2_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv2d_winograd_f4x4_3x3_avx2_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv2d_winograd_f4x4_3x3_avx2_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv2d_winograd_f4x4_3x3_avx2_free(cnb_plan_data *p);

// B^T d, one 1-D pass:
//   o0 = 4 d0 - 5 d2 + d4
//   o1 = (d4 - 4 d2) + (d3 - 4 d1)      o2 = (d4 - 4 d2) - (d3 - 4 d1)
//   o3 = (d4 - d2) + 2 (d3 - d1)        o4 = (d4 - d2) - 2 (d3 - d1)
//   o5 = 4 d1 - 5 d3 + d5
static inline void input_1d(const __m256 *d, __m256 *o) {
    const __m256 four = _mm256_set1_ps(4.f), five = _mm256_set1_ps(5.f), two = _mm256_set1_ps(2.f);
    const __m256 a = _mm256_fnmadd_ps(four, d[2], d[4]), b = _mm256_fnmadd_ps(four, d[1], d[3]);
    const __m256 c = _mm256_sub_ps(d[4], d[2]), e = _mm256_sub_ps(d[3], d[1]);
    o[0] = _mm256_fnmadd_ps(five, d[2], _mm256_fmadd_ps(four, d[0], d[4]));
    o[1] = _mm256_add_ps(a, b);
    o[2] = _mm256_sub_ps(a, b);
    o[3] = _mm256_fmadd_ps(two, e, c);
    o[4] = _mm256_fnmadd_ps(two, e, c);
    o[5] = _mm256_fnmadd_ps(five, d[3], _mm256_fmadd_ps(four, d[1], d[5]));
}

// V = B^T d B: the 1-D pass on each row (d B), then on each column.
static void input_tile(const float *s, ptrdiff_t rs, float *v, ptrdiff_t vs) {
    __m256 t[6][6];
    for (int r = 0; r < 6; r++) {
        __m256 d[6];
        for (int j = 0; j < 6; j++) d[j] = _mm256_load_ps(s + r * rs + 8 * j);
        input_1d(d, t[r]);
    }
    for (int j = 0; j < 6; j++) {
        __m256 c[6], o[6];
        for (int i = 0; i < 6; i++) c[i] = t[i][j];
        input_1d(c, o);
        for (int i = 0; i < 6; i++) _mm256_store_ps(v + (i * 6 + j) * vs, o[i]);
    }
}

// A'^T m, where A'^T = A^T diag(1/4, -1/6, -1/6, 1/24, 1/24, 1) undoes G' = diag(4, -6, -6, 24, 24, 1) G
// (below); with s = m1 + m2, t = m1 - m2, u = m3 + m4, w = m3 - m4:
//   o0 = m0/4 - s/6 + u/24    o1 = -t/6 + w/12    o2 = -s/6 + u/6    o3 = -t/6 + w/3 + m5
static inline void output_1d(const __m256 *m, __m256 *o) {
    const __m256 s = _mm256_add_ps(m[1], m[2]), t = _mm256_sub_ps(m[1], m[2]);
    const __m256 u = _mm256_add_ps(m[3], m[4]), w = _mm256_sub_ps(m[3], m[4]);
    const __m256 s6 = _mm256_mul_ps(s, _mm256_set1_ps(-1.f / 6)), t6 = _mm256_mul_ps(t, _mm256_set1_ps(-1.f / 6));
    o[0] = _mm256_fmadd_ps(m[0], _mm256_set1_ps(0.25f), _mm256_fmadd_ps(u, _mm256_set1_ps(1.f / 24), s6));
    o[1] = _mm256_fmadd_ps(w, _mm256_set1_ps(1.f / 12), t6);
    o[2] = _mm256_fmadd_ps(u, _mm256_set1_ps(1.f / 6), s6);
    o[3] = _mm256_add_ps(_mm256_fmadd_ps(w, _mm256_set1_ps(1.f / 3), t6), m[5]);
}

// Y = A'^T M A': the 1-D pass on each column (A'^T M, 4 x 6), then on each of its rows; plus bias, into y.
static void output_tile(const float *mm, ptrdiff_t ms, const float *bias, float *y, ptrdiff_t cs, ptrdiff_t ys, int rows,
                        int cols, int lanes) {
    __m256 t[4][6], out[16];
    for (int j = 0; j < 6; j++) {
        __m256 c[6], o[4];
        for (int i = 0; i < 6; i++) c[i] = _mm256_load_ps(mm + (i * 6 + j) * ms);
        output_1d(c, o);
        for (int i = 0; i < 4; i++) t[i][j] = o[i];
    }
    for (int i = 0; i < 4; i++) output_1d(t[i], out + 4 * i);
    cnb_wino_store_tile(out, 4, bias, y, cs, ys, rows, cols, lanes);
}

// G' g, one 1-D pass, G' = diag(4, -6, -6, 24, 24, 1) G = [1 0 0; 1 1 1; 1 -1 1; 1 2 4; 1 -2 4; 0 0 1]:
//   u0 = g0   u1 = (g0 + g2) + g1   u2 = (g0 + g2) - g1   u3 = (g0 + 4 g2) + 2 g1   u4 = (g0 + 4 g2) - 2 g1   u5 = g2
static inline void weight_1d(const __m256 *g, __m256 *u) {
    // adds only, so that no operand is overwritten (an FMA would cost a register copy here)
    const __m256 s = _mm256_add_ps(g[0], g[2]), c = _mm256_add_ps(g[0], _mm256_mul_ps(_mm256_set1_ps(4.f), g[2]));
    const __m256 d = _mm256_add_ps(g[1], g[1]);
    u[0] = g[0];
    u[1] = _mm256_add_ps(s, g[1]);
    u[2] = _mm256_sub_ps(s, g[1]);
    u[3] = _mm256_add_ps(c, d);
    u[4] = _mm256_sub_ps(c, d);
    u[5] = g[2];
}

// U' = G' g G'^T for 16 output channels, [36][16]: columns of g (G' g, 6 x 3), then its rows.
static void weight_tile(const float *w, float *u) {
    for (int h = 0; h < 16; h += 8) {
        __m256 t[6][3];
        for (int j = 0; j < 3; j++) {
            __m256 g[3], o[6];
            for (int i = 0; i < 3; i++) g[i] = _mm256_load_ps(w + (i * 3 + j) * 16 + h);
            weight_1d(g, o);
            for (int i = 0; i < 6; i++) t[i][j] = o[i];
        }
        for (int i = 0; i < 6; i++) {
            __m256 o[6];
            weight_1d(t[i], o);
            for (int j = 0; j < 6; j++) _mm256_store_ps(u + (i * 6 + j) * 16 + h, o[j]);
        }
    }
}

static const cnb_wino_avx2_variant k_variant = {4, 6, "conv2d.winograd_f4x4_3x3.avx2", input_tile, output_tile, weight_tile};

cnb_status cnb_conv2d_winograd_f4x4_3x3_avx2_supports(const cnb_geom *g, cnb_error *why) {
    return cnb_wino_supports(g, k_variant.name, why);
}

cnb_status cnb_conv2d_winograd_f4x4_3x3_avx2_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    return cnb_wino_avx2_plan_make(&k_variant, g, w, p, err);
}

cnb_status cnb_conv2d_winograd_f4x4_3x3_avx2_run(const cnb_plan_data *p, const cnb_io *io) { return cnb_wino_avx2_run(p, io); }

void cnb_conv2d_winograd_f4x4_3x3_avx2_free(cnb_plan_data *p) { cnb_wino_avx2_free(p); }
