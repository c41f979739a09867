// sgemm 6x16 AVX2+FMA: C (+)= A*B (+ bias per row), BLIS's five loops (Van Zee & van de Geijn 2015)
// around a 6x16 register-blocked microkernel: 12 ymm accumulators, A broadcast, B vector-loaded. A in
// 6-row micro-panels packed once (KC-blocked), B in 16-column micro-panels packed per KC x NC block by
// the caller's routine; MC/KC/NC from the cache sizes hwloc reports. Needs AVX2+FMA.
#include <assert.h>
#include <immintrin.h>

#include "core/cpu.h"
#include "kernels/avx2/avx2_util.h"
#include "kernels/avx2/sgemm_avx2.h"

#define MR CNB_SGEMM_6X16_MR
#define NR CNB_SGEMM_6X16_NR

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

cnb_sgemm_blocking cnb_sgemm_6x16_avx2_blocking(int64_t M, int64_t N, int64_t K) {
    const cnb_caches *cc = cnb_cpu_caches();
    cnb_sgemm_blocking b;
    // KC: one B micro-panel (16 x kc) fills half of L1d, so it stays there while the A micro-panels
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

size_t cnb_sgemm_6x16_avx2_packed_a_floats(int64_t M, int64_t K) {
    return (size_t)(cdiv(M, MR) * MR) * (size_t)K;
}

// Rows [0, 6) (zeros from row M) of a row-major a, columns [k0, k0 + kcb), into the 6-row micro-panel d, 8
// columns at a time by an 8x8 transpose: plain stores of 8 lanes for 6, each overwritten by the next but the
// panel's last, stored masked (the panel after it is written later, but past the last one is outside dst).
static void pack_a_rows(int64_t M, int64_t k0, int64_t kcb, const float *a, int64_t rs, float *d) {
    const __m256i six = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);
    int64_t k = 0;
    for (; k + 8 <= kcb; k += 8) {
        __m256 r[8];
        for (int i = 0; i < 8; i++)
            r[i] = i < MR && i < M ? _mm256_loadu_ps(a + i * rs + k0 + k) : _mm256_setzero_ps();
        cnb_avx2_transpose8(r);
        for (int j = 0; j < 8; j++) {
            if (k + j + 1 < kcb) _mm256_storeu_ps(d + (k + j) * MR, r[j]);
            else _mm256_maskstore_ps(d + (k + j) * MR, six, r[j]);
        }
    }
    for (; k < kcb; k++)
        for (int64_t i = 0; i < MR; i++) d[k * MR + i] = i < M ? a[i * rs + k0 + k] : 0.f;
}

void cnb_sgemm_6x16_avx2_pack_a_panel(int64_t M, int64_t K, int64_t kc, int64_t m0, const float *a, int64_t rs,
                                      float *dst) {
    const int64_t Mp = cdiv(M, MR) * MR;
    for (int64_t k0 = 0; k0 < K; k0 += kc) {
        const int64_t kcb = min64(kc, K - k0);
        pack_a_rows(M - m0, k0, kcb, a, rs, dst + k0 * Mp + m0 * kcb);
    }
}

size_t cnb_sgemm_6x16_avx2_packed_b_floats(int64_t N, int64_t K) {
    return (size_t)(cdiv(N, NR) * NR) * (size_t)K;
}

// Columns [0, 16) (zeros past N) of a B whose columns are contiguous (element (k, n) at b[k + n * cs], B =
// W^T), rows [k0, k0 + kcb), into the micro-panel d: 8 columns x 8 rows at a time by an 8x8 transpose (d is
// 64-byte aligned: Np and n0 are multiples of 16), the last kcb % 8 rows one by one.
static void pack_b_cols(int64_t N, int64_t k0, int64_t kcb, const float *b, int64_t cs, float *d) {
    int64_t k = 0;
    for (; k + 8 <= kcb; k += 8)
        for (int64_t h = 0; h < NR; h += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; i++)
                r[i] = h + i < N ? _mm256_loadu_ps(b + k0 + k + (h + i) * cs) : _mm256_setzero_ps();
            cnb_avx2_transpose8(r);
            for (int j = 0; j < 8; j++) _mm256_store_ps(d + (k + j) * NR + h, r[j]);
        }
    for (; k < kcb; k++)
        for (int64_t t = 0; t < NR; t++) d[k * NR + t] = t < N ? b[k0 + k + t * cs] : 0.f;
}

