// conv2d.im2col.avx2: Conv2d as one GEMM per (image, group), y[kg x OH*OW] = W[kg x cg*kh*kw] * im2col(x),
// on the 6x16 AVX2+FMA sgemm (sgemm_6x16_avx2.c). im2col(x) is never built: its panels are packed straight
// from x (zeros padding, stride 1 or 2: lane masks do the padding) or from a padded, phase-split copy
// (kernels/scalar/im2col_pack.h). Few pixels (7x7) run y^T = im2col^T * W^T instead. NCHW in and out.
#include <assert.h>
#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/cpu.h"
#include "core/registry.h"
#include "core/status.h"
#include "kernels/avx2/sgemm_avx2.h"
#include "kernels/avx2/avx2_util.h"
#include "kernels/scalar/im2col_pack.h"
#include "kernels/scalar/team.h"

cnb_status cnb_conv2d_im2col_avx2_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv2d_im2col_avx2_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv2d_im2col_avx2_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv2d_im2col_avx2_free(cnb_plan_data *p);

#define MR CNB_SGEMM_6X16_MR
#define NR CNB_SGEMM_6X16_NR

typedef struct priv {
    cnb_im2col t;             // panels of NR pixels, or of MR when transposed
    bool trans;               // y^T = im2col^T * W^T: A = im2col^T packed in run(), B = W^T packed here
    bool xb;                  // normal, B never packed: 16-pixel panels within an output row, read from the copy
    cnb_sgemm_blocking blk;
    float *w_packed;          // per group: A = W (kg x Kd), or B = W^T when transposed
    size_t w_floats;
    int tcap;                 // threads the workspace has room for
    size_t src_floats;        // the padded, phase-split copy of x (0: x is read directly)
    size_t at_block;          // transposed: one K block of one (image, group)'s packed im2col^T
    size_t at_floats;         // transposed: all K blocks of one (image, group)
    size_t ct_floats;         // transposed: y^T of all images and groups, transposed into y at the end
    size_t b_floats;          // packed-B scratch of one thread (normal)
    int64_t min_panels;       // pixel panels an item has at least (normal)
} priv;

// What the packers of one (image, group) read.
typedef struct pack_ctx {
    const float *x;           // channel 0 of the group in what is read (x or the copy)
    const cnb_geom *g;
    const cnb_im2col *t;
} pack_ctx;

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static size_t round16(size_t floats) { return (floats + 15) / 16 * 16; }  // keeps 64-byte alignment
static double tile_eff(int64_t n, int64_t tile) { return (double)n / (double)(cdiv(n, tile) * tile); }

cnb_status cnb_conv2d_im2col_avx2_supports(const cnb_geom *g, cnb_error *why) {
    if (!cnb_im2col_fits(g))
        return cnb_fail(why, CNB_E_UNSUPPORTED, "conv2d.im2col.avx2: a padded input plane of %lld x %lld is too large",
                        (long long)(g->H + g->pad_t + g->pad_b), (long long)(g->W + g->pad_l + g->pad_r));
    return CNB_OK;
}

// cnb_im2col_reorder_weights by 8x8 transposes: per row, its cg x khw block of (channel, tap) becomes khw x cg,
// 8 channels and 8 taps at a time (the scalar copy moved one float a cycle: 0.7 ms of a 3x3 512x512 plan).
static void reorder_weights(int64_t khw, int64_t cg, const float *src, int64_t rows, float *dst) {
    const int64_t Kd = cg * khw;
    for (int64_t m = 0; m < rows; m++) {
        const float *s = src + m * Kd;
        float *d = dst + m * Kd;
        int64_t c = 0;
        for (; c + 8 <= cg; c += 8) {
            // The weights come from memory once: prefetch 4 KB ahead (one stream is latency-bound).
            for (int64_t b = 0; b < 8 * khw; b += 16) _mm_prefetch((const char *)(s + c * khw + 1024 + b), _MM_HINT_T0);
            int64_t ij = 0;
            // Loads of 8 taps stay inside the row (the last channel's taps end it).
            for (; ij + 8 <= khw; ij += 8) {
                __m256 r[8];
                for (int l = 0; l < 8; l++) r[l] = _mm256_loadu_ps(s + (c + l) * khw + ij);
                cnb_avx2_transpose8(r);
                for (int l = 0; l < 8; l++) _mm256_storeu_ps(d + (ij + l) * cg + c, r[l]);
            }
            for (; ij < khw; ij++)
                for (int l = 0; l < 8; l++) d[ij * cg + c + l] = s[(c + l) * khw + ij];
        }
        for (; c < cg; c++)
            for (int64_t ij = 0; ij < khw; ij++) d[ij * cg + c] = s[c * khw + ij];
    }
}

