// batchnorm2d.direct.scalar: BatchNorm2d forward (eval and train), NCHW float32 in and out; the portable
// twin of batchnorm2d.direct.avx2 (same chunks and merge): y = (x - mh) * scale + shift with the
// coefficients folded once per run in double; train statistics from fixed pieces of <= 2048 values per
// plane, combined by Chan et al.'s formula. Plain C whose inner loops gcc -O3 vectorises for the baseline ISA.
#include <assert.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/cpu.h"
#include "core/registry.h"

cnb_status cnb_batchnorm2d_direct_scalar_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_batchnorm2d_direct_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                              cnb_error *err);
cnb_status cnb_batchnorm2d_direct_scalar_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_batchnorm2d_direct_scalar_free(cnb_plan_data *p);

// Values per statistics chunk (a plane is cut into ceil(HW / CHUNK) chunks). A constant, not a cache-derived
// size: the chunks fix the summation order, and with it the bits of the statistics, whatever the thread
// count or machine.
enum { CHUNK = 2048 };

// Float lanes of the block sums: four 128-bit vectors each for S1 and S2 (16 registers on SSE2 and NEON).
enum { LANES = 16 };

// y = (x - mh) * sc + sh. mh is the mean rounded to float: x - mh is exact for x within a factor 2 of it
// (Sterbenz), so inputs near 1e4 with a small spread keep their digits; the rounding of the mean
// (mean - mh) is folded into sh, computed in double.
typedef struct coef {
    float mh, sc, sh;
} coef;

// Mean and sum of squared deviations of one chunk.
typedef struct part {
    double mean, m2;
} part;

// Sums of d = x - k and d^2 over a chunk.
typedef struct sums {
    double s1, s2;
} sums;

// H * W is bounded by the input's size only when that is not empty: with N or C = 0 it may overflow (and no
// run needs chunks).
static int64_t chunks_per_plane(const cnb_geom *g) { return g->in_numel ? (g->H * g->W + CHUNK - 1) / CHUNK : 0; }

cnb_status cnb_batchnorm2d_direct_scalar_supports(const cnb_geom *g, cnb_error *why) {
    (void)g, (void)why;
    return CNB_OK;
}

// Workspace: per-chunk partials (train) then per-channel coefficients: run() may be called concurrently
// on one plan, so neither can live in priv.
cnb_status cnb_batchnorm2d_direct_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                              cnb_error *err) {
    (void)w, (void)err;
    p->priv = NULL;
    p->workspace_bytes = (size_t)g->C * sizeof(coef);
    if (g->use_batch_stats) p->workspace_bytes += (size_t)(g->N * g->C * chunks_per_plane(g)) * sizeof(part);
    return CNB_OK;
}

// Without FMA in the baseline ISA (and with -ffp-contract=off) this rounds after the multiply and after
// the add; x - mh is exact where it matters (see coef).
static void norm_run(const float *x, float *y, int64_t len, coef k) {
    for (int64_t i = 0; i < len; i++) y[i] = (x[i] - k.mh) * k.sc + k.sh;
}