void cnb_sgemm_6x16_avx2_pack_b_panel(int64_t N, int64_t K, int64_t kc, int64_t n0, const float *b, int64_t cs,
                                      float *dst) {
    const int64_t Np = cdiv(N, NR) * NR;
    for (int64_t k0 = 0; k0 < K; k0 += kc) {
        const int64_t kcb = min64(kc, K - k0);
        pack_b_cols(N - n0, k0, kcb, b, cs, dst + k0 * Np + n0 * kcb);
    }
}

size_t cnb_sgemm_6x16_avx2_pack_b_floats(const cnb_sgemm_blocking *blk) {
    return (size_t)(blk->kc * cdiv(blk->nc, NR) * NR + 16);
}

void cnb_sgemm_6x16_avx2_pack_b_strided(const void *ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float *dst) {
    const cnb_sgemm_strided_b *s = ctx;
    for (int64_t j = 0; j < nc; j += NR) {
        const int64_t w = min64(NR, nc - j);
        float *d = dst + j * kc;
        for (int64_t k = 0; k < kc; k++) {
            const float *src = s->b + (k0 + k) * s->rs + (n0 + j) * s->cs;
            if (w == NR && s->cs == 1) {
                _mm256_store_ps(d + k * NR, _mm256_loadu_ps(src));
                _mm256_store_ps(d + k * NR + 8, _mm256_loadu_ps(src + 8));
            } else {
                for (int64_t t = 0; t < NR; t++) d[k * NR + t] = t < w ? src[t * s->cs] : 0.f;
            }
        }
    }
}

// Lanes [0, n) of a mask, n in [0, 8]: an 8-wide window into -1 x 8, 0 x 8.
static inline __m256i lane_mask(int64_t n) {
    static const int32_t tbl[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(tbl + 8 - n));
}

// The microkernel: C[mr x nr] (+)= A-panel (kc x 6) * B-panel (kc x 16). mr is a compile-time constant
// in each instantiation (always_inline), so the unused accumulators vanish; they are named variables,
// not an array, because gcc keeps an array of __m256 on the stack. nr < 16 (the last column panel) is
// stored through lane masks.
#define CNB_ROW_FMA(R, ACC)                                                                                 \
    if (mr > R) {                                                                                           \
        const __m256 ar = _mm256_broadcast_ss(a + R);                                                       \
        c##ACC##0 = _mm256_fmadd_ps(ar, b0, c##ACC##0);                                                     \
        c##ACC##1 = _mm256_fmadd_ps(ar, b1, c##ACC##1);                                                     \
    }
#define CNB_HALF_FMA(R)                                                                                     \
    if (mr > R) {                                                                                           \
        c##R##0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + R), b0, c##R##0);                                 \
        c##R##1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + MR + R), b1, c##R##1);                            \
    }
#define CNB_HALF_FMA1(R)                                                                                    \
    if (mr > R) c##R##0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + R), b0, c##R##0);
