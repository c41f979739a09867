// conv2d.depthwise.avx2: depthwise Conv2d (groups == in_channels; output channel k reads input channel k / mult),
// NCHW in and out, direct. 3x3 pad-1 layers of stride 1, and of stride 2 on planes up to half of L2 (MobileNet's),
// go straight from the input with lanes = 8 adjacent output pixels of a row, each input row loaded once into the
// output rows it feeds (rv); larger stride-2 planes go 8 channels at a time with lanes = channels through a ring of
// transposed rows (rb). Otherwise output vectors of 8 adjacent pixels, one FMA per tap on unaligned loads: small
// zero-padded 3x3 planes go "flat" (input split by stride phase, column padding masked, whole planes at a time);
// the rest go by rows through a window of padded, phase-split rows. Any kernel, stride, dilation, padding mode.
// Needs AVX2+FMA.
#include <assert.h>
#include <immintrin.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/cpu.h"
#include "core/registry.h"
#include "core/status.h"
#include "kernels/avx2/avx2_util.h"
#include "kernels/scalar/team.h"

cnb_status cnb_conv2d_depthwise_avx2_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_conv2d_depthwise_avx2_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err);
cnb_status cnb_conv2d_depthwise_avx2_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_conv2d_depthwise_avx2_free(cnb_plan_data *p);

static const char k_name[] = "conv2d.depthwise.avx2";

enum { MAX_V = 4, MAX_R = 8, LANES = 8, K3_R = 4, FR_MAX = 4 };

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
    // 3x3 pad 1 through a ring of rows, 8 channels at a time (rb_applies): weights and biases per block of 8
    // channels, lanes = channels, [block][9 taps + bias][8] (channels past C zero).
    int rb;
    float *cbw;
    int rv;                   // straight from the input (rv_applies): no tables, no workspace
    int64_t tmax;             // threads the workspace is sized for
    size_t thread_bytes;      // workspace per thread
} dw_plan;

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

