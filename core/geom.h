/* Validated geometry of a layer applied to an input shape: what every kernel reads.
 * core/geom.c builds it once from the PyTorch parameters (cnb_layer) and the input shape; kernels never
 * look at cnb_layer. Conv1d is described as a Conv2d with H == 1 and a 1-high kernel. */
#ifndef CNB_CORE_GEOM_H
#define CNB_CORE_GEOM_H

#include <stdbool.h>
#include <stdint.h>

#include "cnnbench.h"

typedef struct cnb_geom {
    cnb_layer_kind kind;
    cnb_layer layer;          /* the parameters as given, for messages and reproducers */
    cnb_shape in_shape;       /* as given (batched or not) */
    cnb_shape out_shape;

    /* Input N x C x H x W and output N x K x OH x OW; unbatched input has N == 1. Conv1d: H = OH = 1. */
    int64_t N, C, H, W;
    int64_t K, OH, OW;

    /* Window (conv and pooling): kernel, stride, dilation, and padding per side (top, bottom, left,
     * right). For conv with a non-zeros padding_mode the padding is applied by that mode. */
    int64_t kh, kw, sh, sw, dh, dw;
    int64_t pad_t, pad_b, pad_l, pad_r;

    /* Conv */
    int64_t groups;           /* C and K are divisible by it */
    bool has_bias;
    cnb_padding_mode pad_mode;

    /* Pooling */
    bool ceil_mode;
    bool return_indices;
    bool count_include_pad;
    int64_t divisor;          /* divisor_override, or 0 when None */

    /* BatchNorm2d */
    double eps;
    double momentum;          /* factor of the running-stat update (already 1/num_batches_tracked when None) */
    bool momentum_none;
    bool affine;
    bool track_running_stats;
    bool training;
    bool use_batch_stats;     /* training, or no running stats */
    bool update_running;      /* training with running stats */

    int64_t in_numel, out_numel;   /* element counts, overflow-checked */
} cnb_geom;

/* Validate layer + input exactly as PyTorch 1.13 does and fill g. num_batches_tracked is the BN
 * counter before the forward call (used for momentum=None). */
cnb_status cnb_geom_init(cnb_geom *g, const cnb_layer *layer, const cnb_shape *input,
                         int64_t num_batches_tracked, cnb_error *err);

/* Index into the (virtually) padded input of a conv with a non-zeros padding_mode: maps coordinate
 * i in [-pad_lo, n + pad_hi) to a real input coordinate, or -1 for a zero (zeros mode, outside). */
static inline int64_t cnb_pad_index(cnb_padding_mode mode, int64_t i, int64_t n) {
    if (i >= 0 && i < n) return i;
    switch (mode) {
    case CNB_PADMODE_REFLECT:   return i < 0 ? -i : 2 * (n - 1) - i;
    case CNB_PADMODE_REPLICATE: return i < 0 ? 0 : n - 1;
    case CNB_PADMODE_CIRCULAR:  return i < 0 ? i + n : i - n;
    default:                    return -1;
    }
}

#endif /* CNB_CORE_GEOM_H */
