// Winograd F(m x m, 3x3), portable part: the F(2x2), F(4x4), F(6x6) transform matrices (exact double tables,
// derived below), the scalar formulas and weight transform, the .scalar driver (tile blocks; U [group][pos][K][C],
// V [pos][C][tiles]), and what every variant shares: supports() and the exact fallback for NaN/inf inputs.
// Plain C11, no ISA flags; used by kernels/{scalar,avx2}/*winograd* and checked by tests/test_winograd.c.
#ifndef CNB_KERNELS_SCALAR_WINOGRAD_SCALAR_H
#define CNB_KERNELS_SCALAR_WINOGRAD_SCALAR_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "core/alloc.h"
#include "core/cpu.h"
#include "core/registry.h"
#include "core/status.h"
#include "kernels/scalar/team.h"

// Where the matrices come from (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR
// 2016; Toom-Cook construction). F(m, 3) computes m outputs y_i = sum_j d_{i+j} g_j of a 3-tap correlation
// from alpha = m + 2 inputs as
//     y = A^T [ (G g) .* (B^T d) ]                 (2-D, nested: Y = A^T [ (G g G^T) .* (B^T d B) ] A)
// Choose alpha - 1 distinct points p_0..p_{alpha-2} plus the point at infinity. Correlation is the
// transpose of the linear convolution s = a * g (a of length m, s of length alpha), which is computed
// by evaluating a and g at the points, multiplying, and interpolating s back:
//   - G   (alpha x 3):  row i = [1, p_i, p_i^2] / prod_{j != i} (p_i - p_j);   last row [0, 0, 1]
//   - B^T (alpha x alpha): row i = coefficients of prod_{j != i} (x - p_j) (the Lagrange numerator);
//                       last row = coefficients of prod_j (x - p_j)
//   - A^T (m x alpha):  column i = [1, p_i, ..., p_i^(m-1)];   last column [0, ..., 0, 1]
// (the Lagrange denominators are moved from B^T into G). Rows of G and B^T may be scaled by s and 1/s
// (here: signs, so that the tables match the published ones). Points:
//   F(2,3): 0, 1, -1            (Lavin & Gray, eq. 7)
//   F(4,3): 0, 1, -1, 2, -2     (Lavin & Gray, section 4.2)
//   F(6,3): 0, 1, -1, 2, -2, 1/2, -1/2   (as in NNPACK and ncnn: the +-1/2 pair keeps A^T's largest entry
//           at 32 instead of 3^5 = 243 for +-3)
// tests/test_winograd.c re-derives the identity: each set reproduces direct 1-D and 2-D correlation
// exactly (integer-scaled, in double). docs/winograd.md derives the accuracy bounds from these tables.

// One F(m x m, 3x3) variant: the tables (row-major) and the denominators that make G and B^T integer
// (the test scales by them to check the identity exactly).
typedef struct cnb_wino_matrices {
    int m, alpha;
    const double *bt;   // alpha x alpha
    const double *g;    // alpha x 3
    const double *at;   // m x alpha
    double g_den, bt_den;
} cnb_wino_matrices;

static const double cnb_wino_f2_bt[4 * 4] = {
    1,  0, -1,  0,
    0,  1,  1,  0,
    0, -1,  1,  0,
    0,  1,  0, -1,
};
static const double cnb_wino_f2_g[4 * 3] = {
    1,    0,    0,
    0.5,  0.5,  0.5,
    0.5, -0.5,  0.5,
    0,    0,    1,
};
static const double cnb_wino_f2_at[2 * 4] = {
    1, 1,  1,  0,
    0, 1, -1, -1,
};

static const double cnb_wino_f4_bt[6 * 6] = {
    4,  0, -5,  0, 1, 0,
    0, -4, -4,  1, 1, 0,
    0,  4, -4, -1, 1, 0,
    0, -2, -1,  2, 1, 0,
    0,  2, -1, -2, 1, 0,
    0,  4,  0, -5, 0, 1,
};
static const double cnb_wino_f4_g[6 * 3] = {
    1.0 / 4,   0,         0,
    -1.0 / 6,  -1.0 / 6,  -1.0 / 6,
    -1.0 / 6,  1.0 / 6,   -1.0 / 6,
    1.0 / 24,  1.0 / 12,  1.0 / 6,
    1.0 / 24,  -1.0 / 12, 1.0 / 6,
    0,         0,         1,
};
static const double cnb_wino_f4_at[4 * 6] = {
    1, 1,  1, 1,  1, 0,
    0, 1, -1, 2, -2, 0,
    0, 1,  1, 4,  4, 0,
    0, 1, -1, 8, -8, 1,
};

