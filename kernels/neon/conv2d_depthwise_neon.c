// conv2d.depthwise.neon: depthwise Conv2d (groups == in_channels; output channel k reads input channel k / mult),
// NCHW in and out, direct: output vectors of 4 adjacent pixels, one FMA per tap on unaligned loads. 3x3 pad-1
// layers of stride 1 and 2 (MobileNet's) go straight from the input, each input row loaded once into the output
// rows it feeds (rv); other small zero-padded 3x3 planes go "flat" (input split by stride phase, column padding
// masked, whole planes at a time); the rest go by rows through a window of padded, phase-split rows. Any kernel,
// stride, dilation, padding mode. The structure of kernels/avx2/conv2d_depthwise_avx2.c; needs NEON.
#include <assert.h>
#include <arm_neon.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/cpu.h"
#include "core/registry.h"
#include "core/status.h"
#include "kernels/scalar/team.h"

cnb_status cnb_conv2d_depthwise_neon_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv2d_depthwise_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv2d_depthwise_neon_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv2d_depthwise_neon_free(cnb_plan_data *p);

static const char k_name[] = "conv2d.depthwise.neon";

// K3_R = 3: the 3x3 kernel's 3 rows x 2 vectors (6 accumulators, 9 weights, the loads) fit the 32 registers;
// at 4 rows GCC hoists enough loads to spill.
enum { MAX_V = 4, MAX_R = 8, LANES = 4, K3_R = 3, FR_MAX = 4 };

// Geometry derived once in plan(). A padded row (padded width Wp) is RS floats: nslots phase slots of PS floats,
// slot s holding padded columns phase[s], phase[s] + sw, ... . The window keeps `cap` padded rows at a fixed
// stride of RS, so tap t of the output at row oh, column ow reads window[(oh * sh - base) * RS + toff[t] + ow].
// Zero padding is never written: the window is zeroed once per run and rows only ever write input values there.
typedef struct dw_plan {
    int64_t Hp, Wp, m, T, nv;
    int64_t nslots, PS, RS;
    int64_t *phase;           // [nslots]
    int64_t *lo, *hi, *len;   // per slot: interior indices [lo, hi) (input columns), padded length len
    int64_t *toff;            // [T]: offset of tap (i, j) from the output column in the window
    int32_t *colmap;          // padded column -> input column, -1 for a zero
    int64_t *rowmap;          // padded row -> input row, -1 for a zero
    int fast3;                // 3x3, dilation 1 in rows, row stride 1 or 2: k3x3()
    int64_t rcap;             // output rows per tile at most
    int64_t cap;              // padded rows in the window
    int whole;                // cap == Hp: padded row r always sits at window row r (zero rows stay zero)
    // The flat path (3x3, zero padding, small planes; see flat_plan): the input split into stride-phase planes
    // of row stride OW with zero margins, so that tap t of output o (flat index in the output plane) reads
    // window[ftoff[t] + o]; lanes whose column falls in the padding are masked off with fmask.
    int flat;
    int64_t fPL;              // floats per phase plane
    int64_t frlo;             // phase-plane row of the first stored row (<= 0: top margin)
    int64_t fnvec;            // vectors per output plane
    int fpidx[2][2];          // window plane of input row phase a, column phase b; -1 if no tap reads it
    int64_t ftoff[9];
    int32_t *fmask;           // [fnvec][3 tap columns][8]
    // Stride 1, dilation 1 in rows, centre column never padding: tiles of up to FR_MAX rows share their loads
    // (flat_s1); tile k starts at flat output ftile[k] and has ftileR[k] rows; fmaskph[(p % OW)][2][8] are its
    // masks for tap columns 0 and 2.
    int fs1;
    // Stride 2, dilation 1 in rows, W == 2 * OW (flat_s2): the plane deinterleaved as a whole into even and odd
    // columns, E and O (rows of OW each, fPL floats apart); tile k reads from input offset ftilein[k].
    int fs2;
    int32_t *ftilein;
    int64_t ntiles;
    int32_t *ftile, *ftilemk;  // start, and offset of its masks in fmaskph
    int8_t *ftileR;
    int32_t *fmaskph;
    int rv;                   // 3x3 pad 1 stride 1 or 2 straight from the input (rv_applies)
    int64_t tmax;             // threads the workspace is sized for
    size_t thread_bytes;      // workspace per thread
} dw_plan;

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

cnb_status cnb_conv2d_depthwise_neon_supports(const cnb_geom *g, cnb_error *why) {
    if (g->kind != CNB_CONV2D)
        return cnb_fail(why, CNB_E_UNSUPPORTED, "%s: only Conv2d", k_name);
    if (g->groups != g->C || g->K % g->C != 0)
        return cnb_fail(why, CNB_E_UNSUPPORTED, "%s: not depthwise (groups %lld, in_channels %lld, out_channels %lld)",
                        k_name, (long long)g->groups, (long long)g->C, (long long)g->K);
    // Column positions within a row are int-sized.
    if (g->W + g->pad_l + g->pad_r > (INT32_MAX / 4) || g->OW > (INT32_MAX / 4))
        return cnb_fail(why, CNB_E_UNSUPPORTED, "%s: rows wider than %d", k_name, INT32_MAX / 4);
    return CNB_OK;
}

static void dw_plan_free(dw_plan *d) {
    if (!d) return;
    cnb_free(d->phase);
    cnb_free(d->lo);
    cnb_free(d->hi);
    cnb_free(d->len);
    cnb_free(d->toff);
    cnb_free(d->colmap);
    cnb_free(d->rowmap);
    cnb_free(d->fmask);
    cnb_free(d->ftile);
    cnb_free(d->ftilemk);
    cnb_free(d->ftilein);
    cnb_free(d->ftileR);
    cnb_free(d->fmaskph);
    cnb_free(d);
}

// For b > 0, by division and remainder: a + b - 1 overflows for a huge stride b (valid in PyTorch).
static int64_t ceil_div(int64_t a, int64_t b) { return a <= 0 ? 0 : a / b + (a % b != 0); }

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b < 0); }

// Output planes of at most this many elements take the flat path (its mask table grows with the plane).
enum { FLAT_MAX_OUT = 1024 };

