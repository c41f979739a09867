/* Plan files (docs/plan-format.md): the machine and build fingerprint they are checked against, the
 * loader, which validates every field before anything is used, and the lookup `auto` makes. The loaded
 * table is the registry's one piece of process-wide mutable state: an immutable table swapped in and out
 * under a read-write lock, so plan creation on other threads always sees a whole table or none. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <unistd.h>

#if CNB_HAVE_HWLOC
#include <hwloc.h>
#endif

#include "core/alloc.h"
#include "core/planfile.h"
#include "core/spec.h"
#include "core/status.h"

/* Build facts, set by CMake on this file (CNB_BUILD_DEFS), as on harness/bench_meta.c. */
#ifndef CNB_VERSION
#define CNB_VERSION "unknown"
#endif
#include "cnb_commit.h"  // written at every build by cmake/git_commit.cmake
#ifndef CNB_GIT_COMMIT
#define CNB_GIT_COMMIT "unknown"
#endif
#ifndef CNB_BUILD_FLAGS
#define CNB_BUILD_FLAGS "unknown"
#endif
#if defined(__clang__)
#define CNB_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define CNB_COMPILER "gcc " __VERSION__
#else
#define CNB_COMPILER "unknown"
#endif

/* ---- fingerprint ------------------------------------------------------------------------------------ */

const cnb_build_facts *cnb_build_facts_here(void) {
    static const cnb_build_facts facts = {CNB_VERSION, CNB_GIT_COMMIT, CNB_COMPILER, CNB_BUILD_FLAGS};
    return &facts;
}

void cnb_build_id(char *buf, size_t size) {
    snprintf(buf, size, "%s|%s|%s|%s", CNB_VERSION, CNB_GIT_COMMIT, CNB_COMPILER, CNB_BUILD_FLAGS);
}

static void trim(char *s) {
    size_t n = strlen(s), k = 0;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
    while (s[k] == ' ' || s[k] == '\t') k++;
    memmove(s, s + k, n - k + 1);
}

static void model_from_proc(char *buf, size_t size) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon || strncmp(line, "model name", 10)) continue;
        snprintf(buf, size, "%s", colon + 1);
        trim(buf);
        break;
    }
    fclose(f);
}

static once_flag g_fp_once = ONCE_FLAG_INIT;
static cnb_fingerprint g_fp;   /* written once under call_once, read-only afterwards */

static void init_fingerprint(void) {
    cnb_fingerprint f;
    memset(&f, 0, sizeof f);
#if CNB_HAVE_HWLOC
    // The same sources as harness/topo.c, so the tuner's view and the library's agree.
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) == 0) {
        if (hwloc_topology_load(t) == 0) {
            const int cores = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
            f.cores = cores > 0 ? cores : hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
            const hwloc_obj_t pkg = hwloc_get_obj_by_type(t, HWLOC_OBJ_PACKAGE, 0);
            const char *model = pkg ? hwloc_obj_get_info_by_name(pkg, "CPUModel") : NULL;
            if (model && *model) {
                snprintf(f.cpu_model, sizeof f.cpu_model, "%s", model);
                trim(f.cpu_model);  // hwloc keeps CPUID's blank padding
            }
        }
        hwloc_topology_destroy(t);
    }
#endif
    if (!f.cpu_model[0]) model_from_proc(f.cpu_model, sizeof f.cpu_model);
    if (!f.cpu_model[0]) snprintf(f.cpu_model, sizeof f.cpu_model, "unknown");
    if (f.cores <= 0) {
        const long n = sysconf(_SC_NPROCESSORS_ONLN);
        f.cores = n > 0 ? (int)n : 1;
    }
    cnb_isa_names(cnb_cpu_features_detected(), f.features, sizeof f.features);
    cnb_build_id(f.build, sizeof f.build);
    g_fp = f;
}

const cnb_fingerprint *cnb_fingerprint_here(void) {
    call_once(&g_fp_once, init_fingerprint);
    return &g_fp;
}

/* ---- the loaded table --------------------------------------------------------------------------------- */

