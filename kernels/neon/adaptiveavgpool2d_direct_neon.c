// adaptiveavgpool2d.direct.neon: AdaptiveAvgPool2d, PyTorch 1.13's cells [floor(o*L/n), ceil((o+1)*L/n)). Global
// average: plane sums, 8 planes reduced together; 1x1 cells: one pass; equal cells 1-2 wide: 4 outputs a vector;
// other cells (overlapping, uneven, wide): rows summed into a row buffer (double), then each cell's columns.
// Float sums up to 256 terms a cell, double beyond. NCHW float32; needs NEON (AArch64 ASIMD); OpenMP over planes
// or rows.
#include <arm_neon.h>
#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/registry.h"
#include "core/status.h"

cnb_status cnb_adaptiveavgpool2d_direct_neon_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_adaptiveavgpool2d_direct_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                                  cnb_error *err);
cnb_status cnb_adaptiveavgpool2d_direct_neon_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_adaptiveavgpool2d_direct_neon_free(cnb_plan_data *p);

cnb_status cnb_adaptiveavgpool2d_direct_neon_supports(const cnb_geom *g, cnb_error *why) {
    (void)g, (void)why;
    return CNB_OK;
}

// Integer division gives the exact floor and ceil; a float floor misplaces bounds once o*len is large.
// In 128 bits: plan() tabulates the bounds of huge layers too (planned, maybe never run), where o * len
// overflows int64.
__extension__ typedef __int128 cnb_i128;
static int64_t cell_start(int64_t o, int64_t n, int64_t len) { return (int64_t)((cnb_i128)o * len / n); }
static int64_t cell_end(int64_t o, int64_t n, int64_t len) { return (int64_t)(((cnb_i128)(o + 1) * len + n - 1) / n); }

// The cell bounds, [start, end) per output row then per output column: the general path reads them for every
// row, and 64-bit divisions there would cost more than the sums.
cnb_status cnb_adaptiveavgpool2d_direct_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                                  cnb_error *err) {
    (void)w;
    // An empty output (C or N = 0) is never run, and its OH + OW may not even fit int64: no tables.
    if (g->out_numel == 0) {
        p->priv = NULL;
        p->workspace_bytes = 0;
        return CNB_OK;
    }
    int64_t *b = cnb_malloc(2 * (size_t)(g->OH + g->OW) * sizeof *b);
    if (!b) return cnb_fail(err, CNB_E_NOMEM, "adaptiveavgpool2d.direct.neon: out of memory for %lld cell bounds",
                            (long long)(g->OH + g->OW));
    for (int64_t o = 0; o < g->OH; o++) b[2 * o] = cell_start(o, g->OH, g->H), b[2 * o + 1] = cell_end(o, g->OH, g->H);
    for (int64_t o = 0; o < g->OW; o++) {
        b[2 * (g->OH + o)] = cell_start(o, g->OW, g->W);
        b[2 * (g->OH + o) + 1] = cell_end(o, g->OW, g->W);
    }
    p->priv = b;
    p->workspace_bytes = 0;
    return CNB_OK;
}

void cnb_adaptiveavgpool2d_direct_neon_free(cnb_plan_data *p) {
    cnb_free(p->priv);
    p->priv = NULL;
}

#define ALWAYS_INLINE inline __attribute__((always_inline))

// A power-of-two divisor has an exact reciprocal: multiplying by it is the division, rounding included.
static bool pow2(int64_t d) { return d > 0 && !(d & (d - 1)); }

static ALWAYS_INLINE float32x4_t divide(float32x4_t s, float32x4_t d, bool mul) {
    return mul ? vmulq_f32(s, d) : vdivq_f32(s, d);
}

