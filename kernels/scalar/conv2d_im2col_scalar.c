// conv2d.im2col.scalar: Conv2d as one GEMM per (image, group), y[kg x OH*OW] = W[kg x cg*kh*kw] * im2col(x),
// on the portable sgemm (sgemm_scalar.c). im2col(x) is never built: its panels are packed straight from x,
// (zeros padding, column stride 1 or 2) or from a padded, phase-split copy (im2col_pack.h), so every padding_mode,
// stride, dilation and group is the same code. Weights packed in plan(); bias added in the GEMM's store; C is y. NCHW; no ISA flags.
#include <assert.h>
#include <omp.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/registry.h"
#include "core/status.h"
#include "kernels/scalar/im2col_pack.h"
#include "kernels/scalar/sgemm_scalar.h"
#include "kernels/scalar/team.h"

cnb_status cnb_conv2d_im2col_scalar_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv2d_im2col_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv2d_im2col_scalar_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv2d_im2col_scalar_free(cnb_plan_data *p);

#define MR CNB_SGEMM_SCALAR_MR
#define NR CNB_SGEMM_SCALAR_NR

typedef struct priv {
    cnb_im2col t;
    cnb_sgemm_scalar_blocking blk;
    float *a_packed;          // per group: the weights (kg x Kd) as the packed A
    size_t a_floats;
    int tcap;                 // threads the workspace has room for
    size_t src_floats;        // the padded, phase-split copy of x (0: x is read directly)
    size_t b_floats;          // packed-B scratch of one thread
} priv;

typedef struct pack_ctx {
    const float *x;           // channel 0 of the group in what is read (x or the copy)
    const cnb_geom *g;
    const cnb_im2col *t;
} pack_ctx;

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static size_t round16(size_t floats) { return (floats + 15) / 16 * 16; }

cnb_status cnb_conv2d_im2col_scalar_supports(const cnb_geom *g, cnb_error *why) {
    if (!cnb_im2col_fits(g))
        return cnb_fail(why, CNB_E_UNSUPPORTED, "conv2d.im2col.scalar: a padded input plane of %lld x %lld is too large",
                        (long long)(g->H + g->pad_t + g->pad_b), (long long)(g->W + g->pad_l + g->pad_r));
    return CNB_OK;
}

cnb_status cnb_conv2d_im2col_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    const int64_t G = g->groups, kg = g->K / G;
    priv *pv = cnb_calloc(1, sizeof *pv);
    if (!pv || !cnb_im2col_init(&pv->t, g, NR)) {
        cnb_free(pv);
        return cnb_fail(err, CNB_E_NOMEM, "conv2d.im2col.scalar: out of memory for the im2col tables");
    }
    const int64_t Kd = pv->t.Kd;
    pv->blk = cnb_sgemm_scalar_blocking_for(kg, pv->t.P, Kd);
    pv->a_floats = round16(cnb_sgemm_scalar_packed_a_floats(kg, Kd));
    pv->a_packed = cnb_malloc((size_t)G * pv->a_floats * sizeof(float));
    // 1x1 kernels: the row orders agree, nothing to reorder.
    const bool reorder = pv->t.direct && g->kh * g->kw > 1;
    float *wr = reorder ? cnb_malloc((size_t)(kg * Kd) * sizeof *wr) : NULL;
    if (!pv->a_packed || (reorder && !wr)) {
        cnb_free(wr);
        cnb_free(pv->a_packed);
        cnb_im2col_free(&pv->t);
        cnb_free(pv);
        return cnb_fail(err, CNB_E_NOMEM, "conv2d.im2col.scalar: out of memory for the packed weights");
    }
    for (int64_t gr = 0; gr < G; gr++) {
        // The weights' columns in the GEMM's row order of im2col.
        const float *wg = w->weight + gr * kg * Kd;
        if (wr) cnb_im2col_reorder_weights(g, &pv->t, wg, kg, wr);
        cnb_sgemm_scalar_pack_a(kg, Kd, pv->blk.kc, wr ? wr : wg, Kd, 1, pv->a_packed + gr * pv->a_floats);
    }
    cnb_free(wr);
    const int procs = omp_get_num_procs(), maxt = omp_get_max_threads();
    pv->tcap = procs > maxt ? procs : maxt;
    pv->src_floats = pv->t.direct ? 0 : round16((size_t)(g->N * g->C * pv->t.chan));
    pv->b_floats = round16(cnb_sgemm_scalar_pack_b_floats(&pv->blk));
    p->priv = pv;
    p->workspace_bytes = (pv->src_floats + (size_t)pv->tcap * pv->b_floats) * sizeof(float);
    return CNB_OK;
}

