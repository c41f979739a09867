// conv2d.direct.avx2: direct Conv2d (no im2col), register-blocked over mr output channels x nv vectors of 8
// output pixels: per (input channel, tap), mr broadcast weights x nv input vectors FMA into mr*nv ymm accumulators.
// run() copies each image into a padded copy with rows split into sw column phases, so every tap of every stride,
// dilation and padding mode is a contiguous load; plan() packs weights [group][k-block][c][kh*kw][mr]. AVX2+FMA.
#include <assert.h>
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/cpu.h"
#include "core/registry.h"
#include "core/status.h"
#include "kernels/scalar/team.h"

cnb_status cnb_conv2d_direct_avx2_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv2d_direct_avx2_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv2d_direct_avx2_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv2d_direct_avx2_free(cnb_plan_data *p);

// 16 ymm registers hold mr*nv accumulators, nv input vectors and one broadcast weight: (4,3) uses all 16.
enum { MR_MAX = 6, NV_MAX = 3 };
// Zero columns after each phase row: a partial vector loads up to 7 lanes past the row's last output.
enum { SLACK = 8 };

typedef struct dplan {
    int mr, nv;              // register tile: mr output channels x nv vectors of 8 output pixels
    int64_t Hp, Wp;          // padded input rows and columns
    int64_t Wq;              // columns per phase row, slack included
    int64_t RS, CS;          // padded-copy strides (floats): one padded row (sw phases), one channel
    int64_t T;               // taps, kh*kw
    int64_t cc;              // input channels per reduction chunk: a tile's input lines stay in L1 across k-blocks
    int64_t vpr;             // vectors per output row, ceil(OW / 8)
    int64_t tiles;           // tiles per group: ceil(OH * vpr / nv)
    int64_t chunk;           // tiles per parallel work item
    int64_t mc;              // output channels per work item (a multiple of mr): their weights stay in L2
    ptrdiff_t *toff;         // [T] offset of tap (i, j) in the padded copy
    int64_t *rowmap;         // [Hp] padded row -> input row, -1 for zeros
    int64_t *colmap;         // [Wp] padded column -> input column, -1 for zeros
    float *wp;               // packed weights
} dplan;

// Where one tile's vectors read and write: vector v is 8 output pixels of one row (a row's last vector may
// be partial), so a tile can span rows and short rows waste no accumulators.
typedef struct tile_io {
    const float *x[NV_MAX];  // padded-copy input of the vector's first pixel for tap 0, channel 0
    float *y[NV_MAX];        // output of the vector's first pixel, output channel 0
    __m256i mask[NV_MAX];    // lanes to store
    int full;                // every vector has 8 lanes
} tile_io;

// One register tile: MR output channels (y rows ys apart, from io->y[v] + yo) x NV vectors, reduced over nc
// input channels x T taps with weights w ([c][tap][MR]). first: start from the bias, else from y (a later
// reduction chunk). MR and NV are constants at every call site; the unroll pragmas make GCC unroll the loops
// early enough to keep acc in registers (without them it leaves acc on the stack).
// (a + b - 1) / b for b > 0 (the ceiling for a >= 0, as before for a < 0), without overflow for a huge stride b.
static inline int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? a / b + (a % b != 0) : (a + b - 1) / b; }

