/* The implementation registry: one descriptor per implementation, built from core/impls.def, the only
 * list there is. Dispatch, `cnnbench list`/`impls`, the tests and the benchmarks all read it. */
#ifndef CNB_CORE_REGISTRY_H
#define CNB_CORE_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "cnnbench.h"
#include "core/geom.h"

/* Parameters as the kernels see them, owned by the plan: always present where the layer has them,
 * defaults filled in (conv bias zeros when bias=False; BN weight 1, bias 0, running mean 0, var 1). */
typedef struct cnb_weights {
    const float *weight;
    const float *bias;
    const float *running_mean;
    const float *running_var;
} cnb_weights;

/* What plan() leaves for run(). */
typedef struct cnb_plan_data {
    const cnb_geom *g;
    const cnb_weights *w;
    void *priv;               /* implementation-owned (packed weights ...), released by free() */
    size_t workspace_bytes;   /* scratch one run needs */
} cnb_plan_data;

/* Buffers of one run (see cnb_run_args); workspace is never NULL when workspace_bytes > 0. */
typedef struct cnb_io {
    const float *x;
    float *y;
    int64_t *indices;
    float *new_running_mean;
    float *new_running_var;
    void *workspace;
    int threads;              /* > 0 */
} cnb_io;

/* Bits of cnb_impl.flags (the last argument of CNB_IMPL in core/impls.def). */
enum {
    /* Results may differ in the last bits with the thread count: the implementation splits a reduction
     * (a BN statistic, a GEMM's K, ...) between threads. Without it, outputs, indices and running stats
     * are bit-identical at any thread count (tests/test_determinism.c). */
    CNB_IMPL_THREAD_VARIANT = 1u << 0,
    /* plan() keeps all it needs of the weight tensor (packed or transformed) and run() never reads
     * cnb_weights.weight: the plan then holds no copy of it (a 9.4 MB copy costs as much as the packing,
     * mostly in page faults). plan() reads the caller's tensor; run() sees weight == NULL. */
    CNB_IMPL_PACKS_WEIGHTS = 1u << 1,
};

typedef struct cnb_impl {
    const char *name;         /* "conv2d.im2col.avx2" */
    cnb_layer_kind kind;
    uint32_t isa;             /* CNB_ISA_* bits that must all be present */
    int prio;                 /* auto picks the highest usable; < 0: a peer library's entry, never picked */
    float max_rel_err;        /* promise checked by tests/test_impls.c */
    uint32_t flags;           /* CNB_IMPL_* bits */
    cnb_status (*supports)(const cnb_geom *g, cnb_error *why);
    /* plan() allocates with core/alloc.h (cnb_malloc ...; never malloc directly: the test build makes each
     * allocation fail in turn) and on failure returns CNB_E_NOMEM (or its error) having released all it
     * allocated: free() is called only for a plan() that succeeded. */
    cnb_status (*plan)(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
    cnb_status (*run)(const cnb_plan_data *p, const cnb_io *io);
    void (*free)(cnb_plan_data *p);
} cnb_impl;

const cnb_impl *cnb_impl_at(size_t i);

/* The best usable implementation for g (highest prio; ties go to the earlier line), or NULL with err. */
const cnb_impl *cnb_pick(const cnb_geom *g, cnb_error *err);

/* ISA check then supports(), in that order: nothing in an ISA file runs before its ISA is known present. */
cnb_status cnb_impl_usable(const cnb_impl *im, const cnb_geom *g, cnb_error *why);

#endif /* CNB_CORE_REGISTRY_H */