cnb_status cnb_conv2d_im2col_avx2_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    const int64_t G = g->groups, kg = g->K / G, P = g->OH * g->OW;
    const int64_t Kd = (g->C / G) * g->kh * g->kw;
    priv *pv = cnb_calloc(1, sizeof *pv);
    if (!pv) return cnb_fail(err, CNB_E_NOMEM, "conv2d.im2col.avx2: out of memory");
    // The tile covers 6 channels x 16 pixels, or 6 pixels x 16 channels. Transposed wastes less on the
    // edges when the pixels are few (7x7: 49 = 3*16 + 1 but 8*6 + 1), but packs im2col 6-wide (its cost
    // shared by the kg channels) and transposes y (shared by the Kd terms of each sum): it must win by that
    // much. Fitted to same-run measurements, 1 and 2 threads: 7x7 outputs (gain 1.18-1.2) run 16-28% faster
    // transposed from 1x1 160->960 to 3x3 512->512; 14x14 ones (gain 1.05-1.08) lose 4-32% with short
    // products (MobileNet's 64->384, 384->64, 96->576) and are even within +-4% with long ones; a first
    // layer (3->32, Kd 27, gain 1.125) loses 54%.
    const double gain = tile_eff(P, MR) * tile_eff(kg, NR) / (tile_eff(kg, MR) * tile_eff(P, NR));
    pv->trans = gain > 1.0 + 24.0 / (double)kg + 16.0 / (double)Kd;
    float *wr = NULL;
    // Panels of 16 pixels that never cross an output row read B straight from the copy: packing B costs
    // about 1/kg of the products, and rows of 8k pixels waste no lanes (the last 8 take the half-width
    // kernel). Same-run ratios to oneDNN, packed -> read in place: 3x3 64->64 on 224x224 0.92 -> 1.02,
    // 64->128 on 112x112 0.97 -> 1.01, 128->128 0.96 -> 0.99, 64->64 on 56x56 0.92 -> 0.94; with 256
    // output channels (packing shared by more of them) 0.95-0.97 -> 0.91-0.93, so only up to 128.
    pv->xb = !pv->trans && g->OW % 8 == 0 && kg <= 128 && g->kh * g->kw > 1;
    if (!cnb_im2col_init_mode(&pv->t, g, pv->trans ? MR : NR, pv->xb)) goto nomem;
    if (pv->trans) {
        pv->blk = cnb_sgemm_6x16_avx2_blocking(P, kg, Kd);
        pv->w_floats = round16(cnb_sgemm_6x16_avx2_packed_b_floats(kg, Kd));
    } else {
        pv->blk = cnb_sgemm_6x16_avx2_blocking(kg, P, Kd);
        pv->w_floats = round16(cnb_sgemm_6x16_avx2_packed_a_floats(kg, Kd));
    }
    pv->w_packed = cnb_aligned_alloc(64, (size_t)G * pv->w_floats * sizeof(float));
    // Direct reads want the weights' columns in their row order of im2col: reordered one micro-panel of
    // rows at a time into a small buffer (a whole reordered copy would cost as much again in page faults).
    const int64_t prows = pv->trans ? NR : MR;
    // 1x1 kernels: the row orders agree, nothing to reorder.
    if (pv->t.direct && g->kh * g->kw > 1 && !(wr = cnb_malloc((size_t)(prows * Kd) * sizeof *wr))) goto nomem;
    if (!pv->w_packed) goto nomem;
    for (int64_t gr = 0; gr < G; gr++) {
        const float *wg = w->weight + gr * kg * Kd;
        float *dst = pv->w_packed + gr * pv->w_floats;
        for (int64_t m0 = 0; m0 < kg; m0 += prows) {
            const float *src = wg + m0 * Kd;
            if (wr) reorder_weights(g->kh * g->kw, pv->t.cg, src, min64(prows, kg - m0), wr), src = wr;
            if (pv->trans) cnb_sgemm_6x16_avx2_pack_b_panel(kg, Kd, pv->blk.kc, m0, src, Kd, dst);
            else cnb_sgemm_6x16_avx2_pack_a_panel(kg, Kd, pv->blk.kc, m0, src, Kd, dst);
        }
    }
    cnb_free(wr);
    const int procs = omp_get_num_procs(), maxt = omp_get_max_threads();
    pv->tcap = procs > maxt ? procs : maxt;
    // +16: slack for the packers' over-reads past the last run.
    pv->src_floats = pv->t.direct ? 0 : round16((size_t)(g->N * g->C * pv->t.chan) + 16);
    if (pv->trans) {
        // +8: the packer stores 8 lanes for each 6-float row (the next row overwrites the extra two).
        pv->at_block = round16(cnb_sgemm_6x16_avx2_packed_a_floats(P, pv->blk.kc) + 8);
        pv->at_floats = (size_t)((Kd + pv->blk.kc - 1) / pv->blk.kc) * pv->at_block;
        pv->ct_floats = round16((size_t)(g->N * g->K * P));
        pv->min_panels = 1;
    } else {
        pv->b_floats = pv->xb ? 0 : round16(cnb_sgemm_6x16_avx2_pack_b_floats(&pv->blk));  // xb packs no B
        // Each item streams all of A (the weights) past its pixels. Weights that do not stay in L2 beside
        // the packed pixels are read again for every item: 3 panels an item at least. 2 threads, same runs:
        // 1x1 1024->256 on 14x14 593 -> 559 us, 1024->512 1110 -> 1066, 3x3 256 on 14x14 1336 -> 1274, 3x3/s2
        // 256 28x28 -> 14x14 1394 -> 1308 (cnb_im2col_grid's 1-panel items balance better but read the
        // weights 13 times).
        pv->min_panels = (size_t)(kg * Kd) * sizeof(float) > cnb_cpu_caches()->l2 / 2 ? 3 : 1;
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
    return cnb_fail(err, CNB_E_NOMEM, "conv2d.im2col.avx2: out of memory for the packed weights and tables");
}

