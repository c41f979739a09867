// conv2d.naive.scalar: the reference Conv2d. Plain loops over NCHW input and (K, C/groups, kh, kw)
// weights, every padding mode read through cnb_pad_index (no padded copy), accumulated in double and
// rounded once. OpenMP over output rows; the result does not depend on the thread count.
#include <assert.h>

#include "core/registry.h"

cnb_status cnb_conv2d_naive_scalar_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv2d_naive_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv2d_naive_scalar_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv2d_naive_scalar_free(cnb_plan_data *p);

cnb_status cnb_conv2d_naive_scalar_supports(const cnb_geom *g, cnb_error *why) {
    (void)g, (void)why;
    return CNB_OK;
}

cnb_status cnb_conv2d_naive_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    (void)g, (void)w, (void)err;
    p->priv = NULL;
    p->workspace_bytes = 0;
    return CNB_OK;
}

cnb_status cnb_conv2d_naive_scalar_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    const float *x = io->x, *wt = p->w->weight, *bias = p->w->bias;
    float *y = io->y;
    assert(g->kind == CNB_CONV2D || g->kind == CNB_CONV1D);
    const int64_t N = g->N, C = g->C, H = g->H, W = g->W, K = g->K, OH = g->OH, OW = g->OW;
    const int64_t cg = C / g->groups, kg = K / g->groups;
    const int64_t rows = N * K * OH;

    #pragma omp parallel for schedule(static) num_threads(io->threads)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t oh = r % OH, k = (r / OH) % K, n = r / (OH * K);
        const int64_t c0 = (k / kg) * cg;
        const float *wk = wt + k * cg * g->kh * g->kw;
        for (int64_t ow = 0; ow < OW; ow++) {
            double acc = g->has_bias ? (double)bias[k] : 0.0;
            for (int64_t c = 0; c < cg; c++) {
                const float *xc = x + ((n * C) + c0 + c) * H * W;
                const float *wc = wk + c * g->kh * g->kw;
                for (int64_t i = 0; i < g->kh; i++) {
                    const int64_t ih = cnb_pad_index(g->pad_mode, oh * g->sh - g->pad_t + i * g->dh, H);
                    if (ih < 0) continue;
                    for (int64_t j = 0; j < g->kw; j++) {
                        const int64_t iw = cnb_pad_index(g->pad_mode, ow * g->sw - g->pad_l + j * g->dw, W);
                        if (iw < 0) continue;
                        acc += (double)xc[ih * W + iw] * (double)wc[i * g->kw + j];
                    }
                }
            }
            y[r * OW + ow] = (float)acc;
        }
    }
    return CNB_OK;
}

void cnb_conv2d_naive_scalar_free(cnb_plan_data *p) { (void)p; }
