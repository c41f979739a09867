// peak.fma.scalar: the arithmetic peak of code built without ISA flags, in two forms. _run: 12
// independent one-lane chains acc = acc*m + c, what non-vectorised C reaches. _run_vec128: the same on
// 128-bit GCC vector types, what the compiler's auto-vectorisation of "scalar" kernels can reach (SSE2 on
// x86-64, NEON on AArch64). The library is built with -ffp-contract=off, so a*m + c stays a multiply and
// an add (2 flops): exactly the arithmetic the scalar kernels get. Portable C (GNU vector extension).
#include <stdint.h>

double cnb_peak_fma_scalar_run(int64_t iters);
double cnb_peak_fma_scalar_run_vec128(int64_t iters);

typedef float cnb_v4f __attribute__((vector_size(16)));

// A mul+add chain has a latency of 5-7 cycles and current x86 and Neoverse cores take two multiplies and
// two adds per cycle: 12 chains keep the units busy and still fit 16 registers. m below 1 and a small c
// make every chain converge to c / (1 - m) = 1: no overflow, no denormals (whose assists would be
// measured instead).
#define CNB_PEAK_STEP(M, C)                                                                        \
    a0 = a0 * M + C; a1 = a1 * M + C; a2 = a2 * M + C; a3 = a3 * M + C;                            \
    a4 = a4 * M + C; a5 = a5 * M + C; a6 = a6 * M + C; a7 = a7 * M + C;                            \
    a8 = a8 * M + C; a9 = a9 * M + C; a10 = a10 * M + C; a11 = a11 * M + C;

// The SLP vectoriser would pack the twelve independent one-lane chains into SSE/NEON registers and so
// measure _run_vec128 instead; an empty asm claiming to rewrite every accumulator in a float register
// (x86 "x", AArch64 "w") stops that at no cost. Other targets go without it.
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define CNB_KEEP_SCALAR()                                                                          \
    __asm__("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7),   \
                 "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11))
#elif defined(__GNUC__) && defined(__aarch64__)
#define CNB_KEEP_SCALAR()                                                                          \
    __asm__("" : "+w"(a0), "+w"(a1), "+w"(a2), "+w"(a3), "+w"(a4), "+w"(a5), "+w"(a6), "+w"(a7),   \
                 "+w"(a8), "+w"(a9), "+w"(a10), "+w"(a11))
#else
#define CNB_KEEP_SCALAR() ((void)0)
#endif

// Returns the flops done: iters * 12 chains * 2 flops.
double cnb_peak_fma_scalar_run(int64_t iters) {
    const float m = 0.999999f, c = 1e-6f;
    float a0 = 0.10f, a1 = 0.11f, a2 = 0.12f, a3 = 0.13f, a4 = 0.14f, a5 = 0.15f;
    float a6 = 0.16f, a7 = 0.17f, a8 = 0.18f, a9 = 0.19f, a10 = 0.20f, a11 = 0.21f;
    for (int64_t i = 0; i < iters; i++) {
        CNB_PEAK_STEP(m, c)
        CNB_KEEP_SCALAR();
    }
    // A volatile store is observable, so the compiler must keep the chains.
    volatile float sink = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11));
    (void)sink;
    return (double)iters * 12 * 2;
}

// Returns the flops done: iters * 12 chains * 4 lanes * 2 flops.
double cnb_peak_fma_scalar_run_vec128(int64_t iters) {
    const cnb_v4f m = {0.999999f, 0.999999f, 0.999999f, 0.999999f}, c = {1e-6f, 1e-6f, 1e-6f, 1e-6f};
    cnb_v4f a0 = m * 0.10f, a1 = m * 0.11f, a2 = m * 0.12f, a3 = m * 0.13f, a4 = m * 0.14f, a5 = m * 0.15f;
    cnb_v4f a6 = m * 0.16f, a7 = m * 0.17f, a8 = m * 0.18f, a9 = m * 0.19f, a10 = m * 0.20f, a11 = m * 0.21f;
    for (int64_t i = 0; i < iters; i++) {
        CNB_PEAK_STEP(m, c)
    }
    const cnb_v4f s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11));
    volatile float sink = (s[0] + s[1]) + (s[2] + s[3]);
    (void)sink;
    return (double)iters * 12 * 4 * 2;
}
