// Shared by the <layer>.onednn.ext peers (kernels/ext/*_onednn_ext.c): oneDNN 2.x C API status mapping and
// a plan that owns one oneDNN primitive per OpenMP thread count, with NCHW user memory, the primitive's own
// layout inside, the activation reorders done in run() and the weights packed once in plan().
// Needs libdnnl 2.x built with the OpenMP CPU runtime (Debian's libdnnl-dev 2.6.3 is); no ISA flags here:
// oneDNN dispatches on the CPU by itself (DNNL_MAX_CPU_ISA caps it; CNB_ISA does not).
//
// Threads. With the OpenMP runtime oneDNN sizes a primitive's work split from omp_get_max_threads() when the
// primitive *descriptor* is created, and at execution opens `omp parallel num_threads(that count)`: setting
// the ICV at run time alone does not change the count (a descriptor made for 2 threads runs 2 threads under
// omp_set_num_threads(1); checked on 2.6.3). So the plan holds a descriptor per thread count: plan() makes
// them for 1..omp_get_max_threads() (cheap: no JIT), sizes the workspace for the largest, packs the weights
// for each distinct weights layout, and JIT-compiles the primitive for omp_get_max_threads(). run() sets
// omp_set_num_threads(io->threads) on the calling thread (restored after) and uses that count's primitive,
// compiled under a per-plan mutex at its first run (a warm-up run absorbs it); a count above the plan-time
// maximum gets its descriptor there too and, if it needs more scratch than planned, a per-run allocation.
//
// Concurrency. run() may be called concurrently on one plan: each run creates its own stream and memory
// objects, and everything a run writes (reordered activations, oneDNN's scratchpad, which is in
// user-managed mode, BN statistics) lives in io->workspace, carved with 64-byte alignment.
#ifndef CNB_KERNELS_EXT_ONEDNN_UTIL_H
#define CNB_KERNELS_EXT_ONEDNN_UTIL_H

#include <limits.h>
#include <omp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include <dnnl.h>
#include <dnnl_debug.h>

#include "core/alloc.h"
#include "core/registry.h"
#include "core/status.h"

#if !defined(DNNL_VERSION_MAJOR) || DNNL_VERSION_MAJOR != 2
#error "kernels/ext needs the oneDNN 2.x C API (op descriptors; 3.x replaced them)"
#endif

#define CNB_DNNL_ALIGN 64
#define CNB_DNNL_MAX_ARGS 12

// ---- status ----------------------------------------------------------------------------------------

// oneDNN's out-of-memory is ours; anything else it refuses is "this peer cannot run it".
static inline cnb_status cnb_dnnl_code(dnnl_status_t s) {
    return s == dnnl_success ? CNB_OK : s == dnnl_out_of_memory ? CNB_E_NOMEM : CNB_E_UNSUPPORTED;
}

// True when s is success; otherwise fills err with "<name>: <call> failed: <dnnl status>" and *st.
static inline bool cnb_dnnl_ok(dnnl_status_t s, const char *call, const char *name, cnb_error *err,
                               cnb_status *st) {
    if (s == dnnl_success) return true;
    *st = cnb_fail(err, cnb_dnnl_code(s), "%s: %s failed: %s", name, call, dnnl_status2str(s));
    return false;
}

static inline size_t cnb_dnnl_round(size_t n) { return (n + CNB_DNNL_ALIGN - 1) & ~(size_t)(CNB_DNNL_ALIGN - 1); }

// oneDNN takes const inputs through void * handles and never writes them (their layouts have no padding).
static inline void *cnb_dnnl_unconst(const void *p) { return (void *)(uintptr_t)p; }

// oneDNN uses the widest ISA the CPU has (AVX-512 where present); cnnbench's kernels stop at AVX2, so the
// peers are held to the same ISA as ours (capped by CNB_ISA too) for a like-for-like comparison, unless the
// user sets oneDNN's own DNNL_MAX_CPU_ISA. The setting takes effect only before oneDNN creates its first
// primitive; later calls fail harmlessly, so calling it from every supports() is enough.
static inline void cnb_dnnl_cap_isa(void) {
    if (getenv("DNNL_MAX_CPU_ISA") || getenv("ONEDNN_MAX_CPU_ISA")) return;
    const uint32_t f = cnb_cpu_features();
    (void)dnnl_set_max_cpu_isa((f & CNB_ISA_AVX2) && (f & CNB_ISA_FMA) ? dnnl_cpu_isa_avx2 : dnnl_cpu_isa_sse41);
}

