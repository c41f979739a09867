// maxpool2d.direct.avx2: MaxPool2d with PyTorch 1.13's rule (an element wins if greater or NaN: first index of
// ties, last NaN), 8 output columns of one output row per vector, taps scanned in PyTorch's row-major order.
// Stride-2 taps deinterleave even/odd columns of two loads (specialised for 2x2/s2 and 3x3/s2; 3x3/s2/p1 by
// aligned loads and a lane permute, hmax_odd), stride 1 loads,
// larger strides gather. NCHW float32, int64 h*W+w indices; needs AVX2; OpenMP over (plane, output row) ranges.
#include <assert.h>
#include <immintrin.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/cpu.h"
#include "core/registry.h"
#include "kernels/avx2/avx2_util.h"

cnb_status cnb_maxpool2d_direct_avx2_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_maxpool2d_direct_avx2_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_maxpool2d_direct_avx2_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_maxpool2d_direct_avx2_free(cnb_plan_data *p);

cnb_status cnb_maxpool2d_direct_avx2_supports(const cnb_geom *g, cnb_error *why) {
    (void)g, (void)why;
    return CNB_OK;
}

cnb_status cnb_maxpool2d_direct_avx2_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    (void)g, (void)w, (void)err;
    p->priv = NULL;
    p->workspace_bytes = 0;
    return CNB_OK;
}

void cnb_maxpool2d_direct_avx2_free(cnb_plan_data *p) { (void)p; }

#define ALWAYS_INLINE inline __attribute__((always_inline))

typedef struct ctx {
    int64_t H, W, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl;
    int64_t lo, hi;   // output columns [lo, hi) whose windows lie inside the row: the vector range
    bool prefetch;    // the input is in the last-level cache (see run())
} ctx;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

// ---- one output, exactly as PyTorch's cpu_max_pool: borders, empty windows, NaN re-runs -------------------

// End (exclusive, clipped to n) of a window of k taps d apart from start; start + (k-1)*d + 1 may not fit
// int64 (a kernel or dilation far larger than the input), so it is compared, not computed.
static int64_t window_end(int64_t start, int64_t k, int64_t d, int64_t n) {
    const int64_t span = (k - 1) * d;  // fits: core/geom.c checked it
    return span < n - start ? start + span + 1 : n;
}

// The first tap at or after 0 of a window starting at start (< 0 in the padding), in one step: a loop
// would take padding/d steps, and the padding may be as large as half a huge kernel.
static int64_t first_tap(int64_t start, int64_t d) {
    if (start >= 0) return start;
    const int64_t steps = -start / d + (-start % d != 0);
    return start + steps * d;  // steps > 1 only when d < -start: no overflow
}

static void max_one(const ctx *c, const float *xp, int64_t oh, int64_t ow, float *yo, int64_t *io) {
    const int64_t hs = oh * c->sh - c->pt, ws = ow * c->sw - c->pl;
    const int64_t ih1 = window_end(hs, c->kh, c->dh, c->H), iw1 = window_end(ws, c->kw, c->dw, c->W);
    const int64_t ih0 = first_tap(hs, c->dh), iw0 = first_tap(ws, c->dw);
    // A window of padding only keeps -inf and the index of its first (possibly out-of-plane) tap, whose
    // product PyTorch lets wrap: modulo 2^64 here too, rather than overflow.
    int64_t mi = (int64_t)((uint64_t)ih0 * (uint64_t)c->W + (uint64_t)iw0);
    float m = -INFINITY;
    // Taps counted, not stepped past the end: a dilation near INT64_MAX would overflow.
    const int64_t nh = ih0 < ih1 ? (ih1 - ih0 - 1) / c->dh + 1 : 0, nw = iw0 < iw1 ? (iw1 - iw0 - 1) / c->dw + 1 : 0;
    for (int64_t th = 0; th < nh; th++)
        for (int64_t tw = 0; tw < nw; tw++) {
            const int64_t i = (ih0 + th * c->dh) * c->W + iw0 + tw * c->dw;
            const float v = xp[i];
            if (v > m || isnan(v)) m = v, mi = i;
        }
    *yo = m;
    if (io) *io = mi;
}

// ---- vector helpers -----------------------------------------------------------------------------------

// Lane order after an even/odd deinterleave without the cross-lane permute: output columns 0 1 4 5 | 2 3 6 7.
// Every tap of a stride-2 window arrives in that order, so one permute per output vector restores it.
static const int32_t k_scrambled[8] = {0, 1, 4, 5, 2, 3, 6, 7};
static const int32_t k_natural[8] = {0, 1, 2, 3, 4, 5, 6, 7};