// Float sums over short fixed blocks, then double: each float lane adds at most 4 terms and the 4
// lane groups are added pairwise before going to double, so a block sum of squares is within ~7 float
// roundings (the square rounds apart: no FMA in the baseline ISA). Converting every value to double
// instead would spend more on conversions than on the sums.
// With xn, it also normalises xn[0, m) into yn by cn, interleaved so that the sums' arithmetic overlaps
// the normalisation's memory traffic; the sums are the same either way.
static sums float_sums(const float *p, int64_t m, float k, const float *xn, float *yn, coef cn) {
    double sd[LANES / 4] = {0}, qd[LANES / 4] = {0};
    int64_t i = 0;
    while (i + LANES <= m) {
        float s[LANES] = {0}, q[LANES] = {0};
        const int64_t i0 = i;
        for (int j = 0; j < 4 && i + LANES <= m; j++, i += LANES)
            for (int l = 0; l < LANES; l++) {
                const float d = p[i + l] - k;
                s[l] += d, q[l] += d * d;
            }
        if (xn) norm_run(xn + i0, yn + i0, i - i0, cn);
        for (int l = 0; l < LANES / 4; l++) {
            sd[l] += (double)((s[l] + s[l + LANES / 4]) + (s[l + LANES / 2] + s[l + 3 * LANES / 4]));
            qd[l] += (double)((q[l] + q[l + LANES / 4]) + (q[l + LANES / 2] + q[l + 3 * LANES / 4]));
        }
    }
    if (xn) norm_run(xn + i, yn + i, m - i, cn);
    double t1 = 0.0, t2 = 0.0;
    for (; i < m; i++) {
        const double d = (double)(p[i] - k);
        t1 += d, t2 += d * d;
    }
    for (int l = 0; l < LANES / 4; l++) t1 += sd[l], t2 += qd[l];
    return (sums){t1, t2};
}

// The same sums with every value in double (x - k exact there): the fallback for chunks the float sums
// cannot take (overflow, NaN, values far below the float range's middle).
static sums double_sums(const float *p, int64_t m, double k) {
    double s[4] = {0}, q[4] = {0};
    int64_t i = 0;
    for (; i + 4 <= m; i += 4)
        for (int l = 0; l < 4; l++) {
            const double d = (double)p[i + l] - k;
            s[l] += d, q[l] += d * d;
        }
    double t1 = 0.0, t2 = 0.0;
    for (; i < m; i++) {
        const double d = (double)p[i] - k;
        t1 += d, t2 += d * d;
    }
    for (int l = 0; l < 4; l++) t1 += s[l], t2 += q[l];
    return (sums){t1, t2};
}

// M2 = S2 - S1^2/m cancels when the shift k is far from the mean: S2/M2 = 1 + (k - mean)^2 / var. Accept
// the float sums when that factor is at most 1.25, and when S2 is finite and well above float underflow
// (or exactly zero with S1: a constant chunk).
static bool well_conditioned(sums s, int64_t m) {
    const double dm = (double)m;
    return isfinite(s.s2) && s.s1 * s.s1 <= 0.2 * s.s2 * dm &&
           (s.s2 >= dm * 0x1p-100 || (s.s2 == 0.0 && s.s1 == 0.0));
}

// One chunk p[0, m). Shifted by k, the mean of its first values; if that shift is poor (factor above),
// again by the mean just found, which leaves S1 ~ 0; if the float sums still cannot be trusted, in double.
// Every choice depends on the chunk's values only: the result does not depend on the thread count.
// With xn, the first pass also normalises xn[0, m) into yn by cn (see float_sums).
static part chunk_stats(const float *p, int64_t m, const float *xn, float *yn, coef cn) {
    const int64_t h = m < 16 ? m : 16;
    double k0 = 0.0;
    for (int64_t i = 0; i < h; i++) k0 += p[i];
    float k = (float)(k0 / (double)h);
    sums s = float_sums(p, m, k, xn, yn, cn);
    if (!well_conditioned(s, m)) {
        const float k1 = (float)(k + s.s1 / (double)m);
        if (isfinite(k1)) {
            k = k1;
            s = float_sums(p, m, k, NULL, NULL, cn);
        }
        if (!well_conditioned(s, m)) {
            if (!isfinite(k)) k = p[0];
            s = double_sums(p, m, k);
        }
    }
    const double dm = (double)m;
    double m2 = s.s2 - s.s1 * (s.s1 / dm);
    if (m2 < 0) m2 = 0;  // rounding; a NaN passes through
    return (part){k + s.s1 / dm, m2};
}

