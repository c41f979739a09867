// conv1d.naive.scalar: the reference Conv1d. core/ describes a Conv1d as a Conv2d with H == 1 and a
// 1-high kernel, and NCL data is NC1L in memory, so this is the reference Conv2d on that geometry.
#include "core/registry.h"

cnb_status cnb_conv2d_naive_scalar_run(const cnb_plan_data *p, const cnb_io *io);

cnb_status cnb_conv1d_naive_scalar_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv1d_naive_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv1d_naive_scalar_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv1d_naive_scalar_free(cnb_plan_data *p);

cnb_status cnb_conv1d_naive_scalar_supports(const cnb_geom *g, cnb_error *why) {
    (void)g, (void)why;
    return CNB_OK;
}

cnb_status cnb_conv1d_naive_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    (void)g, (void)w, (void)err;
    p->priv = NULL;
    p->workspace_bytes = 0;
    return CNB_OK;
}

cnb_status cnb_conv1d_naive_scalar_run(const cnb_plan_data *p, const cnb_io *io) {
    return cnb_conv2d_naive_scalar_run(p, io);
}

void cnb_conv1d_naive_scalar_free(cnb_plan_data *p) { (void)p; }
