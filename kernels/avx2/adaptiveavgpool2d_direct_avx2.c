// adaptiveavgpool2d.direct.avx2: AdaptiveAvgPool2d, PyTorch 1.13's cells [floor(o*L/n), ceil((o+1)*L/n)). Global
// average: plane sums, 8 planes reduced together; 1x1 cells: one pass; equal cells 1-2 wide: 8 outputs a vector;
// other cells (overlapping, uneven, wide): over planes of at most 512 elements, 8 planes at a time with lanes =
// planes (float sums of whole vectors); else rows summed into a row buffer (double), then each cell's columns.
// Float sums up to 256 terms a cell; beyond, blocks of 256 summed in float, added in double. NCHW float32; needs AVX2; OpenMP over planes or rows.
#include <assert.h>
#include <immintrin.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/registry.h"
#include "core/status.h"
#include "kernels/avx2/avx2_util.h"

cnb_status cnb_adaptiveavgpool2d_direct_avx2_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_adaptiveavgpool2d_direct_avx2_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                                  cnb_error *err);
cnb_status cnb_adaptiveavgpool2d_direct_avx2_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_adaptiveavgpool2d_direct_avx2_free(cnb_plan_data *p);

cnb_status cnb_adaptiveavgpool2d_direct_avx2_supports(const cnb_geom *g, cnb_error *why) {
    (void)g, (void)why;
    return CNB_OK;
}

// Integer division gives the exact floor and ceil; a float floor misplaces bounds once o*len is large.
// In 128 bits: plan() tabulates the bounds of huge layers too (planned, maybe never run), where o * len
// overflows int64.
__extension__ typedef __int128 cnb_i128;
static int64_t cell_start(int64_t o, int64_t n, int64_t len) { return (int64_t)((cnb_i128)o * len / n); }
static int64_t cell_end(int64_t o, int64_t n, int64_t len) { return (int64_t)(((cnb_i128)(o + 1) * len + n - 1) / n); }

// Cells the general path sums by the column table: at most 8 output columns over at most 256 input columns.
static bool small_cells(const cnb_geom *g) { return g->OW <= 8 && g->W <= 256; }

static double *column_table(const cnb_geom *g, const int64_t *bounds) {
    return (double *)(bounds + 2 * (g->OH + g->OW) + 4 - (2 * (g->OH + g->OW)) % 4);
}

// The cell bounds, [start, end) per output row then per output column: the general path reads them for every
// row, and 64-bit divisions there would cost more than the sums. For small_cells also a column table.
cnb_status cnb_adaptiveavgpool2d_direct_avx2_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                                  cnb_error *err) {
    (void)w;
    // An empty output (C or N = 0) is never run, and its OH + OW may not even fit int64: no tables.
    if (g->out_numel == 0) {
        p->priv = NULL;
        p->workspace_bytes = 0;
        return CNB_OK;
    }
    const size_t nb = 2 * (size_t)(g->OH + g->OW), nt = small_cells(g) ? (size_t)((g->W + 3) / 4 * 4 + 1) * 8 : 0;
    // The bounds, then (small_cells) the column table 32-byte aligned: 4 int64 of slack before it.
    int64_t *b = cnb_aligned_alloc(32, (nb + 4) * sizeof *b + nt * sizeof(double));
    if (!b) return cnb_fail(err, CNB_E_NOMEM, "adaptiveavgpool2d.direct.avx2: out of memory for %lld cell bounds",
                            (long long)(g->OH + g->OW));
    for (int64_t o = 0; o < g->OH; o++) b[2 * o] = cell_start(o, g->OH, g->H), b[2 * o + 1] = cell_end(o, g->OH, g->H);
    for (int64_t o = 0; o < g->OW; o++) {
        b[2 * (g->OH + o)] = cell_start(o, g->OW, g->W);
        b[2 * (g->OH + o) + 1] = cell_end(o, g->OW, g->W);
    }
    if (nt) {
        // Row w: 1 in lane o when column w belongs to cell o (rows up to W rounded up to 4, the last ones
        // zero); then the cells' widths.
        double *a = column_table(g, b);
        for (size_t i = 0; i < nt; i++) a[i] = 0.0;
        for (int64_t o = 0; o < g->OW; o++) {
            const int64_t w0 = b[2 * (g->OH + o)], w1 = b[2 * (g->OH + o) + 1];
            for (int64_t w = w0; w < w1; w++) a[w * 8 + o] = 1.0;
            a[(g->W + 3) / 4 * 4 * 8 + o] = (double)(w1 - w0);
        }
        for (int64_t o = g->OW; o < 8; o++) a[(g->W + 3) / 4 * 4 * 8 + o] = 1.0;   // unused lanes: no 0/0
    }
    p->priv = b;
    p->workspace_bytes = 0;
    return CNB_OK;
}

