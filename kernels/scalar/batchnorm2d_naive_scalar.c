// batchnorm2d.naive.scalar: the reference BatchNorm2d forward (train and eval), PyTorch 1.13 semantics
// computed in double: two-pass batch mean and biased variance, y rounded to float once, running-stat
// update with the unbiased variance. NCHW float32; portable C, OpenMP over channels, then planes.
#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/registry.h"

cnb_status cnb_batchnorm2d_naive_scalar_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_batchnorm2d_naive_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                             cnb_error *err);
cnb_status cnb_batchnorm2d_naive_scalar_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_batchnorm2d_naive_scalar_free(cnb_plan_data *p);

cnb_status cnb_batchnorm2d_naive_scalar_supports(const cnb_geom *g, cnb_error *why) {
    (void)g, (void)why;
    return CNB_OK;
}

// The workspace holds the per-channel mean and biased variance (2*C doubles) that normalise the
// planes: run() may be called concurrently on one plan, so they cannot live in priv.
cnb_status cnb_batchnorm2d_naive_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                             cnb_error *err) {
    (void)w, (void)err;
    p->priv = NULL;
    p->workspace_bytes = 2 * (size_t)g->C * sizeof(double);
    return CNB_OK;
}

cnb_status cnb_batchnorm2d_naive_scalar_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    const cnb_weights *w = p->w;
    assert(g->kind == CNB_BATCHNORM2D && g->K == g->C && g->OH == g->H && g->OW == g->W);
    assert(w && w->weight && w->bias && w->running_mean && w->running_var);
    assert(io->x && io->y && io->workspace && io->threads > 0);
    assert(!g->update_running || g->use_batch_stats);

    const int64_t N = g->N, C = g->C, HW = g->H * g->W;
    const int64_t n = N * HW;   // values per channel
    assert(!g->use_batch_stats || n != 1);
    // PyTorch accepts an empty batch in training and returns before touching the running stats.
    const bool batch_stats = g->use_batch_stats && n > 0;
    const bool update = g->update_running && n > 0;
    const float *x = io->x;
    float *y = io->y;
    double *mean = io->workspace;
    double *var = mean + C;

    // Statistics, one channel per iteration: each sum runs in a fixed order, so the result does not
    // depend on the thread count.
#pragma omp parallel for num_threads(io->threads) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        if (!batch_stats) {
            mean[c] = w->running_mean[c];
            var[c] = w->running_var[c];
        } else {
            double sum = 0.0;
            for (int64_t b = 0; b < N; b++)
                for (int64_t i = 0; i < HW; i++)
                    sum += x[(b * C + c) * HW + i];
            const double m = sum / (double)n;
            // Second pass over deviations from the mean: E[x^2] - m^2 cancels catastrophically for
            // inputs near 1e4 with a small spread.
            double ssd = 0.0;
            for (int64_t b = 0; b < N; b++)
                for (int64_t i = 0; i < HW; i++) {
                    const double d = x[(b * C + c) * HW + i] - m;
                    ssd += d * d;
                }
            mean[c] = m;
            var[c] = ssd / (double)n;
            if (update && io->new_running_mean)
                io->new_running_mean[c] =
                    (float)((1.0 - g->momentum) * w->running_mean[c] + g->momentum * m);
            if (update && io->new_running_var)
                io->new_running_var[c] =
                    (float)((1.0 - g->momentum) * w->running_var[c] + g->momentum * (ssd / (double)(n - 1)));
        }
        // Without an update (eval, no tracking, empty batch) the running stats pass through unchanged.
        if (!update && io->new_running_mean) io->new_running_mean[c] = w->running_mean[c];
        if (!update && io->new_running_var) io->new_running_var[c] = w->running_var[c];
    }

#pragma omp parallel for num_threads(io->threads) schedule(static)
    for (int64_t bc = 0; bc < N * C; bc++) {
        const int64_t c = bc % C;
        const double invstd = 1.0 / sqrt(var[c] + g->eps);
        const double wt = w->weight[c], bs = w->bias[c];
        const float *xp = x + bc * HW;
        float *yp = y + bc * HW;
        for (int64_t i = 0; i < HW; i++)
            yp[i] = (float)((xp[i] - mean[c]) * invstd * wt + bs);
    }
    return CNB_OK;
}

void cnb_batchnorm2d_naive_scalar_free(cnb_plan_data *p) { (void)p; }