typedef struct pf_entry {
    char *spec;               /* canonical form (cnb_spec_format) of the entry's layer */
    bool train;               /* BatchNorm2d in training mode */
    cnb_shape shape;
    int threads;
    const cnb_impl *impl;     /* a static registry entry: outlives the table */
    size_t index;             /* position in the file's "entries" array, for messages */
} pf_entry;

typedef struct pf_table {
    char path[512];
    pf_entry *e;
    size_t n;
} pf_table;

static pthread_rwlock_t g_lock = PTHREAD_RWLOCK_INITIALIZER;
static pf_table *g_table;     /* guarded by g_lock; never modified once published */

static void table_free(pf_table *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) cnb_free(t->e[i].spec);
    cnb_free(t->e);
    cnb_free(t);
}

/* ---- loading -------------------------------------------------------------------------------------------- */

static const char *jtype(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* Every content error: "plan file PATH: WHERE: what". */
static cnb_status bad(cnb_error *err, cnb_status s, const char *path, const char *where, const char *fmt, ...)
    CNB_PRINTF(5, 6);
static cnb_status bad(cnb_error *err, cnb_status s, const char *path, const char *where, const char *fmt, ...) {
    char m[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return cnb_fail(err, s, "plan file %s: %s%s%s", path, where, where[0] ? ": " : "", m);
}

typedef enum ftype { F_STRING, F_INT, F_BOOL, F_ARRAY, F_OBJECT, F_NUMBER_OR_NULL, F_STRING_OR_NULL } ftype;

static const char *const k_want[] = {
    [F_STRING] = "a string", [F_INT] = "an integer", [F_BOOL] = "true or false", [F_ARRAY] = "an array",
    [F_OBJECT] = "an object", [F_NUMBER_OR_NULL] = "a number or null", [F_STRING_OR_NULL] = "a string or null",
};

static bool has_type(const json_t *v, ftype t) {
    switch (t) {
    case F_STRING: return json_is_string(v);
    case F_INT: return json_is_integer(v);
    case F_BOOL: return json_is_boolean(v);
    case F_ARRAY: return json_is_array(v);
    case F_OBJECT: return json_is_object(v);
    case F_NUMBER_OR_NULL: return json_is_number(v) || json_is_null(v);
    case F_STRING_OR_NULL: return json_is_string(v) || json_is_null(v);
    }
    return false;
}

/* obj[key] of type t into *out (NULL when optional and absent). where is the object's path ("" for the
 * root, "entries[3]", "fingerprint"). */
static cnb_status field(const json_t *obj, const char *key, ftype t, bool required, const char *path,
                        const char *where, json_t **out, cnb_error *err) {
    char at[96];
    snprintf(at, sizeof at, "%s%s%s", where, where[0] ? "." : "", key);
    *out = json_object_get(obj, key);
    if (!*out) {
        if (!required) return CNB_OK;
        return bad(err, CNB_E_PARSE, path, where[0] ? where : "top level", "missing field \"%s\"", key);
    }
    if (!has_type(*out, t)) return bad(err, CNB_E_PARSE, path, at, "expected %s, got %s", k_want[t], jtype(*out));
    return CNB_OK;
}

/* Refuse fields this version does not define: a misspelt one must not be silently ignored. */
static cnb_status known_fields(const json_t *obj, const char *const *keys, const char *path, const char *where,
                               cnb_error *err) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        bool ok = false;
        for (size_t i = 0; keys[i] && !ok; i++) ok = !strcmp(k, keys[i]);
        if (!ok) return bad(err, CNB_E_PARSE, path, where[0] ? where : "top level", "unknown field \"%s\"", k);
    }
    return CNB_OK;
}

/* Splits a build id "version|commit|compiler|flags" into its parts; returns how many (the last takes
 * the rest of the string). */
static int build_parts(const char *s, const char *part[4], int len[4]) {
    int n = 0;
    for (const char *bar; n < 3 && (bar = strchr(s, '|')); s = bar + 1, n++) part[n] = s, len[n] = (int)(bar - s);
    part[n] = s, len[n] = (int)strlen(s);
    return n + 1;
}

