// peak.fma.neon: the Advanced SIMD FMA arithmetic peak, 24 independent chains of acc = acc*m + c with
// vfmaq_f32 (FMLA, 4 float lanes, 2 flops per lane). Current cores (Cortex-A76/X1, Neoverse N1/N2/V1/V2) issue
// 2 to 4 FMLAs a cycle at a latency of 4: up to 16 chains in flight; 24 leave slack and with m and c still
// fit the 32 vector registers. Needs NEON; reached only from harness/peak.c after it checks cnb_cpu_features().
#include <arm_neon.h>
#include <stdint.h>

double cnb_peak_fma_neon_run(int64_t iters);

// Runs iters rounds of 24 FMLAs and returns the flops done (iters * 24 * 4 * 2).
double cnb_peak_fma_neon_run(int64_t iters) {
    // m just below 1 and a small c keep every chain converging to c / (1 - m) = 1: no overflow, and no
    // denormals, which some cores handle slowly, making this a measurement of something else.
    const float32x4_t m = vdupq_n_f32(0.999999f), c = vdupq_n_f32(1e-6f);
    float32x4_t a0 = vdupq_n_f32(0.10f), a1 = vdupq_n_f32(0.11f), a2 = vdupq_n_f32(0.12f), a3 = vdupq_n_f32(0.13f);
    float32x4_t a4 = vdupq_n_f32(0.14f), a5 = vdupq_n_f32(0.15f), a6 = vdupq_n_f32(0.16f), a7 = vdupq_n_f32(0.17f);
    float32x4_t a8 = vdupq_n_f32(0.18f), a9 = vdupq_n_f32(0.19f), a10 = vdupq_n_f32(0.20f), a11 = vdupq_n_f32(0.21f);
    float32x4_t a12 = vdupq_n_f32(0.22f), a13 = vdupq_n_f32(0.23f), a14 = vdupq_n_f32(0.24f), a15 = vdupq_n_f32(0.25f);
    float32x4_t a16 = vdupq_n_f32(0.26f), a17 = vdupq_n_f32(0.27f), a18 = vdupq_n_f32(0.28f), a19 = vdupq_n_f32(0.29f);
    float32x4_t a20 = vdupq_n_f32(0.30f), a21 = vdupq_n_f32(0.31f), a22 = vdupq_n_f32(0.32f), a23 = vdupq_n_f32(0.33f);
    // Written out: gcc keeps an array of accumulators in memory, which would measure loads and stores.
    for (int64_t i = 0; i < iters; i++) {
        a0 = vfmaq_f32(c, a0, m); a1 = vfmaq_f32(c, a1, m); a2 = vfmaq_f32(c, a2, m); a3 = vfmaq_f32(c, a3, m);
        a4 = vfmaq_f32(c, a4, m); a5 = vfmaq_f32(c, a5, m); a6 = vfmaq_f32(c, a6, m); a7 = vfmaq_f32(c, a7, m);
        a8 = vfmaq_f32(c, a8, m); a9 = vfmaq_f32(c, a9, m); a10 = vfmaq_f32(c, a10, m); a11 = vfmaq_f32(c, a11, m);
        a12 = vfmaq_f32(c, a12, m); a13 = vfmaq_f32(c, a13, m); a14 = vfmaq_f32(c, a14, m); a15 = vfmaq_f32(c, a15, m);
        a16 = vfmaq_f32(c, a16, m); a17 = vfmaq_f32(c, a17, m); a18 = vfmaq_f32(c, a18, m); a19 = vfmaq_f32(c, a19, m);
        a20 = vfmaq_f32(c, a20, m); a21 = vfmaq_f32(c, a21, m); a22 = vfmaq_f32(c, a22, m); a23 = vfmaq_f32(c, a23, m);
    }
    float32x4_t s = vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3));
    s = vaddq_f32(s, vaddq_f32(vaddq_f32(a4, a5), vaddq_f32(a6, a7)));
    s = vaddq_f32(s, vaddq_f32(vaddq_f32(a8, a9), vaddq_f32(a10, a11)));
    s = vaddq_f32(s, vaddq_f32(vaddq_f32(a12, a13), vaddq_f32(a14, a15)));
    s = vaddq_f32(s, vaddq_f32(vaddq_f32(a16, a17), vaddq_f32(a18, a19)));
    s = vaddq_f32(s, vaddq_f32(vaddq_f32(a20, a21), vaddq_f32(a22, a23)));
    // A volatile store is observable, so the compiler must keep the chains; no shared state is touched.
    volatile float sink = vgetq_lane_f32(s, 0);
    (void)sink;
    return (double)iters * 24 * 4 * 2;
}
