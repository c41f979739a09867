// adaptiveavgpool2d.direct.scalar: AdaptiveAvgPool2d with PyTorch 1.13's cells [floor(o*L/n), ceil((o+1)*L/n)),
// as loops the compiler vectorises: global average by 8 partial sums per plane; 1x1 cells by one pass; other
// cells by summing each output row's cell rows into a row buffer, then each cell's columns. Float sums for cells
// up to 256 elements, double beyond. NCHW float32; portable C (the fast path for CPUs without AVX2); OpenMP.
#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/registry.h"
#include "core/status.h"

cnb_status cnb_adaptiveavgpool2d_direct_scalar_supports(const cnb_geom *g, cnb_error *why);
cnb_status cnb_adaptiveavgpool2d_direct_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                                    cnb_error *err);
cnb_status cnb_adaptiveavgpool2d_direct_scalar_run(const cnb_plan_data *p, const cnb_io *io);
void cnb_adaptiveavgpool2d_direct_scalar_free(cnb_plan_data *p);

cnb_status cnb_adaptiveavgpool2d_direct_scalar_supports(const cnb_geom *g, cnb_error *why) {
    (void)g, (void)why;
    return CNB_OK;
}

// Integer division gives the exact floor and ceil; a float floor misplaces bounds once o*len is large.
// In 128 bits: plan() tabulates the bounds of huge layers too (planned, maybe never run), where o * len
// overflows int64.
__extension__ typedef __int128 cnb_i128;
static int64_t cell_start(int64_t o, int64_t n, int64_t len) { return (int64_t)((cnb_i128)o * len / n); }
static int64_t cell_end(int64_t o, int64_t n, int64_t len) { return (int64_t)(((cnb_i128)(o + 1) * len + n - 1) / n); }

// The cell bounds, [start, end) per output row then per output column, then the column cells' widths as
// floats, computed once: 64-bit divisions and conversions for every row would cost more than the sums.
cnb_status cnb_adaptiveavgpool2d_direct_scalar_plan(const cnb_geom *g, const cnb_weights *w, cnb_plan_data *p,
                                                    cnb_error *err) {
    (void)w;
    // An empty output (C or N = 0) is never run, and its OH + OW may not even fit int64: no tables.
    if (g->out_numel == 0) {
        p->priv = NULL;
        p->workspace_bytes = 0;
        return CNB_OK;
    }
    int64_t *b = cnb_malloc(2 * (size_t)(g->OH + g->OW) * sizeof *b + (size_t)g->OW * sizeof(float));
    if (!b) return cnb_fail(err, CNB_E_NOMEM, "adaptiveavgpool2d.direct.scalar: out of memory for %lld cell bounds",
                            (long long)(g->OH + g->OW));
    for (int64_t o = 0; o < g->OH; o++) b[2 * o] = cell_start(o, g->OH, g->H), b[2 * o + 1] = cell_end(o, g->OH, g->H);
    for (int64_t o = 0; o < g->OW; o++) {
        b[2 * (g->OH + o)] = cell_start(o, g->OW, g->W);
        b[2 * (g->OH + o) + 1] = cell_end(o, g->OW, g->W);
    }
    float *cw = (float *)(b + 2 * (g->OH + g->OW));
    for (int64_t o = 0; o < g->OW; o++) cw[o] = (float)(b[2 * (g->OH + o) + 1] - b[2 * (g->OH + o)]);
    p->priv = b;
    p->workspace_bytes = 0;
    return CNB_OK;
}

void cnb_adaptiveavgpool2d_direct_scalar_free(cnb_plan_data *p) {
    cnb_free(p->priv);
    p->priv = NULL;
}

// Cells of more elements are summed in double: a float sum's rounding grows with the number of terms, and
// averages of many terms of both signs are much smaller than the terms (PyTorch sums in float, one by one).
enum { FLOAT_TERMS = 256, BUF = 2048 };

