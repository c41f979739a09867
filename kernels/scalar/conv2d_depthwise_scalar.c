// conv2d.depthwise.scalar: depthwise Conv2d (groups == in_channels, out channel k reads input channel k / mult),
// NCHW in and out, portable C. Each input row is copied once into a padded row split by column phase (column %
// stride), so every tap is a unit-stride sweep over the output row that gcc -O3 vectorises; taps are summed three
// at a time into the output row. Any kernel, stride, dilation, padding mode. OpenMP over planes and row blocks.
#include <assert.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/registry.h"
#include "core/status.h"
#include "kernels/scalar/team.h"

cnb_status cnb_conv2d_depthwise_scalar_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv2d_depthwise_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv2d_depthwise_scalar_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv2d_depthwise_scalar_free(cnb_plan_data *p);

// (a + b - 1) / b for b > 0 (the ceiling for a >= 0, as before for a < 0), without overflow for a huge stride b.
static inline int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? a / b + (a % b != 0) : (a + b - 1) / b; }

static const char k_name[] = "conv2d.depthwise.scalar";

// Geometry derived once in plan(). A padded input row (width Wp) is stored as `nslots` phase arrays of PS floats:
// slot s holds padded columns phase[s], phase[s] + sw, ...; output column ow of tap column j is
// slot[tap_slot[j]][ow + tap_off[j]].
typedef struct dw_plan {
    int64_t Hp, Wp, m, T;
    int64_t nslots, PS, row_floats;
    int64_t ring_rows;        // padded rows kept per thread: those one output row reads
    int64_t tmax;             // threads the workspace is sized for
    size_t thread_bytes;
    int64_t *phase, *tap_slot, *tap_off;
    int32_t *colmap;          // padded column -> input column, -1 for a zero
    int64_t *rowmap;          // padded row -> input row, -1 for a zero
} dw_plan;

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

cnb_status cnb_conv2d_depthwise_scalar_supports(const cnb_geom *g, cnb_error *why) {
    if (g->kind != CNB_CONV2D)
        return cnb_fail(why, CNB_E_UNSUPPORTED, "%s: only Conv2d", k_name);
    if (g->groups != g->C || g->K % g->C != 0)
        return cnb_fail(why, CNB_E_UNSUPPORTED, "%s: not depthwise (groups %lld, in_channels %lld, out_channels %lld)",
                        k_name, (long long)g->groups, (long long)g->C, (long long)g->K);
    if (g->W + g->pad_l + g->pad_r > (INT32_MAX / 4))
        return cnb_fail(why, CNB_E_UNSUPPORTED, "%s: rows wider than %d", k_name, INT32_MAX / 4);
    return CNB_OK;
}

static void dw_plan_free(dw_plan *d) {
    if (!d) return;
    cnb_free(d->phase);
    cnb_free(d->tap_slot);
    cnb_free(d->tap_off);
    cnb_free(d->colmap);
    cnb_free(d->rowmap);
    cnb_free(d);
}

cnb_status cnb_conv2d_depthwise_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    (void)w;
    assert(g->groups == g->C && g->K % g->C == 0);
    dw_plan *d = cnb_calloc(1, sizeof *d);
    if (!d) return cnb_fail(err, CNB_E_NOMEM, "%s: out of memory", k_name);
    const int64_t s = g->sw;
    d->Hp = g->H + g->pad_t + g->pad_b;
    d->Wp = g->W + g->pad_l + g->pad_r;
    d->m = g->K / g->C;
    d->T = g->kh * g->kw;
    d->phase = cnb_malloc((size_t)g->kw * sizeof *d->phase);
    d->tap_slot = cnb_malloc((size_t)g->kw * sizeof *d->tap_slot);
    d->tap_off = cnb_malloc((size_t)g->kw * sizeof *d->tap_off);
    d->colmap = cnb_malloc((size_t)d->Wp * sizeof *d->colmap);
    d->rowmap = cnb_malloc((size_t)d->Hp * sizeof *d->rowmap);
    if (!d->phase || !d->tap_slot || !d->tap_off || !d->colmap || !d->rowmap) {
        dw_plan_free(d);
        return cnb_fail(err, CNB_E_NOMEM, "%s: out of memory", k_name);
    }
    // Only the phases some tap reads get a slot (at most kw of them, whatever the stride).
    for (int64_t j = 0; j < g->kw; j++) {
        const int64_t col = j * g->dw, ph = col % s;
        int64_t sl = 0;
        while (sl < d->nslots && d->phase[sl] != ph) sl++;
        if (sl == d->nslots) d->phase[d->nslots++] = ph;
        d->tap_slot[j] = sl;
        d->tap_off[j] = col / s;
    }
    d->PS = (ceil_div(d->Wp, s) + 7) / 8 * 8;
    d->row_floats = d->nslots * d->PS;
    for (int64_t c = 0; c < d->Wp; c++) d->colmap[c] = (int32_t)cnb_pad_index(g->pad_mode, c - g->pad_l, g->W);
    for (int64_t r = 0; r < d->Hp; r++) d->rowmap[r] = cnb_pad_index(g->pad_mode, r - g->pad_t, g->H);
    d->ring_rows = (g->kh - 1) * g->dh + 1;
    if (d->ring_rows > d->Hp) d->ring_rows = d->Hp;
    d->thread_bytes = align64((size_t)d->row_floats * sizeof(float)) +
                      align64((size_t)d->ring_rows * (size_t)d->row_floats * sizeof(float)) +
                      align64((size_t)d->ring_rows * sizeof(int64_t)) + align64((size_t)d->T * sizeof(float *));
    // run() may be asked for any thread count; the workspace holds one slot per thread up to what this process
    // can run at once, and run() uses at most that many (the result does not depend on it).
    int tmax = omp_get_max_threads();
    if (omp_get_num_procs() > tmax) tmax = omp_get_num_procs();
    d->tmax = tmax > 0 ? tmax : 1;
    if (d->thread_bytes > SIZE_MAX / (size_t)d->tmax - 64) {
        dw_plan_free(d);
        return cnb_fail(err, CNB_E_OVERFLOW, "%s: workspace size overflows", k_name);
    }
    p->priv = d;
    p->workspace_bytes = d->thread_bytes * (size_t)d->tmax + 64;
    return CNB_OK;
}