// The checks every peer's supports() starts with: the runtime can be steered by OpenMP ICVs, the sizes
// (the window's too) fit the int oneDNN uses for spatial sizes in its descriptor checks, and a window has at
// most 2^24 taps: oneDNN visits every tap, also those PyTorch clips away, so a huge kernel with a stride as
// large (valid: one window, clipped to the input) would run for hours. No network pools over that many.
static inline cnb_status cnb_dnnl_common_supports(const cnb_geom *g, cnb_error *why) {
    cnb_dnnl_cap_isa();
    const dnnl_version_t *v = dnnl_version();
    if (v->major != 2)
        return cnb_fail(why, CNB_E_UNSUPPORTED, "libdnnl %d.%d.%d is loaded, built against 2.x", v->major, v->minor,
                        v->patch);
    if (v->cpu_runtime != DNNL_RUNTIME_OMP)
        return cnb_fail(why, CNB_E_UNSUPPORTED, "libdnnl's CPU runtime is not OpenMP (0x%x): its threads cannot be set",
                        v->cpu_runtime);
    const int64_t d[] = {g->N,  g->C,  g->H,  g->W,  g->K,  g->OH,    g->OW,    g->kh,    g->kw,
                         g->sh, g->sw, g->dh, g->dw, g->pad_t, g->pad_b, g->pad_l, g->pad_r};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        if (d[i] > INT_MAX)
            return cnb_fail(why, CNB_E_UNSUPPORTED, "a dimension (%lld) exceeds oneDNN's int", (long long)d[i]);
    if ((double)g->kh * (double)g->kw > (double)(1 << 24))
        return cnb_fail(why, CNB_E_UNSUPPORTED, "a %lld x %lld window: oneDNN would visit every tap", (long long)g->kh,
                        (long long)g->kw);
    return CNB_OK;
}

// ---- the plan ----------------------------------------------------------------------------------------

// The op descriptors this header can hold (oneDNN 2.x C structs, plain data).
typedef union cnb_dnnl_op {
    dnnl_convolution_desc_t conv;
    dnnl_pooling_v2_desc_t pool;
    dnnl_batch_normalization_desc_t bnorm;
} cnb_dnnl_op;

// Everything one thread count needs. The offsets are relative to the 64-aligned workspace base; the
// layer's own region [0, extra) comes first.
typedef struct cnb_dnnl_variant {
    dnnl_primitive_desc_t pd;                 // the op for this thread count
    dnnl_primitive_desc_t src_rpd, dst_rpd;   // user NCHW -> pd's src, pd's dst -> NCHW; NULL: same layout
    dnnl_primitive_t prim, src_r, dst_r;      // compiled at the first run with this count (or in plan())
    dnnl_memory_t weights;                    // borrowed from the plan's packed list; NULL: the op has none
    size_t src_off, dst_off, scratch_off, bytes;
} cnb_dnnl_variant;

typedef struct cnb_dnnl_plan {
    const char *name;
    dnnl_engine_t engine;
    cnb_dnnl_op op;
    dnnl_memory_desc_t user_src, user_dst;    // NCHW (NCW): the caller's buffers
    bool has_weights;
    dnnl_memory_desc_t user_w;                // (g)oihw / (g)oiw
    const float *user_w_ptr;                  // the plan's weight copy (cnb_weights), outlives this
    size_t extra;                             // bytes of the layer's region, a multiple of 64
    size_t planned;                           // the workspace_bytes plan() reported
    dnnl_exec_arg_t consts[4];                // constant arguments (bias, BN scale/shift/running stats)
    int nconsts;
    int npacked;                              // distinct packed weight layouts, and their memory
    dnnl_memory_t *packed;
    void **packed_buf;
    mtx_t lock;                               // guards var[], nvar and lazy compilation
    bool lock_ok;
    int nvar;                                 // var[t - 1] for t threads; NULL where not yet made
    cnb_dnnl_variant **var;
} cnb_dnnl_plan;

static inline dnnl_status_t cnb_dnnl_user_attr(dnnl_primitive_attr_t *attr) {
    dnnl_status_t s = dnnl_primitive_attr_create(attr);
    if (s != dnnl_success) return s;
    s = dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user);
    if (s != dnnl_success) dnnl_primitive_attr_destroy(*attr);
    return s;
}

static inline size_t cnb_dnnl_scratch_bytes(const_dnnl_primitive_desc_t pd) {
    return pd ? dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)) : 0;
}

// Create the primitive descriptor of op with the calling thread's ICV set to threads (restored after).
static inline dnnl_status_t cnb_dnnl_pd(const cnb_dnnl_plan *dp, int threads, dnnl_primitive_desc_t *pd) {
    dnnl_primitive_attr_t attr;
    dnnl_status_t s = cnb_dnnl_user_attr(&attr);
    if (s != dnnl_success) return s;
    const int prev = omp_get_max_threads();
    omp_set_num_threads(threads);
    s = dnnl_primitive_desc_create(pd, &dp->op, attr, dp->engine, NULL);
    omp_set_num_threads(prev);
    dnnl_primitive_attr_destroy(attr);
    return s;
}

