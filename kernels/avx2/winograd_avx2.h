// Winograd F(m x m, 3x3) convolution, AVX2+FMA part shared by kernels/avx2/conv2d_winograd_f*_avx2.c: the
// driver (tile blocks, padded input strips, the batched multiply and its 16x6 microkernel, stores into NCHW).
// Each variant file supplies its tile transforms as explicit formulas of the matrices in
// kernels/scalar/winograd_scalar.h (G's rows scaled to integers, see weight_tile). Lanes hold 8 channels.
#ifndef CNB_KERNELS_AVX2_WINOGRAD_AVX2_H
#define CNB_KERNELS_AVX2_WINOGRAD_AVX2_H

#include <immintrin.h>
#include <stdbool.h>
#include <sys/mman.h>

#include "core/alloc.h"
#include "kernels/scalar/winograd_scalar.h"
#include "kernels/scalar/team.h"

// The batched multiply M[p] = U[p] V[p] (K x C times C x tiles, one per tile position p) is computed by a
// 16 x 6 microkernel: 16 output channels (two ymm of U) times 6 tiles (broadcasts of V), 12 accumulators.
#define CNB_WINO_MR 16
#define CNB_WINO_NR 6

// A variant's transforms, all on 8 channels at once (one ymm per pixel).
//  input_tile:  s is the tile's top-left pixel in a strip [row][column][8 channels], rows rs floats apart;
//               writes V = B^T d B, position p to v + p * vs (8 floats).
//  output_tile: reads M position p at mm + p * ms (8 floats), adds the bias (8 floats) to Y = A^T M A and
//               stores it with cnb_wino_store_tile (arguments as there).
//  weight_tile: the weight transform for 16 output channels of one input channel: w holds the 9 taps as
//               [9][16]; writes U = G g G^T as [alpha^2][16] at u (64-byte aligned). Used by plan(), and per
//               run when there are few tiles (see cnb_wino_avx2_plan.otf), so it must be cheap: the variants
//               scale the rows of winograd_scalar.h's G to integers, G' = D G, and the columns of A^T by D^-1,
//               which leaves A^T [(G g G^T) .* V] A unchanged and moves the fractions into the output transform
//               (which runs once per tile and 8 output channels, not once per (k, c) pair).
typedef struct cnb_wino_avx2_variant {
    int m, alpha;
    const char *name;
    void (*input_tile)(const float *s, ptrdiff_t rs, float *v, ptrdiff_t vs);
    void (*output_tile)(const float *mm, ptrdiff_t ms, const float *bias, float *y, ptrdiff_t cs, ptrdiff_t ys, int rows,
                        int cols, int lanes);
    void (*weight_tile)(const float *w, float *u);
} cnb_wino_avx2_variant;

typedef struct cnb_wino_avx2_plan {
    cnb_wino_avx2_variant v;
    int64_t Cg, Kg;          // channels per group
    int64_t Cs, Kp, KB;      // Cg rounded up to 8 (V's row), Kg rounded up to 16, Kp / 16
    int64_t TH, TW, T;       // tiles per image TH x TW; T = N * TH * TW, numbered over the batch
    int64_t tb_max;          // most tiles in one block
    bool otf;                // weights transformed on the fly in run() (see cnb_wino_avx2_plan_make)
    int64_t kc;              // otf: input channels per transformed-weight chunk
    int slots;               // per-thread workspace slots
    size_t slot_floats, off_m, off_s, off_u, off_z;   // slot layout: V, M, strip, U chunk, zero row
    int64_t strip_rs;        // floats per strip row
    float *u;                // !otf: U as [group][position][Kp/16][Cg][16]
    float *wr;               // otf: the raw taps as [group][Kp/16][Cg][9][16]
    float *bias;             // [group][Kp], zero-padded
} cnb_wino_avx2_plan;

static inline size_t cnb_wino_round(size_t n, size_t q) { return (n + q - 1) / q * q; }

// 64-byte aligned memory for the packed weights (up to tens of MB, written once in plan(), streamed by every
// run): in 2 MB pages where the kernel offers them, so filling it takes ~500x fewer page faults and streaming
// it ~500x fewer TLB misses.
static inline float *cnb_wino_alloc_big(size_t bytes) {
    const size_t huge = (size_t)2 << 20;
    if (bytes < huge) return cnb_aligned_alloc(64, cnb_wino_round(bytes ? bytes : 1, 64));
    float *p = cnb_aligned_alloc(huge, cnb_wino_round(bytes, huge));
#ifdef MADV_HUGEPAGE
    if (p) madvise(p, cnb_wino_round(bytes, huge), MADV_HUGEPAGE);   // advice only: failure changes nothing
#endif
    return p;
}

// ---- input: padded strips in [row][column][8 channels] ---------------------------------------------------

