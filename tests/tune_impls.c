// Test doubles for `cnnbench tune` and plan files, registered only in the test build (CNB_TEST_IMPLS) with
// prio 0 so that the tuner treats them as candidates while `auto` keeps the reference (ties go to the
// earlier line): conv2d.winograd_test.scalar (3x3 stride 1 only; promises 1e-3, so --max-error and
// --no-winograd must exclude it), conv2d.loose_test.scalar (promises 1e-4) and conv2d.wrong_test.scalar
// (fast and wrong: the agreement check must keep it out of a plan). The first two compute the reference.
#include <string.h>

#include "core/registry.h"
#include "core/status.h"

cnb_status cnb_conv2d_naive_scalar_run(const cnb_plan_data *p, const cnb_io *io);

#define CNB_TEST_DECLARE(P)                                                                                   \
    cnb_status cnb_##P##_supports(const cnb_geom *g, cnb_error *why);                                         \
    cnb_status cnb_##P##_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);     \
    cnb_status cnb_##P##_run(const cnb_plan_data *p, const cnb_io *io);                                       \
    void cnb_##P##_free(cnb_plan_data *p);
CNB_TEST_DECLARE(conv2d_winograd_test_scalar)
CNB_TEST_DECLARE(conv2d_loose_test_scalar)
CNB_TEST_DECLARE(conv2d_wrong_test_scalar)

static cnb_status no_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    (void)g, (void)w, (void)err;
    p->priv = NULL;
    p->workspace_bytes = 0;
    return CNB_OK;
}

cnb_status cnb_conv2d_winograd_test_scalar_supports(const cnb_geom *g, cnb_error *why) {
    if (g->kind != CNB_CONV2D || g->kh != 3 || g->kw != 3 || g->sh != 1 || g->sw != 1 || g->dh != 1 || g->dw != 1)
        return cnb_fail(why, CNB_E_UNSUPPORTED, "only 3x3 kernels, stride 1, dilation 1");
    return CNB_OK;
}
cnb_status cnb_conv2d_winograd_test_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    return no_plan(g, w, p, err);
}
cnb_status cnb_conv2d_winograd_test_scalar_run(const cnb_plan_data *p, const cnb_io *io) {
    return cnb_conv2d_naive_scalar_run(p, io);
}
void cnb_conv2d_winograd_test_scalar_free(cnb_plan_data *p) { (void)p; }

cnb_status cnb_conv2d_loose_test_scalar_supports(const cnb_geom *g, cnb_error *why) { (void)g, (void)why; return CNB_OK; }
cnb_status cnb_conv2d_loose_test_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    return no_plan(g, w, p, err);
}
cnb_status cnb_conv2d_loose_test_scalar_run(const cnb_plan_data *p, const cnb_io *io) {
    return cnb_conv2d_naive_scalar_run(p, io);
}
void cnb_conv2d_loose_test_scalar_free(cnb_plan_data *p) { (void)p; }

cnb_status cnb_conv2d_wrong_test_scalar_supports(const cnb_geom *g, cnb_error *why) { (void)g, (void)why; return CNB_OK; }
cnb_status cnb_conv2d_wrong_test_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    return no_plan(g, w, p, err);
}
cnb_status cnb_conv2d_wrong_test_scalar_run(const cnb_plan_data *p, const cnb_io *io) {
    memset(io->y, 0, (size_t)p->g->out_numel * sizeof *io->y);
    return CNB_OK;
}
void cnb_conv2d_wrong_test_scalar_free(cnb_plan_data *p) { (void)p; }
