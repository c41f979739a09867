/* Validation and shape maths: a layer's PyTorch parameters plus an input shape become a cnb_geom, or
 * an error with the message PyTorch 1.13 would give (in substance). The rules are those of
 * shared/SEMANTICS.md, and where that is silent, what python3-torch 1.13 does (checked against it). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/geom.h"
#include "core/status.h"

static void shape_str(const cnb_shape *s, char *buf, size_t size) {
    size_t n = 0;
    n += (size_t)snprintf(buf + n, size - n, "[");
    for (int i = 0; i < s->ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? ", " : "", (long long)s->dims[i]);
    if (n < size) snprintf(buf + n, size - n, "]");
}

cnb_status cnb_shape_numel(const cnb_shape *s, int64_t *numel, cnb_error *err) {
    if (!s || s->ndim < 0 || s->ndim > CNB_MAX_DIMS)
        return cnb_fail(err, CNB_E_INVALID_ARG, "shape has %d dimensions; 0 to %d are supported",
                        s ? s->ndim : -1, CNB_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) {
        if (s->dims[i] < 0)
            return cnb_fail(err, CNB_E_INVALID_ARG, "negative dimension %lld in shape", (long long)s->dims[i]);
        if (!cnb_mul_ok(n, s->dims[i], &n)) {
            char b[128];
            shape_str(s, b, sizeof b);
            return cnb_fail(err, CNB_E_OVERFLOW, "shape %s has too many elements (overflows int64)", b);
        }
    }
    *numel = n;
    return CNB_OK;
}

/* Output size of a window sweep; ceil_mode as in PyTorch's pooling_output_shape. Returns false when
 * an intermediate overflows. */
static bool window_out(int64_t in, int64_t pad_lo, int64_t pad_hi, int64_t k, int64_t s, int64_t d,
                       bool ceil_mode, int64_t *out) {
    int64_t span, avail, num;
    // avail may be negative too: a conv's negative padding (non-zeros modes) crops.
    if (!cnb_mul_ok(d, k - 1, &span) || !cnb_add_ok(in, pad_lo, &avail) || !cnb_add_ok(avail, pad_hi, &avail) ||
        !cnb_add_ok(avail, -span - 1, &num))
        return false;
    if (ceil_mode && !cnb_add_ok(num, s - 1, &num)) return false;  // PyTorch adds stride-1 whatever the sign
    /* floor division: num may be negative (as low as INT64_MIN, and s as high as INT64_MAX: no negation) */
    int64_t q = num / s;
    if (num % s != 0 && num < 0) q--;
    int64_t o = q + 1;
    if (ceil_mode && o > 0 && (o - 1) * s >= in + pad_lo) o--;  // the last window must start inside input or left padding
    *out = o;
    return true;
}

static cnb_status dims_from_input(cnb_geom *g, const cnb_shape *in, int spatial, const char *name, cnb_error *err) {
    char b[128];
    shape_str(in, b, sizeof b);
    int batched_nd = 2 + spatial;
    if (in->ndim != batched_nd && in->ndim != batched_nd - 1) {
        if (g->kind == CNB_BATCHNORM2D)
            return cnb_fail(err, CNB_E_INVALID_ARG, "BatchNorm2d: expected 4D input (got %dD input)", in->ndim);
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s: expected %dD (unbatched) or %dD (batched) input, but got input of size %s",
                        name, batched_nd - 1, batched_nd, b);
    }
    for (int i = 0; i < in->ndim; i++)
        if (in->dims[i] < 0)
            return cnb_fail(err, CNB_E_INVALID_ARG, "%s: negative dimension in input shape %s", name, b);
    int off = in->ndim == batched_nd ? 1 : 0;
    g->N = off ? in->dims[0] : 1;
    g->C = in->dims[off];
    if (spatial == 2) {
        g->H = in->dims[off + 1];
        g->W = in->dims[off + 2];
    } else {
        g->H = 1;
        g->W = in->dims[off + 1];
    }
    return CNB_OK;
}