/* The component of two build ids where they first differ, and its two values. */
static void build_difference(const char *a, const char *b, char *what, size_t wsize, char *va, char *vb, size_t vsize) {
    static const char *const names[] = {"version", "git commit", "compiler", "build flags"};
    const char *pa[4], *pb[4];
    int la[4], lb[4];
    if (build_parts(a, pa, la) == 4 && build_parts(b, pb, lb) == 4) {
        for (int i = 0; i < 4; i++) {
            if (la[i] == lb[i] && !strncmp(pa[i], pb[i], (size_t)la[i])) continue;
            snprintf(what, wsize, "%s", names[i]);
            snprintf(va, vsize, "%.*s", la[i], pa[i]);
            snprintf(vb, vsize, "%.*s", lb[i], pb[i]);
            return;
        }
    }
    snprintf(what, wsize, "build");
    snprintf(va, vsize, "%s", a);
    snprintf(vb, vsize, "%s", b);
}

static cnb_status check_fingerprint(const json_t *fpo, const char *path, unsigned flags, cnb_error *err) {
    static const char *const keys[] = {"cpu_model", "features", "cores", "build", NULL};
    json_t *model, *features, *cores, *build;
    cnb_status st;
    if ((st = known_fields(fpo, keys, path, "fingerprint", err)) ||
        (st = field(fpo, "cpu_model", F_STRING, true, path, "fingerprint", &model, err)) ||
        (st = field(fpo, "features", F_STRING, true, path, "fingerprint", &features, err)) ||
        (st = field(fpo, "cores", F_INT, true, path, "fingerprint", &cores, err)) ||
        (st = field(fpo, "build", F_STRING, true, path, "fingerprint", &build, err)))
        return st;
    if (flags & CNB_PLAN_FILE_ANY_MACHINE) return CNB_OK;
    const cnb_fingerprint *here = cnb_fingerprint_here();
    const char *what = NULL, *a = NULL, *b = NULL;
    char ca[32], cb[32], bw[32], ba[512], bb[512];
    if (strcmp(json_string_value(model), here->cpu_model)) {
        what = "cpu_model", a = json_string_value(model), b = here->cpu_model;
    } else if (strcmp(json_string_value(features), here->features)) {
        what = "CPU features", a = json_string_value(features), b = here->features;
    } else if (json_integer_value(cores) != here->cores) {
        snprintf(ca, sizeof ca, "%lld", (long long)json_integer_value(cores));
        snprintf(cb, sizeof cb, "%d", here->cores);
        what = "cores", a = ca, b = cb;
    } else if (strcmp(json_string_value(build), here->build)) {
        build_difference(json_string_value(build), here->build, bw, sizeof bw, ba, bb, sizeof ba);
        return cnb_fail(err, CNB_E_MISMATCH,
                        "plan file %s was tuned with another build: %s \"%s\" in the file, \"%s\" here "
                        "(--any-machine / CNB_PLAN_FILE_ANY_MACHINE accepts it)", path, bw, ba, bb);
    }
    if (!what) return CNB_OK;
    return cnb_fail(err, CNB_E_MISMATCH,
                    "plan file %s was tuned on another machine: %s \"%s\" in the file, \"%s\" here "
                    "(--any-machine / CNB_PLAN_FILE_ANY_MACHINE accepts it)", path, what, a, b);
}