// 8 rows (channels) x 8 columns starting at column o -> 8 vectors, one per column, lanes = channels. The
// 128-bit halves are loaded into place (insertf128), so only in-lane shuffles remain: 16 per 8x8.
static inline void cnb_wino_transpose8_load(const float *const ch[8], int64_t o, float *dst) {
    __m256 r[8];
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(ch[i] + o)), _mm_loadu_ps(ch[i + 4] + o), 1);
        r[i + 4] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(ch[i] + o + 4)), _mm_loadu_ps(ch[i + 4] + o + 4), 1);
    }
    for (int h = 0; h < 2; h++) {
        const __m256 *q = r + 4 * h;
        const __m256 t0 = _mm256_unpacklo_ps(q[0], q[1]), t1 = _mm256_unpackhi_ps(q[0], q[1]);
        const __m256 t2 = _mm256_unpacklo_ps(q[2], q[3]), t3 = _mm256_unpackhi_ps(q[2], q[3]);
        float *d = dst + 32 * h;
        _mm256_store_ps(d, _mm256_shuffle_ps(t0, t2, 0x44));
        _mm256_store_ps(d + 8, _mm256_shuffle_ps(t0, t2, 0xEE));
        _mm256_store_ps(d + 16, _mm256_shuffle_ps(t1, t3, 0x44));
        _mm256_store_ps(d + 24, _mm256_shuffle_ps(t1, t3, 0xEE));
    }
}

// One pixel column of 8 channels at input column iw (-1: zero).
static inline void cnb_wino_gather8(const float *const ch[8], int64_t iw, float *dst) {
    if (iw < 0) {
        _mm256_store_ps(dst, _mm256_setzero_ps());
        return;
    }
    _mm256_store_ps(dst, _mm256_setr_ps(ch[0][iw], ch[1][iw], ch[2][iw], ch[3][iw], ch[4][iw], ch[5][iw], ch[6][iw], ch[7][iw]));
}

// The strip of tile row th, tiles tw0 .. tw0 + seg - 1 of image n, channels c0 .. c0 + nch - 1 (nch <= 8;
// the other lanes are zero): alpha rows x (seg*m + 2) columns of the padded input, every padding mode read
// through cnb_pad_index. Padded coordinates past the padded input (the last tiles overhang it) are zero:
// their outputs are dropped but must stay finite.
static inline void cnb_wino_strip(const cnb_wino_avx2_plan *wp, const cnb_geom *g, const float *x, int64_t n, int64_t c0,
                                  int nch, int64_t th, int64_t tw0, int64_t seg, const float *zero, float *s) {
    const int m = wp->v.m, a = wp->v.alpha;
    const int64_t H = g->H, W = g->W, ncols = seg * m + 2;
    const int64_t w0 = tw0 * m - g->pad_l;    // input column of strip column 0
    const int64_t s_lo = w0 >= 0 ? 0 : (-w0 < ncols ? -w0 : ncols);
    const int64_t s_hi = W - w0 <= s_lo ? s_lo : (W - w0 < ncols ? W - w0 : ncols);
    for (int r = 0; r < a; r++) {
        float *row = s + r * wp->strip_rs;
        const int64_t h = th * m - g->pad_t + r;
        const int64_t ih = h >= H + g->pad_b ? -1 : cnb_pad_index(g->pad_mode, h, H);
        if (ih < 0) {
            for (int64_t j = 0; j < ncols; j++) _mm256_store_ps(row + 8 * j, _mm256_setzero_ps());
            continue;
        }
        const float *ch[8];
        for (int c = 0; c < 8; c++) ch[c] = c < nch ? x + ((n * g->C + c0 + c) * H + ih) * W : zero;
        int64_t j = 0;
        for (; j < s_lo; j++) cnb_wino_gather8(ch, cnb_pad_index(g->pad_mode, w0 + j, W), row + 8 * j);
        for (; j + 8 <= s_hi; j += 8) cnb_wino_transpose8_load(ch, w0 + j, row + 8 * j);
        for (; j < s_hi; j++) cnb_wino_gather8(ch, w0 + j, row + 8 * j);
        for (; j < ncols; j++) {
            const int64_t w = w0 + j;
            cnb_wino_gather8(ch, w >= W + g->pad_r ? -1 : cnb_pad_index(g->pad_mode, w, W), row + 8 * j);
        }
    }
}