void cnb_adaptiveavgpool2d_direct_avx2_free(cnb_plan_data *p) {
    cnb_free(p->priv);
    p->priv = NULL;
}

#define ALWAYS_INLINE inline __attribute__((always_inline))

// A power-of-two divisor has an exact reciprocal: multiplying by it is the division, rounding included.
static bool pow2(int64_t d) { return d > 0 && !(d & (d - 1)); }

static ALWAYS_INLINE __m256 divide(__m256 s, __m256 d, bool mul) {
    return mul ? _mm256_mul_ps(s, d) : _mm256_div_ps(s, d);
}

// divide() for a sum that did not start from +0 as PyTorch's does: a sum of -0s is +0 there. Adding +0 to
// the quotient instead leaves every other value as it is; in the multiply's FMA it costs nothing.
static ALWAYS_INLINE __m256 average(__m256 s, __m256 d, bool mul) {
    const __m256 z = _mm256_setzero_ps();
    return mul ? _mm256_fmadd_ps(s, d, z) : _mm256_add_ps(_mm256_div_ps(s, d), z);
}


// ---- global average: output 1x1 -----------------------------------------------------------------------

// Cells of more elements are summed in double: a float sum's rounding grows with the number of terms, and
// averages of many terms of both signs are much smaller than the terms (PyTorch sums in float, one by one).
enum { FLOAT_TERMS = 256 };

// The sum of n floats, 4 vector accumulators.
static __m256 vsum(const float *p, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
    }
    for (; i < n; i += 8) a0 = _mm256_add_ps(a0, cnb_avx2_load_n(p + i, n - i));
    return _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
}

// 4 floats at p, widened (fewer than 4: zeros after the first n, never reading past them).
static ALWAYS_INLINE __m256d load4d(const float *p, int64_t n) {
    if (n >= 4) return _mm256_cvtps_pd(_mm_loadu_ps(p));
    return _mm256_cvtps_pd(_mm_maskload_ps(p, _mm256_castsi256_si128(cnb_avx2_lanes(n))));
}

// The sum of n floats in double: blocks of 256 summed in float (each lane over 32 terms), added in double.
static double vsum_d(const float *p, int64_t n) {
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 256 <= n; i += 256) {
        const __m256 b = vsum(p + i, 256);
        a2 = _mm256_add_pd(a2, _mm256_cvtps_pd(_mm256_castps256_ps128(b)));
        a3 = _mm256_add_pd(a3, _mm256_cvtps_pd(_mm256_extractf128_ps(b, 1)));
    }
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_add_pd(a0, load4d(p + i, 4));
        a1 = _mm256_add_pd(a1, load4d(p + i + 4, 4));
        a2 = _mm256_add_pd(a2, load4d(p + i + 8, 4));
        a3 = _mm256_add_pd(a3, load4d(p + i + 12, 4));
    }
    for (; i < n; i += 4) a0 = _mm256_add_pd(a0, load4d(p + i, n - i));
    const __m256d s = _mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3));
    const __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}

// The sum of S >= 8 floats as a vector: whole vectors into two accumulators, then the last S % 8 by a load
// that overlaps the previous vector, with the lanes already counted zeroed (tail: lanes 8 - S%8 .. 7 set).
static ALWAYS_INLINE __m256 psum(const float *p, int64_t S, __m256 tail) {
    __m256 a0 = _mm256_loadu_ps(p), a1 = _mm256_setzero_ps();
    int64_t i = 8;
    for (; i + 16 <= S; i += 16) {
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i));
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i + 8));
    }
    if (i + 8 <= S) a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i)), i += 8;
    if (i < S) a0 = _mm256_add_ps(a0, _mm256_and_ps(_mm256_loadu_ps(p + S - 8), tail));
    return _mm256_add_ps(a0, a1);
}

// Whole groups of 8 planes from p0 on (S >= 8); returns the first plane not done.
static ALWAYS_INLINE int64_t groups8(const float *x, float *y, const int64_t S, int64_t p, int64_t p1, __m256 tail,
                                     __m256 d, bool mul) {
    for (; p + 8 <= p1; p += 8) {
        __m256 acc[8];
        for (int i = 0; i < 8; i++) acc[i] = psum(x + (p + i) * S, S, tail);
        _mm256_storeu_ps(y + p, divide(cnb_avx2_hsum8(acc), d, mul));
    }
    return p;
}