// Tap t (column offset from the window start c0) of 8 stride-SW windows: lane j holds row[t + SW*j].
// `avail` counts the columns of the row readable from row[0]; lanes j >= n are don't-care.
// Stride 2: the even columns of a 16-column pair at t, or the odd ones of the pair at t-1, which reads
// one column before the first needed (inside the row) instead of one after the last (maybe outside it).
static ALWAYS_INLINE __m256 tap(const float *row, int64_t t, int64_t avail, int64_t n, int64_t SW, __m256i gidx) {
    if (SW == 1) return cnb_avx2_load_n(row + t, avail - t);
    if (SW == 2) {
        const int64_t b = t == 0 ? 0 : t - 1;
        const __m256 a = cnb_avx2_load_n(row + b, avail - b), bb = cnb_avx2_load_n(row + b + 8, avail - b - 8);
        return t == 0 ? _mm256_shuffle_ps(a, bb, 0x88) : _mm256_shuffle_ps(a, bb, 0xDD);
    }
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), row + t, gidx, _mm256_castsi256_ps(cnb_avx2_lanes(n)), 4);
}

static ALWAYS_INLINE void store_idx(int64_t *ind, __m256i i32, int64_t n) {
    const __m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(i32));
    const __m256i hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(i32, 1));
    if (n >= 8) {
        _mm256_storeu_si256((__m256i *)ind, lo);
        _mm256_storeu_si256((__m256i *)(ind + 4), hi);
        return;
    }
    const __m256i m = cnb_avx2_lanes(n);   // 32-bit lane masks; widen them to 64-bit ones
    _mm256_maskstore_epi64((long long *)ind, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(m)), lo);
    _mm256_maskstore_epi64((long long *)(ind + 4), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(m, 1)), hi);
}

// ---- the general vector step -------------------------------------------------------------------------

typedef enum mode { FAST, FAST_IDX, EXACT, EXACT_IDX } mode;

typedef struct rowv {
    const ctx *c;
    const float *xp;
    int64_t hs, ky0, ky1;   // window rows hs + ky*dh, ky in [ky0, ky1), are inside the plane
    __m256i jsw;                // lane j's column offset SW*j (in the lane order of the taps)
} rowv;

