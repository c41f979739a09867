/* Implicit im2col for the GEMM convolutions (conv2d.im2col.*): the B matrix im2col(x)[cg*kh*kw x OH*OW] of
 * one (image, group) is never stored; its micro-panels (nr pixels, cut into runs of consecutive pixels of
 * one output row) are packed straight from x, or from a padded, phase-split copy of it (cnb_im2col.direct).
 * Portable C, static inline: included by the scalar and the AVX2 convolution. */
#ifndef CNB_KERNELS_SCALAR_IM2COL_PACK_H
#define CNB_KERNELS_SCALAR_IM2COL_PACK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/geom.h"

typedef struct cnb_im2col_run {
    int32_t start, len;    /* lanes [start, start + len) of its panel */
    int64_t oh, ow;        /* the output pixel of lane start */
    int64_t off;           /* copy: pos() at lane start - the panel's base */
} cnb_im2col_run;

typedef struct cnb_im2col_panel {
    int64_t base;          /* copy: pos() of the panel's first pixel */
    int32_t valid;         /* pixels in the panel (nr but for the last) */
    int32_t nruns, run0;   /* its runs: t->runs[run0 .. run0 + nruns) */
    bool contig;           /* one run over all nr lanes */
} cnb_im2col_panel;

/* Two ways to read a row of a panel:
 * - direct (zeros padding, column stride 1 or 2, 16 channels a group or more): from x itself. Rows are
 *   ordered r = (i*kw + j)*cg + c, so a stretch of rows shares its kernel offset (i, j): a run's source is
 *   row oh*sh - pad_t + i*dh of channel c from column ow*sw - pad_l + j*dw on, every sw-th, clipped to the
 *   input (the rest are padding zeros): one copy per run (cnb_im2col_segs).
 * - copy (other padding modes, strides, few channels): from a copy of x padded by the padding_mode and
 *   split into sh x sw phases (padded (h, w) at phase (h % sh, w % sw), row h / sh, column w / sw), so
 *   that consecutive ow are consecutive floats for every (i, j). Rows r = (c*kh + i)*kw + j, element at
 *   row_off[r] + pos(p), pos(p) = oh*Wq + ow. Only the phases some (i, j) reads are copied.
 * The weights' columns follow the row order (cnb_im2col_reorder_weights). */
typedef struct cnb_im2col {
    bool direct;           /* read x, rows ordered (i, j, c); else the copy, rows ordered (c, i, j) */
    int64_t xstep;         /* direct: floats between the sources of neighbouring lanes of a run (sw) */
    int64_t cg;            /* channels of a group */
    int64_t sh, sw;        /* copy: row and column phases */
    int64_t Hp, Wp;        /* copy: the padded plane */
    int64_t Hq, Wq;        /* copy: one phase, ceil(Hp / sh) x ceil(Wp / sw) */
    int64_t chan;          /* floats per channel of what is read: H * W, or sh * sw * Hq * Wq */
    int64_t P, Kd, nr;     /* pixels OH*OW, rows cg*kh*kw, panel width */
    int64_t npanels;
    cnb_im2col_panel *pan; /* [npanels] */
    cnb_im2col_run *runs;
    int64_t *row_off;      /* copy: [Kd] */
    uint8_t *need_r;       /* copy: [sh], row phase read by some kernel row i */
    uint8_t *need_c;       /* copy: [sw], column phase read by some kernel column j */
    int64_t sh_end, sw_end; /* copy: one past the last row and column phase read (a stride far beyond the
                             * kernel's extent reads few of its phases: the copy visits only those) */
} cnb_im2col;

static inline void cnb_im2col_free(cnb_im2col *t) {
    cnb_free(t->pan);
    cnb_free(t->runs);
    cnb_free(t->row_off);
    cnb_free(t->need_r);
    cnb_free(t->need_c);
    memset(t, 0, sizeof *t);
}

/* Whether the tables can describe g: lane arithmetic is int32, and the plane and its phases (the copy
 * rounds each up by a stride) stay far from it. In double: a huge stride (valid) overflows int64 here. */
static inline bool cnb_im2col_fits(const cnb_geom *g) {
    const double Hp = (double)(g->H + g->pad_t + g->pad_b), Wp = (double)(g->W + g->pad_l + g->pad_r);
    return (Hp + (double)g->sh) * (Wp + (double)g->sw) <= INT32_MAX / 2 && g->OH * g->OW <= INT32_MAX / 2;
}