// Lanes >= k (ge) or <= k (le) set, k in [0, 7].
static const int32_t lane_edges[16] = {0, 0, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1, -1, -1, -1, -1};
static ALWAYS_INLINE __m256 lanes_ge(int64_t k) { return _mm256_loadu_ps((const float *)lane_edges + 8 - k); }
static ALWAYS_INLINE __m256 lanes_le(int64_t k) {
    return _mm256_castsi256_ps(_mm256_xor_si256(_mm256_castps_si256(lanes_ge(k + 1 > 7 ? 8 : k + 1)),
                                                _mm256_set1_epi32(-1)));
}

// groups8 from a 32-byte aligned x: 8 planes of S floats are exactly S aligned vectors, so every load is
// aligned (no cache-line splits) and each is loaded once: a vector shared by two planes is split by one mask
// (its low lanes end plane i, the rest start plane i + 1). Planes are summed in order and folded pairwise as
// they finish (cnb_avx2_hsum8's tree), so few sums are live at once: holding all 8 spilled to the stack.
// Only with S a constant (masks and loops folded): with S read at run time it is slower than groups8.
static ALWAYS_INLINE int64_t groups8_aligned(const float *x, float *y, const int64_t S, int64_t p, int64_t p1,
                                             __m256 d, bool mul) {
    // Half the additions as x * 1 + s (exact: one rounding, as an add): the FMA pipes add too.
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; p + 8 <= p1; p += 8) {
        const float *g = x + p * S;
        __m256 carry = _mm256_setzero_ps(), prev = carry, pair[4];
#pragma GCC unroll 8
        for (int64_t i = 0; i < 8; i++) {
            const int64_t a = i * S, b = a + S - 1, lv = b / 8;
            int64_t v = a / 8;
            __m256 s0 = a % 8 ? carry : _mm256_load_ps(g + 8 * v), s1 = _mm256_setzero_ps();
            v++;
#pragma GCC unroll 16
            for (; v + 2 <= lv; v += 2) {
                s1 = _mm256_fmadd_ps(_mm256_load_ps(g + 8 * v), one, s1);
                s0 = _mm256_add_ps(s0, _mm256_load_ps(g + 8 * v + 8));
            }
            if (v < lv) s1 = _mm256_fmadd_ps(_mm256_load_ps(g + 8 * v), one, s1);
            if (lv > a / 8) {
                const __m256 last = _mm256_load_ps(g + 8 * lv);
                if (b % 8 == 7) {
                    s0 = _mm256_add_ps(s0, last);
                } else {
                    const __m256 m = lanes_le(b % 8);
                    s0 = _mm256_add_ps(s0, _mm256_and_ps(last, m));
                    carry = _mm256_andnot_ps(m, last);
                }
            }
            const __m256 acc = _mm256_add_ps(s0, s1);
            if (i % 2) pair[i / 2] = _mm256_hadd_ps(prev, acc);
            prev = acc;
        }
        const __m256 ab = _mm256_hadd_ps(pair[0], pair[1]), cd = _mm256_hadd_ps(pair[2], pair[3]);
        const __m256 sum = _mm256_add_ps(_mm256_permute2f128_ps(ab, cd, 0x20), _mm256_permute2f128_ps(ab, cd, 0x31));
        _mm256_storeu_ps(y + p, divide(sum, d, mul));
    }
    return p;
}

// Planes [p0, p1) of S elements each.
static void global_avg(const float *x, float *y, int64_t S, int64_t p0, int64_t p1) {
    if (S > FLOAT_TERMS) {
        for (int64_t p = p0; p < p1; p++) y[p] = (float)(vsum_d(x + p * S, S) / (double)S);
        return;
    }
    const bool mul = pow2(S);
    const __m256 d = _mm256_set1_ps(mul ? 1.0f / (float)S : (float)S);
    int64_t p = p0;
    if (S >= 8) {
        const __m256 tail = _mm256_castsi256_ps(_mm256_xor_si256(cnb_avx2_lanes(8 - S % 8), _mm256_set1_epi32(-1)));
        // 8 planes at a time, their 8 accumulators reduced together (one hadd tree, one store). 7x7 planes
        // (ResNet's and MobileNet's last feature maps) unrolled: a loop over 49 elements costs more than its adds.
        const bool aligned = (uintptr_t)(x + p * S) % 32 == 0;   // and so every 8 planes on
        if (S == 49) p = aligned ? groups8_aligned(x, y, 49, p, p1, d, mul) : groups8(x, y, 49, p, p1, tail, d, mul);
        else p = groups8(x, y, S, p, p1, tail, d, mul);
    }
    for (; p < p1; p++) {
        const __m256 s = _mm256_set1_ps(cnb_avx2_hsum(vsum(x + p * S, S)));
        _mm_store_ss(y + p, _mm256_castps256_ps128(divide(s, d, mul)));
    }
}