// Outputs [ow0, ow0 + n) of one row (n <= 8). KW, SW, DW are the window's width, stride and dilation:
// literal constants for the specialised instances, so the tap loop unrolls and the pair loads of
// neighbouring taps merge. FULL: n == 8 and every load is whole (no masks, no branches).
// FAST, FAST_IDX: NaN is flagged in the returned mask (the caller redoes the row in EXACT or EXACT_IDX mode);
// EXACT: PyTorch's scan; *_IDX: with indices (int32 lanes: planes below 2^31 elements).
static ALWAYS_INLINE __m256 vec(const rowv *rv, int64_t ow0, int64_t n, float *yo, int64_t *io, const int64_t KW,
                                const int64_t SW, const int64_t DW, const bool FULL, const mode MODE) {
    const ctx *c = rv->c;
    const int64_t W = c->W;
    const int64_t c0 = ow0 * SW - c->pl, avail = FULL ? INT64_MAX / 2 : W - c0;
    if (FULL) n = 8;
    __m256 m = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
    __m256i mi = _mm256_setzero_si256();
    for (int64_t ky = rv->ky0; ky < rv->ky1; ky++) {
        const int64_t ih = rv->hs + ky * c->dh;
        const float *r = rv->xp + ih * W + c0;
        if (MODE == FAST_IDX) {
            // Without NaN, PyTorch's `val > max || isnan(val)` is `val > max`, and _mm256_max_ps(v, m) is
            // `v > m ? v : m`: one compare picks both the value and the index. NaN is only flagged.
            __m256 prev = _mm256_setzero_ps();
            for (int64_t kx = 0; kx < KW; kx++) {
                const int64_t t = kx * DW;
                const __m256 v = tap(r, t, avail, n, SW, rv->jsw);
                const __m256i vi = _mm256_add_epi32(_mm256_set1_epi32((int32_t)(ih * W + c0 + t)), rv->jsw);
                if (kx & 1) bad = _mm256_or_ps(bad, _mm256_cmp_ps(prev, v, _CMP_UNORD_Q));
                else if (kx == KW - 1) bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
                prev = v;
                if (ky == rv->ky0 && kx == 0) {
                    m = v, mi = vi;
                    continue;
                }
                const __m256 gt = _mm256_cmp_ps(v, m, _CMP_GT_OQ);
                m = _mm256_max_ps(v, m);
                mi = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(mi), _mm256_castsi256_ps(vi), gt));
            }
        } else if (MODE != FAST) {
            // PyTorch's scan, tap by tap in row-major order: take `val > max || isnan(val)` lane-wise
            // (ordered '>' is false for NaN), with the index alongside.
            for (int64_t kx = 0; kx < KW; kx++) {
                const int64_t t = kx * DW;
                const __m256 v = tap(r, t, avail, n, SW, rv->jsw);
                const __m256i vi = _mm256_add_epi32(_mm256_set1_epi32((int32_t)(ih * W + c0 + t)), rv->jsw);
                if (ky == rv->ky0 && kx == 0) {
                    m = v, mi = vi;
                    continue;
                }
                const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
                m = _mm256_blendv_ps(m, v, take);
                if (MODE == EXACT_IDX)
                    mi = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(mi), _mm256_castsi256_ps(vi), take));
            }
        } else {
            // _mm256_max_ps(b, a) is `b > a ? b : a`: of equal values (-0 and +0) the earlier stays, as
            // PyTorch's '>' keeps it, and reducing each row first, then the rows in order, selects the same
            // element as the row-major scan. But a NaN in b is dropped: it is only flagged here.
            __m256 h = _mm256_setzero_ps(), prev = _mm256_setzero_ps();
            for (int64_t kx = 0; kx < KW; kx++) {
                const __m256 v = tap(r, kx * DW, avail, n, SW, rv->jsw);
                h = kx == 0 ? v : _mm256_max_ps(v, h);
                if (kx & 1) bad = _mm256_or_ps(bad, _mm256_cmp_ps(prev, v, _CMP_UNORD_Q));
                else if (kx == KW - 1) bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
                prev = v;
            }
            m = ky == rv->ky0 ? h : _mm256_max_ps(h, m);
        }
    }
    if (SW == 2) {
        m = cnb_avx2_unscramble(m);
        if (MODE == EXACT_IDX || MODE == FAST_IDX) mi = _mm256_permute4x64_epi64(mi, 0xD8);
    }
    cnb_avx2_store_n(yo, m, n);
    if (MODE == EXACT_IDX || MODE == FAST_IDX) store_idx(io, mi, n);
    return bad;
}

// ---- the 2x2 and 3x3 stride-2 value fast paths --------------------------------------------------------

// One input row's part of 8 stride-2 windows starting at r[0]: the max of its taps in column order, lanes
// in the deinterleaved order. Its NaN check covers r[0..15]; the 3-wide window's last column r[16] is the
// next vector's r[0], and the caller checks it after the last vector.
static ALWAYS_INLINE __m256 hmax(const float *r, __m256 *bad, const int K) {
    const __m256 a = _mm256_loadu_ps(r), b = _mm256_loadu_ps(r + 8);
    *bad = _mm256_or_ps(*bad, _mm256_cmp_ps(a, b, _CMP_UNORD_Q));
    const __m256 h = _mm256_max_ps(_mm256_shuffle_ps(a, b, 0xDD), _mm256_shuffle_ps(a, b, 0x88));
    if (K == 2) return h;
    return _mm256_max_ps(_mm256_shuffle_ps(_mm256_loadu_ps(r + 1), _mm256_loadu_ps(r + 9), 0xDD), h);
}

// hmax for the 3-wide windows of outputs 0..7 with one column of left padding (r points at column 0): the
// padding column is -inf, which never wins and, in values-only mode, gives exactly PyTorch's result (a
// window of -inf and padding is -inf either way). Its other columns are those of r[-1..15] read from r[0].
static ALWAYS_INLINE __m256 hmax_pad1(const float *r, __m256 *bad) {
    const __m256 a = _mm256_blend_ps(_mm256_maskload_ps(r - 1, _mm256_setr_epi32(0, -1, -1, -1, -1, -1, -1, -1)),
                                     _mm256_set1_ps(-INFINITY), 1);
    const __m256 b = _mm256_loadu_ps(r + 7);
    *bad = _mm256_or_ps(*bad, _mm256_cmp_ps(a, b, _CMP_UNORD_Q));
    const __m256 h = _mm256_max_ps(_mm256_shuffle_ps(a, b, 0xDD), _mm256_shuffle_ps(a, b, 0x88));
    return _mm256_max_ps(_mm256_shuffle_ps(_mm256_loadu_ps(r), _mm256_loadu_ps(r + 8), 0xDD), h);
}

