/* `cnnbench tune`: for each distinct (layer, input shape, thread count) of suites or a SPEC, time the
 * candidate implementations (those `auto` may choose that run the layer here, meet --max-error and
 * --no-winograd, and pass the agreement check of harness/agree.h) with pinned threads, and save the fastest
 * in a plan file (docs/plan-format.md) for cnb_plan_file_load. Timing: one warm-up run each, then runs
 * interleaved round-robin between the candidates, so that a load change hits them all alike, until each
 * has had --min-time seconds and 3 runs; the median counts. Progress on stderr, a table on stdout. */
#include <errno.h>
#include <fnmatch.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cnnbench.h"
#include "core/planfile.h"
#include "core/spec.h"
#include "harness/agree.h"
#include "harness/cliopt.h"
#include "harness/cmd.h"
#include "harness/suite.h"
#include "harness/topo.h"

#define MAX_RUNS 10000   /* per candidate and thread count: enough for a median, bounded memory */
#define MIN_RUNS 3

typedef enum rigor { RIGOR_ESTIMATE, RIGOR_MEASURE, RIGOR_EXHAUSTIVE } rigor;
static const char *const k_rigor[] = {"estimate", "measure", "exhaustive"};

typedef struct tune_opts {
    rigor rigor;
    const char *impl_glob;
    double max_error;          /* < 0: no constraint */
    bool no_winograd;
    double min_time;           /* seconds of timed runs per candidate and thread count */
    double deadline;           /* now_s() value after which measuring stops; 0: none */
    double time_limit;
    int tl[CNB_MAX_THREAD_COUNTS], nt;
} tune_opts;

typedef struct tune_layer {
    char name[140];            /* suite:layer */
    char spec[600];            /* canonical form (cnb_spec_format) */
    cnb_layer layer;
    cnb_shape shape;
    bool train;
} tune_layer;

/* One candidate of one layer while it is measured. */
typedef struct cand {
    size_t impl;
    cnb_plan *plan;
    void *ws;
    double *samples;           /* seconds */
    int n, cap;
    double spent;
    bool active, ok;
    double median_ns;
} cand;

/* One line of the plan: the choice for a (layer, threads). impl NULL: no candidate (not written). */
typedef struct tune_entry {
    const tune_layer *L;
    int threads;
    const char *impl, *runner;
    double time_ns, runner_ns; /* < 0: none */
    int runs;
    bool measured, best_pair, cut;
    char note[200];
} tune_entry;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("cnnbench: tune: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static bool past_deadline(const tune_opts *o) { return o->deadline > 0 && now_s() >= o->deadline; }

static bool is_winograd(const char *impl) {
    const char *alg = strchr(impl, '.');
    return alg && !strncmp(alg + 1, "winograd", 8);
}

static bool parse_real(const char *s, double lo, double *out) {
    char *end;
    errno = 0;
    const double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v) || v < lo) return false;
    *out = v;
    return true;
}

static void fmt_time(double ns, char *buf, size_t size) {
    if (ns < 0) snprintf(buf, size, "-");
    else if (ns < 1e3) snprintf(buf, size, "%.0f ns", ns);
    else if (ns < 1e6) snprintf(buf, size, "%.1f us", ns / 1e3);
    else if (ns < 1e9) snprintf(buf, size, "%.2f ms", ns / 1e6);
    else snprintf(buf, size, "%.2f s", ns / 1e9);
}

static void shape_str(const cnb_shape *s, char *buf, size_t size) {
    size_t k = 0;
    buf[0] = 0;
    for (int d = 0; d < s->ndim && k < size; d++)
        k += (size_t)snprintf(buf + k, size - k, "%s%lld", d ? "x" : "", (long long)s->dims[d]);
}

/* ---- candidates ---------------------------------------------------------------------------------------- */

/* The implementations that may be chosen for L, in registry order; reasons for leaving out one that
 * could otherwise run it go to stderr when verbose. */