static cnb_status check_numel(cnb_geom *g, const char *name, cnb_error *err) {
    int64_t n;
    if (!cnb_mul_ok(g->N, g->C, &n) || !cnb_mul_ok(n, g->H, &n) || !cnb_mul_ok(n, g->W, &n))
        return cnb_fail(err, CNB_E_OVERFLOW, "%s: input size %lldx%lldx%lldx%lld overflows", name,
                        (long long)g->N, (long long)g->C, (long long)g->H, (long long)g->W);
    g->in_numel = n;
    if (!cnb_mul_ok(g->N, g->K, &n) || !cnb_mul_ok(n, g->OH, &n) || !cnb_mul_ok(n, g->OW, &n))
        return cnb_fail(err, CNB_E_OVERFLOW, "%s: output size %lldx%lldx%lldx%lld overflows", name,
                        (long long)g->N, (long long)g->K, (long long)g->OH, (long long)g->OW);
    g->out_numel = n;
    /* Every kernel indexes with int64 and allocates size_t bytes: keep byte counts representable. */
    if (g->in_numel > INT64_MAX / 8 || g->out_numel > INT64_MAX / 8)
        return cnb_fail(err, CNB_E_OVERFLOW, "%s: tensor byte size overflows", name);
    return CNB_OK;
}

static void set_out_shape(cnb_geom *g, int spatial) {
    cnb_shape *o = &g->out_shape;
    int batched = g->in_shape.ndim == 2 + spatial;
    int i = 0;
    o->ndim = g->in_shape.ndim;
    if (batched) o->dims[i++] = g->N;
    o->dims[i++] = g->K;
    if (spatial == 2) o->dims[i++] = g->OH;
    o->dims[i++] = g->OW;
}