// supports(): can oneDNN build op at all (on this CPU, at the current thread count)?
static inline cnb_status cnb_dnnl_try_op(const cnb_dnnl_op *op, const char *name, cnb_error *why) {
    dnnl_engine_t eng;
    dnnl_status_t s = dnnl_engine_create(&eng, dnnl_cpu, 0);
    if (s != dnnl_success) return cnb_fail(why, cnb_dnnl_code(s), "%s: dnnl_engine_create: %s", name, dnnl_status2str(s));
    dnnl_primitive_attr_t attr;
    dnnl_primitive_desc_t pd = NULL;
    s = cnb_dnnl_user_attr(&attr);
    if (s == dnnl_success) {
        s = dnnl_primitive_desc_create(&pd, op, attr, eng, NULL);
        dnnl_primitive_attr_destroy(attr);
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    dnnl_engine_destroy(eng);
    if (s != dnnl_success)
        return cnb_fail(why, CNB_E_UNSUPPORTED, "oneDNN has no implementation for it (%s)", dnnl_status2str(s));
    return CNB_OK;
}

static inline void cnb_dnnl_variant_free(cnb_dnnl_variant *v) {
    if (!v) return;
    if (v->prim) dnnl_primitive_destroy(v->prim);
    if (v->src_r) dnnl_primitive_destroy(v->src_r);
    if (v->dst_r) dnnl_primitive_destroy(v->dst_r);
    if (v->pd) dnnl_primitive_desc_destroy(v->pd);
    if (v->src_rpd) dnnl_primitive_desc_destroy(v->src_rpd);
    if (v->dst_rpd) dnnl_primitive_desc_destroy(v->dst_rpd);
    cnb_free(v);
}

static inline void cnb_dnnl_plan_free(cnb_dnnl_plan *dp) {
    if (!dp) return;
    for (int i = 0; i < dp->nvar; i++) cnb_dnnl_variant_free(dp->var[i]);
    cnb_free(dp->var);
    for (int i = 0; i < dp->npacked; i++) {
        dnnl_memory_destroy(dp->packed[i]);
        cnb_free(dp->packed_buf[i]);
    }
    cnb_free(dp->packed);
    cnb_free(dp->packed_buf);
    for (int i = 0; i < dp->nconsts; i++) dnnl_memory_destroy(dp->consts[i].memory);
    if (dp->lock_ok) mtx_destroy(&dp->lock);
    if (dp->engine) dnnl_engine_destroy(dp->engine);
    cnb_free(dp);
}

// Run one reorder now (plan time: packing weights), with its scratchpad allocated here.
static inline dnnl_status_t cnb_dnnl_reorder_now(dnnl_engine_t eng, const dnnl_memory_desc_t *from_md,
                                                 const void *from, dnnl_memory_t to) {
    const dnnl_memory_desc_t *to_md;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t r = NULL;
    dnnl_memory_t src = NULL, scr = NULL;
    dnnl_stream_t stream = NULL;
    void *scr_buf = NULL;
    dnnl_status_t s = dnnl_memory_get_memory_desc(to, &to_md);
    if (s == dnnl_success) s = cnb_dnnl_user_attr(&attr);
    if (s == dnnl_success) s = dnnl_reorder_primitive_desc_create(&rpd, from_md, eng, to_md, eng, attr);
    if (s == dnnl_success) s = dnnl_primitive_create(&r, rpd);
    if (s == dnnl_success) s = dnnl_memory_create(&src, from_md, eng, cnb_dnnl_unconst(from));
    const size_t sb = s == dnnl_success ? cnb_dnnl_scratch_bytes(rpd) : 0;
    if (s == dnnl_success && sb) {
        scr_buf = cnb_aligned_alloc(CNB_DNNL_ALIGN, cnb_dnnl_round(sb));
        s = scr_buf ? dnnl_memory_create(&scr, dnnl_primitive_desc_query_md(rpd, dnnl_query_scratchpad_md, 0), eng, scr_buf)
                    : dnnl_out_of_memory;
    }
    if (s == dnnl_success) s = dnnl_stream_create(&stream, eng, dnnl_stream_default_flags);
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, to}, {DNNL_ARG_SCRATCHPAD, scr}};
        s = dnnl_primitive_execute(r, stream, scr ? 3 : 2, args);
        if (s == dnnl_success) s = dnnl_stream_wait(stream);
    }
    if (stream) dnnl_stream_destroy(stream);
    if (scr) dnnl_memory_destroy(scr);
    cnb_free(scr_buf);
    if (src) dnnl_memory_destroy(src);
    if (r) dnnl_primitive_destroy(r);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return s;
}

// The memory holding the weights in layout md: an earlier packing with the same layout, the caller's copy
// when md is its layout, or a new packing (a reorder run now).
static inline cnb_status cnb_dnnl_weights_for(cnb_dnnl_plan *dp, const dnnl_memory_desc_t *md, dnnl_memory_t *out,
                                              cnb_error *err) {
    cnb_status st = CNB_OK;
    for (int i = 0; i < dp->npacked; i++) {
        const dnnl_memory_desc_t *have;
        if (dnnl_memory_get_memory_desc(dp->packed[i], &have) == dnnl_success && dnnl_memory_desc_equal(have, md)) {
            *out = dp->packed[i];
            return CNB_OK;
        }
    }
    dnnl_memory_t *pm = cnb_realloc(dp->packed, (size_t)(dp->npacked + 1) * sizeof *pm);
    if (pm) dp->packed = pm;
    void **pb = pm ? cnb_realloc(dp->packed_buf, (size_t)(dp->npacked + 1) * sizeof *pb) : NULL;
    if (pb) dp->packed_buf = pb;
    if (!pm || !pb) return cnb_fail(err, CNB_E_NOMEM, "%s: out of memory for the packed weights list", dp->name);
    const bool user = dnnl_memory_desc_equal(md, &dp->user_w);
    void *buf = NULL;
    if (!user) {
        buf = cnb_aligned_alloc(CNB_DNNL_ALIGN, cnb_dnnl_round(dnnl_memory_desc_get_size(md)));
        if (!buf) return cnb_fail(err, CNB_E_NOMEM, "%s: out of memory packing the weights", dp->name);
    }
    dnnl_memory_t m = NULL;
    if (!cnb_dnnl_ok(dnnl_memory_create(&m, md, dp->engine, user ? cnb_dnnl_unconst(dp->user_w_ptr) : buf),
                     "dnnl_memory_create(weights)", dp->name, err, &st) ||
        (!user && !cnb_dnnl_ok(cnb_dnnl_reorder_now(dp->engine, &dp->user_w, dp->user_w_ptr, m),
                               "reorder(weights)", dp->name, err, &st))) {
        if (m) dnnl_memory_destroy(m);
        cnb_free(buf);
        return st;
    }
    dp->packed[dp->npacked] = m;
    dp->packed_buf[dp->npacked] = buf;
    dp->npacked++;
    *out = m;
    return CNB_OK;
}