#define CNB_ROW_STORE(R)                                                                                    \
    if (mr > R) store_row(c + R * ldc, c##R##0, c##R##1, bias ? bias + R : NULL, accumulate, nr);

// Row r of the C tile: C = acc (+ bias) or C += acc; lanes past nr untouched.
static inline __attribute__((always_inline)) void store_row(float *cr, __m256 v0, __m256 v1, const float *bias,
                                                            bool accumulate, int64_t nr) {
    if (nr == NR) {
        if (accumulate) {
            v0 = _mm256_add_ps(v0, _mm256_loadu_ps(cr));
            v1 = _mm256_add_ps(v1, _mm256_loadu_ps(cr + 8));
        } else if (bias) {
            const __m256 br = _mm256_broadcast_ss(bias);
            v0 = _mm256_add_ps(v0, br);
            v1 = _mm256_add_ps(v1, br);
        }
        _mm256_storeu_ps(cr, v0);
        _mm256_storeu_ps(cr + 8, v1);
        return;
    }
    const __m256i m0 = lane_mask(min64(nr, 8)), m1 = lane_mask(max64(nr - 8, 0));
    if (accumulate) {
        v0 = _mm256_add_ps(v0, _mm256_maskload_ps(cr, m0));
        v1 = _mm256_add_ps(v1, _mm256_maskload_ps(cr + 8, m1));
    } else if (bias) {
        const __m256 br = _mm256_broadcast_ss(bias);
        v0 = _mm256_add_ps(v0, br);
        v1 = _mm256_add_ps(v1, br);
    }
    _mm256_maskstore_ps(cr, m0, v0);
    _mm256_maskstore_ps(cr + 8, m1, v1);
}

// a_next is prefetched whole (the next A micro-panel: the A block may still be on its way from memory
// when the first B panel meets it), b_next's first bn_lines lines too (a share of the next B micro-panel,
// which may come from memory when B was packed beforehand). Rows of fewer than 4 would leave the FMA
// pipes waiting on their few dependency chains (latency 4, 2 a cycle), so the k loop then alternates
// between two or four sets of accumulators, summed at the end.
static inline __attribute__((always_inline)) void ukernel(const int mr, const bool half, int64_t kc, const float *restrict a,
                                                          const float *restrict b, float *restrict c, int64_t ldc,
                                                          const float *bias, bool accumulate, int64_t nr,
                                                          const float *a_next, const float *b_next, int64_t bn_lines) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    // C's lines are touched only after the loop: start fetching them now.
    for (int r = 0; r < mr; r++) {
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + NR - 1), _MM_HINT_T0);
    }
    int64_t k = 0;
    if (half) {
        // At most 8 columns (the last panel of 14x14's 196 pixels has 4): one vector per row, so half
        // the FMAs of a full tile; even and odd k go to two sets of accumulators (6 chains would leave
        // the FMA pipes waiting), summed at the end.
        for (; k + 2 <= kc; k += 2) {
            _mm_prefetch((const char *)(a_next + k * MR), _MM_HINT_T0);
            for (int64_t u = k; u < k + 2 && u < bn_lines; u++) _mm_prefetch((const char *)(b_next + u * NR), _MM_HINT_T1);
            const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + NR);
            CNB_HALF_FMA(0)
            CNB_HALF_FMA(1)
            CNB_HALF_FMA(2)
            CNB_HALF_FMA(3)
            CNB_HALF_FMA(4)
            CNB_HALF_FMA(5)
            a += 2 * MR;
            b += 2 * NR;
        }
        for (; k < kc; k++) {
            const __m256 b0 = _mm256_load_ps(b);
            CNB_HALF_FMA1(0)
            CNB_HALF_FMA1(1)
            CNB_HALF_FMA1(2)
            CNB_HALF_FMA1(3)
            CNB_HALF_FMA1(4)
            CNB_HALF_FMA1(5)
            a += MR;
            b += NR;
        }
        c00 = _mm256_add_ps(c00, c01), c10 = _mm256_add_ps(c10, c11), c20 = _mm256_add_ps(c20, c21);
        c30 = _mm256_add_ps(c30, c31), c40 = _mm256_add_ps(c40, c41), c50 = _mm256_add_ps(c50, c51);
    } else if (mr == 1) {
        for (; k + 4 <= kc; k += 4) {
            _mm_prefetch((const char *)(a_next + k * MR), _MM_HINT_T0);
            _mm_prefetch((const char *)(a_next + k * MR + 16), _MM_HINT_T0);
            for (int64_t u = k; u < k + 4 && u < bn_lines; u++) _mm_prefetch((const char *)(b_next + u * NR), _MM_HINT_T1);
            __m256 ar = _mm256_broadcast_ss(a);
            c00 = _mm256_fmadd_ps(ar, _mm256_load_ps(b), c00);
            c01 = _mm256_fmadd_ps(ar, _mm256_load_ps(b + 8), c01);
            ar = _mm256_broadcast_ss(a + MR);
            c10 = _mm256_fmadd_ps(ar, _mm256_load_ps(b + NR), c10);
            c11 = _mm256_fmadd_ps(ar, _mm256_load_ps(b + NR + 8), c11);
            ar = _mm256_broadcast_ss(a + 2 * MR);
            c20 = _mm256_fmadd_ps(ar, _mm256_load_ps(b + 2 * NR), c20);
            c21 = _mm256_fmadd_ps(ar, _mm256_load_ps(b + 2 * NR + 8), c21);
            ar = _mm256_broadcast_ss(a + 3 * MR);
            c30 = _mm256_fmadd_ps(ar, _mm256_load_ps(b + 3 * NR), c30);
            c31 = _mm256_fmadd_ps(ar, _mm256_load_ps(b + 3 * NR + 8), c31);
            a += 4 * MR;
            b += 4 * NR;
        }
        c00 = _mm256_add_ps(_mm256_add_ps(c00, c10), _mm256_add_ps(c20, c30));
        c01 = _mm256_add_ps(_mm256_add_ps(c01, c11), _mm256_add_ps(c21, c31));
    } else if (mr <= 3) {
        for (; k + 2 <= kc; k += 2) {
            _mm_prefetch((const char *)(a_next + k * MR), _MM_HINT_T0);
            for (int64_t u = k; u < k + 2 && u < bn_lines; u++) _mm_prefetch((const char *)(b_next + u * NR), _MM_HINT_T1);
            __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
            CNB_ROW_FMA(0, 0)
            CNB_ROW_FMA(1, 1)
            CNB_ROW_FMA(2, 2)
            b0 = _mm256_load_ps(b + NR), b1 = _mm256_load_ps(b + NR + 8);
            a += MR;
            CNB_ROW_FMA(0, 3)
            CNB_ROW_FMA(1, 4)
            CNB_ROW_FMA(2, 5)
            a += MR;
            b += 2 * NR;
        }
        c00 = _mm256_add_ps(c00, c30), c01 = _mm256_add_ps(c01, c31);
        c10 = _mm256_add_ps(c10, c40), c11 = _mm256_add_ps(c11, c41);
        c20 = _mm256_add_ps(c20, c50), c21 = _mm256_add_ps(c21, c51);
    }