static size_t candidates(const tune_opts *o, const tune_layer *L, size_t *out, bool verbose) {
    size_t n = 0;
    for (size_t i = 0; i < cnb_impl_count(); i++) {
        const char *name = cnb_impl_name(i);
        // prio < 0: peers (<layer>.*.ext) and test doubles; auto never runs them, so they are not ours to deploy.
        if (cnb_impl_kind(i) != L->layer.kind || cnb_impl_prio(i) < 0 || !cnb_impl_matches(name, o->impl_glob)) continue;
        cnb_error why = {0};
        if (cnb_impl_check(i, &L->layer, &L->shape, &why) != CNB_OK) {
            if (verbose) fprintf(stderr, "  skip %s\n", why.msg);  // the message starts with the name
            continue;
        }
        if (o->max_error >= 0 && cnb_impl_max_rel_err(i) > o->max_error) {
            if (verbose)
                fprintf(stderr, "  skip %s: its max_rel_err %g is above --max-error %g\n", name,
                        (double)cnb_impl_max_rel_err(i), o->max_error);
            continue;
        }
        if (o->no_winograd && is_winograd(name)) {
            if (verbose) fprintf(stderr, "  skip %s: --no-winograd\n", name);
            continue;
        }
        out[n++] = i;
    }
    return n;
}

/* The built-in rule over the candidates: the highest prio, ties to the earlier registry line. */
static const char *estimate(const size_t *c, size_t n) {
    size_t best = 0;
    for (size_t k = 1; k < n; k++)
        if (cnb_impl_prio(c[k]) > cnb_impl_prio(c[best])) best = k;
    return n ? cnb_impl_name(c[best]) : NULL;
}

/* ---- timing -------------------------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static bool push_sample(cand *c, double s) {
    if (c->n == c->cap) {
        const int cap = c->cap ? 2 * c->cap : 64;
        double *g = realloc(c->samples, (size_t)cap * sizeof *g);
        if (!g) return false;
        c->samples = g, c->cap = cap;
    }
    c->samples[c->n++] = s;
    c->spent += s;
    return true;
}

/* Time the ok candidates at threads, interleaved. Sets *cut when the time limit ended it early (every
 * candidate then still has at least one timed run). */
static void measure(cand *c, size_t nc, cnb_run_args base, int threads, const tune_opts *o, bool *cut) {
    base.threads = threads;
    cnb_error err = {0};
    for (size_t k = 0; k < nc; k++) {
        c[k].n = 0, c[k].spent = 0, c[k].median_ns = -1;
        c[k].active = c[k].ok;
        if (!c[k].ok) continue;
        base.workspace = c[k].ws;
        if (cnb_plan_run(c[k].plan, &base, &err)) {  // the warm-up
            fprintf(stderr, "  warning: %s threads=%d failed: %s; not a candidate\n", cnb_impl_name(c[k].impl), threads,
                    err.msg);
            c[k].active = false;
        }
    }
    for (bool any = true; any;) {
        any = false;
        for (size_t k = 0; k < nc; k++) {
            cand *ck = &c[k];
            if (!ck->active) continue;
            base.workspace = ck->ws;
            const double t0 = now_s();
            const cnb_status st = cnb_plan_run(ck->plan, &base, &err);
            const double dt = now_s() - t0;
            if (st || !push_sample(ck, dt)) {
                fprintf(stderr, "  warning: %s threads=%d failed: %s; not a candidate\n", cnb_impl_name(ck->impl),
                        threads, st ? err.msg : "out of memory");
                ck->active = false, ck->n = 0;
                continue;
            }
            // Slow runs need fewer samples: one run longer than 3 x min_time is a measurement by itself.
            if (ck->n >= MAX_RUNS || (ck->spent >= o->min_time && (ck->n >= MIN_RUNS || ck->spent >= 3 * o->min_time)))
                ck->active = false;
            any |= ck->active;
        }
        if (any && past_deadline(o)) {
            *cut = true;
            break;
        }
    }
    for (size_t k = 0; k < nc; k++) {
        c[k].active = false;
        if (!c[k].n) continue;
        qsort(c[k].samples, (size_t)c[k].n, sizeof *c[k].samples, cmp_double);
        const int m = c[k].n;
        c[k].median_ns = 1e9 * (m % 2 ? c[k].samples[m / 2] : 0.5 * (c[k].samples[m / 2 - 1] + c[k].samples[m / 2]));
    }
}

