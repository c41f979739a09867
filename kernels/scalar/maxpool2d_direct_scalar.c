// maxpool2d.direct.scalar: MaxPool2d with PyTorch 1.13's rule (an element wins if greater or NaN: first index of
// ties, last NaN), as loops the compiler vectorises: for each window tap in row-major order, one pass over the
// output row's inner columns applies PyTorch's update to all of them. Borders per output. NCHW float32, int64
// h*W+w indices; portable C (the fast path for CPUs without AVX2); OpenMP over (plane, output row) ranges.
#include <assert.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/registry.h"

cnb_status cnb_maxpool2d_direct_scalar_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_maxpool2d_direct_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_maxpool2d_direct_scalar_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_maxpool2d_direct_scalar_free(cnb_plan_data *p);

cnb_status cnb_maxpool2d_direct_scalar_supports(const cnb_geom *g, cnb_error *why) {
    (void)g, (void)why;
    return CNB_OK;
}

cnb_status cnb_maxpool2d_direct_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    (void)g, (void)w, (void)err;
    p->priv = NULL;
    p->workspace_bytes = 0;
    return CNB_OK;
}

void cnb_maxpool2d_direct_scalar_free(cnb_plan_data *p) { (void)p; }

typedef struct ctx {
    int64_t H, W, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl;
    int64_t lo, hi;   // output columns [lo, hi) whose windows lie inside the row
} ctx;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

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

// One output, exactly as PyTorch's cpu_max_pool: for the border columns.
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

// Output row oh of plane xp into yr (and ir unless NULL). The inner columns [lo, hi) see every tap inside the
// row: the first tap initialises them, each later one (in PyTorch's row-major order) applies
// `take = val > max || isnan(val)` to the whole column range, written with '|' so that it is branch-free and
// vectorises (compares, and/or, no short circuit). With indices, a block of columns keeps the winning tap's
// offset from the window start (a loop constant, int32 like the floats) and widens it to h*W+w at the end.
// SW is a literal in the stride-1 and stride-2 instances.
static inline __attribute__((always_inline)) void row(const ctx *c, const float *xp, int64_t oh, float *restrict yr,
                                                      int64_t *restrict ir, const int64_t SW) {
    const int64_t W = c->W, dh = c->dh, hs = oh * c->sh - c->pt;
    // Window rows [ky0, ky1) inside the plane, compared rather than summed: with a huge padding or
    // dilation (valid with a kernel as huge) hs + span and -hs + dh would overflow.
    const int64_t ky0 = hs < 0 ? -hs / dh + (-hs % dh != 0) : 0;
    const int64_t ky1 = (c->kh - 1) * dh < c->H - hs ? c->kh : (c->H - 1 - hs) / dh + 1;
    // No row of the window inside the plane (ceil_mode with dilation): -inf at the first tap, per output.
    // Window offsets beyond int32 (planes of 2^31 elements): per output too.
    const bool vec = ky0 < ky1 && (double)(c->kh - 1) * (double)dh * (double)W + (double)(c->kw - 1) * (double)c->dw <
                                      (double)INT32_MAX;   // in double: the product may not fit int64
    const int64_t lo = vec ? c->lo : c->OW, hi = vec ? c->hi : c->OW;
    for (int64_t ow = 0; ow < lo; ow++) max_one(c, xp, oh, ow, yr + ow, ir ? ir + ow : NULL);
    for (int64_t ow = hi; ow < c->OW; ow++) max_one(c, xp, oh, ow, yr + ow, ir ? ir + ow : NULL);
    enum { BLOCK = 512 };
    int32_t rel[BLOCK];
    for (int64_t b0 = lo; b0 < hi; b0 += BLOCK) {
        const int64_t b1 = hi - b0 < BLOCK ? hi : b0 + BLOCK;
        float *restrict yb = yr + b0;
        const float *restrict x0 = xp + b0 * SW - c->pl;   // window start of output b0 in row 0
        const int64_t n = b1 - b0;
        for (int64_t ky = ky0; ky < ky1; ky++)
            for (int64_t kx = 0; kx < c->kw; kx++) {
                const int64_t t = (hs + ky * dh) * W + kx * c->dw;   // tap offset from x0
                const int32_t tr = (int32_t)((ky - ky0) * dh * W + kx * c->dw);
                const float *restrict xr = x0 + t;
                if (ky == ky0 && kx == 0) {
                    for (int64_t o = 0; o < n; o++) yb[o] = xr[o * SW];
                    if (ir)
                        for (int64_t o = 0; o < n; o++) rel[o] = 0;
                } else if (ir) {
                    for (int64_t o = 0; o < n; o++) {
                        const float v = xr[o * SW], m = yb[o];
                        const bool take = (v > m) | (v != v);
                        yb[o] = take ? v : m;
                        rel[o] = take ? tr : rel[o];
                    }
                } else {
                    for (int64_t o = 0; o < n; o++) {
                        const float v = xr[o * SW], m = yb[o];
                        yb[o] = ((v > m) | (v != v)) ? v : m;
                    }
                }
            }
        if (ir) {
            const int64_t base = (hs + ky0 * dh) * W + b0 * SW - c->pl;   // first tap of output b0
            for (int64_t o = 0; o < n; o++) ir[b0 + o] = base + o * SW + rel[o];
        }
    }
}