static inline __attribute__((always_inline)) void tile_block(const int MR, const int NV, int64_t nc, int64_t T,
                                                             const float *restrict w, const tile_io *io,
                                                             int64_t yo, int64_t CS, const ptrdiff_t *restrict toff,
                                                             int64_t ys, const float *restrict bias, int first) {
    __m256 acc[MR_MAX][NV_MAX];
    #pragma GCC unroll 8
    for (int m = 0; m < MR; m++) {
        const __m256 b = _mm256_broadcast_ss(bias + m);
        #pragma GCC unroll 8
        for (int v = 0; v < NV; v++) {
            const float *y = io->y[v] + yo + m * ys;
            acc[m][v] = first ? b : io->full ? _mm256_loadu_ps(y) : _mm256_maskload_ps(y, io->mask[v]);
        }
    }
    const float *xb[NV_MAX];
    #pragma GCC unroll 8
    for (int v = 0; v < NV; v++) xb[v] = io->x[v];
    for (int64_t c = 0; c < nc; c++) {
        for (int64_t t = 0; t < T; t++) {
            const ptrdiff_t off = c * CS + toff[t];
            __m256 xv[NV_MAX];
            #pragma GCC unroll 8
            for (int v = 0; v < NV; v++) xv[v] = _mm256_loadu_ps(xb[v] + off);
            #pragma GCC unroll 8
            for (int m = 0; m < MR; m++) {
                const __m256 wm = _mm256_broadcast_ss(w + m);
                #pragma GCC unroll 8
                for (int v = 0; v < NV; v++) acc[m][v] = _mm256_fmadd_ps(wm, xv[v], acc[m][v]);
            }
            w += MR;
        }
    }
    #pragma GCC unroll 8
    for (int m = 0; m < MR; m++) {
        #pragma GCC unroll 8
        for (int v = 0; v < NV; v++) {
            float *y = io->y[v] + yo + m * ys;
            if (io->full) _mm256_storeu_ps(y, acc[m][v]);
            else _mm256_maskstore_ps(y, io->mask[v], acc[m][v]);
        }
    }
}

// nkb consecutive k-blocks of MR output channels (weights wstride apart) for one set of vectors.
static inline __attribute__((always_inline)) void tile(const int MR, const int NV, int64_t nkb, int64_t nc,
                                                       int64_t T, const float *w, int64_t wstride,
                                                       const tile_io *io, int64_t CS, const ptrdiff_t *toff,
                                                       int64_t ys, const float *bias, int first) {
    for (int64_t kb = 0; kb < nkb; kb++)
        tile_block(MR, NV, nc, T, w + kb * wstride, io, kb * MR * ys, CS, toff, ys, bias + kb * MR, first);
}

// The tile for a run-time (mr, nv): one constant-shape instantiation per pair.
static void tile_any(int mr, int nv, int64_t nkb, int64_t nc, int64_t T, const float *w, int64_t wstride,
                     const tile_io *io, int64_t CS, const ptrdiff_t *toff, int64_t ys, const float *bias, int first) {
    assert(mr >= 1 && mr <= MR_MAX && nv >= 1 && nv <= NV_MAX && mr * nv <= 12);
#define CNB_TILE_CASE(M, V) \
    case (M) * 4 + (V): tile(M, V, nkb, nc, T, w, wstride, io, CS, toff, ys, bias, first); break;
    switch (mr * 4 + nv) {
    CNB_TILE_CASE(1, 1) CNB_TILE_CASE(1, 2) CNB_TILE_CASE(1, 3)
    CNB_TILE_CASE(2, 1) CNB_TILE_CASE(2, 2) CNB_TILE_CASE(2, 3)
    CNB_TILE_CASE(3, 1) CNB_TILE_CASE(3, 2) CNB_TILE_CASE(3, 3)
    CNB_TILE_CASE(4, 1) CNB_TILE_CASE(4, 2) CNB_TILE_CASE(4, 3)
    CNB_TILE_CASE(5, 1) CNB_TILE_CASE(5, 2)
    CNB_TILE_CASE(6, 1) CNB_TILE_CASE(6, 2)
    default: assert(0);
    }
#undef CNB_TILE_CASE
}

// Cycles per reduction step of an (m, v) tile: FMA throughput (2 per cycle), but at least 5: one FMA per
// accumulator per step, latency 4, and with fewer than 10 chains there is no slack left for the loads.
static double step_cycles(int64_t m, int64_t v) {
    const double fma = (double)(m * v) / 2.0;
    return fma > 5.0 ? fma : 5.0;
}

// Estimated cycles per reduction step for all vectors of one group with an (mr, nv) tile.
static double tile_cost(int64_t kg, int64_t nvec, int mr, int nv) {
    const int64_t kfull = kg / mr, krem = kg % mr, tfull = nvec / nv, vrem = nvec % nv;
    double cost = (double)(kfull * tfull) * step_cycles(mr, nv);
    if (krem) cost += (double)tfull * step_cycles(krem, nv);
    if (vrem) cost += (double)kfull * step_cycles(mr, vrem) + (krem ? step_cycles(krem, vrem) : 0.0);
    return cost;
}

