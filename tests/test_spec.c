/* Unit tests of the layer-spec parser and printer (core/spec.c): every accepted form checked field by
 * field, format -> parse round trips, and malformed specs, each refused with a one-line message that
 * quotes the offending part. Prints one line per failed check and a summary; exit status 0 iff all pass. */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnbench.h"
#include "core/spec.h"

typedef struct tally {
    int passed, failed;
} tally;

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static bool check(tally *t, bool ok, const char *fmt, ...) {
    if (ok) {
        t->passed++;
        return true;
    }
    t->failed++;
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL: ", stdout);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    return false;
}

/* Name of the first field where a and b differ, or NULL. Doubles compare bitwise-equal-or-both-NaN so
 * -0.0 and 0.0 count as different. */
static bool same_real(double a, double b) {
    return (isnan(a) && isnan(b)) || (a == b && signbit(a) == signbit(b));
}
static const char *layer_diff(const cnb_layer *a, const cnb_layer *b) {
    if (a->kind != b->kind) return "kind";
#define F(field)                                              \
    if (a->u.field != b->u.field) return #field;
#define F2(field)                                             \
    if (a->u.field[0] != b->u.field[0]) return #field "[0]"; \
    if (a->u.field[1] != b->u.field[1]) return #field "[1]";
    switch (a->kind) {
    case CNB_CONV1D:
    case CNB_CONV2D:
        F(conv.in_channels) F(conv.out_channels) F2(conv.kernel_size) F2(conv.stride) F(conv.padding_kind)
        F2(conv.padding) F2(conv.dilation) F(conv.groups) F(conv.bias) F(conv.padding_mode)
        break;
    case CNB_MAXPOOL2D:
        F2(maxpool2d.kernel_size) F(maxpool2d.stride_given) F2(maxpool2d.stride) F2(maxpool2d.padding)
        F2(maxpool2d.dilation) F(maxpool2d.return_indices) F(maxpool2d.ceil_mode)
        break;
    case CNB_AVGPOOL2D:
        F2(avgpool2d.kernel_size) F(avgpool2d.stride_given) F2(avgpool2d.stride) F2(avgpool2d.padding)
        F(avgpool2d.ceil_mode) F(avgpool2d.count_include_pad) F(avgpool2d.divisor_override_given)
        F(avgpool2d.divisor_override)
        break;
    case CNB_ADAPTIVEAVGPOOL2D:
        F2(adaptiveavgpool2d.output_size)
        break;
    case CNB_BATCHNORM2D:
        F(batchnorm2d.num_features)
        if (!same_real(a->u.batchnorm2d.eps, b->u.batchnorm2d.eps)) return "batchnorm2d.eps";
        F(batchnorm2d.momentum_given)
        if (!same_real(a->u.batchnorm2d.momentum, b->u.batchnorm2d.momentum)) return "batchnorm2d.momentum";
        F(batchnorm2d.affine) F(batchnorm2d.track_running_stats) F(batchnorm2d.training)
        break;
    default:
        return "kind out of range";
    }
#undef F
#undef F2
    return NULL;
}

static void set2(int64_t *a, int64_t x, int64_t y) { a[0] = x, a[1] = y; }

/* spec must parse to exactly *want. */
static void expect(tally *t, const char *spec, const cnb_layer *want) {
    cnb_layer got;
    cnb_error err = {0};
    cnb_status st = cnb_spec_parse(spec, &got, &err);
    if (!check(t, st == CNB_OK, "parse \"%s\": %s: %s", spec, cnb_status_name(st), err.msg)) return;
    const char *d = layer_diff(&got, want);
    check(t, d == NULL, "parse \"%s\": field %s differs", spec, d ? d : "");
}

/* A message fit for one stderr line: non-empty, no line breaks or control bytes, under 250 bytes. */
static bool one_line(const char *m) {
    size_t n = strlen(m);
    if (n == 0 || n >= 250) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)m[i] < 0x20 || (unsigned char)m[i] == 0x7f) return false;
    return true;
}

/* spec must be refused with status code and a one-line message containing needle (if given), and must
 * leave *layer untouched. */
static void expect_fail(tally *t, const char *spec, cnb_status code, const char *needle) {
    cnb_layer got, before;
    memset(&got, 0x5a, sizeof got);
    memcpy(&before, &got, sizeof got);
    cnb_error err = {0};
    cnb_status st = cnb_spec_parse(spec, &got, &err);
    const char *shown = spec ? spec : "(NULL)";
    if (!check(t, st == code && err.code == code, "\"%s\" gave %s (%s), want %s", shown, cnb_status_name(st),
               err.msg, cnb_status_name(code)))
        return;
    check(t, one_line(err.msg), "\"%s\": message not one short line: \"%s\"", shown, err.msg);
    if (needle) check(t, strstr(err.msg, needle) != NULL, "\"%s\": message \"%s\" lacks \"%s\"", shown, err.msg, needle);
    check(t, memcmp(&got, &before, sizeof got) == 0, "\"%s\": layer written on failure", shown);
}

