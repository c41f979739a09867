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
                const int64_t ih1 = window_end(ih0, g->kh, g->dh, H);
                const int64_t iw1 = window_end(iw0, g->kw, g->dw, W);
                // Step over padded taps; with ceil_mode and dilation this can leave the window empty,
                // and then PyTorch reports -inf at the (possibly out-of-plane) index of the first tap.
                ih0 = first_tap(ih0, g->dh);
                iw0 = first_tap(iw0, g->dw);

                // For an empty window the first tap can lie far outside the plane: PyTorch's product wraps,
                // so it is taken modulo 2^64 here too rather than overflow.
                int64_t maxindex = (int64_t)((uint64_t)ih0 * (uint64_t)W + (uint64_t)iw0);
                float maxval = -INFINITY;
                // Taps counted, not stepped past the end: a dilation near INT64_MAX would overflow.
                const int64_t nh = ih0 < ih1 ? (ih1 - ih0 - 1) / g->dh + 1 : 0;
                const int64_t nw = iw0 < iw1 ? (iw1 - iw0 - 1) / g->dw + 1 : 0;
                for (int64_t th = 0; th < nh; th++) {
                    const int64_t ih = ih0 + th * g->dh;
                    for (int64_t tw = 0; tw < nw; tw++) {
                        const int64_t iw = iw0 + tw * g->dw;
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