static cnb_status conv_geom(cnb_geom *g, const cnb_conv_params *p, cnb_error *err) {
    const bool is1d = g->kind == CNB_CONV1D;
    const char *name = is1d ? "Conv1d" : "Conv2d";
    const int nsp = is1d ? 1 : 2;
    char b[128];

    if (p->in_channels < 1 || p->out_channels < 1)
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s: in_channels (%lld) and out_channels (%lld) must be positive",
                        name, (long long)p->in_channels, (long long)p->out_channels);
    if (p->groups < 1) return cnb_fail(err, CNB_E_INVALID_ARG, "%s: groups must be a positive integer, got %lld", name, (long long)p->groups);
    if (p->in_channels % p->groups)
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s: in_channels (%lld) must be divisible by groups (%lld)", name,
                        (long long)p->in_channels, (long long)p->groups);
    if (p->out_channels % p->groups)
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s: out_channels (%lld) must be divisible by groups (%lld)", name,
                        (long long)p->out_channels, (long long)p->groups);
    if ((unsigned)p->padding_mode > CNB_PADMODE_CIRCULAR)
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s: invalid padding_mode", name);
    if ((unsigned)p->padding_kind > CNB_PADDING_SAME)
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s: invalid padding kind", name);
    if (p->padding_kind == CNB_PADDING_SAME) {
        for (int i = 0; i < nsp; i++)
            if (p->stride[i] != 1)
                return cnb_fail(err, CNB_E_INVALID_ARG, "%s: padding='same' is not supported for strided convolutions (stride %lld)",
                                name, (long long)p->stride[i]);
    }
    /* Dimension d of the parameters maps to H (d = 0) and W (d = 1) for Conv2d; Conv1d's index 0 is W. */
    int64_t k[2], s[2], dl[2], lo[2], hi[2];
    for (int i = 0; i < nsp; i++) {
        if (p->kernel_size[i] < 1)
            return cnb_fail(err, CNB_E_INVALID_ARG, "%s: kernel size should be greater than zero, but got %lld", name, (long long)p->kernel_size[i]);
        if (p->stride[i] < 1)
            return cnb_fail(err, CNB_E_INVALID_ARG, "%s: non-positive stride is not supported (stride %lld)", name, (long long)p->stride[i]);
        if (p->dilation[i] < 1)
            return cnb_fail(err, CNB_E_INVALID_ARG, "%s: dilation should be greater than zero, but got %lld", name, (long long)p->dilation[i]);
        k[i] = p->kernel_size[i];
        s[i] = p->stride[i];
        dl[i] = p->dilation[i];
        if (p->padding_kind == CNB_PADDING_SAME) {
            int64_t total;
            if (!cnb_mul_ok(dl[i], k[i] - 1, &total))
                return cnb_fail(err, CNB_E_OVERFLOW, "%s: dilation*(kernel_size-1) overflows", name);
            lo[i] = total / 2;
            hi[i] = total - lo[i];  // the extra one goes right/bottom
        } else if (p->padding_kind == CNB_PADDING_VALID) {
            lo[i] = hi[i] = 0;
        } else {
            // PyTorch pads with F.pad for the other modes, where a negative amount crops the input.
            if (p->padding[i] < 0 && p->padding_mode == CNB_PADMODE_ZEROS)
                return cnb_fail(err, CNB_E_INVALID_ARG, "%s: negative padding is not supported (padding %lld)", name, (long long)p->padding[i]);
            lo[i] = hi[i] = p->padding[i];
        }
    }
    cnb_status st = dims_from_input(g, &g->in_shape, nsp, name, err);
    if (st) return st;
    shape_str(&g->in_shape, b, sizeof b);
    if (g->C != p->in_channels)
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s: expected input %s to have %lld channels, but got %lld channels instead",
                        name, b, (long long)p->in_channels, (long long)g->C);
    if (g->H < 1 || g->W < 1)
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s: input %s has an empty spatial dimension", name, b);
    const bool batched = g->in_shape.ndim == nsp + 2;
    if (p->padding_mode == CNB_PADMODE_CIRCULAR && !batched)
        return cnb_fail(err, CNB_E_INVALID_ARG,
                        "%s: padding_mode='circular' with unbatched input %s is rejected by PyTorch 1.13 (Invalid padding size)", name, b);

    g->K = p->out_channels;
    g->groups = p->groups;
    g->has_bias = p->bias;
    g->pad_mode = p->padding_mode;
    if (is1d) {
        g->kh = 1; g->sh = 1; g->dh = 1; g->pad_t = g->pad_b = 0;
        g->kw = k[0]; g->sw = s[0]; g->dw = dl[0]; g->pad_l = lo[0]; g->pad_r = hi[0];
    } else {
        g->kh = k[0]; g->sh = s[0]; g->dh = dl[0]; g->pad_t = lo[0]; g->pad_b = hi[0];
        g->kw = k[1]; g->sw = s[1]; g->dw = dl[1]; g->pad_l = lo[1]; g->pad_r = hi[1];
    }
    if (g->pad_mode != CNB_PADMODE_ZEROS) {
        int64_t pads[4] = {g->pad_t, g->pad_b, g->pad_l, g->pad_r};
        int64_t sizes[4] = {g->H, g->H, g->W, g->W};
        for (int i = 0; i < 4; i++) {
            if (g->pad_mode == CNB_PADMODE_REFLECT && pads[i] >= sizes[i])
                return cnb_fail(err, CNB_E_INVALID_ARG,
                                "%s: reflect padding %lld must be less than the input dimension %lld", name,
                                (long long)pads[i], (long long)sizes[i]);
            if (g->pad_mode == CNB_PADMODE_CIRCULAR && pads[i] > sizes[i])
                return cnb_fail(err, CNB_E_INVALID_ARG,
                                "%s: circular padding %lld is larger than the input dimension %lld (wraps around more than once)",
                                name, (long long)pads[i], (long long)sizes[i]);
        }
    }
    if (!window_out(g->H, g->pad_t, g->pad_b, g->kh, g->sh, g->dh, false, &g->OH) ||
        !window_out(g->W, g->pad_l, g->pad_r, g->kw, g->sw, g->dw, false, &g->OW))
        return cnb_fail(err, CNB_E_OVERFLOW, "%s: output size computation overflows", name);
    if (g->OH < 1 || g->OW < 1)
        return cnb_fail(err, CNB_E_INVALID_ARG,
                        "%s: padded input size (%lld x %lld) is smaller than the dilated kernel (%.0f x %.0f): output size would be %lld x %lld",
                        name, (long long)(g->H + g->pad_t + g->pad_b), (long long)(g->W + g->pad_l + g->pad_r),
                        // in double: dilation*(kernel-1) may be INT64_MAX, and + 1 would overflow
                        (double)g->dh * (double)(g->kh - 1) + 1, (double)g->dw * (double)(g->kw - 1) + 1, (long long)g->OH,
                        (long long)g->OW);
    /* weight (K, C/groups, kh, kw) must be addressable too */
    int64_t wn;
    if (!cnb_mul_ok(g->K, g->C / g->groups, &wn) || !cnb_mul_ok(wn, g->kh, &wn) || !cnb_mul_ok(wn, g->kw, &wn) ||
        wn > INT64_MAX / 8)
        return cnb_fail(err, CNB_E_OVERFLOW, "%s: weight size overflows", name);
    set_out_shape(g, nsp);
    return check_numel(g, name, err);
}