// ---- 1x1 cells: y = x -----------------------------------------------------------------------------------

// PyTorch sums each cell from 0, so -0 comes out as +0: add +0 rather than copy.
// Elements [i0, i1).
static void identity(const float *x, float *y, int64_t i0, int64_t i1) {
    const __m256 z = _mm256_setzero_ps();
    int64_t i = i0;
    for (; i + 8 <= i1; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(x + i), z));
    if (i < i1) cnb_avx2_store_n(y + i, _mm256_add_ps(cnb_avx2_load_n(x + i, i1 - i), z), i1 - i);
}

// ---- equal cells (OH divides H, OW divides W), 1 or 2 columns wide: windows of stride kh, kw ------------

typedef struct eq {
    int64_t H, W, OH, OW, kh, kw;
    __m256 d;
    bool mul;
} eq;

// Outputs [ow0, ow0 + n) of an output row whose cells start at input row r0: the cell rows summed, then
// (kw 2) the even and odd columns of two loads added. FULL: n == 8, whole loads and store.
static ALWAYS_INLINE void eq_vec(const float *r0, int64_t kh, int64_t W, __m256 d, bool mul, int64_t ow0, int64_t n,
                                 float *yo, const int64_t KW, const bool FULL) {
    if (FULL) n = 8;
    const int64_t c0 = ow0 * KW, avail = FULL ? INT64_MAX / 2 : W - c0;
    __m256 acc;
    if (KW == 1) {
        acc = cnb_avx2_load_n(r0 + c0, avail);
        for (int64_t i = 1; i < kh; i++) acc = _mm256_add_ps(acc, cnb_avx2_load_n(r0 + i * W + c0, avail));
    } else {
        __m256 lo = cnb_avx2_load_n(r0 + c0, avail), hi = cnb_avx2_load_n(r0 + c0 + 8, avail - 8);
        for (int64_t i = 1; i < kh; i++) {
            lo = _mm256_add_ps(lo, cnb_avx2_load_n(r0 + i * W + c0, avail));
            hi = _mm256_add_ps(hi, cnb_avx2_load_n(r0 + i * W + c0 + 8, avail - 8));
        }
        acc = cnb_avx2_unscramble(_mm256_add_ps(_mm256_shuffle_ps(lo, hi, 0x88), _mm256_shuffle_ps(lo, hi, 0xDD)));
    }
    acc = average(acc, d, mul);
    if (FULL) _mm256_storeu_ps(yo, acc);
    else cnb_avx2_store_n(yo, acc, n);
}

// Output rows [r0, r1) of the N*C*OH: output row r reads input rows r*kh .. r*kh + kh - 1 of the N*C*H (OH
// divides H). A row's last, partial vector runs whole (no masks) where its loads stay inside the input (they
// read the next rows) and its store inside this thread's outputs (it spills into the next row, written after).
// KH, KW literal in the specialised instances (KH 0: kh read at run time).
static ALWAYS_INLINE void eq_rows_k(const eq *e, const float *x, float *y, int64_t rows, int64_t r0, int64_t r1,
                                    const int64_t KH, const int64_t KW) {
    // Copies: the compiler must assume the float stores to y may change anything *e holds.
    const int64_t kh = KH ? KH : e->kh, W = e->W, OW = e->OW;
    const __m256 d = e->d;
    const bool mul = e->mul;
    const int64_t tail = OW % 8, ow0 = OW - tail;   // the partial vector's first column
    // Rows before `whole` can run their partial vector whole; the last few rows of the range may not.
    int64_t whole = r1;
    while (whole > r0 && (((whole - 1) * kh + kh - 1) * W + (ow0 + 8) * KW > rows * kh * W ||
                          (whole - 1) * OW + ow0 + 8 > r1 * OW))
        whole--;
    if (ow0 == 0) {
        // Rows of fewer than 8 outputs (7x7 cells): one vector a row, the whole ones in a loop of pointer steps
        // with the division or multiplication chosen outside it.
        const float *in = x + r0 * kh * W;
        float *yr = y + r0 * OW;
        int64_t r = r0;
        if (mul)
            for (; r < whole; r++, in += kh * W, yr += OW) eq_vec(in, kh, W, d, true, 0, 8, yr, KW, true);
        else
            for (; r < whole; r++, in += kh * W, yr += OW) eq_vec(in, kh, W, d, false, 0, 8, yr, KW, true);
        for (; r < r1; r++, in += kh * W, yr += OW) eq_vec(in, kh, W, d, mul, 0, tail, yr, KW, false);
        return;
    }
    for (int64_t r = r0; r < r1; r++) {
        const float *in = x + r * kh * W;
        float *yr = y + r * OW;
        for (int64_t o = 0; o < ow0; o += 8) eq_vec(in, kh, W, d, mul, o, 8, yr + o, KW, true);
        if (!tail) continue;
        if (r < whole) eq_vec(in, kh, W, d, mul, ow0, 8, yr + ow0, KW, true);
        else eq_vec(in, kh, W, d, mul, ow0, tail, yr + ow0, KW, false);
    }
}

