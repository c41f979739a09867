// maxpool2d.direct.neon: MaxPool2d with PyTorch 1.13's rule (an element wins if greater or NaN: first index of
// ties, last NaN), 4 output columns of one output row per vector, taps scanned in PyTorch's row-major order.
// Stride-2 taps come from LD2 deinterleaving loads (specialised for 2x2/s2 and 3x3/s2, 8 outputs a step),
// stride 1 loads, larger strides lane loads. NCHW float32, int64 h*W+w indices; needs NEON (AArch64 ASIMD);
// OpenMP over (plane, output row) ranges.
#include <arm_neon.h>
#include <assert.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/registry.h"

cnb_status cnb_maxpool2d_direct_neon_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_maxpool2d_direct_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_maxpool2d_direct_neon_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_maxpool2d_direct_neon_free(cnb_plan_data *p);

cnb_status cnb_maxpool2d_direct_neon_supports(const cnb_geom *g, cnb_error *why) {
    (void)g, (void)why;
    return CNB_OK;
}

cnb_status cnb_maxpool2d_direct_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    (void)g, (void)w, (void)err;
    p->priv = NULL;
    p->workspace_bytes = 0;
    return CNB_OK;
}

void cnb_maxpool2d_direct_neon_free(cnb_plan_data *p) { (void)p; }

#define ALWAYS_INLINE inline __attribute__((always_inline))