/* kg rows of weights wg (PyTorch layout) with their columns in the GEMM's row order, into dst (kg x Kd).
 * Only direct reads reorder (rows (i, j, c)); the copy's order (c, i, j) is PyTorch's own. */
static inline void cnb_im2col_reorder_weights(const cnb_geom *g, const cnb_im2col *t, const float *wg, int64_t kg,
                                              float *dst) {
    const int64_t khw = g->kh * g->kw, Kd = t->Kd;
    for (int64_t m = 0; m < kg; m++)
        for (int64_t ij = 0; ij < khw; ij++)
            for (int64_t c = 0; c < t->cg; c++) dst[m * Kd + ij * t->cg + c] = wg[m * Kd + c * khw + ij];
}

/* Builds the tables for geometry g and panel width nr, reading x directly where it can unless copy is set;
 * false when out of memory. */
static inline bool cnb_im2col_init_mode(cnb_im2col *t, const cnb_geom *g, int64_t nr, bool copy) {
    memset(t, 0, sizeof *t);
    // Direct reads set up the runs of a panel once per kernel offset, for cg rows: with few channels
    // per group the set-up would cost more than the (then small) copy.
    t->direct = !copy && g->sw <= 2 && g->pad_mode == CNB_PADMODE_ZEROS && g->C / g->groups >= 16;
    t->xstep = g->sw;
    t->cg = g->C / g->groups;
    t->sh = t->direct ? 1 : g->sh;  // direct: unused, as are Hq, Wq, row_off
    t->sw = t->direct ? 1 : g->sw;
    t->Hp = g->H + g->pad_t + g->pad_b;
    t->Wp = g->W + g->pad_l + g->pad_r;
    t->Hq = (t->Hp + t->sh - 1) / t->sh;
    t->Wq = t->direct ? g->W : (t->Wp + t->sw - 1) / t->sw;
    t->chan = t->direct ? g->H * g->W : t->sh * t->sw * t->Hq * t->Wq;
    t->P = g->OH * g->OW;
    t->Kd = t->cg * g->kh * g->kw;
    t->nr = nr;
    t->npanels = (t->P + nr - 1) / nr;
    // A panel has at most one run per output row it touches.
    const int64_t most = t->npanels * ((nr - 1) / g->OW + 2);
    t->pan = cnb_malloc((size_t)t->npanels * sizeof *t->pan);
    t->runs = cnb_malloc((size_t)most * sizeof *t->runs);
    t->row_off = cnb_malloc((size_t)t->Kd * sizeof *t->row_off);
    t->need_r = cnb_calloc((size_t)t->sh, 1);
    t->need_c = cnb_calloc((size_t)t->sw, 1);
    if (!t->pan || !t->runs || !t->row_off || !t->need_r || !t->need_c) {
        cnb_im2col_free(t);
        return false;
    }
    const int64_t plane = t->Hq * t->Wq;
    int64_t r = 0;
    for (int64_t c = 0; c < t->cg; c++)
        for (int64_t i = 0; i < g->kh; i++)
            for (int64_t j = 0; j < g->kw; j++) {
                const int64_t ri = i * g->dh, cj = j * g->dw;
                t->need_r[ri % t->sh] = t->need_c[cj % t->sw] = 1;
                if (ri % t->sh >= t->sh_end) t->sh_end = ri % t->sh + 1;
                if (cj % t->sw >= t->sw_end) t->sw_end = cj % t->sw + 1;
                t->row_off[r++] = c * t->chan + (ri % t->sh * t->sw + cj % t->sw) * plane + ri / t->sh * t->Wq + cj / t->sw;
            }
    int32_t nrun = 0;
    for (int64_t q = 0; q < t->npanels; q++) {
        cnb_im2col_panel *pn = &t->pan[q];
        const int64_t p0 = q * nr;
        pn->valid = (int32_t)(t->P - p0 < nr ? t->P - p0 : nr);
        pn->base = p0 / g->OW * t->Wq + p0 % g->OW;
        pn->run0 = nrun;
        for (int32_t k = 0; k < pn->valid;) {
            const int64_t p = p0 + k, oh = p / g->OW, ow = p % g->OW;
            const int32_t len = (int32_t)(g->OW - ow < pn->valid - k ? g->OW - ow : pn->valid - k);
            cnb_im2col_run *ru = &t->runs[nrun];
            ru->start = k, ru->len = len, ru->oh = oh, ru->ow = ow;
            ru->off = oh * t->Wq + ow - pn->base;
            // In the copy, the next output row may continue the same stretch (Wq == OW): merge.
            if (!t->direct && nrun > pn->run0) {
                cnb_im2col_run *pr = ru - 1;
                if (pr->off + pr->len == ru->off) {
                    pr->len += len;
                    k += len;
                    continue;
                }
            }
            nrun++;
            k += len;
        }
        pn->nruns = nrun - pn->run0;
        pn->contig = pn->nruns == 1 && pn->valid == nr;
    }
    return true;
}