/* ---- one layer ------------------------------------------------------------------------------------------- */

typedef struct tune_ctx {
    tune_opts o;
    cnb_topo topo;
    bool pin_warned, limit_hit;
    int agreement_failures;
    tune_entry *entries;
    size_t n_entries, cap;
} tune_ctx;

static tune_entry *new_entry(tune_ctx *x, const tune_layer *L, int threads) {
    if (x->n_entries == x->cap) {
        const size_t cap = x->cap ? 2 * x->cap : 64;
        tune_entry *g = realloc(x->entries, cap * sizeof *g);
        if (!g) return NULL;
        x->entries = g, x->cap = cap;
    }
    tune_entry *e = &x->entries[x->n_entries++];
    memset(e, 0, sizeof *e);
    e->L = L, e->threads = threads, e->time_ns = e->runner_ns = -1;
    return e;
}

/* Entries of the built-in rule for L at thread counts tl[from..]: no timing. */
static int estimate_entries(tune_ctx *x, const tune_layer *L, const size_t *c, size_t nc, int from, const char *note) {
    for (int k = from; k < x->o.nt; k++) {
        tune_entry *e = new_entry(x, L, x->o.tl[k]);
        if (!e) return fail("out of memory");
        e->impl = estimate(c, nc);
        snprintf(e->note, sizeof e->note, "%s", e->impl ? note : "no candidate");
    }
    return 0;
}

static int tune_layer_measured(tune_ctx *x, const tune_layer *L, const size_t *ci, size_t nc) {
    const tune_opts *o = &x->o;
    int tmax = 1;
    for (int k = 0; k < o->nt; k++) tmax = o->tl[k] > tmax ? o->tl[k] : tmax;
    cnb_bench_data d;
    cnb_error err = {0};
    if (cnb_bench_data_make(&L->layer, &L->shape, 1, tmax, &d, &err)) return fail("%s: %s", L->name, err.msg);
    int rc = 0;
    cand *c = calloc(nc, sizeof *c);
    float *y = malloc((size_t)(d.ny ? d.ny : 1) * sizeof *y), *nrm = NULL, *nrv = NULL;
    int64_t *idx = d.ref_idx ? malloc((size_t)(d.ny ? d.ny : 1) * sizeof *idx) : NULL;
    if (d.rm) {
        nrm = malloc((size_t)d.nc * sizeof *nrm);
        nrv = malloc((size_t)d.nc * sizeof *nrv);
    }
    if (!c || !y || (d.ref_idx && !idx) || (d.rm && (!nrm || !nrv))) {
        rc = fail("out of memory");
        goto done;
    }
    cnb_params prm = {.weight = d.w, .bias = d.b, .running_mean = d.rm, .running_var = d.rv,
                      .num_batches_tracked = d.nbt};
    for (size_t k = 0; k < nc; k++) {
        c[k].impl = ci[k];
        if (cnb_plan_create(&L->layer, &L->shape, cnb_impl_name(ci[k]), &prm, &c[k].plan, &err)) {
            fprintf(stderr, "  warning: %s: plan failed: %s; not a candidate\n", cnb_impl_name(ci[k]), err.msg);
            continue;
        }
        const size_t ws = cnb_plan_workspace_size(c[k].plan);
        if (ws && !(c[k].ws = malloc(ws))) {
            rc = fail("out of memory for a %zu-byte workspace", ws);
            goto done;
        }
    }
    const cnb_run_args base = {.x = d.x, .y = y, .indices = idx, .new_running_mean = nrm, .new_running_var = nrv};
    for (int k = 0; k < o->nt; k++) {
        const int t = o->tl[k];
        if (past_deadline(o)) {
            x->limit_hit = true;
            rc = estimate_entries(x, L, ci, nc, k, "estimate: time limit reached");
            goto done;
        }
        /* Agreement at this thread count; the reference is the yardstick itself. */
        for (size_t j = 0; j < nc; j++) {
            c[j].ok = c[j].plan != NULL;
            if (!c[j].ok || !strcmp(cnb_impl_name(c[j].impl), d.ref_impl)) continue;
            cnb_agreement a;
            if (cnb_bench_check(&d, cnb_impl_name(c[j].impl), t, &a, &err)) {
                fprintf(stderr, "  warning: %s threads=%d failed: %s; not a candidate\n", cnb_impl_name(c[j].impl), t,
                        err.msg);
                c[j].ok = false;
            } else if (!a.pass) {
                fprintf(stderr, "  AGREEMENT FAILED %s threads=%d: %s (%s); not a candidate\n",
                        cnb_impl_name(c[j].impl), t, a.detail, a.rule);
                x->agreement_failures++;
                c[j].ok = false;
            }
        }
        if (cnb_topo_pin_threads(&x->topo, t, NULL, &err) && !x->pin_warned) {
            fprintf(stderr, "  warning: cannot pin %d threads (%s); timing unpinned\n", t, err.msg);
            x->pin_warned = true;
        }
        bool cut = false;
        measure(c, nc, base, t, o, &cut);
        tune_entry *e = new_entry(x, L, t);
        if (!e) {
            rc = fail("out of memory");
            goto done;
        }
        const cand *best = NULL, *second = NULL;
        for (size_t j = 0; j < nc; j++) {
            if (c[j].median_ns < 0) continue;
            if (!best || c[j].median_ns < best->median_ns) second = best, best = &c[j];
            else if (!second || c[j].median_ns < second->median_ns) second = &c[j];
        }
        fprintf(stderr, "  threads=%d:", t);
        for (size_t j = 0, shown = 0; j < nc; j++) {
            char tm[32];
            fmt_time(c[j].median_ns, tm, sizeof tm);
            if (c[j].median_ns >= 0)
                fprintf(stderr, "%s %s %s (%d runs)", shown++ ? "," : "", cnb_impl_name(c[j].impl), tm, c[j].n);
        }
        fputc('\n', stderr);
        e->cut = cut;
        if (!best) {
            snprintf(e->note, sizeof e->note, "no candidate passed the agreement check and ran");
            continue;
        }
        e->measured = true;
        e->impl = cnb_impl_name(best->impl), e->time_ns = best->median_ns, e->runs = best->n;
        if (second) e->runner = cnb_impl_name(second->impl), e->runner_ns = second->median_ns;
        if (cut) snprintf(e->note, sizeof e->note, "time limit: cut short");
    }
done:
    cnb_topo_unpin_threads(&x->topo, tmax, NULL);
    for (size_t k = 0; c && k < nc; k++) {
        cnb_plan_destroy(c[k].plan);
        free(c[k].ws), free(c[k].samples);
    }
    free(c), free(y), free(idx), free(nrm), free(nrv);
    cnb_bench_data_free(&d);
    return rc;
}