// The first n floats at p (n < 4: zeros after them, never reading past them).
static ALWAYS_INLINE float32x4_t load_n(const float *p, int64_t n) {
    if (n >= 4) return vld1q_f32(p);
    float b[4] = {0.f, 0.f, 0.f, 0.f};
    memcpy(b, p, (size_t)(n > 0 ? n : 0) * sizeof *p);
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

// ---- global average: output 1x1 -----------------------------------------------------------------------

// Cells of more elements are summed in double: a float sum's rounding grows with the number of terms, and
// averages of many terms of both signs are much smaller than the terms (PyTorch sums in float, one by one).
enum { FLOAT_TERMS = 256 };

// The sum of n floats, 4 vector accumulators (4 independent add chains).
static float32x4_t vsum(const float *p, int64_t n) {
    float32x4_t a0 = vdupq_n_f32(0.f), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = vaddq_f32(a0, vld1q_f32(p + i));
        a1 = vaddq_f32(a1, vld1q_f32(p + i + 4));
        a2 = vaddq_f32(a2, vld1q_f32(p + i + 8));
        a3 = vaddq_f32(a3, vld1q_f32(p + i + 12));
    }
    for (; i < n; i += 4) a0 = vaddq_f32(a0, load_n(p + i, n - i));
    return vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3));
}

// 2 floats at p, widened (n < 2: zero after the first, never reading past it).
static ALWAYS_INLINE float64x2_t load2d(const float *p, int64_t n) {
    if (n >= 2) return vcvt_f64_f32(vld1_f32(p));
    return vcombine_f64(vdup_n_f64(n > 0 ? (double)p[0] : 0.0), vdup_n_f64(0.0));
}

// The sum of n floats in double, 4 accumulators of 2 lanes.
static double vsum_d(const float *p, int64_t n) {
    float64x2_t a0 = vdupq_n_f64(0.0), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const float32x4_t u = vld1q_f32(p + i), v = vld1q_f32(p + i + 4);
        a0 = vaddq_f64(a0, vcvt_f64_f32(vget_low_f32(u)));
        a1 = vaddq_f64(a1, vcvt_high_f64_f32(u));
        a2 = vaddq_f64(a2, vcvt_f64_f32(vget_low_f32(v)));
        a3 = vaddq_f64(a3, vcvt_high_f64_f32(v));
    }
    for (; i < n; i += 2) a0 = vaddq_f64(a0, load2d(p + i, n - i));
    return vaddvq_f64(vaddq_f64(vaddq_f64(a0, a1), vaddq_f64(a2, a3)));
}

// The sum of S >= 4 floats as a vector: whole vectors into two accumulators, then the last S % 4 by a load
// that overlaps the previous vector, with the lanes already counted zeroed (tail: lanes 4 - S%4 .. 3 set).
static ALWAYS_INLINE float32x4_t psum(const float *p, int64_t S, uint32x4_t tail) {
    float32x4_t a0 = vld1q_f32(p), a1 = vdupq_n_f32(0.f);
    int64_t i = 4;
    for (; i + 8 <= S; i += 8) {
        a1 = vaddq_f32(a1, vld1q_f32(p + i));
        a0 = vaddq_f32(a0, vld1q_f32(p + i + 4));
    }
    if (i + 4 <= S) a1 = vaddq_f32(a1, vld1q_f32(p + i)), i += 4;
    if (i < S) a0 = vaddq_f32(a0, vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(vld1q_f32(p + S - 4)), tail)));
    return vaddq_f32(a0, a1);
}

// Lane i: the sum of v[i]'s lanes (pairwise adds).
static ALWAYS_INLINE float32x4_t hsum4(float32x4_t v0, float32x4_t v1, float32x4_t v2, float32x4_t v3) {
    return vpaddq_f32(vpaddq_f32(v0, v1), vpaddq_f32(v2, v3));
}