// V for tiles [t0, t0 + nt) of group gr: V[t - t0][p][c], rows of Cs floats. Tiles run along image rows,
// so they are taken in segments of one tile row, one strip per segment and 8 channels.
static inline void cnb_wino_input_block(const cnb_wino_avx2_plan *wp, const cnb_geom *g, const float *x, int64_t gr,
                                        int64_t t0, int64_t nt, float *V, float *strip, const float *zero) {
    const int m = wp->v.m, P = wp->v.alpha * wp->v.alpha;
    const int64_t per_img = wp->TH * wp->TW;
    for (int64_t t = t0; t < t0 + nt;) {
        const int64_t n = t / per_img, th = t % per_img / wp->TW, tw = t % wp->TW;
        const int64_t seg = wp->TW - tw < t0 + nt - t ? wp->TW - tw : t0 + nt - t;
        for (int64_t c = 0; c < wp->Cg; c += 8) {
            const int nch = wp->Cg - c < 8 ? (int)(wp->Cg - c) : 8;
            cnb_wino_strip(wp, g, x, n, gr * wp->Cg + c, nch, th, tw, seg, zero, strip);
            for (int64_t j = 0; j < seg; j++)
                wp->v.input_tile(strip + 8 * m * j, wp->strip_rs, V + (t - t0 + j) * P * wp->Cs + c, wp->Cs);
        }
        t += seg;
    }
}

// ---- the batched multiply ------------------------------------------------------------------------------

// mo[j][0..15] (+)= sum_k u[k][0..15] * v[j][k] for tiles j < nr: row k of u at u + k * lu (16 floats, 64-byte
// aligned), tile j's row at v + j * vs, its 16 outputs at mo + j * ms (64-byte aligned).
static inline __attribute__((always_inline)) void cnb_wino_ukernel(const int nr, int64_t kc, const float *restrict u,
                                                                    ptrdiff_t lu, const float *restrict v, ptrdiff_t vs,
                                                                    float *restrict mo, ptrdiff_t ms, bool acc) {
    // Named accumulators, not arrays: GCC keeps arrays of a narrower instance (nr < 6) on the stack.
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    if (acc) {
        c00 = _mm256_load_ps(mo), c01 = _mm256_load_ps(mo + 8);
        if (nr > 1) c10 = _mm256_load_ps(mo + ms), c11 = _mm256_load_ps(mo + ms + 8);
        if (nr > 2) c20 = _mm256_load_ps(mo + 2 * ms), c21 = _mm256_load_ps(mo + 2 * ms + 8);
        if (nr > 3) c30 = _mm256_load_ps(mo + 3 * ms), c31 = _mm256_load_ps(mo + 3 * ms + 8);
        if (nr > 4) c40 = _mm256_load_ps(mo + 4 * ms), c41 = _mm256_load_ps(mo + 4 * ms + 8);
        if (nr > 5) c50 = _mm256_load_ps(mo + 5 * ms), c51 = _mm256_load_ps(mo + 5 * ms + 8);
    }
    const float *v1 = v + vs, *v2 = v + 2 * vs, *v3 = v + 3 * vs, *v4 = v + 4 * vs, *v5 = v + 5 * vs;
    #pragma GCC unroll 4
    for (int64_t k = 0; k < kc; k++, u += lu) {
        const __m256 a0 = _mm256_load_ps(u), a1 = _mm256_load_ps(u + 8);
        __m256 b = _mm256_broadcast_ss(v + k);
        c00 = _mm256_fmadd_ps(a0, b, c00), c01 = _mm256_fmadd_ps(a1, b, c01);
        if (nr > 1) b = _mm256_broadcast_ss(v1 + k), c10 = _mm256_fmadd_ps(a0, b, c10), c11 = _mm256_fmadd_ps(a1, b, c11);
        if (nr > 2) b = _mm256_broadcast_ss(v2 + k), c20 = _mm256_fmadd_ps(a0, b, c20), c21 = _mm256_fmadd_ps(a1, b, c21);
        if (nr > 3) b = _mm256_broadcast_ss(v3 + k), c30 = _mm256_fmadd_ps(a0, b, c30), c31 = _mm256_fmadd_ps(a1, b, c31);
        if (nr > 4) b = _mm256_broadcast_ss(v4 + k), c40 = _mm256_fmadd_ps(a0, b, c40), c41 = _mm256_fmadd_ps(a1, b, c41);
        if (nr > 5) b = _mm256_broadcast_ss(v5 + k), c50 = _mm256_fmadd_ps(a0, b, c50), c51 = _mm256_fmadd_ps(a1, b, c51);
    }
    _mm256_store_ps(mo, c00), _mm256_store_ps(mo + 8, c01);
    if (nr > 1) _mm256_store_ps(mo + ms, c10), _mm256_store_ps(mo + ms + 8, c11);
    if (nr > 2) _mm256_store_ps(mo + 2 * ms, c20), _mm256_store_ps(mo + 2 * ms + 8, c21);
    if (nr > 3) _mm256_store_ps(mo + 3 * ms, c30), _mm256_store_ps(mo + 3 * ms + 8, c31);
    if (nr > 4) _mm256_store_ps(mo + 4 * ms, c40), _mm256_store_ps(mo + 4 * ms + 8, c41);
    if (nr > 5) _mm256_store_ps(mo + 5 * ms, c50), _mm256_store_ps(mo + 5 * ms + 8, c51);
}

