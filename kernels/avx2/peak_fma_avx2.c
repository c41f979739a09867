// peak.fma.avx2: the AVX2+FMA arithmetic peak, 12 independent chains of acc = acc*m + c with
// _mm256_fmadd_ps (8 float lanes, 2 flops per lane). Two FMA pipes with a latency of 4 cycles need at
// least 8 chains in flight; 12 leave slack for latency-5 parts (Haswell) and still fit 16 ymm registers.
// Needs AVX2+FMA; reached only from harness/peak.c after it checks cnb_cpu_features().
#include <immintrin.h>
#include <stdint.h>

double cnb_peak_fma_avx2_run(int64_t iters);

// Runs iters rounds of 12 FMAs and returns the flops done (iters * 12 * 8 * 2).
double cnb_peak_fma_avx2_run(int64_t iters) {
    // m just below 1 and a small c keep every chain converging to c / (1 - m) = 1: no overflow, and no
    // denormals, whose microcode assists would make this a measurement of something else.
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
    __m256 a0 = _mm256_set1_ps(0.10f), a1 = _mm256_set1_ps(0.11f), a2 = _mm256_set1_ps(0.12f);
    __m256 a3 = _mm256_set1_ps(0.13f), a4 = _mm256_set1_ps(0.14f), a5 = _mm256_set1_ps(0.15f);
    __m256 a6 = _mm256_set1_ps(0.16f), a7 = _mm256_set1_ps(0.17f), a8 = _mm256_set1_ps(0.18f);
    __m256 a9 = _mm256_set1_ps(0.19f), a10 = _mm256_set1_ps(0.20f), a11 = _mm256_set1_ps(0.21f);
    for (int64_t i = 0; i < iters; i++) {
        a0 = _mm256_fmadd_ps(a0, m, c);
        a1 = _mm256_fmadd_ps(a1, m, c);
        a2 = _mm256_fmadd_ps(a2, m, c);
        a3 = _mm256_fmadd_ps(a3, m, c);
        a4 = _mm256_fmadd_ps(a4, m, c);
        a5 = _mm256_fmadd_ps(a5, m, c);
        a6 = _mm256_fmadd_ps(a6, m, c);
        a7 = _mm256_fmadd_ps(a7, m, c);
        a8 = _mm256_fmadd_ps(a8, m, c);
        a9 = _mm256_fmadd_ps(a9, m, c);
        a10 = _mm256_fmadd_ps(a10, m, c);
        a11 = _mm256_fmadd_ps(a11, m, c);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    // A volatile store is observable, so the compiler must keep the chains; no shared state is touched.
    volatile float sink = _mm_cvtss_f32(_mm256_castps256_ps128(s));
    (void)sink;
    return (double)iters * 12 * 8 * 2;
}
