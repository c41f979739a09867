// batchnorm2d.direct.neon: BatchNorm2d forward (eval and train), NCHW float32 in and out. Per channel,
// y = (x - mh) * scale + shift with one FMLA, the coefficients folded once per run in double. Train first
// reduces fixed pieces of <= 2048 values of each plane to a mean and squared deviations, combined in a fixed
// order by Chan, Golub & LeVeque's formula. Needs NEON (AArch64 ASIMD); reached only through the registry.
#include <arm_neon.h>
#include <assert.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/cpu.h"
#include "core/registry.h"

cnb_status cnb_batchnorm2d_direct_neon_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_batchnorm2d_direct_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                            cnb_error *err);
cnb_status cnb_batchnorm2d_direct_neon_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_batchnorm2d_direct_neon_free(cnb_plan_data *p);

// Values per statistics chunk (a plane is cut into ceil(HW / CHUNK) chunks). A constant, not a cache-derived
// size: the chunks fix the summation order, and with it the bits of the statistics, whatever the thread
// count or machine.
enum { CHUNK = 2048 };

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

cnb_status cnb_batchnorm2d_direct_neon_supports(const cnb_geom *g, cnb_error *why) {
    (void)g, (void)why;
    return CNB_OK;
}

// Workspace: per-chunk partials (train) then per-channel coefficients: run() may be called concurrently
// on one plan, so neither can live in priv.
cnb_status cnb_batchnorm2d_direct_neon_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                            cnb_error *err) {
    (void)w, (void)err;
    p->priv = NULL;
    p->workspace_bytes = (size_t)g->C * sizeof(coef);
    if (g->use_batch_stats) p->workspace_bytes += (size_t)(g->N * g->C * chunks_per_plane(g)) * sizeof(part);
    return CNB_OK;
}

// The first n floats at p (n < 4: zeros after them, never reading past them).
static inline float32x4_t load_n(const float *p, int64_t n) {
    if (n >= 4) return vld1q_f32(p);
    float b[4] = {0.f, 0.f, 0.f, 0.f};
    memcpy(b, p, (size_t)(n > 0 ? n : 0) * sizeof *p);
    return vld1q_f32(b);
}

// Lanes 0..rem-1 set (all for rem >= 4, none for rem <= 0).
static inline uint32x4_t tail_mask(int64_t rem) {
    static const int32_t k_lane[4] = {0, 1, 2, 3};
    const int32_t r = rem < 4 ? (int32_t)(rem > 0 ? rem : 0) : 4;
    return vcltq_s32(vld1q_s32(k_lane), vdupq_n_s32(r));
}

static inline float32x4_t and_mask(float32x4_t v, uint32x4_t m) {
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), m));
}

// Adds the 4 lanes of v to the 4 double lanes lo:hi.
static inline void flush_ps(float32x4_t v, float64x2_t *lo, float64x2_t *hi) {
    *lo = vaddq_f64(*lo, vcvt_f64_f32(vget_low_f32(v)));
    *hi = vaddq_f64(*hi, vcvt_high_f64_f32(v));
}

// y[0, len) = (x - mh) * sc + sh, 16 values a step.
static void norm_run(const float *x, float *y, int64_t len, coef k) {
    const float32x4_t mh = vdupq_n_f32(k.mh), sc = vdupq_n_f32(k.sc), sh = vdupq_n_f32(k.sh);
    int64_t i = 0;
    for (; i + 16 <= len; i += 16) {
        const float32x4_t v0 = vsubq_f32(vld1q_f32(x + i), mh);
        const float32x4_t v1 = vsubq_f32(vld1q_f32(x + i + 4), mh);
        const float32x4_t v2 = vsubq_f32(vld1q_f32(x + i + 8), mh);
        const float32x4_t v3 = vsubq_f32(vld1q_f32(x + i + 12), mh);
        vst1q_f32(y + i, vfmaq_f32(sh, v0, sc));
        vst1q_f32(y + i + 4, vfmaq_f32(sh, v1, sc));
        vst1q_f32(y + i + 8, vfmaq_f32(sh, v2, sc));
        vst1q_f32(y + i + 12, vfmaq_f32(sh, v3, sc));
    }
    for (; i + 4 <= len; i += 4) vst1q_f32(y + i, vfmaq_f32(sh, vsubq_f32(vld1q_f32(x + i), mh), sc));
    // The same single-rounding FMLA as the other lanes, so a value's result does not depend on its position.
    if (i < len) {
        float b[4];
        vst1q_f32(b, vfmaq_f32(sh, vsubq_f32(load_n(x + i, len - i), mh), sc));
        memcpy(y + i, b, (size_t)(len - i) * sizeof *b);
    }
}

