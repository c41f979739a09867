// sgemm 8x12 NEON: C (+)= A*B (+ bias per row), BLIS's five loops (Van Zee & van de Geijn 2015) around an 8x12
// microkernel (the shape of OpenBLAS's and BLIS's Cortex-A57/Neoverse kernels): 24 q-register accumulators, per k
// an 8-float A column (2 q, applied by lane: vfmaq_laneq_f32) and a 12-float B row (3 q). A in 8-row micro-panels
// packed once (KC-blocked), B in 12-column micro-panels packed per KC x NC block by the caller. AArch64 NEON.
#include <arm_neon.h>
#include <assert.h>

#include "core/cpu.h"
#include "kernels/neon/sgemm_neon.h"

#define MR CNB_SGEMM_8X12_MR
#define NR CNB_SGEMM_8X12_NR

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

cnb_sgemm_neon_blocking cnb_sgemm_8x12_neon_blocking(int64_t M, int64_t N, int64_t K) {
    const cnb_caches *cc = cnb_cpu_caches();
    cnb_sgemm_neon_blocking b;
    // KC: one B micro-panel (12 x kc) fills half of L1d, so it stays there while the A micro-panels
    // stream through the other half. The K blocks are then balanced so that no thin block is left.
    int64_t kc_max = max64(64, min64(1024, (int64_t)cc->l1d / (2 * NR * (int64_t)sizeof(float))));
    const int64_t nkb = cdiv(max64(K, 1), kc_max);
    b.kc = max64(1, cdiv(K, nkb));
    // MC: the mc x kc block of A takes half of L2 (the rest holds the packed B block and C's lines).
    int64_t mc_max = ((int64_t)cc->l2 / 2) / (b.kc * (int64_t)sizeof(float));
    mc_max = max64(MR, mc_max / MR * MR);
    const int64_t nmb = cdiv(max64(M, 1), mc_max);
    b.mc = cdiv(cdiv(max64(M, 1), nmb), MR) * MR;
    // NC: the packed kc x nc block of B is re-read for every A block, so it should stay in a cache
    // level: a quarter of L2 keeps it beside the A block.
    int64_t nc_max = ((int64_t)cc->l2 / 4) / (b.kc * (int64_t)sizeof(float));
    nc_max = max64(NR, nc_max / NR * NR);
    b.nc = min64(nc_max, cdiv(max64(N, 1), NR) * NR);
    return b;
}

size_t cnb_sgemm_8x12_neon_packed_a_floats(int64_t M, int64_t K) {
    return (size_t)(cdiv(M, MR) * MR) * (size_t)K;
}

void cnb_sgemm_8x12_neon_pack_a(int64_t M, int64_t K, int64_t kc, const float *a, int64_t rs, int64_t cs, float *dst) {
    const int64_t Mp = cdiv(M, MR) * MR;
    for (int64_t k0 = 0; k0 < K; k0 += kc) {
        const int64_t kcb = min64(kc, K - k0);
        for (int64_t m0 = 0; m0 < Mp; m0 += MR) {
            float *d = dst + k0 * Mp + m0 * kcb;
            // Walk the source along its unit stride (the panel itself, kcb x 8, stays in L1).
            for (int64_t r = 0; r < MR; r++) {
                const float *s = a + (m0 + r) * rs + k0 * cs;
                if (m0 + r < M) for (int64_t k = 0; k < kcb; k++) d[k * MR + r] = s[k * cs];
                else for (int64_t k = 0; k < kcb; k++) d[k * MR + r] = 0.f;
            }
        }
    }
}

size_t cnb_sgemm_8x12_neon_packed_b_floats(int64_t N, int64_t K) {
    return (size_t)(cdiv(N, NR) * NR) * (size_t)K;
}

void cnb_sgemm_8x12_neon_pack_b_full(int64_t N, int64_t K, int64_t kc, const float *b, int64_t rs, int64_t cs, float *dst) {
    const int64_t Np = cdiv(N, NR) * NR;
    for (int64_t k0 = 0; k0 < K; k0 += kc) {
        const int64_t kcb = min64(kc, K - k0);
        for (int64_t n0 = 0; n0 < Np; n0 += NR) {
            float *d = dst + k0 * Np + n0 * kcb;
            if (rs == 1) {
                // Columns are contiguous (B = W^T): walk each down its unit stride.
                for (int64_t t = 0; t < NR; t++) {
                    const float *s = b + k0 + (n0 + t) * cs;
                    if (n0 + t < N) for (int64_t k = 0; k < kcb; k++) d[k * NR + t] = s[k];
                    else for (int64_t k = 0; k < kcb; k++) d[k * NR + t] = 0.f;
                }
                continue;
            }
            for (int64_t k = 0; k < kcb; k++)
                for (int64_t t = 0; t < NR; t++) d[k * NR + t] = n0 + t < N ? b[(k0 + k) * rs + (n0 + t) * cs] : 0.f;
        }
    }
}