// Descriptors, reorders, weights and the workspace carve for t threads (no JIT yet).
static inline cnb_status cnb_dnnl_variant_make(cnb_dnnl_plan *dp, int t, cnb_dnnl_variant **out, cnb_error *err) {
    cnb_status st = CNB_OK;
    cnb_dnnl_variant *v = cnb_calloc(1, sizeof *v);
    if (!v) return cnb_fail(err, CNB_E_NOMEM, "%s: out of memory", dp->name);
    dnnl_primitive_attr_t attr = NULL;
    if (!cnb_dnnl_ok(cnb_dnnl_pd(dp, t, &v->pd), "dnnl_primitive_desc_create", dp->name, err, &st) ||
        !cnb_dnnl_ok(cnb_dnnl_user_attr(&attr), "dnnl_primitive_attr_create", dp->name, err, &st))
        goto fail;
    const dnnl_memory_desc_t *src = dnnl_primitive_desc_query_md(v->pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *dst = dnnl_primitive_desc_query_md(v->pd, dnnl_query_dst_md, 0);
    // Reorder pds are made under the same thread count: some reorders, too, split work at creation.
    const int prev = omp_get_max_threads();
    omp_set_num_threads(t);
    bool ok = true;
    if (!dnnl_memory_desc_equal(src, &dp->user_src))
        ok = cnb_dnnl_ok(dnnl_reorder_primitive_desc_create(&v->src_rpd, &dp->user_src, dp->engine, src, dp->engine, attr),
                         "dnnl_reorder_primitive_desc_create(src)", dp->name, err, &st);
    if (ok && !dnnl_memory_desc_equal(dst, &dp->user_dst))
        ok = cnb_dnnl_ok(dnnl_reorder_primitive_desc_create(&v->dst_rpd, dst, dp->engine, &dp->user_dst, dp->engine, attr),
                         "dnnl_reorder_primitive_desc_create(dst)", dp->name, err, &st);
    omp_set_num_threads(prev);
    if (!ok) goto fail;
    if (dp->has_weights && (st = cnb_dnnl_weights_for(dp, dnnl_primitive_desc_query_md(v->pd, dnnl_query_weights_md, 0),
                                                      &v->weights, err)))
        goto fail;
    // [layer's extra | src in the op's layout | dst in the op's layout | scratchpad]; the scratchpad is
    // shared by the three primitives, which run one after the other.
    size_t off = dp->extra;
    v->src_off = off;
    if (v->src_rpd) off += cnb_dnnl_round(dnnl_memory_desc_get_size(src));
    v->dst_off = off;
    if (v->dst_rpd) off += cnb_dnnl_round(dnnl_memory_desc_get_size(dst));
    v->scratch_off = off;
    size_t scr = cnb_dnnl_scratch_bytes(v->pd);
    if (cnb_dnnl_scratch_bytes(v->src_rpd) > scr) scr = cnb_dnnl_scratch_bytes(v->src_rpd);
    if (cnb_dnnl_scratch_bytes(v->dst_rpd) > scr) scr = cnb_dnnl_scratch_bytes(v->dst_rpd);
    v->bytes = off + cnb_dnnl_round(scr);
    dnnl_primitive_attr_destroy(attr);
    *out = v;
    return CNB_OK;
fail:
    if (attr) dnnl_primitive_attr_destroy(attr);
    cnb_dnnl_variant_free(v);
    return st;
}

// JIT-compile v's primitives with t threads in the ICV (the primitive cache is keyed on it).
static inline dnnl_status_t cnb_dnnl_variant_compile(cnb_dnnl_variant *v, int t) {
    const int prev = omp_get_max_threads();
    omp_set_num_threads(t);
    dnnl_primitive_t prim = NULL, sr = NULL, dr = NULL;
    dnnl_status_t s = dnnl_primitive_create(&prim, v->pd);
    if (s == dnnl_success && v->src_rpd) s = dnnl_primitive_create(&sr, v->src_rpd);
    if (s == dnnl_success && v->dst_rpd) s = dnnl_primitive_create(&dr, v->dst_rpd);
    omp_set_num_threads(prev);
    if (s != dnnl_success) {
        if (prim) dnnl_primitive_destroy(prim);
        if (sr) dnnl_primitive_destroy(sr);
        return s;
    }
    v->prim = prim, v->src_r = sr, v->dst_r = dr;
    return dnnl_success;
}

// Add a constant argument (bias, BN parameters): memory of md over ptr, kept for every run.
static inline cnb_status cnb_dnnl_add_const(cnb_dnnl_plan *dp, int arg, const dnnl_memory_desc_t *md, const float *ptr,
                                            cnb_error *err) {
    cnb_status st = CNB_OK;
    if (dp->nconsts >= (int)(sizeof dp->consts / sizeof dp->consts[0]))
        return cnb_fail(err, CNB_E_UNSUPPORTED, "%s: too many constant arguments", dp->name);
    dnnl_memory_t m;
    if (!cnb_dnnl_ok(dnnl_memory_create(&m, md, dp->engine, cnb_dnnl_unconst(ptr)), "dnnl_memory_create(const)", dp->name,
                     err, &st))
        return st;
    dp->consts[dp->nconsts++] = (dnnl_exec_arg_t){arg, m};
    return CNB_OK;
}

// Build the plan: user layouts from dims and tag (ndims 3 or 4), op copied, the variants for
// 1..omp_get_max_threads(), the primitive for the largest compiled. user_w NULL: the op has no weights.
// extra: bytes the layer wants at the start of every run's workspace. On error everything is released.
static inline cnb_status cnb_dnnl_plan_create(cnb_dnnl_plan **out, const char *name, const cnb_dnnl_op *op, int ndims,
                                              const dnnl_dims_t src_dims, const dnnl_dims_t dst_dims,
                                              dnnl_format_tag_t tag, const dnnl_memory_desc_t *user_w,
                                              const float *user_w_ptr, size_t extra, cnb_error *err) {
    cnb_status st = CNB_OK;
    *out = NULL;
    cnb_dnnl_plan *dp = cnb_calloc(1, sizeof *dp);
    if (!dp) return cnb_fail(err, CNB_E_NOMEM, "%s: out of memory", name);
    dp->name = name;
    dp->op = *op;
    dp->extra = cnb_dnnl_round(extra);
    dp->has_weights = user_w != NULL;
    if (user_w) dp->user_w = *user_w, dp->user_w_ptr = user_w_ptr;
    if (mtx_init(&dp->lock, mtx_plain) != thrd_success) {
        st = cnb_fail(err, CNB_E_NOMEM, "%s: mtx_init failed", name);
        goto fail;
    }
    dp->lock_ok = true;
    if (!cnb_dnnl_ok(dnnl_engine_create(&dp->engine, dnnl_cpu, 0), "dnnl_engine_create", name, err, &st) ||
        !cnb_dnnl_ok(dnnl_memory_desc_init_by_tag(&dp->user_src, ndims, src_dims, dnnl_f32, tag),
                     "dnnl_memory_desc_init_by_tag(src)", name, err, &st) ||
        !cnb_dnnl_ok(dnnl_memory_desc_init_by_tag(&dp->user_dst, ndims, dst_dims, dnnl_f32, tag),
                     "dnnl_memory_desc_init_by_tag(dst)", name, err, &st))
        goto fail;
    const int tmax = omp_get_max_threads() > 0 ? omp_get_max_threads() : 1;
    dp->var = cnb_calloc((size_t)tmax, sizeof *dp->var);
    if (!dp->var) {
        st = cnb_fail(err, CNB_E_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    dp->nvar = tmax;
    size_t most = 0;
    for (int t = 1; t <= tmax; t++) {
        if ((st = cnb_dnnl_variant_make(dp, t, &dp->var[t - 1], err))) goto fail;
        if (dp->var[t - 1]->bytes > most) most = dp->var[t - 1]->bytes;
    }
    if (!cnb_dnnl_ok(cnb_dnnl_variant_compile(dp->var[tmax - 1], tmax), "dnnl_primitive_create", name, err, &st)) goto fail;
    dp->planned = most ? most + CNB_DNNL_ALIGN - 1 : 0;   // room to align whatever base the caller gives
    *out = dp;
    return CNB_OK;
fail:
    cnb_dnnl_plan_free(dp);
    return st;
}

// ---- a run -----------------------------------------------------------------------------------------

typedef struct cnb_dnnl_ctx {
    cnb_dnnl_variant *v;
    int threads;
    char *base;        // 64-aligned start of this run's workspace (the layer's region first)
    void *owned;       // set when this run had to allocate (a thread count above the planned ones)
} cnb_dnnl_ctx;

// The variant for io->threads (made and compiled here on first use) and this run's workspace.
static inline cnb_status cnb_dnnl_begin(const cnb_dnnl_plan *cdp, const cnb_io *io, cnb_dnnl_ctx *c) {
    cnb_dnnl_plan *dp = (cnb_dnnl_plan *)(uintptr_t)cdp;   // only var[] changes, under the lock
    memset(c, 0, sizeof *c);
    const int t = io->threads > 0 ? io->threads : 1;
    cnb_status st = CNB_OK;
    if (mtx_lock(&dp->lock) != thrd_success) return CNB_E_UNSUPPORTED;
    if (t > dp->nvar) {
        cnb_dnnl_variant **nv = cnb_realloc(dp->var, (size_t)t * sizeof *nv);
        if (!nv) st = CNB_E_NOMEM;
        else {
            memset(nv + dp->nvar, 0, (size_t)(t - dp->nvar) * sizeof *nv);
            dp->var = nv;
            dp->nvar = t;
        }
    }
    if (!st && !dp->var[t - 1]) st = cnb_dnnl_variant_make(dp, t, &dp->var[t - 1], NULL);
    if (!st && !dp->var[t - 1]->prim) st = cnb_dnnl_code(cnb_dnnl_variant_compile(dp->var[t - 1], t));
    if (!st) c->v = dp->var[t - 1];
    mtx_unlock(&dp->lock);
    if (st) return st;
    c->threads = t;
    if (!c->v->bytes) return CNB_OK;
    char *ws = io->workspace;
    const size_t skip = ws ? (size_t)(-(uintptr_t)ws & (CNB_DNNL_ALIGN - 1)) : 0;
    if (ws && skip + c->v->bytes <= dp->planned) {
        c->base = ws + skip;
        return CNB_OK;
    }
    c->owned = cnb_aligned_alloc(CNB_DNNL_ALIGN, c->v->bytes);
    if (!c->owned) return CNB_E_NOMEM;
    c->base = c->owned;
    return CNB_OK;
}

static inline void cnb_dnnl_end(cnb_dnnl_ctx *c) {
    cnb_free(c->owned);
    c->owned = NULL;
}

// x (NCHW) -> [reorder] -> op -> [reorder] -> y (NCHW), with c->threads OpenMP threads set on the calling
// thread for the duration. extra: per-run arguments the layer made (BN batch statistics).
static inline cnb_status cnb_dnnl_exec(const cnb_dnnl_plan *dp, const cnb_dnnl_ctx *c, const float *x, float *y,
                                       const dnnl_exec_arg_t *extra, int nextra) {
    const cnb_dnnl_variant *v = c->v;
    dnnl_memory_t ux = NULL, uy = NULL, bx = NULL, by = NULL, scr[3] = {NULL, NULL, NULL};
    dnnl_stream_t stream = NULL;
    const dnnl_primitive_desc_t pds[3] = {v->src_rpd, v->pd, v->dst_rpd};
    const int prev = omp_get_max_threads();
    omp_set_num_threads(c->threads);
    dnnl_status_t s = dnnl_stream_create(&stream, dp->engine, dnnl_stream_default_flags);
    if (s == dnnl_success) s = dnnl_memory_create(&ux, &dp->user_src, dp->engine, cnb_dnnl_unconst(x));
    if (s == dnnl_success) s = dnnl_memory_create(&uy, &dp->user_dst, dp->engine, y);
    if (s == dnnl_success && v->src_rpd)
        s = dnnl_memory_create(&bx, dnnl_primitive_desc_query_md(v->pd, dnnl_query_src_md, 0), dp->engine,
                               c->base + v->src_off);
    if (s == dnnl_success && v->dst_rpd)
        s = dnnl_memory_create(&by, dnnl_primitive_desc_query_md(v->pd, dnnl_query_dst_md, 0), dp->engine,
                               c->base + v->dst_off);
    for (int i = 0; i < 3 && s == dnnl_success; i++)
        if (cnb_dnnl_scratch_bytes(pds[i]))
            s = dnnl_memory_create(&scr[i], dnnl_primitive_desc_query_md(pds[i], dnnl_query_scratchpad_md, 0),
                                   dp->engine, c->base + v->scratch_off);
    if (s == dnnl_success && v->src_r) {
        dnnl_exec_arg_t a[3] = {{DNNL_ARG_FROM, ux}, {DNNL_ARG_TO, bx}, {DNNL_ARG_SCRATCHPAD, scr[0]}};
        s = dnnl_primitive_execute(v->src_r, stream, scr[0] ? 3 : 2, a);
    }
    if (s == dnnl_success) {
        dnnl_exec_arg_t a[CNB_DNNL_MAX_ARGS];
        int n = 0;
        a[n++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, bx ? bx : ux};
        a[n++] = (dnnl_exec_arg_t){DNNL_ARG_DST, by ? by : uy};
        if (v->weights) a[n++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, v->weights};
        if (scr[1]) a[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, scr[1]};
        for (int i = 0; i < dp->nconsts; i++) a[n++] = dp->consts[i];
        for (int i = 0; i < nextra && n < CNB_DNNL_MAX_ARGS; i++) a[n++] = extra[i];
        s = dnnl_primitive_execute(v->prim, stream, n, a);
    }
    if (s == dnnl_success && v->dst_r) {
        dnnl_exec_arg_t a[3] = {{DNNL_ARG_FROM, by}, {DNNL_ARG_TO, uy}, {DNNL_ARG_SCRATCHPAD, scr[2]}};
        s = dnnl_primitive_execute(v->dst_r, stream, scr[2] ? 3 : 2, a);
    }
    if (s == dnnl_success) s = dnnl_stream_wait(stream);
    for (int i = 0; i < 3; i++)
        if (scr[i]) dnnl_memory_destroy(scr[i]);
    if (by) dnnl_memory_destroy(by);
    if (bx) dnnl_memory_destroy(bx);
    if (uy) dnnl_memory_destroy(uy);
    if (ux) dnnl_memory_destroy(ux);
    if (stream) dnnl_stream_destroy(stream);
    omp_set_num_threads(prev);
    return cnb_dnnl_code(s);
}

// run() of a peer whose only per-run arguments are x and y.
static inline cnb_status cnb_dnnl_run_simple(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_dnnl_plan *dp = p->priv;
    if (!dp) return CNB_OK;   // an empty tensor: plan() made nothing, there is nothing to compute
    cnb_dnnl_ctx c;
    cnb_status st = cnb_dnnl_begin(dp, io, &c);
    if (!st) st = cnb_dnnl_exec(dp, &c, io->x, io->y, NULL, 0);
    cnb_dnnl_end(&c);
    return st;
}

// ---- layer descriptions shared by several peers -------------------------------------------------------

// Conv1d (nsp 1: NCW, (g)oiw) or Conv2d (nsp 2: NCHW, (g)oihw), zeros padding. Fills op, the user dims and
// tags, and the user weights md. src/weights/dst are format_tag_any: oneDNN picks; bias is x.
static inline dnnl_status_t cnb_dnnl_conv_describe(const cnb_geom *g, int nsp, cnb_dnnl_op *op, dnnl_dims_t sd,
                                                   dnnl_dims_t dd, dnnl_format_tag_t *tag, dnnl_memory_desc_t *user_w) {
    const int64_t G = g->groups;
    dnnl_dims_t wd, bd = {g->K}, strides, dil, pl, pr;
    int wnd;
    dnnl_format_tag_t wtag;
    if (nsp == 1) {
        sd[0] = g->N, sd[1] = g->C, sd[2] = g->W;
        dd[0] = g->N, dd[1] = g->K, dd[2] = g->OW;
        strides[0] = g->sw, dil[0] = g->dw - 1, pl[0] = g->pad_l, pr[0] = g->pad_r;
        *tag = dnnl_ncw;
        if (G > 1) wnd = 4, wtag = dnnl_goiw, wd[0] = G, wd[1] = g->K / G, wd[2] = g->C / G, wd[3] = g->kw;
        else wnd = 3, wtag = dnnl_oiw, wd[0] = g->K, wd[1] = g->C, wd[2] = g->kw;
    } else {
        sd[0] = g->N, sd[1] = g->C, sd[2] = g->H, sd[3] = g->W;
        dd[0] = g->N, dd[1] = g->K, dd[2] = g->OH, dd[3] = g->OW;
        strides[0] = g->sh, strides[1] = g->sw;
        dil[0] = g->dh - 1, dil[1] = g->dw - 1;   // oneDNN counts the gaps: PyTorch's dilation 1 is its 0
        pl[0] = g->pad_t, pl[1] = g->pad_l;
        pr[0] = g->pad_b, pr[1] = g->pad_r;
        *tag = dnnl_nchw;
        if (G > 1)
            wnd = 5, wtag = dnnl_goihw, wd[0] = G, wd[1] = g->K / G, wd[2] = g->C / G, wd[3] = g->kh, wd[4] = g->kw;
        else wnd = 4, wtag = dnnl_oihw, wd[0] = g->K, wd[1] = g->C, wd[2] = g->kh, wd[3] = g->kw;
    }
    // PyTorch's weight (K, C/G, kh, kw) is (G, K/G, C/G, kh, kw) row-major: goihw is the same bytes.
    dnnl_memory_desc_t src, w, bias, dst;
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&src, nsp + 2, sd, dnnl_f32, dnnl_format_tag_any);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&w, wnd, wd, dnnl_f32, dnnl_format_tag_any);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&dst, nsp + 2, dd, dnnl_f32, dnnl_format_tag_any);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_f32, dnnl_x);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(user_w, wnd, wd, dnnl_f32, wtag);
    // Direct only: Winograd would break the bit-exactness the harness expects of a non-Winograd name.
    if (s == dnnl_success)
        s = dnnl_dilated_convolution_forward_desc_init(&op->conv, dnnl_forward_inference, dnnl_convolution_direct, &src,
                                                       &w, g->has_bias ? &bias : NULL, &dst, strides, dil, pl, pr);
    return s;
}

