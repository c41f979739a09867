/* Plan files and `cnnbench tune`, in the test build (its test doubles conv2d.{winograd,loose,wrong}_test.scalar
 * are registered with prio 0 after the references, so the built-in rule still picks the reference):
 *   - the library: `auto` honours a loaded plan for the layer key (canonical spec, BN training flag, shape,
 *     threads) and only for it; a fingerprint mismatch is refused unless CNB_PLAN_FILE_ANY_MACHINE; every
 *     kind of damaged plan gives a clear error naming the entry and field, and leaves the previous plan
 *     loaded; an entry whose implementation cannot run its layer fails plan creation, naming the entry;
 *     loading and unloading while other threads create plans;
 *   - the command: tune round trip at --rigor measure (the agreement check keeps the wrong double out;
 *     --impl forces an unusual valid choice that `run --plan` and `bench --plan` then report), --max-error
 *     and --no-winograd, estimate, the time limit, exhaustive, and errors through the CLI.
 * usage: test_tune path/to/cnnbench path/to/cnnbench_broken */
#include <jansson.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnbench.h"
#include "core/planfile.h"
#include "core/spec.h"
#include "harness/npy.h"
#include "harness/peak.h"
#include "harness/topo.h"
#include "test_util.h"

static const char *g_bin, *g_broken, *g_dir;
static char g_out[1 << 16], g_err[1 << 16];

/* The small suite the command tests tune. */
#define C3 "Conv2d(4, 8, kernel_size=(3, 3), padding=(1, 1))"
#define C1 "Conv2d(8, 8, kernel_size=(1, 1), bias=False)"
#define C5 "Conv2d(4, 8, kernel_size=(5, 5))"

static float g_zeros[8 * 8 * 5 * 5];   /* weights of every conv here */

static void path_of(char *buf, size_t size, const char *name) { snprintf(buf, size, "%s/%s", g_dir, name); }

static bool has(const char *hay, const char *needle) { return hay && strstr(hay, needle) != NULL; }
static const char *str(const json_t *v) { return json_is_string(v) ? json_string_value(v) : ""; }

/* ---- library ------------------------------------------------------------------------------------------- */

static json_t *entry(const char *spec, const char *shape_json, bool train, int threads, const char *impl) {
    json_error_t je;
    json_t *shape = json_loads(shape_json, 0, &je);
    return json_pack("{s:s, s:o, s:b, s:i, s:s, s:i, s:s, s:i, s:b}", "spec", spec, "shape", shape, "train", train,
                     "threads", threads, "impl", impl, "time_ns", 1000, "runner_up", "conv2d.naive.scalar",
                     "runner_up_ns", 2000, "measured", true);
}

/* A valid plan for this machine and build:
 *   [0] C3 (spelled differently from its canonical form) on 1x4x12x12 at 1 thread -> loose_test
 *   [1] BatchNorm2d(8) in training on 2x8x6x6 at 1 thread -> batchnorm2d.naive.scalar
 *   [2] C3 on 2x4x12x12 at omp_get_max_threads() threads -> winograd_test
 *   [3] C5 on 1x4x12x12 at 1 thread -> winograd_test, which supports only 3x3: an error when used */
static json_t *base_plan(void) {
    const cnb_fingerprint *fp = cnb_fingerprint_here();
    json_t *entries = json_array();
    json_array_append_new(entries, entry("Conv2d(4, 8, 3, padding=1)", "[1, 4, 12, 12]", false, 1, "conv2d.loose_test.scalar"));
    json_array_append_new(entries, entry("BatchNorm2d(8)", "[2, 8, 6, 6]", true, 1, "batchnorm2d.naive.scalar"));
    json_array_append_new(entries, entry(C3, "[2, 4, 12, 12]", false, omp_get_max_threads(), "conv2d.winograd_test.scalar"));
    json_array_append_new(entries, entry(C5, "[1, 4, 12, 12]", false, 1, "conv2d.winograd_test.scalar"));
    return json_pack("{s:s, s:i, s:{s:s, s:s, s:i, s:s}, s:s, s:s, s:o}", "format", "cnnbench-plan", "version", 1,
                     "fingerprint", "cpu_model", fp->cpu_model, "features", fp->features, "cores", fp->cores, "build",
                     fp->build, "rigor", "measure", "created", "2026-01-01T00:00:00Z", "entries", entries);
}

static void save_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* Write root (consumed) to g_dir/name and load it. */
static cnb_status load_json(json_t *root, const char *name, unsigned flags, cnb_error *e) {
    char path[512];
    path_of(path, sizeof path, name);
    json_dump_file(root, path, JSON_INDENT(1));
    json_decref(root);
    memset(e, 0, sizeof *e);
    return cnb_plan_file_load(path, flags, e);
}

/* What auto picks for spec on shape at threads; NULL if plan creation failed (then *st and *e say why). */
static const char *pick(const char *spec, const cnb_shape *shape, bool train, int threads, bool *from_file,
                        cnb_status *st, cnb_error *e) {
    cnb_layer layer;
    memset(e, 0, sizeof *e);
    if ((*st = cnb_spec_parse(spec, &layer, e))) return NULL;
    if (layer.kind == CNB_BATCHNORM2D) layer.u.batchnorm2d.training = train;
    const bool conv = layer.kind == CNB_CONV2D;
    cnb_params prm = {.weight = conv ? g_zeros : NULL, .threads = threads};
    cnb_plan *p = NULL;
    if ((*st = cnb_plan_create(&layer, shape, "auto", &prm, &p, e))) return NULL;
    const char *name = cnb_plan_impl(p);
    *from_file = cnb_plan_from_file(p);
    cnb_plan_destroy(p);
    return name;  // a static registry string
}