// The stride-2 flat path: with W == 2 * OW, column parity is flat-index parity, so the whole plane splits into
// E (even columns) and O (odd columns) with one contiguous sweep, each a [H][OW] array. Tap (i, j) of output
// (oh, ow) reads input row 2*oh + i - pad_t, i.e. E or O at (2*oh + i - pad_t) * OW + ow + dj; consecutive
// output rows are 2 input rows apart, so a tile of R rows reads 2R + 1 input rows, each load feeding up to 2
// output rows. Columns outside the input are masked, rows outside are zero margins above and below.
static cnb_status fs2_plan(const cnb_geom *g, dw_plan *d, size_t budget) {
    const int64_t OH = g->OH, OW = g->OW, H = g->H, W = g->W;
    if (g->pad_mode != CNB_PADMODE_ZEROS || g->kh != 3 || g->kw != 3 || g->sh != 2 || g->sw != 2 || g->dh != 1 ||
        W != 2 * OW || OW < LANES / 2 || OH * OW < LANES)   // OW >= 4: a row's store runs at most into the next
        return CNB_OK;
    int64_t need[3], dj[3];
    for (int64_t j = 0; j < 3; j++) {
        const int64_t cj = j * g->dw - g->pad_l;
        dj[j] = floor_div(cj, 2);
        need[j] = 0;
        for (int64_t ow = 0; ow < OW; ow++) {
            const int64_t iw = 2 * ow + cj;
            if (iw < 0 || iw >= W) need[j] = 1;
            else if (ow + dj[j] >= OW) return CNB_OK;
        }
    }
    if (need[1]) return CNB_OK;
    for (int64_t j = 0; j < 3; j++)   // masked lanes are loaded too: they must stay within the planes' slack
        if (dj[j] < -LANES || dj[j] > 2 * LANES) return CNB_OK;
    // Input rows -pad_t .. 2*(OH-1) + 2 - pad_t are read: zero margins of mt rows above and mb below.
    const int64_t mt = g->pad_t, mb = 2 * OH + 1 - g->pad_t - H > 0 ? 2 * OH + 1 - g->pad_t - H : 0;
    d->fPL = ceil_div(LANES + (mt + H + mb) * OW + 2 * LANES, LANES) * LANES;
    if ((size_t)(2 * d->fPL) * sizeof(float) > budget) return CNB_OK;
    for (int64_t j = 0; j < 3; j++) {
        const int64_t b = (j * g->dw - g->pad_l) - 2 * dj[j];
        d->ftoff[j] = b * d->fPL + LANES + (mt - g->pad_t) * OW + dj[j];
    }
    // Tiles: groups of FR_MAX rows and a smaller last group; vectors at 0, 8, ... and one ending at the row's end
    // (rows of < 4 outputs: one vector, whose extra lanes are discarded).
    const int64_t cols = ceil_div(OW, LANES), most = ceil_div(OH, FR_MAX) * cols;
    d->ftile = cnb_malloc((size_t)most * sizeof *d->ftile);
    d->ftileR = cnb_malloc((size_t)most * sizeof *d->ftileR);
    d->ftilemk = cnb_malloc((size_t)most * sizeof *d->ftilemk);
    d->ftilein = cnb_malloc((size_t)most * sizeof *d->ftilein);
    d->fmaskph = cnb_malloc((size_t)(cols * 2 * LANES) * sizeof *d->fmaskph);
    if (!d->ftile || !d->ftileR || !d->ftilemk || !d->ftilein || !d->fmaskph) return CNB_E_NOMEM;
    for (int64_t ci = 0; ci < cols; ci++) {
        const int64_t col = OW < LANES ? 0 : ci * LANES + LANES > OW ? OW - LANES : ci * LANES;
        for (int64_t jj = 0; jj < 2; jj++)
            for (int64_t l = 0; l < LANES; l++) {
                const int64_t iw = 2 * (col + l) + 2 * jj * g->dw - g->pad_l;
                d->fmaskph[(ci * 2 + jj) * LANES + l] = !need[2 * jj] || col + l >= OW || (iw >= 0 && iw < W) ? -1 : 0;
            }
    }
    for (int64_t gi = 0, ng = ceil_div(OH, FR_MAX); gi < ng; gi++) {
        const int64_t oh0 = OH * gi / ng, R = OH * (gi + 1) / ng - oh0;   // even groups: few short tiles
        for (int64_t ci = 0; ci < cols; ci++) {
            const int64_t col = OW < LANES ? 0 : ci * LANES + LANES > OW ? OW - LANES : ci * LANES;
            d->ftile[d->ntiles] = (int32_t)(oh0 * OW + col);
            d->ftilein[d->ntiles] = (int32_t)(2 * oh0 * OW + col);
            d->ftilemk[d->ntiles] = (int32_t)(ci * 2 * LANES);
            d->ftileR[d->ntiles++] = (int8_t)R;
        }
    }
    d->thread_bytes = 2 * align64((size_t)(2 * d->fPL) * sizeof(float));
    d->fs2 = d->flat = 1;
    return CNB_OK;
}

// Whether the flat path applies, and its geometry. Tap (i, j) reads input row oh*sh + ri, ri = i*dh - pad_t, and
// column ow*sw + cj, cj = j*dw - pad_l. Phase plane (a, b) holds input (r*sh + a, c*sw + b) at r*OW + c for
// c < OW: with a = ri mod sh, di = floor(ri / sh) (b, dj likewise), the tap reads phase-plane row oh + di, column
// ow + dj, i.e. flat index o + di*OW + dj. Rows outside the input are zero rows of the plane; columns outside
// are masked. It needs every column a tap reads for a valid output to be < OW (true for 'same'-like padding).
static cnb_status flat_plan(const cnb_geom *g, dw_plan *d, size_t budget) {
    d->flat = 0;
    const int64_t OH = g->OH, OW = g->OW, sh = g->sh, sw = g->sw;
    if (g->pad_mode != CNB_PADMODE_ZEROS || g->kh != 3 || g->kw != 3 || sh > 2 || sw > 2 || OH * OW < LANES)
        return CNB_OK;
    int64_t di[3], dj[3], need[3], dimin = 0, dimax = 0;
    for (int a = 0; a < 2; a++) d->fpidx[a][0] = d->fpidx[a][1] = -1;
    for (int64_t j = 0; j < 3; j++) {
        const int64_t cj = j * g->dw - g->pad_l;
        dj[j] = floor_div(cj, sw);
        need[j] = 0;
        for (int64_t ow = 0; ow < OW; ow++) {
            const int64_t iw = ow * sw + cj;
            if (iw < 0 || iw >= g->W) need[j] = 1;
            else if (ow + dj[j] >= OW) return CNB_OK;   // would wrap into the next row
        }
    }
    // NEON has no masked load: the lanes masked off are loaded too, so every tap's column offset must stay within
    // the vector of slack before a phase plane and the two after it.
    for (int64_t j = 0; j < 3; j++)
        if (dj[j] < -LANES || dj[j] > 2 * LANES) return CNB_OK;
    // Larger planes are better served by the rows path (its rows stay in L1), and the general flat kernel's
    // mask table grows with the plane.
    if (OH * OW > FLAT_MAX_OUT) return CNB_OK;
    const int fs1 = sh == 1 && sw == 1 && g->dh == 1 && !need[1];
    int nph = 0;
    for (int64_t i = 0; i < 3; i++) {
        const int64_t ri = i * g->dh - g->pad_t;
        di[i] = floor_div(ri, sh);
        if (di[i] < dimin) dimin = di[i];
        if (di[i] > dimax) dimax = di[i];
        for (int64_t j = 0; j < 3; j++) {
            int *pi = &d->fpidx[ri - di[i] * sh][(j * g->dw - g->pad_l) - dj[j] * sw];
            if (*pi < 0) *pi = nph++;
        }
    }
    const int64_t hr = ceil_div(g->H, sh);                   // rows of phase 0 (the most)
    const int64_t rhi = hr > OH + dimax ? hr : OH + dimax;   // stored rows [frlo, rhi)
    d->frlo = dimin;
    // Slack of a vector before (taps left of the first output) and two after (the last vector's taps, and what
    // the vector copies of flat_build write past a row).
    d->fPL = ceil_div(LANES + (rhi - d->frlo) * OW + 2 * LANES, LANES) * LANES;
    if ((size_t)(nph * d->fPL) * sizeof(float) > budget) return CNB_OK;
    for (int64_t i = 0; i < 3; i++)
        for (int64_t j = 0; j < 3; j++) {
            const int64_t a = (i * g->dh - g->pad_t) - di[i] * sh, b = (j * g->dw - g->pad_l) - dj[j] * sw;
            d->ftoff[i * 3 + j] = d->fpidx[a][b] * d->fPL + LANES + (di[i] - d->frlo) * OW + dj[j];
        }
    d->fnvec = ceil_div(OH * OW, LANES);
    d->fmask = fs1 ? NULL : cnb_malloc((size_t)(d->fnvec * 3 * LANES) * sizeof(int32_t));
    if (!fs1 && !d->fmask) return CNB_E_NOMEM;
    for (int64_t v = 0; !fs1 && v < d->fnvec; v++) {
        const int64_t o = v * LANES + LANES > OH * OW ? OH * OW - LANES : v * LANES;
        for (int64_t j = 0; j < 3; j++)
            for (int64_t l = 0; l < LANES; l++) {
                const int64_t iw = ((o + l) % OW) * sw + j * g->dw - g->pad_l;
                d->fmask[(v * 3 + j) * LANES + l] = !need[j] || (iw >= 0 && iw < g->W) ? -1 : 0;
            }
    }
    if (fs1) {
        // Tiles: R rows (OW apart) x one vector. Rows of >= 4 outputs get vectors at 0, 4, ... and one ending at
        // the row's end, over groups of FR_MAX rows and one smaller group. Shorter rows are covered by vectors that
        // run on into the next row: from the first uncovered output, the largest R that stays inside the plane,
        // the last vector moved back to end at the plane's end. Overlaps recompute identical outputs.
        const int64_t n = OH * OW, cols = ceil_div(OW, LANES);
        const int64_t most = OW < LANES ? n : ceil_div(OH, FR_MAX) * cols;   // tiles at most
        d->ftile = cnb_malloc((size_t)most * sizeof *d->ftile);
        d->ftileR = cnb_malloc((size_t)most * sizeof *d->ftileR);
        d->ftilemk = cnb_malloc((size_t)most * sizeof *d->ftilemk);
        d->fmaskph = cnb_malloc((size_t)(OW * 2 * LANES) * sizeof *d->fmaskph);
        if (!d->ftile || !d->ftileR || !d->ftilemk || !d->fmaskph) return CNB_E_NOMEM;
        if (OW < LANES) {
            // From the first uncovered output: the smallest tile that ends the plane, placed to end at its end, if
            // it fits; else the largest tile that fits from there (only R = 1 may not: it is moved back).
            for (int64_t cov = 0; cov < n;) {
                int64_t R = 1, p;
                while (R < FR_MAX && (R - 1) * OW + LANES < n - cov) R++;
                p = n - LANES - (R - 1) * OW;
                if ((R - 1) * OW + LANES < n - cov || p < 0) {
                    R = FR_MAX;
                    while (R > 1 && cov + (R - 1) * OW + LANES > n) R--;
                    p = cov + LANES > n ? n - LANES : cov;
                }
                d->ftile[d->ntiles] = (int32_t)p;
                d->ftileR[d->ntiles++] = (int8_t)R;
                cov = p + (R - 1) * OW + LANES;
            }
        } else {
            for (int64_t gi = 0, ng = ceil_div(OH, FR_MAX); gi < ng; gi++) {
                const int64_t oh0 = OH * gi / ng, R = OH * (gi + 1) / ng - oh0;   // even groups: few short tiles
                for (int64_t ci = 0; ci < cols; ci++) {
                    const int64_t col = ci * LANES + LANES > OW ? OW - LANES : ci * LANES;
                    d->ftile[d->ntiles] = (int32_t)(oh0 * OW + col);
                    d->ftileR[d->ntiles++] = (int8_t)R;
                }
            }
        }
        for (int64_t k = 0; k < d->ntiles; k++) d->ftilemk[k] = d->ftile[k] % (int32_t)OW * 2 * LANES;
        for (int64_t ph = 0; ph < OW; ph++)
            for (int64_t jj = 0; jj < 2; jj++)
                for (int64_t l = 0; l < LANES; l++) {
                    const int64_t iw = ((ph + l) % OW) + 2 * jj * g->dw - g->pad_l;
                    d->fmaskph[(ph * 2 + jj) * LANES + l] = !need[2 * jj] || (iw >= 0 && iw < g->W) ? -1 : 0;
                }
    }
    // Two windows per thread: run() writes plane u + 1 into one while plane u is read from the other.
    d->thread_bytes = 2 * align64((size_t)(nph * d->fPL) * sizeof(float));
    d->fs1 = fs1;
    d->flat = 1;
    return CNB_OK;
}