/* ---- output ---------------------------------------------------------------------------------------------- */

static json_t *entry_json(const tune_entry *e) {
    json_t *j = json_object(), *shape = json_array();
    if (!j || !shape) {
        json_decref(j), json_decref(shape);
        return NULL;
    }
    for (int d = 0; d < e->L->shape.ndim; d++) json_array_append_new(shape, json_integer(e->L->shape.dims[d]));
    json_object_set_new(j, "name", json_string(e->L->name));
    json_object_set_new(j, "spec", json_string(e->L->spec));
    json_object_set_new(j, "shape", shape);
    json_object_set_new(j, "train", json_boolean(e->L->train));
    json_object_set_new(j, "threads", json_integer(e->threads));
    json_object_set_new(j, "impl", json_string(e->impl));
    json_object_set_new(j, "time_ns", e->time_ns >= 0 ? json_integer((json_int_t)llround(e->time_ns)) : json_null());
    json_object_set_new(j, "runner_up", e->runner ? json_string(e->runner) : json_null());
    json_object_set_new(j, "runner_up_ns", e->runner_ns >= 0 ? json_integer((json_int_t)llround(e->runner_ns)) : json_null());
    json_object_set_new(j, "measured", json_boolean(e->measured));
    if (e->best_pair) json_object_set_new(j, "best_pair", json_true());
    return j;
}