static void test_conv(tally *t) {
    cnb_layer e;
    cnb_conv_params *c = &e.u.conv;

    cnb_layer_defaults(&e, CNB_CONV2D);
    c->in_channels = 3, c->out_channels = 64, set2(c->kernel_size, 7, 7), set2(c->stride, 2, 2);
    set2(c->padding, 3, 3), c->bias = false;
    expect(t, "Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)", &e);
    expect(t, "nn.Conv2d(3, 64, 7, 2, 3, bias=False)", &e);
    expect(t, "torch.nn.Conv2d(3,64,7,2,3,1,1,False)", &e);
    expect(t, "  Conv2d ( 3 ,\n\t64 , kernel_size = [ 7 , 7 ] , stride=2, padding=(3,3,), bias = False , ) \n", &e);
    expect(t, "Conv2d(out_channels=64, bias=False, in_channels=3, padding=3, stride=(2, 2), kernel_size=7)", &e);
    expect(t, "Conv2d(3, 64, (7), (2), padding=(3), bias=(False))", &e);   // (x) is x in Python

    cnb_layer_defaults(&e, CNB_CONV2D);
    c->in_channels = 3, c->out_channels = 64, set2(c->kernel_size, 3, 3), set2(c->padding, 1, 1);
    expect(t, "Conv2d(3, 64, 3, 1, 1)", &e);
    expect(t, "Conv2d(3, 64, 3, 1, 1, 1, 1, True, 'zeros', None, None)", &e);
    expect(t, "Conv2d(3, 64, 3, padding=1, device='cpu', dtype=torch.float32)", &e);
    expect(t, "Conv2d(3, 64, 3, padding=1, device=cpu, dtype=torch.float)", &e);
    expect(t, "Conv2d(3, 64, 3, padding=1, device=\"cpu\", dtype='torch.float32')", &e);

    cnb_layer_defaults(&e, CNB_CONV2D);
    c->in_channels = 3, c->out_channels = 8, set2(c->kernel_size, 3, 5);
    c->padding_kind = CNB_PADDING_SAME, c->padding_mode = CNB_PADMODE_CIRCULAR;
    expect(t, "Conv2d(in_channels=3, out_channels=8, kernel_size=[3, 5], padding='same', padding_mode=\"circular\")", &e);
    expect(t, "Conv2d(3, 8, (3, 5), 1, same, 1, 1, True, circular)", &e);

    cnb_layer_defaults(&e, CNB_CONV2D);
    c->in_channels = 4, c->out_channels = 8, set2(c->kernel_size, 3, 1), c->padding_kind = CNB_PADDING_VALID;
    set2(c->dilation, 2, 2), c->groups = 2;
    expect(t, "Conv2d(4, 8, kernel_size=(3, 1), stride=(1, 1), padding=valid, dilation=(2, 2), groups=2)", &e);

    cnb_layer_defaults(&e, CNB_CONV2D);
    c->in_channels = 2, c->out_channels = 2, set2(c->kernel_size, 1, 1), c->padding_mode = CNB_PADMODE_REPLICATE;
    expect(t, "Conv2d(2, 2, 1, padding_mode='replicate')", &e);
    c->padding_mode = CNB_PADMODE_REFLECT;
    expect(t, "Conv2d(2, 2, 1, padding_mode=reflect)", &e);

    // Negative and zero values reach core/'s checks unchanged.
    cnb_layer_defaults(&e, CNB_CONV2D);
    c->in_channels = 0, c->out_channels = -8, set2(c->kernel_size, -3, 0), set2(c->stride, 0, -2);
    set2(c->padding, -1, -1), c->groups = -1;
    expect(t, "Conv2d(0, -8, (-3, 0), stride=(0, - 2), padding=-1, groups=-1)", &e);

    cnb_layer_defaults(&e, CNB_CONV2D);
    c->in_channels = INT64_MAX, c->out_channels = INT64_MIN, set2(c->kernel_size, 1, 1);
    expect(t, "Conv2d(9223372036854775807, -9223372036854775808, 1)", &e);

    // Conv1d stores index 0; index 1 keeps cnb_layer_defaults' value.
    cnb_layer_defaults(&e, CNB_CONV1D);
    c->in_channels = 3, c->out_channels = 8, c->kernel_size[0] = 3, c->padding_kind = CNB_PADDING_SAME;
    c->padding_mode = CNB_PADMODE_REFLECT;
    expect(t, "Conv1d(3, 8, kernel_size=(3,), stride=(1,), padding=same, padding_mode=reflect)", &e);
    expect(t, "nn.Conv1d(3, 8, [3], padding='same', padding_mode='reflect')", &e);

    cnb_layer_defaults(&e, CNB_CONV1D);
    c->in_channels = 3, c->out_channels = 6, c->kernel_size[0] = 5, c->stride[0] = 2, c->padding[0] = 4;
    c->dilation[0] = 3, c->groups = 3, c->bias = false;
    expect(t, "Conv1d(3, 6, 5, 2, 4, 3, 3, False)", &e);
    expect(t, "Conv1d(3, 6, (5,), (2,), [4], dilation=[3,], groups=3, bias=False)", &e);
    check(t, e.u.conv.kernel_size[1] == 1 && e.u.conv.stride[1] == 1 && e.u.conv.padding[1] == 0 &&
                 e.u.conv.dilation[1] == 1, "Conv1d index 1 defaults");
}