void cnb_conv2d_depthwise_scalar_free(cnb_plan_data *p) {
    dw_plan_free(p->priv);
    p->priv = NULL;
}

// Copy input row src (W floats) into its phase slots, padding columns mapped through colmap.
static void build_row(const cnb_geom *g, const dw_plan *d, const float *restrict src, float *restrict dst) {
    const int64_t s = g->sw, pl = g->pad_l, W = g->W, Wp = d->Wp;
    for (int64_t sl = 0; sl < d->nslots; sl++) {
        const int64_t ph = d->phase[sl], len = ceil_div(Wp - ph, s);
        float *restrict o = dst + sl * d->PS;
        // Interior indices [lo, hi): padded column ph + i*s maps to input column ph + i*s - pl in [0, W).
        int64_t lo = pl > ph ? ceil_div(pl - ph, s) : 0;
        int64_t hi = W + pl - ph > 0 ? ceil_div(W + pl - ph, s) : 0;
        if (lo > len) lo = len;
        if (hi > len) hi = len;
        if (hi < lo) hi = lo;
        for (int64_t i = 0; i < lo; i++) {
            const int32_t c = d->colmap[ph + i * s];
            o[i] = c < 0 ? 0.f : src[c];
        }
        // Only with an interior: lo * s may be far past the row (a clamped lo, a huge stride), and src + that
        // a pointer outside it (fuzz_plan, UBSan).
        if (hi > lo) {
            const float *restrict si = src + (ph + lo * s - pl);
            if (s == 1) memcpy(o + lo, si, (size_t)(hi - lo) * sizeof(float));
            else
                for (int64_t i = 0; i < hi - lo; i++) o[lo + i] = si[i * s];
        }
        for (int64_t i = hi; i < len; i++) {
            const int32_t c = d->colmap[ph + i * s];
            o[i] = c < 0 ? 0.f : src[c];
        }
        memset(o + len, 0, (size_t)(d->PS - len) * sizeof(float));
    }
}

// y[i] (= b, when first) + wa*a[i] + wb*b_[i] + wc*c[i]: unit-stride, restrict, no calls, so gcc vectorises it.
static void taps3(float *restrict y, int64_t n, int first, float bias, float wa, const float *restrict a, float wb,
                  const float *restrict b, float wc, const float *restrict c) {
    if (first)
        for (int64_t i = 0; i < n; i++) y[i] = bias + wa * a[i] + wb * b[i] + wc * c[i];
    else
        for (int64_t i = 0; i < n; i++) y[i] = y[i] + wa * a[i] + wb * b[i] + wc * c[i];
}

// The 3x3 case in one pass over the output row.
static void taps9(float *restrict y, int64_t n, float bias, const float *w, const float *const *p) {
    const float *restrict a = p[0], *restrict b = p[1], *restrict c = p[2], *restrict d = p[3], *restrict e = p[4],
                *restrict f = p[5], *restrict g = p[6], *restrict h = p[7], *restrict k = p[8];
    const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];
    for (int64_t i = 0; i < n; i++)
        y[i] = bias + w0 * a[i] + w1 * b[i] + w2 * c[i] + w3 * d[i] + w4 * e[i] + w5 * f[i] + w6 * g[i] + w7 * h[i] +
               w8 * k[i];
}

static void taps1(float *restrict y, int64_t n, int first, float bias, float wa, const float *restrict a) {
    if (first)
        for (int64_t i = 0; i < n; i++) y[i] = bias + wa * a[i];
    else
        for (int64_t i = 0; i < n; i++) y[i] = y[i] + wa * a[i];
}