static const double cnb_wino_f6_bt[8 * 8] = {
    1,  0,    -5.25, 0,     5.25,  0,    -1, 0,
    0,  1,    1,     -4.25, -4.25, 1,    1,  0,
    0,  -1,   1,     4.25,  -4.25, -1,   1,  0,
    0,  0.5,  0.25,  -2.5,  -1.25, 2,    1,  0,
    0,  -0.5, 0.25,  2.5,   -1.25, -2,   1,  0,
    0,  2,    4,     -2.5,  -5,    0.5,  1,  0,
    0,  -2,   4,     2.5,   -5,    -0.5, 1,  0,
    0,  -1,   0,     5.25,  0,     -5.25, 0, 1,
};
static const double cnb_wino_f6_g[8 * 3] = {
    1,           0,            0,
    -2.0 / 9,    -2.0 / 9,     -2.0 / 9,
    -2.0 / 9,    2.0 / 9,      -2.0 / 9,
    1.0 / 90,    1.0 / 45,     2.0 / 45,
    1.0 / 90,    -1.0 / 45,    2.0 / 45,
    32.0 / 45,   16.0 / 45,    8.0 / 45,
    32.0 / 45,   -16.0 / 45,   8.0 / 45,
    0,           0,            1,
};
static const double cnb_wino_f6_at[6 * 8] = {
    1, 1,  1,  1,   1,  1,        1,        0,
    0, 1, -1,  2,  -2,  0.5,      -0.5,     0,
    0, 1,  1,  4,   4,  0.25,     0.25,     0,
    0, 1, -1,  8,  -8,  0.125,    -0.125,   0,
    0, 1,  1, 16,  16,  0.0625,   0.0625,   0,
    0, 1, -1, 32, -32,  0.03125,  -0.03125, 1,
};

// The tables of F(m x m, 3x3), m in {2, 4, 6}; NULL otherwise.
static inline const cnb_wino_matrices *cnb_wino_matrices_for(int m) {
    static const cnb_wino_matrices k[3] = {
        {2, 4, cnb_wino_f2_bt, cnb_wino_f2_g, cnb_wino_f2_at, 2, 1},
        {4, 6, cnb_wino_f4_bt, cnb_wino_f4_g, cnb_wino_f4_at, 24, 1},
        {6, 8, cnb_wino_f6_bt, cnb_wino_f6_g, cnb_wino_f6_at, 90, 4},
    };
    return m == 2 ? &k[0] : m == 4 ? &k[1] : m == 6 ? &k[2] : NULL;
}

// U = G g G^T for one 3x3 filter g (row-major), in double, rounded once to float: element (i, j), the tile
// position p = i * alpha + j, goes to u[p * ps]. Done in plan(), so its cost and precision are free.
static inline void cnb_wino_weight_tile(const cnb_wino_matrices *t, const float *g, float *u, ptrdiff_t ps) {
    double tmp[8][3];
    for (int i = 0; i < t->alpha; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int l = 0; l < 3; l++) s += t->g[i * 3 + l] * (double)g[l * 3 + j];
            tmp[i][j] = s;
        }
    for (int i = 0; i < t->alpha; i++)
        for (int j = 0; j < t->alpha; j++) {
            double s = 0;
            for (int l = 0; l < 3; l++) s += tmp[i][l] * t->g[j * 3 + l];
            u[(i * t->alpha + j) * ps] = (float)s;
        }
}

// ---- F(2,3) formulas (one 1-D pass; the 2-D transform applies it to rows, then to columns) -----------

// B^T d: [d0 - d2, d1 + d2, d2 - d1, d1 - d3].
static inline void cnb_wino_f2_input_1d(const float *d, ptrdiff_t ds, float *o, ptrdiff_t os) {
    const float d0 = d[0], d1 = d[ds], d2 = d[2 * ds], d3 = d[3 * ds];
    o[0] = d0 - d2;
    o[os] = d1 + d2;
    o[2 * os] = d2 - d1;
    o[3 * os] = d1 - d3;
}

