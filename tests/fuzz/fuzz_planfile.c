// libFuzzer target: cnb_plan_file_load on contents picked by the first byte: raw JSON (any machine, or this
// machine's fingerprint check), the bytes as the "entries" of a valid file, or a valid-looking file built
// from them (docs/fuzzing.md). Refusals are one line; after a load, `auto` plans for the entries' layers that
// say they came from the file took the entry's implementation. The file is unloaded after each input.
#include <jansson.h>

#include "tests/fuzz/fuzz.h"

#include "core/planfile.h"
#include "core/spec.h"

#define MAX_PLANS 4
#define MAX_ELEMS 4096

static const char k_head[] =
    "{\"format\": \"cnnbench-plan\", \"version\": 1, \"fingerprint\": {\"cpu_model\": \"fuzz\", \"features\": \"\", "
    "\"cores\": 1, \"build\": \"fuzz\"}, \"rigor\": \"measure\", \"created\": \"2026-01-01T00:00:00Z\", \"entries\": ";

/* Bytes up to the first NUL (or all), as printable ASCII: jansson takes UTF-8 only. */
static char *take_text(fuzz_src *s) {
    size_t n = 0;
    while (n < s->n && s->p[n]) n++;
    char *t = malloc(n + 1);
    FUZZ_CHECK(t != NULL, "out of memory");
    for (size_t i = 0; i < n; i++) t[i] = s->p[i] >= 0x20 && s->p[i] < 0x7f ? (char)s->p[i] : ' ';
    t[n] = 0;
    s->p += n < s->n ? n + 1 : n;
    s->n -= n < s->n ? n + 1 : n;
    return t;
}

static json_t *make_entry(fuzz_src *s) {
    static const char *const layers[] = {"Conv2d(2, 2, 3)", "MaxPool2d(2)", "AvgPool2d(3, stride=1, padding=1)",
                                         "AdaptiveAvgPool2d((2, None))", "BatchNorm2d(2)", "Conv1d(2, 4, 3)"};
    const uint8_t how = fuzz_u8(s);
    char *spec = how & 1 ? take_text(s) : strdup(layers[(how >> 1) % 6]);
    FUZZ_CHECK(spec != NULL, "out of memory");
    json_t *shape = json_array();
    const int nd = fuzz_u8(s) % 6;
    for (int d = 0; d < nd; d++) json_array_append_new(shape, json_integer(fuzz_i64(s)));
    const uint8_t ib = fuzz_u8(s);
    const size_t ni = cnb_impl_count();
    const char *impl = ib < 8 ? "no.such.impl" : cnb_impl_name(ib % ni);
    // One read per statement: the order of a call's arguments is unspecified, and a saved input must
    // decode the same with every compiler (the replay driver is built by gcc, the fuzzer by clang).
    const int train = fuzz_u8(s) & 1;
    const json_int_t threads = fuzz_u8(s) % 4;
    json_t *time_ns = json_integer(fuzz_i64(s));
    json_t *runner = fuzz_u8(s) & 1 ? json_null() : json_string(impl);
    json_t *runner_ns = json_real(fuzz_real(s));
    const int measured = fuzz_u8(s) & 1;
    json_t *e = json_pack("{s:s, s:o, s:b, s:I, s:s, s:o, s:o, s:o, s:b}", "spec", spec, "shape", shape, "train", train,
                          "threads", threads, "impl", impl, "time_ns", time_ns, "runner_up", runner, "runner_up_ns",
                          runner_ns ? runner_ns : json_null(), "measured", measured);
    free(spec);
    FUZZ_CHECK(e != NULL, "json_pack");
    const uint8_t extra = fuzz_u8(s);
    if (extra & 1) json_object_set_new(e, "name", json_string("fuzz:layer"));
    if (extra & 2) json_object_set_new(e, "best_pair", json_boolean(extra & 4));
    if (extra & 8) json_object_set_new(e, "unknown_field", json_true());
    if (extra & 16) json_object_del(e, "measured");
    return e;
}

