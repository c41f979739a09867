// batchnorm2d.direct.avx2: BatchNorm2d forward (eval and train), NCHW float32 in and out. Per channel,
// y = (x - mh) * scale + shift with one FMA, the coefficients folded once per run in double. Train first
// reduces fixed pieces of <= 2048 values of each plane to a mean and squared deviations, combined in a fixed
// order by Chan, Golub & LeVeque's formula. Needs AVX2+FMA; reached only through the registry.
#include <assert.h>
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/cpu.h"
#include "core/registry.h"

cnb_status cnb_batchnorm2d_direct_avx2_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_batchnorm2d_direct_avx2_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                            cnb_error *err);
cnb_status cnb_batchnorm2d_direct_avx2_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_batchnorm2d_direct_avx2_free(cnb_plan_data *p);

// Values per statistics chunk (a plane is cut into ceil(HW / CHUNK) chunks). A constant, not a cache-derived
// size: the chunks fix the summation order, and with it the bits of the statistics, whatever the thread
// count or machine.
enum { CHUNK = 2048 };
// The statistics pass of a tensor in memory order (not the fused batch-1 path) prefetches this many values
// ahead: one core's single read stream from DRAM is latency-bound (8x256x56x56, 25.7 MB: 2.15 -> 1.75 ms
// for train, eval 1.0 ms; 1-2 KB ahead helped less, the fused path only lost).
enum { PF_DIST = 4096 };

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

cnb_status cnb_batchnorm2d_direct_avx2_supports(const cnb_geom *g, cnb_error *why) {
    (void)g, (void)why;
    return CNB_OK;
}

// Workspace: per-chunk partials (train) then per-channel coefficients: run() may be called concurrently
// on one plan, so neither can live in priv.
cnb_status cnb_batchnorm2d_direct_avx2_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                            cnb_error *err) {
    (void)w, (void)err;
    p->priv = NULL;
    p->workspace_bytes = (size_t)g->C * sizeof(coef);
    if (g->use_batch_stats) p->workspace_bytes += (size_t)(g->N * g->C * chunks_per_plane(g)) * sizeof(part);
    return CNB_OK;
}

static inline double hsum_pd(__m256d v) {
    const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

// Adds the 8 lanes of v to the 8 double lanes lo:hi.
static inline void flush_ps(__m256 v, __m256d *lo, __m256d *hi) {
    *lo = _mm256_add_pd(*lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    *hi = _mm256_add_pd(*hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

// PF: prefetch 1 KB ahead, for an input in the last-level cache (1x64x112x112 eval: 85 -> 74 us); from
// DRAM it costs (8x256x56x56: 1.08 -> 1.30 ms), as for max pooling.
static inline __attribute__((always_inline)) void norm_run_pf(const float *x, float *y, int64_t len, coef k,
                                                              const bool PF) {
    const __m256 mh = _mm256_set1_ps(k.mh), sc = _mm256_set1_ps(k.sc), sh = _mm256_set1_ps(k.sh);
    int64_t i = 0;
    for (; i + 32 <= len; i += 32) {
        if (PF) {
            _mm_prefetch((const char *)(x + i + 256), _MM_HINT_T0);
            _mm_prefetch((const char *)(x + i + 256 + 16), _MM_HINT_T0);
        }
        const __m256 v0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), mh);
        const __m256 v1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), mh);
        const __m256 v2 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 16), mh);
        const __m256 v3 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 24), mh);
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(v0, sc, sh));
        _mm256_storeu_ps(y + i + 8, _mm256_fmadd_ps(v1, sc, sh));
        _mm256_storeu_ps(y + i + 16, _mm256_fmadd_ps(v2, sc, sh));
        _mm256_storeu_ps(y + i + 24, _mm256_fmadd_ps(v3, sc, sh));
    }
    for (; i + 8 <= len; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), mh), sc, sh));
    // The same single-rounding FMA as the vector lanes, so a value's result does not depend on its position.
    for (; i < len; i++) {
        const __m128 v = _mm_sub_ss(_mm_load_ss(x + i), _mm256_castps256_ps128(mh));
        _mm_store_ss(y + i, _mm_fmadd_ss(v, _mm256_castps256_ps128(sc), _mm256_castps256_ps128(sh)));
    }
}

static void norm_run(const float *x, float *y, int64_t len, coef k) { norm_run_pf(x, y, len, k, false); }
#define CNB_BN_NORM_STREAM
static void norm_stream(const float *x, float *y, int64_t len, coef k, bool in_llc) {
    if (in_llc) norm_run_pf(x, y, len, k, true);
    else norm_run_pf(x, y, len, k, false);
}

