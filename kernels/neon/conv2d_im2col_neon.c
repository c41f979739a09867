// conv2d.im2col.neon: Conv2d as one GEMM per (image, group), y[kg x OH*OW] = W[kg x cg*kh*kw] * im2col(x),
// on the 8x12 NEON sgemm (sgemm_8x12_neon.c). im2col(x) is never built: its panels are packed straight from
// x (zeros padding, stride 1 or 2: lane masks do the padding, vld2q the stride) or from a padded, phase-split
// copy (kernels/scalar/im2col_pack.h). Few pixels (7x7) run y^T = im2col^T * W^T instead. NCHW. AArch64 NEON.
#include <arm_neon.h>
#include <assert.h>
#include <omp.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/registry.h"
#include "core/status.h"
#include "kernels/neon/sgemm_neon.h"
#include "kernels/scalar/im2col_pack.h"
#include "kernels/scalar/team.h"

cnb_status cnb_conv2d_im2col_neon_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv2d_im2col_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv2d_im2col_neon_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv2d_im2col_neon_free(cnb_plan_data *p);

#define MR CNB_SGEMM_8X12_MR
#define NR CNB_SGEMM_8X12_NR

typedef struct priv {
    cnb_im2col t;             // panels of NR pixels, or of MR when transposed
    bool trans;               // y^T = im2col^T * W^T: A = im2col^T packed in run(), B = W^T packed here
    cnb_sgemm_neon_blocking blk;
    float *w_packed;          // per group: A = W (kg x Kd), or B = W^T when transposed
    size_t w_floats;
    int tcap;                 // threads the workspace has room for
    size_t src_floats;        // the padded, phase-split copy of x (0: x is read directly)
    size_t at_floats;         // transposed: one K block of one (image, group)'s packed im2col^T
    size_t ct_floats;         // transposed: y^T of all images and groups, transposed into y at the end
    size_t b_floats;          // packed-B scratch of one thread (normal)
} priv;

// What the packers of one (image, group) read.
typedef struct pack_ctx {
    const float *x;           // channel 0 of the group in what is read (x or the copy)
    const cnb_geom *g;
    const cnb_im2col *t;
} pack_ctx;

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static size_t round16(size_t floats) { return (floats + 15) / 16 * 16; }  // keeps 64-byte alignment
static double tile_eff(int64_t n, int64_t tile) { return (double)n / (double)(cdiv(n, tile) * tile); }

cnb_status cnb_conv2d_im2col_neon_supports(const cnb_geom *g, cnb_error *why) {
    if (!cnb_im2col_fits(g))
        return cnb_fail(why, CNB_E_UNSUPPORTED, "conv2d.im2col.neon: a padded input plane of %lld x %lld is too large",
                        (long long)(g->H + g->pad_t + g->pad_b), (long long)(g->W + g->pad_l + g->pad_r));
    return CNB_OK;
}