static int cmp_ptrdiff(const void *a, const void *b) {
    const ptrdiff_t x = *(const ptrdiff_t *)a, y = *(const ptrdiff_t *)b;
    return (x > y) - (x < y);
}

// Bytes of cache lines one input channel of a tile touches: the union of the T spans [toff, toff + nr).
static int64_t tile_bytes_per_channel(const ptrdiff_t *toff, int64_t T, int64_t nr, ptrdiff_t *scratch) {
    memcpy(scratch, toff, (size_t)T * sizeof *scratch);
    qsort(scratch, (size_t)T, sizeof *scratch, cmp_ptrdiff);
    int64_t bytes = 0;
    ptrdiff_t lo = scratch[0], hi = scratch[0] + nr;
    for (int64_t t = 1; t <= T; t++) {
        if (t < T && scratch[t] <= hi) {
            if (scratch[t] + nr > hi) hi = scratch[t] + nr;
            continue;
        }
        bytes += (int64_t)(hi - lo) * 4 + 64;  // + 64: a span rarely starts on a line boundary
        if (t < T) lo = scratch[t], hi = scratch[t] + nr;
    }
    return bytes;
}

// Every Conv2d (and Conv1d, as a 1-high Conv2d): stride, dilation, padding mode, groups, bias.
cnb_status cnb_conv2d_direct_avx2_supports(const cnb_geom *g, cnb_error *why) {
    assert(g->kind == CNB_CONV2D || g->kind == CNB_CONV1D);
    // The padded copy keeps sw phases of ceil(Wp / sw) + SLACK columns per row: a stride wider than the padded
    // row (one output column) would make it grow with the stride, not the input (terabytes for 1e9).
    if (g->sw > g->W + g->pad_l + g->pad_r)
        return cnb_fail(why, CNB_E_UNSUPPORTED, "conv2d.direct.avx2: stride %lld is wider than the padded row (%lld)",
                        (long long)g->sw, (long long)(g->W + g->pad_l + g->pad_r));
    return CNB_OK;
}

void cnb_conv2d_direct_avx2_free(cnb_plan_data *p) {
    dplan *d = p->priv;
    if (!d) return;
    cnb_free(d->toff);
    cnb_free(d->rowmap);
    cnb_free(d->colmap);
    cnb_free(d->wp);
    cnb_free(d);
    p->priv = NULL;
}

