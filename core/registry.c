/* The registry: core/impls.def expanded twice, once into declarations and once into the static table,
 * plus dispatch. The ISA test always comes before supports(): nothing in an ISA file runs unless the
 * CPU (capped by CNB_ISA) has that ISA. */
#include <stdio.h>
#include <string.h>

#include "core/registry.h"
#include "core/status.h"

#define CNB_IMPL(NAME, KIND, ISA, PRIO, TOL, P, FLAGS)                                                    \
    cnb_status cnb_##P##_supports(const cnb_geom *, cnb_error *);                                         \
    cnb_status cnb_##P##_plan(const cnb_geom *, const cnb_weights *, cnb_plan_data *, cnb_error *);       \
    cnb_status cnb_##P##_run(const cnb_plan_data *, const cnb_io *);                                       \
    void cnb_##P##_free(cnb_plan_data *);
#include "core/impls.def"
#undef CNB_IMPL

#define CNB_IMPL(NAME, KIND, ISA, PRIO, TOL, P, FLAGS) \
    {NAME, KIND, ISA, PRIO, TOL, FLAGS, cnb_##P##_supports, cnb_##P##_plan, cnb_##P##_run, cnb_##P##_free},
static const cnb_impl g_impls[] = {
#include "core/impls.def"
};
#undef CNB_IMPL

#define N_IMPLS (sizeof g_impls / sizeof g_impls[0])

const cnb_impl *cnb_impl_at(size_t i) { return i < N_IMPLS ? &g_impls[i] : NULL; }
size_t cnb_impl_count(void) { return N_IMPLS; }
const char *cnb_impl_name(size_t i) { return i < N_IMPLS ? g_impls[i].name : NULL; }
cnb_layer_kind cnb_impl_kind(size_t i) { return i < N_IMPLS ? g_impls[i].kind : CNB_KIND_COUNT; }
uint32_t cnb_impl_isa(size_t i) { return i < N_IMPLS ? g_impls[i].isa : 0; }
int cnb_impl_prio(size_t i) { return i < N_IMPLS ? g_impls[i].prio : 0; }
float cnb_impl_max_rel_err(size_t i) { return i < N_IMPLS ? g_impls[i].max_rel_err : 0.f; }
bool cnb_impl_thread_invariant(size_t i) { return i < N_IMPLS && !(g_impls[i].flags & CNB_IMPL_THREAD_VARIANT); }

long cnb_impl_find(const char *name) {
    if (!name) return -1;
    for (size_t i = 0; i < N_IMPLS; i++)
        if (!strcmp(g_impls[i].name, name)) return (long)i;
    return -1;
}

cnb_status cnb_impl_usable(const cnb_impl *im, const cnb_geom *g, cnb_error *why) {
    uint32_t have = cnb_cpu_features();
    if ((im->isa & have) != im->isa) {
        char need[64], got[64];
        return cnb_fail(why, CNB_E_NO_ISA, "%s needs %s; this CPU (capped by CNB_ISA) has %s", im->name,
                        cnb_isa_names(im->isa, need, sizeof need), cnb_isa_names(have, got, sizeof got));
    }
    if (im->kind != g->kind)
        return cnb_fail(why, CNB_E_UNSUPPORTED, "%s implements %s, not %s", im->name, cnb_kind_name(im->kind),
                        cnb_kind_name(g->kind));
    cnb_error e = {0};
    cnb_status st = im->supports(g, &e);
    if (st != CNB_OK)
        return cnb_fail(why, st, "%s: %s", im->name, e.msg[0] ? e.msg : "does not support this layer");
    return CNB_OK;
}

/* The built-in rule of `auto`, on top of the static prio: shape-dependent preferences, measured with
 * `cnnbench bench` on the ResNet-50, VGG-16, MobileNetV2, AlexNet and TCN suites (1 thread, AVX2):
 * - depthwise layers: conv2d.depthwise.* (their supports() admits nothing else; highest prio);
 * - Conv2d with at most 4 input channels per group (first layers: 7x7/s2 on RGB, AlexNet's 11x11/s4):
 *   direct convolution, since a GEMM's reduction of C*kh*kw is too short to pay for packing panels;
 * - 3x3 stride-1 undilated Conv2d with 16 to 512 input and at least 16 output channels per group and an
 *   output of at least 7x7: Winograd F(4x4, 3x3), 1.5-3.5x im2col's speed on VGG-16's and ResNet-50's
 *   3x3 layers, with a relative error within the bound of docs/winograd.md (which holds up to 512
 *   channels per group); F(6x6) is no faster on these and less accurate, F(2x2) slower;
 * - other Conv2d: im2col + GEMM; Conv1d: direct (dilation only shifts its loads).
 * A loaded plan file (core/planfile.c) overrides all of this for the layers it names. */
static int auto_bonus(const cnb_impl *im, const cnb_geom *g) {
    const char *alg = strchr(im->name, '.');
    if (g->kind != CNB_CONV2D || !alg) return 0;
    const int64_t cg = g->C / g->groups, kg = g->K / g->groups;
    if (!strncmp(alg, ".direct.", 8) && cg <= 4) return 10;
    if (!strncmp(alg, ".winograd_f4x4_3x3.", 19) && cg >= 16 && cg <= 512 && kg >= 16 && g->OH >= 7 && g->OW >= 7)
        return 10;  // supports() has checked 3x3, stride 1, dilation 1
    return 0;
}

const cnb_impl *cnb_pick(const cnb_geom *g, cnb_error *err) {
    const cnb_impl *best = NULL;
    for (size_t i = 0; i < N_IMPLS; i++) {
        const cnb_impl *im = &g_impls[i];
        if (im->kind != g->kind || im->prio < 0) continue;  // prio < 0: peers, measured but never chosen
        if (cnb_impl_usable(im, g, NULL) != CNB_OK) continue;
        if (!best || im->prio + auto_bonus(im, g) > best->prio + auto_bonus(best, g)) best = im;
    }
    if (!best) cnb_fail(err, CNB_E_UNSUPPORTED, "no implementation of %s supports this layer", cnb_kind_name(g->kind));
    return best;
}

cnb_status cnb_impl_check(size_t i, const cnb_layer *layer, const cnb_shape *input, cnb_error *err) {
    if (i >= N_IMPLS) return cnb_fail(err, CNB_E_NOT_FOUND, "no implementation #%zu", i);
    cnb_geom g;
    cnb_status st = cnb_geom_init(&g, layer, input, 0, err);
    if (st) return st;
    return cnb_impl_usable(&g_impls[i], &g, err);
}

int cnb_impl_score(size_t i, const cnb_layer *layer, const cnb_shape *input) {
    cnb_geom g;
    if (i >= N_IMPLS || cnb_geom_init(&g, layer, input, 0, NULL)) return INT32_MIN;
    return g_impls[i].prio + auto_bonus(&g_impls[i], &g);
}
