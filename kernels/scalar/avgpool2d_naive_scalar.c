// avgpool2d.naive.scalar: the reference AvgPool2d, following PyTorch 1.13's cpu_avg_pool
// (aten/src/ATen/native/cpu/AvgPoolKernel.cpp) for window, pool size and divisor, but summing in
// double. NCHW float32 in and out; portable C, OpenMP over the N*C planes.
#include <assert.h>
#include <stdint.h>

#include "core/registry.h"

cnb_status cnb_avgpool2d_naive_scalar_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_avgpool2d_naive_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                           cnb_error *err);
cnb_status cnb_avgpool2d_naive_scalar_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_avgpool2d_naive_scalar_free(cnb_plan_data *p);

cnb_status cnb_avgpool2d_naive_scalar_supports(const cnb_geom *g, cnb_error *why) {
    (void)g, (void)why;
    return CNB_OK;
}

cnb_status cnb_avgpool2d_naive_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                           cnb_error *err) {
    (void)g, (void)w, (void)err;
    p->priv = NULL;
    p->workspace_bytes = 0;
    return CNB_OK;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

cnb_status cnb_avgpool2d_naive_scalar_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    assert(g->kind == CNB_AVGPOOL2D && g->K == g->C);
    assert(g->kh > 0 && g->kw > 0 && g->sh > 0 && g->sw > 0);  // divisor_override may be negative
    assert(g->pad_t >= 0 && g->pad_b >= 0 && g->pad_l >= 0 && g->pad_r >= 0 && g->OH > 0 && g->OW > 0);
    assert(io->x && io->y && io->threads > 0);

    const int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW;
    const int64_t planes = g->N * g->C;
    const float *x = io->x;
    float *y = io->y;

#pragma omp parallel for num_threads(io->threads) schedule(static)
    for (int64_t nc = 0; nc < planes; nc++) {
        const float *xp = x + nc * H * W;
        float *yp = y + nc * OH * OW;
        for (int64_t oh = 0; oh < OH; oh++) {
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t ih0 = oh * g->sh - g->pad_t;
                int64_t iw0 = ow * g->sw - g->pad_l;
                // min(ih0 + kh, H + pad_b), compared rather than summed: a kernel far larger than the input
                // could overflow the sum.
                int64_t ih1 = g->kh < H + g->pad_b - ih0 ? ih0 + g->kh : H + g->pad_b;
                int64_t iw1 = g->kw < W + g->pad_r - iw0 ? iw0 + g->kw : W + g->pad_r;
                // count_include_pad counts the padding but not the part a ceil_mode window hangs past
                // it, so the pool size is taken before clipping to the input. PyTorch's int64 product
                // wraps for windows of 2^63 elements or more: modulo 2^64 here too, without overflow.
                const int64_t pool_size = (int64_t)((uint64_t)(ih1 - ih0) * (uint64_t)(iw1 - iw0));
                ih0 = max64(ih0, 0);
                iw0 = max64(iw0, 0);
                ih1 = min64(ih1, H);
                iw1 = min64(iw1, W);

                if (ih0 >= ih1 || iw0 >= iw1) {
                    yp[oh * OW + ow] = 0.0f;
                    continue;
                }
                const int64_t divisor = g->divisor != 0      ? g->divisor
                                        : g->count_include_pad ? pool_size
                                                               : (ih1 - ih0) * (iw1 - iw0);
                double sum = 0.0;
                for (int64_t ih = ih0; ih < ih1; ih++)
                    for (int64_t iw = iw0; iw < iw1; iw++)
                        sum += xp[ih * W + iw];
                yp[oh * OW + ow] = (float)(sum / (double)divisor);
            }
        }
    }
    return CNB_OK;
}

void cnb_avgpool2d_naive_scalar_free(cnb_plan_data *p) { (void)p; }
