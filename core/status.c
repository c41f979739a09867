/* Status names, layer-kind names, PyTorch's constructor defaults and the one error helper. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/status.h"

static const char *const k_status_names[CNB_STATUS_COUNT] = {
    [CNB_OK] = "ok",
    [CNB_E_INVALID_ARG] = "invalid argument",
    [CNB_E_UNSUPPORTED] = "unsupported",
    [CNB_E_NO_ISA] = "instruction set not available",
    [CNB_E_NOT_FOUND] = "not found",
    [CNB_E_OVERFLOW] = "size overflow",
    [CNB_E_NOMEM] = "out of memory",
    [CNB_E_IO] = "i/o error",
    [CNB_E_PARSE] = "parse error",
    [CNB_E_MISMATCH] = "made for another machine or build",
};

static const char *const k_kind_names[CNB_KIND_COUNT] = {
    [CNB_CONV1D] = "Conv1d",
    [CNB_CONV2D] = "Conv2d",
    [CNB_MAXPOOL2D] = "MaxPool2d",
    [CNB_AVGPOOL2D] = "AvgPool2d",
    [CNB_ADAPTIVEAVGPOOL2D] = "AdaptiveAvgPool2d",
    [CNB_BATCHNORM2D] = "BatchNorm2d",
};

const char *cnb_status_name(cnb_status s) {
    return ((unsigned)s < CNB_STATUS_COUNT && k_status_names[s]) ? k_status_names[s] : "unknown status";
}

const char *cnb_kind_name(cnb_layer_kind k) {
    return ((unsigned)k < CNB_KIND_COUNT) ? k_kind_names[k] : "?";
}

cnb_status cnb_fail(cnb_error *err, cnb_status s, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = s;
    }
    return s;
}

void cnb_layer_defaults(cnb_layer *layer, cnb_layer_kind kind) {
    memset(layer, 0, sizeof *layer);
    layer->kind = kind;
    switch (kind) {
    case CNB_CONV1D:
    case CNB_CONV2D: {
        cnb_conv_params *c = &layer->u.conv;
        c->stride[0] = c->stride[1] = 1;
        c->dilation[0] = c->dilation[1] = 1;
        c->groups = 1;
        c->bias = true;
        c->padding_kind = CNB_PADDING_EXPLICIT;
        c->padding_mode = CNB_PADMODE_ZEROS;
        if (kind == CNB_CONV1D) c->kernel_size[1] = 1;
        break;
    }
    case CNB_MAXPOOL2D:
        layer->u.maxpool2d.dilation[0] = layer->u.maxpool2d.dilation[1] = 1;
        break;
    case CNB_AVGPOOL2D:
        layer->u.avgpool2d.count_include_pad = true;
        break;
    case CNB_ADAPTIVEAVGPOOL2D:
        break;
    case CNB_BATCHNORM2D: {
        cnb_batchnorm2d_params *b = &layer->u.batchnorm2d;
        b->eps = 1e-5;
        b->momentum_given = true;
        b->momentum = 0.1;
        b->affine = true;
        b->track_running_stats = true;
        break;
    }
    default:
        break;
    }
}