// 3x3, padding 1 (zeros), stride 1 or 2, one output channel per input channel, at least a vector of outputs a
// row: rv_plane, rv2_plane (see kernels/avx2/conv2d_depthwise_avx2.c, where they were measured: 1.3-1.5x its
// other paths on MobileNetV2's layers). Stride 2 on planes up to half of L2.
static bool rv_applies(const cnb_geom *g) {
    if (g->sh == 2 && (size_t)g->H * (size_t)g->W * sizeof(float) > cnb_cpu_caches()->l2 / 2) return false;
    return g->K == g->C && g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1 && g->sh == g->sw &&
           (g->sh == 1 || g->sh == 2) && g->pad_mode == CNB_PADMODE_ZEROS && g->pad_t == 1 && g->pad_l == 1 &&
           g->pad_b == 1 && g->pad_r == 1 && g->OW >= LANES;
}

cnb_status cnb_conv2d_depthwise_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
    (void)w;
    assert(g->groups == g->C && g->K % g->C == 0);
    dw_plan *d = cnb_calloc(1, sizeof *d);
    if (!d) return cnb_fail(err, CNB_E_NOMEM, "%s: out of memory", k_name);
    if (rv_applies(g)) {
        // Straight from the input and the weights the plan holds: none of the tables below (they cost more than
        // a 960x7x7 layer's run takes to share out), no workspace.
        d->rv = 1;
        p->priv = d;
        p->workspace_bytes = 0;
        return CNB_OK;
    }
    const int64_t s = g->sw, kw = g->kw;
    d->Hp = g->H + g->pad_t + g->pad_b;
    d->Wp = g->W + g->pad_l + g->pad_r;
    d->m = g->K / g->C;
    d->T = g->kh * kw;
    d->nv = ceil_div(g->OW, LANES);
    d->phase = cnb_malloc((size_t)kw * sizeof *d->phase);
    d->lo = cnb_malloc((size_t)kw * sizeof *d->lo);
    d->hi = cnb_malloc((size_t)kw * sizeof *d->hi);
    d->len = cnb_malloc((size_t)kw * sizeof *d->len);
    d->toff = cnb_malloc((size_t)d->T * sizeof *d->toff);
    d->colmap = cnb_malloc((size_t)d->Wp * sizeof *d->colmap);
    d->rowmap = cnb_malloc((size_t)d->Hp * sizeof *d->rowmap);
    int64_t *tap_slot = cnb_malloc((size_t)kw * sizeof *tap_slot);
    if (!d->phase || !d->lo || !d->hi || !d->len || !d->toff || !d->colmap || !d->rowmap || !tap_slot) {
        cnb_free(tap_slot);
        dw_plan_free(d);
        return cnb_fail(err, CNB_E_NOMEM, "%s: out of memory", k_name);
    }
    // Only the phases some tap reads get a slot (at most kw of them, whatever the stride); tap column j reads
    // padded column ow * s + j * dw = phase (j * dw) % s, index ow + (j * dw) / s.
    int64_t off_max = 0;
    for (int64_t j = 0; j < kw; j++) {
        const int64_t col = j * g->dw, ph = col % s;
        int64_t sl = 0;
        while (sl < d->nslots && d->phase[sl] != ph) sl++;
        if (sl == d->nslots) d->phase[d->nslots++] = ph;
        tap_slot[j] = sl;
        if (col / s > off_max) off_max = col / s;
    }
    // Slot length: every padded column of the phase; what a whole vector reads past the last output (rows of
    // fewer than 4 outputs); what the vector copies of build_row write past the interior.
    int64_t ps = (g->OW > LANES ? g->OW : LANES) + off_max;
    for (int64_t sl = 0; sl < d->nslots; sl++) {
        const int64_t ph = d->phase[sl];
        d->len[sl] = ceil_div(d->Wp - ph, s);
        d->lo[sl] = ceil_div(g->pad_l - ph, s);
        d->hi[sl] = ceil_div(g->pad_l + g->W - ph, s);
        if (d->hi[sl] > d->len[sl]) d->hi[sl] = d->len[sl];
        if (d->lo[sl] > d->hi[sl]) d->lo[sl] = d->hi[sl];
        if (d->len[sl] > ps) ps = d->len[sl];
    }
    if (s == 1 && g->pad_l + ceil_div(g->W, LANES) * LANES > ps) ps = g->pad_l + ceil_div(g->W, LANES) * LANES;
    if (s == 2 && d->nslots == 2) {
        const int64_t lo = (g->pad_l + 1) / 2, cnt = ceil_div(g->W + g->pad_l - 2 * lo, 2);
        if (lo + ceil_div(cnt, LANES) * LANES > ps) ps = lo + ceil_div(cnt, LANES) * LANES;
    }
    d->PS = ceil_div(ps, LANES) * LANES;
    d->RS = d->nslots * d->PS;
    for (int64_t i = 0; i < g->kh; i++)
        for (int64_t j = 0; j < kw; j++)
            d->toff[i * kw + j] = i * g->dh * d->RS + tap_slot[j] * d->PS + j * g->dw / s;
    cnb_free(tap_slot);
    for (int64_t c = 0; c < d->Wp; c++) d->colmap[c] = (int32_t)cnb_pad_index(g->pad_mode, c - g->pad_l, g->W);
    for (int64_t r = 0; r < d->Hp; r++) d->rowmap[r] = cnb_pad_index(g->pad_mode, r - g->pad_t, g->H);

    // Rows per tile: enough accumulators (rows x vectors, 8) to hide the FMA latency on short rows.
    d->fast3 = g->kh == 3 && kw == 3 && g->dh == 1 && (g->sh == 1 || g->sh == 2);
    d->rcap = d->fast3 ? K3_R : MAX_R / (d->nv < MAX_V ? d->nv : MAX_V);
    if (d->rcap > g->OH) d->rcap = g->OH;
    // The window: the whole padded plane when it fits in a quarter of L2 (the common case: rows then stay put and
    // zero rows are never rewritten), else a sliding band of rows, at least what one tile reads.
    const cnb_caches *cc = cnb_cpu_caches();
    const size_t budget = cc->l2 / 4 > cc->l1d ? cc->l2 / 4 : cc->l1d;
    const int64_t span = (d->rcap - 1) * g->sh + (g->kh - 1) * g->dh + 1;
    d->cap = (int64_t)(budget / ((size_t)d->RS * sizeof(float)));
    if (d->cap < span) d->cap = span;
    if (d->cap >= d->Hp) d->cap = d->Hp;
    d->whole = d->cap == d->Hp;
    d->thread_bytes = align64((size_t)d->cap * (size_t)d->RS * sizeof(float));
    if (fs2_plan(g, d, budget) != CNB_OK || (!d->flat && flat_plan(g, d, budget) != CNB_OK)) {
        dw_plan_free(d);
        return cnb_fail(err, CNB_E_NOMEM, "%s: out of memory", k_name);
    }
    // run() may be asked for any thread count; the workspace holds one window per thread up to what this process
    // can run at once, and run() uses at most that many (the result does not depend on it).
    int tmax = omp_get_max_threads();
    if (omp_get_num_procs() > tmax) tmax = omp_get_num_procs();
    d->tmax = tmax > 0 ? tmax : 1;
    if (d->thread_bytes > (SIZE_MAX - 64) / (size_t)d->tmax) {
        dw_plan_free(d);
        return cnb_fail(err, CNB_E_OVERFLOW, "%s: workspace size overflows", k_name);
    }
    p->priv = d;
    p->workspace_bytes = d->thread_bytes * (size_t)d->tmax + 64;
    return CNB_OK;
}