// Conv supports(): zeros padding only (oneDNN has no reflect/replicate/circular), then a trial descriptor.
static inline cnb_status cnb_dnnl_conv_supports(const cnb_geom *g, int nsp, const char *name, cnb_error *why) {
    cnb_status st = cnb_dnnl_common_supports(g, why);
    if (st) return st;
    if (g->pad_mode != CNB_PADMODE_ZEROS)
        return cnb_fail(why, CNB_E_UNSUPPORTED, "oneDNN pads convolutions with zeros only (padding_mode is not 'zeros')");
    cnb_dnnl_op op;
    dnnl_dims_t sd, dd;
    dnnl_format_tag_t tag;
    dnnl_memory_desc_t uw;
    dnnl_status_t s = cnb_dnnl_conv_describe(g, nsp, &op, sd, dd, &tag, &uw);
    if (s != dnnl_success) return cnb_fail(why, CNB_E_UNSUPPORTED, "oneDNN rejects the convolution (%s)", dnnl_status2str(s));
    return cnb_dnnl_try_op(&op, name, why);
}

static inline cnb_status cnb_dnnl_conv_plan(const cnb_geom *g, int nsp, const cnb_weights *w, cnb_plan_data *p,
                                            const char *name, cnb_error *err) {
    p->priv = NULL;
    p->workspace_bytes = 0;
    if (g->in_numel == 0 || g->out_numel == 0) return CNB_OK;
    cnb_dnnl_op op;
    dnnl_dims_t sd, dd;
    dnnl_format_tag_t tag;
    dnnl_memory_desc_t uw;
    cnb_status st = CNB_OK;
    if (!cnb_dnnl_ok(cnb_dnnl_conv_describe(g, nsp, &op, sd, dd, &tag, &uw), "dnnl_dilated_convolution_forward_desc_init",
                     name, err, &st))
        return st;
    cnb_dnnl_plan *dp;
    if ((st = cnb_dnnl_plan_create(&dp, name, &op, nsp + 2, sd, dd, tag, &uw, w->weight, 0, err))) return st;
    if (g->has_bias) {
        dnnl_memory_desc_t bmd;
        dnnl_dims_t bd = {g->K};
        if (!cnb_dnnl_ok(dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x), "dnnl_memory_desc_init_by_tag(bias)",
                         name, err, &st) ||
            (st = cnb_dnnl_add_const(dp, DNNL_ARG_BIAS, &bmd, w->bias, err))) {
            cnb_dnnl_plan_free(dp);
            return st;
        }
    }
    p->priv = dp;
    p->workspace_bytes = dp->planned;
    return CNB_OK;
}