// Planes [p0, p1) of S elements each.
static void global_avg(const float *x, float *y, int64_t S, int64_t p0, int64_t p1) {
    if (S > FLOAT_TERMS) {
        for (int64_t p = p0; p < p1; p++) y[p] = (float)(vsum_d(x + p * S, S) / (double)S);
        return;
    }
    const bool mul = pow2(S);
    const float32x4_t d = vdupq_n_f32(mul ? 1.0f / (float)S : (float)S);
    int64_t p = p0;
    if (S >= 4) {
        static const int32_t k_lane[4] = {0, 1, 2, 3};
        // Lanes >= 4 - S%4 are new in the overlapping last load (none when S%4 == 0: the load is skipped).
        const uint32x4_t tail = vcgeq_s32(vld1q_s32(k_lane), vdupq_n_s32((int32_t)(4 - S % 4)));
        // 8 planes at a time: 16 accumulators in flight, reduced together (pairwise adds, two stores).
        for (; p + 8 <= p1; p += 8) {
            float32x4_t acc[8];
            for (int i = 0; i < 8; i++) acc[i] = psum(x + (p + i) * S, S, tail);
            vst1q_f32(y + p, divide(hsum4(acc[0], acc[1], acc[2], acc[3]), d, mul));
            vst1q_f32(y + p + 4, divide(hsum4(acc[4], acc[5], acc[6], acc[7]), d, mul));
        }
    }
    for (; p < p1; p++) {
        const float32x4_t s = vdupq_n_f32(vaddvq_f32(vsum(x + p * S, S)));
        y[p] = vgetq_lane_f32(divide(s, d, mul), 0);
    }
}

// ---- 1x1 cells: y = x -----------------------------------------------------------------------------------

// PyTorch sums each cell from 0, so -0 comes out as +0: add +0 rather than copy.
// Elements [i0, i1).
static void identity(const float *x, float *y, int64_t i0, int64_t i1) {
    const float32x4_t z = vdupq_n_f32(0.f);
    int64_t i = i0;
    for (; i + 16 <= i1; i += 16) {
        const float32x4_t a = vld1q_f32(x + i), b = vld1q_f32(x + i + 4);
        const float32x4_t c = vld1q_f32(x + i + 8), e = vld1q_f32(x + i + 12);
        vst1q_f32(y + i, vaddq_f32(a, z));
        vst1q_f32(y + i + 4, vaddq_f32(b, z));
        vst1q_f32(y + i + 8, vaddq_f32(c, z));
        vst1q_f32(y + i + 12, vaddq_f32(e, z));
    }
    for (; i < i1; i += 4) store_n(y + i, vaddq_f32(load_n(x + i, i1 - i), z), i1 - i);
}

// ---- equal cells (OH divides H, OW divides W), 1 or 2 columns wide: windows of stride kh, kw ------------

typedef struct eq {
    int64_t H, W, OH, OW, kh, kw;
    float32x4_t d;
    bool mul;
} eq;

