// avgpool2d.direct.neon: AvgPool2d with PyTorch 1.13's window, pool size and divisor rules (count_include_pad,
// divisor_override, ceil_mode), 4 output columns of one output row per vector, 8 (two vectors) a step where
// whole: the window rows are summed first, then its columns (stride 2: LD2 even/odd deinterleave; stride 1:
// loads; larger: lane loads), in float. NCHW float32; needs NEON (AArch64 ASIMD); OpenMP over (plane, output
// row) ranges.
#include <arm_neon.h>
#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/registry.h"

cnb_status cnb_avgpool2d_direct_neon_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_avgpool2d_direct_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_avgpool2d_direct_neon_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_avgpool2d_direct_neon_free(cnb_plan_data *p);

cnb_status cnb_avgpool2d_direct_neon_supports(const cnb_geom *g, cnb_error *why) {
    (void)g, (void)why;
    return CNB_OK;
}

cnb_status cnb_avgpool2d_direct_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    (void)g, (void)w, (void)err;
    p->priv = NULL;
    p->workspace_bytes = 0;
    return CNB_OK;
}

void cnb_avgpool2d_direct_neon_free(cnb_plan_data *p) { (void)p; }

#define ALWAYS_INLINE inline __attribute__((always_inline))

typedef struct ctx {
    int64_t H, W, OH, OW, kh, kw, sh, sw, pt, pb, pl, pr;
    int64_t divisor;          // divisor_override, 0 for None
    bool cip;                 // count_include_pad
    int64_t lo, hi;           // output columns [lo, hi) whose windows lie inside the row: the vector range
} ctx;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

// min(start + k, lim), compared rather than summed: a kernel far larger than the input could overflow the sum.
static int64_t end_min(int64_t start, int64_t k, int64_t lim) { return k < lim - start ? start + k : lim; }

// One output as PyTorch's cpu_avg_pool computes it: the pool size counts the padding but not what a ceil_mode
// window hangs past it, and is taken before clipping the window to the input.
static float avg_one(const ctx *c, const float *xp, int64_t oh, int64_t ow) {
    int64_t h0 = oh * c->sh - c->pt, w0 = ow * c->sw - c->pl;
    int64_t h1 = end_min(h0, c->kh, c->H + c->pb), w1 = end_min(w0, c->kw, c->W + c->pr);
    // PyTorch's int64 pool size wraps for windows of 2^63 elements or more: modulo 2^64 here too.
    const int64_t pool = (int64_t)((uint64_t)(h1 - h0) * (uint64_t)(w1 - w0));
    h0 = max64(h0, 0), w0 = max64(w0, 0), h1 = min64(h1, c->H), w1 = min64(w1, c->W);
    if (h0 >= h1 || w0 >= w1) return 0.0f;
    const int64_t div = c->divisor ? c->divisor : c->cip ? pool : (h1 - h0) * (w1 - w0);
    float sum = 0.0f;
    for (int64_t h = h0; h < h1; h++)
        for (int64_t w = w0; w < w1; w++) sum += xp[h * c->W + w];
    return sum / (float)div;
}

// ---- one output row ---------------------------------------------------------------------------------

typedef struct rowv {
    const float *r0;          // the first window row inside the plane, at the window start column of ow = 0
    int64_t nr, W;            // window rows inside the plane, row pitch
    float32x4_t div;          // the divisor (or its exact reciprocal when mul)
    bool mul;
} rowv;

// Lane j: p[SW*j] for j < n, zeros after (only the columns needed are read).
static ALWAYS_INLINE float32x4_t lanes(const float *p, int64_t SW, int64_t n) {
    float b[4] = {0.f, 0.f, 0.f, 0.f};
    for (int64_t j = 0; j < n && j < 4; j++) b[j] = p[SW * j];
    return vld1q_f32(b);
}

