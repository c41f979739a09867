/* The ISA-independent half of batchnorm2d.direct.{scalar,avx2,neon}: merging the per-chunk statistics into
 * a channel's, the coefficients and running statistics, and the driver of run() (fused batch-1 path, or
 * statistics, coefficients, then one streaming pass). Included by each kernel file after it defines
 * CHUNK, part {mean, m2}, coef, chunks_per_plane(), chunk_stats() and norm_run() with its own vectors; a
 * kernel that streams differently when the input is in the last-level cache also defines norm_stream() and
 * CNB_BN_NORM_STREAM. */
#ifndef CNB_KERNELS_BATCHNORM2D_DIRECT_H
#define CNB_KERNELS_BATCHNORM2D_DIRECT_H

#include <assert.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/cpu.h"
#include "core/registry.h"
#include "kernels/scalar/team.h"

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

#ifndef CNB_BN_NORM_STREAM
// norm_run for the streaming pass (in_llc: the input is in the last-level cache).
static void norm_stream(const float *x, float *y, int64_t len, coef k, bool in_llc) {
    (void)in_llc;
    norm_run(x, y, len, k);
}
#endif

// Values [s, e) of the flat N*C*HW tensor, plane segment by plane segment.
static void norm_range(const float *x, float *y, int64_t s, int64_t e, int64_t C, int64_t HW, const coef *cf,
                       bool in_llc) {
    int64_t plane = s / HW, i = s - plane * HW, c = plane % C;
    while (s < e) {
        const int64_t len = HW - i < e - s ? HW - i : e - s;
        norm_stream(x + s, y + s, len, cf[c], in_llc);
        s += len, i = 0;
        if (++c == C) c = 0;
    }
}

// What one run's threads share.
typedef struct bn_job {
    const cnb_geom *g;
    const cnb_weights *w;
    const cnb_io *io;
    const float *x;
    float *y;
    int64_t N, C, HW, n, total, KP;
    part *parts;
    coef *cf;
    bool in_llc;
} bn_job;

// Batch 1, one channel after another per thread (see bn_direct_run): this thread's channels [c0, c1),
// software-pipelined: the sums of channel c run in the same loop as the normalisation of channel c - 1,
// still in L2.
static void bn_fused_share(const bn_job *b) {
    const int64_t C = b->C, HW = b->HW, KP = b->KP;
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t c0 = C * t / nt, c1 = C * (t + 1) / nt;
    coef prev = {0.f, 0.f, 0.f};
    for (int64_t c = c0; c < c1; c++) {
        const bool pipe = c > c0;
        for (int64_t k = 0; k < KP; k++) {
            const int64_t off = k * CHUNK, m = HW - off < CHUNK ? HW - off : CHUNK;
            b->parts[c * KP + k] = chunk_stats(b->x + c * HW + off, m, pipe ? b->x + (c - 1) * HW + off : NULL,
                                               pipe ? b->y + (c - 1) * HW + off : NULL, prev);
        }
        double mean, m2;
        merge_channel(b->parts, 1, C, HW, KP, c, &mean, &m2);
        prev = finish_channel(b->g, b->w, b->io, c, mean, m2, b->n);
    }
    if (c1 > c0) norm_run(b->x + (c1 - 1) * HW, b->y + (c1 - 1) * HW, HW, prev);
}

// Statistics (training), coefficients, then this thread's share of the streaming pass. The worksharing loops
// are orphaned: they bind to the caller's team, or run whole on a caller outside any parallel region.
static void bn_stream_share(const bn_job *b) {
    const cnb_geom *g = b->g;
    const int64_t N = b->N, C = b->C, HW = b->HW, KP = b->KP;
    if (g->use_batch_stats) {
#pragma omp for schedule(static)
        for (int64_t q = 0; q < N * C * KP; q++) {
            const int64_t plane = KP == 1 ? q : q / KP, off = (q - plane * KP) * CHUNK;
            const int64_t m = HW - off < CHUNK ? HW - off : CHUNK;
            b->parts[q] = chunk_stats(b->x + plane * HW + off, m, NULL, NULL, (coef){0.f, 0.f, 0.f});
        }
    }
#pragma omp for schedule(static)
    for (int64_t c = 0; c < C; c++) {
        double mean = b->w->running_mean[c], m2 = 0.0;
        if (g->use_batch_stats) merge_channel(b->parts, N, C, HW, KP, c, &mean, &m2);
        b->cf[c] = finish_channel(g, b->w, b->io, c, mean, m2, b->n);
    }
    // The implicit barrier above publishes cf; each thread then streams its contiguous share, split at
    // multiples of 16 values (64-byte lines).
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads(), total = b->total;
    const int64_t s = total * t / nt / 16 * 16, e = t + 1 == nt ? total : total * (t + 1) / nt / 16 * 16;
    norm_range(b->x, b->y, s, e, C, HW, b->cf, b->in_llc);
}

static cnb_status bn_direct_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    const cnb_weights *w = p->w;
    assert(g->kind == CNB_BATCHNORM2D && g->K == g->C && g->OH == g->H && g->OW == g->W);
    assert(w && w->weight && w->bias && w->running_mean && w->running_var);
    assert(io->x && io->y && io->workspace && io->threads > 0);
    assert(!g->update_running || g->use_batch_stats);

    const int64_t N = g->N, C = g->C, HW = g->H * g->W, n = N * HW, total = C * n;
    assert(n > 0 && (!g->use_batch_stats || n > 1));
    // Small layers take fewer threads than offered, and with one no parallel region: entering one cost
    // 2-4 us a run, as much as the whole of a 7x7 layer's work (MobileNetV2's last BatchNorm2d layers).
    const int T = team(io->threads, 2 * total);
    const int64_t KP = chunks_per_plane(g);
    part *parts = io->workspace;
    const bn_job b = {g, w, io, io->x, io->y, N, C, HW, n, total, KP, parts,
                      g->use_batch_stats ? (coef *)(parts + N * C * KP) : io->workspace,
                      cnb_cpu_fits_llc((double)total * sizeof(float))};

    // Batch 1: a channel is one plane, reduced and then normalised while it is still in this core's L2
    // (one read from memory instead of two), when the channels share out evenly among the threads.
    // Larger batches read the statistics in memory order instead: a channel's planes lie C*HW apart, and
    // visiting them channel by channel defeats the prefetchers (8x256x56x56 from DRAM: 1.6x slower).
    const bool fused = g->use_batch_stats && N == 1 && (size_t)HW * sizeof(float) <= cnb_cpu_caches()->l2 / 2 &&
                       (C % T == 0 || C >= 8 * (int64_t)T);
    if (fused) CNB_TEAM_RUN(T, bn_fused_share(&b));
    else CNB_TEAM_RUN(T, bn_stream_share(&b));
    return CNB_OK;
}

#endif /* CNB_KERNELS_BATCHNORM2D_DIRECT_H */