// One input row's part of the 3-wide stride-2 windows of 8 outputs that start at odd columns 2j - 1 (one
// column of left padding), r at the even column 2j0 of the first: columns r[0, 16) split into evens E (taps
// 2j) and odds O (taps 2j + 1), and the odds moved one output on (taps 2j - 1) by a lane permute that takes
// its first lane from the previous vector's, *prev (column -1: -inf). Aligned 16-column loads, no load per
// tap: 1.5x the shifted-load version of hmax. Lanes in the deinterleaved order; NaN checked over r[0, 16).
static ALWAYS_INLINE __m256 hmax_odd(const float *r, __m256 *prev, __m256 *bad, __m256i idx) {
    const __m256 a = _mm256_loadu_ps(r), b = _mm256_loadu_ps(r + 8);
    *bad = _mm256_or_ps(*bad, _mm256_cmp_ps(a, b, _CMP_UNORD_Q));
    const __m256 e = _mm256_shuffle_ps(a, b, 0x88), o = _mm256_shuffle_ps(a, b, 0xDD);
    // Deinterleaved lane i holds output (0 1 4 5 2 3 6 7)[i]; lane i takes the odd tap of the output before
    // it: lane 0 (output 0) the last odd of the previous vector, which is this permute's lane 0 there.
    const __m256 t = _mm256_permutevar8x32_ps(o, idx), op = _mm256_blend_ps(t, *prev, 1);
    *prev = t;
    // Taps in order 2j - 1, 2j, 2j + 1: _mm256_max_ps(later, earlier) keeps the earlier of equal values.
    return _mm256_max_ps(o, _mm256_max_ps(e, op));
}

// Outputs [lo, hi) (hi - lo >= 8) of a K x K stride-2 window over the NR input rows rp[] (in order), whole
// vectors only: the last one overlaps its predecessor instead of masking. PAD1 (3-wide windows, lo == 1 and
// one column of left padding): output 0 too, by hmax_pad1. Returns the NaN flags.
static ALWAYS_INLINE __m256 fast_rows(const float *const *rp, int64_t c0lo, int64_t lo, int64_t hi, float *yr,
                                      const int K, const int NR, const bool PAD1) {
    __m256 bad = _mm256_setzero_ps();
    int64_t ow0 = lo;
    if (PAD1) {
        __m256 m = hmax_pad1(rp[0], &bad);
        if (NR > 1) m = _mm256_max_ps(hmax_pad1(rp[1], &bad), m);
        if (NR > 2) m = _mm256_max_ps(hmax_pad1(rp[2], &bad), m);
        _mm256_storeu_ps(yr, cnb_avx2_unscramble(m));
        if (hi == 8) {   // no vector after it: check its last column, r[15], here
            for (int i = 0; i < NR; i++)
                if (isnan(rp[i][15])) bad = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
            return bad;
        }
        ow0 = 8;
    }
    for (;; ow0 += 8) {
        if (ow0 > hi - 8) ow0 = hi - 8;
        const int64_t off = c0lo + 2 * (ow0 - lo);
        __m256 m = hmax(rp[0] + off, &bad, K);
        if (NR > 1) m = _mm256_max_ps(hmax(rp[1] + off, &bad, K), m);
        if (NR > 2) m = _mm256_max_ps(hmax(rp[2] + off, &bad, K), m);
        _mm256_storeu_ps(yr + ow0, cnb_avx2_unscramble(m));
        if (ow0 == hi - 8) {
            if (K == 3)
                for (int i = 0; i < NR; i++)
                    if (isnan(rp[i][off + 16])) bad = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
            return bad;
        }
    }
}

// ---- one output row ---------------------------------------------------------------------------------