// Output rows [r0, r1) of all `rows`.
static void eq_rows(const eq *e, const float *x, float *y, int64_t rows, int64_t r0, int64_t r1) {
    if (e->kw == 1) {
        if (e->kh == 2) eq_rows_k(e, x, y, rows, r0, r1, 2, 1);
        else eq_rows_k(e, x, y, rows, r0, r1, 0, 1);
    } else {
        if (e->kh == 2) eq_rows_k(e, x, y, rows, r0, r1, 2, 2);
        else if (e->kh == 1) eq_rows_k(e, x, y, rows, r0, r1, 1, 2);
        else eq_rows_k(e, x, y, rows, r0, r1, 0, 2);
    }
}

// ---- any cells ------------------------------------------------------------------------------------------

enum { BUF = 2048 };   // doubles of the per-thread row buffer (on the stack)

typedef struct gen {
    int64_t H, W, OH, OW;
    const int64_t *hb, *wb;   // cell bounds from plan(): rows [hb[2o], hb[2o+1]), columns likewise
    const double *tab;        // small_cells: the column table from plan(), else NULL
} gen;

// Output row oh of plane xp, in double: per chunk of output columns whose cells span at most BUF input
// columns, the cell rows are summed into buf (vectorised), then each cell's columns from buf. A cell wider
// than BUF is summed straight from the input.
static void gen_row(const gen *e, const float *xp, int64_t oh, float *yr, double *buf) {
    const int64_t h0 = e->hb[2 * oh], h1 = e->hb[2 * oh + 1];
    const int64_t *wb = e->wb;
    for (int64_t oa = 0; oa < e->OW;) {
        const int64_t ws = wb[2 * oa];
        if (wb[2 * oa + 1] - ws > BUF) {
            const int64_t we = wb[2 * oa + 1];
            double s = 0;
            for (int64_t h = h0; h < h1; h++) s += vsum_d(xp + h * e->W + ws, we - ws);
            yr[oa] = (float)(s / (double)((h1 - h0) * (we - ws)));
            oa++;
            continue;
        }
        int64_t ob = oa + 1;
        while (ob < e->OW && wb[2 * ob + 1] - ws <= BUF) ob++;
        const int64_t n = wb[2 * ob - 1] - ws;
        for (int64_t w = 0; w < n; w += 4) {
            __m256d s = _mm256_setzero_pd();
            for (int64_t h = h0; h < h1; h++) s = _mm256_add_pd(s, load4d(xp + h * e->W + ws + w, n - w));
            _mm256_storeu_pd(buf + w, s);   // buf has room for the whole last group of 4
        }
        for (int64_t ow = oa; ow < ob; ow++) {
            const int64_t c0 = wb[2 * ow], c1 = wb[2 * ow + 1];
            double s = 0;
            for (int64_t w = c0; w < c1; w++) s += buf[w - ws];
            yr[ow] = (float)(s / (double)((h1 - h0) * (c1 - c0)));
        }
        oa = ob;
    }
}