static cnb_status parse_entry(const json_t *eo, size_t i, const char *path, pf_entry *out, cnb_error *err) {
    static const char *const keys[] = {"spec", "shape", "train", "threads", "impl", "time_ns", "runner_up",
                                       "runner_up_ns", "measured", "name", "best_pair", NULL};
    char where[32], at[48];
    snprintf(where, sizeof where, "entries[%zu]", i);
    if (!json_is_object(eo)) return bad(err, CNB_E_PARSE, path, where, "expected an object, got %s", jtype(eo));
    json_t *spec, *shape, *train, *threads, *impl, *time_ns, *runner, *runner_ns, *measured, *name, *best;
    cnb_status st;
    if ((st = known_fields(eo, keys, path, where, err)) ||
        (st = field(eo, "spec", F_STRING, true, path, where, &spec, err)) ||
        (st = field(eo, "shape", F_ARRAY, true, path, where, &shape, err)) ||
        (st = field(eo, "train", F_BOOL, true, path, where, &train, err)) ||
        (st = field(eo, "threads", F_INT, true, path, where, &threads, err)) ||
        (st = field(eo, "impl", F_STRING, true, path, where, &impl, err)) ||
        (st = field(eo, "time_ns", F_NUMBER_OR_NULL, true, path, where, &time_ns, err)) ||
        (st = field(eo, "runner_up", F_STRING_OR_NULL, true, path, where, &runner, err)) ||
        (st = field(eo, "runner_up_ns", F_NUMBER_OR_NULL, true, path, where, &runner_ns, err)) ||
        (st = field(eo, "measured", F_BOOL, true, path, where, &measured, err)) ||
        (st = field(eo, "name", F_STRING, false, path, where, &name, err)) ||
        (st = field(eo, "best_pair", F_BOOL, false, path, where, &best, err)))
        return st;

    cnb_layer layer;
    cnb_error e = {0};
    snprintf(at, sizeof at, "%s.spec", where);
    if (cnb_spec_parse(json_string_value(spec), &layer, &e)) return bad(err, CNB_E_PARSE, path, at, "%s", e.msg);
    out->train = json_is_true(train);
    snprintf(at, sizeof at, "%s.train", where);
    if (out->train && layer.kind != CNB_BATCHNORM2D)
        return bad(err, CNB_E_PARSE, path, at, "true, but %s has no training mode (only BatchNorm2d has)",
                   cnb_kind_name(layer.kind));
    if (layer.kind == CNB_BATCHNORM2D) layer.u.batchnorm2d.training = out->train;

    snprintf(at, sizeof at, "%s.shape", where);
    const size_t nd = json_array_size(shape);
    if (nd < 1 || nd > CNB_MAX_DIMS)
        return bad(err, CNB_E_PARSE, path, at, "expected 1 to %d dimensions, got %zu", CNB_MAX_DIMS, nd);
    memset(&out->shape, 0, sizeof out->shape);
    out->shape.ndim = (int)nd;
    for (size_t d = 0; d < nd; d++) {
        const json_t *v = json_array_get(shape, d);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return bad(err, CNB_E_PARSE, path, at, "dimension %zu must be a non-negative integer, got %s", d,
                       json_is_integer(v) ? "a negative one" : jtype(v));
        out->shape.dims[d] = json_integer_value(v);
    }
    cnb_shape os;
    if (cnb_output_shape(&layer, &out->shape, &os, &e)) return bad(err, CNB_E_PARSE, path, at, "%s", e.msg);

    snprintf(at, sizeof at, "%s.threads", where);
    const json_int_t t = json_integer_value(threads);
    if (t < 1 || t > 4096) return bad(err, CNB_E_PARSE, path, at, "must be 1 to 4096, got %lld", (long long)t);
    out->threads = (int)t;

    snprintf(at, sizeof at, "%s.impl", where);
    const char *iname = json_string_value(impl);
    const long ii = cnb_impl_find(iname);
    if (ii < 0)
        return bad(err, CNB_E_NOT_FOUND, path, at, "no implementation named '%s' in this build (see `cnnbench list`)",
                   iname);
    out->impl = cnb_impl_at((size_t)ii);
    if (out->impl->kind != layer.kind)
        return bad(err, CNB_E_PARSE, path, at, "%s implements %s, but the entry's layer is a %s", iname,
                   cnb_kind_name(out->impl->kind), cnb_kind_name(layer.kind));
    if (out->impl->prio < 0)
        return bad(err, CNB_E_PARSE, path, at, "%s is never chosen by auto (prio %d: a peer library's or a test "
                   "implementation)", iname, out->impl->prio);

    snprintf(at, sizeof at, "%s.time_ns", where);
    if (json_is_number(time_ns) && json_number_value(time_ns) < 0)
        return bad(err, CNB_E_PARSE, path, at, "negative time %g", json_number_value(time_ns));
    if (json_is_true(measured) && !json_is_number(time_ns))
        return bad(err, CNB_E_PARSE, path, at, "null, but the entry says measured: true");
    snprintf(at, sizeof at, "%s.runner_up_ns", where);
    if (json_is_number(runner_ns) && json_number_value(runner_ns) < 0)
        return bad(err, CNB_E_PARSE, path, at, "negative time %g", json_number_value(runner_ns));

    const int n = cnb_spec_format(&layer, NULL, 0);
    if (n < 0 || !(out->spec = cnb_malloc((size_t)n + 1)))
        return cnb_fail(err, CNB_E_NOMEM, "plan file %s: out of memory", path);
    cnb_spec_format(&layer, out->spec, (size_t)n + 1);
    out->index = i;
    return CNB_OK;
}

