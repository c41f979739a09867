/* Shared by the determinism, thread-safety and allocation-failure tests: generated layers of every kind
 * (seeded random float data, no NaN), golden cases loaded as the same structure, and plan/run/compare
 * helpers. Tests written over these loop over the registry, so a new kernel needs no test edit. */
#ifndef CNB_TESTS_TEST_LAYERS_H
#define CNB_TESTS_TEST_LAYERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cnnbench.h"

/* A layer, its input shape and its data (inputs and parameters); memory from malloc. */
typedef struct tl_data {
    char id[64];              /* for messages: a golden case id, or "gen<N>" */
    char spec[256];
    cnb_layer layer;
    cnb_shape in, out;
    int64_t nx, ny, nc;       /* input, output elements; BatchNorm2d channels (0 otherwise) */
    float *x, *w, *b, *rm, *rv;
    int64_t nbt;
    bool indices;             /* MaxPool2d: ask for indices */
} tl_data;

/* Outputs of one run. */
typedef struct tl_out {
    float *y, *nrm, *nrv;
    int64_t *idx;
} tl_out;

/* The generated layers: spec, input shape, BatchNorm2d training. Every kind, the options that matter for
 * how kernels split work (3x3, 1x1, strided, depthwise, grouped, dilated, padding modes, a deep reduction,
 * Conv1d batched and not, ceil_mode, indices, BN train/eval/no tracking/momentum None). */
typedef struct tl_gen {
    const char *spec;
    int ndim;
    int64_t dims[4];
    bool train;
} tl_gen;
extern const tl_gen tl_gens[];
extern const size_t tl_ngens;
/* Larger layers of every kind, sized to reach the vector fast paths and the multi-thread splits
 * (tests/test_determinism.c). */
extern const tl_gen tl_large[];
extern const size_t tl_nlarge;

/* Build generated layer g with data from seed; false with why on failure (a test bug). */
bool tl_make(const tl_gen *g, size_t index, uint64_t seed, tl_data *d, char *why, size_t why_size);
/* Load golden case id (cases.tsv's flags and SPEC) from dir/cases/<id>/; false with why when unreadable. */
bool tl_golden(const char *dir, const char *id, const char *flags, const char *spec, tl_data *d, char *why,
               size_t why_size);
void tl_free(tl_data *d);

/* Fill n floats with seeded values uniform in [-2, 2), not integers (so that summation order shows). */
void tl_random(float *p, int64_t n, uint64_t seed);

/* Plan d with impl (a name, or NULL for auto), threads as cnb_params.threads. */
cnb_status tl_plan(const tl_data *d, const char *impl, int threads, cnb_plan **plan, cnb_error *err);

/* Output buffers for d, filled as tl_out_fill does; false when out of memory. */
bool tl_out_alloc(const tl_data *d, tl_out *o);
/* Fill every byte of o with 0xff (a NaN, index -1), so that a written element shows. */
void tl_out_fill(const tl_data *d, tl_out *o);
/* Whether o is still as tl_out_fill left it; else false with the first written element in what. */
bool tl_out_untouched(const tl_data *d, const tl_out *o, char *what, size_t what_size);
void tl_out_free(tl_out *o);

/* Run plan on x (d->x when NULL) into o, with threads and workspace (NULL: the library allocates). */
cnb_status tl_run(const cnb_plan *plan, const tl_data *d, const float *x, tl_out *o, int threads, void *workspace,
                  cnb_error *err);

/* Whether a and b hold the same bits (NaN equals NaN whatever its payload); else false with the first
 * difference described in what. */
bool tl_same(const tl_data *d, const tl_out *a, const tl_out *b, char *what, size_t what_size);

/* The index of the reference implementation of a kind ("<kind>.naive.scalar"), or -1. */
long tl_reference(cnb_layer_kind kind);

#endif /* CNB_TESTS_TEST_LAYERS_H */