static const cnb_shape S1 = {4, {1, 4, 12, 12}}, S2 = {4, {2, 4, 12, 12}}, S13 = {4, {1, 4, 13, 13}},
                       SBN = {4, {2, 8, 6, 6}};

/* auto gives want (from the plan file or not) for spec on shape at threads. */
static void expect_pick(const char *what, const char *spec, const cnb_shape *shape, bool train, int threads,
                        const char *want, bool want_file) {
    bool ff = false;
    cnb_status st;
    cnb_error e;
    const char *got = pick(spec, shape, train, threads, &ff, &st, &e);
    tu_check(got && !strcmp(got, want) && ff == want_file, what, "auto gave %s%s, expected %s%s (%s)",
             got ? got : "an error", ff ? " from the plan file" : "", want, want_file ? " from the plan file" : "",
             got ? "" : e.msg);
}

/* What the built-in rule picks (no plan loaded) for the layers below: the fallbacks expected with a plan. */
static const char *g_b1, *g_b1t2, *g_b13, *g_bother, *g_bbn;
static const char *builtin(const char *spec, const cnb_shape *shape, int threads) {
    bool ff = false;
    cnb_status st;
    cnb_error e;
    const char *got = pick(spec, shape, false, threads, &ff, &st, &e);
    return got ? got : "(none)";
}

static void test_auto_honours_plan(void) {
    cnb_plan_file_unload();
    g_b1 = builtin(C3, &S1, 1);
    g_b1t2 = builtin(C3, &S1, 2);
    g_b13 = builtin(C3, &S13, 1);
    g_bother = builtin("Conv2d(4, 8, 3, padding=1, bias=False)", &S1, 1);
    g_bbn = builtin("BatchNorm2d(8)", &SBN, 1);
    tu_check(strstr(g_b1, "conv2d.") == g_b1 && !strstr(g_b1, "_test"), "no plan: built-in rule",
             "auto gave %s", g_b1);
    cnb_error e;
    cnb_status st = load_json(base_plan(), "base.json", 0, &e);
    tu_check(st == CNB_OK, "load a valid plan", "%s", e.msg);
    expect_pick("plan: the saved choice (spec spelled otherwise)", C3, &S1, false, 1, "conv2d.loose_test.scalar", true);
    expect_pick("plan: same spelling as canonical", "Conv2d(4, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), "
                "dilation=(1, 1), groups=1, bias=True, padding_mode='zeros')", &S1, false, 1, "conv2d.loose_test.scalar", true);
    if (omp_get_max_threads() != 2)
        expect_pick("plan: other thread count falls back", C3, &S1, false, 2, g_b1t2, false);
    expect_pick("plan: other shape falls back", C3, &S13, false, 1, g_b13, false);
    expect_pick("plan: other layer falls back", "Conv2d(4, 8, 3, padding=1, bias=False)", &S1, false, 1, g_bother,
                false);
    expect_pick("plan: threads 0 means omp_get_max_threads()", C3, &S2, false, 0, "conv2d.winograd_test.scalar", true);
    expect_pick("plan: BN training key", "BatchNorm2d(8)", &SBN, true, 1, "batchnorm2d.naive.scalar", true);
    expect_pick("plan: BN eval is another key", "BatchNorm2d(8)", &SBN, false, 1, g_bbn, false);

    /* An explicit name is not auto: the plan file is not consulted. */
    cnb_layer l;
    cnb_spec_parse(C3, &l, &e);
    cnb_params prm = {.weight = g_zeros, .threads = 1};
    cnb_plan *p = NULL;
    st = cnb_plan_create(&l, &S1, "conv2d.naive.scalar", &prm, &p, &e);
    tu_check(st == CNB_OK && !cnb_plan_from_file(p) && !strcmp(cnb_plan_impl(p), "conv2d.naive.scalar"),
             "explicit implementation", "st %d", st);
    cnb_plan_destroy(p);
    tu_check(!cnb_plan_from_file(NULL), "cnb_plan_from_file(NULL)", "true");
    prm.threads = -1;
    tu_check(cnb_plan_create(&l, &S1, "auto", &prm, &p, &e) == CNB_E_INVALID_ARG, "negative params.threads", "accepted");

    /* An entry whose implementation cannot run its layer: an error naming the entry, no fall-back. */
    bool ff;
    const char *got = pick(C5, &S1, false, 1, &ff, &st, &e);
    tu_check(!got && st == CNB_E_UNSUPPORTED && has(e.msg, "entries[3]") && has(e.msg, "base.json") &&
             has(e.msg, "only 3x3"), "entry unusable here", "%s (status %d): %s", got ? got : "error", st, e.msg);
}