// Outputs of U vectors (4 each) from window start column c0 (and c0 + 4*SW for the second): KW, SW literal
// for the specialised instances, NR likewise (0: rv->nr at run time). FULL: every load whole (U may be 2);
// else U == 1 and n <= 4 outputs, each load limited to the columns it needs. The U vectors' sums are
// independent chains, so two of them keep twice the adds in flight. Stride 2: LD2 splits the 8 columns at
// even tap offsets b into taps b (even) and b+1 (odd); an odd last tap takes the odd columns of the pair one
// column earlier (no read past the window).
static ALWAYS_INLINE void vec(const rowv *rv, int64_t c0, int64_t n, float *yo, const int64_t KW, const int64_t SW,
                              const int64_t NR, const bool FULL, const int U) {
    const int64_t nr = NR ? NR : rv->nr, W = rv->W;
    float32x4_t acc[2] = {vdupq_n_f32(0.f), vdupq_n_f32(0.f)};
    for (int u = 0; u < U; u++) {
        const float *r = rv->r0 + c0 + u * 4 * SW;
        if (SW == 1) {
            for (int64_t t = 0; t < KW; t++) {
                float32x4_t s = FULL ? vld1q_f32(r + t) : lanes(r + t, 1, n);
                for (int64_t i = 1; i < nr; i++) s = vaddq_f32(s, FULL ? vld1q_f32(r + i * W + t) : lanes(r + i * W + t, 1, n));
                acc[u] = vaddq_f32(acc[u], s);
            }
        } else if (SW == 2) {
            for (int64_t b = 0; b < KW; b += 2) {
                const int64_t base = b + 1 < KW || b == 0 ? b : b - 1;
                float32x4_t ev, od;
                if (FULL) {
                    float32x4x2_t p = vld2q_f32(r + base);
                    ev = p.val[0], od = p.val[1];
                    for (int64_t i = 1; i < nr; i++) {
                        p = vld2q_f32(r + i * W + base);
                        ev = vaddq_f32(ev, p.val[0]), od = vaddq_f32(od, p.val[1]);
                    }
                } else {
                    ev = lanes(r + base, 2, n), od = lanes(r + base + 1, 2, b + 1 < KW || b > 0 ? n : 0);
                    for (int64_t i = 1; i < nr; i++) {
                        ev = vaddq_f32(ev, lanes(r + i * W + base, 2, n));
                        od = vaddq_f32(od, lanes(r + i * W + base + 1, 2, b + 1 < KW || b > 0 ? n : 0));
                    }
                }
                if (b + 1 < KW) acc[u] = vaddq_f32(acc[u], vaddq_f32(ev, od));
                else acc[u] = vaddq_f32(acc[u], b == 0 ? ev : od);
            }
        } else {
            for (int64_t i = 0; i < nr; i++)
                for (int64_t t = 0; t < KW; t++) acc[u] = vaddq_f32(acc[u], lanes(r + i * W + t, SW, FULL ? 4 : n));
        }
    }
    // A power-of-two divisor has an exact reciprocal: multiplying by it is the division, rounding included.
    for (int u = 0; u < U; u++) {
        const float32x4_t q = rv->mul ? vmulq_f32(acc[u], rv->div) : vdivq_f32(acc[u], rv->div);
        if (FULL || n >= 4) {
            vst1q_f32(yo + 4 * u, q);
        } else {
            float b[4];
            vst1q_f32(b, q);
            memcpy(yo, b, (size_t)n * sizeof *yo);
        }
    }
}

static bool pow2(int64_t d) {
    const uint64_t u = d < 0 ? 0 - (uint64_t)d : (uint64_t)d;  // d may be INT64_MIN: no signed negation
    return u && !(u & (u - 1)) && u <= ((uint64_t)1 << 62);
}

// Vector columns [lo, hi) of a row: whole vectors, two at a time, (the last one overlapping its predecessor
// rather than partial, where it can), a partial tail otherwise.
static ALWAYS_INLINE void cols(const rowv *rv, float *yr, int64_t lo, int64_t hi, int64_t fullmax, const int64_t KW,
                               const int64_t SW, const int64_t NR) {
    int64_t ow0 = lo;
    for (; ow0 + 8 <= hi && (ow0 + 4) * SW <= fullmax; ow0 += 8) vec(rv, ow0 * SW, 8, yr + ow0, KW, SW, NR, true, 2);
    for (; ow0 + 4 <= hi && ow0 * SW <= fullmax; ow0 += 4) vec(rv, ow0 * SW, 4, yr + ow0, KW, SW, NR, true, 1);
    if (ow0 < hi && hi - lo >= 4 && (hi - 4) * SW <= fullmax) {
        vec(rv, (hi - 4) * SW, 4, yr + hi - 4, KW, SW, NR, true, 1);
        return;
    }
    for (; ow0 < hi; ow0 += 4) vec(rv, ow0 * SW, min64(4, hi - ow0), yr + ow0, KW, SW, NR, false, 1);
}