cnb_status cnb_conv2d_direct_avx2_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    assert(g->kind == CNB_CONV2D || g->kind == CNB_CONV1D);
    const int64_t C = g->C, K = g->K, G = g->groups, cg = C / G, kg = K / G;
    const int64_t kh = g->kh, kw = g->kw, sw = g->sw;
    dplan *d = cnb_calloc(1, sizeof *d);
    if (!d) return cnb_fail(err, CNB_E_NOMEM, "conv2d.direct.avx2: out of memory");
    p->priv = d;
    d->Hp = g->H + g->pad_t + g->pad_b;
    d->Wp = g->W + g->pad_l + g->pad_r;
    d->Wq = d->Wp / sw + (d->Wp % sw != 0) + SLACK;   // ceil(Wp / sw): Wp + sw - 1 overflows for a huge stride
    d->T = kh * kw;
    int64_t ws;
    if (!cnb_mul_ok(sw, d->Wq, &d->RS) || !cnb_mul_ok(d->Hp, d->RS, &d->CS) || !cnb_mul_ok(C, d->CS, &ws) ||
        !cnb_mul_ok(ws, (int64_t)sizeof(float), &ws) || (uint64_t)ws > SIZE_MAX) {
        cnb_conv2d_direct_avx2_free(p);
        return cnb_fail(err, CNB_E_OVERFLOW, "conv2d.direct.avx2: the padded input copy is too large");
    }
    p->workspace_bytes = (size_t)ws;

    const int64_t R = cg * d->T;
    d->toff = cnb_malloc((size_t)d->T * 2 * sizeof *d->toff);
    d->rowmap = cnb_malloc((size_t)d->Hp * sizeof *d->rowmap);
    d->colmap = cnb_malloc((size_t)d->Wp * sizeof *d->colmap);
    d->wp = cnb_malloc((size_t)(K * R) * sizeof *d->wp);
    if (!d->toff || !d->rowmap || !d->colmap || !d->wp) {
        cnb_conv2d_direct_avx2_free(p);
        return cnb_fail(err, CNB_E_NOMEM, "conv2d.direct.avx2: out of memory packing the weights");
    }
    for (int64_t i = 0; i < kh; i++)
        for (int64_t j = 0; j < kw; j++)
            d->toff[i * kw + j] = (ptrdiff_t)(i * g->dh * d->RS + ((j * g->dw) % sw) * d->Wq + (j * g->dw) / sw);
    for (int64_t h = 0; h < d->Hp; h++) d->rowmap[h] = cnb_pad_index(g->pad_mode, h - g->pad_t, g->H);
    for (int64_t x = 0; x < d->Wp; x++) d->colmap[x] = cnb_pad_index(g->pad_mode, x - g->pad_l, g->W);

    // The tile shape with the fewest estimated cycles; ties go to the earlier (larger) shape.
    static const int shapes[][2] = {{4, 3}, {6, 2}, {3, 3}, {5, 2}, {4, 2}, {2, 3}, {3, 2}, {2, 2}, {1, 3}};
    d->vpr = (g->OW + 7) / 8;
    const int64_t nvec = g->OH * d->vpr;
    double best = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const double cost = tile_cost(kg, nvec, shapes[s][0], shapes[s][1]);
        if (s == 0 || cost < best) best = cost, d->mr = shapes[s][0], d->nv = shapes[s][1];
    }
    d->tiles = (nvec + d->nv - 1) / d->nv;

    // Reduction chunk: a tile's input lines for cc channels fill at most half of L1; the other half is left
    // to the weights streaming through.
    const int64_t per_c = tile_bytes_per_channel(d->toff, d->T, 8 * d->nv, d->toff + d->T);
    const int64_t l1 = (int64_t)cnb_cpu_caches()->l1d;
    int64_t cc = l1 / 2 / per_c;
    if (cc < 1) cc = 1;
    if (cc > cg) cc = cg;
    const int64_t nchunks = (cg + cc - 1) / cc;
    d->cc = (cg + nchunks - 1) / nchunks;  // balanced, so the last chunk is not a sliver

    // Work items of about 256 output pixels: locality within, and enough of them to share dynamically.
    d->chunk = (256 + 8 * d->nv - 1) / (8 * d->nv);
    if (d->chunk > d->tiles) d->chunk = d->tiles;
    // ... and of at most mc output channels, whose weights for one reduction chunk fill at most half of L2:
    // every tile of the item reuses them from there (large layers would stream them from memory per tile).
    const int64_t l2 = (int64_t)cnb_cpu_caches()->l2;
    int64_t mc = l2 / 2 / (d->cc * d->T * (int64_t)sizeof(float)) / d->mr * d->mr;
    if (mc < d->mr) mc = d->mr;
    const int64_t nkr = (kg + mc - 1) / mc;
    d->mc = ((kg + nkr - 1) / nkr + d->mr - 1) / d->mr * d->mr;  // balanced

    // Pack: per group, k-blocks of mr (the last may be shorter), each [c][tap][mr'].
    const float *wt = w->weight;
    for (int64_t gi = 0; gi < G; gi++) {
        for (int64_t k0 = 0; k0 < kg; k0 += d->mr) {
            const int64_t mrt = kg - k0 < d->mr ? kg - k0 : d->mr;
            const int64_t kbase = gi * kg + k0;
            float *dst = d->wp + kbase * R;
            for (int64_t r = 0; r < R; r++)
                for (int64_t m = 0; m < mrt; m++) dst[r * mrt + m] = wt[(kbase + m) * R + r];
        }
    }
    return CNB_OK;
}