static void test_fingerprint(void) {
    const cnb_fingerprint *fp = cnb_fingerprint_here();
    struct { const char *field, *value, *expect; } cases[] = {
        {"cpu_model", "Imaginary CPU 9000", "cpu_model \"Imaginary CPU 9000\" in the file"},
        {"features", "neon", "CPU features \"neon\" in the file"},
        {"cores", NULL, "cores"},
        {"build", "0.0.1|0123456789ab|gcc 1.0|-O0", "version \"0.0.1\" in the file"},
        {"build", "something else", "build \"something else\" in the file"},
    };
    char commit_build[600];
    {   // another commit, same everything else: the message names the git commit
        const char *bar = strchr(fp->build, '|');
        const char *bar2 = bar ? strchr(bar + 1, '|') : NULL;
        if (bar && bar2) snprintf(commit_build, sizeof commit_build, "%.*s|feedfacecafe%s", (int)(bar - fp->build), fp->build, bar2);
        else snprintf(commit_build, sizeof commit_build, "x");
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0] + 1; i++) {
        const bool commit = i == sizeof cases / sizeof cases[0];
        const char *field = commit ? "build" : cases[i].field;
        json_t *root = base_plan();
        json_t *f = json_object_get(root, "fingerprint");
        if (!strcmp(field, "cores")) json_object_set_new(f, "cores", json_integer(fp->cores + 1));
        else json_object_set_new(f, field, json_string(commit ? commit_build : cases[i].value));
        json_t *copy = json_deep_copy(root);
        cnb_error e;
        cnb_status st = load_json(root, "other_machine.json", 0, &e);
        const char *expect = commit ? "git commit \"feedfacecafe\" in the file" : cases[i].expect;
        tu_check(st == CNB_E_MISMATCH && has(e.msg, expect) && has(e.msg, "here") && has(e.msg, "other_machine.json"),
                 "fingerprint mismatch refused", "%s: status %d: %s", field, st, e.msg);
        if (!strcmp(field, "cpu_model"))
            tu_check(has(e.msg, fp->cpu_model), "mismatch names both values", "%s", e.msg);
        if (commit) {
            char here_commit[64];
            const char *bar = strchr(fp->build, '|');
            snprintf(here_commit, sizeof here_commit, "\"%.*s\" here", bar ? (int)strcspn(bar + 1, "|") : 0, bar ? bar + 1 : "");
            tu_check(has(e.msg, here_commit), "build mismatch names both commits", "%s lacks %s", e.msg, here_commit);
        }
        st = load_json(copy, "other_machine.json", CNB_PLAN_FILE_ANY_MACHINE, &e);
        tu_check(st == CNB_OK, "fingerprint mismatch accepted with the flag", "%s: %s", field, e.msg);
        expect_pick("plan from another machine honoured with the flag", C3, &S1, false, 1, "conv2d.loose_test.scalar", true);
    }
}

/* A damaged variant of the base plan; text, if set, is written as is instead. */
typedef struct damage {
    const char *what;
    void (*edit)(json_t *root);
    const char *text;
    cnb_status status;
    const char *expect[2];
} damage;

static json_t *e0(json_t *r) { return json_array_get(json_object_get(r, "entries"), 0); }
static void d_not_object(json_t *r) { (void)r; }
static void d_format(json_t *r) { json_object_set_new(r, "format", json_string("cnnbench-results")); }
static void d_version(json_t *r) { json_object_set_new(r, "version", json_integer(2)); }
static void d_version_type(json_t *r) { json_object_set_new(r, "version", json_string("1")); }
static void d_no_entries(json_t *r) { json_object_del(r, "entries"); }
static void d_entries_type(json_t *r) { json_object_set_new(r, "entries", json_object()); }
static void d_no_fingerprint(json_t *r) { json_object_del(r, "fingerprint"); }
static void d_fp_cores_type(json_t *r) { json_object_set_new(json_object_get(r, "fingerprint"), "cores", json_string("2")); }
static void d_rigor(json_t *r) { json_object_set_new(r, "rigor", json_string("fast")); }
static void d_top_unknown(json_t *r) { json_object_set_new(r, "entires", json_array()); }
static void d_missing_impl(json_t *r) { json_object_del(json_array_get(json_object_get(r, "entries"), 1), "impl"); }
static void d_threads_type(json_t *r) { json_object_set_new(e0(r), "threads", json_string("1")); }
static void d_threads_zero(json_t *r) { json_object_set_new(e0(r), "threads", json_integer(0)); }
static void d_shape_type(json_t *r) { json_array_set_new(json_object_get(e0(r), "shape"), 1, json_string("a")); }
static void d_shape_empty(json_t *r) { json_object_set_new(e0(r), "shape", json_array()); }
static void d_shape_invalid(json_t *r) { json_array_set_new(json_object_get(e0(r), "shape"), 1, json_integer(5)); }
static void d_impl_unknown(json_t *r) { json_object_set_new(e0(r), "impl", json_string("conv2d.nosuch.avx2")); }
static void d_impl_kind(json_t *r) { json_object_set_new(e0(r), "impl", json_string("maxpool2d.naive.scalar")); }
static void d_impl_peer(json_t *r) { json_object_set_new(e0(r), "impl", json_string("conv2d.broken.scalar")); }
static void d_impl_type(json_t *r) { json_object_set_new(e0(r), "impl", json_integer(3)); }
static void d_spec_syntax(json_t *r) { json_object_set_new(e0(r), "spec", json_string("Conv2d(4, 8")); }
static void d_spec_kind(json_t *r) { json_object_set_new(e0(r), "spec", json_string("Conv7d(4, 8, 3)")); }
static void d_train_conv(json_t *r) { json_object_set_new(e0(r), "train", json_true()); }
static void d_train_type(json_t *r) { json_object_set_new(e0(r), "train", json_string("no")); }
static void d_time_null(json_t *r) { json_object_set_new(e0(r), "time_ns", json_null()); }
static void d_time_negative(json_t *r) { json_object_set_new(e0(r), "time_ns", json_real(-1)); }
static void d_unknown_field(json_t *r) { json_object_set_new(e0(r), "implx", json_string("x")); }
static void d_entry_type(json_t *r) { json_array_append_new(json_object_get(r, "entries"), json_string("x")); }
static void d_duplicate(json_t *r) {
    json_t *es = json_object_get(r, "entries");
    json_t *d = json_deep_copy(e0(r));
    json_object_set_new(d, "spec", json_string(C3));  // the same key, spelled as canonical
    json_array_append_new(es, d);
}