// A^T m: [m0 + m1 + m2, m1 - m2 - m3].
static inline void cnb_wino_f2_output_1d(const float *m, ptrdiff_t ms, float *o, ptrdiff_t os) {
    const float m1 = m[ms], m2 = m[2 * ms];
    o[0] = m[0] + m1 + m2;
    o[os] = m1 - m2 - m[3 * ms];
}

// ---- F(4,3) formulas (NNPACK/ncnn grouping: shared sums, then the +- pairs) ---------------------------

// B^T d:
//   o0 = 4 d0 - 5 d2 + d4
//   o1 = (d4 - 4 d2) + (d3 - 4 d1)      o2 = (d4 - 4 d2) - (d3 - 4 d1)
//   o3 = (d4 - d2) + 2 (d3 - d1)        o4 = (d4 - d2) - 2 (d3 - d1)
//   o5 = 4 d1 - 5 d3 + d5
static inline void cnb_wino_f4_input_1d(const float *d, ptrdiff_t ds, float *o, ptrdiff_t os) {
    const float d0 = d[0], d1 = d[ds], d2 = d[2 * ds], d3 = d[3 * ds], d4 = d[4 * ds], d5 = d[5 * ds];
    const float a = d4 - 4.f * d2, b = d3 - 4.f * d1, c = d4 - d2, e = 2.f * (d3 - d1);
    o[0] = 4.f * d0 - 5.f * d2 + d4;
    o[os] = a + b;
    o[2 * os] = a - b;
    o[3 * os] = c + e;
    o[4 * os] = c - e;
    o[5 * os] = 4.f * d1 - 5.f * d3 + d5;
}

// A^T m, with s = m1 + m2, t = m1 - m2, u = m3 + m4, v = m3 - m4:
//   o0 = m0 + s + u    o1 = t + 2 v    o2 = s + 4 u    o3 = t + 8 v + m5
static inline void cnb_wino_f4_output_1d(const float *m, ptrdiff_t ms, float *o, ptrdiff_t os) {
    const float s = m[ms] + m[2 * ms], t = m[ms] - m[2 * ms], u = m[3 * ms] + m[4 * ms], v = m[3 * ms] - m[4 * ms];
    o[0] = m[0] + s + u;
    o[os] = t + 2.f * v;
    o[2 * os] = s + 4.f * u;
    o[3 * os] = t + 8.f * v + m[5 * ms];
}

// ---- non-finite inputs ------------------------------------------------------------------------------------

// Whether x (n floats) holds a NaN or an infinity: x - x is then NaN, else 0.
static inline bool cnb_wino_has_nonfinite(const float *x, int64_t n) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++) bad |= (x[i] - x[i]) != 0.f;
    return bad;
}

// A NaN or infinity in a tile's input reaches all of the tile's outputs through the transforms (and inf - inf
// makes NaN), where direct convolution, the reference and PyTorch confine it to the outputs whose window holds
// it. So when the input has one, the tiles (of tile size m) whose padded input window holds one are computed
// again directly, like the reference: double accumulation, padding through cnb_pad_index. Rare: the run
// checks the input first.
static inline void cnb_wino_fix_nonfinite(const cnb_geom *g, int m, const float *x, const float *w, const float *bias,
                                          float *y, int threads) {
    const int a = m + 2;
    const int64_t TH = (g->OH + m - 1) / m, TW = (g->OW + m - 1) / m, Cg = g->C / g->groups, Kg = g->K / g->groups;
    const int64_t items = g->N * g->groups * TH * TW;
    #pragma omp parallel for schedule(dynamic, 16) num_threads(threads)
    for (int64_t it = 0; it < items; it++) {
        const int64_t tw = it % TW, th = it / TW % TH, gr = it / (TW * TH) % g->groups, n = it / (TW * TH * g->groups);
        int64_t ih[8], iw[8];
        for (int r = 0; r < a; r++) {
            const int64_t h = th * m - g->pad_t + r, v = tw * m - g->pad_l + r;
            ih[r] = h >= g->H + g->pad_b ? -1 : cnb_pad_index(g->pad_mode, h, g->H);
            iw[r] = v >= g->W + g->pad_r ? -1 : cnb_pad_index(g->pad_mode, v, g->W);
        }
        int bad = 0;
        for (int64_t c = 0; c < Cg && !bad; c++) {
            const float *xc = x + (n * g->C + gr * Cg + c) * g->H * g->W;
            for (int r = 0; r < a; r++)
                for (int s = 0; s < a; s++)
                    if (ih[r] >= 0 && iw[s] >= 0) bad |= (xc[ih[r] * g->W + iw[s]] - xc[ih[r] * g->W + iw[s]]) != 0.f;
        }
        if (!bad) continue;
        for (int64_t k = gr * Kg; k < (gr + 1) * Kg; k++)
            for (int64_t oh = th * m; oh < th * m + m && oh < g->OH; oh++)
                for (int64_t ow = tw * m; ow < tw * m + m && ow < g->OW; ow++) {
                    double acc = bias[k];
                    for (int64_t c = 0; c < Cg; c++) {
                        const float *xc = x + (n * g->C + gr * Cg + c) * g->H * g->W, *wc = w + (k * Cg + c) * 9;
                        for (int i = 0; i < 3; i++) {
                            const int64_t hh = cnb_pad_index(g->pad_mode, oh - g->pad_t + i, g->H);
                            if (hh < 0) continue;
                            for (int j = 0; j < 3; j++) {
                                const int64_t ww = cnb_pad_index(g->pad_mode, ow - g->pad_l + j, g->W);
                                if (ww >= 0) acc += (double)xc[hh * g->W + ww] * (double)wc[i * 3 + j];
                            }
                        }
                    }
                    y[((n * g->K + k) * g->OH + oh) * g->OW + ow] = (float)acc;
                }
    }
}