static void test_pool(tally *t) {
    cnb_layer e;
    cnb_maxpool2d_params *m = &e.u.maxpool2d;
    cnb_avgpool2d_params *a = &e.u.avgpool2d;

    cnb_layer_defaults(&e, CNB_MAXPOOL2D);
    set2(m->kernel_size, 3, 3), m->stride_given = true, set2(m->stride, 2, 2), set2(m->padding, 1, 1);
    m->ceil_mode = true;
    expect(t, "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True)", &e);
    m->return_indices = true;
    expect(t, "MaxPool2d(3, stride=2, padding=1, return_indices=True, ceil_mode=True)", &e);
    expect(t, "nn.MaxPool2d(3, 2, 1, 1, True, True)", &e);
    expect(t, "MaxPool2d((3,), [2], (1, 1), (1,), True, True)", &e);   // 1-element lists mean (v, v)

    cnb_layer_defaults(&e, CNB_MAXPOOL2D);
    set2(m->kernel_size, 2, 3), set2(m->dilation, 2, 1);
    expect(t, "MaxPool2d((2, 3), dilation=(2, 1))", &e);
    expect(t, "MaxPool2d((2, 3), None, dilation=(2, 1))", &e);
    expect(t, "MaxPool2d((2, 3), stride=(), dilation=(2, 1))", &e);   // F.max_pool2d's "omitted" stride
    expect(t, "MaxPool2d((2, 3), stride=[], dilation=(2, 1), return_indices=False)", &e);

    cnb_layer_defaults(&e, CNB_AVGPOOL2D);
    set2(a->kernel_size, 2, 2), a->stride_given = true, set2(a->stride, 2, 2);
    expect(t, "AvgPool2d(kernel_size=2, stride=2, padding=0)", &e);

    cnb_layer_defaults(&e, CNB_AVGPOOL2D);
    set2(a->kernel_size, 3, 2), set2(a->padding, 1, 0), a->ceil_mode = true, a->count_include_pad = false;
    a->divisor_override_given = true, a->divisor_override = 5;
    expect(t, "AvgPool2d((3, 2), None, (1, 0), True, False, 5)", &e);
    expect(t, "torch.nn.AvgPool2d(kernel_size=[3, 2], padding=(1, 0), ceil_mode=True, count_include_pad=False, "
              "divisor_override=5)", &e);
    a->divisor_override_given = false, a->divisor_override = 0;
    expect(t, "AvgPool2d((3, 2), padding=(1, 0), ceil_mode=True, count_include_pad=False, divisor_override=None)",
           &e);

    cnb_adaptiveavgpool2d_params *ad = &e.u.adaptiveavgpool2d;
    cnb_layer_defaults(&e, CNB_ADAPTIVEAVGPOOL2D);
    set2(ad->output_size, 7, -1);
    expect(t, "AdaptiveAvgPool2d(output_size=(7, None))", &e);
    expect(t, "AdaptiveAvgPool2d((7, None))", &e);
    expect(t, "nn.AdaptiveAvgPool2d([7, None])", &e);
    set2(ad->output_size, -1, 4);
    expect(t, "AdaptiveAvgPool2d((None, 4))", &e);
    set2(ad->output_size, 5, 5);
    expect(t, "AdaptiveAvgPool2d(5)", &e);
    expect(t, "AdaptiveAvgPool2d(output_size=(5))", &e);
    set2(ad->output_size, 1, 0);
    expect(t, "AdaptiveAvgPool2d((1, 0))", &e);
    set2(ad->output_size, -1, -1);
    expect(t, "AdaptiveAvgPool2d((None, None))", &e);
    expect_fail(t, "AdaptiveAvgPool2d(None)", CNB_E_PARSE, "None");  // PyTorch 1.13 fails on it in forward
}