cnb_status cnb_conv2d_im2col_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    const int64_t G = g->groups, kg = g->K / G, P = g->OH * g->OW;
    const int64_t Kd = (g->C / G) * g->kh * g->kw;
    priv *pv = cnb_calloc(1, sizeof *pv);
    if (!pv) return cnb_fail(err, CNB_E_NOMEM, "conv2d.im2col.neon: out of memory");
    // The tile covers 8 channels x 12 pixels, or 8 pixels x 12 channels. Transposed wastes less on the
    // edges when the pixels are few, but packs im2col 8-wide (its cost shared by the kg channels) and
    // transposes y (shared by the Kd terms of each sum): it must win by that much (the margin measured
    // for conv2d.im2col.avx2).
    const double gain = tile_eff(P, MR) * tile_eff(kg, NR) / (tile_eff(kg, MR) * tile_eff(P, NR));
    pv->trans = gain > 1.0 + 60.0 / (double)Kd + 16.0 / (double)kg;
    float *wr = NULL;
    if (!cnb_im2col_init(&pv->t, g, pv->trans ? MR : NR)) goto nomem;
    if (pv->trans) {
        pv->blk = cnb_sgemm_8x12_neon_blocking(P, kg, Kd);
        pv->w_floats = round16(cnb_sgemm_8x12_neon_packed_b_floats(kg, Kd));
    } else {
        pv->blk = cnb_sgemm_8x12_neon_blocking(kg, P, Kd);
        pv->w_floats = round16(cnb_sgemm_8x12_neon_packed_a_floats(kg, Kd));
    }
    pv->w_packed = cnb_aligned_alloc(64, (size_t)G * pv->w_floats * sizeof(float));
    // 1x1 kernels: the row orders agree, nothing to reorder.
    if (pv->t.direct && g->kh * g->kw > 1 && !(wr = cnb_malloc((size_t)(kg * Kd) * sizeof *wr))) goto nomem;
    if (!pv->w_packed) goto nomem;
    for (int64_t gr = 0; gr < G; gr++) {
        // The weights' columns in the GEMM's row order of im2col.
        const float *wg = w->weight + gr * kg * Kd, *src = wg;
        if (wr) cnb_im2col_reorder_weights(g, &pv->t, wg, kg, wr), src = wr;
        float *dst = pv->w_packed + gr * pv->w_floats;
        if (pv->trans) cnb_sgemm_8x12_neon_pack_b_full(kg, Kd, pv->blk.kc, src, 1, Kd, dst);
        else cnb_sgemm_8x12_neon_pack_a(kg, Kd, pv->blk.kc, src, Kd, 1, dst);
    }
    cnb_free(wr);
    const int procs = omp_get_num_procs(), maxt = omp_get_max_threads();
    pv->tcap = procs > maxt ? procs : maxt;
    // +16: slack for the packers' over-reads past the last run.
    pv->src_floats = pv->t.direct ? 0 : round16((size_t)(g->N * g->C * pv->t.chan) + 16);
    if (pv->trans) {
        pv->at_floats = round16(cnb_sgemm_8x12_neon_packed_a_floats(P, pv->blk.kc));
        pv->ct_floats = round16((size_t)(g->N * g->K * P));
    } else {
        pv->b_floats = round16(cnb_sgemm_8x12_neon_pack_b_floats(&pv->blk));
    }
    p->priv = pv;
    // +64: the caller's workspace need not be 64-byte aligned.
    p->workspace_bytes = (pv->src_floats + (size_t)(g->N * G) * pv->at_floats + pv->ct_floats +
                          (size_t)pv->tcap * pv->b_floats) * sizeof(float) + 64;
    return CNB_OK;
nomem:
    cnb_free(wr);
    cnb_free(pv->w_packed);
    cnb_im2col_free(&pv->t);
    cnb_free(pv);
    return cnb_fail(err, CNB_E_NOMEM, "conv2d.im2col.neon: out of memory for the packed weights and tables");
}

// Lanes base + [0, 4) that fall in [a, b), as a mask.
static inline uint32x4_t lanes_in(int32_t base, int32_t a, int32_t b) {
    const int32x4_t t = vaddq_s32((int32x4_t){0, 1, 2, 3}, vdupq_n_s32(base));
    return vandq_u32(vcgeq_s32(t, vdupq_n_s32(a)), vcltq_s32(t, vdupq_n_s32(b)));
}

// A stretch of a panel row: lanes [la, lb) read src[lane * step] (+ the row's offset), step 1 or 2. The
// stretches of a row OR together; padding and lanes past the last pixel stay zero. Where all the floats
// the lanes' vector loads span lie inside the channel plane (`plain`), loads ANDed with the lane masks m
// (quads 0..3, 4..7, 8..11) do it; otherwise lane by lane, as NEON has no masked loads (edge panels only).
typedef struct stretch {
    const float *src;
    uint32x4_t m[3];
    int32_t la, lb;
    bool plain, step2;
} stretch;