typedef struct ctx {
    int64_t H, W, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl;
    int64_t lo, hi;   // output columns [lo, hi) whose windows lie inside the row: the vector range
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

// The later of two taps wins only if greater: FMAX would turn (-0, +0) into +0 whichever came first, and
// PyTorch keeps the first of equal values, so compare and select instead. NaN in b is dropped here (the
// ordered '>' is false): callers either flag it or take it explicitly.
static ALWAYS_INLINE float32x4_t later(float32x4_t a, float32x4_t b) { return vbslq_f32(vcgtq_f32(b, a), b, a); }

// FMAX propagates NaN: a running FMAX of every value read flags a NaN anywhere among them.
static ALWAYS_INLINE float32x4_t flag(float32x4_t bad, float32x4_t v) { return vmaxq_f32(bad, v); }
static ALWAYS_INLINE bool any_nan(float32x4_t bad) { return isnan(vmaxvq_f32(bad)); }

// Lane j of 4 stride-SW windows' tap t: row[t + SW*j] for j < n (the other lanes are don't-care).
// FULL: all 4 lanes, and every column the loads touch lies inside the row (see `reach` in row()).
// Stride 2, t > 0: the odd columns of the pair starting at t-1, which reads one column before the first
// needed (inside the row) instead of one after the last (maybe outside it).
static ALWAYS_INLINE float32x4_t tap(const float *row, int64_t t, int64_t n, int64_t SW, const bool FULL) {
    if (FULL && SW == 1) return vld1q_f32(row + t);
    if (FULL && SW == 2) return t == 0 ? vld2q_f32(row).val[0] : vld2q_f32(row + t - 1).val[1];
    float b[4] = {0.f, 0.f, 0.f, 0.f};
    for (int64_t j = 0; j < (FULL ? 4 : n); j++) b[j] = row[t + SW * j];
    return vld1q_f32(b);
}

static ALWAYS_INLINE void store_n(float *p, float32x4_t v, int64_t n) {
    if (n >= 4) {
        vst1q_f32(p, v);
        return;
    }
    float b[4];
    vst1q_f32(b, v);
    memcpy(p, b, (size_t)n * sizeof *p);
}

static ALWAYS_INLINE void store_idx(int64_t *ind, int32x4_t i32, int64_t n) {
    const int64x2_t lo = vmovl_s32(vget_low_s32(i32)), hi = vmovl_high_s32(i32);
    if (n >= 4) {
        vst1q_s64(ind, lo);
        vst1q_s64(ind + 2, hi);
        return;
    }
    int64_t b[4];
    vst1q_s64(b, lo);
    vst1q_s64(b + 2, hi);
    memcpy(ind, b, (size_t)n * sizeof *ind);
}

// ---- the general vector step -------------------------------------------------------------------------

typedef enum mode { FAST, FAST_IDX, EXACT, EXACT_IDX } mode;

typedef struct rowv {
    const ctx *c;
    const float *xp;
    int64_t hs, ky0, ky1;   // window rows hs + ky*dh, ky in [ky0, ky1), are inside the plane
    int32x4_t jsw;          // lane j's column offset SW*j
} rowv;

// Outputs [ow0, ow0 + n) of one row (n <= 4), taps in PyTorch's row-major order. KW, SW, DW are the
// window's width, stride and dilation: literal constants for the specialised instances, so the tap loop
// unrolls. FAST, FAST_IDX: take `val > max`; a NaN is only flagged in the returned vector (the caller redoes
// the row in EXACT or EXACT_IDX mode). EXACT: take `val > max || isnan(val)`. *_IDX: with indices (int32
// lanes: planes below 2^31 elements).
static ALWAYS_INLINE float32x4_t vec(const rowv *rv, int64_t ow0, int64_t n, float *yo, int64_t *io,
                                     const int64_t KW, const int64_t SW, const int64_t DW, const bool FULL,
                                     const mode MODE) {
    const ctx *c = rv->c;
    const int64_t W = c->W, c0 = ow0 * SW - c->pl;
    if (FULL) n = 4;
    const bool IDX = MODE == FAST_IDX || MODE == EXACT_IDX, EX = MODE == EXACT || MODE == EXACT_IDX;
    float32x4_t m = vdupq_n_f32(0.f), bad = vdupq_n_f32(0.f);
    int32x4_t mi = vdupq_n_s32(0);
    for (int64_t ky = rv->ky0; ky < rv->ky1; ky++) {
        const int64_t ih = rv->hs + ky * c->dh;
        const float *r = rv->xp + ih * W + c0;
        for (int64_t kx = 0; kx < KW; kx++) {
            const int64_t t = kx * DW;
            const float32x4_t v = tap(r, t, n, SW, FULL);
            const int32x4_t vi = IDX ? vaddq_s32(vdupq_n_s32((int32_t)(ih * W + c0 + t)), rv->jsw) : mi;
            if (!EX) bad = flag(bad, v);
            if (ky == rv->ky0 && kx == 0) {
                m = v, mi = vi;
                continue;
            }
            uint32x4_t take = vcgtq_f32(v, m);
            if (EX) take = vorrq_u32(take, vmvnq_u32(vceqq_f32(v, v)));
            m = vbslq_f32(take, v, m);
            if (IDX) mi = vbslq_s32(take, vi, mi);
        }
    }
    store_n(yo, m, n);
    if (IDX) store_idx(io, mi, n);
    return bad;
}

// ---- the 2x2 and 3x3 stride-2 value fast paths --------------------------------------------------------

// One input row's part of 4 stride-2 windows starting at r[0]: the max of its taps in column order, and the
// values read flagged into *bad. LD2 splits r[0..7] into the even (tap 0) and odd (tap 1) columns; the third
// tap (r[2], r[4], r[6], r[8]) is the even columns shifted by one with r[8] appended.
static ALWAYS_INLINE float32x4_t hmax(const float *r, float32x4_t *bad, const int K) {
    const float32x4x2_t a = vld2q_f32(r);
    float32x4_t h = later(a.val[0], a.val[1]);
    if (K == 2) {
        *bad = flag(*bad, vmaxq_f32(a.val[0], a.val[1]));
        return h;
    }
    const float32x4_t t2 = vextq_f32(a.val[0], vld1q_dup_f32(r + 8), 1);
    *bad = flag(*bad, vmaxq_f32(a.val[1], t2));   // t2 holds every even column but r[0]
    *bad = flag(*bad, a.val[0]);
    return later(h, t2);
}

// hmax for the 3-wide windows of outputs 0..3 with one column of left padding (r points at column 0): the
// padding column is -inf, which never wins and, values only, gives exactly PyTorch's result (a window of
// -inf and padding is -inf either way). Taps 1 and 2 are the even and odd columns of r[0..7].
static ALWAYS_INLINE float32x4_t hmax_pad1(const float *r, float32x4_t *bad) {
    const float32x4x2_t a = vld2q_f32(r);
    const float32x4_t t0 = vextq_f32(vdupq_n_f32(-INFINITY), a.val[1], 3);   // -inf, r[1], r[3], r[5]
    *bad = flag(*bad, vmaxq_f32(a.val[0], a.val[1]));
    return later(later(t0, a.val[0]), a.val[1]);
}

// The max over the NR window rows rp[] (in order) of hmax at column offset off.
static ALWAYS_INLINE float32x4_t kmax(const float *const *rp, int64_t off, float32x4_t *bad, const int K,
                                      const int NR) {
    float32x4_t m = hmax(rp[0] + off, bad, K);
    if (NR > 1) m = later(m, hmax(rp[1] + off, bad, K));
    if (NR > 2) m = later(m, hmax(rp[2] + off, bad, K));
    return m;
}

// Outputs [lo, hi) (hi - lo >= 4) of a K x K stride-2 window over the NR input rows rp[], whole vectors
// only: two independent vectors a step (twice the loads in flight), then one, and the last one overlaps
// its predecessor instead of masking. PAD1 (3-wide windows, lo == 1, one column of left padding): outputs
// 0..3 by hmax_pad1 first. Returns the NaN flags.
static ALWAYS_INLINE float32x4_t fast_rows(const float *const *rp, int64_t c0lo, int64_t lo, int64_t hi, float *yr,
                                           const int K, const int NR, const bool PAD1) {
    float32x4_t bad = vdupq_n_f32(0.f), bad2 = bad;
    int64_t ow0 = lo;
    if (PAD1) {
        float32x4_t m = hmax_pad1(rp[0], &bad);
        if (NR > 1) m = later(m, hmax_pad1(rp[1], &bad));
        if (NR > 2) m = later(m, hmax_pad1(rp[2], &bad));
        vst1q_f32(yr, m);
        if (hi == 4) return bad;
        ow0 = 4;
    }
    for (; ow0 + 8 <= hi; ow0 += 8) {
        const int64_t off = c0lo + 2 * (ow0 - lo);
        const float32x4_t m0 = kmax(rp, off, &bad, K, NR), m1 = kmax(rp, off + 8, &bad2, K, NR);
        vst1q_f32(yr + ow0, m0);
        vst1q_f32(yr + ow0 + 4, m1);
    }
    if (ow0 < hi) {
        for (;; ow0 += 4) {
            if (ow0 > hi - 4) ow0 = hi - 4;
            vst1q_f32(yr + ow0, kmax(rp, c0lo + 2 * (ow0 - lo), &bad, K, NR));
            if (ow0 == hi - 4) break;
        }
    }
    return vmaxq_f32(bad, bad2);
}

// ---- one output row ---------------------------------------------------------------------------------

// Output row oh of plane xp into yr (and ir unless NULL): scalar borders, whole vectors, a partial tail.
static ALWAYS_INLINE void row(const ctx *c, const float *xp, int64_t oh, float *yr, int64_t *ir, const int64_t KW,
                              const int64_t SW, const int64_t DW, const mode MODE) {
    rowv rv = {.c = c, .xp = xp, .hs = oh * c->sh - c->pt};
    // Compared rather than summed: with a huge padding or dilation hs + span and -hs + dh would overflow.
    rv.ky0 = rv.hs < 0 ? -rv.hs / c->dh + (-rv.hs % c->dh != 0) : 0;
    rv.ky1 = (c->kh - 1) * c->dh < c->H - rv.hs ? c->kh : (c->H - 1 - rv.hs) / c->dh + 1;
    // No row of the window inside the plane (ceil_mode with dilation): -inf at the first tap, scalar.
    const int64_t lo = rv.ky0 < rv.ky1 ? c->lo : c->OW, hi = rv.ky0 < rv.ky1 ? c->hi : c->OW;
    const int64_t nr = rv.ky1 - rv.ky0;
    const bool pad1 = KW == 3 && c->pl == 1 && lo == 1;   // fast: outputs 0..3 by hmax_pad1 too
    const bool fast = MODE == FAST && SW == 2 && DW == 1 && (KW == 2 || KW == 3) && nr <= 3 && c->dh == 1 &&
                      (pad1 ? hi >= 4 : hi - lo >= 4);
    for (int64_t ow = fast && pad1 ? 1 : 0; ow < lo; ow++) max_one(c, xp, oh, ow, yr + ow, ir ? ir + ow : NULL);
    for (int64_t ow = hi; ow < c->OW; ow++) max_one(c, xp, oh, ow, yr + ow, ir ? ir + ow : NULL);
    if (lo >= hi) return;

    float32x4_t bad;
    static const int32_t k_lanes[4] = {0, 1, 2, 3};
    rv.jsw = vmulq_n_s32(vld1q_s32(k_lanes), (int32_t)SW);
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
        if (pad1 && any_nan(bad)) max_one(c, xp, oh, 0, yr, NULL);
    } else {
        // Whole vectors: 4 outputs whose loads all lie inside the row. Past the window start c0 they read
        // up to column c0 + reach - 1 (stride 2: an 8-column pair at the first tap, at tap-1 for the others;
        // larger strides load only the columns they need).
        const int64_t reach = SW == 1 ? (KW - 1) * DW + 4 : SW == 2 ? max64(8, (KW - 1) * DW + 7) : 0;
        bad = vdupq_n_f32(0.f);
        int64_t ow0 = lo;
        for (; ow0 + 4 <= hi && ow0 * SW - c->pl + reach <= c->W; ow0 += 4)
            bad = vmaxq_f32(bad, vec(&rv, ow0, 4, yr + ow0, ir ? ir + ow0 : NULL, KW, SW, DW, true, MODE));
        for (; ow0 < hi; ow0 += 4)
            bad = vmaxq_f32(bad, vec(&rv, ow0, min64(4, hi - ow0), yr + ow0, ir ? ir + ow0 : NULL, KW, SW, DW,
                                     false, MODE));
    }
    // A NaN somewhere in the row's windows: redo the row exactly.
    if ((MODE == FAST || MODE == FAST_IDX) && any_nan(bad))
        for (int64_t ow0 = lo; ow0 < hi; ow0 += 4)
            vec(&rv, ow0, min64(4, hi - ow0), yr + ow0, ir ? ir + ow0 : NULL, KW, SW, DW, false,
                MODE == FAST ? EXACT : EXACT_IDX);
}