void cnb_conv2d_depthwise_neon_free(cnb_plan_data *p) {
    dw_plan_free(p->priv);
    p->priv = NULL;
}

// v with the lanes off in m zeroed. NEON has no masked load: the flat windows have a vector of slack before and two
// after every plane (and plan() keeps the taps' column offsets within them), so the whole vector is loaded.
static inline float32x4_t and_mask(float32x4_t v, uint32x4_t m) {
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), m));
}

static inline uint32x4_t load_mask(const int32_t *mk) { return vreinterpretq_u32_s32(vld1q_s32(mk)); }

// The even and odd elements of the 8 floats at src, of which only the first n (0..8) are read (zeros after).
static inline float32x4x2_t load2_n(const float *src, int64_t n) {
    if (n >= 2 * LANES) return vld2q_f32(src);
    float t[2 * LANES] = {0};
    if (n > 0) memcpy(t, src, (size_t)n * sizeof(float));
    return vld2q_f32(t);
}

// Write input row src (W floats) into window row dst. Only input values are written where padding is zero (the
// zero-filled tail vectors land on zero padding or slack); other padding modes fill their borders.
static void build_row(const cnb_geom *g, const dw_plan *d, const float *src, float *dst) {
    const int64_t s = g->sw, pl = g->pad_l, W = g->W;
    // The fast copies put every input column at pl + column: a negative padding (a crop, which PyTorch allows
    // with the non-zeros modes) would write before the row. The general copy clips to [lo, hi).
    const bool crop = pl < 0 || g->pad_r < 0;
    if (s == 1 && !crop) {
        memcpy(dst + pl, src, (size_t)W * sizeof(float));
    } else if (s == 2 && d->nslots == 2 && !crop) {
        // Slot 0 is phase 0 (tap 0), slot 1 phase 1. Index i of both comes from input columns 2i - pl and
        // 2i + 1 - pl: ld2 splits them.
        float *ev = dst, *od = dst + d->PS;
        const int64_t lo = (pl + 1) / 2;
        for (int64_t i = lo, c = 2 * lo - pl; c < W; i += LANES, c += 2 * LANES) {
            const float32x4x2_t eo = load2_n(src + c, W - c);
            vst1q_f32(ev + i, eo.val[0]);
            vst1q_f32(od + i, eo.val[1]);
        }
        // With odd pad_l, input column 0 is phase 1, index lo - 1: the one interior value the loop starts after.
        if (d->lo[1] < lo) od[d->lo[1]] = src[2 * d->lo[1] + 1 - pl];
    } else {
        for (int64_t sl = 0; sl < d->nslots; sl++) {
            float *o = dst + sl * d->PS;
            // Indices, not a pointer src + phase - pl: with a large padding that points far outside the row.
            const int64_t base = d->phase[sl] - pl;
            for (int64_t i = d->lo[sl]; i < d->hi[sl]; i++) o[i] = src[base + i * s];
        }
    }
    if (g->pad_mode == CNB_PADMODE_ZEROS) return;
    for (int64_t sl = 0; sl < d->nslots; sl++) {
        float *o = dst + sl * d->PS;
        const int32_t *cm = d->colmap + d->phase[sl];
        for (int64_t i = 0; i < d->lo[sl]; i++) o[i] = src[cm[i * s]];
        for (int64_t i = d->hi[sl]; i < d->len[sl]; i++) o[i] = src[cm[i * s]];
    }
}

// Store the first n (1..3) lanes of v: nothing past the row is written, so tiles and threads never overlap.
static inline void store_partial(float *y, float32x4_t v, int n) {
    if (n & 2) {
        vst1_f32(y, vget_low_f32(v));
        if (n & 1) vst1q_lane_f32(y + 2, v, 2);
    } else {
        vst1q_lane_f32(y, v, 0);
    }
}

// One tile: R output rows x V vectors at columns pos[0..V). Row r of the tile reads the window from
// x + r * xstride, tap t at + toff[t]; it writes y + r * ystride. nlane < 4 only for rows shorter than a vector.
// The accumulators are named variables, not an array: gcc keeps an array of vectors in memory across the tap loop.
#define DW_ROW_DECL(r) float32x4_t a##r##0 = vb, a##r##1 = vb, a##r##2 = vb, a##r##3 = vb;
#define DW_ROW_FMA(r)                                                            \
    if (R > r) {                                                                 \
        const float *xr = xt + r * xstride;                                      \
        a##r##0 = vfmaq_f32(a##r##0, wv, vld1q_f32(xr + p0));                    \
        if (V > 1) a##r##1 = vfmaq_f32(a##r##1, wv, vld1q_f32(xr + p1));         \
        if (V > 2) a##r##2 = vfmaq_f32(a##r##2, wv, vld1q_f32(xr + p2));         \
        if (V > 3) a##r##3 = vfmaq_f32(a##r##3, wv, vld1q_f32(xr + p3));         \
    }