/* Shared by MaxPool2d and AvgPool2d (dilation 1 for the latter). */
static cnb_status pool_geom(cnb_geom *g, const char *name, const int64_t kernel[2], bool stride_given,
                            const int64_t stride[2], const int64_t pad[2], const int64_t dil[2], bool ceil_mode,
                            cnb_error *err) {
    int64_t s[2];
    for (int i = 0; i < 2; i++) {
        s[i] = stride_given ? stride[i] : kernel[i];
        if (kernel[i] < 1)
            return cnb_fail(err, CNB_E_INVALID_ARG, "%s: kernel_size must be greater than zero, but got %lld", name, (long long)kernel[i]);
        if (s[i] < 1)
            return cnb_fail(err, CNB_E_INVALID_ARG, "%s: stride must be greater than zero, but got %lld", name, (long long)s[i]);
        if (dil[i] < 1)
            return cnb_fail(err, CNB_E_INVALID_ARG, "%s: dilation should be greater than zero, but got %lld", name, (long long)dil[i]);
        if (pad[i] < 0)
            return cnb_fail(err, CNB_E_INVALID_ARG, "%s: pad must be non-negative, but got pad %lld", name, (long long)pad[i]);
        if (pad[i] > kernel[i] / 2)
            return cnb_fail(err, CNB_E_INVALID_ARG, "%s: pad should be at most half of kernel size, but got pad=%lld and kernel_size=%lld",
                            name, (long long)pad[i], (long long)kernel[i]);
    }
    cnb_status st = dims_from_input(g, &g->in_shape, 2, name, err);
    if (st) return st;
    char b[128];
    shape_str(&g->in_shape, b, sizeof b);
    if (g->C < 1 || g->H < 1 || g->W < 1 || (g->in_shape.ndim == 3 && g->N < 1))
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s: expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got %s",
                        name, b);
    g->K = g->C;
    g->kh = kernel[0]; g->kw = kernel[1];
    g->sh = s[0]; g->sw = s[1];
    g->dh = dil[0]; g->dw = dil[1];
    g->pad_t = g->pad_b = pad[0];
    g->pad_l = g->pad_r = pad[1];
    g->ceil_mode = ceil_mode;
    if (!window_out(g->H, pad[0], pad[0], g->kh, g->sh, g->dh, ceil_mode, &g->OH) ||
        !window_out(g->W, pad[1], pad[1], g->kw, g->sw, g->dw, ceil_mode, &g->OW))
        return cnb_fail(err, CNB_E_OVERFLOW, "%s: output size computation overflows", name);
    if (g->OH < 1 || g->OW < 1)
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s: given input size (%lldx%lldx%lld), calculated output size (%lldx%lldx%lld) is too small",
                        name, (long long)g->C, (long long)g->H, (long long)g->W, (long long)g->C, (long long)g->OH, (long long)g->OW);
    set_out_shape(g, 2);
    return check_numel(g, name, err);
}