// Lanes base + [0, 8) that fall in [a, b), as a mask.
static inline __m256i lanes_in(int32_t base, int32_t a, int32_t b) {
    const __m256i t = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(base));
    return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(a), t), _mm256_cmpgt_epi32(_mm256_set1_epi32(b), t));
}

// A stretch of a panel row: lanes selected by lo (0..7) and hi (8..15) read src[lane * step] (+ the row's
// offset), step 1 or 2. The stretches of a row OR together; padding and lanes past the last pixel stay
// zero. Where all the floats the lanes span lie inside the channel plane (`plain`), loads ANDed with the
// lanes do it; otherwise masked loads or gathers, which do not fault on masked lanes (and are slower).
typedef struct stretch {
    const float *src;
    __m256i lo, hi;
    bool plain, step2;
} stretch;

// The stretches of panel pn's rows: direct mode for kernel offset (i, j), copy mode for every row
// (whose copy has slack after it: always plain). width: the lanes a row loads, 8 or 16.
static int panel_stretches(const pack_ctx *ctx, const cnb_im2col_panel *pn, int64_t i, int64_t j, int64_t width,
                           stretch *s) {
    const cnb_im2col *t = ctx->t;
    int n = 0;
    if (t->direct) {
        cnb_im2col_seg seg[NR];
        n = cnb_im2col_segs(ctx->g, t, pn, i, j, seg);
        for (int k = 0; k < n; k++) {
            s[k].src = ctx->x + seg[k].off;
            s[k].lo = lanes_in(0, seg[k].la, seg[k].lb);
            s[k].hi = lanes_in(8, seg[k].la, seg[k].lb);
            s[k].plain = seg[k].off >= 0 && seg[k].off + width * t->xstep <= t->chan;
            s[k].step2 = t->xstep == 2;
        }
        return n;
    }
    for (; n < pn->nruns; n++) {
        const cnb_im2col_run *ru = &t->runs[pn->run0 + n];
        s[n].src = ctx->x + pn->base + ru->off - ru->start;
        s[n].lo = lanes_in(0, ru->start, ru->start + ru->len);
        s[n].hi = lanes_in(8, ru->start, ru->start + ru->len);
        s[n].plain = true;
        s[n].step2 = false;
    }
    return n;
}