// Output row oh of plane xp into yr (and ir unless NULL): scalar borders, whole vectors, a masked tail.
static ALWAYS_INLINE void row(const ctx *c, const float *xp, int64_t oh, float *yr, int64_t *ir, const int64_t KW,
                              const int64_t SW, const int64_t DW, const mode MODE) {
    rowv rv = {.c = c, .xp = xp, .hs = oh * c->sh - c->pt};
    // Compared rather than summed: with a huge padding or dilation hs + span and -hs + dh would overflow.
    rv.ky0 = rv.hs < 0 ? -rv.hs / c->dh + (-rv.hs % c->dh != 0) : 0;
    rv.ky1 = (c->kh - 1) * c->dh < c->H - rv.hs ? c->kh : (c->H - 1 - rv.hs) / c->dh + 1;
    // No row of the window inside the plane (ceil_mode with dilation): -inf at the first tap, scalar.
    const int64_t lo = rv.ky0 < rv.ky1 ? c->lo : c->OW, hi = rv.ky0 < rv.ky1 ? c->hi : c->OW;
    const int64_t nr = rv.ky1 - rv.ky0;
    const bool pad1 = KW == 3 && c->pl == 1 && lo == 1;   // fast: output 0 by hmax_pad1 too
    const bool fast = MODE == FAST && SW == 2 && DW == 1 && (KW == 2 || KW == 3) && nr <= 3 && c->dh == 1 &&
                      (pad1 ? hi >= 8 : hi - lo >= 8);
    for (int64_t ow = fast && pad1 ? 1 : 0; ow < lo; ow++) max_one(c, xp, oh, ow, yr + ow, ir ? ir + ow : NULL);
    for (int64_t ow = hi; ow < c->OW; ow++) max_one(c, xp, oh, ow, yr + ow, ir ? ir + ow : NULL);
    if (lo >= hi) return;

    __m256 bad;
    if (fast) {
        const float *rp[3] = {xp, xp, xp};
        for (int64_t i = 0; i < nr; i++) rp[i] = xp + (rv.hs + rv.ky0 + i) * c->W;
        const int64_t c0lo = lo * 2 - c->pl;
        if (pad1)
            bad = nr == 3   ? fast_rows(rp, c0lo, lo, hi, yr, 3, 3, true)
                  : nr == 2 ? fast_rows(rp, c0lo, lo, hi, yr, 3, 2, true) : fast_rows(rp, c0lo, lo, hi, yr, 3, 1, true);
        else
            bad = nr == 3   ? fast_rows(rp, c0lo, lo, hi, yr, (int)KW, 3, false)
                  : nr == 2 ? fast_rows(rp, c0lo, lo, hi, yr, (int)KW, 2, false)
                            : fast_rows(rp, c0lo, lo, hi, yr, (int)KW, 1, false);
        if (pad1 && _mm256_movemask_ps(bad)) max_one(c, xp, oh, 0, yr, NULL);
    } else {
        const int32_t *order = SW == 2 ? k_scrambled : k_natural;
        rv.jsw = _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *)order), _mm256_set1_epi32((int32_t)SW));
        // Whole vectors: 8 outputs whose loads all lie inside the row. Past the window start c0 they read
        // up to column c0 + reach - 1 (stride 2: a 16-column pair at the first tap, at tap-1 for the others).
        const int64_t reach = SW == 1 ? (KW - 1) * DW + 8 : SW == 2 ? max64(16, (KW - 1) * DW + 15) : 0;
        bad = _mm256_setzero_ps();
        int64_t ow0 = lo;
        for (; ow0 + 8 <= hi && ow0 * SW - c->pl + reach <= c->W; ow0 += 8)
            bad = _mm256_or_ps(bad, vec(&rv, ow0, 8, yr + ow0, ir ? ir + ow0 : NULL, KW, SW, DW, true, MODE));
        for (; ow0 < hi; ow0 += 8)
            bad = _mm256_or_ps(bad, vec(&rv, ow0, min64(8, hi - ow0), yr + ow0, ir ? ir + ow0 : NULL, KW, SW, DW,
                                        false, MODE));
    }
    // A NaN somewhere in the row's windows (or in in-row columns next to them): redo the row exactly.
    if ((MODE == FAST || MODE == FAST_IDX) && _mm256_movemask_ps(bad)) {
        const int32_t *order = SW == 2 ? k_scrambled : k_natural;
        rv.jsw = _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *)order), _mm256_set1_epi32((int32_t)SW));
        for (int64_t ow0 = lo; ow0 < hi; ow0 += 8)
            vec(&rv, ow0, min64(8, hi - ow0), yr + ow0, ir ? ir + ow0 : NULL, KW, SW, DW, false,
                MODE == FAST ? EXACT : EXACT_IDX);
    }
}

