// peak.triad.avx2: STREAM's triad a[i] = b[i] + s*c[i] (McCalpin) on float, 16 elements per step with
// _mm256_fmadd_ps and ordinary (cached) stores, as STREAM uses. From L2 it moves ~1.45x what gcc's SSE2
// version of the plain C loop does, which is instruction-bound there. Needs AVX2+FMA; reached only from
// harness/peak.c after it checks cnb_cpu_features().
#include <immintrin.h>
#include <stddef.h>

void cnb_peak_triad_avx2_run(float *a, const float *b, const float *c, float s, size_t n);

void cnb_peak_triad_avx2_run(float *a, const float *b, const float *c, float s, size_t n) {
    const __m256 vs = _mm256_set1_ps(s);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 x0 = _mm256_fmadd_ps(vs, _mm256_loadu_ps(c + i), _mm256_loadu_ps(b + i));
        const __m256 x1 = _mm256_fmadd_ps(vs, _mm256_loadu_ps(c + i + 8), _mm256_loadu_ps(b + i + 8));
        _mm256_storeu_ps(a + i, x0);
        _mm256_storeu_ps(a + i + 8, x1);
    }
    for (; i < n; i++) a[i] = b[i] + s * c[i];
}
