// adaptiveavgpool2d.naive.scalar: the reference AdaptiveAvgPool2d, with PyTorch 1.13's cell bounds
// (start_index/end_index in aten/src/ATen/native/AdaptivePooling.h) and the mean summed in double.
// NCHW float32 in and out; portable C, OpenMP over the N*C planes.
#include <assert.h>
#include <stdint.h>

#include "core/registry.h"

cnb_status cnb_adaptiveavgpool2d_naive_scalar_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_adaptiveavgpool2d_naive_scalar_plan(const cnb_geom *g, const cnb_weights *w,
                                                   cnb_plan_data *p, cnb_error *err);
cnb_status cnb_adaptiveavgpool2d_naive_scalar_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_adaptiveavgpool2d_naive_scalar_free(cnb_plan_data *p);

cnb_status cnb_adaptiveavgpool2d_naive_scalar_supports(const cnb_geom *g, cnb_error *why) {
    (void)g, (void)why;
    return CNB_OK;
}

cnb_status cnb_adaptiveavgpool2d_naive_scalar_plan(const cnb_geom *g, const cnb_weights *w,
                                                   cnb_plan_data *p, cnb_error *err) {
    (void)g, (void)w, (void)err;
    p->priv = NULL;
    p->workspace_bytes = 0;
    return CNB_OK;
}

// Cell o of n over an input of length len spans [floor(o*len/n), ceil((o+1)*len/n)). Integer
// division gives the exact floor and ceil; a float floor misplaces bounds once o*len is large.
static int64_t cell_start(int64_t o, int64_t n, int64_t len) { return o * len / n; }
static int64_t cell_end(int64_t o, int64_t n, int64_t len) { return ((o + 1) * len + n - 1) / n; }

cnb_status cnb_adaptiveavgpool2d_naive_scalar_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    assert(g->kind == CNB_ADAPTIVEAVGPOOL2D && g->K == g->C);
    assert(g->H > 0 && g->W > 0 && g->OH > 0 && g->OW > 0);
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
            const int64_t ih0 = cell_start(oh, OH, H), ih1 = cell_end(oh, OH, H);
            for (int64_t ow = 0; ow < OW; ow++) {
                const int64_t iw0 = cell_start(ow, OW, W), iw1 = cell_end(ow, OW, W);
                double sum = 0.0;
                for (int64_t ih = ih0; ih < ih1; ih++)
                    for (int64_t iw = iw0; iw < iw1; iw++)
                        sum += xp[ih * W + iw];
                yp[oh * OW + ow] = (float)(sum / (double)((ih1 - ih0) * (iw1 - iw0)));
            }
        }
    }
    return CNB_OK;
}

void cnb_adaptiveavgpool2d_naive_scalar_free(cnb_plan_data *p) { (void)p; }
