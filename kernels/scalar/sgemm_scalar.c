// sgemm scalar: C = A*B (+ bias per row), BLIS's five loops (Van Zee & van de Geijn 2015) around a 6x8
// microkernel in plain C that gcc -O3 vectorises (the 6x8 accumulator tile stays in registers: 12 SSE
// or NEON vectors) with no intrinsics. A in 6-row micro-panels packed once, B in 8-column micro-panels
// packed per KC x NC block by the caller's routine; MC/KC/NC from the cache sizes. No ISA flags.
#include <assert.h>

#include "core/cpu.h"
#include "kernels/scalar/sgemm_scalar.h"

#define MR CNB_SGEMM_SCALAR_MR
#define NR CNB_SGEMM_SCALAR_NR

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

cnb_sgemm_scalar_blocking cnb_sgemm_scalar_blocking_for(int64_t M, int64_t N, int64_t K) {
    const cnb_caches *cc = cnb_cpu_caches();
    cnb_sgemm_scalar_blocking b;
    // KC: a B micro-panel (NR x kc) in half of L1d, the streaming A micro-panels in the rest; the K
    // blocks balanced. MC: the A block in half of L2. NC: the packed B block in a quarter of L2.
    const int64_t kc_max = max64(64, min64(1024, (int64_t)cc->l1d / (2 * NR * (int64_t)sizeof(float))));
    b.kc = max64(1, cdiv(K, cdiv(max64(K, 1), kc_max)));
    const int64_t mc_max = max64(MR, ((int64_t)cc->l2 / 2) / (b.kc * (int64_t)sizeof(float)) / MR * MR);
    b.mc = cdiv(cdiv(max64(M, 1), cdiv(max64(M, 1), mc_max)), MR) * MR;
    const int64_t nc_max = max64(NR, ((int64_t)cc->l2 / 4) / (b.kc * (int64_t)sizeof(float)) / NR * NR);
    b.nc = min64(nc_max, cdiv(max64(N, 1), NR) * NR);
    return b;
}

size_t cnb_sgemm_scalar_packed_a_floats(int64_t M, int64_t K) {
    return (size_t)(cdiv(M, MR) * MR) * (size_t)K;
}

void cnb_sgemm_scalar_pack_a(int64_t M, int64_t K, int64_t kc, const float *a, int64_t rs, int64_t cs, float *dst) {
    const int64_t Mp = cdiv(M, MR) * MR;
    for (int64_t k0 = 0; k0 < K; k0 += kc) {
        const int64_t kcb = min64(kc, K - k0);
        for (int64_t m0 = 0; m0 < Mp; m0 += MR) {
            float *d = dst + k0 * Mp + m0 * kcb;
            for (int64_t r = 0; r < MR; r++) {
                const float *s = a + (m0 + r) * rs + k0 * cs;
                for (int64_t k = 0; k < kcb; k++) d[k * MR + r] = m0 + r < M ? s[k * cs] : 0.f;
            }
        }
    }
}

size_t cnb_sgemm_scalar_pack_b_floats(const cnb_sgemm_scalar_blocking *blk) {
    return (size_t)(blk->kc * cdiv(blk->nc, NR) * NR);
}

// The microkernel: acc[6][8] += a[k][0..5] (x) b[k][0..7] for k < kc, then C = acc (+ bias) or C += acc
// for the mr x nr corner that exists. The fixed trip counts let gcc unroll the r and t loops and keep acc
// in vector registers; the t loop is the vector.
static void ukernel(int64_t kc, const float *restrict a, const float *restrict b, float *restrict c, int64_t ldc,
                    const float *bias, bool accumulate, int64_t mr, int64_t nr) {
    float acc[MR][NR] = {{0}};
    for (int64_t k = 0; k < kc; k++) {
        for (int r = 0; r < MR; r++)
            for (int t = 0; t < NR; t++) acc[r][t] += a[r] * b[t];
        a += MR;
        b += NR;
    }
    if (mr == MR && nr == NR) {
        for (int r = 0; r < MR; r++) {
            float *cr = c + r * ldc;
            const float add = bias && !accumulate ? bias[r] : 0.f;
            if (accumulate)
                for (int t = 0; t < NR; t++) cr[t] += acc[r][t];
            else
                for (int t = 0; t < NR; t++) cr[t] = acc[r][t] + add;
        }
        return;
    }
    for (int64_t r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
        const float add = bias && !accumulate ? bias[r] : 0.f;
        for (int64_t t = 0; t < nr; t++) cr[t] = accumulate ? cr[t] + acc[r][t] : acc[r][t] + add;
    }
}

void cnb_sgemm_scalar_compute(const cnb_sgemm_scalar_args *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1, float *b_buf) {
    assert(m0 % MR == 0 && n0 % NR == 0 && m1 <= g->M && n1 <= g->N);
    const int64_t Mp = cdiv(g->M, MR) * MR, K = g->K;
    const int64_t kc = g->blk.kc, mc = g->blk.mc, nc = g->blk.nc;
    for (int64_t jc = n0; jc < n1; jc += nc) {
        const int64_t ncb = min64(nc, n1 - jc);
        for (int64_t pc = 0; pc < K; pc += kc) {
            const int64_t kcb = min64(kc, K - pc);
            g->pack_b(g->pack_b_ctx, pc, kcb, jc, ncb, b_buf);
            const float *a_blk = g->a_packed + pc * Mp;
            for (int64_t ic = m0; ic < m1; ic += mc) {
                const int64_t mcb = min64(mc, m1 - ic);
                for (int64_t jr = 0; jr < ncb; jr += NR) {
                    for (int64_t ir = 0; ir < mcb; ir += MR) {
                        const int64_t m = ic + ir;
                        ukernel(kcb, a_blk + m * kcb, b_buf + jr * kcb, g->c + m * g->ldc + jc + jr, g->ldc,
                                g->bias ? g->bias + m : NULL, pc > 0, min64(MR, mcb - ir), min64(NR, ncb - jr));
                    }
                }
            }
        }
    }
}
