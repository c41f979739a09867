// batchnorm2d.direct.scalar: BatchNorm2d forward (eval and train), NCHW float32 in and out; the portable
// twin of batchnorm2d.direct.avx2 (same chunks and merge): y = (x - mh) * scale + shift with the
// coefficients folded once per run in double; train statistics from fixed pieces of <= 2048 values per
// plane, combined by Chan et al.'s formula. Plain C whose inner loops gcc -O3 vectorises for the baseline ISA.
#include <assert.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/cpu.h"
#include "core/registry.h"

cnb_status cnb_batchnorm2d_direct_scalar_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_batchnorm2d_direct_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                              cnb_error *err);
cnb_status cnb_batchnorm2d_direct_scalar_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_batchnorm2d_direct_scalar_free(cnb_plan_data *p);

// Values per statistics chunk (a plane is cut into ceil(HW / CHUNK) chunks). A constant, not a cache-derived
// size: the chunks fix the summation order, and with it the bits of the statistics, whatever the thread
// count or machine.
enum { CHUNK = 2048 };

// Float lanes of the block sums: four 128-bit vectors each for S1 and S2 (16 registers on SSE2 and NEON).
enum { LANES = 16 };

// y = (x - mh) * sc + sh. mh is the mean rounded to float: x - mh is exact for x within a factor 2 of it
// (Sterbenz), so inputs near 1e4 with a small spread keep their digits; the rounding of the mean
// (mean - mh) is folded into sh, computed in double.
typedef struct coef {
    float mh, sc, sh;
} coef;

// Mean and sum of squared deviations of one chunk.
typedef struct part {
    double mean, m2;
} part;

// Sums of d = x - k and d^2 over a chunk.
typedef struct sums {
    double s1, s2;
} sums;

// H * W is bounded by the input's size only when that is not empty: with N or C = 0 it may overflow (and no
// run needs chunks).
static int64_t chunks_per_plane(const cnb_geom *g) { return g->in_numel ? (g->H * g->W + CHUNK - 1) / CHUNK : 0; }

cnb_status cnb_batchnorm2d_direct_scalar_supports(const cnb_geom *g, cnb_error *why) {
    (void)g, (void)why;
    return CNB_OK;
}

// Workspace: per-chunk partials (train) then per-channel coefficients: run() may be called concurrently
// on one plan, so neither can live in priv.
cnb_status cnb_batchnorm2d_direct_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                              cnb_error *err) {
    (void)w, (void)err;
    p->priv = NULL;
    p->workspace_bytes = (size_t)g->C * sizeof(coef);
    if (g->use_batch_stats) p->workspace_bytes += (size_t)(g->N * g->C * chunks_per_plane(g)) * sizeof(part);
    return CNB_OK;
}

// Without FMA in the baseline ISA (and with -ffp-contract=off) this rounds after the multiply and after
// the add; x - mh is exact where it matters (see coef).
static void norm_run(const float *x, float *y, int64_t len, coef k) {
    for (int64_t i = 0; i < len; i++) y[i] = (x[i] - k.mh) * k.sc + k.sh;
}