// Output rows oh and oh + 1 of a 3x3 stride-2 window (both with all 3 window rows inside the plane), values
// only: they share input row 2*oh + 1 - pt, so 5 row maxima give 2 output vectors (6 for 2 done apart).
// The caller checks hi - lo >= 8 (or hi >= 8 with one column of left padding: pad1).
static ALWAYS_INLINE void pair_k3s2(const ctx *c, const float *xp, int64_t oh, float *y0, float *y1, const bool PAD1) {
    const int64_t lo = c->lo, hi = c->hi;
    for (int64_t ow = PAD1 ? 1 : 0; ow < lo; ow++)
        max_one(c, xp, oh, ow, y0 + ow, NULL), max_one(c, xp, oh + 1, ow, y1 + ow, NULL);
    for (int64_t ow = hi; ow < c->OW; ow++)
        max_one(c, xp, oh, ow, y0 + ow, NULL), max_one(c, xp, oh + 1, ow, y1 + ow, NULL);
    const float *r[5];
    for (int i = 0; i < 5; i++) r[i] = xp + (oh * 2 - c->pt + i) * c->W;
    const int64_t c0lo = lo * 2 - c->pl;
    __m256 bad = _mm256_setzero_ps();
    int64_t ow0 = lo, last = -1;   // last: window start of the last vector, whose column last + 16 is unchecked
    if (PAD1) {
        // Whole vectors from output 0 (hi <= W / 2, so their 16 columns lie in the row), then the rest by
        // one vector that overlaps them.
        const __m256i idx = _mm256_setr_epi32(7, 0, 5, 2, 1, 4, 3, 6);
        __m256 tp[5];
        for (int i = 0; i < 5; i++) tp[i] = _mm256_set1_ps(-INFINITY);   // column -1: the padding
        const int64_t nv = hi / 8;
        for (int64_t k = 0; k < nv; k++) {
            __m256 h[5];
            // The next pair's 4 new rows, a line each per vector, when the input lives in the last-level
            // cache: its five row streams otherwise wait on the hardware prefetchers at every row start
            // (1x64x112x112: 68 -> 60 us). From DRAM the extra requests only compete (8x256x56x56: 1.25 ->
            // 1.5 ms).
            if (c->prefetch)
                for (int i = 1; i < 5; i++) _mm_prefetch((const char *)(r[i] + 4 * c->W + 16 * k), _MM_HINT_T0);
            for (int i = 0; i < 5; i++) h[i] = hmax_odd(r[i] + 16 * k, &tp[i], &bad, idx);
            _mm256_storeu_ps(y0 + 8 * k, cnb_avx2_unscramble(_mm256_max_ps(h[2], _mm256_max_ps(h[1], h[0]))));
            _mm256_storeu_ps(y1 + 8 * k, cnb_avx2_unscramble(_mm256_max_ps(h[4], _mm256_max_ps(h[3], h[2]))));
        }
        ow0 = 8 * nv < hi ? hi - 8 : hi;
    }
    if (!PAD1 || ow0 < hi)
        for (;; ow0 += 8) {
            if (ow0 > hi - 8) ow0 = hi - 8;   // the last vector overlaps its predecessor instead of masking
            const int64_t off = c0lo + 2 * (ow0 - lo);
            __m256 h[5];
            for (int i = 0; i < 5; i++) h[i] = hmax(r[i] + off, &bad, 3);
            _mm256_storeu_ps(y0 + ow0, cnb_avx2_unscramble(_mm256_max_ps(h[2], _mm256_max_ps(h[1], h[0]))));
            _mm256_storeu_ps(y1 + ow0, cnb_avx2_unscramble(_mm256_max_ps(h[4], _mm256_max_ps(h[3], h[2]))));
            last = off;
            if (ow0 == hi - 8) break;
        }
    bool nan = false;
    for (int i = 0; i < 5; i++) nan |= isnan(r[i][last + 16]);
    if (nan || _mm256_movemask_ps(bad)) {   // NaN: both rows again, exactly
        row(c, xp, oh, y0, NULL, 3, 2, 1, EXACT);
        row(c, xp, oh + 1, y1, NULL, 3, 2, 1, EXACT);
    }
}

typedef struct job {
    const ctx *c;
    const float *x, *x_end;   // the input, and one past its last value
    float *y;
    int64_t *ind;
} job;