static void test_damaged(void) {
    cnb_error e;
    cnb_status st = load_json(base_plan(), "good.json", 0, &e);
    tu_check(st == CNB_OK, "load the good plan", "%s", e.msg);
    json_t *good = base_plan();
    char *full = json_dumps(good, 0), trunc[4096];
    json_decref(good);
    const size_t n = full ? strlen(full) : 0;
    snprintf(trunc, sizeof trunc, "%.*s", (int)(n / 2), full ? full : "");
    free(full);
    static const char dupkey[] = "{\"format\": \"cnnbench-plan\", \"format\": \"cnnbench-plan\", \"version\": 1}";
    const damage cases[] = {
        {"truncated JSON", NULL, trunc, CNB_E_PARSE, {"not valid JSON", "damaged.json:1:"}},
        {"empty file", NULL, "", CNB_E_PARSE, {"not valid JSON", NULL}},
        {"duplicate JSON key", NULL, dupkey, CNB_E_PARSE, {"not valid JSON", "format"}},
        {"not an object", NULL, "[1, 2]", CNB_E_PARSE, {"expected a JSON object, got an array", NULL}},
        {"wrong format", d_format, NULL, CNB_E_PARSE, {"format: \"cnnbench-results\" is not \"cnnbench-plan\"", NULL}},
        {"wrong version", d_version, NULL, CNB_E_PARSE, {"version: 2 is not supported", NULL}},
        {"version as string", d_version_type, NULL, CNB_E_PARSE, {"version: expected an integer, got a string", NULL}},
        {"missing entries", d_no_entries, NULL, CNB_E_PARSE, {"top level: missing field \"entries\"", NULL}},
        {"entries not an array", d_entries_type, NULL, CNB_E_PARSE, {"entries: expected an array, got an object", NULL}},
        {"missing fingerprint", d_no_fingerprint, NULL, CNB_E_PARSE, {"missing field \"fingerprint\"", NULL}},
        {"fingerprint.cores type", d_fp_cores_type, NULL, CNB_E_PARSE, {"fingerprint.cores: expected an integer", NULL}},
        {"unknown rigor", d_rigor, NULL, CNB_E_PARSE, {"rigor: \"fast\"", NULL}},
        {"unknown top-level field", d_top_unknown, NULL, CNB_E_PARSE, {"unknown field \"entires\"", NULL}},
        {"missing impl", d_missing_impl, NULL, CNB_E_PARSE, {"entries[1]: missing field \"impl\"", NULL}},
        {"threads as string", d_threads_type, NULL, CNB_E_PARSE, {"entries[0].threads: expected an integer, got a string", NULL}},
        {"threads zero", d_threads_zero, NULL, CNB_E_PARSE, {"entries[0].threads: must be 1 to 4096", NULL}},
        {"shape element type", d_shape_type, NULL, CNB_E_PARSE, {"entries[0].shape: dimension 1", "a string"}},
        {"empty shape", d_shape_empty, NULL, CNB_E_PARSE, {"entries[0].shape: expected 1 to 4 dimensions", NULL}},
        {"shape the layer refuses", d_shape_invalid, NULL, CNB_E_PARSE, {"entries[0].shape: ", "channels"}},
        {"unknown implementation", d_impl_unknown, NULL, CNB_E_NOT_FOUND,
         {"entries[0].impl: no implementation named 'conv2d.nosuch.avx2'", NULL}},
        {"implementation of another layer", d_impl_kind, NULL, CNB_E_PARSE,
         {"entries[0].impl: maxpool2d.naive.scalar implements MaxPool2d", "Conv2d"}},
        {"implementation auto never picks", d_impl_peer, NULL, CNB_E_PARSE, {"entries[0].impl: conv2d.broken.scalar is never chosen", NULL}},
        {"impl as number", d_impl_type, NULL, CNB_E_PARSE, {"entries[0].impl: expected a string, got an integer", NULL}},
        {"spec syntax", d_spec_syntax, NULL, CNB_E_PARSE, {"entries[0].spec: ", NULL}},
        {"spec of an unknown layer", d_spec_kind, NULL, CNB_E_PARSE, {"entries[0].spec: ", "Conv7d"}},
        {"train on a conv", d_train_conv, NULL, CNB_E_PARSE, {"entries[0].train: true, but Conv2d has no training mode", NULL}},
        {"train as string", d_train_type, NULL, CNB_E_PARSE, {"entries[0].train: expected true or false", NULL}},
        {"measured without time", d_time_null, NULL, CNB_E_PARSE, {"entries[0].time_ns: null, but the entry says measured", NULL}},
        {"negative time", d_time_negative, NULL, CNB_E_PARSE, {"entries[0].time_ns: negative", NULL}},
        {"unknown entry field", d_unknown_field, NULL, CNB_E_PARSE, {"entries[0]: unknown field \"implx\"", NULL}},
        {"entry not an object", d_entry_type, NULL, CNB_E_PARSE, {"entries[4]: expected an object, got a string", NULL}},
        {"repeated key", d_duplicate, NULL, CNB_E_PARSE, {"entries[4]: repeats the layer key of entries[0]", NULL}},
    };
    (void)d_not_object;
    char path[512];
    path_of(path, sizeof path, "damaged.json");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const damage *d = &cases[i];
        if (d->text) {
            save_text(path, d->text);
            memset(&e, 0, sizeof e);
            st = cnb_plan_file_load(path, 0, &e);
        } else {
            json_t *root = base_plan();
            d->edit(root);
            st = load_json(root, "damaged.json", 0, &e);
        }
        bool ok = st == d->status && has(e.msg, "plan file") && has(e.msg, "damaged.json");
        for (int k = 0; k < 2; k++) ok &= !d->expect[k] || has(e.msg, d->expect[k]);
        tu_check(ok, d->what, "status %d (%s), message: %s", st, cnb_status_name(st), e.msg);
        // The last good plan stays loaded.
        expect_pick("a failed load keeps the previous plan", C3, &S1, false, 1, "conv2d.loose_test.scalar", true);
    }
    memset(&e, 0, sizeof e);
    st = cnb_plan_file_load("/nonexistent/dir/plan.json", 0, &e);
    tu_check(st == CNB_E_IO && has(e.msg, "/nonexistent/dir/plan.json"), "missing file", "status %d: %s", st, e.msg);
    tu_check(cnb_plan_file_load(NULL, 0, &e) == CNB_E_INVALID_ARG, "NULL path", "accepted");
    tu_check(cnb_plan_file_load(path, 8, &e) == CNB_E_INVALID_ARG, "unknown flag", "accepted");
    cnb_plan_file_unload();
    expect_pick("unload: built-in rule again", C3, &S1, false, 1, g_b1, false);
    cnb_plan_file_unload();  // twice is fine
}