static int write_plan(const tune_ctx *x, const char *out) {
    const tune_opts *o = &x->o;
    const cnb_fingerprint *fp = cnb_fingerprint_here();
    char created[32];
    const time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *threads = json_array(), *entries = json_array();
    for (int k = 0; k < o->nt; k++) json_array_append_new(threads, json_integer(o->tl[k]));
    for (size_t i = 0; i < x->n_entries; i++)
        if (x->entries[i].impl) json_array_append_new(entries, entry_json(&x->entries[i]));
    json_t *options = json_pack("{s:o, s:o, s:o, s:b, s:o, s:f, s:b}", "threads", threads, "impl",
                                o->impl_glob ? json_string(o->impl_glob) : json_null(),
                                "max_error", o->max_error >= 0 ? json_real(o->max_error) : json_null(), "no_winograd",
                                o->no_winograd, "time_limit_s", o->time_limit > 0 ? json_real(o->time_limit) : json_null(),
                                "min_time_s", o->min_time, "time_limit_hit", x->limit_hit);
    json_t *root = json_pack("{s:s, s:i, s:{s:s, s:s, s:i, s:s}, s:s, s:s, s:o, s:o}", "format", CNB_PLANFILE_FORMAT,
                             "version", CNB_PLANFILE_VERSION, "fingerprint", "cpu_model", fp->cpu_model, "features",
                             fp->features, "cores", fp->cores, "build", fp->build, "rigor", k_rigor[o->rigor],
                             "created", created, "options", options, "entries", entries);
    if (!root) return fail("out of memory building the plan file");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.cnnbench-tmp-%ld", out, (long)getpid());
    int rc = 0;
    char *text = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    if (!text) return fail("out of memory writing the plan file");
    FILE *f = fopen(tmp, "w");
    const bool ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    free(text);
    if (!f || fclose(f) || !ok || rename(tmp, out)) {
        rc = fail("cannot write %s: %s", out, strerror(errno));
        unlink(tmp);
    }
    return rc;
}

static void print_table(const tune_ctx *x, const char *out, size_t nl) {
    size_t written = 0;
    for (size_t i = 0; i < x->n_entries; i++) written += x->entries[i].impl != NULL;
    printf("cnnbench tune: rigor %s, %zu layer%s, %zu entr%s -> %s\n", k_rigor[x->o.rigor], nl, nl == 1 ? "" : "s",
           written, written == 1 ? "y" : "ies", out);
    printf("%-32s %-14s %3s  %-32s %10s  %-32s %10s  %s\n", "layer", "shape", "thr", "chosen", "time", "runner-up",
           "time", "note");
    for (size_t i = 0; i < x->n_entries; i++) {
        const tune_entry *e = &x->entries[i];
        char shape[64], t1[32], t2[32], note[240];
        shape_str(&e->L->shape, shape, sizeof shape);
        fmt_time(e->time_ns, t1, sizeof t1);
        fmt_time(e->runner_ns, t2, sizeof t2);
        snprintf(note, sizeof note, "%s%s%s", e->best_pair ? "* fastest threads" : "",
                 e->best_pair && e->note[0] ? "; " : "", e->note);
        printf("%-32s %-14s %3d  %-32s %10s  %-32s %10s  %s\n", e->L->name, shape, e->threads, e->impl ? e->impl : "-",
               t1, e->runner ? e->runner : "-", t2, note);
    }
}

/* ---- the command ----------------------------------------------------------------------------------------- */

static bool same_layer(const tune_layer *a, const tune_layer *b) {
    if (a->train != b->train || a->shape.ndim != b->shape.ndim || strcmp(a->spec, b->spec)) return false;
    for (int d = 0; d < a->shape.ndim; d++)
        if (a->shape.dims[d] != b->shape.dims[d]) return false;
    return true;
}

/* Append L unless an equal (spec, train, shape) is there already. */
static int add_layer(tune_layer **layers, size_t *nl, size_t *cap, tune_layer *L) {
    cnb_layer_kind k = L->layer.kind;
    L->train = k == CNB_BATCHNORM2D && L->layer.u.batchnorm2d.training;
    if (cnb_spec_format(&L->layer, L->spec, sizeof L->spec) >= (int)sizeof L->spec) return fail("%s: spec too long", L->name);
    cnb_error err = {0};
    cnb_shape os;
    if (cnb_output_shape(&L->layer, &L->shape, &os, &err)) return fail("%s: %s", L->name, err.msg);
    for (size_t i = 0; i < *nl; i++)
        if (same_layer(&(*layers)[i], L)) return 0;
    if (*nl == *cap) {
        const size_t c = *cap ? 2 * *cap : 16;
        tune_layer *g = realloc(*layers, c * sizeof *g);
        if (!g) return fail("out of memory");
        *layers = g, *cap = c;
    }
    (*layers)[(*nl)++] = *L;
    return 0;
}