typedef struct job {
    const float *x;
    float *y;
    int64_t planes, H, W, OH, OW;
    const int64_t *hb, *wb;   // cell bounds: rows [hb[2o], hb[2o+1]), columns likewise
    const float *cw;          // column cells' widths
    int64_t ukw;              // W / OW when OW divides W (equal cells), else 0
    float recip;              // 1 / cell size when all cells are equal and that is exact (a power of two), else 0
    bool dbl;                 // sums in double: the largest cell has more than FLOAT_TERMS elements
} job;

// ---- global average ---------------------------------------------------------------------------------------

// 8 independent partial sums: the compiler keeps them in one vector (a single running sum would be a serial
// chain it may not reorder).
static float sum_f(const float *restrict p, int64_t n) {
    float a[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) a[k] += p[i + k];
    for (; i < n; i++) a[0] += p[i];
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}

static double sum_d(const float *restrict p, int64_t n) {
    double a[4] = {0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) a[k] += p[i + k];
    for (; i < n; i++) a[0] += p[i];
    return (a[0] + a[2]) + (a[1] + a[3]);
}

static void global_avg(const job *j, int64_t p0, int64_t p1) {
    const int64_t S = j->H * j->W;
    for (int64_t p = p0; p < p1; p++)
        j->y[p] = S > FLOAT_TERMS ? (float)(sum_d(j->x + p * S, S) / (double)S) : sum_f(j->x + p * S, S) / (float)S;
}

// ---- any cells ----------------------------------------------------------------------------------------------

// Output row oh of plane xp: per chunk of output columns whose cells span at most BUF input columns, the
// cell rows are summed into a row buffer (row-wise, vectorised), then each cell's columns from it. A cell
// wider than BUF is summed straight from the input. DBL: sums in double (buffer bd), else in float (bf).
static inline __attribute__((always_inline)) void cell_row(const job *j, const float *xp, int64_t oh,
                                                           float *restrict yr, float *restrict bf,
                                                           double *restrict bd, const bool DBL) {
    const int64_t h0 = j->hb[2 * oh], h1 = j->hb[2 * oh + 1], W = j->W;
    const int64_t *wb = j->wb;
    for (int64_t oa = 0; oa < j->OW;) {
        const int64_t ws = wb[2 * oa];
        int64_t ob = oa + 1;
        while (ob < j->OW && wb[2 * ob + 1] - ws <= BUF) ob++;
        const int64_t n = wb[2 * ob - 1] - ws;
        if (n > BUF) {
            double s = 0;
            for (int64_t h = h0; h < h1; h++)
                for (int64_t w = 0; w < n; w++) s += xp[h * W + ws + w];
            yr[oa] = (float)(s / (double)((h1 - h0) * n));
            oa = ob;
            continue;
        }
        // 0 + x as PyTorch's sums start (-0 becomes +0), which also keeps this a loop rather than a memcpy
        // call (slow for short rows).
        const float *restrict r0 = xp + h0 * W + ws;
        for (int64_t w = 0; w < n; w++) {
            if (DBL) bd[w] = 0.0 + r0[w];
            else bf[w] = 0.0f + r0[w];
        }
        for (int64_t h = h0 + 1; h < h1; h++) {
            const float *restrict r = xp + h * W + ws;
            for (int64_t w = 0; w < n; w++) {
                if (DBL) bd[w] += r[w];
                else bf[w] += r[w];
            }
        }
        if (DBL) {
            for (int64_t ow = oa; ow < ob; ow++) {
                const int64_t c0 = wb[2 * ow] - ws, c1 = wb[2 * ow + 1] - ws;
                double s = 0;
                for (int64_t w = c0; w < c1; w++) s += bd[w];
                yr[ow] = (float)(s / (double)((h1 - h0) * (c1 - c0)));
            }
            oa = ob;
            continue;
        }
        // Cell sums first (equal cells 1 or 2 wide as strided loops), then one division pass: both vectorise.
        float *restrict yo = yr + oa;
        const int64_t no = ob - oa;
        if (j->ukw == 1) {
            for (int64_t o = 0; o < no; o++) yo[o] = bf[o];
        } else if (j->ukw == 2) {
            for (int64_t o = 0; o < no; o++) yo[o] = bf[2 * o] + bf[2 * o + 1];
        } else {
            for (int64_t ow = oa; ow < ob; ow++) {
                float s = 0;
                for (int64_t w = wb[2 * ow] - ws; w < wb[2 * ow + 1] - ws; w++) s += bf[w];
                yr[ow] = s;
            }
        }
        if (j->recip) {
            for (int64_t o = 0; o < no; o++) yo[o] *= j->recip;
        } else {
            const float rows = (float)(h1 - h0);
            const float *restrict cw = j->cw + oa;
            for (int64_t o = 0; o < no; o++) yo[o] /= rows * cw[o];   // exact product: both below 2^24
        }
        oa = ob;
    }
}