// Pooling over NCHW: oneDNN requires a concrete src layout for pooling (format_tag_any is refused), so src
// is the user's NCHW and dst is left to oneDNN (it picks NCHW too). Window (kh, kw) with strides, PyTorch
// dilations and top/left padding; the bottom/right padding is the larger of PyTorch's and what ceil_mode's
// last window needs, (O-1)*s + (k-1)*d + 1 - in - pad_lo, which keeps oneDNN's floor-formula output size
// equal to PyTorch's.
static inline int64_t cnb_dnnl_pool_pad_hi(int64_t in, int64_t out, int64_t k, int64_t s, int64_t d, int64_t lo,
                                           int64_t hi) {
    const int64_t need = (out - 1) * s + (k - 1) * d + 1 - in - lo;
    return need > hi ? need : hi;
}

static inline dnnl_status_t cnb_dnnl_pool_describe(const cnb_geom *g, dnnl_alg_kind_t alg, int64_t kh, int64_t kw,
                                                   int64_t sh, int64_t sw, int64_t dh, int64_t dw, int64_t pt,
                                                   int64_t pb, int64_t pl, int64_t pr, cnb_dnnl_op *op,
                                                   dnnl_dims_t sd, dnnl_dims_t dd) {
    sd[0] = g->N, sd[1] = g->C, sd[2] = g->H, sd[3] = g->W;
    dd[0] = g->N, dd[1] = g->C, dd[2] = g->OH, dd[3] = g->OW;
    dnnl_dims_t kernel = {kh, kw}, strides = {sh, sw}, dil = {dh - 1, dw - 1}, lo = {pt, pl};
    dnnl_dims_t hi = {cnb_dnnl_pool_pad_hi(g->H, g->OH, kh, sh, dh, pt, pb),
                      cnb_dnnl_pool_pad_hi(g->W, g->OW, kw, sw, dw, pl, pr)};
    dnnl_memory_desc_t src, dst;
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&src, 4, sd, dnnl_f32, dnnl_nchw);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&dst, 4, dd, dnnl_f32, dnnl_format_tag_any);
    if (s == dnnl_success)
        s = dnnl_pooling_v2_forward_desc_init(&op->pool, dnnl_forward_inference, alg, &src, &dst, strides, kernel, dil,
                                              lo, hi);
    return s;
}