// Merges channel c's partials, planes in batch order and chunks in plane order (Chan, Golub & LeVeque):
// mean = K + sum n_j (mean_j - K) / n with K the first chunk's mean, then
// M2 = sum M2_j + n_j (mean_j - mean)^2. Two passes over the partials instead of Chan's running update:
// one division per channel instead of two per chunk in a dependent chain.
static void merge_channel(const part *parts, int64_t N, int64_t C, int64_t HW, int64_t KP, int64_t c, double *mean,
                          double *m2) {
    const double K = parts[c * KP].mean, tail = (double)(HW - (KP - 1) * CHUNK);
    double s = 0.0;
    for (int64_t b = 0; b < N; b++)
        for (int64_t k = 0; k < KP; k++) {
            const double nj = k + 1 < KP ? (double)CHUNK : tail;
            s += nj * (parts[(b * C + c) * KP + k].mean - K);
        }
    const double mu = K + s / (double)(N * HW);
    double M = 0.0;
    for (int64_t b = 0; b < N; b++)
        for (int64_t k = 0; k < KP; k++) {
            const part *q = &parts[(b * C + c) * KP + k];
            const double nj = k + 1 < KP ? (double)CHUNK : tail, d = q->mean - mu;
            M += q->m2 + nj * d * d;
        }
    *mean = mu, *m2 = M;
}

// Channel c's coefficients from its mean and squared deviations (eval: the running mean and variance),
// and its running statistics: updated with the unbiased variance m2/(n-1) when update_running, else
// passed through.
// Non-finite inputs: the shifted sums (x - K, K a value of the channel) turn an infinite K into NaN where
// PyTorch's plain sum gives a mean of +-inf (and a running mean to match). Such a channel is recomputed the
// reference's way: a double sum, then squared deviations. Only reached when the statistics are not finite.
static void plain_stats(const float *x, const cnb_geom *g, int64_t c, double *mean, double *m2) {
    const int64_t N = g->N, C = g->C, HW = g->H * g->W;
    double s = 0, q = 0;
    for (int64_t b = 0; b < N; b++)
        for (int64_t i = 0; i < HW; i++) s += x[(b * C + c) * HW + i];
    const double m = s / (double)(N * HW);
    for (int64_t b = 0; b < N; b++)
        for (int64_t i = 0; i < HW; i++) {
            const double d = x[(b * C + c) * HW + i] - m;
            q += d * d;
        }
    *mean = m, *m2 = q;
}

static coef finish_channel(const cnb_geom *g, const cnb_weights *w, const cnb_io *io, int64_t c, double mean,
                           double m2, int64_t n) {
    if (g->use_batch_stats && !(isfinite(mean) && isfinite(m2))) plain_stats(io->x, g, c, &mean, &m2);
    const double var = g->use_batch_stats ? m2 / (double)n : w->running_var[c];
    const double scale = w->weight[c] / sqrt(var + g->eps);
    const float mh = (float)mean;
    const coef k = {mh, (float)scale, (float)(w->bias[c] - (mean - mh) * scale)};
    const double f = g->momentum;
    if (io->new_running_mean)
        io->new_running_mean[c] =
            g->update_running ? (float)((1.0 - f) * w->running_mean[c] + f * mean) : w->running_mean[c];
    if (io->new_running_var)
        io->new_running_var[c] = g->update_running
                                     ? (float)((1.0 - f) * w->running_var[c] + f * (m2 / (double)(n - 1)))
                                     : w->running_var[c];
    return k;
}

// Values [s, e) of the flat N*C*HW tensor, plane segment by plane segment.
static void norm_range(const float *x, float *y, int64_t s, int64_t e, int64_t C, int64_t HW, const coef *cf) {
    int64_t plane = s / HW, i = s - plane * HW, c = plane % C;
    while (s < e) {
        const int64_t len = HW - i < e - s ? HW - i : e - s;
        norm_run(x + s, y + s, len, cf[c]);
        s += len, i = 0;
        if (++c == C) c = 0;
    }
}