/* Plan creation on several threads while the main thread loads and unloads: each sees a whole plan or none. */
static int g_inconsistent;
static void *creator(void *arg) {
    (void)arg;
    for (int i = 0; i < 400; i++) {
        bool ff = false;
        cnb_status st;
        cnb_error e;
        const char *got = pick(C3, &S1, false, 1, &ff, &st, &e);
        const bool ok = got && (ff ? !strcmp(got, "conv2d.loose_test.scalar") : !strcmp(got, g_b1));
        if (!ok) __atomic_add_fetch(&g_inconsistent, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_concurrency(void) {
    char path[512];
    path_of(path, sizeof path, "conc.json");
    json_t *root = base_plan();
    json_dump_file(root, path, 0);
    json_decref(root);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, creator, NULL);
    cnb_error e;
    int load_fail = 0;
    for (int i = 0; i < 60; i++) {
        load_fail += cnb_plan_file_load(path, 0, &e) != CNB_OK;
        cnb_plan_file_unload();
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    tu_check(!load_fail && !g_inconsistent, "load/unload while creating plans", "%d failed loads, %d inconsistent picks",
             load_fail, g_inconsistent);
}

/* ---- the command ------------------------------------------------------------------------------------------ */

static int run_cmd(const char *bin, char *const args[]) { return tu_run(bin, args, g_out, sizeof g_out, g_err, sizeof g_err); }

static json_t *load_plan_json(const char *path, const char *what) {
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    tu_check(j != NULL, what, "%s does not parse: %s", path, je.text);
    return j;
}

/* Every entry's impl, joined by spaces, for contains-checks. */
static void impls_of(json_t *plan, char *buf, size_t size) {
    size_t k = 0, i;
    json_t *e;
    buf[0] = 0;
    json_array_foreach(json_object_get(plan, "entries"), i, e)
        if (k < size) k += (size_t)snprintf(buf + k, size - k, "%s ", str(json_object_get(e, "impl")));
}

static json_t *find_entry(json_t *plan, const char *name, int threads) {
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(plan, "entries"), i, e) {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && !strcmp(n, name) && json_integer_value(json_object_get(e, "threads")) == threads) return e;
    }
    return NULL;
}

static void test_tune_measure(const char *suite) {
    char plan[512];
    path_of(plan, sizeof plan, "measured.json");
    char *args[] = {"tune", "--suite", (char *)suite, "--rigor", "measure", "--threads", "1", "--min-time", "0.002",
                    "--out", plan, NULL};
    int rc = run_cmd(g_broken, args);
    tu_check(rc == 0, "tune --rigor measure", "exit %d: %s", rc, g_err);
    tu_check(has(g_out, "tune:c3") && has(g_out, "tune:bn") && has(g_out, "runner-up"), "tune table", "%s", g_out);
    tu_check(has(g_err, "[1/4]") && has(g_err, "AGREEMENT FAILED conv2d.wrong_test.scalar"), "tune progress",
             "no progress or agreement failure on stderr:\n%s", g_err);
    json_t *j = load_plan_json(plan, "measured plan");
    if (!j) return;
    const cnb_fingerprint *fp = cnb_fingerprint_here();
    json_t *f = json_object_get(j, "fingerprint");
    tu_check(!strcmp(str(json_object_get(j, "format")), "cnnbench-plan") &&
             json_integer_value(json_object_get(j, "version")) == 1 &&
             !strcmp(str(json_object_get(f, "cpu_model")), fp->cpu_model) &&
             !strcmp(str(json_object_get(f, "build")), fp->build) &&
             json_integer_value(json_object_get(f, "cores")) == fp->cores &&
             !strcmp(str(json_object_get(j, "rigor")), "measure") &&
             json_is_string(json_object_get(j, "created")),
             "plan header", "format/version/fingerprint/rigor/created wrong");
    json_t *es = json_object_get(j, "entries");
    tu_check(json_array_size(es) == 4, "one entry per layer", "%zu entries", json_array_size(es));
    size_t i;
    json_t *e;
    json_array_foreach(es, i, e) {
        tu_check(json_is_true(json_object_get(e, "measured")) && json_number_value(json_object_get(e, "time_ns")) > 0 &&
                 json_is_string(json_object_get(e, "spec")) && json_is_array(json_object_get(e, "shape")) &&
                 json_integer_value(json_object_get(e, "threads")) == 1, "measured entry", "entry %zu incomplete", i);
    }
    char impls[1024];
    impls_of(j, impls, sizeof impls);
    tu_check(!has(impls, "wrong_test") && !has(impls, ".ext") && !has(impls, "broken"), "failing and peer candidates left out",
             "%s", impls);
    json_t *c3 = find_entry(j, "tune:c3", 1), *bn = find_entry(j, "tune:bn", 1);
    tu_check(c3 && json_is_string(json_object_get(c3, "runner_up")) && json_number_value(json_object_get(c3, "runner_up_ns")) > 0,
             "runner-up recorded", "c3 has no runner-up");
    tu_check(bn && json_is_true(json_object_get(bn, "train")), "BN training flag recorded", "bn entry lacks train: true");
    json_decref(j);
    cnb_error err = {0};
    tu_check(cnb_plan_file_load(plan, 0, &err) == CNB_OK, "the library loads what tune wrote", "%s", err.msg);
    cnb_plan_file_unload();
}

/* --impl forces an unusual but valid choice, which auto then takes from the plan through run and bench. */
static void test_forced_round_trip(const char *suite) {
    char plan[512], x[512], w[512], y[512];
    path_of(plan, sizeof plan, "forced.json");
    char *args[] = {"tune", "--suite", (char *)suite, "--threads", "1", "--min-time", "0.002", "--impl",
                    "conv2d.loose_test*,maxpool2d.*,batchnorm2d.*", "--out", plan, NULL};
    int rc = run_cmd(g_broken, args);
    tu_check(rc == 0, "tune --impl", "exit %d: %s", rc, g_err);
    json_t *j = load_plan_json(plan, "forced plan");
    if (j) {
        json_t *c3 = find_entry(j, "tune:c3", 1), *c1 = find_entry(j, "tune:c1", 1);
        tu_check(c3 && c1 && !strcmp(str(json_object_get(c3, "impl")), "conv2d.loose_test.scalar") &&
                 !strcmp(str(json_object_get(c1, "impl")), "conv2d.loose_test.scalar"),
                 "tune --impl choice", "conv entries do not name conv2d.loose_test.scalar");
        json_decref(j);
    }
    /* The library: auto takes it where the built-in rule would not. */
    cnb_error e = {0};
    tu_check(cnb_plan_file_load(plan, 0, &e) == CNB_OK, "load the tuned plan", "%s", e.msg);
    expect_pick("auto honours the tuned plan", C3, &S1, false, 1, "conv2d.loose_test.scalar", true);
    cnb_plan_file_unload();

    /* cnnbench run --plan. */
    path_of(x, sizeof x, "x.npy");
    path_of(w, sizeof w, "w.npy");
    path_of(y, sizeof y, "y.npy");
    static float xs[1 * 4 * 12 * 12];
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) xs[i] = (float)(i % 7) - 3.f;
    const cnb_shape wsh = {4, {8, 4, 3, 3}};
    cnb_npy_write_f32(x, &S1, xs, &e);
    cnb_npy_write_f32(w, &wsh, g_zeros, &e);
    char *run_plan[] = {"run", C3, "--input", x, "--weight", w, "--output", y, "--threads", "1", "--plan", plan, NULL};
    rc = run_cmd(g_broken, run_plan);
    tu_check(rc == 0 && has(g_out, "conv2d.loose_test.scalar") && has(g_out, "(from plan file)"), "run --plan",
             "exit %d: %s%s", rc, g_out, g_err);
    char *run_noplan[] = {"run", C3, "--input", x, "--weight", w, "--output", y, "--threads", "1", NULL};
    rc = run_cmd(g_broken, run_noplan);
    tu_check(rc == 0 && has(g_out, g_b1) && !has(g_out, "plan file"), "run without --plan",
             "exit %d: %s%s", rc, g_out, g_err);

    /* The main build lacks the test doubles: the plan names an implementation that does not exist there. */
    rc = run_cmd(g_bin, run_plan);
    tu_check(rc == 1 && has(g_err, "entries[0].impl: no implementation named 'conv2d.loose_test.scalar'") &&
             tu_count_lines(g_err) == 1, "run --plan naming a missing implementation", "exit %d: %s", rc, g_err);

    /* Another machine: refused, named, and accepted with --any-machine. */
    char other[512];
    path_of(other, sizeof other, "forced_other.json");
    json_t *o = load_plan_json(plan, "forced plan");
    if (o) {
        json_object_set_new(json_object_get(o, "fingerprint"), "cpu_model", json_string("Imaginary CPU 9000"));
        json_dump_file(o, other, 0);
        json_decref(o);
    }
    char *run_other[] = {"run", C3, "--input", x, "--weight", w, "--output", y, "--threads", "1", "--plan", other, NULL};
    rc = run_cmd(g_broken, run_other);
    tu_check(rc == 1 && has(g_err, "cpu_model \"Imaginary CPU 9000\" in the file") && tu_count_lines(g_err) == 1,
             "run --plan from another machine", "exit %d: %s", rc, g_err);
    char *run_any[] = {"run", C3, "--input", x, "--weight", w, "--output", y, "--threads", "1", "--plan", other,
                       "--any-machine", NULL};
    rc = run_cmd(g_broken, run_any);
    tu_check(rc == 0 && has(g_out, "(from plan file)"), "run --plan --any-machine", "exit %d: %s%s", rc, g_out, g_err);

    /* bench --plan: auto's column is the plan's choice. */
    char peaks[512];
    path_of(peaks, sizeof peaks, "peaks.json");
    {   // a quick, scaled-down measurement cached for bench, instead of its full one (seconds)
        cnb_topo t;
        cnb_peaks pk;
        if (cnb_topo_load(&t, &e) == CNB_OK) {
            if (cnb_peaks_measure_scaled(&t, 0.02, &pk, &e) == CNB_OK) cnb_peaks_save_cache(&t, peaks, &pk, &e);
            cnb_topo_free(&t);
        }
    }
    char *bench[] = {"bench", C3, "--shape", "1,4,12,12", "--impl", "conv2d.naive*,conv2d.loose*", "--threads", "1",
                     "--plan", plan, "--peaks-cache", peaks, "--benchmark_min_time=0.001", "--benchmark_repetitions=1",
                     NULL};
    rc = run_cmd(g_broken, bench);
    tu_check(rc == 0 && has(g_out, "auto: conv2d.loose_test.scalar from the plan file instead of the built-in rule's "),
             "bench --plan", "exit %d: %s%s", rc, g_out, g_err);
    char *bench_other[] = {"bench", C3, "--shape", "1,4,12,12", "--plan", other, "--peaks-cache", peaks, NULL};
    rc = run_cmd(g_broken, bench_other);
    tu_check(rc == 1 && has(g_err, "Imaginary CPU 9000"), "bench --plan from another machine", "exit %d: %s", rc, g_err);
}