// Outputs [ow0, ow0 + 4) of an output row whose cells start at input row r0: the cell rows summed, then
// (kw 2) the even and odd columns (LD2) added. FULL: whole loads; else n < 4 outputs, loads limited.
static ALWAYS_INLINE float32x4_t eq_vec(const float *r0, int64_t kh, int64_t W, int64_t ow0, int64_t n,
                                        const int64_t KW, const bool FULL) {
    const int64_t c0 = ow0 * KW;
    if (KW == 1) {
        float32x4_t acc = FULL ? vld1q_f32(r0 + c0) : load_n(r0 + c0, n);
        for (int64_t i = 1; i < kh; i++) acc = vaddq_f32(acc, FULL ? vld1q_f32(r0 + i * W + c0) : load_n(r0 + i * W + c0, n));
        return vaddq_f32(acc, vdupq_n_f32(0.f));   // PyTorch sums from +0: a cell of -0s averages to +0
    }
    float32x4x2_t a;
    if (FULL) {
        a = vld2q_f32(r0 + c0);
        for (int64_t i = 1; i < kh; i++) {
            const float32x4x2_t b = vld2q_f32(r0 + i * W + c0);
            a.val[0] = vaddq_f32(a.val[0], b.val[0]), a.val[1] = vaddq_f32(a.val[1], b.val[1]);
        }
    } else {
        float b[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
        memcpy(b, r0 + c0, (size_t)(2 * n) * sizeof *b);
        a = vld2q_f32(b);
        for (int64_t i = 1; i < kh; i++) {
            memcpy(b, r0 + i * W + c0, (size_t)(2 * n) * sizeof *b);
            const float32x4x2_t q = vld2q_f32(b);
            a.val[0] = vaddq_f32(a.val[0], q.val[0]), a.val[1] = vaddq_f32(a.val[1], q.val[1]);
        }
    }
    return vaddq_f32(vaddq_f32(a.val[0], a.val[1]), vdupq_n_f32(0.f));   // from +0, as above
}

// Output rows [r0, r1) of the N*C*OH: output row r reads input rows r*kh .. r*kh + kh - 1 of the N*C*H (OH
// divides H). Two vectors a step where the row has them (independent add chains), then one; the last vector
// of a row of 4 or more outputs overlaps its predecessor instead of going partial. KH, KW literal in the
// specialised instances (KH 0: kh read at run time).
static ALWAYS_INLINE void eq_rows_k(const eq *e, const float *x, float *y, int64_t r0, int64_t r1, const int64_t KH,
                                    const int64_t KW) {
    // Copies: the compiler must assume the float stores to y may change anything *e holds.
    const int64_t kh = KH ? KH : e->kh, W = e->W, OW = e->OW;
    const float32x4_t d = e->d;
    const bool mul = e->mul;
    for (int64_t r = r0; r < r1; r++) {
        const float *in = x + r * kh * W;
        float *yr = y + r * OW;
        int64_t o = 0;
        for (; o + 8 <= OW; o += 8) {
            const float32x4_t a = eq_vec(in, kh, W, o, 4, KW, true), b = eq_vec(in, kh, W, o + 4, 4, KW, true);
            vst1q_f32(yr + o, divide(a, d, mul));
            vst1q_f32(yr + o + 4, divide(b, d, mul));
        }
        if (o + 4 <= OW) vst1q_f32(yr + o, divide(eq_vec(in, kh, W, o, 4, KW, true), d, mul)), o += 4;
        if (o == OW) continue;
        if (OW >= 4) vst1q_f32(yr + OW - 4, divide(eq_vec(in, kh, W, OW - 4, 4, KW, true), d, mul));
        else store_n(yr + o, divide(eq_vec(in, kh, W, o, OW - o, KW, false), d, mul), OW - o);
    }
}

// Output rows [r0, r1).
static void eq_rows(const eq *e, const float *x, float *y, int64_t r0, int64_t r1) {
    if (e->kw == 1) {
        if (e->kh == 2) eq_rows_k(e, x, y, r0, r1, 2, 1);
        else eq_rows_k(e, x, y, r0, r1, 0, 1);
    } else {
        if (e->kh == 2) eq_rows_k(e, x, y, r0, r1, 2, 2);
        else if (e->kh == 1) eq_rows_k(e, x, y, r0, r1, 1, 2);
        else eq_rows_k(e, x, y, r0, r1, 0, 2);
    }
}

// ---- any cells ------------------------------------------------------------------------------------------

enum { BUF = 2048 };   // doubles of the per-thread row buffer (on the stack)

typedef struct gen {
    int64_t H, W, OH, OW;
    const int64_t *hb, *wb;   // cell bounds from plan(): rows [hb[2o], hb[2o+1]), columns likewise
} gen;

// Output row oh of plane xp, in double: per chunk of output columns whose cells span at most BUF input
// columns, the cell rows are summed into buf (vectorised, 4 columns a step in two 2-lane halves), then each
// cell's columns from buf. A cell wider than BUF is summed straight from the input.
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
        int64_t w = 0;
        for (; w + 4 <= n; w += 4) {
            float64x2_t s0 = vdupq_n_f64(0.0), s1 = s0;
            for (int64_t h = h0; h < h1; h++) {
                const float32x4_t v = vld1q_f32(xp + h * e->W + ws + w);
                s0 = vaddq_f64(s0, vcvt_f64_f32(vget_low_f32(v)));
                s1 = vaddq_f64(s1, vcvt_high_f64_f32(v));
            }
            vst1q_f64(buf + w, s0);
            vst1q_f64(buf + w + 2, s1);
        }
        for (; w < n; w += 2) {
            float64x2_t s = vdupq_n_f64(0.0);
            for (int64_t h = h0; h < h1; h++) s = vaddq_f64(s, load2d(xp + h * e->W + ws + w, n - w));
            vst1q_f64(buf + w, s);   // buf has room for the whole last pair
        }
        for (int64_t ow = oa; ow < ob; ow++) {
            const int64_t c0 = wb[2 * ow], c1 = wb[2 * ow + 1];
            double s = 0;
            for (int64_t c = c0; c < c1; c++) s += buf[c - ws];
            yr[ow] = (float)(s / (double)((h1 - h0) * (c1 - c0)));
        }
        oa = ob;
    }
}