size_t cnb_sgemm_8x12_neon_pack_b_floats(const cnb_sgemm_neon_blocking *blk) {
    return (size_t)(blk->kc * cdiv(blk->nc, NR) * NR + 16);
}

void cnb_sgemm_8x12_neon_pack_b_strided(const void *ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float *dst) {
    const cnb_sgemm_neon_strided_b *s = ctx;
    for (int64_t j = 0; j < nc; j += NR) {
        const int64_t w = min64(NR, nc - j);
        float *d = dst + j * kc;
        for (int64_t k = 0; k < kc; k++) {
            const float *src = s->b + (k0 + k) * s->rs + (n0 + j) * s->cs;
            if (w == NR && s->cs == 1) {
                vst1q_f32(d + k * NR, vld1q_f32(src));
                vst1q_f32(d + k * NR + 4, vld1q_f32(src + 4));
                vst1q_f32(d + k * NR + 8, vld1q_f32(src + 8));
            } else {
                for (int64_t t = 0; t < NR; t++) d[k * NR + t] = t < w ? src[t * s->cs] : 0.f;
            }
        }
    }
}

// Row r of the C tile: C = acc (+ bias) or C += acc; columns past nr untouched. NEON has no masked
// stores: a partial row goes through a buffer, with the same single rounded addition per element.
static inline __attribute__((always_inline)) void store_row(float *cr, float32x4_t v0, float32x4_t v1, float32x4_t v2,
                                                            const float *bias, bool accumulate, int64_t nr) {
    if (nr == NR) {
        if (accumulate) {
            v0 = vaddq_f32(v0, vld1q_f32(cr));
            v1 = vaddq_f32(v1, vld1q_f32(cr + 4));
            v2 = vaddq_f32(v2, vld1q_f32(cr + 8));
        } else if (bias) {
            const float32x4_t br = vld1q_dup_f32(bias);
            v0 = vaddq_f32(v0, br);
            v1 = vaddq_f32(v1, br);
            v2 = vaddq_f32(v2, br);
        }
        vst1q_f32(cr, v0);
        vst1q_f32(cr + 4, v1);
        vst1q_f32(cr + 8, v2);
        return;
    }
    float t[NR];
    vst1q_f32(t, v0);
    vst1q_f32(t + 4, v1);
    vst1q_f32(t + 8, v2);
    if (accumulate) for (int64_t j = 0; j < nr; j++) cr[j] = t[j] + cr[j];
    else if (bias) for (int64_t j = 0; j < nr; j++) cr[j] = t[j] + *bias;
    else for (int64_t j = 0; j < nr; j++) cr[j] = t[j];
}

// The microkernel: C[mr x nr] (+)= A-panel (kc x 8) * B-panel (kc x 12). mr is a compile-time constant in
// each instantiation (always_inline), so the unused accumulators and A loads vanish; they are named
// variables, not an array, so that gcc keeps them in registers. Row R's accumulators cR0..cR2 take lane
// R % 4 of the A vector holding rows R & ~3.
#define CNB_ROW_FMA(R, ACC, AV)                                                                             \
    if (mr > R) {                                                                                           \
        c##ACC##0 = vfmaq_laneq_f32(c##ACC##0, b0, AV, (R) & 3);                                            \
        c##ACC##1 = vfmaq_laneq_f32(c##ACC##1, b1, AV, (R) & 3);                                            \
        c##ACC##2 = vfmaq_laneq_f32(c##ACC##2, b2, AV, (R) & 3);                                            \
    }