#define DW_ROW_STORE(r)                                                          \
    if (R > r) {                                                                 \
        float *yr = y + r * ystride;                                             \
        if (nlane == LANES) {                                                    \
            vst1q_f32(yr + p0, a##r##0);                                         \
            if (V > 1) vst1q_f32(yr + p1, a##r##1);                              \
            if (V > 2) vst1q_f32(yr + p2, a##r##2);                              \
            if (V > 3) vst1q_f32(yr + p3, a##r##3);                              \
        } else {                                                                 \
            store_partial(yr, a##r##0, nlane); /* V == 1, pos[0] == 0 */         \
        }                                                                        \
    }
static inline __attribute__((always_inline)) void tile(const int R, const int V, const float *x, int64_t xstride,
                                                       const int64_t *toff, int64_t T, const float *wk, float bias,
                                                       float *y, int64_t ystride, const int *pos, int nlane) {
    const float32x4_t vb = vdupq_n_f32(bias);
    const int64_t p0 = pos[0], p1 = V > 1 ? pos[1] : 0, p2 = V > 2 ? pos[2] : 0, p3 = V > 3 ? pos[3] : 0;
    DW_ROW_DECL(0) DW_ROW_DECL(1) DW_ROW_DECL(2) DW_ROW_DECL(3)
    DW_ROW_DECL(4) DW_ROW_DECL(5) DW_ROW_DECL(6) DW_ROW_DECL(7)
    for (int64_t t = 0; t < T; t++) {
        const float32x4_t wv = vld1q_dup_f32(wk + t);
        const float *xt = x + toff[t];
        DW_ROW_FMA(0) DW_ROW_FMA(1) DW_ROW_FMA(2) DW_ROW_FMA(3)
        DW_ROW_FMA(4) DW_ROW_FMA(5) DW_ROW_FMA(6) DW_ROW_FMA(7)
    }
    DW_ROW_STORE(0) DW_ROW_STORE(1) DW_ROW_STORE(2) DW_ROW_STORE(3)
    DW_ROW_STORE(4) DW_ROW_STORE(5) DW_ROW_STORE(6) DW_ROW_STORE(7)
}
#undef DW_ROW_DECL
#undef DW_ROW_FMA
#undef DW_ROW_STORE

typedef void (*tile_fn)(const float *, int64_t, const int64_t *, int64_t, const float *, float, float *, int64_t,
                        const int *, int);
#define TILE(R, V)                                                                                               \
    static void tile_##R##x##V(const float *x, int64_t xs, const int64_t *toff, int64_t T, const float *wk,      \
                               float bias, float *y, int64_t ys, const int *pos, int nlane) {                   \
        tile(R, V, x, xs, toff, T, wk, bias, y, ys, pos, nlane);                                                 \
    }
TILE(1, 1) TILE(1, 2) TILE(1, 3) TILE(1, 4)
TILE(2, 1) TILE(2, 2) TILE(2, 3) TILE(2, 4)
TILE(3, 1) TILE(3, 2)
TILE(4, 1) TILE(4, 2)
TILE(5, 1) TILE(6, 1) TILE(7, 1) TILE(8, 1)
#undef TILE
// [R - 1][V - 1]; plan() keeps R * V <= 8 (rcap = 8 / min(nv, 4)).
static const tile_fn k_tiles[MAX_R][MAX_V] = {
    {tile_1x1, tile_1x2, tile_1x3, tile_1x4}, {tile_2x1, tile_2x2, tile_2x3, tile_2x4},
    {tile_3x1, tile_3x2, NULL, NULL},         {tile_4x1, tile_4x2, NULL, NULL},
    {tile_5x1, NULL, NULL, NULL},             {tile_6x1, NULL, NULL, NULL},
    {tile_7x1, NULL, NULL, NULL},             {tile_8x1, NULL, NULL, NULL},
};

// R output rows x VV vectors at column pos of the 3x3 kernel below: each load of the (R-1)*SH+3 input rows feeds
// up to 3 rows' FMAs. Fully unrolled (the trip counts are constants), so acc[][] and w[][] live in registers.
static inline __attribute__((always_inline)) void k3x3_at(const int R, const int SH, const int VV, const float *const c[3],
                                                          int64_t RS, const float32x4_t w[3][3], float bias, float *y,
                                                          int64_t OW, int64_t pos, int nlane) {
    float32x4_t acc[K3_R][2];
    for (int r = 0; r < R; r++)
        for (int h = 0; h < VV; h++) acc[r][h] = vdupq_n_f32(bias);
    _Pragma("GCC unroll 16") for (int ir = 0; ir < (R - 1) * SH + 3; ir++)
        _Pragma("GCC unroll 3") for (int j = 0; j < 3; j++)
            _Pragma("GCC unroll 2") for (int h = 0; h < VV; h++) {
                const float32x4_t xv = vld1q_f32(c[j] + ir * RS + pos + h * LANES);
                _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {
                    const int i = ir - r * SH;
                    if (i >= 0 && i < 3) acc[r][h] = vfmaq_f32(acc[r][h], w[i][j], xv);
                }
            }
    if (nlane == LANES) {
        for (int r = 0; r < R; r++)
            for (int h = 0; h < VV; h++) vst1q_f32(y + r * OW + pos + h * LANES, acc[r][h]);
    } else {
        for (int r = 0; r < R; r++) store_partial(y + r * OW, acc[r][0], nlane);
    }
}

// 3x3, dilation 1 in rows, row stride SH (1 or 2): R output rows at a time, the 9 weights in registers. coff[j] is
// where tap column j starts in a window row. Walks the whole row: 8 outputs (two vectors) at a time, the last pair
// moved back to end at the row's end (it recomputes a few outputs, bit-identically, instead of storing a partial
// vector); rows of 4..7 outputs take a vector at 0 and one ending at the end, shorter rows one partial vector.
static inline __attribute__((always_inline)) void k3x3(const int R, const int SH, const float *xw, int64_t RS,
                                                       const int64_t *coff, const float *wk, float bias, float *y,
                                                       int64_t OW, int64_t nv, int nlane) {
    (void)nv;
    float32x4_t w[3][3];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) w[i][j] = vld1q_dup_f32(wk + 3 * i + j);
    const float *c[3] = {xw + coff[0], xw + coff[1], xw + coff[2]};
    if (OW >= 2 * LANES) {
        for (int64_t p = 0;; p += 2 * LANES) {
            const int64_t q = p + 2 * LANES > OW ? OW - 2 * LANES : p;
            k3x3_at(R, SH, 2, c, RS, w, bias, y, OW, q, LANES);
            if (q + 2 * LANES >= OW) break;
        }
    } else if (OW >= LANES) {
        k3x3_at(R, SH, 1, c, RS, w, bias, y, OW, 0, LANES);
        if (OW > LANES) k3x3_at(R, SH, 1, c, RS, w, bias, y, OW, OW - LANES, LANES);
    } else {
        k3x3_at(R, SH, 1, c, RS, w, bias, y, OW, 0, nlane);
    }
}

typedef void (*k3x3_fn)(const float *, int64_t, const int64_t *, const float *, float, float *, int64_t, int64_t, int);
#define K3X3(R, SH)                                                                                            \
    static void k3x3_##R##_s##SH(const float *xw, int64_t RS, const int64_t *coff, const float *wk, float bias, \
                                 float *y, int64_t OW, int64_t nv, int nlane) {                                \
        k3x3(R, SH, xw, RS, coff, wk, bias, y, OW, nv, nlane);                                                 \
    }
K3X3(1, 1) K3X3(2, 1) K3X3(3, 1)
K3X3(1, 2) K3X3(2, 2) K3X3(3, 2)
#undef K3X3
static const k3x3_fn k_k3x3[2][K3_R] = {
    {k3x3_1_s1, k3x3_2_s1, k3x3_3_s1},
    {k3x3_1_s2, k3x3_2_s2, k3x3_3_s2},
};

// Output rows [r0, r1) of the mult output planes that read input plane (n, c); win is this thread's window.
static void dw_block(const cnb_geom *g, const dw_plan *d, const cnb_weights *wt, float *win, const float *x,
                     float *y, int64_t n, int64_t c, int64_t r0, int64_t r1) {
    const int64_t OW = g->OW, OH = g->OH, RS = d->RS, sh = g->sh;
    const float *xp = x + (n * g->C + c) * g->H * g->W;
    int pos[MAX_V];
    const int nlane = OW < LANES ? (int)OW : LANES;
    int64_t base = d->whole ? 0 : r0 * sh;   // padded row at window row 0
    int64_t built = r0 * sh;                 // padded rows [.., built) are in the window
    for (int64_t oh = r0; oh < r1;) {
        const int64_t R = r1 - oh < d->rcap ? r1 - oh : d->rcap;
        const int64_t first = oh * sh, last = (oh + R - 1) * sh + (g->kh - 1) * g->dh;
        if (last - base >= d->cap) {
            // Slide the band (never when it holds the whole plane): keep the rows from `first` on.
            if (built > first) memmove(win, win + (first - base) * RS, (size_t)((built - first) * RS) * sizeof(float));
            base = first;
        }
        if (built < first) built = first;
        for (; built <= last; built++) {
            float *row = win + (built - base) * RS;
            const int64_t ih = d->rowmap[built];
            if (ih >= 0) build_row(g, d, xp + ih * g->W, row);
            else if (!d->whole) memset(row, 0, (size_t)RS * sizeof(float));
        }
        const float *xw = win + (first - base) * RS;
        for (int64_t q = 0; q < d->m; q++) {
            const int64_t k = c * d->m + q;
            float *yk = y + ((n * g->K + k) * OH + oh) * OW;
            if (d->fast3) {
                k_k3x3[sh - 1][R - 1](xw, RS, d->toff, wt->weight + k * 9, wt->bias[k], yk, OW, d->nv, nlane);
                continue;
            }
            for (int64_t v0 = 0; v0 < d->nv; v0 += MAX_V) {
                const int64_t V = d->nv - v0 < MAX_V ? d->nv - v0 : MAX_V;
                // The last vector of a row of >= 4 outputs is moved back to end at the row's end: it recomputes a
                // few outputs (bit-identically) instead of storing a partial vector.
                for (int64_t v = 0; v < V; v++) {
                    const int64_t ow = (v0 + v) * LANES;
                    pos[v] = (int)(ow + LANES > OW && OW >= LANES ? OW - LANES : ow);
                }
                // The input distance between output rows, used only when R > 1: then it lies inside the window,
                // while for one row a huge stride (valid) would overflow sh * RS.
                k_tiles[R - 1][V - 1](xw, R > 1 ? sh * RS : RS, d->toff, d->T, wt->weight + k * d->T, wt->bias[k], yk,
                                      OW, pos, nlane);
            }
        }
        oh += R;
    }
}

// The flat path, per input plane: write the input into its phase planes (row stride OW; only input values where
// the planes hold zero padding: tail vectors are zero-filled, and rows go in increasing order, so what a vector
// store writes past a row is overwritten by the next row or lands, as zeros, in the bottom margin).
static void flat_build(const cnb_geom *g, const dw_plan *d, const float *xp, float *win) {
    const int64_t H = g->H, W = g->W, OW = g->OW, sh = g->sh;
    if (d->fs2) {
        // Even and odd columns of the whole plane (W is even): 8 inputs -> 4 + 4 by ld2, as in build_row.
        float *ev = win + LANES + g->pad_t * OW, *od = ev + d->fPL;
        const int64_t n = H * W;
        for (int64_t c = 0; c < n; c += 2 * LANES) {
            const float32x4x2_t eo = load2_n(xp + c, n - c);
            vst1q_f32(ev + c / 2, eo.val[0]);
            vst1q_f32(od + c / 2, eo.val[1]);
        }
        return;
    }
    if (g->sw == 1) {
        const int64_t nc = W < OW ? W : OW;
        if (sh == 1 && nc == W && W == OW) {
            // Rows are contiguous on both sides: one copy of the plane.
            memcpy(win + d->fpidx[0][0] * d->fPL + LANES - d->frlo * OW, xp, (size_t)(H * W) * sizeof(float));
            return;
        }
        for (int64_t ih = 0, r = 0, a = 0; ih < H; ih++) {
            const int p = d->fpidx[a][0];
            float *o = win + p * d->fPL + LANES + (r - d->frlo) * OW;
            const float *src = xp + ih * W;
            // (a, r) = (ih % sh, ih / sh), without a division per row.
            if (++a == sh) a = 0, r++;
            if (p < 0) continue;
            memcpy(o, src, (size_t)nc * sizeof(float));
        }
        return;
    }
    // Column stride 2: even input columns go to phase b = 0, odd ones to b = 1 (split by ld2 as in build_row),
    // columns from 2*OW on are never read.
    const int64_t lim = W < 2 * OW ? W : 2 * OW;
    for (int64_t ih = 0, r = 0, a = 0; ih < H; ih++) {
        const int p0 = d->fpidx[a][0], p1 = d->fpidx[a][1];
        const int64_t off = LANES + (r - d->frlo) * OW;
        if (++a == sh) a = 0, r++;
        if (p0 < 0 && p1 < 0) continue;
        float *ev = win + (p0 < 0 ? p1 : p0) * d->fPL + off, *od = win + (p1 < 0 ? p0 : p1) * d->fPL + off;
        const float *src = xp + ih * W;
        for (int64_t c = 0; c < lim; c += 2 * LANES) {
            const float32x4x2_t eo = load2_n(src + c, lim - c);
            // An unread phase shares the other's plane: write it first so that the one read wins.
            if (p1 < 0) {
                vst1q_f32(od + c / 2, eo.val[1]);
                vst1q_f32(ev + c / 2, eo.val[0]);
            } else {
                vst1q_f32(ev + c / 2, eo.val[0]);
                vst1q_f32(od + c / 2, eo.val[1]);
            }
        }
    }
}

// The flat 3x3 kernel: every output vector of the plane (the last one moved back to end at the plane's end, so
// all stores are whole vectors) is 9 FMAs of loads at fixed offsets, masked by AND; one partial sum per kernel row keeps
// the dependency chains short.
static void flat3x3(const dw_plan *d, const float *win, const float *wk, float bias, float *y, int64_t n) {
    float32x4_t w[9];
    for (int t = 0; t < 9; t++) w[t] = vld1q_dup_f32(wk + t);
    const float *x[9];
    for (int t = 0; t < 9; t++) x[t] = win + d->ftoff[t];
    const float32x4_t vb = vdupq_n_f32(bias);
    for (int64_t v = 0; v < d->fnvec; v++) {
        const int64_t o = v * LANES + LANES > n ? n - LANES : v * LANES;
        const int32_t *mk = d->fmask + v * 3 * LANES;
        const uint32x4_t m0 = load_mask(mk), m1 = load_mask(mk + LANES), m2 = load_mask(mk + 2 * LANES);
        float32x4_t r0 = vfmaq_f32(vb, w[0], and_mask(vld1q_f32(x[0] + o), m0));
        float32x4_t r1 = vmulq_f32(w[3], and_mask(vld1q_f32(x[3] + o), m0));
        float32x4_t r2 = vmulq_f32(w[6], and_mask(vld1q_f32(x[6] + o), m0));
        r0 = vfmaq_f32(r0, w[1], and_mask(vld1q_f32(x[1] + o), m1));
        r1 = vfmaq_f32(r1, w[4], and_mask(vld1q_f32(x[4] + o), m1));
        r2 = vfmaq_f32(r2, w[7], and_mask(vld1q_f32(x[7] + o), m1));
        r0 = vfmaq_f32(r0, w[2], and_mask(vld1q_f32(x[2] + o), m2));
        r1 = vfmaq_f32(r1, w[5], and_mask(vld1q_f32(x[5] + o), m2));
        r2 = vfmaq_f32(r2, w[8], and_mask(vld1q_f32(x[8] + o), m2));
        vst1q_f32(y + o, vaddq_f32(vaddq_f32(r0, r1), r2));
    }
}

// Stride-1 flat tile: R output rows (OW apart) of one vector at flat output p. Input row ir of the tile feeds
// output rows r = ir - i for kernel rows i, so each of the (R + 2) x 3 loads serves up to 3 FMAs.
static inline __attribute__((always_inline)) void flat_s1(const int R, const float *x0, const float *x1,
                                                          const float *x2, int64_t OW, const int32_t *mk,
                                                          const float32x4_t *w, float32x4_t vb, float *y) {
    const uint32x4_t m0 = load_mask(mk), m2 = load_mask(mk + LANES);
    // Short tiles split each row's sum by kernel row (S partial sums): a single chain of 9 dependent FMAs would
    // set the pace.
    const int S = R == 1 ? 3 : R == 2 ? 2 : 1;
    float32x4_t acc[FR_MAX][3];
    for (int r = 0; r < R; r++) {
        acc[r][0] = vb;
        for (int u = 1; u < S; u++) acc[r][u] = vdupq_n_f32(0.f);
    }
    _Pragma("GCC unroll 8") for (int ir = 0; ir < R + 2; ir++) {
        const float32x4_t a = and_mask(vld1q_f32(x0 + ir * OW), m0), b = vld1q_f32(x1 + ir * OW),
                          c = and_mask(vld1q_f32(x2 + ir * OW), m2);
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {
            const int i = ir - r;
            if (i >= 0 && i < 3) {
                acc[r][i % S] = vfmaq_f32(acc[r][i % S], w[3 * i], a);
                acc[r][i % S] = vfmaq_f32(acc[r][i % S], w[3 * i + 1], b);
                acc[r][i % S] = vfmaq_f32(acc[r][i % S], w[3 * i + 2], c);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int u = 1; u < S; u++) acc[r][0] = vaddq_f32(acc[r][0], acc[r][u]);
    for (int r = 0; r < R; r++) vst1q_f32(y + r * OW, acc[r][0]);
}

static void flat_s1_plane(const dw_plan *d, int64_t OW, const float *win, const float *wk, float bias, float *y) {
    float32x4_t w[9];
    for (int t = 0; t < 9; t++) w[t] = vld1q_dup_f32(wk + t);
    const float32x4_t vb = vdupq_n_f32(bias);
    const float *x0 = win + d->ftoff[0], *x1 = win + d->ftoff[1], *x2 = win + d->ftoff[2];
    for (int64_t k = 0; k < d->ntiles; k++) {
        const int64_t p = d->ftile[k];
        const int32_t *mk = d->fmaskph + d->ftilemk[k];
        switch (d->ftileR[k]) {
        case 4: flat_s1(4, x0 + p, x1 + p, x2 + p, OW, mk, w, vb, y + p); break;
        case 3: flat_s1(3, x0 + p, x1 + p, x2 + p, OW, mk, w, vb, y + p); break;
        case 2: flat_s1(2, x0 + p, x1 + p, x2 + p, OW, mk, w, vb, y + p); break;
        default: flat_s1(1, x0 + p, x1 + p, x2 + p, OW, mk, w, vb, y + p); break;
        }
    }
}

// Stride-2 flat tile: R output rows (OW apart in y, 2*OW apart in E/O) of one vector. Input row ir of the tile
// feeds output rows r = (ir - i) / 2 for kernel rows i of the same parity. For rows of < 4 outputs the extra
// lanes are garbage: each row's store runs into the next row, which is stored after it, except for the plane's
// last row (last != 0), stored partially.
static inline __attribute__((always_inline)) void flat_s2(const int R, const float *x0, const float *x1,
                                                          const float *x2, int64_t OW, const int32_t *mk,
                                                          const float32x4_t *w, float32x4_t vb, float *y, int last) {
    const uint32x4_t m0 = load_mask(mk), m2 = load_mask(mk + LANES);
    const int S = R == 1 ? 3 : R == 2 ? 2 : 1;   // partial sums per row, as in flat_s1
    float32x4_t acc[FR_MAX][3];
    for (int r = 0; r < R; r++) {
        acc[r][0] = vb;
        for (int u = 1; u < S; u++) acc[r][u] = vdupq_n_f32(0.f);
    }
    _Pragma("GCC unroll 9") for (int ir = 0; ir < 2 * R + 1; ir++) {
        const float32x4_t a = and_mask(vld1q_f32(x0 + ir * OW), m0), b = vld1q_f32(x1 + ir * OW),
                          c = and_mask(vld1q_f32(x2 + ir * OW), m2);
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {
            const int i = ir - 2 * r;
            if (i >= 0 && i < 3) {
                acc[r][i % S] = vfmaq_f32(acc[r][i % S], w[3 * i], a);
                acc[r][i % S] = vfmaq_f32(acc[r][i % S], w[3 * i + 1], b);
                acc[r][i % S] = vfmaq_f32(acc[r][i % S], w[3 * i + 2], c);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int u = 1; u < S; u++) acc[r][0] = vaddq_f32(acc[r][0], acc[r][u]);
    for (int r = 0; r < R - 1; r++) vst1q_f32(y + r * OW, acc[r][0]);
    if (last) store_partial(y + (R - 1) * OW, acc[R - 1][0], (int)OW);
    else vst1q_f32(y + (R - 1) * OW, acc[R - 1][0]);
}

static void flat_s2_plane(const dw_plan *d, int64_t OW, const float *win, const float *wk, float bias, float *y) {
    float32x4_t w[9];
    for (int t = 0; t < 9; t++) w[t] = vld1q_dup_f32(wk + t);
    const float32x4_t vb = vdupq_n_f32(bias);
    const float *x0 = win + d->ftoff[0], *x1 = win + d->ftoff[1], *x2 = win + d->ftoff[2];
    for (int64_t k = 0; k < d->ntiles; k++) {
        const int64_t p = d->ftile[k], q = d->ftilein[k];
        const int32_t *mk = d->fmaskph + d->ftilemk[k];
        const int last = OW < LANES && k == d->ntiles - 1;
        switch (d->ftileR[k]) {
        case 4: flat_s2(4, x0 + q, x1 + q, x2 + q, OW, mk, w, vb, y + p, last); break;
        case 3: flat_s2(3, x0 + q, x1 + q, x2 + q, OW, mk, w, vb, y + p, last); break;
        case 2: flat_s2(2, x0 + q, x1 + q, x2 + q, OW, mk, w, vb, y + p, last); break;
        default: flat_s2(1, x0 + q, x1 + q, x2 + q, OW, mk, w, vb, y + p, last); break;
        }
    }
}

// The output planes of input plane (n, c), whose phase planes flat_build already wrote into win.
static void flat_plane(const cnb_geom *g, const dw_plan *d, const cnb_weights *wt, const float *win, float *y,
                       int64_t n, int64_t c) {
    const int64_t HWo = g->OH * g->OW;
    for (int64_t q = 0; q < d->m; q++) {
        const int64_t k = c * d->m + q;
        float *yk = y + (n * g->K + k) * HWo;
        if (d->fs2) flat_s2_plane(d, g->OW, win, wt->weight + k * 9, wt->bias[k], yk);
        else if (d->fs1) flat_s1_plane(d, g->OW, win, wt->weight + k * 9, wt->bias[k], yk);
        else flat3x3(d, win, wt->weight + k * 9, wt->bias[k], y + (n * g->K + k) * HWo, HWo);
    }
}

// This thread's share of the units: planes, or row blocks of planes.
// ---- 3x3 pad 1, stride 1 or 2, lanes = pixels straight from the input (see rv_applies) ---------------------

// Output rows [o0, o1) of vector column [c, c + 4) of plane xp (H x W, W >= 4) into yp, weights w[9], bias b:
// input row r loaded once as its left, centre and right neighbours (the padding shifted in by vext at the
// plane's edges: NEON has no masked load) into the three output rows it feeds; output row r - 1 is stored
// once input row r is in. FIRST / LAST: the column touches the left / right padding.
static inline __attribute__((always_inline)) void rv_col(const bool FIRST, const bool LAST, const float *xp,
                                                         float *yp, int64_t H, int64_t W, int64_t o0, int64_t o1,
                                                         int64_t c, const float32x4_t *w, float32x4_t b) {
    const int64_t r0 = o0 > 0 ? o0 - 1 : 0, r1 = o1 < H ? o1 + 1 : H;
    const float32x4_t z = vdupq_n_f32(0.f);
    const float *xr = xp + r0 * W + c;
    float *yr = yp + c;
    float32x4_t above = b, cur = b;   // output rows r - 1 and r
    for (int64_t r = r0; r < r1; r++, xr += W) {
        const float32x4_t C = vld1q_f32(xr);
        const float32x4_t L = FIRST ? vextq_f32(z, C, 3) : vld1q_f32(xr - 1);
        const float32x4_t R = LAST ? vextq_f32(C, z, 1) : vld1q_f32(xr + 1);
        if (r > o0) {
            above = vfmaq_f32(above, w[6], L);
            above = vfmaq_f32(above, w[7], C);
            above = vfmaq_f32(above, w[8], R);
            vst1q_f32(yr + (r - 1) * W, above);
        }
        cur = vfmaq_f32(cur, w[3], L);
        cur = vfmaq_f32(cur, w[4], C);
        cur = vfmaq_f32(cur, w[5], R);
        float32x4_t below = vfmaq_f32(b, w[0], L);
        below = vfmaq_f32(below, w[1], C);
        below = vfmaq_f32(below, w[2], R);
        above = cur, cur = below;
    }
    if (o1 == H) vst1q_f32(yr + (H - 1) * W, above);   // else input row o1 completed output row o1 - 1
}

// Plane xp into yp, stride 1, in bands of `band` output rows (the band's input rows stay in L1).
static void rv_plane(const float *xp, float *yp, int64_t H, int64_t W, int64_t band, const float32x4_t *w,
                     float32x4_t b) {
    for (int64_t o0 = 0; o0 < H; o0 += band) {
        const int64_t o1 = H - o0 < band ? H : o0 + band;
        if (W == LANES) {
            rv_col(true, true, xp, yp, H, W, o0, o1, 0, w, b);
            continue;
        }
        rv_col(true, false, xp, yp, H, W, o0, o1, 0, w, b);
        for (int64_t c = LANES; c < W - LANES; c += LANES) rv_col(false, false, xp, yp, H, W, o0, o1, c, w, b);
        // The last column ends at W, overlapping the one before it (whose outputs it recomputes, identically).
        rv_col(false, true, xp, yp, H, W, o0, o1, W - LANES, w, b);
    }
}

// The left, centre and right neighbours (input columns 2j - 1, 2j, 2j + 1) of the 4 output columns whose
// centres start at column c0 of input row xr: LD2 splits even and odd columns. EDGE: columns outside [0, W)
// read as zero padding (through a zeroed copy of the row's part).
static inline __attribute__((always_inline)) void rv2_taps(const bool EDGE, const float *xr, int64_t c0, int64_t W,
                                                           float32x4_t *L, float32x4_t *C, float32x4_t *R) {
    float32x4x2_t eo;
    float left;
    if (EDGE) {
        float buf[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
        const int64_t n = W - c0 < 8 ? W - c0 : 8;
        memcpy(buf, xr + c0, (size_t)n * sizeof(float));
        eo = vld2q_f32(buf);
        left = c0 > 0 ? xr[c0 - 1] : 0.f;
    } else {
        eo = vld2q_f32(xr + c0);
        left = xr[c0 - 1];
    }
    *C = eo.val[0], *R = eo.val[1];
    *L = vextq_f32(vdupq_n_f32(left), eo.val[1], 3);
}

// Output rows [o0, o1) of the vector column of output columns [oc, oc + 4), stride 2: as rv_col, input row
// 2o + 1 feeding output rows o and o + 1.
static inline __attribute__((always_inline)) void rv2_col(const bool EDGE, const float *xp, float *yp, int64_t H,
                                                          int64_t W, int64_t OW, int64_t o0, int64_t o1, int64_t oc,
                                                          const float32x4_t *w, float32x4_t b) {
    float32x4_t L, C, R, acc = b;
    if (o0 > 0) {
        rv2_taps(EDGE, xp + (2 * o0 - 1) * W, 2 * oc, W, &L, &C, &R);
        acc = vfmaq_f32(acc, w[0], L);
        acc = vfmaq_f32(acc, w[1], C);
        acc = vfmaq_f32(acc, w[2], R);
    }
    for (int64_t o = o0; o < o1; o++) {
        rv2_taps(EDGE, xp + 2 * o * W, 2 * oc, W, &L, &C, &R);
        acc = vfmaq_f32(acc, w[3], L);
        acc = vfmaq_f32(acc, w[4], C);
        acc = vfmaq_f32(acc, w[5], R);
        float32x4_t next = b;
        if (2 * o + 1 < H) {
            rv2_taps(EDGE, xp + (2 * o + 1) * W, 2 * oc, W, &L, &C, &R);
            acc = vfmaq_f32(acc, w[6], L);
            acc = vfmaq_f32(acc, w[7], C);
            acc = vfmaq_f32(acc, w[8], R);
            next = vfmaq_f32(next, w[0], L);
            next = vfmaq_f32(next, w[1], C);
            next = vfmaq_f32(next, w[2], R);
        }
        vst1q_f32(yp + o * OW + oc, acc);
        acc = next;
    }
}

// Plane xp into yp (OH x OW, OW >= 4), stride 2, in bands of `band` output rows.
static void rv2_plane(const float *xp, float *yp, int64_t H, int64_t W, int64_t OH, int64_t OW, int64_t band,
                      const float32x4_t *w, float32x4_t b) {
    for (int64_t o0 = 0; o0 < OH; o0 += band) {
        const int64_t o1 = OH - o0 < band ? OH : o0 + band;
        for (int64_t oc = 0; oc < OW; oc += LANES) {
            const int64_t c = oc + LANES <= OW ? oc : OW - LANES;   // the last overlaps the one before
            if (c > 0 && 2 * c + 8 <= W) rv2_col(false, xp, yp, H, W, OW, o0, o1, c, w, b);
            else rv2_col(true, xp, yp, H, W, OW, o0, o1, c, w, b);
        }
    }
}

// This thread's contiguous share of the planes.
static void rv_share(const cnb_geom *g, const cnb_weights *wt, const cnb_io *io) {
    const int64_t planes = g->N * g->C, HW = g->H * g->W, OHW = g->OH * g->OW;
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    // Bands whose input rows fill half of L1 at most (at least 8 rows).
    const int64_t rows = (int64_t)(cnb_cpu_caches()->l1d / 2 / ((size_t)g->W * sizeof(float))) - 2;
    const int64_t band = rows > 8 ? rows : 8;
    for (int64_t q = planes * t / nt; q < planes * (t + 1) / nt; q++) {
        const int64_t c = q % g->C;
        float32x4_t w[9];
        for (int k = 0; k < 9; k++) w[k] = vdupq_n_f32(wt->weight[c * 9 + k]);
        const float32x4_t b = vdupq_n_f32(wt->bias[c]);
        if (g->sh == 1) rv_plane(io->x + q * HW, io->y + q * OHW, g->H, g->W, band, w, b);
        else rv2_plane(io->x + q * HW, io->y + q * OHW, g->H, g->W, g->OH, g->OW, band / 2, w, b);
    }
}

static void dw_share(const cnb_plan_data *p, const cnb_io *io, char *ws, int64_t units, int64_t blocks) {
    const cnb_geom *g = p->g;
    const dw_plan *d = p->priv;
    float *win = (float *)(ws + (size_t)omp_get_thread_num() * d->thread_bytes);
    memset(win, 0, d->thread_bytes);
    // A contiguous share of the units per thread (as schedule(static) would), walked without a division per
    // unit: they matter next to a 7x7 plane.
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t u0 = units * t / nt, u1 = units * (t + 1) / nt;
    int64_t bl = u0 % blocks, c = u0 / blocks % g->C, n = u0 / blocks / g->C;
    const int64_t plane_in = g->H * g->W;
    // Flat path: the planes are written one ahead into the other window. Reading back at once what was just
    // stored, at overlapping unaligned addresses, would stall on store forwarding.
    float *fw[2] = {win, win + d->thread_bytes / 2 / sizeof(float)};
    if (d->flat && u0 < u1) flat_build(g, d, io->x + u0 * plane_in, fw[0]);
    for (int64_t u = u0; u < u1; u++) {
        if (d->flat) {
            if (u + 1 < u1) flat_build(g, d, io->x + (u + 1) * plane_in, fw[(u + 1 - u0) & 1]);
            flat_plane(g, d, p->w, fw[(u - u0) & 1], io->y, n, c);
        } else {
            dw_block(g, d, p->w, win, io->x, io->y, n, c, bl * g->OH / blocks, (bl + 1) * g->OH / blocks);
        }
        if (++bl == blocks) {
            bl = 0;
            if (++c == g->C) c = 0, n++;
        }
    }
}

cnb_status cnb_conv2d_depthwise_neon_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    const dw_plan *d = p->priv;
    if (d->rv) {
        CNB_TEAM_RUN(io->threads < 1 ? 1 : io->threads, rv_share(g, p->w, io));
        return CNB_OK;
    }
    assert(g->groups == g->C && io->workspace);
    int threads = io->threads < 1 ? 1 : io->threads;
    if (threads > d->tmax) threads = (int)d->tmax;
    // Work units: (n, c) planes, each split into row blocks when there are too few planes to share out evenly.
    const int64_t planes = g->N * g->C;
    int64_t blocks = 1;
    if (threads > 1 && !d->flat && planes % threads != 0 && planes < 8 * threads) {
        blocks = (8 * threads + planes - 1) / planes;
        if (blocks > g->OH) blocks = g->OH;
    }
    const int64_t units = planes * blocks;
    char *ws = (char *)(((uintptr_t)io->workspace + 63) & ~(uintptr_t)63);

    CNB_TEAM_RUN(threads, dw_share(p, io, ws, units, blocks));
    return CNB_OK;
}