// Output rows [r0, r1) of the N*C*OH (plane, output row): parallel over planes and within them. Inlined per
// window shape and mode, so everything but the row's own bounds stays out of the row loop.
static ALWAYS_INLINE void rows(const job *j, int64_t r0, int64_t r1, const int64_t KW, const int64_t SW,
                               const int64_t DW, const mode MODE) {
    const ctx *c = j->c;
    int64_t oh = r0 % c->OH;
    const float *xp = j->x + r0 / c->OH * c->H * c->W;
    // 3x3 stride-2 values: output rows two by two where both have all window rows inside the plane.
    const bool pad1 = c->pl == 1 && c->lo == 1;
    const bool pairs = MODE == FAST && KW == 3 && SW == 2 && DW == 1 && c->kh == 3 && c->sh == 2 && c->dh == 1 &&
                       (pad1 ? c->hi >= 8 : c->hi - c->lo >= 8);
    for (int64_t r = r0; r < r1; r++) {
        const int64_t hs = oh * 2 - c->pt;
        if (pairs && r + 1 < r1 && oh + 1 < c->OH && hs >= 0 && hs + 4 < c->H) {
            if (pad1) pair_k3s2(c, xp, oh, j->y + r * c->OW, j->y + (r + 1) * c->OW, true);
            else pair_k3s2(c, xp, oh, j->y + r * c->OW, j->y + (r + 1) * c->OW, false);
            r++, oh++;
        } else {
            row(c, xp, oh, j->y + r * c->OW, MODE == FAST_IDX ? j->ind + r * c->OW : NULL, KW, SW, DW, MODE);
        }
        if (++oh == c->OH) oh = 0, xp += c->H * c->W;
    }
}

static void work_k2s2(const job *j, int64_t r0, int64_t r1) { rows(j, r0, r1, 2, 2, 1, FAST); }

// 2x2/s2 values without padding and without windows past the plane (2*OH <= H, 2*OW <= W): output rows
// [r0, r1) without row()'s bounds work, which costs as much as the vectors of a 7- or 14-wide row (VGG's
// last pools). Whole vectors, the last one overlapping its predecessor; a row of fewer than 8 outputs is
// one vector whose loads run into the next input row and whose store into the next output row (written
// after it), masked where that row is not this range's or the loads would leave the input.
static void work_k2s2_plain(const job *j, int64_t r0, int64_t r1) {
    const ctx *c = j->c;
    const int64_t W = c->W, OW = c->OW, OH = c->OH, HW = c->H * W;
    int64_t oh = r0 % OH;
    const float *xp = j->x + r0 / OH * HW;
    for (int64_t r = r0; r < r1; r++) {
        const float *a = xp + 2 * oh * W, *b = a + W;
        float *yr = j->y + r * OW;
        __m256 bad = _mm256_setzero_ps();
        if (OW >= 8) {
            for (int64_t ow0 = 0;; ow0 += 8) {
                if (ow0 > OW - 8) ow0 = OW - 8;
                const __m256 m = _mm256_max_ps(hmax(b + 2 * ow0, &bad, 2), hmax(a + 2 * ow0, &bad, 2));
                _mm256_storeu_ps(yr + ow0, cnb_avx2_unscramble(m));
                if (ow0 == OW - 8) break;
            }
        } else if (b + 16 <= j->x_end) {
            const __m256 m = cnb_avx2_unscramble(_mm256_max_ps(hmax(b, &bad, 2), hmax(a, &bad, 2)));
            if (r * OW + 8 <= r1 * OW) _mm256_storeu_ps(yr, m);
            else cnb_avx2_store_n(yr, m, OW);
        } else {
            row(c, xp, oh, yr, NULL, 2, 2, 1, FAST);
        }
        // A NaN in the columns read (maybe the next row's, for short rows): this row again, exactly.
        if (_mm256_movemask_ps(bad)) row(c, xp, oh, yr, NULL, 2, 2, 1, EXACT);
        if (++oh == OH) oh = 0, xp += HW;
    }
}
static void work_k3s2(const job *j, int64_t r0, int64_t r1) { rows(j, r0, r1, 3, 2, 1, FAST); }
static void work_s1(const job *j, int64_t r0, int64_t r1) { rows(j, r0, r1, j->c->kw, 1, j->c->dw, FAST); }
static void work_s2(const job *j, int64_t r0, int64_t r1) { rows(j, r0, r1, j->c->kw, 2, j->c->dw, FAST); }
static void work_gen(const job *j, int64_t r0, int64_t r1) { rows(j, r0, r1, j->c->kw, j->c->sw, j->c->dw, FAST); }
static void work_k2s2_idx(const job *j, int64_t r0, int64_t r1) { rows(j, r0, r1, 2, 2, 1, FAST_IDX); }
static void work_k3s2_idx(const job *j, int64_t r0, int64_t r1) { rows(j, r0, r1, 3, 2, 1, FAST_IDX); }
static void work_s1_idx(const job *j, int64_t r0, int64_t r1) { rows(j, r0, r1, j->c->kw, 1, j->c->dw, FAST_IDX); }
static void work_s2_idx(const job *j, int64_t r0, int64_t r1) { rows(j, r0, r1, j->c->kw, 2, j->c->dw, FAST_IDX); }
static void work_gen_idx(const job *j, int64_t r0, int64_t r1) {
    rows(j, r0, r1, j->c->kw, j->c->sw, j->c->dw, FAST_IDX);
}