// Per-thread scratch: a zero row, the ring of padded rows (slot prow % ring_rows, tagged with prow), tap pointers.
typedef struct dw_scratch {
    float *zero, *ring;
    int64_t *tag;
    const float **ptr;
} dw_scratch;

static const float *get_row(const cnb_geom *g, const dw_plan *d, dw_scratch *sc, const float *xp, int64_t prow) {
    const int64_t ih = d->rowmap[prow];
    if (ih < 0) return sc->zero;
    const int64_t slot = prow % d->ring_rows;
    float *row = sc->ring + slot * d->row_floats;
    if (sc->tag[slot] != prow) {
        build_row(g, d, xp + ih * g->W, row);
        sc->tag[slot] = prow;
    }
    return row;
}

// Output rows [r0, r1) of the mult output planes that read input plane (n, c).
static void dw_block(const cnb_geom *g, const dw_plan *d, const cnb_weights *wt, dw_scratch *sc, const float *x,
                     float *y, int64_t n, int64_t c, int64_t r0, int64_t r1) {
    const int64_t T = d->T, OW = g->OW, OH = g->OH;
    const float *xp = x + (n * g->C + c) * g->H * g->W;
    for (int64_t i = 0; i < d->ring_rows; i++) sc->tag[i] = -1;
    for (int64_t oh = r0; oh < r1; oh++) {
        for (int64_t i = 0; i < g->kh; i++) {
            const float *row = get_row(g, d, sc, xp, oh * g->sh + i * g->dh);
            for (int64_t j = 0; j < g->kw; j++) sc->ptr[i * g->kw + j] = row + d->tap_slot[j] * d->PS + d->tap_off[j];
        }
        for (int64_t q = 0; q < d->m; q++) {
            const int64_t k = c * d->m + q;
            const float *wk = wt->weight + k * T;
            float *yr = y + ((n * g->K + k) * OH + oh) * OW;
            if (T == 9) {
                taps9(yr, OW, wt->bias[k], wk, sc->ptr);
                continue;
            }
            int64_t t = 0;
            for (; t + 3 <= T; t += 3)
                taps3(yr, OW, t == 0, wt->bias[k], wk[t], sc->ptr[t], wk[t + 1], sc->ptr[t + 1], wk[t + 2], sc->ptr[t + 2]);
            for (; t < T; t++) taps1(yr, OW, t == 0, wt->bias[k], wk[t], sc->ptr[t]);
        }
    }
}

// This thread's share of the units: planes, or row blocks of planes.
static void dw_share(const cnb_plan_data *p, const cnb_io *io, char *ws, int64_t units, int64_t blocks) {
    const cnb_geom *g = p->g;
    const dw_plan *d = p->priv;
    char *b = ws + (size_t)omp_get_thread_num() * d->thread_bytes;
    dw_scratch sc;
    sc.zero = (float *)b;
    b += align64((size_t)d->row_floats * sizeof(float));
    sc.ring = (float *)b;
    b += align64((size_t)d->ring_rows * (size_t)d->row_floats * sizeof(float));
    sc.tag = (int64_t *)b;
    b += align64((size_t)d->ring_rows * sizeof(int64_t));
    sc.ptr = (const float **)b;
    memset(sc.zero, 0, (size_t)d->row_floats * sizeof(float));
    // A contiguous share of the units per thread (as schedule(static) would), walked without divisions.
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t u0 = units * t / nt, u1 = units * (t + 1) / nt;
    int64_t bl = u0 % blocks, c = u0 / blocks % g->C, n = u0 / blocks / g->C;
    for (int64_t u = u0; u < u1; u++) {
        dw_block(g, d, p->w, &sc, io->x, io->y, n, c, bl * g->OH / blocks, (bl + 1) * g->OH / blocks);
        if (++bl == blocks) {
            bl = 0;
            if (++c == g->C) c = 0, n++;
        }
    }
}

cnb_status cnb_conv2d_depthwise_scalar_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    const dw_plan *d = p->priv;
    assert(g->groups == g->C && io->workspace);
    int threads = io->threads < 1 ? 1 : io->threads;
    if (threads > d->tmax) threads = (int)d->tmax;
    // Work units: (n, c) planes, each split into row blocks when there are too few planes to share out evenly.
    const int64_t planes = g->N * g->C;
    int64_t blocks = 1;
    if (threads > 1 && planes % threads != 0 && planes < 8 * threads) {
        blocks = (8 * threads + planes - 1) / planes;
        if (blocks > g->OH) blocks = g->OH;
    }
    const int64_t units = planes * blocks;
    char *ws = (char *)(((uintptr_t)io->workspace + 63) & ~(uintptr_t)63);

    CNB_TEAM_RUN(threads, dw_share(p, io, ws, units, blocks));
    return CNB_OK;
}