// Lanes 0..7 (half 0) or 8..15 (half 1) of a panel row from its stretches, the row's source offset ro.
static inline __m256 row_half(const stretch *s, int n, int64_t ro, int half) {
    __m256 v = _mm256_setzero_ps();
    for (int k = 0; k < n; k++) {
        const __m256i m = half ? s[k].hi : s[k].lo;
        __m256 e;
        if (!s[k].step2) {
            const float *src = s[k].src + ro + 8 * half;
            e = s[k].plain ? _mm256_and_ps(_mm256_loadu_ps(src), _mm256_castsi256_ps(m)) : _mm256_maskload_ps(src, m);
        } else {
            const float *src = s[k].src + ro + 16 * half;
            if (s[k].plain) {
                // The even floats of src[0..15]: shuffle 0x88 takes lanes 0 and 2 of each source per
                // 128-bit half (a0 a2 b0 b2 | a4 a6 b4 b6); the 64-bit permute 0xD8 restores the order.
                const __m256 a = _mm256_loadu_ps(src), b = _mm256_loadu_ps(src + 8);
                e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
                e = _mm256_and_ps(e, _mm256_castsi256_ps(m));
            } else {
                const __m256i idx = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
                e = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), src, idx, _mm256_castsi256_ps(m), 4);
            }
        }
        v = _mm256_or_ps(v, e);
    }
    return v;
}

static inline void put_row16(const stretch *s, int n, int64_t ro, float *d) {
    _mm256_store_ps(d, row_half(s, n, ro, 0));
    _mm256_store_ps(d + 8, row_half(s, n, ro, 1));
}