// Phases of a strided row: o[ph][q] = s[q*sw + ph] for q < n, ph < sw (o[ph] is Wq floats apart). Strides 2
// and 4 (the common ones) deinterleave 8 columns per phase at once; the rest go element by element.
static void deinterleave(const float *s, int64_t sw, int64_t n, float *o, int64_t Wq) {
    int64_t q = 0;
    if (sw == 2) {
        for (; q + 8 <= n; q += 8) {
            const __m256 a = _mm256_loadu_ps(s + 2 * q), b = _mm256_loadu_ps(s + 2 * q + 8);
            // In-lane shuffles give [0 2 8 10 | 4 6 12 14]; the 64-bit permute restores column order.
            const __m256 ev = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
            const __m256 od = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
            _mm256_storeu_ps(o + q, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), 0xd8)));
            _mm256_storeu_ps(o + Wq + q, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od), 0xd8)));
        }
    } else if (sw == 4) {
        const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        for (; q + 8 <= n; q += 8) {
            const __m256 a0 = _mm256_loadu_ps(s + 4 * q), a1 = _mm256_loadu_ps(s + 4 * q + 8);
            const __m256 a2 = _mm256_loadu_ps(s + 4 * q + 16), a3 = _mm256_loadu_ps(s + 4 * q + 24);
            // A 4x4 transpose in each 128-bit lane gives phase ph as [ph 8+ph 16+ph 24+ph | 4+ph 12+ph ...];
            // a cross-lane permute puts those in column order.
            const __m256 u0 = _mm256_unpacklo_ps(a0, a1), u1 = _mm256_unpackhi_ps(a0, a1);
            const __m256 u2 = _mm256_unpacklo_ps(a2, a3), u3 = _mm256_unpackhi_ps(a2, a3);
            const __m256 t0 = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(1, 0, 1, 0));
            const __m256 t1 = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(3, 2, 3, 2));
            const __m256 t2 = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(1, 0, 1, 0));
            const __m256 t3 = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(3, 2, 3, 2));
            _mm256_storeu_ps(o + q, _mm256_permutevar8x32_ps(t0, order));
            _mm256_storeu_ps(o + Wq + q, _mm256_permutevar8x32_ps(t1, order));
            _mm256_storeu_ps(o + 2 * Wq + q, _mm256_permutevar8x32_ps(t2, order));
            _mm256_storeu_ps(o + 3 * Wq + q, _mm256_permutevar8x32_ps(t3, order));
        }
    }
    for (; q < n; q++)
        for (int64_t ph = 0; ph < sw; ph++) o[ph * Wq + q] = s[q * sw + ph];
}

// One padded row (all sw phases) of channel plane xc into dst (RS floats). Padding may be negative
// (PyTorch crops then), so the interior is clipped to the padded row on both sides.
static void pad_row(const dplan *d, const cnb_geom *g, const float *xc, int64_t hp, float *dst) {
    const int64_t ih = d->rowmap[hp], sw = g->sw, Wq = d->Wq, Wp = d->Wp;
    if (ih < 0) {
        memset(dst, 0, (size_t)d->RS * sizeof *dst);
        return;
    }
    const float *src = xc + ih * g->W;
    const int64_t *cm = d->colmap;
    // Padded columns [xlo, xhi) are input columns x - pad_l; the rest go through colmap.
    const int64_t xlo = g->pad_l > 0 ? g->pad_l : 0;
    const int64_t xhi = g->pad_l + g->W < Wp ? g->pad_l + g->W : Wp;
    if (sw == 1) {
        for (int64_t x = 0; x < xlo; x++) dst[x] = cm[x] >= 0 ? src[cm[x]] : 0.f;
        if (xhi > xlo) memcpy(dst + xlo, src + xlo - g->pad_l, (size_t)(xhi - xlo) * sizeof *dst);
        for (int64_t x = xhi > xlo ? xhi : xlo; x < Wq; x++) dst[x] = x < Wp && cm[x] >= 0 ? src[cm[x]] : 0.f;
        return;
    }
    // Phase-column q of every phase is interior for q in [qlo, qhi): x = q*sw + ph in [xlo, xhi) for all ph.
    const int64_t qlo = ceil_div(xlo, sw);
    int64_t qhi = xhi / sw;
    if (qhi < qlo) qhi = qlo;
    for (int64_t ph = 0; ph < sw; ph++) {
        float *o = dst + ph * Wq;
        for (int64_t q = 0; q < qlo; q++) {
            const int64_t x = q * sw + ph;
            o[q] = x < Wp && cm[x] >= 0 ? src[cm[x]] : 0.f;
        }
        for (int64_t q = qhi; q < Wq; q++) {
            const int64_t x = q * sw + ph;
            o[q] = x < Wp && cm[x] >= 0 ? src[cm[x]] : 0.f;
        }
    }
    deinterleave(src + qlo * sw - g->pad_l, sw, qhi - qlo, dst + qlo, Wq);
}