// The stretches of panel pn's rows: direct mode for kernel offset (i, j), copy mode for every row
// (whose copy has slack after it: always plain). width: the lanes a row loads, 12 or 8.
static int panel_stretches(const pack_ctx *ctx, const cnb_im2col_panel *pn, int64_t i, int64_t j, int64_t width,
                           stretch *s) {
    const cnb_im2col *t = ctx->t;
    int n = 0;
    if (t->direct) {
        cnb_im2col_seg seg[NR];
        n = cnb_im2col_segs(ctx->g, t, pn, i, j, seg);
        for (int k = 0; k < n; k++) {
            s[k].src = ctx->x + seg[k].off;
            s[k].la = seg[k].la, s[k].lb = seg[k].lb;
            for (int q = 0; q < 3; q++) s[k].m[q] = lanes_in(4 * q, seg[k].la, seg[k].lb);
            s[k].plain = seg[k].off >= 0 && seg[k].off + width * t->xstep <= t->chan;
            s[k].step2 = t->xstep == 2;
        }
        return n;
    }
    for (; n < pn->nruns; n++) {
        const cnb_im2col_run *ru = &t->runs[pn->run0 + n];
        s[n].src = ctx->x + pn->base + ru->off - ru->start;
        s[n].la = ru->start, s[n].lb = ru->start + ru->len;
        for (int q = 0; q < 3; q++) s[n].m[q] = lanes_in(4 * q, s[n].la, s[n].lb);
        s[n].plain = true;
        s[n].step2 = false;
    }
    return n;
}

// Lanes 4q..4q+3 of a panel row from its stretches, the row's source offset ro.
static inline float32x4_t row_quad(const stretch *s, int n, int64_t ro, int q) {
    uint32x4_t v = vdupq_n_u32(0);
    for (int k = 0; k < n; k++) {
        uint32x4_t e;
        if (s[k].plain) {
            // Step 2: vld2q splits 8 floats into even and odd ones; the even ones are the lanes.
            const float32x4_t x = s[k].step2 ? vld2q_f32(s[k].src + ro + 8 * q).val[0] : vld1q_f32(s[k].src + ro + 4 * q);
            e = vandq_u32(vreinterpretq_u32_f32(x), s[k].m[q]);
        } else {
            const int64_t step = s[k].step2 ? 2 : 1;
            float tl[4];
            for (int l = 0; l < 4; l++) {
                const int32_t lane = 4 * q + l;
                tl[l] = lane >= s[k].la && lane < s[k].lb ? s[k].src[ro + lane * step] : 0.f;
            }
            e = vreinterpretq_u32_f32(vld1q_f32(tl));
        }
        v = vorrq_u32(v, e);
    }
    return vreinterpretq_f32_u32(v);
}

// Panel rows d[k] (12 floats) for k < n, row k's source offset ro + k * step (or rows[k] when rows is non-NULL).
static void pack_rows12(const stretch *s, int ns, bool whole, const int64_t *rows, int64_t ro, int64_t step,
                        int64_t n, float *d) {
    if (whole && !s[0].step2) {
        // One plain stretch over all 12 lanes: loads. The rows are far apart (channel planes), so the
        // prefetchers miss them: fetch what the next panel along will read.
        const float *src = s[0].src;
        for (int64_t k = 0; k < n; k++, d += NR) {
            const float *r = src + (rows ? rows[k] : ro + k * step);
            __builtin_prefetch(r + 2 * NR, 0, 3);
            vst1q_f32(d, vld1q_f32(r));
            vst1q_f32(d + 4, vld1q_f32(r + 4));
            vst1q_f32(d + 8, vld1q_f32(r + 8));
        }
    } else if (whole) {
        // The same with step 2: the even floats of r[0..23].
        const float *src = s[0].src;
        for (int64_t k = 0; k < n; k++, d += NR) {
            const float *r = src + (rows ? rows[k] : ro + k * step);
            __builtin_prefetch(r + 4 * NR, 0, 3);
            vst1q_f32(d, vld2q_f32(r).val[0]);
            vst1q_f32(d + 4, vld2q_f32(r + 8).val[0]);
            vst1q_f32(d + 8, vld2q_f32(r + 16).val[0]);
        }
    } else if (!ns) {
        const float32x4_t z = vdupq_n_f32(0.f);
        for (int64_t k = 0; k < n; k++, d += NR) {
            vst1q_f32(d, z);
            vst1q_f32(d + 4, z);
            vst1q_f32(d + 8, z);
        }
    } else if (ns == 2 && s[0].plain && s[1].plain && !s[0].step2 && !s[1].step2) {
        // The common edge case (a panel across two output rows, or one clipped by the padding): two plain
        // stretches, loads ANDed with their lanes.
        for (int64_t k = 0; k < n; k++, d += NR) {
            const int64_t o = rows ? rows[k] : ro + k * step;
            const float *a = s[0].src + o, *b = s[1].src + o;
            __builtin_prefetch(b + 2 * NR, 0, 3);
            for (int q = 0; q < 3; q++) {
                const uint32x4_t va = vandq_u32(vreinterpretq_u32_f32(vld1q_f32(a + 4 * q)), s[0].m[q]);
                const uint32x4_t vb = vandq_u32(vreinterpretq_u32_f32(vld1q_f32(b + 4 * q)), s[1].m[q]);
                vst1q_f32(d + 4 * q, vreinterpretq_f32_u32(vorrq_u32(va, vb)));
            }
        }
    } else {
        for (int64_t k = 0; k < n; k++, d += NR) {
            const int64_t o = rows ? rows[k] : ro + k * step;
            vst1q_f32(d, row_quad(s, ns, o, 0));
            vst1q_f32(d + 4, row_quad(s, ns, o, 1));
            vst1q_f32(d + 8, row_quad(s, ns, o, 2));
        }
    }
}

