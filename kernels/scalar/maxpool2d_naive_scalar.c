// maxpool2d.naive.scalar: the reference MaxPool2d, a transcription of PyTorch 1.13's cpu_max_pool
// (aten/src/ATen/native/cpu/MaxPoolKernel.cpp), indices included. NCHW float32 in and out, int64 flat
// h*W+w indices; portable C, OpenMP over the N*C planes.
#include <assert.h>
#include <math.h>
#include <stdint.h>

#include "core/registry.h"

cnb_status cnb_maxpool2d_naive_scalar_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_maxpool2d_naive_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                           cnb_error *err);
cnb_status cnb_maxpool2d_naive_scalar_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_maxpool2d_naive_scalar_free(cnb_plan_data *p);

cnb_status cnb_maxpool2d_naive_scalar_supports(const cnb_geom *g, cnb_error *why) {
    (void)g, (void)why;
    return CNB_OK;
}

cnb_status cnb_maxpool2d_naive_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                           cnb_error *err) {
    (void)g, (void)w, (void)err;
    p->priv = NULL;
    p->workspace_bytes = 0;
    return CNB_OK;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

cnb_status cnb_maxpool2d_naive_scalar_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    assert(g->kind == CNB_MAXPOOL2D && g->K == g->C);
    assert(g->kh > 0 && g->kw > 0 && g->sh > 0 && g->sw > 0 && g->dh > 0 && g->dw > 0);
    assert(g->pad_t >= 0 && g->pad_l >= 0 && g->OH > 0 && g->OW > 0);
    assert(io->x && io->y && io->threads > 0);

    const int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW;
    const int64_t planes = g->N * g->C;
    const float *x = io->x;
    float *y = io->y;
    int64_t *ind = io->indices;   // written whenever given, even without return_indices

#pragma omp parallel for num_threads(io->threads) schedule(static)
    for (int64_t nc = 0; nc < planes; nc++) {
        const float *xp = x + nc * H * W;
        for (int64_t oh = 0; oh < OH; oh++) {
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t ih0 = oh * g->sh - g->pad_t;
                int64_t iw0 = ow * g->sw - g->pad_l;
                const int64_t ih1 = min64(ih0 + (g->kh - 1) * g->dh + 1, H);
                const int64_t iw1 = min64(iw0 + (g->kw - 1) * g->dw + 1, W);
                // Step over padded taps; with ceil_mode and dilation this can leave the window empty,
                // and then PyTorch reports -inf at the (possibly out-of-plane) index of the first tap.
                while (ih0 < 0) ih0 += g->dh;
                while (iw0 < 0) iw0 += g->dw;

                int64_t maxindex = ih0 * W + iw0;
                float maxval = -INFINITY;
                for (int64_t ih = ih0; ih < ih1; ih += g->dh) {
                    for (int64_t iw = iw0; iw < iw1; iw += g->dw) {
                        const int64_t index = ih * W + iw;
                        const float val = xp[index];
                        // '>' keeps the first of equal maxima; isnan lets every NaN win, so the
                        // last NaN of the window gives the index.
                        if (val > maxval || isnan(val)) {
                            maxval = val;
                            maxindex = index;
                        }
                    }
                }
                const int64_t o = (nc * OH + oh) * OW + ow;
                y[o] = maxval;
                if (ind) ind[o] = maxindex;
            }
        }
    }
    return CNB_OK;
}

void cnb_maxpool2d_naive_scalar_free(cnb_plan_data *p) { (void)p; }