cnb_status cnb_conv2d_depthwise_avx2_supports(const cnb_geom *g, cnb_error *why) {
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
    cnb_free(d->cbw);
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
    // Input rows -pad_t .. 2*(OH-1) + 2 - pad_t are read: zero margins of mt rows above and mb below.
    const int64_t mt = g->pad_t, mb = 2 * OH + 1 - g->pad_t - H > 0 ? 2 * OH + 1 - g->pad_t - H : 0;
    d->fPL = ceil_div(LANES + (mt + H + mb) * OW + 2 * LANES, LANES) * LANES;
    if ((size_t)(2 * d->fPL) * sizeof(float) > budget) return CNB_OK;
    for (int64_t j = 0; j < 3; j++) {
        const int64_t b = (j * g->dw - g->pad_l) - 2 * dj[j];
        d->ftoff[j] = b * d->fPL + LANES + (mt - g->pad_t) * OW + dj[j];
    }
    // Tiles: groups of FR_MAX rows and a smaller last group; vectors at 0, 8, ... and one ending at the row's end
    // (rows of < 8 outputs: one vector, whose extra lanes are discarded).
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
        // Tiles: R rows (OW apart) x one vector. Rows of >= 8 outputs get vectors at 0, 8, ... and one ending at
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

// ---- channel-blocked, through a ring of rows ---------------------------------------------------------------
// 3x3, padding 1 (zeros), stride 1 or 2, one output channel per input channel, C >= 8, where rv_applies does not
// (it took these layers since): 8 channels at a time with lanes = channels. Input rows are transposed (8x8) into
// a ring of RB_SLOTS zero-bordered grid rows of 8-lane pixels as the output rows reach them; each output pixel is
// 9 FMAs of whole vectors (no masks, no phase planes), 8 or 7 pixels at a time, transposed back in registers. Each
// slot is W + 10 pixels: the transposes' whole-vector stores past the right border land in the slot's own slack.
// Replaced a whole-plane grid (small planes only) and, for these layers, the flat and row-window paths. Measured,
// 1 thread, against them (same runs): 96x112x112 s2 223 -> 172 us, 144x56x56 s1 154 -> 148, s2 73 -> 66,
// 192x28x28 s1 57 -> 52, 384x14x14 s1 35 -> 30, 576x14x14 s1 50 -> 43, 960x7x7 s1 23.5 -> 22.2; 32x112x112 s1,
// 192x28x28 s2 unchanged, 256x18x18 s2 8% slower.
enum { RB_SLOTS = 4, RB_MAXW = 2048 };

static bool rb_applies(const cnb_geom *g) {
    return g->K == g->C && g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1 && g->sh == g->sw &&
           (g->sh == 1 || g->sh == 2) && g->pad_mode == CNB_PADMODE_ZEROS && g->pad_t == 1 && g->pad_l == 1 &&
           g->pad_b == 1 && g->pad_r == 1 && g->W <= RB_MAXW && g->C >= LANES;
}

// 3x3, padding 1 (zeros), stride 1 or 2, one output channel per input channel: rv_plane, rv2_plane. No copy, no
// transposes: the padding is the loads' masks. Measured against rb, 1 thread, same runs: stride 1 960x7x7 18.7 ->
// 12.9 us, 384x14x14 24.9 -> 15.9, 576x14x14 38.8 -> 24.8, 192x28x28 44.2 -> 32.4, 144x56x56 133 -> 97,
// 32x112x112 113 -> 82, 16x512x512 1684 -> 1661 (in bands of rows that stay in L1; whole planes there were 2.5x
// slower); stride 2 576x14x14 19.7 -> 14.3, 192x28x28 30.4 -> 21.6, 144x56x56 80 -> 67, 96x112x112 148 -> 126,
// 32x224x224 263 -> 235, but 16x512x512 885 -> 1143: stride 2 only on planes up to half of L2.
static bool rv_applies(const cnb_geom *g) {
    if (g->sh == 2 && (size_t)g->H * (size_t)g->W * sizeof(float) > cnb_cpu_caches()->l2 / 2) return false;
    return g->K == g->C && g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1 && g->sh == g->sw &&
           (g->sh == 1 || g->sh == 2) && g->pad_mode == CNB_PADMODE_ZEROS && g->pad_t == 1 && g->pad_l == 1 &&
           g->pad_b == 1 && g->pad_r == 1 && g->W < INT32_MAX / 2;   // rv2's column masks count in int32
}

// Floats of one thread's buffer: the ring.
static size_t rb_floats(const cnb_geom *g) { return (size_t)RB_SLOTS * (size_t)(g->W + 10) * LANES; }

// Weights and biases per block of 8 channels, lanes = channels: [block][9 taps + bias][8], channels past C zero.
static cnb_status rb_plan(const cnb_geom *g, const cnb_weights *w, dw_plan *d) {
    const int64_t nb = ceil_div(g->C, LANES);
    d->cbw = cnb_aligned_alloc(64, (size_t)(nb * 10 * LANES) * sizeof(float));
    if (!d->cbw) return CNB_E_NOMEM;
    const int64_t full = g->C / LANES;
    // Whole blocks by 8x8 transposes of taps 0-7 (a scalar fill was half of a 960x7x7 plan's 5 us).
    for (int64_t b = 0; b < full; b++) {
        const float *wc = w->weight + b * LANES * 9;
        float *o = d->cbw + b * 10 * LANES;
        __m256 r[8];
        for (int l = 0; l < 8; l++) r[l] = _mm256_loadu_ps(wc + l * 9);
        cnb_avx2_transpose8(r);
        for (int t = 0; t < 8; t++) _mm256_store_ps(o + t * LANES, r[t]);
        for (int l = 0; l < 8; l++) o[8 * LANES + l] = wc[l * 9 + 8];
        _mm256_store_ps(o + 9 * LANES, _mm256_loadu_ps(w->bias + b * LANES));
    }
    for (int64_t b = full; b < nb; b++)
        for (int64_t t = 0; t < 10; t++)
            for (int64_t l = 0; l < LANES; l++) {
                const int64_t c = b * LANES + l;
                d->cbw[(b * 10 + t) * LANES + l] = c >= g->C ? 0.f : t < 9 ? w->weight[c * 9 + t] : w->bias[c];
            }
    d->rb = 1;
    return CNB_OK;
}

cnb_status cnb_conv2d_depthwise_avx2_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p, cnb_error *err) {
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
    // fewer than 8 outputs); what the vector copies of build_row write past the interior.
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
    if (rb_applies(g)) {
        if (rb_plan(g, w, d) != CNB_OK) {
            dw_plan_free(d);
            return cnb_fail(err, CNB_E_NOMEM, "%s: out of memory", k_name);
        }
        d->thread_bytes = align64(rb_floats(g) * sizeof(float));
    } else if (fs2_plan(g, d, budget) != CNB_OK || (!d->flat && flat_plan(g, d, budget) != CNB_OK)) {
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

void cnb_conv2d_depthwise_avx2_free(cnb_plan_data *p) {
    dw_plan_free(p->priv);
    p->priv = NULL;
}

// Lane mask of the first n (0..8) lanes, for loads that must not touch memory past the end of an input row.
static inline __m256i first_lanes(int64_t n) {
    static const int32_t k_m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(const void *)(k_m + 8 - n));
}

// Split 16 consecutive floats a:b into their even and odd elements, in order: shuffle_ps picks the even (0x88) or
// odd (0xDD) lanes of each 128-bit half, permute4x64 puts the four 64-bit pairs back in order.
static inline void deinterleave(__m256 a, __m256 b, __m256 *even, __m256 *odd) {
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
}

// Write input row src (W floats) into window row dst. Only input values are written where padding is zero (the
// masked tail loads give zeros, which land on zero padding or slack); other padding modes fill their borders.
static void build_row(const cnb_geom *g, const dw_plan *d, const float *src, float *dst) {
    const int64_t s = g->sw, pl = g->pad_l, W = g->W;
    // The fast copies put every input column at pl + column: a negative padding (a crop, which PyTorch allows
    // with the non-zeros modes) would write before the row. The general copy clips to [lo, hi).
    const bool crop = pl < 0 || g->pad_r < 0;
    if (s == 1 && !crop) {
        float *o = dst + pl;
        int64_t c = 0;
        for (; c + LANES <= W; c += LANES) _mm256_storeu_ps(o + c, _mm256_loadu_ps(src + c));
        if (c < W) _mm256_storeu_ps(o + c, _mm256_maskload_ps(src + c, first_lanes(W - c)));
    } else if (s == 2 && d->nslots == 2 && !crop) {
        // Slot 0 is phase 0 (tap 0), slot 1 phase 1. Index i of both comes from input columns 2i - pl and
        // 2i + 1 - pl.
        float *ev = dst, *od = dst + d->PS;
        const int64_t lo = (pl + 1) / 2;
        for (int64_t i = lo, c = 2 * lo - pl; c < W; i += LANES, c += 2 * LANES) {
            __m256 a, b;
            if (c + 2 * LANES <= W) {
                a = _mm256_loadu_ps(src + c);
                b = _mm256_loadu_ps(src + c + LANES);
            } else {
                a = _mm256_maskload_ps(src + c, first_lanes(W - c < LANES ? W - c : LANES));
                b = _mm256_maskload_ps(src + c + LANES, first_lanes(W - c - LANES > 0 ? W - c - LANES : 0));
            }
            __m256 e, f;
            deinterleave(a, b, &e, &f);
            _mm256_storeu_ps(ev + i, e);
            _mm256_storeu_ps(od + i, f);
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

// Store the first n (1..7) lanes of v: nothing past the row is written, so tiles and threads never overlap.
static inline void store_partial(float *y, __m256 v, int n) {
    __m128 h = _mm256_castps256_ps128(v);
    if (n & 4) {
        _mm_storeu_ps(y, h);
        h = _mm256_extractf128_ps(v, 1);
        y += 4;
    }
    if (n & 2) {
        _mm_storel_pi((__m64 *)(void *)y, h);
        h = _mm_movehl_ps(h, h);
        y += 2;
    }
    if (n & 1) _mm_store_ss(y, h);
}

// One tile: R output rows x V vectors at columns pos[0..V). Row r of the tile reads the window from
// x + r * xstride, tap t at + toff[t]; it writes y + r * ystride. nlane < 8 only for rows shorter than a vector.
// The accumulators are named variables, not an array: gcc keeps an array of vectors in memory across the tap loop.
#define DW_ROW_DECL(r) __m256 a##r##0 = vb, a##r##1 = vb, a##r##2 = vb, a##r##3 = vb;
#define DW_ROW_FMA(r)                                                                 \
    if (R > r) {                                                                      \
        const float *xr = xt + r * xstride;                                           \
        a##r##0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xr + p0), a##r##0);             \
        if (V > 1) a##r##1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xr + p1), a##r##1); \
        if (V > 2) a##r##2 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xr + p2), a##r##2); \
        if (V > 3) a##r##3 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xr + p3), a##r##3); \
    }
#define DW_ROW_STORE(r)                                                               \
    if (R > r) {                                                                      \
        float *yr = y + r * ystride;                                                  \
        if (nlane == LANES) {                                                         \
            _mm256_storeu_ps(yr + p0, a##r##0);                                       \
            if (V > 1) _mm256_storeu_ps(yr + p1, a##r##1);                            \
            if (V > 2) _mm256_storeu_ps(yr + p2, a##r##2);                            \
            if (V > 3) _mm256_storeu_ps(yr + p3, a##r##3);                            \
        } else {                                                                      \
            store_partial(yr, a##r##0, nlane); /* V == 1, pos[0] == 0 */              \
        }                                                                             \
    }
static inline __attribute__((always_inline)) void tile(const int R, const int V, const float *x, int64_t xstride,
                                                       const int64_t *toff, int64_t T, const float *wk, float bias,
                                                       float *y, int64_t ystride, const int *pos, int nlane) {
    const __m256 vb = _mm256_set1_ps(bias);
    const int64_t p0 = pos[0], p1 = V > 1 ? pos[1] : 0, p2 = V > 2 ? pos[2] : 0, p3 = V > 3 ? pos[3] : 0;
    DW_ROW_DECL(0) DW_ROW_DECL(1) DW_ROW_DECL(2) DW_ROW_DECL(3)
    DW_ROW_DECL(4) DW_ROW_DECL(5) DW_ROW_DECL(6) DW_ROW_DECL(7)
    for (int64_t t = 0; t < T; t++) {
        const __m256 wv = _mm256_broadcast_ss(wk + t);
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

// 3x3, dilation 1 in rows, row stride SH (1 or 2): R output rows at a time, the loads of the (R-1)*SH+3 input rows
// they read are shared between them (each feeds up to 3 rows' FMAs), the 9 weights stay in registers. coff[j] is
// where tap column j starts in a window row. Walks the whole row, nv vectors.
static inline __attribute__((always_inline)) void k3x3(const int R, const int SH, const float *xw, int64_t RS,
                                                       const int64_t *coff, const float *wk, float bias, float *y,
                                                       int64_t OW, int64_t nv, int nlane) {
    __m256 w[3][3];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) w[i][j] = _mm256_broadcast_ss(wk + 3 * i + j);
    const float *c[3] = {xw + coff[0], xw + coff[1], xw + coff[2]};
    for (int64_t v = 0; v < nv; v++) {
        // The last vector of a row of >= 8 outputs is moved back to end at the row's end: it recomputes a few
        // outputs (bit-identically) instead of storing a partial vector.
        const int64_t pos = v * LANES + LANES > OW && OW >= LANES ? OW - LANES : v * LANES;
        __m256 acc[MAX_R];
        for (int r = 0; r < R; r++) acc[r] = _mm256_set1_ps(bias);
        // Fully unrolled (the trip counts are constants), so acc[] and w[][] live in registers.
        _Pragma("GCC unroll 16") for (int ir = 0; ir < (R - 1) * SH + 3; ir++)
            _Pragma("GCC unroll 3") for (int j = 0; j < 3; j++) {
                const __m256 xv = _mm256_loadu_ps(c[j] + ir * RS + pos);
                _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {
                    const int i = ir - r * SH;
                    if (i >= 0 && i < 3) acc[r] = _mm256_fmadd_ps(w[i][j], xv, acc[r]);
                }
            }
        if (nlane == LANES)
            for (int r = 0; r < R; r++) _mm256_storeu_ps(y + r * OW + pos, acc[r]);
        else
            for (int r = 0; r < R; r++) store_partial(y + r * OW, acc[r], nlane);
    }
}

typedef void (*k3x3_fn)(const float *, int64_t, const int64_t *, const float *, float, float *, int64_t, int64_t, int);
#define K3X3(R, SH)                                                                                            \
    static void k3x3_##R##_s##SH(const float *xw, int64_t RS, const int64_t *coff, const float *wk, float bias, \
                                 float *y, int64_t OW, int64_t nv, int nlane) {                                \
        k3x3(R, SH, xw, RS, coff, wk, bias, y, OW, nv, nlane);                                                 \
    }
K3X3(1, 1) K3X3(2, 1) K3X3(3, 1) K3X3(4, 1)
K3X3(1, 2) K3X3(2, 2) K3X3(3, 2) K3X3(4, 2)
#undef K3X3
static const k3x3_fn k_k3x3[2][K3_R] = {
    {k3x3_1_s1, k3x3_2_s1, k3x3_3_s1, k3x3_4_s1},
    {k3x3_1_s2, k3x3_2_s2, k3x3_3_s2, k3x3_4_s2},
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
                // The last vector of a row of >= 8 outputs is moved back to end at the row's end: it recomputes a
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
// the planes hold zero padding: masked lanes load zeros, and rows go in increasing order, so what a vector store
// writes past a row is overwritten by the next row or lands, as zeros, in the bottom margin).
static void flat_build(const cnb_geom *g, const dw_plan *d, const float *xp, float *win) {
    const int64_t H = g->H, W = g->W, OW = g->OW, sh = g->sh;
    if (d->fs2) {
        // Even and odd columns of the whole plane (W is even): 16 inputs -> 8 + 8, as in build_row.
        float *ev = win + LANES + g->pad_t * OW, *od = ev + d->fPL;
        const int64_t n = H * W;
        int64_t c = 0;
        __m256 e, f;
        for (; c + 2 * LANES <= n; c += 2 * LANES) {
            deinterleave(_mm256_loadu_ps(xp + c), _mm256_loadu_ps(xp + c + LANES), &e, &f);
            _mm256_storeu_ps(ev + c / 2, e);
            _mm256_storeu_ps(od + c / 2, f);
        }
        if (c < n) {
            deinterleave(_mm256_maskload_ps(xp + c, first_lanes(n - c < LANES ? n - c : LANES)),
                         _mm256_maskload_ps(xp + c + LANES, first_lanes(n - c > LANES ? n - c - LANES : 0)), &e, &f);
            _mm256_storeu_ps(ev + c / 2, e);
            _mm256_storeu_ps(od + c / 2, f);
        }
        return;
    }
    if (g->sw == 1) {
        const int64_t nc = W < OW ? W : OW;
        if (sh == 1 && nc == W && W == OW) {
            // Rows are contiguous on both sides: one copy of the plane.
            float *o = win + d->fpidx[0][0] * d->fPL + LANES - d->frlo * OW;
            int64_t c = 0;
            for (; c + LANES <= H * W; c += LANES) _mm256_storeu_ps(o + c, _mm256_loadu_ps(xp + c));
            if (c < H * W) _mm256_storeu_ps(o + c, _mm256_maskload_ps(xp + c, first_lanes(H * W - c)));
            return;
        }
        for (int64_t ih = 0, r = 0, a = 0; ih < H; ih++) {
            const int p = d->fpidx[a][0];
            float *o = win + p * d->fPL + LANES + (r - d->frlo) * OW;
            const float *src = xp + ih * W;
            // (a, r) = (ih % sh, ih / sh), without a division per row.
            if (++a == sh) a = 0, r++;
            if (p < 0) continue;
            int64_t c = 0;
            for (; c + LANES <= nc; c += LANES) _mm256_storeu_ps(o + c, _mm256_loadu_ps(src + c));
            if (c < nc) _mm256_storeu_ps(o + c, _mm256_maskload_ps(src + c, first_lanes(nc - c)));
        }
        return;
    }
    // Column stride 2: even input columns go to phase b = 0, odd ones to b = 1 (deinterleaved as in build_row),
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
            __m256 a, b;
            if (c + 2 * LANES <= lim) {
                a = _mm256_loadu_ps(src + c);
                b = _mm256_loadu_ps(src + c + LANES);
            } else {
                a = _mm256_maskload_ps(src + c, first_lanes(lim - c < LANES ? lim - c : LANES));
                b = _mm256_maskload_ps(src + c + LANES, first_lanes(lim - c - LANES > 0 ? lim - c - LANES : 0));
            }
            __m256 e, f;
            deinterleave(a, b, &e, &f);
            // An unread phase shares the other's plane: write it first so that the one read wins.
            if (p1 < 0) {
                _mm256_storeu_ps(od + c / 2, f);
                _mm256_storeu_ps(ev + c / 2, e);
            } else {
                _mm256_storeu_ps(ev + c / 2, e);
                _mm256_storeu_ps(od + c / 2, f);
            }
        }
    }
}

// The flat 3x3 kernel: every output vector of the plane (the last one moved back to end at the plane's end, so
// all stores are whole vectors) is 9 FMAs of masked loads at fixed offsets; one partial sum per kernel row keeps
// the dependency chains short.
static void flat3x3(const dw_plan *d, const float *win, const float *wk, float bias, float *y, int64_t n) {
    __m256 w[9];
    for (int t = 0; t < 9; t++) w[t] = _mm256_broadcast_ss(wk + t);
    const float *x[9];
    for (int t = 0; t < 9; t++) x[t] = win + d->ftoff[t];
    const __m256 vb = _mm256_set1_ps(bias);
    for (int64_t v = 0; v < d->fnvec; v++) {
        const int64_t o = v * LANES + LANES > n ? n - LANES : v * LANES;
        const int32_t *mk = d->fmask + v * 3 * LANES;
        const __m256i m0 = _mm256_loadu_si256((const __m256i *)(const void *)mk);
        const __m256i m1 = _mm256_loadu_si256((const __m256i *)(const void *)(mk + LANES));
        const __m256i m2 = _mm256_loadu_si256((const __m256i *)(const void *)(mk + 2 * LANES));
        __m256 r0 = _mm256_fmadd_ps(w[0], _mm256_maskload_ps(x[0] + o, m0), vb);
        __m256 r1 = _mm256_mul_ps(w[3], _mm256_maskload_ps(x[3] + o, m0));
        __m256 r2 = _mm256_mul_ps(w[6], _mm256_maskload_ps(x[6] + o, m0));
        r0 = _mm256_fmadd_ps(w[1], _mm256_maskload_ps(x[1] + o, m1), r0);
        r1 = _mm256_fmadd_ps(w[4], _mm256_maskload_ps(x[4] + o, m1), r1);
        r2 = _mm256_fmadd_ps(w[7], _mm256_maskload_ps(x[7] + o, m1), r2);
        r0 = _mm256_fmadd_ps(w[2], _mm256_maskload_ps(x[2] + o, m2), r0);
        r1 = _mm256_fmadd_ps(w[5], _mm256_maskload_ps(x[5] + o, m2), r1);
        r2 = _mm256_fmadd_ps(w[8], _mm256_maskload_ps(x[8] + o, m2), r2);
        _mm256_storeu_ps(y + o, _mm256_add_ps(_mm256_add_ps(r0, r1), r2));
    }
}

// Stride-1 flat tile: R output rows (OW apart) of one vector at flat output p. Input row ir of the tile feeds
// output rows r = ir - i for kernel rows i, so each of the (R + 2) x 3 loads serves up to 3 FMAs.
static inline __attribute__((always_inline)) void flat_s1(const int R, const float *x0, const float *x1,
                                                          const float *x2, int64_t OW, const int32_t *mk,
                                                          const __m256 *w, __m256 vb, float *y) {
    const __m256i m0 = _mm256_loadu_si256((const __m256i *)(const void *)mk);
    const __m256i m2 = _mm256_loadu_si256((const __m256i *)(const void *)(mk + LANES));
    // Short tiles split each row's sum by kernel row (S partial sums): a single chain of 9 dependent FMAs would
    // set the pace.
    const int S = R == 1 ? 3 : R == 2 ? 2 : 1;
    __m256 acc[FR_MAX][3];
    for (int r = 0; r < R; r++) {
        acc[r][0] = vb;
        for (int u = 1; u < S; u++) acc[r][u] = _mm256_setzero_ps();
    }
    _Pragma("GCC unroll 8") for (int ir = 0; ir < R + 2; ir++) {
        const __m256 a = _mm256_maskload_ps(x0 + ir * OW, m0), b = _mm256_loadu_ps(x1 + ir * OW),
                     c = _mm256_maskload_ps(x2 + ir * OW, m2);
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {
            const int i = ir - r;
            if (i >= 0 && i < 3) {
                acc[r][i % S] = _mm256_fmadd_ps(w[3 * i], a, acc[r][i % S]);
                acc[r][i % S] = _mm256_fmadd_ps(w[3 * i + 1], b, acc[r][i % S]);
                acc[r][i % S] = _mm256_fmadd_ps(w[3 * i + 2], c, acc[r][i % S]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int u = 1; u < S; u++) acc[r][0] = _mm256_add_ps(acc[r][0], acc[r][u]);
    for (int r = 0; r < R; r++) _mm256_storeu_ps(y + r * OW, acc[r][0]);
}

static void flat_s1_plane(const dw_plan *d, int64_t OW, const float *win, const float *wk, float bias, float *y) {
    __m256 w[9];
    for (int t = 0; t < 9; t++) w[t] = _mm256_broadcast_ss(wk + t);
    const __m256 vb = _mm256_set1_ps(bias);
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
// feeds output rows r = (ir - i) / 2 for kernel rows i of the same parity. For rows of < 8 outputs the extra
// lanes are garbage: each row's store runs into the next row, which is stored after it, except for the plane's
// last row (last != 0), stored partially.
static inline __attribute__((always_inline)) void flat_s2(const int R, const float *x0, const float *x1,
                                                          const float *x2, int64_t OW, const int32_t *mk,
                                                          const __m256 *w, __m256 vb, float *y, int last) {
    const __m256i m0 = _mm256_loadu_si256((const __m256i *)(const void *)mk);
    const __m256i m2 = _mm256_loadu_si256((const __m256i *)(const void *)(mk + LANES));
    // Short tiles split each row's sum by kernel row (S partial sums): a single chain of 9 dependent FMAs would
    // set the pace.
    const int S = R == 1 ? 3 : R == 2 ? 2 : 1;
    __m256 acc[FR_MAX][3];
    for (int r = 0; r < R; r++) {
        acc[r][0] = vb;
        for (int u = 1; u < S; u++) acc[r][u] = _mm256_setzero_ps();
    }
    _Pragma("GCC unroll 9") for (int ir = 0; ir < 2 * R + 1; ir++) {
        const __m256 a = _mm256_maskload_ps(x0 + ir * OW, m0), b = _mm256_loadu_ps(x1 + ir * OW),
                     c = _mm256_maskload_ps(x2 + ir * OW, m2);
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {
            const int i = ir - 2 * r;
            if (i >= 0 && i < 3) {
                acc[r][i % S] = _mm256_fmadd_ps(w[3 * i], a, acc[r][i % S]);
                acc[r][i % S] = _mm256_fmadd_ps(w[3 * i + 1], b, acc[r][i % S]);
                acc[r][i % S] = _mm256_fmadd_ps(w[3 * i + 2], c, acc[r][i % S]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int u = 1; u < S; u++) acc[r][0] = _mm256_add_ps(acc[r][0], acc[r][u]);
    for (int r = 0; r < R - 1; r++) _mm256_storeu_ps(y + r * OW, acc[r][0]);
    if (last) store_partial(y + (R - 1) * OW, acc[R - 1][0], (int)OW);
    else _mm256_storeu_ps(y + (R - 1) * OW, acc[R - 1][0]);
}

static void flat_s2_plane(const dw_plan *d, int64_t OW, const float *win, const float *wk, float bias, float *y) {
    __m256 w[9];
    for (int t = 0; t < 9; t++) w[t] = _mm256_broadcast_ss(wk + t);
    const __m256 vb = _mm256_set1_ps(bias);
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

// ---- 3x3 pad 1, channel-blocked through a ring of rows: run (see rb_applies) -------------------------------

// Grid row r (input row r - 1; rows 0 and H + 1 are the zero padding) of the nc channels at xb into slot:
// 8 columns of 8 channels per transpose. A partial last block loads zeros past the row and stores them, whole,
// on the right border and the slot's slack (its left border, column 0, is never written and stays zero).
static void rb_fill(const float *xb, int64_t HW, int64_t H, int64_t W, int64_t nc, int64_t r, float *slot) {
    if (r == 0 || r == H + 1) {
        memset(slot, 0, (size_t)(W + 2) * LANES * sizeof(float));
        return;
    }
    const float *src = xb + (r - 1) * W;
    for (int64_t c = 0; c < W; c += LANES) {
        const int64_t m = W - c < LANES ? W - c : LANES;
        __m256 v[8];
        for (int i = 0; i < 8; i++) v[i] = i < nc ? cnb_avx2_load_n(src + i * HW + c, m) : _mm256_setzero_ps();
        cnb_avx2_transpose8(v);
        for (int k = 0; k < 8; k++) _mm256_store_ps(slot + (c + 1 + k) * LANES, v[k]);
    }
}

// N (<= 7) output pixels from column ow0 of the output row whose window rows are g0, g1, g2, tap by tap: one
// weight load per tap for the N pixels, every input read straight into an FMA (weights held in registers
// across chunks would leave too few for the accumulators). Returned transposed: r[i] = channel i's N outputs
// (lanes past N garbage).
static inline __attribute__((always_inline)) void rb_chunk(const int N, const int SH, const float *g0,
                                                           const float *g1, const float *g2, int64_t ow0,
                                                           const float *wb, __m256 r[8]) {
    __m256 acc[8];
    const __m256 bias = _mm256_load_ps(wb + 9 * LANES);
    for (int j = 0; j < N; j++) acc[j] = bias;
    for (int ti = 0; ti < 3; ti++) {
        const float *gr = (ti == 0 ? g0 : ti == 1 ? g1 : g2) + SH * ow0 * LANES;
        for (int tj = 0; tj < 3; tj++) {
            const __m256 w = _mm256_load_ps(wb + (3 * ti + tj) * LANES);
            for (int j = 0; j < N; j++)
                acc[j] = _mm256_fmadd_ps(_mm256_load_ps(gr + (SH * j + tj) * LANES), w, acc[j]);
        }
    }
    for (int j = 0; j < 8; j++) r[j] = j < N ? acc[j] : _mm256_setzero_ps();
    cnb_avx2_transpose8(r);
}

// One output row oh of the block's nc channels (outputs at yb, planes OHW apart), stride SH.
static inline __attribute__((always_inline)) void rb_row(const int SH, const float *g0, const float *g1,
                                                         const float *g2, const float *wb, int64_t oh,
                                                         int64_t OW, int64_t OHW, int64_t nc, float *yb) {
    // Chunks of 8 pixels where they divide the row, else of 7 (MobileNet's widths are multiples of 7).
    const int64_t cw = OW % 8 == 0 ? 8 : 7;
    for (int64_t ow0 = 0; ow0 < OW; ow0 += cw) {
        const int64_t n = OW - ow0 < cw ? OW - ow0 : cw;
        __m256 r[8];
        switch (n) {
        case 8: rb_chunk(8, SH, g0, g1, g2, ow0, wb, r); break;
        case 7: rb_chunk(7, SH, g0, g1, g2, ow0, wb, r); break;
        case 6: rb_chunk(6, SH, g0, g1, g2, ow0, wb, r); break;
        case 5: rb_chunk(5, SH, g0, g1, g2, ow0, wb, r); break;
        case 4: rb_chunk(4, SH, g0, g1, g2, ow0, wb, r); break;
        case 3: rb_chunk(3, SH, g0, g1, g2, ow0, wb, r); break;
        case 2: rb_chunk(2, SH, g0, g1, g2, ow0, wb, r); break;
        default: rb_chunk(1, SH, g0, g1, g2, ow0, wb, r); break;
        }
        // Whole stores where the lanes past n land on this plane's later outputs (written after).
        const int64_t o = oh * OW + ow0;
        if (o + LANES <= OHW)
            for (int64_t i = 0; i < nc; i++) _mm256_storeu_ps(yb + i * OHW + o, r[i]);
        else
            for (int64_t i = 0; i < nc; i++) cnb_avx2_store_n(yb + i * OHW + o, r[i], n);
    }
}

// Channels [c0, c0 + nc) of image n (nc <= 8): the ring (4 slots of SS floats) filled as the output rows reach
// its rows; slot r % 4 holds grid row r.
static void rb_block(const cnb_geom *g, const dw_plan *d, const float *x, float *y, int64_t n, int64_t c0,
                     float *ring) {
    const int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW, HW = H * W, OHW = OH * OW, sh = g->sh;
    const int64_t SS = (W + 10) * LANES, nc = g->C - c0 < LANES ? g->C - c0 : LANES;
    const float *xb = x + (n * g->C + c0) * HW;
    float *yb = y + (n * g->K + c0) * OHW;
    const float *wb = d->cbw + c0 / LANES * 10 * LANES;
    int64_t filled = 0;
    for (int64_t oh = 0; oh < OH; oh++) {
        const int64_t top = sh * oh;
        for (; filled <= top + 2; filled++) rb_fill(xb, HW, H, W, nc, filled, ring + filled % RB_SLOTS * SS);
        const float *g0 = ring + top % RB_SLOTS * SS, *g1 = ring + (top + 1) % RB_SLOTS * SS;
        const float *g2 = ring + (top + 2) % RB_SLOTS * SS;
        if (sh == 1) rb_row(1, g0, g1, g2, wb, oh, OW, OHW, nc, yb);
        else rb_row(2, g0, g1, g2, wb, oh, OW, OHW, nc, yb);
    }
}

// ---- 3x3 pad 1 stride 1, lanes = pixels straight from the input (see rv_applies) ----------------------------

// Output rows [o0, o1) of vector column [c, c + 8) of plane xp (H x W) into yp, weights w[9], bias b. Input row
// r is loaded once as its left, centre and right neighbours (L, C, R: lanes = output columns; lanes reading
// padding masked to zero by the loads themselves) and feeds the three output rows it touches, held in a
// rolling set of accumulators; output row r - 1 is complete, and stored, once input row r is in. FIRST / LAST:
// the column touches the left / right padding; NARROW: W < 8 (one column whose lanes past W are not outputs:
// stores run into the next rows, written after, except where they would leave the plane: stored partially).
static inline __attribute__((always_inline)) void rv_col(const bool FIRST, const bool LAST, const bool NARROW,
                                                         const float *xp, float *yp, int64_t H, int64_t W,
                                                         int64_t o0, int64_t o1, int64_t c, const __m256 *w,
                                                         __m256 b, __m256i lm, __m256i cm, __m256i rm) {
    const int64_t r0 = o0 > 0 ? o0 - 1 : 0, r1 = o1 < H ? o1 + 1 : H;
    const float *xr = xp + r0 * W + c;
    float *yr = yp + c;
    __m256 above = b, cur = b;   // output rows r - 1 and r
    for (int64_t r = r0; r < r1; r++, xr += W) {
        const __m256 L = FIRST ? _mm256_maskload_ps(xr - 1, lm) : _mm256_loadu_ps(xr - 1);
        const __m256 C = NARROW ? _mm256_maskload_ps(xr, cm) : _mm256_loadu_ps(xr);
        const __m256 R = LAST ? _mm256_maskload_ps(xr + 1, rm) : _mm256_loadu_ps(xr + 1);
        if (r > o0) {
            above = _mm256_fmadd_ps(w[6], L, above);
            above = _mm256_fmadd_ps(w[7], C, above);
            above = _mm256_fmadd_ps(w[8], R, above);
            if (NARROW && r * W + LANES - W > H * W) _mm256_maskstore_ps(yr + (r - 1) * W, cm, above);
            else _mm256_storeu_ps(yr + (r - 1) * W, above);
        }
        cur = _mm256_fmadd_ps(w[3], L, cur);
        cur = _mm256_fmadd_ps(w[4], C, cur);
        cur = _mm256_fmadd_ps(w[5], R, cur);
        __m256 below = _mm256_fmadd_ps(w[0], L, b);
        below = _mm256_fmadd_ps(w[1], C, below);
        below = _mm256_fmadd_ps(w[2], R, below);
        above = cur, cur = below;
    }
    if (o1 < H) return;   // input row o1 completed output row o1 - 1
    if (NARROW) _mm256_maskstore_ps(yr + (H - 1) * W, cm, above);
    else _mm256_storeu_ps(yr + (H - 1) * W, above);
}

// Plane xp into yp, in bands of `band` output rows (the band's input rows stay in L1 while its columns pass).
static void rv_plane(const float *xp, float *yp, int64_t H, int64_t W, int64_t band, const float *wk, float bias) {
    __m256 w[9];
    for (int t = 0; t < 9; t++) w[t] = _mm256_broadcast_ss(wk + t);
    const __m256 b = _mm256_set1_ps(bias);
    // Loaded at 8 - k: lanes >= k set; at 16 - n: lanes < n set.
    static const int32_t k_m[24] = {0, 0, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    const __m256i none = _mm256_setzero_si256();
    if (W < LANES) {
        // Lanes [1, W) read column lane - 1, [0, W) their own, [0, W - 1) column lane + 1: the others are padding
        // or not outputs.
        const __m256i cm = _mm256_loadu_si256((const __m256i *)(k_m + 16 - W));
        const __m256i lm = _mm256_and_si256(cm, _mm256_loadu_si256((const __m256i *)(k_m + 7)));
        const __m256i rm = _mm256_loadu_si256((const __m256i *)(k_m + 17 - W));
        rv_col(true, true, true, xp, yp, H, W, 0, H, 0, w, b, lm, cm, rm);
        return;
    }
    const __m256i lm = _mm256_loadu_si256((const __m256i *)(k_m + 7));   // lane 0 reads column -1
    const __m256i rm = _mm256_loadu_si256((const __m256i *)(k_m + 9));   // lane 7 reads column W
    for (int64_t o0 = 0; o0 < H; o0 += band) {
        const int64_t o1 = H - o0 < band ? H : o0 + band;
        if (W == LANES) {
            rv_col(true, true, false, xp, yp, H, W, o0, o1, 0, w, b, lm, none, rm);
            continue;
        }
        rv_col(true, false, false, xp, yp, H, W, o0, o1, 0, w, b, lm, none, none);
        for (int64_t c = LANES; c < W - LANES; c += LANES)
            rv_col(false, false, false, xp, yp, H, W, o0, o1, c, w, b, none, none, none);
        // The last column ends at W, overlapping the one before it (whose outputs it recomputes, identically).
        rv_col(false, true, false, xp, yp, H, W, o0, o1, W - LANES, w, b, none, none, rm);
    }
}

// ---- 3x3 pad 1 stride 2, lanes = pixels straight from the input (see rv_applies) ----------------------------

// Even lanes of the 16 floats a, b.
static inline __m256 evens(__m256 a, __m256 b) {
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
}

// The left, centre and right neighbours (input columns 2j - 1, 2j, 2j + 1 of output column j) of 8 output
// columns whose centres start at p. EDGE: loads masked by m (columns outside the row read as zero padding).
static inline __attribute__((always_inline)) void rv2_taps(const bool EDGE, const float *p, const __m256i *m,
                                                           __m256 *L, __m256 *C, __m256 *R) {
    const __m256 a1 = EDGE ? _mm256_maskload_ps(p - 1, m[0]) : _mm256_loadu_ps(p - 1);
    const __m256 b1 = EDGE ? _mm256_maskload_ps(p + 7, m[1]) : _mm256_loadu_ps(p + 7);
    const __m256 a = EDGE ? _mm256_maskload_ps(p, m[2]) : _mm256_loadu_ps(p);
    const __m256 b = EDGE ? _mm256_maskload_ps(p + 8, m[3]) : _mm256_loadu_ps(p + 8);
    *L = evens(a1, b1);
    deinterleave(a, b, C, R);
}

// Output rows [o0, o1) of the vector column of output columns [oc, oc + 8) of plane xp (H x W) into yp (OH x
// OW): as rv_col, with input row 2o + 1 feeding output rows o and o + 1. NARROW: OW < 8 (stores run into the
// next rows, written after, except where they would leave the plane: masked by sm).
static inline __attribute__((always_inline)) void rv2_col(const bool EDGE, const bool NARROW, const float *xp,
                                                          float *yp, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                                          int64_t o0, int64_t o1, int64_t oc, const __m256 *w,
                                                          __m256 b, const __m256i *m, __m256i sm) {
    const float *xc = xp + 2 * oc;
    __m256 L, C, R, acc = b;
    if (o0 > 0) {
        rv2_taps(EDGE, xc + (2 * o0 - 1) * W, m, &L, &C, &R);
        acc = _mm256_fmadd_ps(w[0], L, acc);
        acc = _mm256_fmadd_ps(w[1], C, acc);
        acc = _mm256_fmadd_ps(w[2], R, acc);
    }
    for (int64_t o = o0; o < o1; o++) {
        rv2_taps(EDGE, xc + 2 * o * W, m, &L, &C, &R);
        acc = _mm256_fmadd_ps(w[3], L, acc);
        acc = _mm256_fmadd_ps(w[4], C, acc);
        acc = _mm256_fmadd_ps(w[5], R, acc);
        __m256 next = b;
        if (2 * o + 1 < H) {
            rv2_taps(EDGE, xc + (2 * o + 1) * W, m, &L, &C, &R);
            acc = _mm256_fmadd_ps(w[6], L, acc);
            acc = _mm256_fmadd_ps(w[7], C, acc);
            acc = _mm256_fmadd_ps(w[8], R, acc);
            next = _mm256_fmadd_ps(w[0], L, next);
            next = _mm256_fmadd_ps(w[1], C, next);
            next = _mm256_fmadd_ps(w[2], R, next);
        }
        if (NARROW && (o + 1) * OW + LANES - OW > OH * OW) _mm256_maskstore_ps(yp + o * OW + oc, sm, acc);
        else _mm256_storeu_ps(yp + o * OW + oc, acc);
        acc = next;
    }
}

// Lanes whose input column c0 + lane lies in [0, W).
static inline __m256i cols_in(int64_t c0, int64_t W) {
    const __m256i col = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)c0));
    return _mm256_and_si256(_mm256_cmpgt_epi32(col, _mm256_set1_epi32(-1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32((int)W), col));
}

// The masks of rv2_taps for the vector column at output column oc.
static inline void rv2_masks(int64_t oc, int64_t W, __m256i m[4]) {
    m[0] = cols_in(2 * oc - 1, W), m[1] = cols_in(2 * oc + 7, W);
    m[2] = cols_in(2 * oc, W), m[3] = cols_in(2 * oc + 8, W);
}

// Plane xp into yp, stride 2, in bands of `band` output rows.
static void rv2_plane(const float *xp, float *yp, int64_t H, int64_t W, int64_t OH, int64_t OW, int64_t band,
                      const float *wk, float bias) {
    __m256 w[9];
    for (int t = 0; t < 9; t++) w[t] = _mm256_broadcast_ss(wk + t);
    const __m256 b = _mm256_set1_ps(bias);
    __m256i m[4];
    if (OW < LANES) {
        rv2_masks(0, W, m);
        const __m256i sm = cols_in(LANES - OW, LANES);   // lanes < OW
        rv2_col(true, true, xp, yp, H, W, OH, OW, 0, OH, 0, w, b, m, sm);
        return;
    }
    const __m256i none = _mm256_setzero_si256();
    for (int64_t o0 = 0; o0 < OH; o0 += band) {
        const int64_t o1 = OH - o0 < band ? OH : o0 + band;
        // Columns reading only inside the row: 2 oc - 1 >= 0 and 2 oc + 15 < W.
        for (int64_t oc = 0; oc < OW; oc += LANES) {
            const int64_t c = oc + LANES <= OW ? oc : OW - LANES;   // the last overlaps the one before
            if (c > 0 && 2 * c + 15 < W) {
                rv2_col(false, false, xp, yp, H, W, OH, OW, o0, o1, c, w, b, m, none);
            } else {
                rv2_masks(c, W, m);
                rv2_col(true, false, xp, yp, H, W, OH, OW, o0, o1, c, w, b, m, none);
            }
        }
    }
}

// This thread's contiguous share of the planes.
static void rv_share(const cnb_geom *g, const cnb_weights *w, const cnb_io *io) {
    const int64_t planes = g->N * g->C, HW = g->H * g->W, OHW = g->OH * g->OW;
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const float *wt = w->weight, *bias = w->bias;
    // Bands whose input rows fill half of L1 at most (at least 8 rows).
    const int64_t rows = (int64_t)(cnb_cpu_caches()->l1d / 2 / ((size_t)g->W * sizeof(float))) - 2;
    const int64_t band = rows > 8 ? rows : 8;
    for (int64_t q = planes * t / nt; q < planes * (t + 1) / nt; q++) {
        const int64_t c = q % g->C;
        if (g->sh == 1) rv_plane(io->x + q * HW, io->y + q * OHW, g->H, g->W, band, wt + c * 9, bias[c]);
        else rv2_plane(io->x + q * HW, io->y + q * OHW, g->H, g->W, g->OH, g->OW, band / 2, wt + c * 9, bias[c]);
    }
}

// This thread's contiguous share of the (image, block of 8 channels) units.
static void rb_share(const cnb_geom *g, const dw_plan *d, const cnb_io *io, char *ws) {
    const int64_t nb = ceil_div(g->C, LANES), units = g->N * nb;
    float *ring = (float *)(ws + (size_t)omp_get_thread_num() * d->thread_bytes);
    memset(ring, 0, rb_floats(g) * sizeof(float));   // the left borders stay zero
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    for (int64_t u = units * t / nt; u < units * (t + 1) / nt; u++)
        rb_block(g, d, io->x, io->y, u / nb, u % nb * LANES, ring);
}

// This thread's share of the units: planes, or row blocks of planes.
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

cnb_status cnb_conv2d_depthwise_avx2_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    const dw_plan *d = p->priv;
    if (d->rv) {
        CNB_TEAM_RUN(io->threads < 1 ? 1 : io->threads, rv_share(g, p->w, io));
        return CNB_OK;
    }
    assert(g->groups == g->C && io->workspace);
    int threads = io->threads < 1 ? 1 : io->threads;
    if (threads > d->tmax) threads = (int)d->tmax;
    char *ws = (char *)(((uintptr_t)io->workspace + 63) & ~(uintptr_t)63);
    if (d->rb) {
        CNB_TEAM_RUN(threads, rb_share(g, d, io, ws));
        return CNB_OK;
    }
    // Work units: (n, c) planes, each split into row blocks when there are too few planes to share out evenly.
    const int64_t planes = g->N * g->C;
    int64_t blocks = 1;
    if (threads > 1 && !d->flat && planes % threads != 0 && planes < 8 * threads) {
        blocks = (8 * threads + planes - 1) / planes;
        if (blocks > g->OH) blocks = g->OH;
    }
    const int64_t units = planes * blocks;

    CNB_TEAM_RUN(threads, dw_share(p, io, ws, units, blocks));
    return CNB_OK;
}