int cnb_cmd_tune(int argc, char **argv) {
    const char *spec = NULL, *shape_arg = NULL, *threads_arg = NULL, *out = NULL, *rigor_arg = "measure";
    const char *suites[16];
    int nsuites = 0;
    bool train = false;
    tune_ctx x;
    memset(&x, 0, sizeof x);
    x.o.max_error = -1;
    x.o.min_time = 0.1;
    const double t_start = now_s();

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        static const char *const valued[] = {"--shape", "--suite", "--impl", "--threads", "--out", "--rigor",
                                             "--time-limit", "--max-error", "--min-time"};
        const char *opt = NULL;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0] && !opt; k++)
            if (cnb_opt_take(argc, argv, &i, valued[k], &v)) opt = valued[k];
        if (opt && !v) return fail("%s needs a value", opt);
        if (!opt) {
            if (!strcmp(a, "--train")) train = true;
            else if (!strcmp(a, "--no-winograd")) x.o.no_winograd = true;
            else if (a[0] == '-' && a[1] == '-') return fail("unknown option '%s'", a);
            else if (!spec) spec = a;
            else return fail("unexpected argument '%s' (quote the SPEC as one argument)", a);
            continue;
        }
        if (!strcmp(opt, "--shape")) shape_arg = v;
        else if (!strcmp(opt, "--suite")) {
            if (nsuites == 16) return fail("at most 16 --suite options");
            suites[nsuites++] = v;
        } else if (!strcmp(opt, "--impl")) x.o.impl_glob = v;
        else if (!strcmp(opt, "--threads")) threads_arg = v;
        else if (!strcmp(opt, "--out")) out = v;
        else if (!strcmp(opt, "--rigor")) rigor_arg = v;
        else if (!strcmp(opt, "--time-limit")) {
            if (!parse_real(v, 0, &x.o.time_limit) || x.o.time_limit <= 0)
                return fail("--time-limit needs a positive number of seconds, got '%s'", v);
        } else if (!strcmp(opt, "--max-error")) {
            if (!parse_real(v, 0, &x.o.max_error)) return fail("--max-error needs a non-negative number, got '%s'", v);
        } else if (!strcmp(opt, "--min-time")) {
            if (!parse_real(v, 0, &x.o.min_time) || x.o.min_time <= 0)
                return fail("--min-time needs a positive number of seconds, got '%s'", v);
        }
    }
    int r = 0;
    while (r < 3 && strcmp(rigor_arg, k_rigor[r])) r++;
    if (r == 3) return fail("--rigor must be estimate, measure or exhaustive, got '%s'", rigor_arg);
    x.o.rigor = (rigor)r;
    if (!out) return fail("--out PLAN.json is required");
    if (!spec && !nsuites) return fail("give a SPEC with --shape N,C,H,W, or --suite NAME|FILE");
    if (spec && !shape_arg) return fail("a SPEC needs --shape N,C,H,W");
    if (spec && nsuites) return fail("give either a SPEC or --suite, not both");
    if (!spec && (shape_arg || train)) return fail("--shape and --train go with a SPEC; suites give their own");
    if (x.o.time_limit > 0) x.o.deadline = t_start + x.o.time_limit;

    cnb_error err = {0};
    if (cnb_topo_load(&x.topo, &err)) return fail("%s", err.msg);
    int rc = 1;
    tune_layer *layers = NULL;
    size_t nl = 0, lcap = 0;
    char msg[512];
    const int cores = cnb_topo_cores(&x.topo);
    if (!threads_arg) threads_arg = x.o.rigor == RIGOR_EXHAUSTIVE ? "scaling" : NULL;
    if (threads_arg) {
        if (!cnb_parse_threads(threads_arg, cores, x.o.tl, &x.o.nt, msg, sizeof msg)) {
            fail("%s", msg);
            goto done;
        }
    } else {
        x.o.tl[0] = cores, x.o.nt = 1;  // measure and estimate default: all physical cores
    }

    if (spec) {
        tune_layer L;
        memset(&L, 0, sizeof L);
        snprintf(L.name, sizeof L.name, "cli:layer");  // as bench names it
        if (cnb_spec_parse(spec, &L.layer, &err)) { fail("%s", err.msg); goto done; }
        if (!cnb_parse_shape(shape_arg, &L.shape, msg, sizeof msg)) { fail("%s", msg); goto done; }
        if (L.layer.kind == CNB_BATCHNORM2D) L.layer.u.batchnorm2d.training = train;
        if (add_layer(&layers, &nl, &lcap, &L)) goto done;
    } else {
        for (int s = 0; s < nsuites; s++) {
            cnb_suite su;
            if (cnb_suite_load(suites[s], CNB_SUITES_DIR, &su, &err)) { fail("%s", err.msg); goto done; }
            for (size_t k = 0; k < su.n; k++) {
                tune_layer L;
                memset(&L, 0, sizeof L);
                snprintf(L.name, sizeof L.name, "%s:%s", su.name, su.layers[k].name);
                L.layer = su.layers[k].layer;
                L.shape = su.layers[k].shape;
                if (add_layer(&layers, &nl, &lcap, &L)) {
                    cnb_suite_free(&su);
                    goto done;
                }
            }
            cnb_suite_free(&su);
        }
    }

    size_t *ci = malloc((cnb_impl_count() ? cnb_impl_count() : 1) * sizeof *ci);
    if (!ci) { fail("out of memory"); goto done; }
    for (size_t l = 0; l < nl; l++) {
        const tune_layer *L = &layers[l];
        char shape[64];
        shape_str(&L->shape, shape, sizeof shape);
        fprintf(stderr, "[%zu/%zu] %s %s %s%s\n", l + 1, nl, L->name, L->spec, shape, L->train ? " (train)" : "");
        const size_t nc = candidates(&x.o, L, ci, true);
        int st;
        if (!nc) {
            fprintf(stderr, "  no candidate%s\n", x.o.impl_glob ? " (see --impl)" : "");
            st = estimate_entries(&x, L, ci, 0, 0, "");
        } else if (x.o.rigor == RIGOR_ESTIMATE) {
            st = estimate_entries(&x, L, ci, nc, 0, "estimate");
        } else if (past_deadline(&x.o)) {
            x.limit_hit = true;
            st = estimate_entries(&x, L, ci, nc, 0, "estimate: time limit reached");
        } else {
            st = tune_layer_measured(&x, L, ci, nc);
        }
        if (st) {
            free(ci);
            goto done;
        }
        if (x.o.rigor == RIGOR_EXHAUSTIVE) {
            tune_entry *best = NULL;
            for (size_t i = 0; i < x.n_entries; i++) {
                tune_entry *e = &x.entries[i];
                if (e->L == L && e->measured && (!best || e->time_ns < best->time_ns)) best = e;
            }
            if (best) best->best_pair = true;
        }
    }
    free(ci);
    for (size_t i = 0; i < x.n_entries; i++) x.limit_hit |= x.entries[i].cut;
    size_t written = 0;
    for (size_t i = 0; i < x.n_entries; i++) written += x.entries[i].impl != NULL;
    if (!written) {
        fail("no layer has a candidate implementation%s; no plan written", x.o.impl_glob ? " matching --impl" : "");
        goto done;
    }
    if (write_plan(&x, out)) goto done;
    print_table(&x, out, nl);
    if (x.limit_hit)
        printf("time limit of %g s reached: entries marked 'estimate' take the built-in rule (\"measured\": false)\n",
               x.o.time_limit);
    if (x.agreement_failures)
        printf("%d candidate run%s failed the agreement check and %s left out (see stderr)\n", x.agreement_failures,
               x.agreement_failures == 1 ? "" : "s", x.agreement_failures == 1 ? "was" : "were");
    rc = 0;
done:
    free(layers);
    free(x.entries);
    cnb_topo_free(&x.topo);
    return rc;
}