// Planes of 2^31 elements and more: indices do not fit the vectors' int32 lanes.
static void work_scalar_idx(const job *j, int64_t r0, int64_t r1) {
    const ctx *c = j->c;
    for (int64_t r = r0; r < r1; r++)
        for (int64_t ow = 0; ow < c->OW; ow++)
            max_one(c, j->x + r / c->OH * c->H * c->W, r % c->OH, ow, j->y + r * c->OW + ow, j->ind + r * c->OW + ow);
}

#include "kernels/scalar/pool_drive.h"

cnb_status cnb_maxpool2d_direct_avx2_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    assert(g->kind == CNB_MAXPOOL2D && g->K == g->C);
    assert(g->kh > 0 && g->kw > 0 && g->sh > 0 && g->sw > 0 && g->dh > 0 && g->dw > 0);
    assert(g->pad_t >= 0 && g->pad_l >= 0 && g->OH > 0 && g->OW > 0);
    assert(io->x && io->y && io->threads > 0);

    ctx c = {.H = g->H, .W = g->W, .OH = g->OH, .OW = g->OW, .kh = g->kh, .kw = g->kw, .sh = g->sh, .sw = g->sw,
             .dh = g->dh, .dw = g->dw, .pt = g->pad_t, .pl = g->pad_l};
    // Vector columns: the first window starting at or after column 0 to the last ending inside the row.
    c.lo = min64(c.pl / c.sw + (c.pl % c.sw != 0), c.OW);   // ceil(pl / sw); pl + sw - 1 may overflow
    const int64_t last = c.W - 1 - (c.kw - 1) * c.dw + c.pl;   // ow * sw <= last
    c.hi = max64(c.lo, last < 0 ? 0 : min64(last / c.sw + 1, c.OW));
    c.prefetch = cnb_cpu_fits_llc((double)g->in_numel * sizeof(float));

    const float *x = io->x;
    float *y = io->y;
    int64_t *ind = io->indices;   // written whenever given, even without return_indices
    const bool k2s2 = c.kh == 2 && c.kw == 2 && c.sw == 2 && c.dw == 1;
    const bool k3s2 = c.kh == 3 && c.kw == 3 && c.sw == 2 && c.dw == 1;
    // Vector indices are int32 lanes: h*W+w must fit (planes of 2^31 elements and more go scalar).
    const bool idx_vec = c.H * c.W <= INT32_MAX;

    void (*work)(const job *, int64_t, int64_t);
    const bool plain = k2s2 && c.sh == 2 && c.dh == 1 && c.pt == 0 && c.pl == 0 && 2 * c.OH <= c.H && 2 * c.OW <= c.W;
    if (!ind) work = plain ? work_k2s2_plain : k2s2 ? work_k2s2 : k3s2 ? work_k3s2 : c.sw == 1 ? work_s1 : c.sw == 2 ? work_s2 : work_gen;
    else if (!idx_vec) work = work_scalar_idx;
    else work = k2s2 ? work_k2s2_idx : k3s2 ? work_k3s2_idx : c.sw == 1 ? work_s1_idx : c.sw == 2 ? work_s2_idx
                                                                                       : work_gen_idx;
    const job j = {.c = &c, .x = x, .x_end = x + g->in_numel, .y = y, .ind = ind};
    const int64_t rows = g->N * g->C * c.OH;
    // Chunks of about 64 KiB of input, an even number of rows (3x3 stride-2 rows go in pairs).
    const int64_t chunk = max64(2, 16384 / max64(1, c.W) / c.sh / 2 * 2);   // sh * W may overflow
    drive(work, &j, rows, chunk, team(io->threads, g->in_numel + g->out_numel * (ind ? 3 : 1)));
    return CNB_OK;
}