#define CNB_ROW_STORE(R)                                                                                    \
    if (mr > R) store_row(c + R * ldc, c##R##0, c##R##1, c##R##2, bias ? bias + R : NULL, accumulate, nr);

// a_next is prefetched whole (the next A micro-panel: the A block may still be on its way from memory
// when the first B panel meets it), b_next's first bn_lines rows too (a share of the next B micro-panel,
// which may come from memory when B was packed beforehand). An FMA has a latency of 4 and 2 issue a cycle
// on Cortex-A76/Neoverse N1, so 8 independent chains keep the pipes busy: 1 and 2 rows (3 and 6 chains)
// alternate the k loop between four or two sets of accumulators, summed at the end.
static inline __attribute__((always_inline)) void ukernel(const int mr, int64_t kc, const float *restrict a,
                                                          const float *restrict b, float *restrict c, int64_t ldc,
                                                          const float *bias, bool accumulate, int64_t nr,
                                                          const float *a_next, const float *b_next, int64_t bn_lines) {
    float32x4_t c00 = vdupq_n_f32(0.f), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
    float32x4_t c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
    float32x4_t c40 = c00, c41 = c00, c42 = c00, c50 = c00, c51 = c00, c52 = c00;
    float32x4_t c60 = c00, c61 = c00, c62 = c00, c70 = c00, c71 = c00, c72 = c00;
    // C's lines are touched only after the loop: start fetching them now.
    for (int r = 0; r < mr; r++) {
        __builtin_prefetch(c + r * ldc, 1, 3);
        __builtin_prefetch(c + r * ldc + NR - 1, 1, 3);
    }
    int64_t k = 0;
    if (mr == 1) {
        for (; k + 4 <= kc; k += 4) {
            __builtin_prefetch(a_next + k * MR, 0, 3);
            __builtin_prefetch(a_next + k * MR + 16, 0, 3);
            for (int64_t u = k; u < k + 4 && u < bn_lines; u++) __builtin_prefetch(b_next + u * NR, 0, 2);
            // The four k of one A row: a[0], a[8], a[16], a[24] as lanes of one vector.
            const float32x4_t av = {a[0], a[MR], a[2 * MR], a[3 * MR]};
            float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
            c00 = vfmaq_laneq_f32(c00, b0, av, 0), c01 = vfmaq_laneq_f32(c01, b1, av, 0), c02 = vfmaq_laneq_f32(c02, b2, av, 0);
            b0 = vld1q_f32(b + NR), b1 = vld1q_f32(b + NR + 4), b2 = vld1q_f32(b + NR + 8);
            c10 = vfmaq_laneq_f32(c10, b0, av, 1), c11 = vfmaq_laneq_f32(c11, b1, av, 1), c12 = vfmaq_laneq_f32(c12, b2, av, 1);
            b0 = vld1q_f32(b + 2 * NR), b1 = vld1q_f32(b + 2 * NR + 4), b2 = vld1q_f32(b + 2 * NR + 8);
            c20 = vfmaq_laneq_f32(c20, b0, av, 2), c21 = vfmaq_laneq_f32(c21, b1, av, 2), c22 = vfmaq_laneq_f32(c22, b2, av, 2);
            b0 = vld1q_f32(b + 3 * NR), b1 = vld1q_f32(b + 3 * NR + 4), b2 = vld1q_f32(b + 3 * NR + 8);
            c30 = vfmaq_laneq_f32(c30, b0, av, 3), c31 = vfmaq_laneq_f32(c31, b1, av, 3), c32 = vfmaq_laneq_f32(c32, b2, av, 3);
            a += 4 * MR;
            b += 4 * NR;
        }
        c00 = vaddq_f32(vaddq_f32(c00, c10), vaddq_f32(c20, c30));
        c01 = vaddq_f32(vaddq_f32(c01, c11), vaddq_f32(c21, c31));
        c02 = vaddq_f32(vaddq_f32(c02, c12), vaddq_f32(c22, c32));
    } else if (mr == 2) {
        for (; k + 2 <= kc; k += 2) {
            __builtin_prefetch(a_next + k * MR, 0, 3);
            for (int64_t u = k; u < k + 2 && u < bn_lines; u++) __builtin_prefetch(b_next + u * NR, 0, 2);
            // Rows 0 and 1 of k and k + 1 as lanes 0, 1 and 2, 3.
            const float32x4_t av = vcombine_f32(vld1_f32(a), vld1_f32(a + MR));
            float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
            CNB_ROW_FMA(0, 0, av)
            CNB_ROW_FMA(1, 1, av)
            b0 = vld1q_f32(b + NR), b1 = vld1q_f32(b + NR + 4), b2 = vld1q_f32(b + NR + 8);
            c40 = vfmaq_laneq_f32(c40, b0, av, 2), c41 = vfmaq_laneq_f32(c41, b1, av, 2), c42 = vfmaq_laneq_f32(c42, b2, av, 2);
            c50 = vfmaq_laneq_f32(c50, b0, av, 3), c51 = vfmaq_laneq_f32(c51, b1, av, 3), c52 = vfmaq_laneq_f32(c52, b2, av, 3);
            a += 2 * MR;
            b += 2 * NR;
        }
        c00 = vaddq_f32(c00, c40), c01 = vaddq_f32(c01, c41), c02 = vaddq_f32(c02, c42);
        c10 = vaddq_f32(c10, c50), c11 = vaddq_f32(c11, c51), c12 = vaddq_f32(c12, c52);
    }
#pragma GCC unroll 2
    for (; k < kc; k++) {
        __builtin_prefetch(a_next + k * MR, 0, 3);
        if (k < bn_lines) __builtin_prefetch(b_next + k * NR, 0, 2);
        const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
        const float32x4_t a0 = vld1q_f32(a);
        CNB_ROW_FMA(0, 0, a0)
        CNB_ROW_FMA(1, 1, a0)
        CNB_ROW_FMA(2, 2, a0)
        CNB_ROW_FMA(3, 3, a0)
        if (mr > 4) {
            const float32x4_t a1 = vld1q_f32(a + 4);
            CNB_ROW_FMA(4, 4, a1)
            CNB_ROW_FMA(5, 5, a1)
            CNB_ROW_FMA(6, 6, a1)
            CNB_ROW_FMA(7, 7, a1)
        }
        a += MR;
        b += NR;
    }
    CNB_ROW_STORE(0)
    CNB_ROW_STORE(1)
    CNB_ROW_STORE(2)
    CNB_ROW_STORE(3)
    CNB_ROW_STORE(4)
    CNB_ROW_STORE(5)
    CNB_ROW_STORE(6)
    CNB_ROW_STORE(7)
}
#undef CNB_ROW_FMA
#undef CNB_ROW_STORE

typedef void ukernel_fn(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, const float *bias,
                        bool accumulate, int64_t nr, const float *a_next, const float *b_next, int64_t bn_lines);
#define CNB_UKERNEL_MR(R)                                                                                   \
    static void ukernel_##R(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,              \
                            const float *bias, bool accumulate, int64_t nr, const float *a_next,            \
                            const float *b_next, int64_t bn_lines) {                                        \
        ukernel(R, kc, a, b, c, ldc, bias, accumulate, nr, a_next, b_next, bn_lines);                       \
    }