static bool same_key(const pf_entry *a, const pf_entry *b) {
    if (a->threads != b->threads || a->train != b->train || a->shape.ndim != b->shape.ndim) return false;
    for (int d = 0; d < a->shape.ndim; d++)
        if (a->shape.dims[d] != b->shape.dims[d]) return false;
    return !strcmp(a->spec, b->spec);
}

static cnb_status parse_root(const json_t *root, const char *path, unsigned flags, pf_table *t, cnb_error *err) {
    static const char *const keys[] = {"format", "version", "fingerprint", "rigor", "created", "options", "entries",
                                       NULL};
    if (!json_is_object(root)) return bad(err, CNB_E_PARSE, path, "", "expected a JSON object, got %s", jtype(root));
    json_t *format, *version, *fpo, *rigor, *created, *options, *entries;
    cnb_status st;
    // Format and version first: for another file or version, the other fields say nothing.
    if ((st = field(root, "format", F_STRING, true, path, "", &format, err))) return st;
    if (strcmp(json_string_value(format), CNB_PLANFILE_FORMAT))
        return bad(err, CNB_E_PARSE, path, "format", "\"%s\" is not \"%s\"", json_string_value(format),
                   CNB_PLANFILE_FORMAT);
    if ((st = field(root, "version", F_INT, true, path, "", &version, err))) return st;
    if (json_integer_value(version) != CNB_PLANFILE_VERSION)
        return bad(err, CNB_E_PARSE, path, "version", "%lld is not supported (this library reads version %d)",
                   (long long)json_integer_value(version), CNB_PLANFILE_VERSION);
    if ((st = known_fields(root, keys, path, "", err)) ||
        (st = field(root, "fingerprint", F_OBJECT, true, path, "", &fpo, err)) ||
        (st = field(root, "rigor", F_STRING, true, path, "", &rigor, err)) ||
        (st = field(root, "created", F_STRING, true, path, "", &created, err)) ||
        (st = field(root, "options", F_OBJECT, false, path, "", &options, err)) ||
        (st = field(root, "entries", F_ARRAY, true, path, "", &entries, err)))
        return st;
    const char *r = json_string_value(rigor);
    if (strcmp(r, "estimate") && strcmp(r, "measure") && strcmp(r, "exhaustive"))
        return bad(err, CNB_E_PARSE, path, "rigor", "\"%s\" is not estimate, measure or exhaustive", r);
    // The fingerprint before the entries: a plan from another build may well name implementations this
    // build lacks, and the mismatch is the message that explains it.
    if ((st = check_fingerprint(fpo, path, flags, err))) return st;
    const size_t n = json_array_size(entries);
    t->e = cnb_calloc(n ? n : 1, sizeof *t->e);
    if (!t->e) return cnb_fail(err, CNB_E_NOMEM, "plan file %s: out of memory for %zu entries", path, n);
    for (size_t i = 0; i < n; i++) {
        if ((st = parse_entry(json_array_get(entries, i), i, path, &t->e[i], err))) return st;
        t->n = i + 1;
        for (size_t j = 0; j < i; j++)
            if (same_key(&t->e[j], &t->e[i])) {
                char where[32];
                snprintf(where, sizeof where, "entries[%zu]", i);
                return bad(err, CNB_E_PARSE, path, where, "repeats the layer key of entries[%zu] (spec, shape, "
                           "train and threads)", j);
            }
    }
    return CNB_OK;
}