// Lanes 0..rem-1 set (all for rem >= 8, none for rem <= 0): the mask of a vector step over a tail.
static inline __m256i tail_mask(int64_t rem) {
    const int r = rem < 8 ? (int)(rem > 0 ? rem : 0) : 8;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(r), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// Float sums over short fixed blocks, then double: a block is up to 16 vector steps, step v going to
// accumulator v % 4, so each float lane adds at most 4 terms; the 4 accumulators are added pairwise before
// going to double, so a block sum of squares is within ~6 float roundings. The last step of a chunk is
// masked. Converting every value to double instead is bound by the conversions: ~40 GB/s on the Zen 5
// measured, against ~75 GB/s for this, which then keeps up with the stream from L3.
// With xn, it also normalises xn[0, m) into yn by cn, interleaved so that the sums' arithmetic overlaps
// the normalisation's memory traffic; the sums are the same either way.
static sums float_sums(const float *p, int64_t m, float k, const float *xn, float *yn, coef cn) {
    const __m256 vk = _mm256_set1_ps(k);
    const __m256 mh = _mm256_set1_ps(cn.mh), sc = _mm256_set1_ps(cn.sc), sh = _mm256_set1_ps(cn.sh);
    const __m256d z = _mm256_setzero_pd();
    __m256d s_lo = z, s_hi = z, q_lo = z, q_hi = z;
    for (int64_t i = 0; i < m;) {
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, q0 = s0, q1 = s0, q2 = s0, q3 = s0;
        if (i + 128 <= m) {
            for (int j = 0; j < 4; j++, i += 32) {
                if (!xn) {
                    _mm_prefetch((const char *)(p + i + PF_DIST), _MM_HINT_T0);
                    _mm_prefetch((const char *)(p + i + PF_DIST + 16), _MM_HINT_T0);
                }
                const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(p + i), vk);
                const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(p + i + 8), vk);
                const __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(p + i + 16), vk);
                const __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(p + i + 24), vk);
                s0 = _mm256_add_ps(s0, d0), q0 = _mm256_fmadd_ps(d0, d0, q0);
                s1 = _mm256_add_ps(s1, d1), q1 = _mm256_fmadd_ps(d1, d1, q1);
                s2 = _mm256_add_ps(s2, d2), q2 = _mm256_fmadd_ps(d2, d2, q2);
                s3 = _mm256_add_ps(s3, d3), q3 = _mm256_fmadd_ps(d3, d3, q3);
                if (xn)
                    for (int v = 0; v < 32; v += 8)
                        _mm256_storeu_ps(yn + i + v,
                                         _mm256_fmadd_ps(_mm256_sub_ps(_mm256_loadu_ps(xn + i + v), mh), sc, sh));
            }
        } else {
            // The chunk's last block: single steps rotating through the accumulators, the last one masked.
            if (xn) norm_run(xn + i, yn + i, m - i, cn);
            for (; i + 8 <= m; i += 8) {
                const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(p + i), vk);
                const __m256 t = _mm256_add_ps(s0, d), u = _mm256_fmadd_ps(d, d, q0);
                s0 = s1, s1 = s2, s2 = s3, s3 = t;
                q0 = q1, q1 = q2, q2 = q3, q3 = u;
            }
            if (i < m) {
                const __m256i mask = tail_mask(m - i);
                const __m256 d =
                    _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(p + i, mask), vk), _mm256_castsi256_ps(mask));
                const __m256 t = _mm256_add_ps(s0, d), u = _mm256_fmadd_ps(d, d, q0);
                s0 = s1, s1 = s2, s2 = s3, s3 = t;
                q0 = q1, q1 = q2, q2 = q3, q3 = u;
                i = m;
            }
        }
        flush_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)), &s_lo, &s_hi);
        flush_ps(_mm256_add_ps(_mm256_add_ps(q0, q1), _mm256_add_ps(q2, q3)), &q_lo, &q_hi);
    }
    return (sums){hsum_pd(_mm256_add_pd(s_lo, s_hi)), hsum_pd(_mm256_add_pd(q_lo, q_hi))};
}

// The same sums with every value in double (x - k exact there): the fallback for chunks the float sums
// cannot take (overflow, NaN, values far below the float range's middle).
static sums double_sums(const float *p, int64_t m, double k) {
    const __m256d vk = _mm256_set1_pd(k);
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, q0 = s0, q1 = s0;
    int64_t i = 0;
    for (; i + 8 <= m; i += 8) {
        const __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(p + i)), vk);
        const __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(p + i + 4)), vk);
        s0 = _mm256_add_pd(s0, d0), q0 = _mm256_fmadd_pd(d0, d0, q0);
        s1 = _mm256_add_pd(s1, d1), q1 = _mm256_fmadd_pd(d1, d1, q1);
    }
    double t1 = 0.0, t2 = 0.0;
    for (; i < m; i++) {
        const double d = (double)p[i] - k;
        t1 += d, t2 += d * d;
    }
    return (sums){hsum_pd(_mm256_add_pd(s0, s1)) + t1, hsum_pd(_mm256_add_pd(q0, q1)) + t2};
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
    const __m256i lo = tail_mask(m), hi = tail_mask(m - 8);
    const __m256 x0 = _mm256_set1_ps(p[0]);
    const __m256 d0 = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(p, lo), x0), _mm256_castsi256_ps(lo));
    const __m256 d1 = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(p + 8, hi), x0), _mm256_castsi256_ps(hi));
    float k = p[0] + hsum_ps(_mm256_add_ps(d0, d1)) / (float)(m < 16 ? m : 16);
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

cnb_status cnb_batchnorm2d_direct_avx2_run(const cnb_plan_data *p, const cnb_io *io) { return bn_direct_run(p, io); }

void cnb_batchnorm2d_direct_avx2_free(cnb_plan_data *p) { (void)p; }
