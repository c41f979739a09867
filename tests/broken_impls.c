// conv2d.broken.scalar and maxpool2d.broken.scalar: deliberately wrong implementations, registered only
// in the test build (CNB_TEST_IMPLS), so that tests can show the benchmark's agreement check catches a
// kernel that is off by one in one element, and one that reports the last of tied maxima.
#include "core/registry.h"

cnb_status cnb_conv2d_naive_scalar_run(const cnb_plan_data *p, const cnb_io *io);
cnb_status cnb_maxpool2d_naive_scalar_run(const cnb_plan_data *p, const cnb_io *io);

cnb_status cnb_conv2d_broken_scalar_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv2d_broken_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv2d_broken_scalar_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv2d_broken_scalar_free(cnb_plan_data *p);
cnb_status cnb_maxpool2d_broken_scalar_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_maxpool2d_broken_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_maxpool2d_broken_scalar_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_maxpool2d_broken_scalar_free(cnb_plan_data *p);

static cnb_status ok_supports(const cnb_geom *g, cnb_error *why) { (void)g, (void)why; return CNB_OK; }
static cnb_status ok_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    (void)g, (void)w, (void)err;
    p->priv = NULL;
    p->workspace_bytes = 0;
    return CNB_OK;
}

cnb_status cnb_conv2d_broken_scalar_supports(const cnb_geom *g, cnb_error *why) { return ok_supports(g, why); }
cnb_status cnb_conv2d_broken_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    return ok_plan(g, w, p, err);
}
cnb_status cnb_conv2d_broken_scalar_run(const cnb_plan_data *p, const cnb_io *io) {
    cnb_status st = cnb_conv2d_naive_scalar_run(p, io);
    io->y[p->g->out_numel / 2] += 1.f;  // one wrong element in the middle
    return st;
}
void cnb_conv2d_broken_scalar_free(cnb_plan_data *p) { (void)p; }

cnb_status cnb_maxpool2d_broken_scalar_supports(const cnb_geom *g, cnb_error *why) { return ok_supports(g, why); }
cnb_status cnb_maxpool2d_broken_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    return ok_plan(g, w, p, err);
}
cnb_status cnb_maxpool2d_broken_scalar_run(const cnb_plan_data *p, const cnb_io *io) {
    cnb_status st = cnb_maxpool2d_naive_scalar_run(p, io);
    if (io->indices) io->indices[0] += 1;  // the wrong one of tied maxima, say
    return st;
}
void cnb_maxpool2d_broken_scalar_free(cnb_plan_data *p) { (void)p; }