// Packs rows [k0, k0+kc) x pixels [n0, n0+nc) of im2col(x) into NR-wide micro-panels: per panel row, one
// contiguous copy per run (direct: clipped to the input), zeros elsewhere.
static void pack_b(const void *vctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float *dst) {
    const pack_ctx *ctx = vctx;
    const cnb_im2col *t = ctx->t;
    const cnb_geom *g = ctx->g;
    cnb_im2col_seg seg[NR];
    for (int64_t jp = 0; jp < nc; jp += NR) {
        const cnb_im2col_panel *pn = &t->pan[(n0 + jp) / NR];
        float *d = dst + jp * kc;
        if (!t->direct) {
            const cnb_im2col_run *ru = t->runs + pn->run0;
            for (int64_t k = 0; k < kc; k++, d += NR) {
                const float *s = ctx->x + t->row_off[k0 + k] + pn->base;
                if (pn->contig) {
                    for (int l = 0; l < NR; l++) d[l] = s[l];
                    continue;
                }
                for (int r = 0; r < pn->nruns; r++)
                    for (int32_t l = 0; l < ru[r].len; l++) d[ru[r].start + l] = s[ru[r].off + l];
                for (int32_t l = pn->valid; l < NR; l++) d[l] = 0.f;
            }
            continue;
        }
        // Rows r = (i*kw + j)*cg + c: one kernel offset (i, j) for a stretch of channels.
        for (int64_t r = k0; r < k0 + kc;) {
            const int64_t ij = r / t->cg, c0 = r % t->cg, c1 = min64(t->cg, c0 + (k0 + kc - r));
            const int ns = cnb_im2col_segs(g, t, pn, ij / g->kw, ij % g->kw, seg);
            for (int64_t ch = c0; ch < c1; ch++, r++) {
                float *dr = d + (r - k0) * NR;
                const float *xc = ctx->x + ch * t->chan;
                for (int l = 0; l < NR; l++) dr[l] = 0.f;
                for (int m = 0; m < ns; m++)
                    for (int32_t l = seg[m].la; l < seg[m].lb; l++) dr[l] = xc[seg[m].off + l * t->xstep];
            }
        }
    }
}

// What one run's threads share.
typedef struct run_ctx {
    const cnb_plan_data *p;
    const cnb_io *io;
    const float *src;
    float *xc, *bbuf;
    int64_t mchunk, pchunk, nm, np, items;
} run_ctx;

// This thread's share of a run (the worksharing loops bind to the caller's team, or run whole without one).
static void run_share(const run_ctx *r) {
    const cnb_plan_data *p = r->p;
    const cnb_io *io = r->io;
    const cnb_geom *g = p->g;
    const priv *pv = p->priv;
    const cnb_im2col *t = &pv->t;
    const int64_t C = g->C, G = g->groups, cg = C / G, kg = g->K / G, P = t->P;
    const int64_t mchunk = r->mchunk, pchunk = r->pchunk, nm = r->nm, np = r->np, items = r->items;
    if (r->xc) {
        #pragma omp for schedule(static)
        for (int64_t c = 0; c < g->N * C; c++) cnb_im2col_copy_plane(g, t, io->x + c * g->H * g->W, r->xc + c * t->chan);
    }
    float *mine = r->bbuf + (size_t)omp_get_thread_num() * pv->b_floats;
    #pragma omp for schedule(dynamic, 1)
    for (int64_t it = 0; it < items; it++) {
        const int64_t pi = it % np, mi = (it / np) % nm, ng = it / (np * nm), n = ng / G, gr = ng % G;
        const pack_ctx ctx = {r->src + (n * C + gr * cg) * t->chan, g, t};
        const cnb_sgemm_scalar_args a = {
            .M = kg, .N = P, .K = t->Kd,
            .a_packed = pv->a_packed + gr * pv->a_floats,
            .pack_b = pack_b, .pack_b_ctx = &ctx,
            .c = io->y + (n * g->K + gr * kg) * P, .ldc = P,
            .bias = g->has_bias ? p->w->bias + gr * kg : NULL,
            .blk = pv->blk,
        };
        const int64_t m0 = mi * mchunk, p0 = pi * pchunk;
        cnb_sgemm_scalar_compute(&a, m0, min64(m0 + mchunk, kg), p0, min64(p0 + pchunk, P), mine);
    }
}

cnb_status cnb_conv2d_im2col_scalar_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    const priv *pv = p->priv;
    const cnb_im2col *t = &pv->t;
    assert(g->kind == CNB_CONV2D || g->kind == CNB_CONV1D);
    assert(io->workspace || !p->workspace_bytes);
    const int T = io->threads < pv->tcap ? io->threads : pv->tcap;
    const int64_t G = g->groups, kg = g->K / G, P = t->P, NG = g->N * G;
    float *ws = io->workspace;
    float *xc = pv->src_floats ? ws : NULL;
    float *bbuf = ws + pv->src_floats;
    const float *src = xc ? xc : io->x;
    int64_t mchunk, pchunk;
    cnb_im2col_grid(NG, kg, P, MR, NR, pv->blk.nc, T, &mchunk, &pchunk);
    const int64_t nm = cdiv(kg, mchunk), np = cdiv(P, pchunk), items = NG * nm * np;
    const run_ctx r = {p, io, src, xc, bbuf, mchunk, pchunk, nm, np, items};
    CNB_TEAM_RUN(T, run_share(&r));
    return CNB_OK;
}

void cnb_conv2d_im2col_scalar_free(cnb_plan_data *p) {
    priv *pv = p->priv;
    if (!pv) return;
    cnb_im2col_free(&pv->t);
    cnb_free(pv->a_packed);
    cnb_free(pv);
    p->priv = NULL;
}