static inline bool cnb_im2col_init(cnb_im2col *t, const cnb_geom *g, int64_t nr) {
    return cnb_im2col_init_mode(t, g, nr, false);
}

/* A run of a panel row clipped to the input, direct mode: lanes [la, lb) read x_c[off + lane * xstep] for
 * the channel plane x_c; the panel's other lanes are zero. */
typedef struct cnb_im2col_seg {
    int64_t off;
    int32_t la, lb;
} cnb_im2col_seg;

/* The segments of panel pn for kernel offset (i, j), direct mode; returns how many (0: all padding). */
static inline int cnb_im2col_segs(const cnb_geom *g, const cnb_im2col *t, const cnb_im2col_panel *pn, int64_t i,
                                  int64_t j, cnb_im2col_seg *seg) {
    const int64_t sw = g->sw;
    int n = 0;
    for (int32_t k = 0; k < pn->nruns; k++) {
        const cnb_im2col_run *ru = &t->runs[pn->run0 + k];
        const int64_t ih = ru->oh * g->sh - g->pad_t + i * g->dh;
        if (ih < 0 || ih >= g->H) continue;
        // Lane start + l reads column iw + l*sw: inside the input for l in [a, b).
        const int64_t iw = ru->ow * sw - g->pad_l + j * g->dw;
        const int64_t a = iw < 0 ? (-iw + sw - 1) / sw : 0;
        const int64_t lim = g->W - iw > 0 ? (g->W - iw + sw - 1) / sw : 0, b = lim < ru->len ? lim : ru->len;
        if (a >= b) continue;
        seg[n].off = ih * g->W + iw - sw * ru->start;
        seg[n].la = ru->start + (int32_t)a;
        seg[n].lb = ru->start + (int32_t)b;
        n++;
    }
    return n;
}

/* Phase columns [*lo, *hi) of column phase cw hold input columns (q*sw + cw - pad_l inside [0, W) and
 * inside the padded width); the rest are padding. */
static inline void cnb_im2col_inside(const cnb_geom *g, const cnb_im2col *t, int64_t cw, int64_t *lo, int64_t *hi) {
    const int64_t sw = t->sw, a = g->pad_l - cw, b = g->W + g->pad_l - cw, c = t->Wp - cw;
    int64_t l = a > 0 ? (a + sw - 1) / sw : 0, h = b > 0 ? (b + sw - 1) / sw : 0;
    const int64_t hp = c > 0 ? (c + sw - 1) / sw : 0;
    h = h < hp ? h : hp;
    h = h < t->Wq ? h : t->Wq;
    *lo = l < h ? l : h;
    *hi = h;
}

/* Padded column w of input row s by g's mode (0 past the padded width). */
static inline float cnb_im2col_padded_at(const cnb_geom *g, const cnb_im2col *t, const float *s, int64_t w) {
    const int64_t iw = w < t->Wp ? cnb_pad_index(g->pad_mode, w - g->pad_l, g->W) : -1;
    return iw < 0 ? 0.f : s[iw];
}

/* Writes the phases that are read of channel plane src (H x W) into dst (t->chan floats). Phase cells
 * past the padded plane are never read; they are zeroed. */