// Output rows oh and oh + 1 of a 3x3 stride-2 window (both with all 3 window rows inside the plane), values
// only: they share input row 2*oh + 1 - pt, so 5 row maxima give 2 output vectors (6 for 2 done apart).
// The caller checks hi - lo >= 4 (or hi >= 4 with one column of left padding: pad1).
static ALWAYS_INLINE void pair_k3s2(const ctx *c, const float *xp, int64_t oh, float *y0, float *y1, const bool PAD1) {
    const int64_t lo = c->lo, hi = c->hi;
    for (int64_t ow = PAD1 ? 1 : 0; ow < lo; ow++)
        max_one(c, xp, oh, ow, y0 + ow, NULL), max_one(c, xp, oh + 1, ow, y1 + ow, NULL);
    for (int64_t ow = hi; ow < c->OW; ow++)
        max_one(c, xp, oh, ow, y0 + ow, NULL), max_one(c, xp, oh + 1, ow, y1 + ow, NULL);
    const float *r[5];
    for (int i = 0; i < 5; i++) r[i] = xp + (oh * 2 - c->pt + i) * c->W;
    const int64_t c0lo = lo * 2 - c->pl;
    float32x4_t bad = vdupq_n_f32(0.f);
    int64_t ow0 = lo;
    if (PAD1) {
        float32x4_t h[5];
        for (int i = 0; i < 5; i++) h[i] = hmax_pad1(r[i], &bad);
        vst1q_f32(y0, later(later(h[0], h[1]), h[2]));
        vst1q_f32(y1, later(later(h[2], h[3]), h[4]));
        ow0 = 4;
    }
    if (!PAD1 || hi > 4)
        for (;; ow0 += 4) {
            if (ow0 > hi - 4) ow0 = hi - 4;   // the last vector overlaps its predecessor instead of masking
            const int64_t off = c0lo + 2 * (ow0 - lo);
            float32x4_t h[5];
            for (int i = 0; i < 5; i++) h[i] = hmax(r[i] + off, &bad, 3);
            vst1q_f32(y0 + ow0, later(later(h[0], h[1]), h[2]));
            vst1q_f32(y1 + ow0, later(later(h[2], h[3]), h[4]));
            if (ow0 == hi - 4) break;
        }
    if (any_nan(bad)) {   // NaN: both rows again, exactly
        row(c, xp, oh, y0, NULL, 3, 2, 1, EXACT);
        row(c, xp, oh + 1, y1, NULL, 3, 2, 1, EXACT);
    }
}