// gen_row for small_cells, all cells at once: per 4 columns, their sums over the cell rows (as gen_row), then
// each column's sum broadcast (a lane permute, no round trip through memory) times its row of the column
// table: 8 lanes of 0/1, so a cell's lane adds its columns and the others add +-0. Four sets of
// accumulators against the FMA latency; one division per 4 cells. A non-finite column sum would make NaN
// of the 0 lanes: such a row is redone by gen_row.
static void gen_row_small(const gen *e, const double *tab, const float *xp, int64_t oh, float *yr, double *buf,
                          bool whole) {
    const int64_t h0 = e->hb[2 * oh], h1 = e->hb[2 * oh + 1], W = e->W;
    __m256d bad = _mm256_setzero_pd();
    // Named accumulators: gcc keeps an array of vectors in memory across the loop.
    __m256d l0 = _mm256_setzero_pd(), l1 = l0, l2 = l0, l3 = l0, u0 = l0, u1 = l0, u2 = l0, u3 = l0;
    for (int64_t w = 0; w < W; w += 4) {
        __m256d s = _mm256_setzero_pd();
        for (int64_t h = h0; h < h1; h++) s = _mm256_add_pd(s, load4d(xp + h * W + w, W - w));
        bad = _mm256_or_pd(bad, _mm256_cmp_pd(_mm256_sub_pd(s, s), s, _CMP_UNORD_Q));
        const double *t = tab + w * 8;   // rows past W are zero, as are s's lanes past W
        const __m256d v0 = _mm256_permute4x64_pd(s, 0x00), v1 = _mm256_permute4x64_pd(s, 0x55);
        const __m256d v2 = _mm256_permute4x64_pd(s, 0xAA), v3 = _mm256_permute4x64_pd(s, 0xFF);
        l0 = _mm256_fmadd_pd(v0, _mm256_load_pd(t), l0), u0 = _mm256_fmadd_pd(v0, _mm256_load_pd(t + 4), u0);
        l1 = _mm256_fmadd_pd(v1, _mm256_load_pd(t + 8), l1), u1 = _mm256_fmadd_pd(v1, _mm256_load_pd(t + 12), u1);
        l2 = _mm256_fmadd_pd(v2, _mm256_load_pd(t + 16), l2), u2 = _mm256_fmadd_pd(v2, _mm256_load_pd(t + 20), u2);
        l3 = _mm256_fmadd_pd(v3, _mm256_load_pd(t + 24), l3), u3 = _mm256_fmadd_pd(v3, _mm256_load_pd(t + 28), u3);
    }
    if (_mm256_movemask_pd(bad)) {
        gen_row(e, xp, oh, yr, buf);
        return;
    }
    const double *cnt = tab + (W + 3) / 4 * 4 * 8;
    const __m256d rows = _mm256_set1_pd((double)(h1 - h0));
    const __m256d slo = _mm256_add_pd(_mm256_add_pd(l0, l1), _mm256_add_pd(l2, l3));
    const __m256d shi = _mm256_add_pd(_mm256_add_pd(u0, u1), _mm256_add_pd(u2, u3));
    const __m256d alo = _mm256_div_pd(slo, _mm256_mul_pd(rows, _mm256_load_pd(cnt)));
    const __m256d ahi = _mm256_div_pd(shi, _mm256_mul_pd(rows, _mm256_load_pd(cnt + 4)));
    const __m256 out = _mm256_set_m128(_mm256_cvtpd_ps(ahi), _mm256_cvtpd_ps(alo));
    // All 8 lanes where the next output row, written after this one, takes what spills (a masked store costs
    // as much as the rest of the row here).
    if (whole) _mm256_storeu_ps(yr, out);
    else cnb_avx2_store_n(yr, out, e->OW);
}

// Output rows [r0, r1).
static void gen_rows(const gen *e, const float *x, float *y, int64_t r0, int64_t r1) {
    _Alignas(32) double buf[BUF + 4];
    int64_t oh = r0 % e->OH;
    const float *xp = x + r0 / e->OH * e->H * e->W;
    for (int64_t r = r0; r < r1; r++) {
        if (e->tab) gen_row_small(e, e->tab, xp, oh, y + r * e->OW, buf, r * e->OW + 8 <= r1 * e->OW);
        else gen_row(e, xp, oh, y + r * e->OW, buf);
        if (++oh == e->OH) oh = 0, xp += e->H * e->W;
    }
}

// ---- any cells over small planes: 8 planes at a time, lanes = planes ------------------------------------

enum { PL_MAX = 512 };   // row sums and outputs of one group ([OH][W] and [OH][OW] vectors: 16 KiB each at most)

// The tallest and the widest cell.
static void cell_max(const cnb_geom *g, const int64_t *bounds, int64_t *mh, int64_t *mw) {
    *mh = *mw = 0;
    for (int64_t o = 0; o < g->OH; o++)
        if (bounds[2 * o + 1] - bounds[2 * o] > *mh) *mh = bounds[2 * o + 1] - bounds[2 * o];
    for (int64_t o = g->OH; o < g->OH + g->OW; o++)
        if (bounds[2 * o + 1] - bounds[2 * o] > *mw) *mw = bounds[2 * o + 1] - bounds[2 * o];
}

// Whether groups of 8 planes take the layer: small planes (at most PL_MAX elements, where it was measured
// against the per-plane path), every cell at most FLOAT_TERMS elements (float sums).
static bool pl_applies(const cnb_geom *g, const int64_t *bounds) {
    if (g->H * g->W > PL_MAX || g->OH * g->OW > PL_MAX || g->OH * g->W > PL_MAX || g->N * g->C < 8) return false;
    int64_t mh, mw;
    cell_max(g, bounds, &mh, &mw);
    return mh * mw <= FLOAT_TERMS;
}