static void test_batchnorm(tally *t) {
    cnb_layer e;
    cnb_batchnorm2d_params *b = &e.u.batchnorm2d;

    cnb_layer_defaults(&e, CNB_BATCHNORM2D);
    b->num_features = 64, b->momentum_given = false, b->affine = false;
    expect(t, "BatchNorm2d(64, eps=1e-05, momentum=None, affine=False, track_running_stats=True)", &e);
    expect(t, "BatchNorm2d(64, 1e-5, None, False)", &e);

    cnb_layer_defaults(&e, CNB_BATCHNORM2D);
    b->num_features = 64;
    expect(t, "BatchNorm2d(64)", &e);
    expect(t, "nn.BatchNorm2d(num_features=64, eps=0.00001, momentum=0.1, device=None, dtype=None)", &e);
    expect(t, "BatchNorm2d(64, eps=1E-5, momentum=.1)", &e);
    expect(t, "BatchNorm2d(64, 1e-05, 0.1, True, True, 'cpu', torch.float32)", &e);

    static const struct { const char *spec; double eps, momentum; } reals[] = {
        {"BatchNorm2d(8, eps=1, momentum=0)", 1.0, 0.0},
        {"BatchNorm2d(8, eps=1e3, momentum=1.)", 1e3, 1.0},
        {"BatchNorm2d(8, eps=.5, momentum=-.25)", 0.5, -0.25},
        {"BatchNorm2d(8, eps=-1e-3, momentum=1e+0)", -1e-3, 1.0},
        {"BatchNorm2d(8, eps=0.30000000000000004, momentum=0.1)", 0.30000000000000004, 0.1},
        {"BatchNorm2d(8, eps=1e-320, momentum=2.5e-1)", 1e-320, 0.25},
        {"BatchNorm2d(8, eps=1.7976931348623157e308, momentum=0.9)", 1.7976931348623157e308, 0.9},
    };
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        cnb_layer_defaults(&e, CNB_BATCHNORM2D);
        b->num_features = 8, b->eps = reals[i].eps, b->momentum = reals[i].momentum;
        expect(t, reals[i].spec, &e);
    }

    cnb_layer_defaults(&e, CNB_BATCHNORM2D);
    b->num_features = 3, b->eps = 0.001, b->momentum = 0.01, b->affine = false, b->track_running_stats = false;
    expect(t, "BatchNorm2d(3, 0.001, 0.01, False, False)", &e);
    expect(t, "BatchNorm2d(track_running_stats=False, affine=False, momentum=0.01, eps=0.001, num_features=3,)", &e);
}

/* Layers built directly, and by parsing, must come back identical through format -> parse. */
static void round_trip(tally *t, const cnb_layer *l, const char *label) {
    char buf[512], again[512];
    int n = cnb_spec_format(l, buf, sizeof buf);
    if (!check(t, n > 0 && (size_t)n == strlen(buf), "%s: format returned %d for \"%s\"", label, n, buf)) return;
    check(t, cnb_spec_format(l, NULL, 0) == n, "%s: format(NULL, 0) length differs", label);
    cnb_layer back;
    cnb_error err = {0};
    cnb_status st = cnb_spec_parse(buf, &back, &err);
    if (!check(t, st == CNB_OK, "%s: \"%s\" does not parse: %s", label, buf, err.msg)) return;
    const char *d = layer_diff(l, &back);
    check(t, d == NULL, "%s: \"%s\" reads back with %s changed", label, buf, d ? d : "");
    cnb_spec_format(&back, again, sizeof again);
    check(t, strcmp(buf, again) == 0, "%s: format is not stable: \"%s\" vs \"%s\"", label, buf, again);
}

static void test_format(tally *t) {
    static const char *const specs[] = {
        "Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)",
        "Conv1d(3, 8, kernel_size=(3,), stride=(1,), padding=same, padding_mode=reflect)",
        "Conv2d(4, 8, kernel_size=(3, 1), stride=(1, 1), padding=valid, dilation=(2, 2), groups=2)",
        "Conv2d(3, 8, (3, 5), padding='same', padding_mode=circular)",
        "Conv2d(2, 2, 1, padding=(-1, 4), padding_mode=replicate)",
        "Conv1d(4, 4, 3, 2, 1, 2, 4, False, 'zeros')",
        "Conv2d(9223372036854775807, -9223372036854775808, 1)",
        "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True)",
        "MaxPool2d(3, stride=2, padding=1, return_indices=True, ceil_mode=True)",
        "MaxPool2d((2, 3), dilation=(2, 1))",
        "AvgPool2d(kernel_size=2, stride=2, padding=0)",
        "AvgPool2d((3, 2), None, (1, 0), True, False, 5)",
        "AdaptiveAvgPool2d(output_size=(7, None))",
        "AdaptiveAvgPool2d((None, 3))",
        "AdaptiveAvgPool2d(1)",
        "BatchNorm2d(64, eps=1e-05, momentum=None, affine=False, track_running_stats=True)",
        "BatchNorm2d(64)",
        "BatchNorm2d(8, eps=0.30000000000000004, momentum=1)",
        "BatchNorm2d(8, eps=-0.0, momentum=5e-324)",
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        cnb_layer l;
        cnb_error err = {0};
        if (!check(t, cnb_spec_parse(specs[i], &l, &err) == CNB_OK, "round trip: \"%s\": %s", specs[i], err.msg))
            continue;
        round_trip(t, &l, specs[i]);
    }

    // Doubles that need all 17 digits, and extremes.
    static const double reals[] = {0.1 + 0.2, 1.0 / 3.0, 1e-300, 4.9406564584124654e-324, 1.7976931348623157e308,
                                   123456789.0, 1e22, 0.0};
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        cnb_layer l;
        cnb_layer_defaults(&l, CNB_BATCHNORM2D);
        l.u.batchnorm2d.num_features = 5;
        l.u.batchnorm2d.eps = reals[i];
        l.u.batchnorm2d.momentum = -reals[i];
        char label[64];
        snprintf(label, sizeof label, "BatchNorm2d eps=%.17g", reals[i]);
        round_trip(t, &l, label);
    }

    // The exact text of a few.
    static const struct { const char *spec, *want; } texts[] = {
        {"Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)",
         "Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), dilation=(1, 1), groups=1, bias=False, "
         "padding_mode='zeros')"},
        {"Conv1d(3, 8, 3, padding='same', padding_mode=reflect)",
         "Conv1d(3, 8, kernel_size=(3,), stride=(1,), padding='same', dilation=(1,), groups=1, bias=True, "
         "padding_mode='reflect')"},
        {"MaxPool2d(3)",
         "MaxPool2d(kernel_size=(3, 3), stride=None, padding=(0, 0), dilation=(1, 1), return_indices=False, "
         "ceil_mode=False)"},
        {"AvgPool2d(2, 1, divisor_override=3)",
         "AvgPool2d(kernel_size=(2, 2), stride=(1, 1), padding=(0, 0), ceil_mode=False, count_include_pad=True, "
         "divisor_override=3)"},
        {"AdaptiveAvgPool2d((7, None))", "AdaptiveAvgPool2d(output_size=(7, None))"},
        {"BatchNorm2d(64)", "BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"},
        {"BatchNorm2d(64, eps=1, momentum=None)",
         "BatchNorm2d(64, eps=1.0, momentum=None, affine=True, track_running_stats=True)"},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        cnb_layer l;
        char buf[512] = "";
        cnb_error err = {0};
        if (cnb_spec_parse(texts[i].spec, &l, &err) == CNB_OK) cnb_spec_format(&l, buf, sizeof buf);
        check(t, strcmp(buf, texts[i].want) == 0, "format \"%s\" gave \"%s\", want \"%s\"", texts[i].spec, buf,
              texts[i].want);
    }

    // snprintf semantics: truncated but terminated, length still the full one; NULL layer refused.
    cnb_layer l;
    cnb_layer_defaults(&l, CNB_BATCHNORM2D);
    l.u.batchnorm2d.num_features = 64;
    char small[12];
    memset(small, 'x', sizeof small);
    int n = cnb_spec_format(&l, small, sizeof small);
    check(t, n == (int)strlen(texts[5].want) && small[11] == '\0' && strncmp(small, texts[5].want, 11) == 0,
          "truncated format: %d \"%s\"", n, small);
    small[0] = 'x';
    check(t, cnb_spec_format(NULL, small, sizeof small) < 0 && small[0] == '\0', "format(NULL layer)");
    l.kind = CNB_KIND_COUNT;
    check(t, cnb_spec_format(&l, small, sizeof small) < 0, "format(bad kind)");
}