// The microkernel over nt tiles (6 at a time, the rest by a narrower instance).
static inline void cnb_wino_ukernel_row(int64_t nt, int64_t kc, const float *u, ptrdiff_t lu, const float *v, ptrdiff_t vs,
                                        float *mo, ptrdiff_t ms, bool acc) {
    int64_t j = 0;
    for (; j + CNB_WINO_NR <= nt; j += CNB_WINO_NR) cnb_wino_ukernel(6, kc, u, lu, v + j * vs, vs, mo + j * ms, ms, acc);
    switch (nt - j) {
    case 5: cnb_wino_ukernel(5, kc, u, lu, v + j * vs, vs, mo + j * ms, ms, acc); break;
    case 4: cnb_wino_ukernel(4, kc, u, lu, v + j * vs, vs, mo + j * ms, ms, acc); break;
    case 3: cnb_wino_ukernel(3, kc, u, lu, v + j * vs, vs, mo + j * ms, ms, acc); break;
    case 2: cnb_wino_ukernel(2, kc, u, lu, v + j * vs, vs, mo + j * ms, ms, acc); break;
    case 1: cnb_wino_ukernel(1, kc, u, lu, v + j * vs, vs, mo + j * ms, ms, acc); break;
    default: break;
    }
}

// ---- output: Y = A^T M A + bias into NCHW ----------------------------------------------------------------

// Row i of a tile (m vectors, lanes = 8 channels) to 8 channel planes at y (planes cs floats apart).
static inline void cnb_wino_store_row(const __m256 *o, int m, float *y, ptrdiff_t cs) {
    if (m == 2) {
        // [c0: w0 w1 | c1: w0 w1] per 128-bit half: 8-byte stores
        const __m256 lo = _mm256_unpacklo_ps(o[0], o[1]), hi = _mm256_unpackhi_ps(o[0], o[1]);
        const __m128 l0 = _mm256_castps256_ps128(lo), l1 = _mm256_extractf128_ps(lo, 1);
        const __m128 h0 = _mm256_castps256_ps128(hi), h1 = _mm256_extractf128_ps(hi, 1);
        _mm_storel_pi((__m64 *)(y), l0), _mm_storeh_pi((__m64 *)(y + cs), l0);
        _mm_storel_pi((__m64 *)(y + 2 * cs), h0), _mm_storeh_pi((__m64 *)(y + 3 * cs), h0);
        _mm_storel_pi((__m64 *)(y + 4 * cs), l1), _mm_storeh_pi((__m64 *)(y + 5 * cs), l1);
        _mm_storel_pi((__m64 *)(y + 6 * cs), h1), _mm_storeh_pi((__m64 *)(y + 7 * cs), h1);
        return;
    }
    // columns 0-3 by a 4x8 transpose: [c: w0 w1 w2 w3] per 128-bit half
    const __m256 t0 = _mm256_unpacklo_ps(o[0], o[1]), t1 = _mm256_unpackhi_ps(o[0], o[1]);
    const __m256 t2 = _mm256_unpacklo_ps(o[2], o[3]), t3 = _mm256_unpackhi_ps(o[2], o[3]);
    const __m256 q[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE),
                         _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xEE)};
    for (int c = 0; c < 4; c++) {
        _mm_storeu_ps(y + c * cs, _mm256_castps256_ps128(q[c]));
        _mm_storeu_ps(y + (c + 4) * cs, _mm256_extractf128_ps(q[c], 1));
    }
    if (m == 6) {   // columns 4-5 as for m == 2
        const __m256 lo = _mm256_unpacklo_ps(o[4], o[5]), hi = _mm256_unpackhi_ps(o[4], o[5]);
        const __m128 l0 = _mm256_castps256_ps128(lo), l1 = _mm256_extractf128_ps(lo, 1);
        const __m128 h0 = _mm256_castps256_ps128(hi), h1 = _mm256_extractf128_ps(hi, 1);
        float *z = y + 4;
        _mm_storel_pi((__m64 *)(z), l0), _mm_storeh_pi((__m64 *)(z + cs), l0);
        _mm_storel_pi((__m64 *)(z + 2 * cs), h0), _mm_storeh_pi((__m64 *)(z + 3 * cs), h0);
        _mm_storel_pi((__m64 *)(z + 4 * cs), l1), _mm_storeh_pi((__m64 *)(z + 5 * cs), l1);
        _mm_storel_pi((__m64 *)(z + 6 * cs), h1), _mm_storeh_pi((__m64 *)(z + 7 * cs), h1);
    }
}