// ---- the .scalar driver -------------------------------------------------------------------------------

// 1-D passes of one variant; the 2-D transforms apply them to the rows, then to the columns.
typedef void (*cnb_wino_pass_fn)(const float *in, ptrdiff_t is, float *out, ptrdiff_t os);

// What plan() leaves for run(). U is [group][pos][k][c] (one Kg x Cg matrix per tile position).
typedef struct cnb_wino_scalar_plan {
    int m, alpha;
    cnb_wino_pass_fn input_1d, output_1d;
    int64_t Cg, Kg, TH, TW, T;       // tiles per image: TH x TW; T = N * TH * TW
    int64_t tb, nblocks;             // tiles per block and blocks (over the batch)
    int slots;                       // per-thread workspace slots
    size_t slot_floats;
    float *u;
} cnb_wino_scalar_plan;

// Tiles per block: V and M of one block (alpha^2 x (Cg + Kg) x tb floats) in half the L2 cache.
static inline int64_t cnb_wino_scalar_block(int alpha, int64_t Cg, int64_t Kg, int64_t T) {
    const size_t l2 = cnb_cpu_caches()->l2;
    int64_t tb = (int64_t)(l2 / 2 / ((size_t)alpha * alpha * (size_t)(Cg + Kg) * sizeof(float)));
    tb = tb < 8 ? 8 : tb > 256 ? 256 : tb;
    const int64_t nb = (T + tb - 1) / tb;
    return nb > 0 ? (T + nb - 1) / nb : tb;   // balanced blocks (T is 0 for an empty batch)
}