#pragma GCC unroll 4
    for (; !half && k < kc; k++) {
        _mm_prefetch((const char *)(a_next + k * MR), _MM_HINT_T0);
        if (k < bn_lines) _mm_prefetch((const char *)(b_next + k * NR), _MM_HINT_T1);
        const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        CNB_ROW_FMA(0, 0)
        CNB_ROW_FMA(1, 1)
        CNB_ROW_FMA(2, 2)
        CNB_ROW_FMA(3, 3)
        CNB_ROW_FMA(4, 4)
        CNB_ROW_FMA(5, 5)
        a += MR;
        b += NR;
    }
    CNB_ROW_STORE(0)
    CNB_ROW_STORE(1)
    CNB_ROW_STORE(2)
    CNB_ROW_STORE(3)
    CNB_ROW_STORE(4)
    CNB_ROW_STORE(5)
}
#undef CNB_ROW_FMA
#undef CNB_HALF_FMA
#undef CNB_HALF_FMA1
#undef CNB_ROW_STORE

typedef void ukernel_fn(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, const float *bias,
                        bool accumulate, int64_t nr, const float *a_next, const float *b_next, int64_t bn_lines);
#define CNB_UKERNEL_MR(R)                                                                                   \
    static void ukernel_##R(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,              \
                            const float *bias, bool accumulate, int64_t nr, const float *a_next,            \
                            const float *b_next, int64_t bn_lines) {                                        \
        ukernel(R, false, kc, a, b, c, ldc, bias, accumulate, nr, a_next, b_next, bn_lines);                \
    }                                                                                                       \
    static void ukernel_half_##R(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,         \
                                 const float *bias, bool accumulate, int64_t nr, const float *a_next,       \
                                 const float *b_next, int64_t bn_lines) {                                   \
        ukernel(R, true, kc, a, b, c, ldc, bias, accumulate, nr, a_next, b_next, bn_lines);                 \
    }