// Output rows [r0, r1).
static void gen_rows(const gen *e, const float *x, float *y, int64_t r0, int64_t r1) {
    double buf[BUF + 4];
    int64_t oh = r0 % e->OH;
    const float *xp = x + r0 / e->OH * e->H * e->W;
    for (int64_t r = r0; r < r1; r++) {
        gen_row(e, xp, oh, y + r * e->OW, buf);
        if (++oh == e->OH) oh = 0, xp += e->H * e->W;
    }
}

typedef struct job {
    const float *x;
    float *y;
    int64_t planes, H, W, OH, OW;
    eq e;
    const int64_t *bounds;   // plan(): hb then wb of struct gen
} job;

// Items [i0, i1): planes (global average), elements (1x1 cells) or (plane, output row) (the others).
static void work_global(const job *j, int64_t i0, int64_t i1) { global_avg(j->x, j->y, j->H * j->W, i0, i1); }
static void work_identity(const job *j, int64_t i0, int64_t i1) { identity(j->x, j->y, i0, i1); }
static void work_eq(const job *j, int64_t i0, int64_t i1) { eq_rows(&j->e, j->x, j->y, i0, i1); }
static void work_gen(const job *j, int64_t i0, int64_t i1) {
    const gen e = {.H = j->H, .W = j->W, .OH = j->OH, .OW = j->OW, .hb = j->bounds, .wb = j->bounds + 2 * j->OH};
    gen_rows(&e, j->x, j->y, i0, i1);
}

#include "kernels/scalar/pool_drive.h"

cnb_status cnb_adaptiveavgpool2d_direct_neon_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    assert(g->kind == CNB_ADAPTIVEAVGPOOL2D && g->K == g->C);
    assert(g->H > 0 && g->W > 0 && g->OH > 0 && g->OW > 0);
    assert(io->x && io->y && io->threads > 0);

    job j = {.x = io->x, .y = io->y, .planes = g->N * g->C, .H = g->H, .W = g->W, .OH = g->OH, .OW = g->OW,
             .bounds = p->priv};
    if (j.H % j.OH == 0 && j.W % j.OW == 0) {
        j.e = (eq){.H = j.H, .W = j.W, .OH = j.OH, .OW = j.OW, .kh = j.H / j.OH, .kw = j.W / j.OW};
        const int64_t div = j.e.kh * j.e.kw;
        j.e.mul = pow2(div);
        j.e.d = vdupq_n_f32(j.e.mul ? 1.0f / (float)div : (float)div);
    }
    // Chunks of about 64 KiB of input: whole groups of 8 planes (so the grouping, and with it every sum,
    // is the same for any thread count), whole vectors of elements, or rows.
    const int nt = team(io->threads, g->in_numel + g->out_numel);
    const int64_t S = j.H * j.W, rows = j.planes * j.OH;
    if (j.OH == 1 && j.OW == 1) drive(work_global, &j, j.planes, (16384 / S + 8) / 8 * 8, nt);
    else if (j.OH == j.H && j.OW == j.W) drive(work_identity, &j, j.planes * S, 16384, nt);
    else if (j.H % j.OH == 0 && j.W % j.OW == 0 && j.W / j.OW <= 2 && j.H / j.OH * (j.W / j.OW) <= FLOAT_TERMS)
        drive(work_eq, &j, rows, 16384 / (j.H / j.OH * j.W) + 1, nt);
    else drive(work_gen, &j, rows, 16384 / (S / j.OH + 1) + 1, nt);
    return CNB_OK;
}
