// avgpool2d.direct.scalar: AvgPool2d with PyTorch 1.13's window, pool size and divisor rules (count_include_pad,
// divisor_override, ceil_mode), as loops the compiler vectorises: each window tap, in row-major order, is added
// to the output row's inner columns in one pass (PyTorch's float summation order), then they are divided.
// Borders per output. NCHW float32; portable C (the fast path for CPUs without AVX2); OpenMP over output rows.
#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/registry.h"

cnb_status cnb_avgpool2d_direct_scalar_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_avgpool2d_direct_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_avgpool2d_direct_scalar_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_avgpool2d_direct_scalar_free(cnb_plan_data *p);

cnb_status cnb_avgpool2d_direct_scalar_supports(const cnb_geom *g, cnb_error *why) {
    (void)g, (void)why;
    return CNB_OK;
}

cnb_status cnb_avgpool2d_direct_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    (void)g, (void)w, (void)err;
    p->priv = NULL;
    p->workspace_bytes = 0;
    return CNB_OK;
}

void cnb_avgpool2d_direct_scalar_free(cnb_plan_data *p) { (void)p; }

typedef struct ctx {
    int64_t H, W, OH, OW, kh, kw, sh, sw, pt, pb, pl, pr;
    int64_t divisor;          // divisor_override, 0 for None
    bool cip;                 // count_include_pad
    int64_t lo, hi;           // output columns [lo, hi) whose windows lie inside the row
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

// A power-of-two divisor has an exact reciprocal: multiplying by it is the division, rounding included.
static bool pow2(int64_t d) {
    const uint64_t u = d < 0 ? 0 - (uint64_t)d : (uint64_t)d;  // d may be INT64_MIN: no signed negation
    return u && !(u & (u - 1)) && u <= ((uint64_t)1 << 62);
}

// Output row oh of plane xp into yr; SW literal in the stride-1 and stride-2 instances.
static inline __attribute__((always_inline)) void row(const ctx *c, const float *xp, int64_t oh, float *restrict yr,
                                                      const int64_t SW) {
    const int64_t hs = oh * c->sh - c->pt;
    const int64_t h0 = max64(hs, 0), h1 = end_min(hs, c->kh, c->H);
    if (h0 >= h1) {   // a window row of padding only (ceil_mode): PyTorch writes 0
        for (int64_t ow = 0; ow < c->OW; ow++) yr[ow] = 0.0f;
        return;
    }
    const int64_t lo = c->lo, hi = c->hi;
    for (int64_t ow = 0; ow < lo; ow++) yr[ow] = avg_one(c, xp, oh, ow);
    for (int64_t ow = hi; ow < c->OW; ow++) yr[ow] = avg_one(c, xp, oh, ow);
    if (lo >= hi) return;
    for (int64_t ow = lo; ow < hi; ow++) yr[ow] = 0.0f;
    for (int64_t h = h0; h < h1; h++)
        for (int64_t kx = 0; kx < c->kw; kx++) {
            const float *restrict xr = xp + h * c->W + kx - c->pl;
            for (int64_t ow = lo; ow < hi; ow++) yr[ow] += xr[ow * SW];
        }
    // Inside the row every window is kw wide, so one divisor serves all these columns.
    const int64_t pool_h = end_min(hs, c->kh, c->H + c->pb) - hs;
    const int64_t pool = (int64_t)((uint64_t)pool_h * (uint64_t)c->kw);   // wraps as PyTorch's, as in avg_one
    const int64_t div = c->divisor ? c->divisor : c->cip ? pool : (h1 - h0) * c->kw;
    if (pow2(div)) {
        const float r = 1.0f / (float)div;
        for (int64_t ow = lo; ow < hi; ow++) yr[ow] *= r;
    } else {
        const float d = (float)div;
        for (int64_t ow = lo; ow < hi; ow++) yr[ow] /= d;
    }
}

typedef struct job {
    const ctx *c;
    const float *x;
    float *y;
} job;

// Output rows [r0, r1) of the N*C*OH (plane, output row): parallel over planes and within them.
static inline __attribute__((always_inline)) void rows(const job *j, int64_t r0, int64_t r1, const int64_t SW) {
    const ctx *c = j->c;
    int64_t oh = r0 % c->OH;
    const float *xp = j->x + r0 / c->OH * c->H * c->W;
    for (int64_t r = r0; r < r1; r++) {
        row(c, xp, oh, j->y + r * c->OW, SW);
        if (++oh == c->OH) oh = 0, xp += c->H * c->W;
    }
}

static void work_s1(const job *j, int64_t r0, int64_t r1) { rows(j, r0, r1, 1); }
static void work_s2(const job *j, int64_t r0, int64_t r1) { rows(j, r0, r1, 2); }
static void work_gen(const job *j, int64_t r0, int64_t r1) { rows(j, r0, r1, j->c->sw); }

#include "kernels/scalar/pool_drive.h"

cnb_status cnb_avgpool2d_direct_scalar_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    assert(g->kind == CNB_AVGPOOL2D && g->K == g->C);
    assert(g->kh > 0 && g->kw > 0 && g->sh > 0 && g->sw > 0);   // divisor_override may be negative
    assert(g->pad_t >= 0 && g->pad_b >= 0 && g->pad_l >= 0 && g->pad_r >= 0 && g->OH > 0 && g->OW > 0);
    assert(io->x && io->y && io->threads > 0);

    ctx c = {.H = g->H, .W = g->W, .OH = g->OH, .OW = g->OW, .kh = g->kh, .kw = g->kw, .sh = g->sh, .sw = g->sw,
             .pt = g->pad_t, .pb = g->pad_b, .pl = g->pad_l, .pr = g->pad_r, .divisor = g->divisor,
             .cip = g->count_include_pad};
    c.lo = min64(c.pl / c.sw + (c.pl % c.sw != 0), c.OW);   // ceil(pl / sw); pl + sw - 1 may overflow
    const int64_t last = c.W - c.kw + c.pl;   // ow * sw <= last
    c.hi = max64(c.lo, last < 0 ? 0 : min64(last / c.sw + 1, c.OW));

    const job j = {.c = &c, .x = io->x, .y = io->y};
    void (*work)(const job *, int64_t, int64_t) = c.sw == 1 ? work_s1 : c.sw == 2 ? work_s2 : work_gen;
    const int nt = team(io->threads, g->in_numel + g->out_numel);
    const int64_t chunk = max64(1, 16384 / max64(1, c.W) / c.sh);   // rows of about 64 KiB of input (sh * W may overflow)
    drive(work, &j, g->N * g->C * c.OH, chunk, nt);
    return CNB_OK;
}