// A finished tile: out[i * m + j] (lanes = 8 channels) plus bias into rows < rows, columns < cols of the
// lanes < lanes channel planes at y (planes cs floats apart, rows ys apart).
static inline __attribute__((always_inline)) void cnb_wino_store_tile(__m256 *o, int m, const float *bias, float *y,
                                                                       ptrdiff_t cs, ptrdiff_t ys, int rows, int cols,
                                                                       int lanes) {
    const __m256 b = _mm256_load_ps(bias);
    for (int j = 0; j < m * m; j++) o[j] = _mm256_add_ps(o[j], b);
    if (lanes == 8 && cols == m) {
        for (int r = 0; r < rows; r++) cnb_wino_store_row(o + r * m, m, y + r * ys, cs);
        return;
    }
    // edge tile or last channels: pixel by pixel through memory
    for (int r = 0; r < rows; r++)
        for (int s = 0; s < cols; s++) {
            float l[8];
            _mm256_storeu_ps(l, o[r * m + s]);
            for (int c = 0; c < lanes; c++) y[c * cs + r * ys + s] = l[c];
        }
}

// Output channels [k0, k0 + nk) (within group gr; k0 a multiple of 16) of tiles [t0, t0 + nt): M holds them as
// [tile][position][kw] (kw floats per row, channel k0 first).
static inline void cnb_wino_output_block(const cnb_wino_avx2_plan *wp, const cnb_geom *g, const float *M, int64_t kw,
                                         int64_t gr, int64_t k0, int64_t nk, int64_t t0, int64_t nt, float *y) {
    const int m = wp->v.m, P = wp->v.alpha * wp->v.alpha;
    const int64_t per_img = wp->TH * wp->TW, OH = g->OH, OW = g->OW, plane = OH * OW;
    const float *bias = wp->bias + gr * wp->Kp + k0;
    for (int64_t i = 0; i < nt; i++) {
        const int64_t t = t0 + i, n = t / per_img, th = t % per_img / wp->TW, tw = t % wp->TW;
        const int64_t oh0 = th * m, ow0 = tw * m;
        const int rows = OH - oh0 < m ? (int)(OH - oh0) : m, cols = OW - ow0 < m ? (int)(OW - ow0) : m;
        for (int64_t k = 0; k < nk; k += 8)
            wp->v.output_tile(M + i * P * kw + k, kw, bias + k, y + (n * g->K + gr * wp->Kg + k0 + k) * plane + oh0 * OW + ow0,
                              plane, OW, rows, cols, nk - k < 8 ? (int)(nk - k) : 8);
    }
}

// ---- plan --------------------------------------------------------------------------------------------

// The taps of output channels kb*16 .. kb*16 + 15 (zero past Kg), input channels [c0, c0 + n), from weights
// w (one group: [Kg][Cg][3][3]) into t as [n][9][16].
static inline void cnb_wino_gather_taps(const float *w, int64_t Cg, int64_t Kg, int64_t kb, int64_t c0, int64_t n, float *t) {
    for (int64_t c = 0; c < n; c++)
        for (int kl = 0; kl < CNB_WINO_MR; kl++) {
            const int64_t k = kb * CNB_WINO_MR + kl;
            const float *f = w + (k * Cg + c0 + c) * 9;
            for (int i = 0; i < 9; i++) t[(c * 9 + i) * CNB_WINO_MR + kl] = k < Kg ? f[i] : 0.f;
        }
}

// Tiles per block for the pre-transformed weights: V and M of a block ([tiles][P][Cs] + [tiles][P][Kp])
// take half the L2, as long as that is at least 24 tiles; with fewer, each pass over U (which does not
// stay in L2 once K x C > ~4K) would do only ~tb/2 flops per byte of U, so blocks grow to 24 tiles and
// spill to L3 instead.
static inline int64_t cnb_wino_tb_max(int P, int64_t Cs, int64_t Kp, int64_t T) {
    const size_t l2 = cnb_cpu_caches()->l2;
    int64_t tb = (int64_t)(l2 / 2 / ((size_t)P * (size_t)(Cs + Kp) * sizeof(float)));
    tb = tb < 24 ? 24 : tb / CNB_WINO_NR * CNB_WINO_NR;
    return tb < T ? tb : T > 0 ? T : 1;
}