static inline void cnb_im2col_copy_plane(const cnb_geom *g, const cnb_im2col *t, const float *src, float *dst) {
    const int64_t W = g->W, sh = t->sh, sw = t->sw, Wq = t->Wq, plane = t->Hq * Wq;
    // The inside columns of the (at most two) phases, once: their bounds take divisions.
    int64_t lo[2] = {0, 0}, hi[2] = {0, 0};
    const bool pair = sw == 2 && t->need_c[0] && t->need_c[1];
    for (int64_t cw = 0; cw < sw && cw < 2; cw++) cnb_im2col_inside(g, t, cw, &lo[cw], &hi[cw]);
    for (int64_t rh = 0; rh < t->sh_end; rh++) {
        if (!t->need_r[rh]) continue;
        for (int64_t hq = 0; hq < t->Hq; hq++) {
            const int64_t h = hq * sh + rh;
            const int64_t ih = h < t->Hp ? cnb_pad_index(g->pad_mode, h - g->pad_t, g->H) : -1;
            const float *s = src + (ih > 0 ? ih : 0) * W;
            float *d = dst + rh * sw * plane + hq * Wq;
            if (pair && ih >= 0) {
                // Both column phases in one pass over the row: a constant-stride deinterleave, which
                // compilers vectorise. The inside range common to both, then each phase's edges.
                const int64_t l = lo[0] > lo[1] ? lo[0] : lo[1], u = hi[0] < hi[1] ? hi[0] : hi[1];
                const float *si = s + 2 * l - g->pad_l;
                float *d0 = d + l, *d1 = d + plane + l;
                for (int64_t q = 0; q < u - l; q++) {
                    d0[q] = si[2 * q];
                    d1[q] = si[2 * q + 1];
                }
                for (int64_t cw = 0; cw < 2; cw++) {
                    for (int64_t q = 0; q < l; q++) d[cw * plane + q] = cnb_im2col_padded_at(g, t, s, 2 * q + cw);
                    for (int64_t q = u > l ? u : l; q < Wq; q++) d[cw * plane + q] = cnb_im2col_padded_at(g, t, s, 2 * q + cw);
                }
                continue;
            }
            for (int64_t cw = 0; cw < t->sw_end; cw++) {
                if (!t->need_c[cw]) continue;
                float *dc = d + cw * plane;
                if (ih < 0) {
                    memset(dc, 0, (size_t)Wq * sizeof *dc);
                    continue;
                }
                int64_t l, u;
                if (cw < 2) l = lo[cw], u = hi[cw];
                else cnb_im2col_inside(g, t, cw, &l, &u);
                for (int64_t q = 0; q < l; q++) dc[q] = cnb_im2col_padded_at(g, t, s, q * sw + cw);
                const float *si = s + l * sw + cw - g->pad_l;
                if (sw == 1) memcpy(dc + l, si, (size_t)(u - l) * sizeof *dc);
                else for (int64_t q = 0; q < u - l; q++) dc[l + q] = si[q * sw];
                for (int64_t q = u; q < Wq; q++) dc[q] = cnb_im2col_padded_at(g, t, s, q * sw + cw);
            }
        }
    }
}

/* How run() splits the work: each of the nprob independent GEMMs (M rows x P columns) is cut into
 * *mchunk x *pchunk items (multiples of mr and nr, at most nc columns). One thread takes whole nc blocks;
 * several get enough items (about 8 per thread, taken dynamically) to even out, splitting columns first
 * and rows only when the columns run out. */
static inline void cnb_im2col_grid(int64_t nprob, int64_t M, int64_t P, int64_t mr, int64_t nr, int64_t nc,
                                   int threads, int64_t *mchunk, int64_t *pchunk) {
    const int64_t np = (P + nr - 1) / nr, mp = (M + mr - 1) / mr, per = nc / nr > 0 ? nc / nr : 1;
    int64_t nch = (np + per - 1) / per, mch = 1;
    if (threads > 1) {
        const int64_t target = 8 * (int64_t)threads;
        if (nprob * nch < target) {
            const int64_t want = (target + nprob - 1) / nprob;
            nch = want < np ? want : np;
        }
        if (nprob * nch < target) {
            // Each row chunk packs the same B again. Two items per thread at least, in chunks of 4 micro-panels
            // or more; beyond that, towards 8 per thread, only chunks of 40 or more (ResNet-50's 3x3/s2
            // 256-channel layer on 2 threads: two chunks of 22 were 8% slower than one of 43).
            const int64_t items = nprob * nch, want = (target + items - 1) / items;
            const int64_t need = (2 * (int64_t)threads + items - 1) / items, most4 = mp / 4 > 1 ? mp / 4 : 1;
            const int64_t most40 = mp / 40 > 1 ? mp / 40 : 1;
            const int64_t a = need < most4 ? need : most4, b = want < most40 ? want : most40;
            mch = a > b ? a : b;
        }
    }
    *pchunk = (np + nch - 1) / nch * nr;
    *mchunk = (mp + mch - 1) / mch * mr;
}

#endif /* CNB_KERNELS_SCALAR_IM2COL_PACK_H */