// Packs rows [k0, k0+kc) x pixels [n0, n0+nc) of im2col(x) into 12-wide micro-panels (normal product).
static void pack_b(const void *vctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float *dst) {
    const pack_ctx *ctx = vctx;
    const cnb_im2col *t = ctx->t;
    const cnb_geom *g = ctx->g;
    stretch s[NR];
    for (int64_t jp = 0; jp < nc; jp += NR) {
        const cnb_im2col_panel *pn = &t->pan[(n0 + jp) / NR];
        float *d = dst + jp * kc;
        if (!t->direct) {
            const int n = panel_stretches(ctx, pn, 0, 0, NR, s);
            pack_rows12(s, n, pn->contig, t->row_off + k0, 0, 0, kc, d);
            continue;
        }
        // Rows r = (i*kw + j)*cg + c: one kernel offset (i, j) for a stretch of channels.
        for (int64_t r = k0; r < k0 + kc;) {
            const int64_t ij = r / t->cg, c = r % t->cg, n = min64(t->cg - c, k0 + kc - r);
            const int ns = panel_stretches(ctx, pn, ij / g->kw, ij % g->kw, NR, s);
            const bool whole = ns == 1 && s[0].plain && pn->valid == NR && s[0].la == 0 && s[0].lb == NR;
            pack_rows12(s, ns, whole, NULL, c * t->chan, t->chan, n, d + (r - k0) * NR);
            r += n;
        }
    }
}

// Packs rows [k0, k0+kcb) of pixel panel q (8 pixels) of im2col^T as panel q of a packed A (transposed
// product): kcb x 8 floats at at + q * 8 * kcb, two quads a row.
static void pack_at(const pack_ctx *ctx, int64_t k0, int64_t kcb, int64_t q, float *at) {
    const cnb_im2col *t = ctx->t;
    const cnb_geom *g = ctx->g;
    const cnb_im2col_panel *pn = &t->pan[q];
    stretch s[NR];
    float *d = at + q * MR * kcb;
    if (!t->direct) {
        const int ns = panel_stretches(ctx, pn, 0, 0, MR, s);
        for (int64_t k = 0; k < kcb; k++) {
            vst1q_f32(d + k * MR, row_quad(s, ns, t->row_off[k0 + k], 0));
            vst1q_f32(d + k * MR + 4, row_quad(s, ns, t->row_off[k0 + k], 1));
        }
        return;
    }
    // Rows r = (i*kw + j)*cg + c: one kernel offset (i, j) for a stretch of channels.
    for (int64_t r = k0; r < k0 + kcb;) {
        const int64_t ij = r / t->cg, c0 = r % t->cg, n = min64(t->cg - c0, k0 + kcb - r);
        const int ns = panel_stretches(ctx, pn, ij / g->kw, ij % g->kw, MR, s);
        float *dr = d + (r - k0) * MR;
        for (int64_t c = 0; c < n; c++) {
            vst1q_f32(dr + c * MR, row_quad(s, ns, (c0 + c) * t->chan, 0));
            vst1q_f32(dr + c * MR + 4, row_quad(s, ns, (c0 + c) * t->chan, 1));
        }
        r += n;
    }
}

