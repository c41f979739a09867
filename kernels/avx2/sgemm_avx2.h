/* The BLIS-style AVX2+FMA single-precision GEMM of kernels/avx2/sgemm_6x16_avx2.c, for other kernels:
 * C[M x N] (+)= A[M x K] * B[K x N] (+ bias[M] per row), A packed once into 6-row micro-panels, B packed
 * block by block into 16-column micro-panels by a caller-supplied routine (so B can be a virtual
 * matrix, e.g. an implicit im2col). Cache blocking MC/KC/NC comes from cnb_cpu_caches(). */
#ifndef CNB_KERNELS_AVX2_SGEMM_AVX2_H
#define CNB_KERNELS_AVX2_SGEMM_AVX2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CNB_SGEMM_6X16_MR 6
#define CNB_SGEMM_6X16_NR 16

/* Block sizes: kc is the depth of one packed block (A is packed with it, so it is fixed once A is
 * packed), mc the rows of A kept in L2, nc the columns of one packed B block (a multiple of 16). */
typedef struct cnb_sgemm_blocking {
    int64_t mc, kc, nc;
} cnb_sgemm_blocking;

/* Packs rows [k0, k0 + kc) x columns [n0, n0 + nc) of the (virtual) B matrix into dst as ceil(nc/16)
 * micro-panels of kc x 16 floats each, row-major inside a panel, columns past nc zero. dst is 64-byte
 * aligned; n0 is a multiple of 16. ctx is the caller's. */
typedef void (*cnb_sgemm_pack_b_fn)(const void *ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float *dst);

/* One GEMM: sizes, the packed A, the packed B or how to pack it, and where C is. */
typedef struct cnb_sgemm_args {
    int64_t M, N, K;
    const float *a_packed;          /* from cnb_sgemm_6x16_avx2_pack_a_panel with the same M, K, kc */
    const float *b_packed;          /* from cnb_sgemm_6x16_avx2_pack_b_panel with the same K, N, kc; or NULL: */
    cnb_sgemm_pack_b_fn pack_b;     /* ... packed block by block by pack_b(pack_b_ctx, ...) */
    const void *pack_b_ctx;
    float *c;                       /* row m at c + m * ldc */
    int64_t ldc;
    const float *bias;              /* bias[m] added to row m, or NULL */
    bool accumulate;                /* C += A*B, else C = A*B (+ bias) */
    cnb_sgemm_blocking blk;
} cnb_sgemm_args;

/* Blocking for an M x N x K product on this machine's caches (kc balanced over K, mc over M). */
cnb_sgemm_blocking cnb_sgemm_6x16_avx2_blocking(int64_t M, int64_t N, int64_t K);

/* Floats of A packed for (M, K): M rounded up to 6, times K. */
size_t cnb_sgemm_6x16_avx2_packed_a_floats(int64_t M, int64_t K);

/* Packed A is KC blocks of 6-row micro-panels: the block of depth kcb starting at k0 sits at
 * dst + k0 * roundup(M, 6); inside it panel p is kcb x 6 floats at p * 6 * kcb, rows past M zero.
 * This packs one micro-panel, rows [m0, m0 + 6), in every KC block: a points at row m0 (element (m, k) at
 * a[(m - m0) * rs + k]). Panel by panel, the caller can prepare A's rows a few at a time (e.g. reorder
 * them) in a small buffer. */
void cnb_sgemm_6x16_avx2_pack_a_panel(int64_t M, int64_t K, int64_t kc, int64_t m0, const float *a, int64_t rs,
                                      float *dst);

/* B packed once, for a B that is reused (weights): the block of depth kcb starting at k0 at
 * dst + k0 * roundup(N, 16), inside it panel j (kcb x 16) at j * 16 * kcb, columns past N zero;
 * cnb_sgemm_6x16_avx2_packed_b_floats(N, K) floats. pack_b_panel packs one 16-column micro-panel of a B
 * with contiguous columns (B = W^T), columns [n0, n0 + 16), in every KC block: b points at column n0
 * (element (k, n) at b[k + (n - n0) * cs]). */
size_t cnb_sgemm_6x16_avx2_packed_b_floats(int64_t N, int64_t K);
void cnb_sgemm_6x16_avx2_pack_b_panel(int64_t N, int64_t K, int64_t kc, int64_t n0, const float *b, int64_t cs,
                                      float *dst);

/* Floats of the packed-B buffer one thread needs (kc x nc, rounded up), 64-byte multiples. */
size_t cnb_sgemm_6x16_avx2_pack_b_floats(const cnb_sgemm_blocking *blk);

/* A ready pack_b for a plain B (element (k, n) at b[k * rs + n * cs]); ctx is a cnb_sgemm_strided_b. */
typedef struct cnb_sgemm_strided_b {
    const float *b;
    int64_t rs, cs;
} cnb_sgemm_strided_b;
void cnb_sgemm_6x16_avx2_pack_b_strided(const void *ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float *dst);

/* Computes rows [m0, m1) x columns [n0, n1) of C on the calling thread, with b_buf (64-byte aligned,
 * cnb_sgemm_6x16_avx2_pack_b_floats() floats; unused when B is prepacked) as its packed-B scratch. m0 is a multiple of 6 and n0 of
 * 16, so that disjoint ranges can run on different threads. */
void cnb_sgemm_6x16_avx2_compute(const cnb_sgemm_args *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1, float *b_buf);

/* One column panel of C, columns [0, nr) (nr <= 16) of rows [m0, m1) (m0 a multiple of 6), for the K block
 * [pc, pc + kcb) of a->a_packed, with B never packed: row k of the panel is the nr floats at xs + roff[k]
 * (an implicit im2col whose 16 pixels lie side by side; 16 floats from there must be readable). c points at
 * column 0 of row 0 of C; a's M, ldc, bias and accumulate apply (the first K block stores, or adds the bias). */
void cnb_sgemm_6x16_avx2_panel_xb(const cnb_sgemm_args *a, int64_t pc, int64_t kcb, const float *xs,
                                  const int64_t *roff, int64_t nr, float *c, int64_t m0, int64_t m1);

#endif /* CNB_KERNELS_AVX2_SGEMM_AVX2_H */