// Panel rows d[k] for k < n, row k's source offset ro + k * step (or rows[k] when rows is non-NULL).
static void pack_rows16(const stretch *s, int ns, bool whole, const int64_t *rows, int64_t ro, int64_t step,
                        int64_t n, float *d) {
    if (whole && !s[0].step2) {
        // One plain stretch over all 16 lanes: loads. The rows are far apart (channel planes), so the
        // prefetchers miss them: fetch what the next panel along will read.
        const float *src = s[0].src;
        for (int64_t k = 0; k < n; k++, d += NR) {
            const float *r = src + (rows ? rows[k] : ro + k * step);
            _mm_prefetch((const char *)(r + 2 * NR), _MM_HINT_T0);
            _mm256_store_ps(d, _mm256_loadu_ps(r));
            _mm256_store_ps(d + 8, _mm256_loadu_ps(r + 8));
        }
    } else if (whole) {
        // The same with step 2: the even floats of r[0..31] (see row_half).
        const float *src = s[0].src;
        for (int64_t k = 0; k < n; k++, d += NR) {
            const float *r = src + (rows ? rows[k] : ro + k * step);
            _mm_prefetch((const char *)(r + 4 * NR), _MM_HINT_T0);
            const __m256 e0 = _mm256_shuffle_ps(_mm256_loadu_ps(r), _mm256_loadu_ps(r + 8), 0x88);
            const __m256 e1 = _mm256_shuffle_ps(_mm256_loadu_ps(r + 16), _mm256_loadu_ps(r + 24), 0x88);
            _mm256_store_ps(d, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e0), 0xD8)));
            _mm256_store_ps(d + 8, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e1), 0xD8)));
        }
    } else if (!ns) {
        for (int64_t k = 0; k < n; k++, d += NR) {
            _mm256_store_ps(d, _mm256_setzero_ps());
            _mm256_store_ps(d + 8, _mm256_setzero_ps());
        }
    } else if (ns == 2 && s[0].plain && s[1].plain && !s[0].step2 && !s[1].step2) {
        // The common edge case (a panel across two output rows, or one clipped by the padding): two plain
        // stretches, loads ANDed with their lanes.
        const __m256 l0 = _mm256_castsi256_ps(s[0].lo), h0 = _mm256_castsi256_ps(s[0].hi);
        const __m256 l1 = _mm256_castsi256_ps(s[1].lo), h1 = _mm256_castsi256_ps(s[1].hi);
        for (int64_t k = 0; k < n; k++, d += NR) {
            const int64_t o = rows ? rows[k] : ro + k * step;
            const float *a = s[0].src + o, *b = s[1].src + o;
            _mm_prefetch((const char *)(b + 2 * NR), _MM_HINT_T0);
            _mm256_store_ps(d, _mm256_or_ps(_mm256_and_ps(_mm256_loadu_ps(a), l0), _mm256_and_ps(_mm256_loadu_ps(b), l1)));
            _mm256_store_ps(d + 8, _mm256_or_ps(_mm256_and_ps(_mm256_loadu_ps(a + 8), h0),
                                                _mm256_and_ps(_mm256_loadu_ps(b + 8), h1)));
        }
    } else if (ns <= 2 && s[0].step2 && s[0].plain && (ns == 1 || (s[1].step2 && s[1].plain))) {
        // Stride 2, one or two plain stretches (a panel across two output rows, or one touching the left
        // padding): the even floats of each stretch (see row_half) masked and ORed. The 64-bit permute
        // that restores the order is done once, after the OR: the masks are permuted the other way
        // (0xD8 swaps the middle two 64-bit lanes, its own inverse).
        const stretch *s1 = &s[ns - 1];
        const __m256 z = _mm256_setzero_ps();
#define PERM(m) _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castsi256_pd(m), 0xD8))
        const __m256 l0 = PERM(s[0].lo), h0 = PERM(s[0].hi);
        const __m256 l1 = ns == 2 ? PERM(s1->lo) : z, h1 = ns == 2 ? PERM(s1->hi) : z;
#undef PERM
        for (int64_t k = 0; k < n; k++, d += NR) {
            const int64_t o = rows ? rows[k] : ro + k * step;
            const float *a = s[0].src + o, *b = s1->src + o;
            const __m256 a0 = _mm256_shuffle_ps(_mm256_loadu_ps(a), _mm256_loadu_ps(a + 8), 0x88);
            const __m256 a1 = _mm256_shuffle_ps(_mm256_loadu_ps(a + 16), _mm256_loadu_ps(a + 24), 0x88);
            const __m256 b0 = _mm256_shuffle_ps(_mm256_loadu_ps(b), _mm256_loadu_ps(b + 8), 0x88);
            const __m256 b1 = _mm256_shuffle_ps(_mm256_loadu_ps(b + 16), _mm256_loadu_ps(b + 24), 0x88);
            const __m256 v0 = _mm256_or_ps(_mm256_and_ps(a0, l0), _mm256_and_ps(b0, l1));
            const __m256 v1 = _mm256_or_ps(_mm256_and_ps(a1, h0), _mm256_and_ps(b1, h1));
            _mm256_store_ps(d, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v0), 0xD8)));
            _mm256_store_ps(d + 8, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v1), 0xD8)));
        }
    } else {
        for (int64_t k = 0; k < n; k++, d += NR) put_row16(s, ns, rows ? rows[k] : ro + k * step, d);
    }
}

// Direct mode: rows r = (i*kw + j)*cg + c, one kernel offset (i, j) for a stretch of channels. CH rows of
// GP panels side by side: neighbouring panels read neighbouring floats of the same channel planes, while
// one panel's rows are planes apart (a page each).
static void pack_b_direct(const pack_ctx *ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float *dst) {
    enum { GP = 8, CH = 8 };
    const cnb_im2col *t = ctx->t;
    const cnb_geom *g = ctx->g;
    stretch s[GP][NR];
    int ns[GP];
    bool whole[GP];
    for (int64_t jp0 = 0; jp0 < nc; jp0 += GP * NR) {
        const int np = (int)min64(GP, cdiv(nc - jp0, NR));
        for (int64_t r = k0; r < k0 + kc;) {
            const int64_t ij = r / t->cg, c = r % t->cg, n = min64(t->cg - c, k0 + kc - r);
            for (int p = 0; p < np; p++) {
                const cnb_im2col_panel *pn = &t->pan[(n0 + jp0) / NR + p];
                ns[p] = panel_stretches(ctx, pn, ij / g->kw, ij % g->kw, NR, s[p]);
                whole[p] = ns[p] == 1 && s[p][0].plain && pn->valid == NR &&
                           _mm256_movemask_ps(_mm256_castsi256_ps(s[p][0].lo)) == 0xff &&
                           _mm256_movemask_ps(_mm256_castsi256_ps(s[p][0].hi)) == 0xff;
            }
            for (int64_t cc = 0; cc < n; cc += CH) {
                const int64_t m = min64(CH, n - cc);
                for (int p = 0; p < np; p++)
                    pack_rows16(s[p], ns[p], whole[p], NULL, (c + cc) * t->chan, t->chan, m,
                                dst + (jp0 + p * NR) * kc + (r - k0 + cc) * NR);
            }
            r += n;
        }
    }
}