// y[k][p] = ct[p][k] + bias[k] for one (image, group): channels [k0, k1), all P pixels; ct is P x kg.
static void transpose_out(const float *ct, int64_t kg, int64_t P, const float *bias, int64_t k0, int64_t k1, float *y) {
    int64_t k = k0;
    for (; k + 4 <= k1; k += 4) {
        const float32x4_t b0 = vld1q_dup_f32(bias + k), b1 = vld1q_dup_f32(bias + k + 1);
        const float32x4_t b2 = vld1q_dup_f32(bias + k + 2), b3 = vld1q_dup_f32(bias + k + 3);
        int64_t p = 0;
        for (; p + 4 <= P; p += 4) {
            const float *s = ct + p * kg + k;
            const float32x4_t r0 = vld1q_f32(s), r1 = vld1q_f32(s + kg), r2 = vld1q_f32(s + 2 * kg), r3 = vld1q_f32(s + 3 * kg);
            // The 4x4 transpose: interleave 32-bit pairs, then 64-bit halves.
            const float64x2_t t0 = vreinterpretq_f64_f32(vtrn1q_f32(r0, r1)), t1 = vreinterpretq_f64_f32(vtrn2q_f32(r0, r1));
            const float64x2_t t2 = vreinterpretq_f64_f32(vtrn1q_f32(r2, r3)), t3 = vreinterpretq_f64_f32(vtrn2q_f32(r2, r3));
            float *d = y + k * P + p;
            vst1q_f32(d, vaddq_f32(vreinterpretq_f32_f64(vtrn1q_f64(t0, t2)), b0));
            vst1q_f32(d + P, vaddq_f32(vreinterpretq_f32_f64(vtrn1q_f64(t1, t3)), b1));
            vst1q_f32(d + 2 * P, vaddq_f32(vreinterpretq_f32_f64(vtrn2q_f64(t0, t2)), b2));
            vst1q_f32(d + 3 * P, vaddq_f32(vreinterpretq_f32_f64(vtrn2q_f64(t1, t3)), b3));
        }
        for (; p < P; p++)
            for (int64_t l = 0; l < 4; l++) y[(k + l) * P + p] = ct[p * kg + k + l] + bias[k + l];
    }
    for (; k < k1; k++)
        for (int64_t p = 0; p < P; p++) y[k * P + p] = ct[p * kg + k] + bias[k];
}

// What one run's threads share.
typedef struct run_ctx {
    const cnb_geom *g;
    const priv *pv;
    const cnb_io *io;
    const float *src, *bias;
    float *xc, *at, *ct, *bbuf;
    int64_t mchunk, nchunk, nm, nn, items;
} run_ctx;

