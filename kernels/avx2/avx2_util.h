// Small AVX2 helpers shared by the kernels in kernels/avx2/: lane masks, partial loads and stores, horizontal
// sums. Everything is static inline, so each -mavx2 file gets its own copy and no VEX code can be merged into
// scalar objects. Include only from kernels/avx2/*.c.
#ifndef CNB_KERNELS_AVX2_AVX2_UTIL_H
#define CNB_KERNELS_AVX2_AVX2_UTIL_H

#include <immintrin.h>
#include <stdint.h>

// Lanes [0, n) all ones, the rest zero; n outside [0, 8] saturates.
static inline __m256i cnb_avx2_lanes(int64_t n) {
    const int32_t k = n < 0 ? 0 : n > 8 ? 8 : (int32_t)n;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// The first n floats at p, zeros after them. Masked lanes are never read (no fault past the end of a buffer).
static inline __m256 cnb_avx2_load_n(const float *p, int64_t n) {
    return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, cnb_avx2_lanes(n));
}

// Store the first n lanes of v at p.
static inline void cnb_avx2_store_n(float *p, __m256 v, int64_t n) {
    if (n >= 8) _mm256_storeu_ps(p, v);
    else _mm256_maskstore_ps(p, cnb_avx2_lanes(n), v);
}

// v0 + ... + v7 (pairwise: (v0+v4) + (v2+v6) ...).
static inline float cnb_avx2_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// The horizontal sums of 8 vectors, as one vector: lane i = sum of v[i]'s lanes.
static inline __m256 cnb_avx2_hsum8(const __m256 v[8]) {
    const __m256 a = _mm256_hadd_ps(v[0], v[1]), b = _mm256_hadd_ps(v[2], v[3]);
    const __m256 c = _mm256_hadd_ps(v[4], v[5]), d = _mm256_hadd_ps(v[6], v[7]);
    const __m256 ab = _mm256_hadd_ps(a, b), cd = _mm256_hadd_ps(c, d);
    // ab = [s0 s1 s2 s3 | s0' s1' s2' s3'] (low and high 128-bit halves of v0..v3), cd likewise for v4..v7.
    const __m256 lo = _mm256_permute2f128_ps(ab, cd, 0x20), hi = _mm256_permute2f128_ps(ab, cd, 0x31);
    return _mm256_add_ps(lo, hi);
}

// Undo the lane order left by deinterleaving two vectors with _mm256_shuffle_ps (0x88 / 0xDD), which keeps
// 128-bit halves apart: lanes 0 1 4 5 | 2 3 6 7 back to 0..7.
static inline __m256 cnb_avx2_unscramble(__m256 v) {
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8));
}

// Transposes the 8x8 block r[0..7] (row i in r[i]) in place.
static inline void cnb_avx2_transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]), t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44), u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44), u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

#endif /* CNB_KERNELS_AVX2_AVX2_UTIL_H */