static inline cnb_status cnb_wino_avx2_plan_make(const cnb_wino_avx2_variant *var, const cnb_geom *g, const cnb_weights *w,
                                                 cnb_plan_data *p, cnb_error *err) {
    assert(var->alpha == var->m + 2 && g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1);
    cnb_wino_avx2_plan *wp = cnb_calloc(1, sizeof *wp);
    if (!wp) return cnb_fail(err, CNB_E_NOMEM, "%s: out of memory for the plan", var->name);
    const int m = var->m, a = var->alpha, P = a * a;
    const int64_t G = g->groups;
    wp->v = *var;
    wp->Cg = g->C / G, wp->Kg = g->K / G;
    wp->Cs = (int64_t)cnb_wino_round((size_t)wp->Cg, 8);
    wp->Kp = (int64_t)cnb_wino_round((size_t)wp->Kg, CNB_WINO_MR), wp->KB = wp->Kp / CNB_WINO_MR;
    wp->TH = (g->OH + m - 1) / m, wp->TW = (g->OW + m - 1) / m;
    wp->T = g->N * wp->TH * wp->TW;
    // Few tiles: a run reads U (4 alpha^2 bytes per (k, c) pair; 37.7 MB for 512x512 F(4x4)) for only
    // 2 alpha^2 T flops per pair, 2/T bytes per flop: past ~0.1 byte/flop (T < 20) the multiply waits on
    // memory (tens of GB/s against ~100 GFLOP/s per core) unless U stays in L2. Then the 9 raw taps (36
    // bytes per pair) are streamed instead and transformed per run, a few vector ops per pair.
    wp->otf = wp->T < 20 && (size_t)P * (size_t)wp->Kp * (size_t)wp->Cg * sizeof(float) > cnb_cpu_caches()->l2;
    wp->tb_max = wp->otf ? (wp->T > 0 ? wp->T : 1) : cnb_wino_tb_max(P, wp->Cs, wp->Kp, wp->T);
    // otf: a chunk of U ([kc][P][16]) in a sixteenth of the L2, beside the block's V (read once per chunk)
    wp->kc = (int64_t)(cnb_cpu_caches()->l2 / 16 / ((size_t)P * CNB_WINO_MR * sizeof(float)));
    if (wp->kc < 8) wp->kc = 8;
    const int64_t nchunks = (wp->Cg + wp->kc - 1) / wp->kc;
    wp->kc = (wp->Cg + nchunks - 1) / nchunks;   // equal chunks
    const int64_t strip_cols = (wp->TW < wp->tb_max ? wp->TW : wp->tb_max) * m + 2;
    wp->strip_rs = strip_cols * 8;
    const size_t nv = (size_t)wp->tb_max * (size_t)P * (size_t)wp->Cs;
    const size_t nm = (size_t)wp->tb_max * (size_t)P * (size_t)(wp->otf ? CNB_WINO_MR : wp->Kp);
    const size_t ns = (size_t)a * (size_t)wp->strip_rs;
    const size_t nu = wp->otf ? (size_t)P * (size_t)wp->kc * CNB_WINO_MR : 0;   // [kc][P][16]
    const size_t nz = cnb_wino_round((size_t)g->W, 8);
    wp->off_m = cnb_wino_round(nv, 16);
    wp->off_s = wp->off_m + cnb_wino_round(nm, 16);
    wp->off_u = wp->off_s + cnb_wino_round(ns, 16);
    wp->off_z = wp->off_u + cnb_wino_round(nu, 16);
    wp->slot_floats = wp->off_z + cnb_wino_round(nz, 16);
    wp->slots = omp_get_max_threads() > 0 ? omp_get_max_threads() : 1;

    const size_t nbias = (size_t)G * (size_t)wp->Kp;
    wp->bias = cnb_aligned_alloc(64, cnb_wino_round(nbias * sizeof(float), 64));
    const size_t nw = (size_t)G * (size_t)wp->Kp * (size_t)wp->Cg * (wp->otf ? 9 : (size_t)P);
    float *dst = cnb_wino_alloc_big(nw * sizeof(float));
    if (!wp->bias || !dst) {
        cnb_free(wp->bias), cnb_free(dst), cnb_free(wp);
        return cnb_fail(err, CNB_E_NOMEM, "%s: out of memory for %zu packed weights", var->name, nw);
    }
    for (int64_t gr = 0; gr < G; gr++)
        for (int64_t k = 0; k < wp->Kp; k++) wp->bias[gr * wp->Kp + k] = k < wp->Kg ? w->bias[gr * wp->Kg + k] : 0.f;
    const int64_t Cg = wp->Cg, KB = wp->KB, ck = 32;
    float *taps = cnb_aligned_alloc(64, (size_t)ck * 9 * CNB_WINO_MR * sizeof(float));
    float *tu = wp->otf ? NULL : cnb_aligned_alloc(64, (size_t)ck * (size_t)P * CNB_WINO_MR * sizeof(float));
    if (!taps || (!wp->otf && !tu)) {
        cnb_free(taps), cnb_free(tu), cnb_free(wp->bias), cnb_free(dst), cnb_free(wp);
        return cnb_fail(err, CNB_E_NOMEM, "%s: out of memory packing the weights", var->name);
    }
    for (int64_t gr = 0; gr < G; gr++)
        for (int64_t kb = 0; kb < KB; kb++)
            for (int64_t c0 = 0; c0 < Cg; c0 += ck) {
                const int64_t n = Cg - c0 < ck ? Cg - c0 : ck;
                // otf: the taps themselves, [group][kb][c][9][16]; else through a chunk of U ([ck][P][16]), copied
                // out position by position (the 36 positions of one (k, c) are KB*Cg*64 bytes apart in U: one
                // cache set for power-of-two sizes)
                float *t = wp->otf ? dst + ((gr * KB + kb) * Cg + c0) * 9 * CNB_WINO_MR : taps;
                cnb_wino_gather_taps(w->weight + gr * wp->Kg * Cg * 9, Cg, wp->Kg, kb, c0, n, t);
                if (wp->otf) continue;
                for (int64_t c = 0; c < n; c++) var->weight_tile(t + c * 9 * CNB_WINO_MR, tu + c * P * CNB_WINO_MR);
                for (int p = 0; p < P; p++)
                    for (int64_t c = 0; c < n; c++)
                        memcpy(dst + (((gr * P + p) * KB + kb) * Cg + c0 + c) * CNB_WINO_MR, tu + (c * P + p) * CNB_WINO_MR,
                               CNB_WINO_MR * sizeof(float));
            }
    cnb_free(taps), cnb_free(tu);
    if (wp->otf) wp->wr = dst;
    else wp->u = dst;
    p->priv = wp;
    p->workspace_bytes = (size_t)wp->slots * wp->slot_floats * sizeof(float) + 64;
    return CNB_OK;
}