// Float sums over short fixed blocks, then double: a block is up to 128 values, 8 vector steps of 4 a round,
// step v going to accumulator v % 8 (8 independent add and FMLA chains, enough to cover their latency on
// two pipes), so each float lane adds at most 4 terms; the 8 accumulators are added pairwise before going to
// double, so a block sum of squares is within ~7 float roundings. The last block of a chunk takes whole
// rounds, then single steps (the last one masked) into accumulators 0, 1, ... in turn.
// With xn, it also normalises xn[0, m) into yn by cn, interleaved so that the sums' arithmetic overlaps
// the normalisation's memory traffic; the sums are the same either way.
static sums float_sums(const float *p, int64_t m, float k, const float *xn, float *yn, coef cn) {
    const float32x4_t vk = vdupq_n_f32(k);
    const float32x4_t mh = vdupq_n_f32(cn.mh), sc = vdupq_n_f32(cn.sc), sh = vdupq_n_f32(cn.sh);
    const float64x2_t z = vdupq_n_f64(0.0);
    float64x2_t s_lo = z, s_hi = z, q_lo = z, q_hi = z;
    for (int64_t i = 0; i < m;) {
        float32x4_t s[8], q[8];
        for (int v = 0; v < 8; v++) s[v] = q[v] = vdupq_n_f32(0.f);
        const bool last = i + 128 > m;
        if (last && xn) norm_run(xn + i, yn + i, m - i, cn);
        for (int r = 0; r < 4 && i + 32 <= m; r++, i += 32) {
            for (int v = 0; v < 8; v++) {
                const float32x4_t d = vsubq_f32(vld1q_f32(p + i + 4 * v), vk);
                s[v] = vaddq_f32(s[v], d), q[v] = vfmaq_f32(q[v], d, d);
            }
            if (xn && !last)
                for (int v = 0; v < 32; v += 4)
                    vst1q_f32(yn + i + v, vfmaq_f32(sh, vsubq_f32(vld1q_f32(xn + i + v), mh), sc));
        }
        if (last) {
            // Fewer than 32 values left: at most 8 steps, one per accumulator.
            for (int v = 0; v < 8 && i < m; v++, i += 4) {
                const float32x4_t d = and_mask(vsubq_f32(load_n(p + i, m - i), vk), tail_mask(m - i));
                s[v] = vaddq_f32(s[v], d), q[v] = vfmaq_f32(q[v], d, d);
            }
            i = m;
        }
        flush_ps(vaddq_f32(vaddq_f32(vaddq_f32(s[0], s[1]), vaddq_f32(s[2], s[3])),
                           vaddq_f32(vaddq_f32(s[4], s[5]), vaddq_f32(s[6], s[7]))), &s_lo, &s_hi);
        flush_ps(vaddq_f32(vaddq_f32(vaddq_f32(q[0], q[1]), vaddq_f32(q[2], q[3])),
                           vaddq_f32(vaddq_f32(q[4], q[5]), vaddq_f32(q[6], q[7]))), &q_lo, &q_hi);
    }
    return (sums){vaddvq_f64(vaddq_f64(s_lo, s_hi)), vaddvq_f64(vaddq_f64(q_lo, q_hi))};
}

// The same sums with every value in double (x - k exact there): the fallback for chunks the float sums
// cannot take (overflow, NaN, values far below the float range's middle).
static sums double_sums(const float *p, int64_t m, double k) {
    const float64x2_t vk = vdupq_n_f64(k);
    float64x2_t s0 = vdupq_n_f64(0.0), s1 = s0, q0 = s0, q1 = s0;
    int64_t i = 0;
    for (; i + 4 <= m; i += 4) {
        const float32x4_t v = vld1q_f32(p + i);
        const float64x2_t d0 = vsubq_f64(vcvt_f64_f32(vget_low_f32(v)), vk);
        const float64x2_t d1 = vsubq_f64(vcvt_high_f64_f32(v), vk);
        s0 = vaddq_f64(s0, d0), q0 = vfmaq_f64(q0, d0, d0);
        s1 = vaddq_f64(s1, d1), q1 = vfmaq_f64(q1, d1, d1);
    }
    double t1 = 0.0, t2 = 0.0;
    for (; i < m; i++) {
        const double d = (double)p[i] - k;
        t1 += d, t2 += d * d;
    }
    return (sums){vaddvq_f64(vaddq_f64(s0, s1)) + t1, vaddvq_f64(vaddq_f64(q0, q1)) + t2};
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
    // k = x0 + mean(x - x0) over the first min(m, 16) values: accurate near 1e4, where a plain float sum
    // of the values would be off by a good part of their spread.
    const float32x4_t x0 = vdupq_n_f32(p[0]);
    float32x4_t d[4];
    for (int v = 0; v < 4; v++)
        d[v] = m > 4 * v ? and_mask(vsubq_f32(load_n(p + 4 * v, m - 4 * v), x0), tail_mask(m - 4 * v)) : vdupq_n_f32(0.f);
    float k = p[0] + vaddvq_f32(vaddq_f32(vaddq_f32(d[0], d[1]), vaddq_f32(d[2], d[3]))) / (float)(m < 16 ? m : 16);
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

cnb_status cnb_batchnorm2d_direct_neon_run(const cnb_plan_data *p, const cnb_io *io) { return bn_direct_run(p, io); }

void cnb_batchnorm2d_direct_neon_free(cnb_plan_data *p) { (void)p; }