static inline cnb_status cnb_wino_scalar_plan_make(int m, cnb_wino_pass_fn in1, cnb_wino_pass_fn out1, const cnb_geom *g,
                                                   const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    const cnb_wino_matrices *t = cnb_wino_matrices_for(m);
    assert(t && g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1);
    cnb_wino_scalar_plan *sp = cnb_calloc(1, sizeof *sp);
    if (!sp) return cnb_fail(err, CNB_E_NOMEM, "winograd: out of memory for the plan");
    const int a = t->alpha, P = a * a;
    sp->m = m, sp->alpha = a, sp->input_1d = in1, sp->output_1d = out1;
    sp->Cg = g->C / g->groups, sp->Kg = g->K / g->groups;
    sp->TH = (g->OH + m - 1) / m, sp->TW = (g->OW + m - 1) / m;
    sp->T = g->N * sp->TH * sp->TW;
    sp->tb = cnb_wino_scalar_block(a, sp->Cg, sp->Kg, sp->T);
    sp->nblocks = (sp->T + sp->tb - 1) / sp->tb;
    sp->slots = omp_get_max_threads() > 0 ? omp_get_max_threads() : 1;
    // A slot: V [P][Cg][tb], M [P][Kg][tb], one tile's input and its transforms (3 x P).
    sp->slot_floats = (size_t)P * (size_t)(sp->Cg + sp->Kg) * (size_t)sp->tb + 3 * (size_t)P;
    sp->slot_floats = (sp->slot_floats + 15) & ~(size_t)15;
    const size_t nu = (size_t)g->groups * (size_t)P * (size_t)sp->Kg * (size_t)sp->Cg;
    sp->u = cnb_malloc((nu ? nu : 1) * sizeof *sp->u);
    if (!sp->u) {
        cnb_free(sp);
        return cnb_fail(err, CNB_E_NOMEM, "winograd: out of memory for %zu transformed weights", nu);
    }
    const int64_t KC = sp->Kg * sp->Cg;
    for (int64_t gr = 0; gr < g->groups; gr++)
        for (int64_t k = 0; k < sp->Kg; k++)
            for (int64_t c = 0; c < sp->Cg; c++) {
                const float *f = w->weight + ((gr * sp->Kg + k) * sp->Cg + c) * 9;
                // tile element (i, j) of position p = i*a + j lands at u[gr][p][k][c]
                float *u = sp->u + (size_t)gr * (size_t)P * (size_t)KC + (size_t)(k * sp->Cg + c);
                cnb_wino_weight_tile(t, f, u, (ptrdiff_t)KC);
            }
    p->priv = sp;
    p->workspace_bytes = (size_t)sp->slots * sp->slot_floats * sizeof(float);
    return CNB_OK;
}

// One block of tiles [t0, t0 + nt) of group gr: gather + transform the inputs, multiply per position,
// transform back into y.
static inline void cnb_wino_scalar_block_run(const cnb_wino_scalar_plan *sp, const cnb_geom *g, const float *x,
                                             const float *bias, float *y, int64_t gr, int64_t t0, int64_t nt,
                                             float *ws) {
    const int m = sp->m, a = sp->alpha, P = a * a;
    const int64_t Cg = sp->Cg, Kg = sp->Kg, tb = sp->tb, H = g->H, W = g->W;
    float *V = ws, *M = V + (size_t)P * (size_t)Cg * (size_t)tb, *d = M + (size_t)P * (size_t)Kg * (size_t)tb;
    float *tmp = d + P, *v = tmp + P;
    for (int64_t i = 0; i < nt; i++) {
        const int64_t t = t0 + i, n = t / (sp->TH * sp->TW), th = t / sp->TW % sp->TH, tw = t % sp->TW;
        int64_t ih[8], iw[8];
        // Padded coordinates past the padded input (the last tiles overhang) read zeros: their outputs are
        // dropped, but must stay finite.
        for (int r = 0; r < a; r++) {
            const int64_t h = th * m - g->pad_t + r, w_ = tw * m - g->pad_l + r;
            ih[r] = h >= H + g->pad_b ? -1 : cnb_pad_index(g->pad_mode, h, H);
            iw[r] = w_ >= W + g->pad_r ? -1 : cnb_pad_index(g->pad_mode, w_, W);
        }
        for (int64_t c = 0; c < Cg; c++) {
            const float *xc = x + ((n * g->C) + gr * Cg + c) * H * W;
            for (int r = 0; r < a; r++)
                for (int s = 0; s < a; s++) d[r * a + s] = (ih[r] < 0 || iw[s] < 0) ? 0.f : xc[ih[r] * W + iw[s]];
            for (int r = 0; r < a; r++) sp->input_1d(d + r * a, 1, tmp + r * a, 1);   // rows: d B
            for (int s = 0; s < a; s++) sp->input_1d(tmp + s, a, v + s, a);           // columns: B^T (d B)
            for (int p = 0; p < P; p++) V[((size_t)p * (size_t)Cg + (size_t)c) * (size_t)tb + (size_t)i] = v[p];
        }
    }
    // M[p][k][i] = sum_c U[p][k][c] V[p][c][i]: the inner loop runs over tiles, contiguous.
    for (int p = 0; p < P; p++)
        for (int64_t k = 0; k < Kg; k++) {
            float *mk = M + ((size_t)p * (size_t)Kg + (size_t)k) * (size_t)tb;
            const float *uk = sp->u + (((size_t)gr * (size_t)P + (size_t)p) * (size_t)Kg + (size_t)k) * (size_t)Cg;
            for (int64_t i = 0; i < nt; i++) mk[i] = 0.f;
            for (int64_t c = 0; c < Cg; c++) {
                const float u = uk[c], *vc = V + ((size_t)p * (size_t)Cg + (size_t)c) * (size_t)tb;
                for (int64_t i = 0; i < nt; i++) mk[i] += u * vc[i];
            }
        }
    for (int64_t i = 0; i < nt; i++) {
        const int64_t t = t0 + i, n = t / (sp->TH * sp->TW), th = t / sp->TW % sp->TH, tw = t % sp->TW;
        const int64_t oh0 = th * m, ow0 = tw * m;
        const int rows = (int)(g->OH - oh0 < m ? g->OH - oh0 : m), cols = (int)(g->OW - ow0 < m ? g->OW - ow0 : m);
        for (int64_t k = 0; k < Kg; k++) {
            const int64_t ko = gr * Kg + k;
            for (int p = 0; p < P; p++) d[p] = M[((size_t)p * (size_t)Kg + (size_t)k) * (size_t)tb + (size_t)i];
            for (int r = 0; r < a; r++) sp->output_1d(d + r * a, 1, tmp + r * m, 1);   // rows: M A  (a x m)
            for (int s = 0; s < m; s++) sp->output_1d(tmp + s, m, v + s, m);           // columns: A^T (M A)
            float *yk = y + ((n * g->K + ko) * g->OH + oh0) * g->OW + ow0;
            for (int r = 0; r < rows; r++)
                for (int s = 0; s < cols; s++) yk[r * g->OW + s] = v[r * m + s] + bias[ko];
        }
    }
}