// Planes xp[0..8) (S = H*W floats each) to yp[0..8) (OH*OW each). Per output row and 8 input columns, each
// plane's cell rows are summed with lanes = columns, and the 8 sums transposed (8x8) so that one vector holds
// a column sum of all 8 planes; every cell is then its column sums added as whole vectors, divided, and
// transposed back. The loops over cells and columns, whose trip counts vary cell by cell, run once for 8
// planes instead of once per plane. Transposing the row sums rather than the input: fewer shuffles and stores
// and no transposed copy of the input.
static void pl_group(const gen *e, const float *xp, float *yp, __m256 *vt, __m256 *ot) {
    const int64_t H = e->H, W = e->W, S = H * W, OW = e->OW, OS = e->OH * OW;
    for (int64_t oh = 0; oh < e->OH; oh++) {
        const int64_t h0 = e->hb[2 * oh], h1 = e->hb[2 * oh + 1];
        __m256 *v = vt + oh * W;
        if (W >= 8) {
            // A row's last, partial block is loaded at W - 8, overlapping the block before (whose column sums
            // it recomputes, identically): every load inside the row, no masks. The planes' sums run side by
            // side, rows outer: 8 independent chains instead of one after the other.
            for (int64_t c = 0; c < W; c += 8) {
                const int64_t cc = c + 8 <= W ? c : W - 8;
                const float *q = xp + h0 * W + cc;
                __m256 r[8];
                for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(q + i * S);
                for (int64_t h = h0 + 1; h < h1; h++) {
                    q += W;
                    for (int i = 0; i < 8; i++) r[i] = _mm256_add_ps(r[i], _mm256_loadu_ps(q + i * S));
                }
                cnb_avx2_transpose8(r);
                for (int k = 0; k < 8; k++) _mm256_store_ps((float *)&v[cc + k], r[k]);
            }
        } else {
            // Rows under 8 columns: whole loads past a row's end read the next row or plane (lanes not used) as
            // long as they stay inside the group: the first `safe` planes; the others load the row only.
            const int64_t room = 8 * S - (h1 - 1) * W - 8, safe = room < 0 ? 0 : room / S + 1 < 8 ? room / S + 1 : 8;
            __m256 r[8];
            for (int64_t i = 0; i < safe; i++) {
                const float *q = xp + i * S + h0 * W;
                __m256 a = _mm256_loadu_ps(q);
                for (int64_t h = h0 + 1; h < h1; h++) a = _mm256_add_ps(a, _mm256_loadu_ps(q += W));
                r[i] = a;
            }
            for (int64_t i = safe; i < 8; i++) {
                const float *q = xp + i * S + h0 * W;
                __m256 a = cnb_avx2_load_n(q, W);
                for (int64_t h = h0 + 1; h < h1; h++) a = _mm256_add_ps(a, cnb_avx2_load_n(q += W, W));
                r[i] = a;
            }
            cnb_avx2_transpose8(r);
            // Stores, not a copy loop (gcc makes a variable-length one a rep movs, slow for 256 bytes).
            for (int k = 0; k < 8; k++)
                if (k < W) _mm256_store_ps((float *)&v[k], r[k]);
        }
        for (int64_t ow = 0; ow < OW; ow++) {
            const int64_t c0 = e->wb[2 * ow], c1 = e->wb[2 * ow + 1];
            __m256 a = _mm256_add_ps(v[c0], _mm256_setzero_ps());   // from +0, as PyTorch: -0s average to +0
            for (int64_t c = c0 + 1; c < c1; c++) a = _mm256_add_ps(a, v[c]);
            ot[oh * OW + ow] = _mm256_div_ps(a, _mm256_set1_ps((float)((h1 - h0) * (c1 - c0))));
        }
    }
    // Back, the last block first: a whole-vector store past a plane's end lands on the next planes' first
    // outputs, written after; only a store that would leave the group's outputs is masked.
    for (int64_t e0 = (OS - 1) / 8 * 8; e0 >= 0; e0 -= 8) {
        const int64_t m = OS - e0 < 8 ? OS - e0 : 8;
        __m256 r[8];
        for (int64_t k = 0; k < 8; k++) r[k] = k < m ? ot[e0 + k] : _mm256_setzero_ps();
        cnb_avx2_transpose8(r);
        for (int64_t i = 0; i < 8; i++) {
            if (i * OS + e0 + 8 <= 8 * OS) _mm256_storeu_ps(yp + i * OS + e0, r[i]);
            else cnb_avx2_store_n(yp + i * OS + e0, r[i], m);
        }
    }
}