static void test_constraints(const char *suite) {
    char plan[512], impls[1024];
    path_of(plan, sizeof plan, "strict.json");
    char *strict[] = {"tune", "--suite", (char *)suite, "--threads", "1", "--min-time", "0.002", "--max-error", "1e-5",
                      "--out", plan, NULL};
    int rc = run_cmd(g_broken, strict);
    tu_check(rc == 0 && has(g_err, "conv2d.loose_test.scalar: its max_rel_err 0.0001 is above --max-error 1e-05") &&
             has(g_err, "conv2d.winograd_test.scalar: its max_rel_err 0.001 is above"), "tune --max-error",
             "exit %d: %s", rc, g_err);
    json_t *j = load_plan_json(plan, "strict plan");
    if (j) {
        impls_of(j, impls, sizeof impls);
        tu_check(!has(impls, "loose_test") && !has(impls, "winograd_test"), "--max-error excludes", "%s", impls);
        json_decref(j);
    }
    /* Only the Winograd double allowed: chosen, unless --no-winograd leaves no candidate. */
    path_of(plan, sizeof plan, "wino.json");
    char *wino[] = {"tune", C3, "--shape", "1,4,12,12", "--threads", "1", "--min-time", "0.002", "--impl",
                    "conv2d.winograd_test*", "--out", plan, NULL};
    rc = run_cmd(g_broken, wino);
    j = rc == 0 ? load_plan_json(plan, "winograd plan") : NULL;
    if (j) impls_of(j, impls, sizeof impls);
    tu_check(j && has(impls, "conv2d.winograd_test.scalar"), "tune allows winograd", "exit %d: %s", rc, g_err);
    json_decref(j);
    path_of(plan, sizeof plan, "nowino.json");
    char *nowino[] = {"tune", C3, "--shape", "1,4,12,12", "--threads", "1", "--impl", "conv2d.winograd_test*,conv2d.naive*",
                      "--no-winograd", "--min-time", "0.002", "--out", plan, NULL};
    rc = run_cmd(g_broken, nowino);
    j = rc == 0 ? load_plan_json(plan, "no-winograd plan") : NULL;
    if (j) impls_of(j, impls, sizeof impls);
    tu_check(j && !has(impls, "winograd") && has(impls, "conv2d.naive.scalar") &&
             has(g_err, "skip conv2d.winograd_test.scalar: --no-winograd"), "tune --no-winograd", "exit %d: %s", rc, g_err);
    json_decref(j);
    path_of(plan, sizeof plan, "none.json");
    char *none[] = {"tune", C3, "--shape", "1,4,12,12", "--threads", "1", "--impl", "conv2d.winograd_test*",
                    "--no-winograd", "--out", plan, NULL};
    rc = run_cmd(g_broken, none);
    tu_check(rc == 1 && has(g_err, "no layer has a candidate") && !tu_exists(plan), "no candidate at all",
             "exit %d: %s", rc, g_err);
}