CNB_UKERNEL_MR(1)
CNB_UKERNEL_MR(2)
CNB_UKERNEL_MR(3)
CNB_UKERNEL_MR(4)
CNB_UKERNEL_MR(5)
CNB_UKERNEL_MR(6)
#undef CNB_UKERNEL_MR
static ukernel_fn *const k_ukernels[MR + 1] = {NULL, ukernel_1, ukernel_2, ukernel_3, ukernel_4, ukernel_5, ukernel_6};
static ukernel_fn *const k_ukernels_half[MR + 1] = {NULL,        ukernel_half_1, ukernel_half_2, ukernel_half_3,
                                                    ukernel_half_4, ukernel_half_5, ukernel_half_6};

void cnb_sgemm_6x16_avx2_compute(const cnb_sgemm_args *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1, float *b_buf) {
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
                    ukernel_fn *const *kern = nr <= NR / 2 ? k_ukernels_half : k_ukernels;
                    const float *bp = b_blk + jr * kcb;
                    // The next B micro-panel (kcb lines) is prefetched a share per A tile.
                    const int64_t share = cdiv(kcb, tiles);
                    for (int64_t ir = 0, t = 0; ir < mcb; ir += MR, t++) {
                        const int64_t mr = min64(MR, mcb - ir), m = ic + ir;
                        const float *ap = a_blk + m * kcb;
                        const int64_t first = t * share, lines = min64(share, kcb - first);
                        kern[mr](kcb, ap, bp, g->c + m * g->ldc + jc + jr, g->ldc, g->bias ? g->bias + m : NULL,
                                       accumulate, nr, ap + MR * kcb, bp + NR * (kcb + first), lines > 0 ? lines : 0);
                    }
                }
            }
        }
    }
}

// The microkernel with B read where it lies: row k of the 16-column panel at xs + roff[k]. Half: 8 columns
// or fewer, one vector per row, even and odd k in two sets of accumulators (as ukernel's half).
#define CNB_XB_FMA(R)                                                                                       \
    if (mr > R) {                                                                                           \
        const __m256 ar = _mm256_broadcast_ss(a + R);                                                       \
        c##R##0 = _mm256_fmadd_ps(ar, b0, c##R##0);                                                         \
        c##R##1 = _mm256_fmadd_ps(half ? _mm256_broadcast_ss(a + MR + R) : ar, b1, c##R##1);                \
    }
#define CNB_EACH_ROW(M) M(0) M(1) M(2) M(3) M(4) M(5)
#define CNB_XB_FMA1(R)                                                                                      \
    if (mr > R) c##R##0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + R), b0, c##R##0);