CNB_UKERNEL_MR(1)
CNB_UKERNEL_MR(2)
CNB_UKERNEL_MR(3)
CNB_UKERNEL_MR(4)
CNB_UKERNEL_MR(5)
CNB_UKERNEL_MR(6)
CNB_UKERNEL_MR(7)
CNB_UKERNEL_MR(8)
#undef CNB_UKERNEL_MR
static ukernel_fn *const k_ukernels[MR + 1] = {NULL,      ukernel_1, ukernel_2, ukernel_3, ukernel_4,
                                               ukernel_5, ukernel_6, ukernel_7, ukernel_8};

void cnb_sgemm_8x12_neon_compute(const cnb_sgemm_neon_args *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
                                 float *b_buf) {
    assert(m0 % MR == 0 && n0 % NR == 0 && m1 <= g->M && n1 <= g->N);
    assert(g->b_packed || ((uintptr_t)b_buf & 63) == 0);
    const int64_t Mp = cdiv(g->M, MR) * MR, Np = cdiv(g->N, NR) * NR, K = g->K;
    const int64_t kc = g->blk.kc, mc = g->blk.mc, nc = g->blk.nc;
    for (int64_t jc = n0; jc < n1; jc += nc) {
        const int64_t ncb = min64(nc, n1 - jc);
        for (int64_t pc = 0; pc < K; pc += kc) {
            const int64_t kcb = min64(kc, K - pc);
            const bool accumulate = g->accumulate || pc > 0;
            const float *b_blk = b_buf;
            if (g->b_packed) b_blk = g->b_packed + pc * Np + jc * kcb;
            else g->pack_b(g->pack_b_ctx, pc, kcb, jc, ncb, b_buf);
            const float *a_blk = g->a_packed + pc * Mp;
            for (int64_t ic = m0; ic < m1; ic += mc) {
                const int64_t mcb = min64(mc, m1 - ic);
                const int64_t tiles = cdiv(mcb, MR);
                for (int64_t jr = 0; jr < ncb; jr += NR) {
                    const int64_t nr = min64(NR, ncb - jr);
                    const float *bp = b_blk + jr * kcb;
                    // The next B micro-panel (kcb lines) is prefetched a share per A tile.
                    const int64_t share = cdiv(kcb, tiles);
                    for (int64_t ir = 0, t = 0; ir < mcb; ir += MR, t++) {
                        const int64_t mr = min64(MR, mcb - ir), m = ic + ir;
                        const float *ap = a_blk + m * kcb;
                        const int64_t first = t * share, lines = min64(share, kcb - first);
                        k_ukernels[mr](kcb, ap, bp, g->c + m * g->ldc + jc + jr, g->ldc, g->bias ? g->bias + m : NULL,
                                       accumulate, nr, ap + MR * kcb, bp + NR * (kcb + first), lines > 0 ? lines : 0);
                    }
                }
            }
        }
    }
}