// Groups [g0, g1) of 8 planes.
static void pl_groups(const gen *e, const float *x, float *y, int64_t g0, int64_t g1) {
    _Alignas(32) __m256 vt[PL_MAX], ot[PL_MAX];
    const int64_t S = e->H * e->W, OS = e->OH * e->OW;
    for (int64_t q = g0; q < g1; q++) pl_group(e, x + q * 8 * S, y + q * 8 * OS, vt, ot);
}

typedef struct job {
    const float *x;
    float *y;
    int64_t planes, H, W, OH, OW;
    eq e;
    const int64_t *bounds;   // plan(): hb then wb of struct gen
    const double *tab;       // plan(): small_cells' column table, or NULL
} job;

// Items [i0, i1): planes (global average), elements (1x1 cells) or (plane, output row) (the others).
static void work_global(const job *j, int64_t i0, int64_t i1) { global_avg(j->x, j->y, j->H * j->W, i0, i1); }
static void work_identity(const job *j, int64_t i0, int64_t i1) { identity(j->x, j->y, i0, i1); }
static void work_eq(const job *j, int64_t i0, int64_t i1) { eq_rows(&j->e, j->x, j->y, j->planes * j->OH, i0, i1); }
static void work_pl(const job *j, int64_t i0, int64_t i1) {
    const gen e = {.H = j->H, .W = j->W, .OH = j->OH, .OW = j->OW, .hb = j->bounds, .wb = j->bounds + 2 * j->OH};
    pl_groups(&e, j->x, j->y, i0, i1);
}
static void work_gen(const job *j, int64_t i0, int64_t i1) {
    const gen e = {.H = j->H, .W = j->W, .OH = j->OH, .OW = j->OW, .hb = j->bounds, .wb = j->bounds + 2 * j->OH,
                   .tab = j->tab};
    gen_rows(&e, j->x, j->y, i0, i1);
}

#include "kernels/scalar/pool_drive.h"

cnb_status cnb_adaptiveavgpool2d_direct_avx2_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    assert(g->kind == CNB_ADAPTIVEAVGPOOL2D && g->K == g->C);
    assert(g->H > 0 && g->W > 0 && g->OH > 0 && g->OW > 0);
    assert(io->x && io->y && io->threads > 0);

    job j = {.x = io->x, .y = io->y, .planes = g->N * g->C, .H = g->H, .W = g->W, .OH = g->OH, .OW = g->OW,
             .bounds = p->priv, .tab = small_cells(g) ? column_table(g, p->priv) : NULL};
    if (j.H % j.OH == 0 && j.W % j.OW == 0) {
        j.e = (eq){.H = j.H, .W = j.W, .OH = j.OH, .OW = j.OW, .kh = j.H / j.OH, .kw = j.W / j.OW};
        const int64_t div = j.e.kh * j.e.kw;
        j.e.mul = pow2(div);
        j.e.d = _mm256_set1_ps(j.e.mul ? 1.0f / (float)div : (float)div);
    }
    // Chunks of about 64 KiB of input: whole groups of 8 planes, whole vectors of elements, or rows.
    const int nt = team(io->threads, g->in_numel + g->out_numel);
    const int64_t S = j.H * j.W, rows = j.planes * j.OH;
    if (j.OH == 1 && j.OW == 1) drive(work_global, &j, j.planes, (16384 / S + 8) / 8 * 8, nt);
    else if (j.OH == j.H && j.OW == j.W) drive(work_identity, &j, j.planes * S, 16384, nt);
    else if (j.H % j.OH == 0 && j.W % j.OW == 0 && j.W / j.OW <= 2 && j.H / j.OH * (j.W / j.OW) <= FLOAT_TERMS)
        drive(work_eq, &j, rows, 16384 / (j.H / j.OH * j.W) + 1, nt);
    else if (pl_applies(g, j.bounds)) {
        // Whole groups of 8 planes, then the last planes % 8 by rows.
        const int64_t groups = j.planes / 8;
        drive(work_pl, &j, groups, 16384 / (8 * S) + 1, nt);
        job r = j;
        r.x += groups * 8 * S, r.y += groups * 8 * j.OH * j.OW, r.planes -= groups * 8;
        if (r.planes) drive(work_gen, &r, r.planes * j.OH, 16384 / (S / j.OH + 1) + 1, team(nt, r.planes * S));
    } else drive(work_gen, &j, rows, 16384 / (S / j.OH + 1) + 1, nt);
    return CNB_OK;
}