static inline void cnb_wino_avx2_free(cnb_plan_data *p) {
    cnb_wino_avx2_plan *wp = p->priv;
    if (wp) cnb_free(wp->u), cnb_free(wp->wr), cnb_free(wp->bias);
    cnb_free(wp);
    p->priv = NULL;
}

// ---- run ---------------------------------------------------------------------------------------------

// Pre-transformed weights: M[t][p][k in kb0..kb1) for the block's tiles, position by position. U[p] rows
// of 16 channels (16 x Cg) stay in L1 while the block's V[p] (tiles x Cg, in L2) streams past them, so U
// is read once per block.
static inline void cnb_wino_gemm_block(const cnb_wino_avx2_plan *wp, int64_t gr, int64_t kb0, int64_t kb1, int64_t nt,
                                       const float *V, float *M) {
    const int P = wp->v.alpha * wp->v.alpha;
    const int64_t Cg = wp->Cg, KB = wp->KB, kw = (kb1 - kb0) * CNB_WINO_MR;
    for (int p = 0; p < P; p++)
        for (int64_t kb = kb0; kb < kb1; kb++) {
            const float *u = wp->u + ((gr * P + p) * KB + kb) * Cg * CNB_WINO_MR;
            float *mo = M + p * kw + (kb - kb0) * CNB_WINO_MR;
            cnb_wino_ukernel_row(nt, Cg, u, CNB_WINO_MR, V + p * wp->Cs, P * wp->Cs, mo, P * kw, false);
        }
}

// Weights on the fly, one block of 16 output channels: U for kc input channels at a time ([kc][P][16], in
// L2), multiplied into M[t][p][16] for all the block's tiles. The taps are one stream through the run
// ([group][kb][c][9][16]); the next chunk's are prefetched while this one is multiplied.
static inline void cnb_wino_gemm_otf(const cnb_wino_avx2_plan *wp, int64_t gr, int64_t kb, int64_t nt, const float *V,
                                     float *M, float *U) {
    const int P = wp->v.alpha * wp->v.alpha;
    const int64_t Cg = wp->Cg, kc = wp->kc, tap = 9 * CNB_WINO_MR;
    const float *w = wp->wr + (gr * wp->KB + kb) * Cg * tap, *end = wp->wr + wp->KB * Cg * tap * (gr + 1);
    for (int64_t c0 = 0; c0 < Cg; c0 += kc, w += kc * tap) {
        const int64_t n = Cg - c0 < kc ? Cg - c0 : kc;
        for (int64_t c = 0; c < n; c++) wp->v.weight_tile(w + c * tap, U + c * P * CNB_WINO_MR);
        const char *next = (const char *)(w + n * tap);
        const int64_t left = (end - w - n * tap) * (int64_t)sizeof(float) / 64;   // 64-byte lines
        const int64_t lines = left < kc * tap / 16 ? left : kc * tap / 16;
        for (int p = 0; p < P; p++) {
            for (int64_t l = lines * p / P; l < lines * (p + 1) / P; l++) _mm_prefetch(next + 64 * l, _MM_HINT_T0);
            cnb_wino_ukernel_row(nt, n, U + p * CNB_WINO_MR, P * CNB_WINO_MR, V + p * wp->Cs + c0, P * wp->Cs,
                                 M + p * CNB_WINO_MR, P * CNB_WINO_MR, c0 > 0);
        }
    }
}