// Output row oh of plane xp into yr: scalar borders, then the vector columns.
static ALWAYS_INLINE void row(const ctx *c, const float *xp, int64_t oh, float *yr, const int64_t KW,
                              const int64_t SW) {
    const int64_t hs = oh * c->sh - c->pt;
    const int64_t h0 = max64(hs, 0), h1 = end_min(hs, c->kh, c->H);
    if (h0 >= h1) {   // a window row of padding only (ceil_mode): PyTorch writes 0
        for (int64_t ow = 0; ow < c->OW; ow++) yr[ow] = 0.0f;
        return;
    }
    for (int64_t ow = 0; ow < c->lo; ow++) yr[ow] = avg_one(c, xp, oh, ow);
    for (int64_t ow = c->hi; ow < c->OW; ow++) yr[ow] = avg_one(c, xp, oh, ow);
    const int64_t lo = c->lo, hi = c->hi;
    if (lo >= hi) return;

    // Inside the row every window is KW wide, so the divisor is the same for all vector columns.
    const int64_t pool_h = end_min(hs, c->kh, c->H + c->pb) - hs;
    const int64_t pool = (int64_t)((uint64_t)pool_h * (uint64_t)KW);   // wraps as PyTorch's, as in avg_one
    const int64_t div = c->divisor ? c->divisor : c->cip ? pool : (h1 - h0) * KW;
    rowv rv = {.r0 = xp + h0 * c->W - c->pl, .nr = h1 - h0, .W = c->W, .mul = pow2(div)};
    rv.div = vdupq_n_f32(rv.mul ? 1.0f / (float)div : (float)div);
    // Whole vectors read up to column c0 + reach - 1 past their window start c0 (larger strides read only
    // the columns they need).
    const int64_t reach = SW == 1 ? KW + 3 : SW == 2 ? (KW == 1 ? 8 : KW + 6) : 0;
    const int64_t fullmax = c->W - reach + c->pl;   // whole vectors need ow0 * SW <= fullmax
    if (KW == 2 && SW == 2 && rv.nr == 2) cols(&rv, yr, lo, hi, fullmax, KW, SW, 2);   // 2x2 inside the plane
    else if (KW == 3 && SW == 2 && rv.nr == 3) cols(&rv, yr, lo, hi, fullmax, KW, SW, 3);   // 3x3 likewise
    else cols(&rv, yr, lo, hi, fullmax, KW, SW, 0);
}

typedef struct job {
    const ctx *c;
    const float *x;
    float *y;
} job;

// Output rows [r0, r1) of the N*C*OH (plane, output row): parallel over planes and within them. Inlined per
// window shape, so everything but the row's own bounds stays out of the row loop.
static ALWAYS_INLINE void rows(const job *j, int64_t r0, int64_t r1, const int64_t KW, const int64_t SW) {
    const ctx *c = j->c;
    int64_t oh = r0 % c->OH;
    const float *xp = j->x + r0 / c->OH * c->H * c->W;
    for (int64_t r = r0; r < r1; r++) {
        row(c, xp, oh, j->y + r * c->OW, KW, SW);
        if (++oh == c->OH) oh = 0, xp += c->H * c->W;
    }
}

static void work_k2s2(const job *j, int64_t r0, int64_t r1) { rows(j, r0, r1, 2, 2); }
static void work_k3s2(const job *j, int64_t r0, int64_t r1) { rows(j, r0, r1, 3, 2); }
static void work_s1(const job *j, int64_t r0, int64_t r1) { rows(j, r0, r1, j->c->kw, 1); }
static void work_s2(const job *j, int64_t r0, int64_t r1) { rows(j, r0, r1, j->c->kw, 2); }
static void work_gen(const job *j, int64_t r0, int64_t r1) { rows(j, r0, r1, j->c->kw, j->c->sw); }

#include "kernels/scalar/pool_drive.h"

cnb_status cnb_avgpool2d_direct_neon_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    assert(g->kind == CNB_AVGPOOL2D && g->K == g->C);
    assert(g->kh > 0 && g->kw > 0 && g->sh > 0 && g->sw > 0);   // divisor_override may be negative
    assert(g->pad_t >= 0 && g->pad_b >= 0 && g->pad_l >= 0 && g->pad_r >= 0 && g->OH > 0 && g->OW > 0);
    assert(io->x && io->y && io->threads > 0);

    ctx c = {.H = g->H, .W = g->W, .OH = g->OH, .OW = g->OW, .kh = g->kh, .kw = g->kw, .sh = g->sh, .sw = g->sw,
             .pt = g->pad_t, .pb = g->pad_b, .pl = g->pad_l, .pr = g->pad_r, .divisor = g->divisor,
             .cip = g->count_include_pad};
    // Vector columns: from the first window starting at or after column 0 to the last ending inside the row.
    c.lo = min64(c.pl / c.sw + (c.pl % c.sw != 0), c.OW);   // ceil(pl / sw); pl + sw - 1 may overflow
    const int64_t last = c.W - c.kw + c.pl;   // ow * sw <= last
    c.hi = max64(c.lo, last < 0 ? 0 : min64(last / c.sw + 1, c.OW));

    void (*work)(const job *, int64_t, int64_t) = c.kw == 2 && c.sw == 2   ? work_k2s2
                                                  : c.kw == 3 && c.sw == 2 ? work_k3s2
                                                  : c.sw == 1              ? work_s1
                                                  : c.sw == 2              ? work_s2
                                                                           : work_gen;
    const job j = {.c = &c, .x = io->x, .y = io->y};
    const int64_t chunk = max64(1, 16384 / max64(1, c.W) / c.sh);   // rows of about 64 KiB of input (sh * W may overflow)
    drive(work, &j, g->N * g->C * c.OH, chunk, team(io->threads, g->in_numel + g->out_numel));
    return CNB_OK;
}
