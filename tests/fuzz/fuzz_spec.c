// libFuzzer target: the layer-spec parser and printer (core/spec.h). The bytes up to the first NUL are a
// SPEC: it is refused with a one-line message, or its canonical form (cnb_spec_format) parses back to the
// same layer and formats to the same text, and formatting into a short buffer gives a prefix of it.
// The bytes after the NUL are an input shape: cnb_parse_shape, then cnb_output_shape of the layer on it.
#include "tests/fuzz/fuzz.h"

#include "core/spec.h"

static bool same_pair(const int64_t a[2], const int64_t b[2]) { return a[0] == b[0] && a[1] == b[1]; }

static bool same_real(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static bool same_layer(const cnb_layer *a, const cnb_layer *b) {
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case CNB_CONV1D:
    case CNB_CONV2D: {
        const cnb_conv_params *x = &a->u.conv, *y = &b->u.conv;
        return x->in_channels == y->in_channels && x->out_channels == y->out_channels &&
               same_pair(x->kernel_size, y->kernel_size) && same_pair(x->stride, y->stride) &&
               x->padding_kind == y->padding_kind && same_pair(x->padding, y->padding) &&
               same_pair(x->dilation, y->dilation) && x->groups == y->groups && x->bias == y->bias &&
               x->padding_mode == y->padding_mode;
    }
    case CNB_MAXPOOL2D: {
        const cnb_maxpool2d_params *x = &a->u.maxpool2d, *y = &b->u.maxpool2d;
        return same_pair(x->kernel_size, y->kernel_size) && x->stride_given == y->stride_given &&
               same_pair(x->stride, y->stride) && same_pair(x->padding, y->padding) &&
               same_pair(x->dilation, y->dilation) && x->return_indices == y->return_indices &&
               x->ceil_mode == y->ceil_mode;
    }
    case CNB_AVGPOOL2D: {
        const cnb_avgpool2d_params *x = &a->u.avgpool2d, *y = &b->u.avgpool2d;
        return same_pair(x->kernel_size, y->kernel_size) && x->stride_given == y->stride_given &&
               same_pair(x->stride, y->stride) && same_pair(x->padding, y->padding) && x->ceil_mode == y->ceil_mode &&
               x->count_include_pad == y->count_include_pad && x->divisor_override_given == y->divisor_override_given &&
               x->divisor_override == y->divisor_override;
    }
    case CNB_ADAPTIVEAVGPOOL2D:
        return same_pair(a->u.adaptiveavgpool2d.output_size, b->u.adaptiveavgpool2d.output_size);
    case CNB_BATCHNORM2D: {
        const cnb_batchnorm2d_params *x = &a->u.batchnorm2d, *y = &b->u.batchnorm2d;
        return x->num_features == y->num_features && same_real(x->eps, y->eps) &&
               x->momentum_given == y->momentum_given && same_real(x->momentum, y->momentum) &&
               x->affine == y->affine && x->track_running_stats == y->track_running_stats && x->training == y->training;
    }
    default:
        return false;
    }
}

static bool same_shape(const cnb_shape *a, const cnb_shape *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL, "out of memory");
    memcpy(text, data, size);
    text[size] = 0;
    const size_t spec_len = strlen(text);

    cnb_layer layer;
    cnb_error e = {0};
    cnb_status st = cnb_spec_parse(text, &layer, &e);
    if (st) {
        fuzz_check_error(st, &e);
        free(text);
        return 0;
    }
    const int n = cnb_spec_format(&layer, NULL, 0);
    FUZZ_CHECK(n > 0, "format of a parsed layer gave %d", n);
    char *canon = malloc((size_t)n + 1), *again = malloc((size_t)n + 1);
    FUZZ_CHECK(canon && again, "out of memory");
    FUZZ_CHECK(cnb_spec_format(&layer, canon, (size_t)n + 1) == n && strlen(canon) == (size_t)n, "format length");
    cnb_layer back;
    st = cnb_spec_parse(canon, &back, &e);
    FUZZ_CHECK(st == CNB_OK, "the canonical form of '%s' does not parse: '%s': %s", text, canon, e.msg);
    FUZZ_CHECK(same_layer(&layer, &back), "'%s' round-trips to another layer through '%s'", text, canon);
    FUZZ_CHECK(cnb_spec_format(&back, again, (size_t)n + 1) == n && !strcmp(canon, again),
               "the canonical form is not a fixed point: '%s' then '%s'", canon, again);
    // A short buffer: snprintf's contract (a terminated prefix, the full length returned).
    const size_t cut[] = {0, 1, (size_t)n / 2, (size_t)n};
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        memset(again, 'x', (size_t)n + 1);
        FUZZ_CHECK(cnb_spec_format(&layer, again, cut[i]) == n, "format into %zu bytes", cut[i]);
        if (cut[i]) FUZZ_CHECK(strlen(again) == cut[i] - 1 && !strncmp(again, canon, cut[i] - 1), "prefix of %zu", cut[i]);
        else FUZZ_CHECK(again[0] == 'x', "format into 0 bytes wrote");
    }

    if (spec_len < size) {
        cnb_shape shape, out, out2;
        char msg[256];
        if (cnb_parse_shape(text + spec_len + 1, &shape, msg, sizeof msg)) {
            FUZZ_CHECK(shape.ndim >= 1 && shape.ndim <= CNB_MAX_DIMS, "ndim %d", shape.ndim);
            for (int i = 0; i < shape.ndim; i++) FUZZ_CHECK(shape.dims[i] >= 0, "negative dimension parsed");
            cnb_status s1 = cnb_output_shape(&layer, &shape, &out, &e);
            if (s1) fuzz_check_error(s1, &e);
            cnb_status s2 = cnb_output_shape(&back, &shape, &out2, &e);
            FUZZ_CHECK(s1 == s2 && (s1 || same_shape(&out, &out2)), "the canonical form validates differently");
            for (int p = 0; !s1 && p <= CNB_PARAM_RUNNING_VAR; p++) {
                cnb_shape ps;
                cnb_status s3 = cnb_param_shape(&layer, (cnb_param)p, &ps, &e);
                if (s3) fuzz_check_error(s3, &e);
                else for (int i = 0; i < ps.ndim; i++) FUZZ_CHECK(ps.dims[i] >= 0, "negative parameter dimension");
            }
        } else {
            FUZZ_CHECK(memchr(msg, 0, sizeof msg) && msg[0], "shape message");
        }
    }
    free(again);
    free(canon);
    free(text);
    return 0;
}