// Packs rows [k0, k0+kc) x pixels [n0, n0+nc) of im2col(x) into 16-wide micro-panels (normal product).
static void pack_b(const void *vctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float *dst) {
    const pack_ctx *ctx = vctx;
    const cnb_im2col *t = ctx->t;
    if (t->direct) {
        pack_b_direct(ctx, k0, kc, n0, nc, dst);
        return;
    }
    // The copy: one panel at a time, its rows by the row-offset table.
    stretch s[NR];
    for (int64_t jp = 0; jp < nc; jp += NR) {
        const cnb_im2col_panel *pn = &t->pan[(n0 + jp) / NR];
        const int n = panel_stretches(ctx, pn, 0, 0, NR, s);
        pack_rows16(s, n, pn->contig, t->row_off + k0, 0, 0, kc, dst + jp * kc);
    }
}

// Packs rows [k0, k0+kcb) of pixel panel q (6 pixels) of im2col^T as panel q of a packed A (transposed
// product): kcb x 6 floats at at + q * 6 * kcb. A row is stored as 8 lanes, the next row overwriting the
// 2 extra; the last row of the panel stores exactly 6, as the next panel may be another thread's.
static void pack_at(const pack_ctx *ctx, int64_t k0, int64_t kcb, int64_t q, float *at) {
    const cnb_im2col *t = ctx->t;
    const cnb_geom *g = ctx->g;
    const cnb_im2col_panel *pn = &t->pan[q];
    stretch s[NR];
    float *d = at + q * MR * kcb;
    if (!t->direct) {
        const int ns = panel_stretches(ctx, pn, 0, 0, 8, s);
        for (int64_t k = 0; k + 1 < kcb; k++) _mm256_storeu_ps(d + k * MR, row_half(s, ns, t->row_off[k0 + k], 0));
        const __m256 v = row_half(s, ns, t->row_off[k0 + kcb - 1], 0);
        _mm_storeu_ps(d + (kcb - 1) * MR, _mm256_castps256_ps128(v));
        _mm_storel_pi((__m64 *)(d + (kcb - 1) * MR + 4), _mm256_extractf128_ps(v, 1));
        return;
    }
    // Rows r = (i*kw + j)*cg + c: one kernel offset (i, j) for a stretch of channels.
    for (int64_t r = k0; r < k0 + kcb;) {
        const int64_t ij = r / t->cg, c0 = r % t->cg, n = min64(t->cg - c0, k0 + kcb - r);
        const int ns = panel_stretches(ctx, pn, ij / g->kw, ij % g->kw, 8, s);
        float *dr = d + (r - k0) * MR;
        const bool last = r + n == k0 + kcb;
        for (int64_t c = 0; c < n - last; c++) _mm256_storeu_ps(dr + c * MR, row_half(s, ns, (c0 + c) * t->chan, 0));
        if (last) {
            const __m256 v = row_half(s, ns, (c0 + n - 1) * t->chan, 0);
            _mm_storeu_ps(dr + (n - 1) * MR, _mm256_castps256_ps128(v));
            _mm_storel_pi((__m64 *)(dr + (n - 1) * MR + 4), _mm256_extractf128_ps(v, 1));
        }
        r += n;
    }
}