// Items [i0, i1): planes (global average), elements (1x1 cells) or (plane, output row) (the others).
static void work_global(const job *j, int64_t i0, int64_t i1) { global_avg(j, i0, i1); }

// 1x1 cells: PyTorch sums each from 0, so -0 comes out as +0: add +0 rather than copy.
static void work_identity(const job *j, int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) j->y[i] = j->x[i] + 0.0f;
}

static void work_cells(const job *j, int64_t r0, int64_t r1) {
    int64_t oh = r0 % j->OH;
    const float *xp = j->x + r0 / j->OH * j->H * j->W;
    float bf[BUF];
    double bd[BUF];
    for (int64_t r = r0; r < r1; r++) {
        if (j->dbl) cell_row(j, xp, oh, j->y + r * j->OW, bf, bd, true);
        else cell_row(j, xp, oh, j->y + r * j->OW, bf, bd, false);
        if (++oh == j->OH) oh = 0, xp += j->H * j->W;
    }
}

#include "kernels/scalar/pool_drive.h"

cnb_status cnb_adaptiveavgpool2d_direct_scalar_run(const cnb_plan_data *p, const cnb_io *io) {
    const cnb_geom *g = p->g;
    assert(g->kind == CNB_ADAPTIVEAVGPOOL2D && g->K == g->C);
    assert(g->H > 0 && g->W > 0 && g->OH > 0 && g->OW > 0 && p->priv);
    assert(io->x && io->y && io->threads > 0);

    const int64_t *b = p->priv;
    // Equal cells of a power-of-two size: multiplying by the exact reciprocal is the division.
    const int64_t cell = g->H / g->OH * (g->W / g->OW);
    const bool pow2 = g->H % g->OH == 0 && g->W % g->OW == 0 && !(cell & (cell - 1));
    // The largest cell decides float or double for all.
    int64_t mh = 0, mw = 0;
    for (int64_t o = 0; o < g->OH; o++)
        if (b[2 * o + 1] - b[2 * o] > mh) mh = b[2 * o + 1] - b[2 * o];
    for (int64_t o = g->OH; o < g->OH + g->OW; o++)
        if (b[2 * o + 1] - b[2 * o] > mw) mw = b[2 * o + 1] - b[2 * o];
    const job j = {.x = io->x, .y = io->y, .planes = g->N * g->C, .H = g->H, .W = g->W, .OH = g->OH, .OW = g->OW,
                   .hb = b, .wb = b + 2 * g->OH, .cw = (const float *)(b + 2 * (g->OH + g->OW)),
                   .ukw = g->W % g->OW ? 0 : g->W / g->OW, .recip = pow2 ? 1.0f / (float)cell : 0.0f,
                   .dbl = mh * mw > FLOAT_TERMS};
    // Chunks of about 64 KiB of input.
    const int nt = team(io->threads, g->in_numel + g->out_numel);
    const int64_t S = g->H * g->W;
    if (g->OH == 1 && g->OW == 1) drive(work_global, &j, j.planes, 16384 / S + 1, nt);
    else if (g->OH == g->H && g->OW == g->W) drive(work_identity, &j, j.planes * S, 16384, nt);
    else drive(work_cells, &j, j.planes * g->OH, 16384 / (S / g->OH + 1) + 1, nt);
    return CNB_OK;
}