#define CNB_ROW_STORE(R)                                                                                    \
    if (mr > R) store_row(c + R * ldc, c##R##0, c##R##1, bias ? bias + R : NULL, accumulate, nr);
static inline __attribute__((always_inline)) void ukernel_xb(const int mr, const bool half, int64_t kc,
                                                             const float *restrict a, const float *xs,
                                                             const int64_t *restrict roff, float *restrict c,
                                                             int64_t ldc, const float *bias, bool accumulate,
                                                             int64_t nr) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int r = 0; r < mr; r++) _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
    const float *a_next = a + MR * kc;
    int64_t k = 0;
    if (half) {
        for (; k + 2 <= kc; k += 2) {
            _mm_prefetch((const char *)(a_next + k * MR), _MM_HINT_T0);
            const __m256 b0 = _mm256_loadu_ps(xs + roff[k]), b1 = _mm256_loadu_ps(xs + roff[k + 1]);
            CNB_EACH_ROW(CNB_XB_FMA)
            a += 2 * MR;
        }
        if (k < kc) {
            const __m256 b0 = _mm256_loadu_ps(xs + roff[k]);
            CNB_EACH_ROW(CNB_XB_FMA1)
        }
        c00 = _mm256_add_ps(c00, c01), c10 = _mm256_add_ps(c10, c11), c20 = _mm256_add_ps(c20, c21);
        c30 = _mm256_add_ps(c30, c31), c40 = _mm256_add_ps(c40, c41), c50 = _mm256_add_ps(c50, c51);
    } else {
#pragma GCC unroll 4
        for (; k < kc; k++) {
            _mm_prefetch((const char *)(a_next + k * MR), _MM_HINT_T0);
            const float *br = xs + roff[k];
            const __m256 b0 = _mm256_loadu_ps(br), b1 = _mm256_loadu_ps(br + 8);
            CNB_EACH_ROW(CNB_XB_FMA)
            a += MR;
        }
    }
    CNB_EACH_ROW(CNB_ROW_STORE)
}
#undef CNB_EACH_ROW
#undef CNB_XB_FMA
#undef CNB_XB_FMA1
#undef CNB_ROW_STORE

typedef void ukernel_xb_fn(int64_t kc, const float *a, const float *xs, const int64_t *roff, float *c, int64_t ldc,
                           const float *bias, bool accumulate, int64_t nr);
#define CNB_UKERNEL_XB(R)                                                                                   \
    static void ukernel_xb_##R(int64_t kc, const float *a, const float *xs, const int64_t *roff, float *c,  \
                               int64_t ldc, const float *bias, bool accumulate, int64_t nr) {               \
        ukernel_xb(R, false, kc, a, xs, roff, c, ldc, bias, accumulate, nr);                                \
    }                                                                                                       \
    static void ukernel_xb_half_##R(int64_t kc, const float *a, const float *xs, const int64_t *roff,       \
                                    float *c, int64_t ldc, const float *bias, bool accumulate, int64_t nr) { \
        ukernel_xb(R, true, kc, a, xs, roff, c, ldc, bias, accumulate, nr);                                 \
    }
CNB_UKERNEL_XB(1)
CNB_UKERNEL_XB(2)
CNB_UKERNEL_XB(3)
CNB_UKERNEL_XB(4)
CNB_UKERNEL_XB(5)
CNB_UKERNEL_XB(6)
#undef CNB_UKERNEL_XB
static ukernel_xb_fn *const k_ukernels_xb[2][MR + 1] = {
    {NULL, ukernel_xb_1, ukernel_xb_2, ukernel_xb_3, ukernel_xb_4, ukernel_xb_5, ukernel_xb_6},
    {NULL, ukernel_xb_half_1, ukernel_xb_half_2, ukernel_xb_half_3, ukernel_xb_half_4, ukernel_xb_half_5,
     ukernel_xb_half_6}};

void cnb_sgemm_6x16_avx2_panel_xb(const cnb_sgemm_args *g, int64_t pc, int64_t kcb, const float *xs,
                                  const int64_t *roff, int64_t nr, float *c, int64_t m0, int64_t m1) {
    assert(m0 % MR == 0 && m1 <= g->M && nr >= 1 && nr <= NR);
    const float *a_blk = g->a_packed + pc * (cdiv(g->M, MR) * MR);
    const bool accumulate = g->accumulate || pc > 0;
    ukernel_xb_fn *const *kern = k_ukernels_xb[nr <= NR / 2];
    for (int64_t m = m0; m < m1; m += MR)
        kern[min64(MR, m1 - m)](kcb, a_blk + m * kcb, xs, roff + pc, c + m * g->ldc, g->ldc,
                                g->bias ? g->bias + m : NULL, accumulate, nr);
}