// y[k][p] = ct[p][k] + bias[k] for one (image, group): channels [k0, k1), all P pixels; ct is P x kg.
static void transpose_out(const float *ct, int64_t kg, int64_t P, const float *bias, int64_t k0, int64_t k1, float *y) {
    int64_t k = k0;
    for (; k + 8 <= k1; k += 8) {
        int64_t p = 0;
        for (; p + 8 <= P; p += 8) {
            const float *s = ct + p * kg + k;
            __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + kg), r2 = _mm256_loadu_ps(s + 2 * kg);
            __m256 r3 = _mm256_loadu_ps(s + 3 * kg), r4 = _mm256_loadu_ps(s + 4 * kg), r5 = _mm256_loadu_ps(s + 5 * kg);
            __m256 r6 = _mm256_loadu_ps(s + 6 * kg), r7 = _mm256_loadu_ps(s + 7 * kg);
            // The 8x8 transpose: interleave pairs, then quads, then swap 128-bit halves.
            const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
            const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
            const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
            const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
            const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
            const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
            const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            r0 = _mm256_permute2f128_ps(u0, u4, 0x20);
            r1 = _mm256_permute2f128_ps(u1, u5, 0x20);
            r2 = _mm256_permute2f128_ps(u2, u6, 0x20);
            r3 = _mm256_permute2f128_ps(u3, u7, 0x20);
            r4 = _mm256_permute2f128_ps(u0, u4, 0x31);
            r5 = _mm256_permute2f128_ps(u1, u5, 0x31);
            r6 = _mm256_permute2f128_ps(u2, u6, 0x31);
            r7 = _mm256_permute2f128_ps(u3, u7, 0x31);
            float *d = y + k * P + p;
            _mm256_storeu_ps(d, _mm256_add_ps(r0, _mm256_broadcast_ss(bias + k)));
            _mm256_storeu_ps(d + P, _mm256_add_ps(r1, _mm256_broadcast_ss(bias + k + 1)));
            _mm256_storeu_ps(d + 2 * P, _mm256_add_ps(r2, _mm256_broadcast_ss(bias + k + 2)));
            _mm256_storeu_ps(d + 3 * P, _mm256_add_ps(r3, _mm256_broadcast_ss(bias + k + 3)));
            _mm256_storeu_ps(d + 4 * P, _mm256_add_ps(r4, _mm256_broadcast_ss(bias + k + 4)));
            _mm256_storeu_ps(d + 5 * P, _mm256_add_ps(r5, _mm256_broadcast_ss(bias + k + 5)));
            _mm256_storeu_ps(d + 6 * P, _mm256_add_ps(r6, _mm256_broadcast_ss(bias + k + 6)));
            _mm256_storeu_ps(d + 7 * P, _mm256_add_ps(r7, _mm256_broadcast_ss(bias + k + 7)));
        }
        for (; p < P; p++)
            for (int64_t l = 0; l < 8; l++) y[(k + l) * P + p] = ct[p * kg + k + l] + bias[k + l];
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
    if (pv->xb) {
        // Panels of 16 pixels of one output row (the row's last one narrower): B's rows are 16 consecutive
        // floats of the copy, read by the microkernel itself. Items: runs of panels.
        const int64_t OW = g->OW, npr = cdiv(OW, NR), np = g->OH * npr, chunk = nchunk, per = cdiv(np, chunk);
        #pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < NG * per; it++) {
            const int64_t ng = it / per, q0 = it % per * chunk, n = ng / G, gr = ng % G;
            const float *xs0 = src + (n * C + gr * cg) * t->chan;
            float *y0 = io->y + (n * g->K + gr * kg) * P;
            const cnb_sgemm_args a = {
                .M = kg, .N = P, .K = Kd,
                .a_packed = pv->w_packed + gr * pv->w_floats,
                .ldc = P,
                .bias = g->has_bias ? bias + gr * kg : NULL,
                .blk = pv->blk,
            };
            for (int64_t pc = 0; pc < Kd; pc += pv->blk.kc) {
                const int64_t kcb = min64(pv->blk.kc, Kd - pc);
                for (int64_t ic = 0; ic < kg; ic += pv->blk.mc)
                    for (int64_t q = q0; q < min64(q0 + chunk, np); q++) {
                        const int64_t oh = q / npr, ow = q % npr * NR;
                        cnb_sgemm_6x16_avx2_panel_xb(&a, pc, kcb, xs0 + oh * t->Wq + ow, t->row_off, min64(NR, OW - ow),
                                                     y0 + oh * OW + ow, ic, min64(ic + pv->blk.mc, kg));
                    }
            }
        }
    } else if (!pv->trans) {
        #pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; it++) {
            const int64_t ni = it % nn, mi = (it / nn) % nm, ng = it / (nn * nm), n = ng / G, gr = ng % G;
            const pack_ctx ctx = {src + (n * C + gr * cg) * t->chan, g, t};
            const cnb_sgemm_args a = {
                .M = kg, .N = P, .K = Kd,
                .a_packed = pv->w_packed + gr * pv->w_floats,
                .pack_b = pack_b, .pack_b_ctx = &ctx,
                .c = io->y + (n * g->K + gr * kg) * P, .ldc = P,
                .bias = g->has_bias ? bias + gr * kg : NULL,
                .blk = pv->blk,
            };
            const int64_t m0 = mi * mchunk, n0 = ni * nchunk;
            cnb_sgemm_6x16_avx2_compute(&a, m0, min64(m0 + mchunk, kg), n0, min64(n0 + nchunk, P), mine);
        }
    } else {
        // The packed im2col^T of every K block first (all images, groups and pixels: few pixels, so it is
        // small), then each item's y^T tile += every K block of it * the same block of W^T: two barriers
        // per run rather than two per K block (on 7x7 layers with 2048 input channels, 8 K blocks).
        const int64_t Np = cdiv(kg, NR) * NR, nkb = cdiv(Kd, pv->blk.kc);
        #pragma omp for schedule(static)
        for (int64_t i = 0; i < NG * nkb * t->npanels; i++) {
            const int64_t q = i % t->npanels, kb = i / t->npanels % nkb, ng = i / (t->npanels * nkb);
            const int64_t n = ng / G, gr = ng % G, k0 = kb * pv->blk.kc;
            const pack_ctx ctx = {src + (n * C + gr * cg) * t->chan, g, t};
            pack_at(&ctx, k0, min64(pv->blk.kc, Kd - k0), q, at + ng * pv->at_floats + kb * pv->at_block);
        }
        #pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; it++) {
            const int64_t ni = it % nn, mi = (it / nn) % nm, ng = it / (nn * nm), gr = ng % G;
            const int64_t m0 = mi * mchunk, n0 = ni * nchunk;
            for (int64_t k0 = 0; k0 < Kd; k0 += pv->blk.kc) {
                const cnb_sgemm_args a = {
                    .M = P, .N = kg, .K = min64(pv->blk.kc, Kd - k0),
                    .a_packed = at + ng * pv->at_floats + k0 / pv->blk.kc * pv->at_block,
                    .b_packed = pv->w_packed + gr * pv->w_floats + k0 * Np,
                    .c = ct + ng * P * kg, .ldc = kg,
                    .accumulate = k0 > 0,
                    .blk = pv->blk,
                };
                cnb_sgemm_6x16_avx2_compute(&a, m0, min64(m0 + mchunk, P), n0, min64(n0 + nchunk, kg), mine);
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

cnb_status cnb_conv2d_im2col_avx2_run(const cnb_plan_data *p, const cnb_io *io) {
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
    if (nchunk < pv->min_panels * NR) nchunk = min64(pv->min_panels * NR, cdiv(P, NR) * NR);
    if (pv->xb) nchunk = max64(1, cdiv(g->OH * cdiv(g->OW, NR), 4 * (int64_t)T));  // panels an item
    const int64_t nm = cdiv(gm, mchunk), nn = cdiv(gn, nchunk), items = NG * nm * nn;

    const run_ctx r = {g, pv, io, src, bias, xc, at, ct, bbuf, mchunk, nchunk, nm, nn, items};
    CNB_TEAM_RUN(T, run_share(&r));
    return CNB_OK;
}

void cnb_conv2d_im2col_avx2_free(cnb_plan_data *p) {
    priv *pv = p->priv;
    if (!pv) return;
    cnb_im2col_free(&pv->t);
    cnb_free(pv->w_packed);
    cnb_free(pv);
    p->priv = NULL;
}