typedef struct job {
    const ctx *c;
    const float *x;
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
                       (pad1 ? c->hi >= 4 : c->hi - c->lo >= 4);
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

cnb_status cnb_maxpool2d_direct_neon_run(const cnb_plan_data *p, const cnb_io *io) {
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

    const float *x = io->x;
    float *y = io->y;
    int64_t *ind = io->indices;   // written whenever given, even without return_indices
    const bool k2s2 = c.kh == 2 && c.kw == 2 && c.sw == 2 && c.dw == 1;
    const bool k3s2 = c.kh == 3 && c.kw == 3 && c.sw == 2 && c.dw == 1;
    // Vector indices are int32 lanes: h*W+w must fit (planes of 2^31 elements and more go scalar).
    const bool idx_vec = c.H * c.W <= INT32_MAX;

    void (*work)(const job *, int64_t, int64_t);
    if (!ind) work = k2s2 ? work_k2s2 : k3s2 ? work_k3s2 : c.sw == 1 ? work_s1 : c.sw == 2 ? work_s2 : work_gen;
    else if (!idx_vec) work = work_scalar_idx;
    else work = k2s2 ? work_k2s2_idx : k3s2 ? work_k3s2_idx : c.sw == 1 ? work_s1_idx : c.sw == 2 ? work_s2_idx
                                                                                       : work_gen_idx;
    const job j = {.c = &c, .x = x, .y = y, .ind = ind};
    const int64_t rows = g->N * g->C * c.OH;
    // Chunks of about 64 KiB of input, an even number of rows (3x3 stride-2 rows go in pairs).
    const int64_t chunk = max64(2, 16384 / max64(1, c.W) / c.sh / 2 * 2);   // sh * W may overflow
    drive(work, &j, rows, chunk, team(io->threads, g->in_numel + g->out_numel * (ind ? 3 : 1)));
    return CNB_OK;
}