// This thread's share of a run (the worksharing loops bind to the caller's team, or run whole without one).
static void run_share(const run_ctx *r) {
    const cnb_geom *g = r->g;
    const priv *pv = r->pv;
    const cnb_im2col *t = &pv->t;
    const cnb_io *io = r->io;
    const int64_t C = g->C, G = g->groups, cg = C / G, kg = g->K / G, P = t->P, Kd = t->Kd, NG = g->N * G;
    const int64_t mchunk = r->mchunk, nchunk = r->nchunk, nm = r->nm, nn = r->nn, items = r->items;
    const float *src = r->src, *bias = r->bias;
    float *xc = r->xc, *at = r->at, *ct = r->ct, *bbuf = r->bbuf;
    if (xc) {
        #pragma omp for schedule(static)
        for (int64_t c = 0; c < g->N * C; c++) cnb_im2col_copy_plane(g, t, io->x + c * g->H * g->W, xc + c * t->chan);
    }
    float *mine = bbuf + (size_t)omp_get_thread_num() * pv->b_floats;
    if (!pv->trans) {
        #pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; it++) {
            const int64_t ni = it % nn, mi = (it / nn) % nm, ng = it / (nn * nm), n = ng / G, gr = ng % G;
            const pack_ctx ctx = {src + (n * C + gr * cg) * t->chan, g, t};
            const cnb_sgemm_neon_args a = {
                .M = kg, .N = P, .K = Kd,
                .a_packed = pv->w_packed + gr * pv->w_floats,
                .pack_b = pack_b, .pack_b_ctx = &ctx,
                .c = io->y + (n * g->K + gr * kg) * P, .ldc = P,
                .bias = g->has_bias ? bias + gr * kg : NULL,
                .blk = pv->blk,
            };
            const int64_t m0 = mi * mchunk, n0 = ni * nchunk;
            cnb_sgemm_8x12_neon_compute(&a, m0, min64(m0 + mchunk, kg), n0, min64(n0 + nchunk, P), mine);
        }
    } else {
        // One K block at a time, so that the packed im2col^T block stays in cache: pack it (all
        // images, groups and pixels), then y^T += that block * the same block of W^T.
        const int64_t Np = cdiv(kg, NR) * NR;
        for (int64_t k0 = 0; k0 < Kd; k0 += pv->blk.kc) {
            const int64_t kcb = min64(pv->blk.kc, Kd - k0);
            #pragma omp for schedule(static)
            for (int64_t i = 0; i < NG * t->npanels; i++) {
                const int64_t ng = i / t->npanels, n = ng / G, gr = ng % G;
                const pack_ctx ctx = {src + (n * C + gr * cg) * t->chan, g, t};
                pack_at(&ctx, k0, kcb, i % t->npanels, at + ng * pv->at_floats);
            }
            #pragma omp for schedule(dynamic, 1)
            for (int64_t it = 0; it < items; it++) {
                const int64_t ni = it % nn, mi = (it / nn) % nm, ng = it / (nn * nm), gr = ng % G;
                const cnb_sgemm_neon_args a = {
                    .M = P, .N = kg, .K = kcb,
                    .a_packed = at + ng * pv->at_floats,
                    .b_packed = pv->w_packed + gr * pv->w_floats + k0 * Np,
                    .c = ct + ng * P * kg, .ldc = kg,
                    .accumulate = k0 > 0,
                    .blk = pv->blk,
                };
                const int64_t m0 = mi * mchunk, n0 = ni * nchunk;
                cnb_sgemm_8x12_neon_compute(&a, m0, min64(m0 + mchunk, P), n0, min64(n0 + nchunk, kg), mine);
            }
        }
        const int64_t kb = cdiv(kg, 8);
        #pragma omp for schedule(static)
        for (int64_t i = 0; i < NG * kb; i++) {
            const int64_t ng = i / kb, n = ng / G, gr = ng % G, k0 = i % kb * 8;
            transpose_out(ct + ng * P * kg, kg, P, bias + gr * kg, k0, min64(k0 + 8, kg), io->y + (n * g->K + gr * kg) * P);
        }
    }
}

cnb_status cnb_conv2d_im2col_neon_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    const priv *pv = p->priv;
    const cnb_im2col *t = &pv->t;
    assert(g->kind == CNB_CONV2D || g->kind == CNB_CONV1D);
    assert(io->workspace);
    const int T = io->threads < pv->tcap ? io->threads : pv->tcap;
    const int64_t G = g->groups, kg = g->K / G, P = t->P, NG = g->N * G;
    float *ws = (float *)(((uintptr_t)io->workspace + 63) & ~(uintptr_t)63);
    float *xc = pv->src_floats ? ws : NULL;
    float *at = ws + pv->src_floats;
    float *ct = at + (size_t)NG * pv->at_floats;
    float *bbuf = ct + pv->ct_floats;
    const float *src = xc ? xc : io->x;
    const float *bias = p->w->bias;  // zeros when bias=False

    // Items: the normal product splits pixels (then channels); the transposed one channels (then pixels).
    int64_t mchunk, nchunk;
    const int64_t gm = pv->trans ? P : kg, gn = pv->trans ? kg : P;
    cnb_im2col_grid(NG, gm, gn, MR, NR, pv->blk.nc, T, &mchunk, &nchunk);
    const int64_t nm = cdiv(gm, mchunk), nn = cdiv(gn, nchunk), items = NG * nm * nn;

    const run_ctx r = {g, pv, io, src, bias, xc, at, ct, bbuf, mchunk, nchunk, nm, nn, items};
    CNB_TEAM_RUN(T, run_share(&r));
    return CNB_OK;
}

void cnb_conv2d_im2col_neon_free(cnb_plan_data *p) {
    priv *pv = p->priv;
    if (!pv) return;
    cnb_im2col_free(&pv->t);
    cnb_free(pv->w_packed);
    cnb_free(pv);
    p->priv = NULL;
}