static cnb_status adaptive_geom(cnb_geom *g, const cnb_adaptiveavgpool2d_params *p, cnb_error *err) {
    const char *name = "AdaptiveAvgPool2d";
    cnb_status st = dims_from_input(g, &g->in_shape, 2, name, err);
    if (st) return st;
    char b[128];
    shape_str(&g->in_shape, b, sizeof b);
    if (g->H < 1 || g->W < 1)
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s: expected input to have non-zero size for non-batch dimensions, but input has sizes %s",
                        name, b);
    g->K = g->C;
    g->OH = p->output_size[0] < 0 ? g->H : p->output_size[0];
    g->OW = p->output_size[1] < 0 ? g->W : p->output_size[1];
    set_out_shape(g, 2);
    return check_numel(g, name, err);
}

static cnb_status bn_geom(cnb_geom *g, const cnb_batchnorm2d_params *p, int64_t nbt, cnb_error *err) {
    const char *name = "BatchNorm2d";
    if (p->num_features < 1)
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s: num_features must be positive, got %lld", name, (long long)p->num_features);
    if (!isfinite(p->eps))
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s: eps must be finite", name);
    if (p->momentum_given && !isfinite(p->momentum))
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s: momentum must be finite", name);
    cnb_status st = dims_from_input(g, &g->in_shape, 2, name, err);
    if (st) return st;
    if (g->in_shape.ndim != 4)
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s: expected 4D input (got %dD input)", name, g->in_shape.ndim);
    // Without affine parameters or running statistics nothing has num_features elements, and PyTorch
    // does not check the channel count.
    if (g->C != p->num_features && (p->affine || p->track_running_stats))
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s: input has %lld channels but num_features is %lld (running_mean should contain %lld elements not %lld)",
                        name, (long long)g->C, (long long)p->num_features, (long long)g->C, (long long)p->num_features);
    g->K = g->C;
    g->OH = g->H;
    g->OW = g->W;
    g->eps = p->eps;
    g->affine = p->affine;
    g->track_running_stats = p->track_running_stats;
    g->training = p->training;
    g->use_batch_stats = p->training || !p->track_running_stats;
    g->update_running = p->training && p->track_running_stats;
    g->momentum_none = !p->momentum_given;
    if (g->update_running && nbt == INT64_MAX)
        return cnb_fail(err, CNB_E_OVERFLOW, "%s: num_batches_tracked %lld overflows", name, (long long)nbt);
    if (g->update_running)
        g->momentum = p->momentum_given ? p->momentum : 1.0 / (double)(nbt + 1);
    else
        g->momentum = p->momentum_given ? p->momentum : 0.0;
    set_out_shape(g, 2);
    st = check_numel(g, name, err);
    if (st) return st;
    if (g->use_batch_stats) {
        // Values per channel. Not bounded by in_numel: with neither affine nor running statistics C may be 0.
        int64_t n;
        if (cnb_mul_ok(g->N, g->H, &n) && cnb_mul_ok(n, g->W, &n) && n == 1) {
            char b[128];
            shape_str(&g->in_shape, b, sizeof b);
            return cnb_fail(err, CNB_E_INVALID_ARG, "%s: expected more than 1 value per channel when training, got input size %s", name, b);
        }
    }
    return CNB_OK;
}