static void test_rigors(const char *suite) {
    char plan[512];
    path_of(plan, sizeof plan, "estimate.json");
    char *est[] = {"tune", "--suite", (char *)suite, "--rigor", "estimate", "--threads", "1", "--out", plan, NULL};
    int rc = run_cmd(g_broken, est);
    json_t *j = rc == 0 ? load_plan_json(plan, "estimate plan") : NULL;
    bool ok = j && json_array_size(json_object_get(j, "entries")) == 4;
    size_t i;
    json_t *e;
    if (j) json_array_foreach(json_object_get(j, "entries"), i, e) {
        ok &= json_is_false(json_object_get(e, "measured")) && json_is_null(json_object_get(e, "time_ns")) &&
              !strstr(str(json_object_get(e, "impl")), "_test");  // the built-in rule: the references
    }
    tu_check(ok && !has(g_err, "AGREEMENT"), "tune --rigor estimate", "exit %d: %s", rc, g_err);
    json_decref(j);

    path_of(plan, sizeof plan, "limited.json");
    char *lim[] = {"tune", "--suite", (char *)suite, "--threads", "1", "--time-limit", "0.000001", "--out", plan, NULL};
    rc = run_cmd(g_broken, lim);
    j = rc == 0 ? load_plan_json(plan, "time-limited plan") : NULL;
    ok = j && json_array_size(json_object_get(j, "entries")) == 4 &&
         json_is_true(json_object_get(json_object_get(j, "options"), "time_limit_hit"));
    if (j) json_array_foreach(json_object_get(j, "entries"), i, e) ok &= json_is_false(json_object_get(e, "measured"));
    tu_check(ok && has(g_out, "time limit"), "tune --time-limit", "exit %d: %s%s", rc, g_out, g_err);
    json_decref(j);

    path_of(plan, sizeof plan, "exhaustive.json");
    char *exh[] = {"tune", C1, "--shape", "1,8,12,12", "--rigor", "exhaustive", "--min-time", "0.002", "--impl",
                   "conv2d.naive*,conv2d.loose*", "--out", plan, NULL};
    rc = run_cmd(g_broken, exh);
    j = rc == 0 ? load_plan_json(plan, "exhaustive plan") : NULL;
    int best = 0, n = 0;
    ok = j != NULL;
    if (j) json_array_foreach(json_object_get(j, "entries"), i, e) {
        n++;
        best += json_is_true(json_object_get(e, "best_pair"));
        ok &= json_integer_value(json_object_get(e, "threads")) == n && json_is_true(json_object_get(e, "measured"));
    }
    tu_check(ok && n == cnb_fingerprint_here()->cores && best == 1, "tune --rigor exhaustive",
             "exit %d, %d entries, %d best pairs: %s", rc, n, best, g_err);
    json_decref(j);
    cnb_error err = {0};
    tu_check(cnb_plan_file_load(plan, 0, &err) == CNB_OK, "the library loads an exhaustive plan", "%s", err.msg);
    cnb_plan_file_unload();
}