/* Messages about the content quote its strings, which JSON escapes can fill with newlines: keep the message
 * one line. */
static cnb_status one_line(cnb_status st, cnb_error *err) {
    if (err)
        for (char *q = err->msg; *q; q++)
            if ((unsigned char)*q < 0x20 || *q == 0x7f) *q = '?';
    return st;
}

cnb_status cnb_plan_file_load(const char *path, unsigned flags, cnb_error *err) {
    if (!path || !*path) return cnb_fail(err, CNB_E_INVALID_ARG, "cnb_plan_file_load: no path given");
    if (flags & ~CNB_PLAN_FILE_ANY_MACHINE)
        return cnb_fail(err, CNB_E_INVALID_ARG, "cnb_plan_file_load: unknown flags 0x%x", flags & ~CNB_PLAN_FILE_ANY_MACHINE);
    FILE *f = fopen(path, "rb");
    if (!f) return cnb_fail(err, CNB_E_IO, "cannot open plan file %s: %s", path, strerror(errno));
    json_error_t je;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    if (!root)
        return one_line(cnb_fail(err, CNB_E_PARSE, "plan file %s:%d:%d: not valid JSON: %s", path, je.line, je.column,
                                 je.text), err);
    pf_table *t = cnb_calloc(1, sizeof *t);
    if (!t) {
        json_decref(root);
        return cnb_fail(err, CNB_E_NOMEM, "out of memory loading plan file %s", path);
    }
    snprintf(t->path, sizeof t->path, "%s", path);
    cnb_status st = parse_root(root, path, flags, t, err);
    json_decref(root);
    if (st) {
        table_free(t);  // the previous plan file, if any, stays loaded
        return one_line(st, err);
    }
    pthread_rwlock_wrlock(&g_lock);
    pf_table *old = g_table;
    g_table = t;
    pthread_rwlock_unlock(&g_lock);
    table_free(old);
    return CNB_OK;
}

void cnb_plan_file_unload(void) {
    pthread_rwlock_wrlock(&g_lock);
    pf_table *old = g_table;
    g_table = NULL;
    pthread_rwlock_unlock(&g_lock);
    table_free(old);
}

/* ---- lookup ---------------------------------------------------------------------------------------------- */

cnb_status cnb_planfile_choose(const cnb_geom *g, int threads, const cnb_impl **impl, cnb_error *err) {
    *impl = NULL;
    pthread_rwlock_rdlock(&g_lock);
    const pf_table *t = g_table;
    if (!t) {
        pthread_rwlock_unlock(&g_lock);
        return CNB_OK;
    }
    char small[1024], *spec = small;
    const int n = cnb_spec_format(&g->layer, small, sizeof small);
    if (n >= (int)sizeof small && (spec = cnb_malloc((size_t)n + 1))) cnb_spec_format(&g->layer, spec, (size_t)n + 1);
    if (n < 0 || !spec) {
        pthread_rwlock_unlock(&g_lock);
        return cnb_fail(err, CNB_E_NOMEM, "out of memory looking up the plan file");
    }
    pf_entry key = {.spec = spec, .train = g->kind == CNB_BATCHNORM2D && g->training, .shape = g->in_shape,
                    .threads = threads};
    const cnb_impl *im = NULL;
    size_t index = 0;
    char path[sizeof t->path];
    for (size_t i = 0; i < t->n && !im; i++)
        if (same_key(&t->e[i], &key)) im = t->e[i].impl, index = t->e[i].index;
    memcpy(path, t->path, sizeof path);
    pthread_rwlock_unlock(&g_lock);
    if (spec != small) cnb_free(spec);
    if (!im) return CNB_OK;
    cnb_error why = {0};
    const cnb_status st = cnb_impl_usable(im, g, &why);
    if (st) return cnb_fail(err, st, "plan file %s, entries[%zu]: %s", path, index, why.msg);
    *impl = im;
    return CNB_OK;
}