cnb_status cnb_geom_init(cnb_geom *g, const cnb_layer *layer, const cnb_shape *input,
                         int64_t num_batches_tracked, cnb_error *err) {
    if (!g || !layer || !input) return cnb_fail(err, CNB_E_INVALID_ARG, "NULL layer or input shape");
    memset(g, 0, sizeof *g);
    if ((unsigned)layer->kind >= CNB_KIND_COUNT) return cnb_fail(err, CNB_E_INVALID_ARG, "unknown layer kind %d", (int)layer->kind);
    if (input->ndim < 0 || input->ndim > CNB_MAX_DIMS)
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s: input has %d dimensions", cnb_kind_name(layer->kind), input->ndim);
    g->kind = layer->kind;
    g->layer = *layer;
    g->in_shape = *input;
    g->dh = g->dw = g->sh = g->sw = g->kh = g->kw = 1;
    switch (layer->kind) {
    case CNB_CONV1D:
    case CNB_CONV2D:
        return conv_geom(g, &layer->u.conv, err);
    case CNB_MAXPOOL2D: {
        const cnb_maxpool2d_params *p = &layer->u.maxpool2d;
        g->return_indices = p->return_indices;
        return pool_geom(g, "MaxPool2d", p->kernel_size, p->stride_given, p->stride, p->padding, p->dilation, p->ceil_mode, err);
    }
    case CNB_AVGPOOL2D: {
        const cnb_avgpool2d_params *p = &layer->u.avgpool2d;
        static const int64_t one[2] = {1, 1};
        if (p->divisor_override_given && p->divisor_override == 0)
            return cnb_fail(err, CNB_E_INVALID_ARG, "AvgPool2d: divisor_override must be non-zero");
        g->count_include_pad = p->count_include_pad;
        g->divisor = p->divisor_override_given ? p->divisor_override : 0;
        return pool_geom(g, "AvgPool2d", p->kernel_size, p->stride_given, p->stride, p->padding, one, p->ceil_mode, err);
    }
    case CNB_ADAPTIVEAVGPOOL2D:
        return adaptive_geom(g, &layer->u.adaptiveavgpool2d, err);
    case CNB_BATCHNORM2D:
        return bn_geom(g, &layer->u.batchnorm2d, num_batches_tracked, err);
    default:
        return cnb_fail(err, CNB_E_INVALID_ARG, "unknown layer kind %d", (int)layer->kind);
    }
}

cnb_status cnb_output_shape(const cnb_layer *layer, const cnb_shape *input, cnb_shape *output, cnb_error *err) {
    cnb_geom g;
    cnb_status st = cnb_geom_init(&g, layer, input, 0, err);
    if (st == CNB_OK && output) *output = g.out_shape;
    return st;
}

cnb_status cnb_param_shape(const cnb_layer *layer, cnb_param which, cnb_shape *shape, cnb_error *err) {
    memset(shape, 0, sizeof *shape);
    switch (layer->kind) {
    case CNB_CONV1D:
    case CNB_CONV2D: {
        const cnb_conv_params *p = &layer->u.conv;
        if (which == CNB_PARAM_WEIGHT) {
            if (p->groups < 1) return cnb_fail(err, CNB_E_INVALID_ARG, "groups must be positive");
            shape->ndim = layer->kind == CNB_CONV1D ? 3 : 4;
            shape->dims[0] = p->out_channels;
            shape->dims[1] = p->in_channels / p->groups;
            shape->dims[2] = p->kernel_size[0];
            if (shape->ndim == 4) shape->dims[3] = p->kernel_size[1];
            return CNB_OK;
        }
        if (which == CNB_PARAM_BIAS) {
            if (!p->bias) return cnb_fail(err, CNB_E_INVALID_ARG, "%s: bias=False, so the layer has no bias", cnb_kind_name(layer->kind));
            shape->ndim = 1;
            shape->dims[0] = p->out_channels;
            return CNB_OK;
        }
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s has no running statistics", cnb_kind_name(layer->kind));
    }
    case CNB_BATCHNORM2D: {
        const cnb_batchnorm2d_params *p = &layer->u.batchnorm2d;
        if ((which == CNB_PARAM_WEIGHT || which == CNB_PARAM_BIAS) && !p->affine)
            return cnb_fail(err, CNB_E_INVALID_ARG, "BatchNorm2d: affine=False, so the layer has no %s",
                            which == CNB_PARAM_WEIGHT ? "weight" : "bias");
        if ((which == CNB_PARAM_RUNNING_MEAN || which == CNB_PARAM_RUNNING_VAR) && !p->track_running_stats)
            return cnb_fail(err, CNB_E_INVALID_ARG, "BatchNorm2d: track_running_stats=False, so the layer has no %s",
                            which == CNB_PARAM_RUNNING_MEAN ? "running_mean" : "running_var");
        shape->ndim = 1;
        shape->dims[0] = p->num_features;
        return CNB_OK;
    }
    default:
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s has no parameters", cnb_kind_name(layer->kind));
    }
}