// Float sums over short fixed blocks, then double: each float lane adds at most 4 terms and the 4
// lane groups are added pairwise before going to double, so a block sum of squares is within ~7 float
// roundings (the square rounds apart: no FMA in the baseline ISA). Converting every value to double
// instead would spend more on conversions than on the sums.
// With xn, it also normalises xn[0, m) into yn by cn, interleaved so that the sums' arithmetic overlaps
// the normalisation's memory traffic; the sums are the same either way.
static sums float_sums(const float *p, int64_t m, float k, const float *xn, float *yn, coef cn) {
    double sd[LANES / 4] = {0}, qd[LANES / 4] = {0};
    int64_t i = 0;
    while (i + LANES <= m) {
        float s[LANES] = {0}, q[LANES] = {0};
        const int64_t i0 = i;
        for (int j = 0; j < 4 && i + LANES <= m; j++, i += LANES)
            for (int l = 0; l < LANES; l++) {
                const float d = p[i + l] - k;
                s[l] += d, q[l] += d * d;
            }
        if (xn) norm_run(xn + i0, yn + i0, i - i0, cn);
        for (int l = 0; l < LANES / 4; l++) {
            sd[l] += (double)((s[l] + s[l + LANES / 4]) + (s[l + LANES / 2] + s[l + 3 * LANES / 4]));
            qd[l] += (double)((q[l] + q[l + LANES / 4]) + (q[l + LANES / 2] + q[l + 3 * LANES / 4]));
        }
    }
    if (xn) norm_run(xn + i, yn + i, m - i, cn);
    double t1 = 0.0, t2 = 0.0;
    for (; i < m; i++) {
        const double d = (double)(p[i] - k);
        t1 += d, t2 += d * d;
    }
    for (int l = 0; l < LANES / 4; l++) t1 += sd[l], t2 += qd[l];
    return (sums){t1, t2};
}

// The same sums with every value in double (x - k exact there): the fallback for chunks the float sums
// cannot take (overflow, NaN, values far below the float range's middle).
static sums double_sums(const float *p, int64_t m, double k) {
    double s[4] = {0}, q[4] = {0};
    int64_t i = 0;
    for (; i + 4 <= m; i += 4)
        for (int l = 0; l < 4; l++) {
            const double d = (double)p[i + l] - k;
            s[l] += d, q[l] += d * d;
        }
    double t1 = 0.0, t2 = 0.0;
    for (; i < m; i++) {
        const double d = (double)p[i] - k;
        t1 += d, t2 += d * d;
    }
    for (int l = 0; l < 4; l++) t1 += s[l], t2 += q[l];
    return (sums){t1, t2};
}

// M2 = S2 - S1^2/m cancels when the shift k is far from the mean: S2/M2 = 1 + (k - mean)^2 / var. Accept
// the float sums when that factor is at most 1.25, and when S2 is finite and well above float underflow
// (or exactly zero with S1: a constant chunk).
static bool well_conditioned(sums s, int64_t m) {
    const double dm = (double)m;
    return isfinite(s.s2) && s.s1 * s.s1 <= 0.2 * s.s2 * dm &&
           (s.s2 >= dm * 0x1p-100 || (s.s2 == 0.0 && s.s1 == 0.0));
}

// One chunk p[0, m). Shifted by k, the mean of its first values; if that shift is poor (factor above),
// again by the mean just found, which leaves S1 ~ 0; if the float sums still cannot be trusted, in double.
// Every choice depends on the chunk's values only: the result does not depend on the thread count.
// With xn, the first pass also normalises xn[0, m) into yn by cn (see float_sums).
static part chunk_stats(const float *p, int64_t m, const float *xn, float *yn, coef cn) {
    const int64_t h = m < 16 ? m : 16;
    double k0 = 0.0;
    for (int64_t i = 0; i < h; i++) k0 += p[i];
    float k = (float)(k0 / (double)h);
    sums s = float_sums(p, m, k, xn, yn, cn);
    if (!well_conditioned(s, m)) {
        const float k1 = (float)(k + s.s1 / (double)m);
        if (isfinite(k1)) {
            k = k1;
            s = float_sums(p, m, k, NULL, NULL, cn);
        }
        if (!well_conditioned(s, m)) {
            if (!isfinite(k)) k = p[0];
            s = double_sums(p, m, k);
        }
    }
    const double dm = (double)m;
    double m2 = s.s2 - s.s1 * (s.s1 / dm);
    if (m2 < 0) m2 = 0;  // rounding; a NaN passes through
    return (part){k + s.s1 / dm, m2};
}


#include "kernels/scalar/batchnorm2d_direct.h"

cnb_status cnb_batchnorm2d_direct_scalar_run(const cnb_plan_data *p, const cnb_io *io) { return bn_direct_run(p, io); }

void cnb_batchnorm2d_direct_scalar_free(cnb_plan_data *p) { (void)p; }