// This thread's share of a run (the worksharing loops bind to the caller's team, or run whole without one).
static void direct_share(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    const dplan *d = p->priv;
    const int64_t N = g->N, C = g->C, H = g->H, W = g->W, K = g->K, OH = g->OH, OW = g->OW;
    const int64_t G = g->groups, cg = C / G, kg = K / G, R = cg * d->T;
    const int64_t ys = OH * OW, nvec = OH * d->vpr, nv = d->nv;
    const int64_t nkr = (kg + d->mc - 1) / d->mc, ntc = (d->tiles + d->chunk - 1) / d->chunk;
    const int64_t items = G * nkr * ntc;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    float *xp = io->workspace;
    const float *bias = p->w->bias;

    for (int64_t n = 0; n < N; n++) {
        const float *xn = io->x + n * C * H * W;
        #pragma omp for schedule(static)
        for (int64_t r = 0; r < C * d->Hp; r++) {
            const int64_t c = r / d->Hp, hp = r % d->Hp;
            pad_row(d, g, xn + c * H * W, hp, xp + c * d->CS + hp * d->RS);
        }
        // (implicit barrier: the copy is complete before any tile reads it)
        #pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; it++) {
            const int64_t gi = it / (nkr * ntc), kr = it / ntc % nkr, t_lo = it % ntc * d->chunk;
            const int64_t t_hi = t_lo + d->chunk < d->tiles ? t_lo + d->chunk : d->tiles;
            const int64_t k_lo = gi * kg + kr * d->mc;  // absolute output channel
            const int64_t k_n = kg - kr * d->mc < d->mc ? kg - kr * d->mc : d->mc;
            const int64_t nkb = k_n / d->mr, ktail = k_n - nkb * d->mr;
            const float *xg = xp + gi * cg * d->CS, *wk = d->wp + k_lo * R;
            float *yk = io->y + (n * K + k_lo) * ys;
            // Reduction chunks outermost: a chunk's input lines of a tile stay in L1 across its k-blocks.
            for (int64_t c0 = 0; c0 < cg; c0 += d->cc) {
                const int64_t nc = cg - c0 < d->cc ? cg - c0 : d->cc;
                for (int64_t t = t_lo; t < t_hi; t++) {
                    tile_io tio;
                    const int64_t v0 = t * nv, nvt = nvec - v0 < nv ? nvec - v0 : nv;
                    tio.full = 1;
                    for (int64_t v = 0; v < nvt; v++) {
                        const int64_t oh = (v0 + v) / d->vpr, ow = (v0 + v) % d->vpr * 8;
                        const int64_t lanes = OW - ow < 8 ? OW - ow : 8;
                        tio.x[v] = xg + c0 * d->CS + oh * g->sh * d->RS + ow;
                        tio.y[v] = yk + oh * OW + ow;
                        tio.mask[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)lanes), lane);
                        tio.full &= lanes == 8;
                    }
                    // The full k-blocks in one call, then the short one (only in a group's last k-range).
                    if (nkb)
                        tile_any(d->mr, (int)nvt, nkb, nc, d->T, wk + c0 * d->T * d->mr, d->mr * R, &tio, d->CS,
                                 d->toff, ys, bias + k_lo, c0 == 0);
                    if (ktail) {
                        const int64_t k0 = nkb * d->mr;
                        for (int64_t v = 0; v < nvt; v++) tio.y[v] += k0 * ys;
                        tile_any((int)ktail, (int)nvt, 1, nc, d->T, wk + k0 * R + c0 * d->T * ktail, 0, &tio, d->CS,
                                 d->toff, ys, bias + k_lo + k0, c0 == 0);
                    }
                }
            }
        }
    }
}

cnb_status cnb_conv2d_direct_avx2_run(const cnb_plan_data *p, const cnb_io *io) {
    assert(p->g->kind == CNB_CONV2D || p->g->kind == CNB_CONV1D);
    assert(p->priv && io->workspace);
    CNB_TEAM_RUN(io->threads, direct_share(p, io));
    return CNB_OK;
}