cnb_status cnb_batchnorm2d_direct_scalar_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    const cnb_weights *w = p->w;
    assert(g->kind == CNB_BATCHNORM2D && g->K == g->C && g->OH == g->H && g->OW == g->W);
    assert(w && w->weight && w->bias && w->running_mean && w->running_var);
    assert(io->x && io->y && io->workspace && io->threads > 0);
    assert(!g->update_running || g->use_batch_stats);

    const int64_t N = g->N, C = g->C, HW = g->H * g->W, n = N * HW, total = C * n;
    assert(n > 0 && (!g->use_batch_stats || n > 1));
    const float *x = io->x;
    float *y = io->y;
    const int T = io->threads;
    const int64_t KP = chunks_per_plane(g);
    part *parts = io->workspace;
    coef *cf = g->use_batch_stats ? (coef *)(parts + N * C * KP) : io->workspace;

    // Batch 1: a channel is one plane, reduced and then normalised while it is still in this core's L2
    // (one read from memory instead of two), when the channels share out evenly among the threads.
    // Larger batches read the statistics in memory order instead: a channel's planes lie C*HW apart, and
    // visiting them channel by channel defeats the prefetchers (8x256x56x56 from DRAM: 1.6x slower).
    const bool fused = g->use_batch_stats && N == 1 && (size_t)HW * sizeof(float) <= cnb_cpu_caches()->l2 / 2 &&
                       (C % T == 0 || C >= 8 * (int64_t)T);
    if (fused) {
#pragma omp parallel num_threads(T)
        {
            // This thread's channels [c0, c1), software-pipelined: the sums of channel c run in the same
            // loop as the normalisation of channel c - 1, still in L2.
            const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
            const int64_t c0 = C * t / nt, c1 = C * (t + 1) / nt;
            coef prev = {0.f, 0.f, 0.f};
            for (int64_t c = c0; c < c1; c++) {
                const bool pipe = c > c0;
                for (int64_t k = 0; k < KP; k++) {
                    const int64_t off = k * CHUNK, m = HW - off < CHUNK ? HW - off : CHUNK;
                    parts[c * KP + k] = chunk_stats(x + c * HW + off, m, pipe ? x + (c - 1) * HW + off : NULL,
                                                    pipe ? y + (c - 1) * HW + off : NULL, prev);
                }
                double mean, m2;
                merge_channel(parts, 1, C, HW, KP, c, &mean, &m2);
                prev = finish_channel(g, w, io, c, mean, m2, n);
            }
            if (c1 > c0) norm_run(x + (c1 - 1) * HW, y + (c1 - 1) * HW, HW, prev);
        }
        return CNB_OK;
    }

#pragma omp parallel num_threads(T)
    {
        if (g->use_batch_stats) {
#pragma omp for schedule(static)
            for (int64_t q = 0; q < N * C * KP; q++) {
                const int64_t plane = KP == 1 ? q : q / KP, off = (q - plane * KP) * CHUNK;
                const int64_t m = HW - off < CHUNK ? HW - off : CHUNK;
                parts[q] = chunk_stats(x + plane * HW + off, m, NULL, NULL, (coef){0.f, 0.f, 0.f});
            }
        }
#pragma omp for schedule(static)
        for (int64_t c = 0; c < C; c++) {
            double mean = w->running_mean[c], m2 = 0.0;
            if (g->use_batch_stats) merge_channel(parts, N, C, HW, KP, c, &mean, &m2);
            cf[c] = finish_channel(g, w, io, c, mean, m2, n);
        }
        // The implicit barrier above publishes cf; each thread then streams its contiguous share, split
        // at multiples of 16 values (64-byte lines).
        const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        const int64_t s = total * t / nt / 16 * 16, e = t + 1 == nt ? total : total * (t + 1) / nt / 16 * 16;
        norm_range(x, y, s, e, C, HW, cf);
    }
    return CNB_OK;
}

void cnb_batchnorm2d_direct_scalar_free(cnb_plan_data *p) { (void)p; }