// This thread's share of a run (the worksharing loop binds to the caller's team, or runs whole without one).
static inline void cnb_wino_scalar_share(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_wino_scalar_plan *sp = p->priv;
    const cnb_geom *g = p->g;
    const int64_t items = g->groups * sp->nblocks;
    float *ws = (float *)io->workspace + (size_t)omp_get_thread_num() * sp->slot_floats;
    #pragma omp for schedule(static)
    for (int64_t it = 0; it < items; it++) {
        const int64_t gr = it / sp->nblocks, t0 = it % sp->nblocks * sp->tb;
        const int64_t nt = sp->T - t0 < sp->tb ? sp->T - t0 : sp->tb;
        cnb_wino_scalar_block_run(sp, g, io->x, p->w->bias, io->y, gr, t0, nt, ws);
    }
}

static inline cnb_status cnb_wino_scalar_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_wino_scalar_plan *sp = p->priv;
    const cnb_geom *g = p->g;
    const int64_t items = g->groups * sp->nblocks;
    int threads = io->threads < sp->slots ? io->threads : sp->slots;
    if (threads > items) threads = (int)items;
    CNB_TEAM_RUN(threads, cnb_wino_scalar_share(p, io));
    if (cnb_wino_has_nonfinite(io->x, g->in_numel))
        cnb_wino_fix_nonfinite(g, sp->m, io->x, p->w->weight, p->w->bias, io->y, io->threads);
    return CNB_OK;
}

static inline void cnb_wino_scalar_free(cnb_plan_data *p) {
    cnb_wino_scalar_plan *sp = p->priv;
    if (sp) cnb_free(sp->u);
    cnb_free(sp);
    p->priv = NULL;
}

// supports() of every variant: 3x3, stride 1, dilation 1, Conv2d.
static inline cnb_status cnb_wino_supports(const cnb_geom *g, const char *name, cnb_error *why) {
    if (g->kind != CNB_CONV2D) return cnb_fail(why, CNB_E_UNSUPPORTED, "%s: Conv2d only", name);
    if (g->kh != 3 || g->kw != 3)
        return cnb_fail(why, CNB_E_UNSUPPORTED, "%s: needs a 3x3 kernel, not %lldx%lld", name, (long long)g->kh,
                        (long long)g->kw);
    if (g->sh != 1 || g->sw != 1)
        return cnb_fail(why, CNB_E_UNSUPPORTED, "%s: needs stride 1, not (%lld, %lld)", name, (long long)g->sh,
                        (long long)g->sw);
    if (g->dh != 1 || g->dw != 1)
        return cnb_fail(why, CNB_E_UNSUPPORTED, "%s: needs dilation 1, not (%lld, %lld)", name, (long long)g->dh,
                        (long long)g->dw);
    return CNB_OK;
}

#endif // CNB_KERNELS_SCALAR_WINOGRAD_SCALAR_H