static void test_errors(tally *t) {
    static const struct { const char *spec; const char *needle; } bad[] = {
        // Empty, and not a call.
        {"", "empty"},
        {" \t\n ", "empty"},
        {"Conv2d", "end of spec"},
        {"Conv2d 3, 8, 3", "'3' at column 8"},
        {"Conv2d[3, 8, 3]", "'['"},
        {"(3, 8, 3)", "'(' at column 1"},
        {"3", "'3'"},
        {"Conv3d(1, 2, 3)", "'Conv3d'"},
        {"conv2d(1, 2, 3)", "known layers: Conv1d, Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, BatchNorm2d"},
        {"nn.nn.Conv2d(1, 2, 3)", "'nn.nn.Conv2d'"},
        {"torch.Conv2d(1, 2, 3)", "'torch.Conv2d'"},
        {"nn.(1, 2, 3)", "unknown layer 'nn'"},
        // Unbalanced or trailing.
        {"Conv2d(", "end of spec"},
        {"Conv2d(3, 8", "end of spec"},
        {"Conv2d(3, 8, 3", "end of spec at column 15"},
        {"Conv2d(3, 8, 3,))", "spec: unexpected ')' at column 17 in \"Conv2d(3, 8, 3,))\""},
        {"Conv2d(3, 8, 3) x", "'x' at column 17"},
        {"Conv2d(3, 8, 3) Conv2d(3, 8, 3)", "column 17"},
        {"Conv2d(3, 8, 3)\n)", "')' at column 17"},
        {"Conv2d(3, 8, 3 3)", "'3' at column 16"},
        {"Conv2d(3 8 3)", "'8'"},
        {"Conv2d(3, 8, 3;)", "';'"},
        {"Conv2d(,)", "',' at column 8"},
        {"Conv2d(3,,8,3)", "','"},
        {"Conv2d(3, 8, [3, 3))", "')'"},
        {"Conv2d(3, 8, (3, 3])", "']'"},
        {"Conv2d(3, 8, (3 3))", "'3'"},
        {"Conv2d(3, 8, (,))", "','"},
        {"Conv2d(3, 8, 3, =1)", "'='"},
        {"Conv2d(3, 8, 3, padding==1)", "'='"},
        {"Conv2d(3, 8, 3, **kw)", "'*'"},
        {"Conv2d(3, 8, ((3, 3)))", "nested"},
        {"Conv2d(3, 8, ([3], 3))", "nested"},
        // Lexical.
        {"Conv2d(3, 8, 'same)", "unterminated string"},
        {"Conv2d(3, 8, 3, padding='sa\\me')", "escape"},
        {"Conv2d(3, 8, 3, padding=-)", "'-'"},
        {"Conv2d(3, 8, 3, padding=-x)", "'-'"},
        {"Conv2d(3, 8, 0x10)", "malformed number '0x10'"},
        {"Conv2d(3, 8, 1_000)", "malformed number"},
        {"Conv2d(3, 8, 3a)", "malformed number '3a'"},
        {"BatchNorm2d(64, eps=1e)", "malformed number '1e'"},
        {"BatchNorm2d(64, eps=1e+)", "malformed number"},
        {"BatchNorm2d(64, eps=1.2.3)", "malformed number '1.2.3'"},
        {"BatchNorm2d(64, eps=1e999)", "float out of range"},
        {"BatchNorm2d(64, eps=-1e999)", "float out of range"},
        {"Conv2d(3, 8, 99999999999999999999)", "integer out of range '99999999999999999999'"},
        {"Conv2d(3, 8, 9223372036854775808)", "integer out of range"},
        {"Conv2d(3, 8, -9223372036854775809)", "integer out of range"},
        {"Conv2d(3, 8, 3, padding=\xc3\xa9)", "byte 0xc3 at column 25"},
        {"Conv2d(3, 8, 3)\x01", "byte 0x01"},
        {"Conv2d(3, 8, 3, @)", "'@'"},
        // Arguments.
        {"Conv2d(3, 8)", "missing required argument 'kernel_size' (column 12)"},
        {"Conv2d()", "missing required argument 'in_channels'"},
        {"Conv2d(3, kernel_size=3)", "'out_channels'"},
        {"MaxPool2d()", "'kernel_size'"},
        {"MaxPool2d(stride=2)", "'kernel_size'"},
        {"AvgPool2d(padding=1)", "'kernel_size'"},
        {"AdaptiveAvgPool2d()", "'output_size'"},
        {"BatchNorm2d()", "'num_features'"},
        {"BatchNorm2d(eps=0.1)", "'num_features'"},
        {"Conv2d(3, 8, 3, strid=2)", "Conv2d: unknown argument 'strid' (column 17)"},
        {"Conv2d(3, 8, 3, Stride=2)", "'Stride'"},
        {"MaxPool2d(3, count_include_pad=True)", "'count_include_pad'"},
        {"AvgPool2d(3, dilation=1)", "'dilation'"},
        {"AvgPool2d(3, return_indices=True)", "'return_indices'"},
        {"AdaptiveAvgPool2d(7, output_size=7)", "multiple values for argument 'output_size'"},
        {"BatchNorm2d(4, training=True)", "'training'"},
        {"Conv2d(3, 8, 3, stride=1, stride=2)", "multiple values for argument 'stride' (column 27)"},
        {"Conv2d(3, 8, 3, 1, stride=2)", "'stride'"},
        {"Conv2d(3, 8, 3, in_channels=3)", "'in_channels'"},
        {"Conv2d(3, 8, 3, 1, 0, 1, 1, True, 'zeros', None, None, 5)", "too many positional arguments"},
        {"Conv1d(3, 8, 3, 1, 0, 1, 1, True, 'zeros', None, None, None)", "'None' at column 56"},
        {"MaxPool2d(3, 2, 1, 1, False, False, 7)", "at most 6"},
        {"AdaptiveAvgPool2d(7, 7)", "too many"},
        {"BatchNorm2d(4, 1e-5, 0.1, True, True, None, None, 1)", "too many"},
        {"Conv2d(3, kernel_size=3, 8)", "positional argument '8' follows keyword arguments"},
        {"Conv2d(3, 8, 3, (1, 1)", "end of spec"},
        // Types.
        {"Conv2d(3.0, 8, 3)", "in_channels must be an int, got '3.0' (column 8)"},
        {"Conv2d(True, 8, 3)", "'True'"},
        {"Conv2d(3, None, 3)", "out_channels must be an int"},
        {"Conv2d(3, '8', 3)", "got '8'"},
        {"Conv2d(3, (8,), 3)", "'(8,)'"},
        {"Conv2d(3, 8, (3, 3, 3))", "kernel_size must be an int or a tuple of two ints, got '(3, 3, 3)'"},
        {"Conv2d(3, 8, (3,))", "'(3,)'"},
        {"Conv2d(3, 8, [3])", "'[3]'"},
        {"Conv2d(3, 8, ())", "'()'"},
        {"Conv2d(3, 8, [])", "'[]'"},
        {"Conv2d(3, 8, (3, 3.0))", "kernel_size"},
        {"Conv2d(3, 8, (3, None))", "kernel_size"},
        {"Conv2d(3, 8, (True, 3))", "kernel_size"},
        {"Conv2d(3, 8, 3, stride=None)", "stride must be"},
        {"Conv2d(3, 8, 3, dilation=1.5)", "dilation must be"},
        {"Conv2d(3, 8, 3, groups=(1,))", "groups must be an int"},
        {"Conv2d(3, 8, 3, groups=False)", "groups"},
        {"Conv2d(3, 8, 3, bias=1)", "bias must be True or False, got '1'"},
        {"Conv2d(3, 8, 3, bias='True')", "bias"},
        {"Conv2d(3, 8, 3, bias=true)", "'true'"},
        {"Conv2d(3, 8, 3, bias=None)", "bias"},
        {"Conv2d(3, 8, 3, padding='foo')", "Invalid padding string 'foo', should be one of {'valid', 'same'}"},
        {"Conv2d(3, 8, 3, padding=SAME)", "'SAME'"},
        {"Conv2d(3, 8, 3, padding='')", "Invalid padding string"},
        {"Conv2d(3, 8, 3, padding=(1, 2, 3))", "padding must be"},
        {"Conv2d(3, 8, 3, padding=('same',))", "padding must be"},
        {"Conv2d(3, 8, 3, padding=None)", "padding"},
        {"Conv2d(3, 8, 3, padding=1.0)", "padding"},
        {"Conv2d(3, 8, 3, padding_mode='zero')", "padding_mode must be one of {'zeros', 'reflect', 'replicate', "
                                                  "'circular'}, got 'zero'"},
        {"Conv2d(3, 8, 3, padding_mode=1)", "padding_mode"},
        {"Conv2d(3, 8, 3, padding_mode=None)", "padding_mode"},
        {"Conv2d(3, 8, 3, padding_mode=('zeros',))", "padding_mode"},
        {"Conv2d(3, 8, 3, device='cuda')", "device must be None or 'cpu', got 'cuda'"},
        {"Conv2d(3, 8, 3, device=0)", "device"},
        {"Conv2d(3, 8, 3, dtype=torch.float64)", "dtype must be None or torch.float32"},
        {"Conv2d(3, 8, 3, dtype=torch.half)", "'torch.half'"},
        {"Conv2d(3, 8, 3, dtype=float)", "dtype"},
        {"Conv1d(3, 8, (3, 3))", "kernel_size must be an int or a tuple of one int"},
        {"Conv1d(3, 8, 3, stride=(1, 1))", "stride"},
        {"Conv1d(3, 8, 3, padding=(1, 1))", "padding"},
        {"Conv1d(3, 8, ())", "kernel_size"},
        {"MaxPool2d(3, stride=(1, 2, 3))", "stride must be None, an int or a tuple of one or two ints"},
        {"MaxPool2d((3, 3, 3))", "kernel_size must be an int or a tuple of one or two ints"},
        {"MaxPool2d(())", "kernel_size"},
        {"MaxPool2d(None)", "kernel_size"},
        {"MaxPool2d(3, padding=None)", "padding"},
        {"MaxPool2d(3, padding=())", "padding"},
        {"MaxPool2d(3, dilation=(1, 1, 1))", "dilation"},
        {"MaxPool2d(3, ceil_mode=1)", "ceil_mode must be True or False"},
        {"MaxPool2d(3, return_indices='True')", "return_indices"},
        {"MaxPool2d(3, stride=2.0)", "stride"},
        {"AvgPool2d(3, divisor_override=2.5)", "divisor_override must be an int or None, got '2.5'"},
        {"AvgPool2d(3, divisor_override=(2,))", "divisor_override"},
        {"AvgPool2d(3, count_include_pad=0)", "count_include_pad"},
        {"AvgPool2d(3, stride=(2, 2, 2))", "stride"},
        {"AdaptiveAvgPool2d((7,))", "output_size must be an int, or a tuple of two ints or Nones, got '(7,)'"},
        {"AdaptiveAvgPool2d((7, 7, 7))", "output_size"},
        {"AdaptiveAvgPool2d(7.0)", "'7.0'"},
        {"AdaptiveAvgPool2d('7')", "output_size"},
        {"AdaptiveAvgPool2d(())", "output_size"},
        {"AdaptiveAvgPool2d((7, True))", "output_size"},
        {"AdaptiveAvgPool2d((7, 'None'))", "output_size"},
        {"BatchNorm2d(64.0)", "num_features must be an int"},
        {"BatchNorm2d(True)", "num_features"},
        {"BatchNorm2d(64, eps=nan)", "eps must be a float, got 'nan'"},
        {"BatchNorm2d(64, eps=inf)", "'inf'"},
        {"BatchNorm2d(64, eps=NaN)", "eps"},
        {"BatchNorm2d(64, eps=None)", "eps"},
        {"BatchNorm2d(64, eps='1e-5')", "eps"},
        {"BatchNorm2d(64, eps=(1e-5,))", "eps"},
        {"BatchNorm2d(64, eps=True)", "eps"},
        {"BatchNorm2d(64, momentum='0.1')", "momentum must be a float or None"},
        {"BatchNorm2d(64, momentum=False)", "momentum"},
        {"BatchNorm2d(64, affine=None)", "affine must be True or False"},
        {"BatchNorm2d(64, track_running_stats=1)", "track_running_stats"},
        {"BatchNorm2d(64, dtype=torch.float16)", "dtype"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) expect_fail(t, bad[i].spec, CNB_E_PARSE, bad[i].needle);

    // A negative output_size cannot reach core/ (negative means None there): PyTorch's error, here.
    expect_fail(t, "AdaptiveAvgPool2d(-1)", CNB_E_INVALID_ARG,
                "elements of output_size must be greater than or equal to 0 but received {-1, -1}");
    expect_fail(t, "AdaptiveAvgPool2d((None, -3))", CNB_E_INVALID_ARG, "received {None, -3}");

    // NULL arguments.
    expect_fail(t, NULL, CNB_E_PARSE, NULL);
    cnb_error err = {0};
    check(t, cnb_spec_parse("Conv2d(3, 8, 3)", NULL, &err) == CNB_E_PARSE && one_line(err.msg), "NULL layer");
    cnb_layer l;
    check(t, cnb_spec_parse("Conv2d(3, 8)", &l, NULL) == CNB_E_PARSE, "NULL err");
    check(t, cnb_spec_parse("Conv2d(3, 8, 3)", &l, NULL) == CNB_OK, "NULL err, success");
}

/* Long specs: messages stay short, and long whitespace or digit runs are fine. */
static void test_long(tally *t) {
    size_t big = 100000;
    char *s = malloc(big + 64);
    if (!check(t, s != NULL, "malloc")) return;

    strcpy(s, "Conv2d(3, 8, 3");
    size_t n = strlen(s);
    memset(s + n, ' ', big), n += big;
    strcpy(s + n, "\n x)");
    expect_fail(t, s, CNB_E_PARSE, "'x' at column 100017");

    strcpy(s, "Conv2d(3, 8, 3");
    n = strlen(s);
    memset(s + n, '\n', big), n += big;
    strcpy(s + n, ")");
    cnb_layer l;
    cnb_error err = {0};
    check(t, cnb_spec_parse(s, &l, &err) == CNB_OK, "spec with 100000 newlines: %s", err.msg);

    strcpy(s, "Conv2d(3, 8, ");
    n = strlen(s);
    memset(s + n, '7', big), n += big;
    strcpy(s + n, ")");
    expect_fail(t, s, CNB_E_PARSE, "integer out of range '777777777777777777777777...'");

    strcpy(s, "BatchNorm2d(4, eps=0.");
    n = strlen(s);
    memset(s + n, '0', big), n += big;
    strcpy(s + n, "25)");
    check(t, cnb_spec_parse(s, &l, &err) == CNB_OK && l.u.batchnorm2d.eps == 0.0, "eps with 100000 zeros: %s",
          err.msg);

    strcpy(s, "Conv2d(3, 8, 3, ");
    n = strlen(s);
    memset(s + n, 'a', big), n += big;
    strcpy(s + n, "=1)");
    expect_fail(t, s, CNB_E_PARSE, "unknown argument 'aaaaaaaaaaaaaaaaaaaaaaaa...'");

    memset(s, '(', big);
    s[big] = '\0';
    expect_fail(t, s, CNB_E_PARSE, NULL);
    memcpy(s, "Conv2d(", 7);
    expect_fail(t, s, CNB_E_PARSE, "nested");
    free(s);
}

/* Every prefix and every one-byte deletion of some valid specs: each either parses (and then round-trips)
 * or fails with a one-line message. Mostly a target for the sanitizers. */
static void test_mutations(tally *t) {
    static const char *const seeds[] = {
        "Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)",
        "Conv1d(3, 8, kernel_size=(3,), stride=(1,), padding=same, padding_mode=reflect)",
        "MaxPool2d(3, stride=2, padding=1, return_indices=True, ceil_mode=True)",
        "AvgPool2d((3, 2), None, (1, 0), True, False, 5)",
        "AdaptiveAvgPool2d(output_size=(7, None))",
        "BatchNorm2d(64, eps=1e-05, momentum=None, affine=False, track_running_stats=True)",
        "nn.Conv2d(in_channels=3, out_channels=8, kernel_size=[3, 5], padding='same', padding_mode=\"circular\")",
    };
    int tried = 0, bad_msg = 0, bad_trip = 0;
    char buf[256], out[512];
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        size_t len = strlen(seeds[i]);
        for (size_t k = 0; k <= 2 * len; k++) {
            if (k <= len) memcpy(buf, seeds[i], k), buf[k] = '\0';                    // prefix of length k
            else memcpy(buf, seeds[i], k - len - 1), strcpy(buf + (k - len - 1), seeds[i] + (k - len));  // deletion
            cnb_layer l, back;
            cnb_error err = {0};
            tried++;
            cnb_status st = cnb_spec_parse(buf, &l, &err);
            if (st != CNB_OK) {
                if (!one_line(err.msg) || err.code != st) {
                    bad_msg++;
                    printf("FAIL: mutation \"%s\": bad message \"%s\"\n", buf, err.msg);
                }
                continue;
            }
            cnb_spec_format(&l, out, sizeof out);
            if (cnb_spec_parse(out, &back, &err) != CNB_OK || layer_diff(&l, &back)) {
                bad_trip++;
                printf("FAIL: mutation \"%s\": round trip through \"%s\"\n", buf, out);
            }
        }
    }
    check(t, bad_msg == 0, "%d of %d mutations gave a bad message", bad_msg, tried);
    check(t, bad_trip == 0, "%d of %d mutations did not round-trip", bad_trip, tried);
}

int main(void) {
    tally t = {0, 0};
    test_conv(&t);
    test_pool(&t);
    test_batchnorm(&t);
    test_format(&t);
    test_errors(&t);
    test_long(&t);
    test_mutations(&t);
    printf("spec: %d passed, %d failed\n", t.passed, t.failed);
    return t.failed ? 1 : 0;
}
