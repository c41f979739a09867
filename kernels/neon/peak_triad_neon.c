// peak.triad.neon: STREAM's triad a[i] = b[i] + s*c[i] (McCalpin) on float, 16 elements per step with
// vfmaq_f32 and ordinary (cached) stores, as STREAM uses. The plain C loop in harness/peak.c, built with the
// harness's flags, is vectorised too, but as a multiply and an add per vector; this is one FMLA. Needs
// NEON; reached only from harness/peak.c after it checks cnb_cpu_features().
#include <arm_neon.h>
#include <stddef.h>

void cnb_peak_triad_neon_run(float *a, const float *b, const float *c, float s, size_t n);

void cnb_peak_triad_neon_run(float *a, const float *b, const float *c, float s, size_t n) {
    const float32x4_t vs = vdupq_n_f32(s);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const float32x4_t x0 = vfmaq_f32(vld1q_f32(b + i), vs, vld1q_f32(c + i));
        const float32x4_t x1 = vfmaq_f32(vld1q_f32(b + i + 4), vs, vld1q_f32(c + i + 4));
        const float32x4_t x2 = vfmaq_f32(vld1q_f32(b + i + 8), vs, vld1q_f32(c + i + 8));
        const float32x4_t x3 = vfmaq_f32(vld1q_f32(b + i + 12), vs, vld1q_f32(c + i + 12));
        vst1q_f32(a + i, x0);
        vst1q_f32(a + i + 4, x1);
        vst1q_f32(a + i + 8, x2);
        vst1q_f32(a + i + 12, x3);
    }
    for (; i < n; i++) a[i] = b[i] + s * c[i];
}