static void test_cli_errors(void) {
    char plan[512], bad[512];
    path_of(plan, sizeof plan, "err.json");
    struct { const char *what, *expect; char *args[14]; } cases[] = {
        {"no --out", "--out PLAN.json is required", {"tune", C3, "--shape", "1,4,12,12", NULL}},
        {"bad rigor", "--rigor must be", {"tune", C3, "--shape", "1,4,12,12", "--rigor", "fast", "--out", plan, NULL}},
        {"bad max-error", "--max-error needs", {"tune", C3, "--shape", "1,4,12,12", "--max-error", "abc", "--out", plan, NULL}},
        {"bad time-limit", "--time-limit needs", {"tune", C3, "--shape", "1,4,12,12", "--time-limit", "0", "--out", plan, NULL}},
        {"SPEC without shape", "needs --shape", {"tune", C3, "--out", plan, NULL}},
        {"nothing to tune", "give a SPEC", {"tune", "--out", plan, NULL}},
        {"unknown option", "unknown option", {"tune", C3, "--shape", "1,4,12,12", "--fast", "--out", plan, NULL}},
        {"too many threads", "physical cores", {"tune", C3, "--shape", "1,4,12,12", "--threads", "4097", "--out", plan, NULL}},
        {"invalid layer", "Conv2d", {"tune", C3, "--shape", "1,5,12,12", "--out", plan, NULL}},
        {"--any-machine alone", "--any-machine goes with --plan", {"run", C3, "--input", "x.npy", "--weight", "w.npy",
                                                                   "--output", "y.npy", "--any-machine", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = run_cmd(g_bin, cases[i].args);
        tu_check(rc == 1 && tu_count_lines(g_err) == 1 && has(g_err, cases[i].expect) && !tu_exists(plan), cases[i].what,
                 "exit %d: %s", rc, g_err);
    }
    /* A damaged plan through the command: one line naming the entry and field; an unusable entry too. */
    path_of(bad, sizeof bad, "cli_bad.json");
    json_t *root = base_plan();
    json_object_set_new(json_array_get(json_object_get(root, "entries"), 2), "threads", json_string("two"));
    json_dump_file(root, bad, 0);
    json_decref(root);
    char x[512], w5[512], y[512];
    path_of(x, sizeof x, "x.npy");
    path_of(w5, sizeof w5, "w5.npy");
    path_of(y, sizeof y, "y5.npy");
    const cnb_shape wsh = {4, {8, 4, 5, 5}};
    cnb_error e;
    cnb_npy_write_f32(w5, &wsh, g_zeros, &e);
    char *run_bad[] = {"run", C5, "--input", x, "--weight", w5, "--output", y, "--threads", "1", "--plan", bad, NULL};
    int rc = run_cmd(g_broken, run_bad);
    tu_check(rc == 1 && tu_count_lines(g_err) == 1 && has(g_err, "entries[2].threads: expected an integer, got a string"),
             "run --plan with a damaged file", "exit %d: %s", rc, g_err);
    path_of(bad, sizeof bad, "cli_unusable.json");
    json_dump_file((root = base_plan()), bad, 0);
    json_decref(root);
    char *run_unusable[] = {"run", C5, "--input", x, "--weight", w5, "--output", y, "--threads", "1", "--plan", bad, NULL};
    rc = run_cmd(g_broken, run_unusable);
    tu_check(rc == 1 && tu_count_lines(g_err) == 1 && has(g_err, "entries[3]") && has(g_err, "only 3x3") && !tu_exists(y),
             "run --plan with an entry unusable here", "exit %d: %s", rc, g_err);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        printf("usage: test_tune path/to/cnnbench path/to/cnnbench_broken\n");
        return 2;
    }
    g_bin = argv[1];
    g_broken = argv[2];
    g_dir = tu_tmpdir();
    if (!g_dir) return 1;
    char suite[512];
    path_of(suite, sizeof suite, "tune.suite");
    save_text(suite, "# tune test: two convs, a pool, BN in training\n"
                     "c3 | " C3 " | 1,4,12,12 | 2\n"
                     "c1 | " C1 " | 1,8,12,12 | 1\n"
                     "mp | MaxPool2d(2) | 1,8,12,12 | 1\n"
                     "bn | BatchNorm2d(8) | 2,8,6,6 | 1 | train\n"
                     "c3again | " C3 " | 1,4,12,12 | 1\n");
    test_auto_honours_plan();
    test_fingerprint();
    test_damaged();
    test_concurrency();
    test_tune_measure(suite);
    test_forced_round_trip(suite);
    test_constraints(suite);
    test_rigors(suite);
    test_cli_errors();
    tu_cleanup();
    return tu_summary("tune");
}
