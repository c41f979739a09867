/* The portable BLIS-style single-precision GEMM of kernels/scalar/sgemm_scalar.c, the reference path of
 * the AVX2 one (kernels/avx2/sgemm_avx2.h has the same shape of interface): C[M x N] = A[M x K] * B[K x N]
 * (+ bias[M] per row), A packed once into MR-row micro-panels, B packed block by block into NR-column
 * micro-panels by a caller-supplied routine. Cache blocking MC/KC/NC comes from cnb_cpu_caches(). */
#ifndef CNB_KERNELS_SCALAR_SGEMM_SCALAR_H
#define CNB_KERNELS_SCALAR_SGEMM_SCALAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CNB_SGEMM_SCALAR_MR 4
#define CNB_SGEMM_SCALAR_NR 8

/* Block sizes: kc the depth of a packed block (A is packed with it), mc the rows of A kept in L2, nc
 * the columns of one packed B block (a multiple of NR). */
typedef struct cnb_sgemm_scalar_blocking {
    int64_t mc, kc, nc;
} cnb_sgemm_scalar_blocking;

/* Packs rows [k0, k0 + kc) x columns [n0, n0 + nc) of the (virtual) B matrix into dst as ceil(nc/NR)
 * micro-panels of kc x NR floats each, row-major inside a panel, columns past nc zero. n0 is a multiple
 * of NR. ctx is the caller's. */
typedef void (*cnb_sgemm_scalar_pack_b_fn)(const void *ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float *dst);

typedef struct cnb_sgemm_scalar_args {
    int64_t M, N, K;
    const float *a_packed;          /* from cnb_sgemm_scalar_pack_a with the same M, K, kc */
    cnb_sgemm_scalar_pack_b_fn pack_b;
    const void *pack_b_ctx;
    float *c;                       /* row m at c + m * ldc */
    int64_t ldc;
    const float *bias;              /* bias[m] added to row m, or NULL */
    cnb_sgemm_scalar_blocking blk;
} cnb_sgemm_scalar_args;

/* Blocking for an M x N x K product on this machine's caches. */
cnb_sgemm_scalar_blocking cnb_sgemm_scalar_blocking_for(int64_t M, int64_t N, int64_t K);

/* Floats of A packed for (M, K). */
size_t cnb_sgemm_scalar_packed_a_floats(int64_t M, int64_t K);

/* Packs A (element (m, k) at a[m * rs + k * cs]) as KC blocks of MR-row micro-panels: the block of
 * depth kcb starting at k0 at dst + k0 * roundup(M, MR); panel p (kcb x MR) at p * MR * kcb in it. */
void cnb_sgemm_scalar_pack_a(int64_t M, int64_t K, int64_t kc, const float *a, int64_t rs, int64_t cs, float *dst);

/* Floats of the packed-B scratch one thread needs. */
size_t cnb_sgemm_scalar_pack_b_floats(const cnb_sgemm_scalar_blocking *blk);

/* Computes rows [m0, m1) x columns [n0, n1) of C = A*B (+ bias) on the calling thread with b_buf as
 * packed-B scratch; m0 a multiple of MR and n0 of NR, so that disjoint ranges can run in parallel. */
void cnb_sgemm_scalar_compute(const cnb_sgemm_scalar_args *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1, float *b_buf);

#endif /* CNB_KERNELS_SCALAR_SGEMM_SCALAR_H */