typedef struct job {
    const ctx *c;
    const float *x;
    float *y;
    int64_t *ind;
} job;

// Output rows [r0, r1) of the N*C*OH (plane, output row): parallel over planes and within them.
static inline __attribute__((always_inline)) void rows(const job *j, int64_t r0, int64_t r1, const int64_t SW) {
    const ctx *c = j->c;
    int64_t oh = r0 % c->OH;
    const float *xp = j->x + r0 / c->OH * c->H * c->W;
    for (int64_t r = r0; r < r1; r++) {
        row(c, xp, oh, j->y + r * c->OW, j->ind ? j->ind + r * c->OW : NULL, SW);
        if (++oh == c->OH) oh = 0, xp += c->H * c->W;
    }
}

static void work_s1(const job *j, int64_t r0, int64_t r1) { rows(j, r0, r1, 1); }
static void work_s2(const job *j, int64_t r0, int64_t r1) { rows(j, r0, r1, 2); }
static void work_gen(const job *j, int64_t r0, int64_t r1) { rows(j, r0, r1, j->c->sw); }

#include "kernels/scalar/pool_drive.h"

cnb_status cnb_maxpool2d_direct_scalar_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    assert(g->kind == CNB_MAXPOOL2D && g->K == g->C);
    assert(g->kh > 0 && g->kw > 0 && g->sh > 0 && g->sw > 0 && g->dh > 0 && g->dw > 0);
    assert(g->pad_t >= 0 && g->pad_l >= 0 && g->OH > 0 && g->OW > 0);
    assert(io->x && io->y && io->threads > 0);

    ctx c = {.H = g->H, .W = g->W, .OH = g->OH, .OW = g->OW, .kh = g->kh, .kw = g->kw, .sh = g->sh, .sw = g->sw,
             .dh = g->dh, .dw = g->dw, .pt = g->pad_t, .pl = g->pad_l};
    c.lo = min64(c.pl / c.sw + (c.pl % c.sw != 0), c.OW);   // ceil(pl / sw); pl + sw - 1 may overflow
    const int64_t last = c.W - 1 - (c.kw - 1) * c.dw + c.pl;   // ow * sw <= last
    c.hi = max64(c.lo, last < 0 ? 0 : min64(last / c.sw + 1, c.OW));

    // Indices are written whenever given, even without return_indices.
    const job j = {.c = &c, .x = io->x, .y = io->y, .ind = io->indices};
    void (*work)(const job *, int64_t, int64_t) = c.sw == 1 ? work_s1 : c.sw == 2 ? work_s2 : work_gen;
    const int nt = team(io->threads, g->in_numel + g->out_numel * (j.ind ? 3 : 1));
    const int64_t chunk = max64(1, 16384 / max64(1, c.W) / c.sh);   // rows of about 64 KiB of input (sh * W may overflow)
    drive(work, &j, g->N * g->C * c.OH, chunk, nt);
    return CNB_OK;
}