// What one run's threads share.
typedef struct cnb_wino_avx2_job {
    const cnb_wino_avx2_plan *wp;
    const cnb_geom *g;
    const cnb_io *io;
    float *base;
    int64_t nb, tb, kparts, items;
} cnb_wino_avx2_job;

// This thread's share of a run (the worksharing loop binds to the caller's team, or runs whole without one).
static inline void cnb_wino_avx2_share(const cnb_wino_avx2_job *j) {
    const cnb_wino_avx2_plan *wp = j->wp;
    const cnb_geom *g = j->g;
    const cnb_io *io = j->io;
    const int64_t T = wp->T, KB = wp->KB, nb = j->nb, tb = j->tb, kparts = j->kparts, items = j->items;
    float *base = j->base;
    float *ws = base + (size_t)omp_get_thread_num() * wp->slot_floats;
    float *V = ws, *M = ws + wp->off_m, *strip = ws + wp->off_s, *U = ws + wp->off_u, *zero = ws + wp->off_z;
    memset(zero, 0, cnb_wino_round((size_t)g->W, 8) * sizeof(float));
    int64_t have = -1;   // the (group, block) whose V is in this slot
    #pragma omp for schedule(static)
    for (int64_t it = 0; it < items; it++) {
        const int64_t gb = it / kparts, kp = it % kparts, gr = gb / nb, t0 = gb % nb * tb;
        const int64_t nt = T - t0 < tb ? T - t0 : tb;
        if (gb != have) {
            cnb_wino_input_block(wp, g, io->x, gr, t0, nt, V, strip, zero);
            have = gb;
        }
        const int64_t kb0 = KB * kp / kparts, kb1 = KB * (kp + 1) / kparts;
        if (wp->otf) {
            for (int64_t kb = kb0; kb < kb1; kb++) {
                cnb_wino_gemm_otf(wp, gr, kb, nt, V, M, U);
                const int64_t k0 = kb * CNB_WINO_MR, nk = wp->Kg - k0 < CNB_WINO_MR ? wp->Kg - k0 : CNB_WINO_MR;
                cnb_wino_output_block(wp, g, M, CNB_WINO_MR, gr, k0, nk, t0, nt, io->y);
            }
        } else {
            cnb_wino_gemm_block(wp, gr, kb0, kb1, nt, V, M);
            const int64_t k0 = kb0 * CNB_WINO_MR, k1 = kb1 * CNB_WINO_MR < wp->Kg ? kb1 * CNB_WINO_MR : wp->Kg;
            if (k1 > k0) cnb_wino_output_block(wp, g, M, (kb1 - kb0) * CNB_WINO_MR, gr, k0, k1 - k0, t0, nt, io->y);
        }
    }
}

static inline cnb_status cnb_wino_avx2_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_wino_avx2_plan *wp = p->priv;
    const cnb_geom *g = p->g;
    const int64_t G = g->groups, T = wp->T, KB = wp->KB;
    // The workspace holds a slot per thread plan() could see (omp_get_max_threads()); more run as that many.
    int threads = io->threads < wp->slots ? io->threads : wp->slots;
    // Blocks of at most tb_max tiles, evenly filled, their number a multiple of the threads' when the tiles
    // allow (6 per thread at least), and of whole microkernels (6 tiles) when that keeps the count; then the
    // output channels are split too when there are still fewer (group, block) pairs than threads.
    int64_t nb = (T + wp->tb_max - 1) / wp->tb_max;
    if (G * nb % threads && T >= (int64_t)threads * CNB_WINO_NR) nb = (int64_t)cnb_wino_round((size_t)nb, (size_t)threads);
    if (wp->otf) nb = 1;
    int64_t tb = (T + nb - 1) / nb;
    const int64_t tb6 = (int64_t)cnb_wino_round((size_t)tb, CNB_WINO_NR);
    if (!wp->otf && tb6 <= wp->tb_max && (T + tb6 - 1) / tb6 == nb) tb = tb6;
    nb = (T + tb - 1) / tb;
    int64_t kparts = wp->otf ? KB : 1;
    if (!wp->otf && G * nb < threads) kparts = (threads + G * nb - 1) / (G * nb) < KB ? (threads + G * nb - 1) / (G * nb) : KB;
    const int64_t items = G * nb * kparts;
    if (threads > items) threads = (int)items;
    float *base = (float *)cnb_wino_round((size_t)io->workspace, 64);
    const cnb_wino_avx2_job job = {wp, g, io, base, nb, tb, kparts, items};
    CNB_TEAM_RUN(threads, cnb_wino_avx2_share(&job));
    if (cnb_wino_has_nonfinite(io->x, g->in_numel))
        cnb_wino_fix_nonfinite(g, wp->v.m, io->x, p->w->weight, p->w->bias, io->y, io->threads);
    return CNB_OK;
}

#endif // CNB_KERNELS_AVX2_WINOGRAD_AVX2_H
