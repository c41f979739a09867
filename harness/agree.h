/* Agreement checks for the benchmark: seeded data that makes the comparison exact where it can be,
 * the reference output computed once per (layer, shape), and the rule each implementation is held to.
 *   - Convolutions (not Winograd): bit-exact. Inputs and weights are small integers chosen so that every
 *     partial sum is an integer below 2^24, which float32 holds exactly, whatever the summation order.
 *   - Winograd: relative L2 error ||y - ref|| / ||ref|| <= the implementation's max_rel_err.
 *   - MaxPool2d: values and indices bit-exact (any NaN matches any NaN).
 *   - AvgPool2d, AdaptiveAvgPool2d: each element within 2 ulp of the reference (one rounded division,
 *     or a multiplication by a rounded reciprocal, of an exact integer sum).
 *   - BatchNorm2d: |y - ref| <= 8 ulp of the largest |ref| (normalisation subtracts a mean: the error
 *     scales with the data, not with each element), running statistics likewise (given the inputs, with
 *     the scale of each term of (1 - f) x old + f x batch statistic, which may cancel); an implementation
 *     that promises less (max_rel_err above 8 ulp, e.g. a peer keeping its statistics in float) is held
 *     to its promise instead.
 * Data is generated per fixed-size chunk from the seed and the chunk index, so it does not depend on
 * the thread count. */
#ifndef CNB_HARNESS_AGREE_H
#define CNB_HARNESS_AGREE_H

#include <stdbool.h>
#include <stdint.h>

#include "cnnbench.h"

typedef struct cnb_bench_data {
    cnb_layer layer;
    cnb_shape in_shape, out_shape;
    int64_t nx, ny, nw, nb, nc;          /* element counts: input, output, weight, bias, BN channels */
    float *x, *w, *b, *rm, *rv;           /* inputs (w/b/rm/rv NULL where the layer has none) */
    int64_t nbt;                          /* BN num_batches_tracked */
    float *ref_y, *ref_rm, *ref_rv;       /* the reference's outputs */
    int64_t *ref_idx;
    const char *ref_impl;                 /* "<layer>.naive.scalar" */
} cnb_bench_data;

/* n floats (at least 1), 64-byte aligned, released by free(). */
float *cnb_bench_alloc_f(int64_t n);

/* Generate the data for layer on shape from seed, and run the reference with threads threads. */
cnb_status cnb_bench_data_make(const cnb_layer *layer, const cnb_shape *shape, uint64_t seed, int threads,
                               cnb_bench_data *d, cnb_error *err);
void cnb_bench_data_free(cnb_bench_data *d);

typedef struct cnb_agreement {
    bool pass;
    double err;          /* in the rule's unit: 0 for exact matches, ulps, or relative L2 */
    char rule[48];       /* "bit-exact", "<= 2 ulp", "rel L2 <= 0.001" ... */
    char detail[200];    /* where and what, when it failed */
} cnb_agreement;

/* Run impl once on d's data with threads threads and judge it by the rule for its layer/algorithm. */
cnb_status cnb_bench_check(const cnb_bench_data *d, const char *impl, int threads, cnb_agreement *a, cnb_error *err);

/* Judge outputs (idx, rm, rv NULL where not produced) against d's reference outputs by the rule for impl's
 * layer and algorithm; only d's layer, ny, nc and ref_* are read, and for BatchNorm2d's running statistics
 * x, nx, rm, rv and nbt when x is set (else NULL), for its eval-mode outputs also in_shape, w and b. NaN and infinities must sit where the
 * reference has them (any NaN matches any NaN). `cnnbench fuzz` and `run --expect` use it on their own data. */
void cnb_bench_judge(const cnb_bench_data *d, const char *impl, const float *y, const int64_t *idx, const float *rm,
                     const float *rv, cnb_agreement *a);

/* Nominal work of a layer: flops (the direct-convolution count for convs, one op per window element for
 * pooling, per element for BN) and the bytes it must touch (input, output, parameters, indices). */
void cnb_layer_work(const cnb_layer *layer, const cnb_shape *in, double *flops, double *bytes);

/* Write d's tensors to dir as .npy and fill cmd with a one-line `cnnbench run ...` reproducer for impl. */
cnb_status cnb_bench_reproducer(const cnb_bench_data *d, const char *impl, const char *dir, char *cmd, size_t size,
                                cnb_error *err);

#endif /* CNB_HARNESS_AGREE_H */