static char *make_file(fuzz_src *s, unsigned *flags) {
    const uint8_t how = fuzz_u8(s);
    json_t *fp;
    if (how & 1) {
        const cnb_fingerprint *h = cnb_fingerprint_here();
        fp = json_pack("{s:s, s:s, s:i, s:s}", "cpu_model", h->cpu_model, "features", h->features, "cores", h->cores,
                       "build", h->build);
        *flags = how & 2 ? CNB_PLAN_FILE_ANY_MACHINE : 0;
    } else {
        fp = json_pack("{s:s, s:s, s:i, s:s}", "cpu_model", "another", "features", "avx2 fma", "cores", 2, "build", "x");
        *flags = CNB_PLAN_FILE_ANY_MACHINE;
    }
    json_t *entries = json_array();
    const int n = fuzz_u8(s) % 4;
    for (int i = 0; i < n; i++) json_array_append_new(entries, make_entry(s));
    static const char *const rigor[] = {"estimate", "measure", "exhaustive", "guess"};
    json_t *root = json_pack("{s:s, s:i, s:o, s:s, s:s, s:o}", "format", "cnnbench-plan", "version", 1, "fingerprint", fp,
                             "rigor", rigor[(how >> 2) % 4], "created", "2026-01-01T00:00:00Z", "entries", entries);
    FUZZ_CHECK(root != NULL, "json_pack");
    if (how & 16) json_object_set_new(root, "options", json_object());
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    FUZZ_CHECK(text != NULL, "json_dumps");
    return text;
}

/* After a successful load: plans through `auto` for the entries' layers (small ones only). */
static void plan_entries(const char *text, size_t size) {
    json_t *root = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);
    json_t *entries = root ? json_object_get(root, "entries") : NULL;
    for (size_t i = 0; i < json_array_size(entries) && i < MAX_PLANS; i++) {
        json_t *eo = json_array_get(entries, i), *shape = json_object_get(eo, "shape");
        cnb_layer layer;
        cnb_shape in = {.ndim = (int)json_array_size(shape)};
        if (cnb_spec_parse(json_string_value(json_object_get(eo, "spec")), &layer, NULL)) continue;
        if (layer.kind == CNB_BATCHNORM2D) layer.u.batchnorm2d.training = json_is_true(json_object_get(eo, "train"));
        for (int d = 0; d < in.ndim && d < CNB_MAX_DIMS; d++) in.dims[d] = json_integer_value(json_array_get(shape, (size_t)d));
        cnb_shape out;
        int64_t nin = 0, nout = 0;
        if (cnb_output_shape(&layer, &in, &out, NULL) || cnb_shape_numel(&in, &nin, NULL) ||
            cnb_shape_numel(&out, &nout, NULL) || nin > MAX_ELEMS || nout > MAX_ELEMS)
            continue;
        if (layer.kind == CNB_BATCHNORM2D && layer.u.batchnorm2d.num_features > MAX_ELEMS) continue;
        float *w = NULL;
        cnb_shape ws;
        int64_t nw = 0;
        if ((layer.kind == CNB_CONV1D || layer.kind == CNB_CONV2D) &&
            (cnb_param_shape(&layer, CNB_PARAM_WEIGHT, &ws, NULL) || cnb_shape_numel(&ws, &nw, NULL) || nw > MAX_ELEMS ||
             !(w = calloc((size_t)nw + 1, sizeof *w))))
            continue;
        const cnb_params prm = {.weight = w, .threads = (int)json_integer_value(json_object_get(eo, "threads"))};
        cnb_plan *plan = NULL;
        cnb_error e = {0};
        cnb_status st = cnb_plan_create(&layer, &in, "auto", &prm, &plan, &e);
        free(w);
        if (st) {
            fuzz_check_error(st, &e);
            continue;
        }
        const char *want = json_string_value(json_object_get(eo, "impl"));
        FUZZ_CHECK(!cnb_plan_from_file(plan) || (want && !strcmp(cnb_plan_impl(plan), want)),
                   "entries[%zu]: auto took %s from the plan file, the entry says %s", i, cnb_plan_impl(plan), want);
        cnb_plan_destroy(plan);
    }
    json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_src s = {data, size};
    const uint8_t mode = fuzz_u8(&s);
    unsigned flags = CNB_PLAN_FILE_ANY_MACHINE;
    char *text = NULL;
    size_t len = 0;
    switch (mode % 4) {
    case 0:
        break;
    case 1:
        flags = (mode >> 2) % 4;
        break;
    case 2:
        len = sizeof k_head - 1 + s.n + 1;
        text = malloc(len + 1);
        FUZZ_CHECK(text != NULL, "out of memory");
        memcpy(text, k_head, sizeof k_head - 1);
        memcpy(text + sizeof k_head - 1, s.p, s.n);
        text[len - 1] = '}';
        text[len] = 0;
        break;
    default:
        text = make_file(&s, &flags);
        len = strlen(text);
        break;
    }
    const uint8_t *bytes = text ? (const uint8_t *)text : s.p;
    if (!text) len = s.n;
    cnb_error e = {0};
    cnb_status st = cnb_plan_file_load(fuzz_file(bytes, len), flags, &e);
    if (st) fuzz_check_error(st, &e);
    else plan_entries((const char *)bytes, len);
    cnb_plan_file_unload();
    free(text);
    return 0;
}