static inline cnb_status cnb_dnnl_pool_plan(const cnb_geom *g, dnnl_alg_kind_t alg, int64_t kh, int64_t kw, int64_t sh,
                                            int64_t sw, int64_t dh, int64_t dw, int64_t pt, int64_t pb, int64_t pl,
                                            int64_t pr, cnb_plan_data *p, const char *name, cnb_error *err) {
    p->priv = NULL;
    p->workspace_bytes = 0;
    if (g->in_numel == 0 || g->out_numel == 0) return CNB_OK;
    cnb_dnnl_op op;
    dnnl_dims_t sd, dd;
    cnb_status st = CNB_OK;
    if (!cnb_dnnl_ok(cnb_dnnl_pool_describe(g, alg, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, &op, sd, dd),
                     "dnnl_pooling_v2_forward_desc_init", name, err, &st))
        return st;
    cnb_dnnl_plan *dp;
    if ((st = cnb_dnnl_plan_create(&dp, name, &op, 4, sd, dd, dnnl_nchw, NULL, NULL, 0, err))) return st;
    p->priv = dp;
    p->workspace_bytes = dp->planned;
    return CNB_OK;
}

static inline cnb_status cnb_dnnl_pool_try(const cnb_geom *g, dnnl_alg_kind_t alg, int64_t kh, int64_t kw, int64_t sh,
                                           int64_t sw, int64_t dh, int64_t dw, int64_t pt, int64_t pb, int64_t pl,
                                           int64_t pr, const char *name, cnb_error *why) {
    cnb_dnnl_op op;
    dnnl_dims_t sd, dd;
    dnnl_status_t s = cnb_dnnl_pool_describe(g, alg, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, &op, sd, dd);
    if (s != dnnl_success) return cnb_fail(why, CNB_E_UNSUPPORTED, "oneDNN rejects the pooling (%s)", dnnl_status2str(s));
    return cnb_dnnl_try_op(&op, name, why);
}

static inline void cnb_dnnl_free(cnb_plan_data *p) {
    cnb_dnnl_plan_free(p->priv);
    p->priv = NULL;
}

#endif /* CNB_KERNELS_EXT_ONEDNN_UTIL_H */
