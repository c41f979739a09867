/* `cnnbench report RESULTS.json [more.json ...] --out report.html`: one self-contained HTML page (inline CSS
 * and SVG, no script, nothing fetched) from result files of `cnnbench bench --out`. Per file: machine and
 * build, per-layer throughput bars, a roofline with the measured roofs, thread scaling, whole-network time
 * per implementation choice; with several files, a side-by-side comparison. Exit 0, 1 (cannot write), 2. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/status.h"
#include "harness/cmd.h"
#include "harness/gbjson.h"
#include "core/planfile.h"
#include "harness/svg.h"


#define USAGE "usage: cnnbench report RESULTS.json [more.json ...] --out report.html"

enum { MAX_FILES = 16, MAX_T = 16, MAX_FAMS = 64, MAX_CHOICES = MAX_FAMS + 2, N_BIG_LAYERS = 3 };

/* Colours of the two choices that are not an implementation family. */
#define COLOR_BEST "#222222"
#define COLOR_AUTO "#6a3d9a"

typedef struct rp_layer {
    char key[320];           /* "suite:name shape": the identity of a layer across files */
    char suite[64], name[64], shape[96], auto_impl[64], kind[32];
    const char *spec;        /* points into the parsed JSON; "" when absent */
    double count, flops, bytes;
    bool memory;             /* memory-bound: shown in GB/s (field "bound", else by layer kind) */
    bool has_bound;
} rp_layer;

typedef struct rp_entry {
    const char *run_name;
    char impl[64];
    size_t layer, fam;
    int threads;
    double *t;               /* real_time of the iteration runs, ns */
    size_t n, cap;
    double agg;              /* the median aggregate, ns, when has_agg */
    bool has_agg;
    double ns;               /* the median used everywhere; 0 when there is none */
    bool failed;
    const char *msg;         /* why it failed */
} rp_entry;

typedef struct rp_file {
    const char *path;
    json_t *root, *index, *lindex;  /* index: run_name -> entry; lindex: layer key -> layer */
    rp_layer *L;
    size_t nl, lcap;
    rp_entry *e;
    size_t ne, ecap;
    int T[MAX_T];            /* thread counts, ascending */
    int nt;
    size_t skipped, n_failed, dropped_t;
    json_t *ctx, *cnb, *peaks;
} rp_file;

/* A way to run the whole network: the best implementation per layer, auto's pick, or one family
 * (the fastest implementation of the layers it does not cover). */
typedef struct rp_choice {
    char label[128];
    const char *color;
    int kind;                /* 0 best, 1 auto, 2 family */
    size_t fam;
    double ns[MAX_T];        /* count-weighted total; NAN when not available at that thread count */
    size_t covered[MAX_T];   /* layers the family has a timing for */
    bool partial;            /* a family that does not cover every layer */
} rp_choice;

typedef struct rp_report {
    rp_file f[MAX_FILES];
    size_t nf;
    char fam[MAX_FAMS][64];  /* implementation families ("im2col.avx2"), sorted: they pick the colours */
    size_t nfam;
} rp_report;

static int cmd_error(const char *fmt, ...) CNB_PRINTF(1, 2);
static int cmd_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("cnnbench: report: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

static bool file_error(const char *path, const char *fmt, ...) CNB_PRINTF(2, 3);
static bool file_error(const char *path, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cnnbench: report: %s: ", path);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return false;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Reading result files                                                                                  */

static const char *jstr(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static double jnum(json_t *o, const char *k, double dflt) {
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

static void copy(char *dst, size_t size, const char *src, size_t len) {
    snprintf(dst, size, "%.*s", (int)(len < size ? len : size - 1), src);
}

/* "bench/IMPL/SUITE:LAYER/threads:N/real_time": the name `bench` gives every entry, and all that a file
 * written before the per-entry fields existed tells. */
static bool parse_run_name(const char *rn, char *impl, char *suite, char *layer, int *threads) {
    if (strncmp(rn, "bench/", 6)) return false;
    const char *p = rn + 6, *s1 = strchr(p, '/');
    if (!s1 || s1 == p) return false;
    copy(impl, 64, p, (size_t)(s1 - p));
    const char *q = s1 + 1, *s2 = strchr(q, '/');
    size_t len = s2 ? (size_t)(s2 - q) : strlen(q);
    const char *colon = memchr(q, ':', len);
    if (!colon) return false;
    copy(suite, 64, q, (size_t)(colon - q));
    copy(layer, 64, colon + 1, len - (size_t)(colon + 1 - q));
    *threads = 1;
    if (s2 && !strncmp(s2, "/threads:", 9)) *threads = atoi(s2 + 9);
    return true;
}

static bool unit_scale(const char *unit, double *scale) {
    static const struct { const char *name; double ns; } units[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (!strcmp(unit, units[i].name)) {
            *scale = units[i].ns;
            return true;
        }
    }
    return false;
}

/* real_time of a run in ns; false (with a message) when it is not a finite non-negative time. */
static bool run_ns(const char *path, size_t i, json_t *run, double *ns) {
    const char *tu = jstr(run, "time_unit");
    double scale = 1;
    if (json_object_get(run, "time_unit") && (!tu || !unit_scale(tu, &scale)))
        return file_error(path, "benchmarks[%zu]: time_unit must be \"ns\", \"us\", \"ms\" or \"s\"", i);
    double v = jnum(run, "real_time", NAN);
    if (!isfinite(v) || v < 0) return file_error(path, "benchmarks[%zu]: real_time is missing or not a finite time", i);
    *ns = v * scale;
    return true;
}

static void impl_parts(const char *impl, char *kind, size_t ksize, const char **fam) {
    const char *dot = strchr(impl, '.');
    copy(kind, ksize, impl, dot ? (size_t)(dot - impl) : strlen(impl));
    *fam = dot ? dot + 1 : impl;
}

static rp_layer *layer_for(rp_file *f, const char *suite, const char *name, const char *shape, size_t *idx) {
    char key[320];
    snprintf(key, sizeof key, "%s:%s %s", suite, name, shape ? shape : "");
    json_t *pos = json_object_get(f->lindex, key);
    if (pos) {
        *idx = (size_t)json_integer_value(pos);
        return &f->L[*idx];
    }
    if (f->nl == f->lcap) {
        size_t cap = f->lcap ? f->lcap * 2 : 32;
        rp_layer *g = realloc(f->L, cap * sizeof *g);
        if (!g) return NULL;
        f->L = g;
        f->lcap = cap;
    }
    if (json_object_set_new(f->lindex, key, json_integer((json_int_t)f->nl))) return NULL;
    *idx = f->nl;
    rp_layer *L = &f->L[f->nl++];
    *L = (rp_layer){.spec = "", .count = 1};
    snprintf(L->key, sizeof L->key, "%s", key);
    snprintf(L->suite, sizeof L->suite, "%s", suite);
    snprintf(L->name, sizeof L->name, "%s", name);
    snprintf(L->shape, sizeof L->shape, "%s", shape ? shape : "");
    return L;
}

static rp_entry *entry_for(rp_file *f, const char *rn, bool *fresh) {
    json_t *pos = json_object_get(f->index, rn);
    *fresh = !pos;
    if (pos) return &f->e[json_integer_value(pos)];
    if (f->ne == f->ecap) {
        size_t cap = f->ecap ? f->ecap * 2 : 64;
        rp_entry *g = realloc(f->e, cap * sizeof *g);
        if (!g) return NULL;
        f->e = g;
        f->ecap = cap;
    }
    if (json_object_set_new(f->index, rn, json_integer((json_int_t)f->ne))) return NULL;
    rp_entry *e = &f->e[f->ne++];
    *e = (rp_entry){.run_name = rn};
    return e;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static int cmp_int(const void *x, const void *y) {
    int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

/* One run of the file: fill its entry and, where they are still unknown, its layer's fields. */
static bool add_run(rp_file *f, size_t i, json_t *run) {
    const char *rn = jstr(run, "run_name");
    if (!rn) rn = jstr(run, "name");
    if (!rn) return file_error(f->path, "benchmarks[%zu] has no \"run_name\" or \"name\" string", i);
    char impl[64] = "", suite[64] = "", lname[64] = "";
    int threads = 1;
    bool parsed = parse_run_name(rn, impl, suite, lname, &threads);
    const char *fi = jstr(run, "impl"), *fs = jstr(run, "suite"), *fl = jstr(run, "layer");
    if (!parsed && !(fi && fl)) {
        f->skipped++;  // not a cnnbench entry (another program's benchmark): nothing to place
        return true;
    }
    if (fi) snprintf(impl, sizeof impl, "%s", fi);
    if (fs) snprintf(suite, sizeof suite, "%s", fs);
    if (fl) snprintf(lname, sizeof lname, "%s", fl);
    double omp = jnum(run, "omp_threads", 0);
    if (omp >= 1 && omp <= 1e6) threads = (int)omp;
    if (threads < 1) threads = 1;

    const char *type = jstr(run, "run_type");
    if (json_object_get(run, "run_type") && !type)
        return file_error(f->path, "benchmarks[%zu] (%s): run_type is not a string", i, rn);
    bool aggregate = type && !strcmp(type, "aggregate");
    if (type && !aggregate && strcmp(type, "iteration"))
        return file_error(f->path, "benchmarks[%zu] (%s): unknown run_type \"%s\"", i, rn, type);

    size_t li;
    rp_layer *L = layer_for(f, suite, lname, jstr(run, "shape"), &li);
    bool fresh;
    rp_entry *e = L ? entry_for(f, rn, &fresh) : NULL;
    if (!e) return file_error(f->path, "out of memory");
    if (fresh) {
        snprintf(e->impl, sizeof e->impl, "%s", impl);
        e->layer = li;
        e->threads = threads;
    }
    if (!L->kind[0]) {
        const char *fam;
        impl_parts(impl, L->kind, sizeof L->kind, &fam);
    }
    if (!L->spec[0] && jstr(run, "spec")) L->spec = jstr(run, "spec");
    if (!L->auto_impl[0] && jstr(run, "auto_impl")) snprintf(L->auto_impl, sizeof L->auto_impl, "%s", jstr(run, "auto_impl"));
    double count = jnum(run, "count", 0);
    if (count >= 1) L->count = count;
    if (!(L->flops > 0)) L->flops = fmax(jnum(run, "flops", 0), 0);
    if (!(L->bytes > 0)) L->bytes = fmax(jnum(run, "bytes", 0), 0);
    const char *bound = jstr(run, "bound");
    if (bound && !L->has_bound) {
        L->memory = !strcmp(bound, "memory");
        L->has_bound = true;
    }

    const char *agr = jstr(run, "agreement");
    if (json_is_true(json_object_get(run, "error_occurred")) || (agr && !strcmp(agr, "fail"))) {
        if (!e->failed) e->msg = jstr(run, "error_message") ? jstr(run, "error_message") : "agreement: fail";
        e->failed = true;
        return true;  // a failed run's time measures nothing
    }
    double ns;
    if (aggregate) {
        const char *an = jstr(run, "aggregate_name");
        if (!an || strcmp(an, "median")) return true;
        if (!run_ns(f->path, i, run, &ns)) return false;
        e->agg = ns;
        e->has_agg = true;
        return true;
    }
    if (!run_ns(f->path, i, run, &ns)) return false;
    // Files older than the flops/bytes fields still carry Google Benchmark's rate counters: a rate in G/s
    // times the time per iteration in ns is the count per run.
    if (!(L->flops > 0) && jnum(run, "GFLOP/s", 0) > 0) L->flops = jnum(run, "GFLOP/s", 0) * ns;
    if (!(L->bytes > 0) && jnum(run, "GB/s", 0) > 0) L->bytes = jnum(run, "GB/s", 0) * ns;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        double *g = realloc(e->t, cap * sizeof *g);
        if (!g) return file_error(f->path, "out of memory");
        e->t = g;
        e->cap = cap;
    }
    e->t[e->n++] = ns;
    return true;
}

static bool load_file(rp_file *f, const char *path) {
    *f = (rp_file){.path = path};
    json_error_t je;
    memset(&je, 0, sizeof je);
    f->root = cnb_gbjson_load_file(path, &je);
    if (!f->root) {
        if (je.line > 0) return file_error(path, "invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
        return file_error(path, "%s", je.text[0] ? je.text : "cannot read");
    }
    if (!json_is_object(f->root)) return file_error(path, "not a result file: the top level is not an object");
    json_t *runs = json_object_get(f->root, "benchmarks");
    if (!json_is_array(runs)) return file_error(path, "not a result file: no \"benchmarks\" array");
    f->ctx = json_object_get(f->root, "context");
    if (!json_is_object(f->ctx)) f->ctx = NULL;
    f->cnb = f->ctx ? json_object_get(f->ctx, "cnnbench") : NULL;
    if (!json_is_object(f->cnb)) f->cnb = NULL;
    f->peaks = f->cnb ? json_object_get(f->cnb, "peaks") : NULL;
    if (!json_is_object(f->peaks)) f->peaks = NULL;
    f->index = json_object();
    f->lindex = json_object();
    if (!f->index || !f->lindex) return file_error(path, "out of memory");

    size_t i;
    json_t *run;
    json_array_foreach(runs, i, run) {
        if (!json_is_object(run)) return file_error(path, "benchmarks[%zu] is not an object", i);
        if (!add_run(f, i, run)) return false;
    }
    if (!f->ne) return file_error(path, "no cnnbench entries (names \"bench/IMPL/SUITE:LAYER/threads:N\")");

    for (size_t k = 0; k < f->ne; k++) {
        rp_entry *e = &f->e[k];
        rp_layer *L = &f->L[e->layer];
        if (!L->has_bound) L->memory = strcmp(L->kind, "conv2d") && strcmp(L->kind, "conv1d");
        if (e->failed) f->n_failed++;
        if (e->failed) e->ns = 0;
        else if (e->has_agg) e->ns = e->agg;
        else if (e->n) {
            qsort(e->t, e->n, sizeof *e->t, cmp_double);
            size_t h = e->n / 2;
            e->ns = e->n % 2 ? e->t[h] : (e->t[h - 1] + e->t[h]) / 2;
        }
        bool known = false;
        for (int t = 0; t < f->nt; t++) known |= f->T[t] == e->threads;
        if (!known && f->nt < MAX_T) f->T[f->nt++] = e->threads;
        else if (!known) f->dropped_t++;
    }
    qsort(f->T, (size_t)f->nt, sizeof f->T[0], cmp_int);
    return true;
}

static void free_file(rp_file *f) {
    for (size_t i = 0; i < f->ne; i++) free(f->e[i].t);
    free(f->e);
    free(f->L);
    json_decref(f->index);
    json_decref(f->lindex);
    json_decref(f->root);
}

static int cmp_str64(const void *a, const void *b) {
    return strcmp((const char *)a, (const char *)b);
}

/* Families over all files, sorted, so that a family has the same colour in every chart and file. */
static void index_families(rp_report *r) {
    for (size_t fi = 0; fi < r->nf; fi++) {
        for (size_t k = 0; k < r->f[fi].ne; k++) {
            char kind[32];
            const char *fam;
            impl_parts(r->f[fi].e[k].impl, kind, sizeof kind, &fam);
            bool known = false;
            for (size_t j = 0; j < r->nfam && !known; j++) known = !strcmp(r->fam[j], fam);
            // Past MAX_FAMS the last colour is shared; the names stay right in tooltips and tables.
            if (!known && r->nfam < MAX_FAMS) snprintf(r->fam[r->nfam++], sizeof r->fam[0], "%s", fam);
        }
    }
    qsort(r->fam, r->nfam, sizeof r->fam[0], cmp_str64);
    for (size_t fi = 0; fi < r->nf; fi++) {
        for (size_t k = 0; k < r->f[fi].ne; k++) {
            char kind[32];
            const char *fam;
            impl_parts(r->f[fi].e[k].impl, kind, sizeof kind, &fam);
            r->f[fi].e[k].fam = r->nfam ? r->nfam - 1 : 0;
            for (size_t j = 0; j < r->nfam; j++)
                if (!strcmp(r->fam[j], fam)) r->f[fi].e[k].fam = j;
        }
    }
}

/* ---------------------------------------------------------------------------------------------------- */
/* What the charts and tables need                                                                       */

static const char *fam_color(size_t fam) {
    return cnb_svg_color(fam);
}

static const rp_entry *find_entry(const rp_file *f, size_t layer, const char *impl, int T) {
    for (size_t k = 0; k < f->ne; k++) {
        const rp_entry *e = &f->e[k];
        if (e->layer == layer && e->threads == T && !strcmp(e->impl, impl)) return e;
    }
    return NULL;
}

static const rp_entry *find_fam(const rp_file *f, size_t layer, size_t fam, int T) {
    for (size_t k = 0; k < f->ne; k++) {
        const rp_entry *e = &f->e[k];
        if (e->layer == layer && e->threads == T && e->fam == fam && e->ns > 0) return e;
    }
    return NULL;
}

/* The fastest timed entry of a layer at T, or NULL. */
static const rp_entry *best_entry(const rp_file *f, size_t layer, int T) {
    const rp_entry *b = NULL;
    for (size_t k = 0; k < f->ne; k++) {
        const rp_entry *e = &f->e[k];
        if (e->layer == layer && e->threads == T && e->ns > 0 && (!b || e->ns < b->ns)) b = e;
    }
    return b;
}

/* Entries of a layer at T that have a time, in family order (the order of the bars). */
static size_t layer_entries(const rp_file *f, size_t layer, int T, const rp_entry **out, size_t max) {
    size_t n = 0;
    for (size_t k = 0; k < f->ne && n < max; k++) {
        const rp_entry *e = &f->e[k];
        if (e->layer != layer || e->threads != T || !(e->ns > 0)) continue;
        size_t j = n++;
        while (j > 0 && out[j - 1]->fam > e->fam) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = e;
    }
    return n;
}

static int t_index(const rp_file *f, int T) {
    for (int t = 0; t < f->nt; t++)
        if (f->T[t] == T) return t;
    return -1;
}

/* A measured machine limit at T threads from context.cnnbench.peaks: what is "fma" (GFLOP/s of isa),
 * "dram" or "l2" (triad GB/s). bench measures 1 thread and all cores; a thread count in between is
 * interpolated linearly (see peak_measured), and one beyond the last takes the last. 0 when absent. */
static double peak_at(const rp_file *f, const char *what, const char *isa, int T) {
    if (!f->peaks) return 0;
    json_t *th = json_object_get(f->peaks, "threads"), *arr;
    if (!strcmp(what, "fma")) arr = json_object_get(json_object_get(f->peaks, "fma_gflops"), isa ? isa : "");
    else if (!strcmp(what, "dram")) arr = json_object_get(f->peaks, "triad_dram_gbs");
    else arr = json_object_get(f->peaks, "triad_l2_gbs");
    double t0 = 0, v0 = 0, per_thread = INFINITY;
    size_t i;
    json_t *tv;
    json_array_foreach(th, i, tv) {
        json_t *x = json_array_get(arr, i);
        if (!json_is_number(tv) || !json_is_number(x) || !(json_number_value(x) > 0)) continue;
        double t = json_number_value(tv), v = json_number_value(x);
        if (t == T) return v;
        // As cnb_peaks_fma_for: never more than T times the per-thread figure of the smallest count.
        if (t > T) return t0 > 0 ? fmin(v0 + (v - v0) * (T - t0) / (t - t0), per_thread * T) : 0;
        if (t0 == 0) per_thread = v / t;
        t0 = t, v0 = v;
    }
    return v0;
}

/* Whether the file's peaks were measured at exactly T threads (else peak_at interpolated them). */
static bool peak_measured(const rp_file *f, int T) {
    size_t i;
    json_t *tv;
    json_array_foreach(f->peaks ? json_object_get(f->peaks, "threads") : NULL, i, tv)
        if (json_is_number(tv) && json_number_value(tv) == T) return true;
    return false;
}

static const char *best_isa(const rp_file *f) {
    const char *s = f->peaks ? jstr(f->peaks, "isa_best") : NULL;
    return s ? s : "";
}

static bool file_has_auto(const rp_file *f) {
    for (size_t l = 0; l < f->nl; l++)
        if (f->L[l].auto_impl[0]) return true;
    return false;
}

/* Whole-network totals at every thread count of f, each layer weighted by its count. */
static size_t network_choices(const rp_report *r, const rp_file *f, rp_choice *c) {
    size_t n = 0;
    rp_choice *best = &c[n++];
    *best = (rp_choice){.color = COLOR_BEST, .kind = 0};
    snprintf(best->label, sizeof best->label, "best per layer");
    bool has_auto = file_has_auto(f);
    rp_choice *aut = has_auto ? &c[n++] : NULL;
    if (aut) {
        *aut = (rp_choice){.color = COLOR_AUTO, .kind = 1};
        snprintf(aut->label, sizeof aut->label, "auto's choice");
    }
    for (int t = 0; t < f->nt; t++) {
        double sb = 0, sa = 0;
        bool okb = true, oka = true;
        for (size_t l = 0; l < f->nl; l++) {
            const rp_entry *b = best_entry(f, l, f->T[t]);
            const rp_entry *a = f->L[l].auto_impl[0] ? find_entry(f, l, f->L[l].auto_impl, f->T[t]) : NULL;
            okb &= b != NULL;
            oka &= a && a->ns > 0;
            if (b) sb += f->L[l].count * b->ns;
            if (a && a->ns > 0) sa += f->L[l].count * a->ns;
        }
        best->ns[t] = okb ? sb : NAN;
        if (aut) aut->ns[t] = oka ? sa : NAN;
    }
    for (size_t fam = 0; fam < r->nfam; fam++) {
        rp_choice ch = {.color = fam_color(fam), .kind = 2, .fam = fam};
        bool any = false, full = true;
        for (int t = 0; t < f->nt; t++) {
            double s = 0;
            bool ok = true;
            size_t cov = 0;
            for (size_t l = 0; l < f->nl; l++) {
                const rp_entry *e = find_fam(f, l, fam, f->T[t]);
                const rp_entry *b = e ? e : best_entry(f, l, f->T[t]);
                cov += e != NULL;
                ok &= b != NULL;
                if (b) s += f->L[l].count * b->ns;
            }
            ch.covered[t] = cov;
            ch.ns[t] = ok && cov ? s : NAN;
            any |= cov > 0;
            full &= cov == f->nl;
        }
        if (!any) continue;
        ch.partial = !full;
        if (full) snprintf(ch.label, sizeof ch.label, "%s", r->fam[fam]);
        else snprintf(ch.label, sizeof ch.label, "%s + best elsewhere", r->fam[fam]);
        c[n++] = ch;
    }
    return n;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Charts                                                                                                */

static void layer_label(char *buf, size_t size, const rp_layer *L) {
    size_t n = strlen(L->name);
    // About 24 characters fit the label column.
    if (n > 24) snprintf(buf, size, "...%s", L->name + n - 21);
    else snprintf(buf, size, "%s", L->name);
}

/* The families in use (use[fam]) as legend entries from (x0, y), wrapping at width w; returns the y below. */
static double legend_fams(cnb_buf *b, const rp_report *r, const bool *use, double x0, double y, double w,
                          const char *extra_color, const char *extra_label) {
    double x = x0;
    for (size_t fam = 0; fam <= r->nfam; fam++) {
        bool extra = fam == r->nfam;
        if (extra ? !extra_label : !use[fam]) continue;
        const char *lab = extra ? extra_label : r->fam[fam];
        double need = 16 + 6.6 * (double)strlen(lab) + 18;
        if (x > x0 && x + need > w) {
            x = x0;
            y += 16;
        }
        x = cnb_svg_legend_item(b, x, y, extra ? extra_color : fam_color(fam), lab);
    }
    return y + 14;
}

static void entry_tooltip(cnb_buf *b, const rp_file *f, const rp_entry *e, int T) {
    const rp_layer *L = &f->L[e->layer];
    char tm[32], gf[32], gb[32], pct[48] = "";
    cnb_fmt_time(tm, sizeof tm, e->ns);
    cnb_fmt_num(gf, sizeof gf, L->flops / e->ns);
    cnb_fmt_num(gb, sizeof gb, L->bytes / e->ns);
    double peak = L->memory ? peak_at(f, "dram", NULL, T) : peak_at(f, "fma", best_isa(f), T);
    if (peak > 0) snprintf(pct, sizeof pct, ", %.1f%% of %s", 100 * (L->memory ? L->bytes : L->flops) / e->ns / peak,
                           L->memory ? "DRAM triad" : "FMA peak");
    cnb_buf_puts(b, "<title>");
    cnb_buf_esc(b, L->name);
    cnb_buf_puts(b, " ");
    cnb_buf_esc(b, e->impl);
    cnb_buf_printf(b, ", %d thread%s: %s, %s GFLOP/s, %s GB/s%s", T, T == 1 ? "" : "s", tm, gf, gb, pct);
    if (L->auto_impl[0] && !strcmp(L->auto_impl, e->impl)) cnb_buf_puts(b, " (auto's choice)");
    cnb_buf_puts(b, "</title>");
}

/* Per-layer grouped bars at T: compute-bound layers in GFLOP/s, memory-bound ones in GB/s. */
static void chart_bars(cnb_buf *out, const rp_report *r, const rp_file *f, size_t fi, int T) {
    const double W = 590, left = 150, right = 20;
    cnb_buf b = {0};
    char title[128], id[64];
    snprintf(title, sizeof title, "Per-layer throughput, %d thread%s", T, T == 1 ? "" : "s");
    snprintf(id, sizeof id, "chart-bars-f%zu-t%d", fi + 1, T);
    cnb_svg_text(&b, 10, 18, "start", 0, "ctitle", title);
    bool use[MAX_FAMS] = {false};
    for (size_t k = 0; k < f->ne; k++)
        if (f->e[k].threads == T && f->e[k].ns > 0) use[f->e[k].fam] = true;
    double y = legend_fams(&b, r, use, 10, 38, W - 10, "none", file_has_auto(f) ? "outlined: auto's choice" : NULL);
    const rp_entry **es = calloc(f->ne ? f->ne : 1, sizeof *es);
    bool drawn = false;
    for (int sec = 0; sec < 2 && es; sec++) {
        bool memory = sec == 1;
        double vmax = 0;
        size_t nrow = 0, maxk = 0;
        for (size_t l = 0; l < f->nl; l++) {
            if (f->L[l].memory != memory) continue;
            size_t k = layer_entries(f, l, T, es, f->ne);
            for (size_t j = 0; j < k; j++)
                vmax = fmax(vmax, (memory ? f->L[l].bytes : f->L[l].flops) / es[j]->ns);
            nrow += k > 0;
            if (k > maxk) maxk = k;
        }
        if (!nrow || !(vmax > 0)) continue;
        drawn = true;
        double roof[2] = {0, 0};
        const char *roof_name[2] = {"FMA peak", NULL};
        if (memory) {
            roof[0] = peak_at(f, "dram", NULL, T), roof[1] = peak_at(f, "l2", NULL, T);
            roof_name[0] = "DRAM", roof_name[1] = "L2";
        } else {
            roof[0] = peak_at(f, "fma", best_isa(f), T);
        }
        // The compute scale reaches the FMA peak, so bar length reads as a fraction of the machine; memory
        // bound layers are usually far below the bandwidth roofs, which are drawn when they fit.
        double top = memory ? vmax : fmax(vmax, roof[0]);
        cnb_scale xs = {0, cnb_nice_max(top * 1.02), left, W - right, false};
        const double bh = maxk <= 2 ? 10 : maxk <= 4 ? 8 : 6;
        y += 10;
        char head[160], p0[32], p1[32];
        cnb_fmt_num(p0, sizeof p0, roof[0]);
        cnb_fmt_num(p1, sizeof p1, roof[1]);
        const char *est = peak_measured(f, T) ? "" : ", interpolated";
        if (memory && roof[0] > 0)
            snprintf(head, sizeof head, "memory-bound layers, GB/s (triad: DRAM %s, L2 %s GB/s%s)", p0, p1, est);
        else if (memory) snprintf(head, sizeof head, "memory-bound layers, GB/s");
        else if (roof[0] > 0) snprintf(head, sizeof head, "compute-bound layers, GFLOP/s (%s FMA peak %s%s)", best_isa(f), p0, est);
        else snprintf(head, sizeof head, "compute-bound layers, GFLOP/s");
        cnb_svg_text(&b, 10, y + 4, "start", 0, "shead", head);
        y += 12;
        double y_top = y;
        cnb_buf rows = {0};
        for (size_t l = 0; l < f->nl; l++) {
            const rp_layer *L = &f->L[l];
            if (L->memory != memory) continue;
            size_t k = layer_entries(f, l, T, es, f->ne);
            if (!k) continue;
            double gh = fmax((double)k * bh, 12);
            char lab[64];
            layer_label(lab, sizeof lab, L);
            cnb_buf_puts(&rows, "<g class=\"layer\"><title>");
            cnb_buf_esc(&rows, L->name);
            cnb_buf_puts(&rows, ": ");
            cnb_buf_esc(&rows, L->spec);
            cnb_buf_puts(&rows, " on ");
            cnb_buf_esc(&rows, L->shape);
            cnb_buf_printf(&rows, ", x%.0f in the network</title>\n", L->count);
            cnb_svg_text(&rows, left - 6, y + gh / 2 + 3.5, "end", 0, "lab", lab);
            cnb_buf_puts(&rows, "</g>\n");
            for (size_t j = 0; j < k; j++) {
                double v = (memory ? L->bytes : L->flops) / es[j]->ns;
                double w = fmax(cnb_scale_map(&xs, v) - left, 0.5);
                bool is_auto = L->auto_impl[0] && !strcmp(L->auto_impl, es[j]->impl);
                cnb_buf_printf(&rows, "<rect class=\"bar%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">",
                               is_auto ? " auto" : "", left, y + (double)j * bh + (gh - (double)k * bh) / 2, w, bh - 1,
                               fam_color(es[j]->fam));
                entry_tooltip(&rows, f, es[j], T);
                cnb_buf_puts(&rows, "</rect>\n");
            }
            y += gh + 5;
        }
        cnb_svg_axis_x(&b, &xs, y, y_top, memory ? "GB/s" : "GFLOP/s");
        cnb_buf_puts(&b, rows.s ? rows.s : "");
        b.oom |= rows.oom;
        cnb_buf_free(&rows);
        for (int k = 0; k < 2; k++) {
            if (!(roof[k] > 0) || roof[k] > xs.d1 || !roof_name[k]) continue;
            double x = cnb_scale_map(&xs, roof[k]);
            cnb_buf_printf(&b, "<line class=\"roofmark\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x, y_top - 2,
                           x, y);
            cnb_svg_text(&b, x - 3, y_top + 8, "end", 0, "rooflab", roof_name[k]);
        }
        y += 40;
    }
    free(es);
    if (!drawn) {
        cnb_svg_text(&b, 10, y + 16, "start", 0, "lab", "no timed entries at this thread count");
        y += 30;
    }
    cnb_svg_open(out, id, "chart-bars", W, y + 4, title);
    cnb_buf_puts(out, b.s ? b.s : "");
    out->oom |= b.oom;
    cnb_svg_close(out);
    cnb_buf_free(&b);
}

/* The roof min(peak, intensity x bandwidth) over the plotted x range, as a path. */
static void roof_path(cnb_buf *b, const cnb_scale *xs, const cnb_scale *ys, double peak, double bw, const char *cls) {
    double x0 = fmax(xs->d0, ys->d0 / bw), ridge = peak / bw;
    if (x0 >= xs->d1) return;
    cnb_buf_printf(b, "<path class=\"%s\" d=\"M%.1f %.1f", cls, cnb_scale_map(xs, x0), cnb_scale_map(ys, x0 * bw));
    if (ridge > x0 && ridge < xs->d1) {
        cnb_buf_printf(b, " L%.1f %.1f", cnb_scale_map(xs, ridge), cnb_scale_map(ys, peak));
        cnb_buf_printf(b, " L%.1f %.1f", cnb_scale_map(xs, xs->d1), cnb_scale_map(ys, peak));
    } else if (ridge >= xs->d1) {
        cnb_buf_printf(b, " L%.1f %.1f", cnb_scale_map(xs, xs->d1), cnb_scale_map(ys, xs->d1 * bw));
    } else {
        cnb_buf_printf(b, " L%.1f %.1f", cnb_scale_map(xs, xs->d1), cnb_scale_map(ys, peak));
    }
    cnb_buf_puts(b, "\"/>\n");
}

/* Arithmetic intensity against achieved GFLOP/s, log-log, one point per (layer, implementation) at T, under
 * the measured roofs: FMA peak of each ISA, DRAM and L2 triad bandwidth. */
static void chart_roofline(cnb_buf *out, const rp_report *r, const rp_file *f, size_t fi, int T) {
    const double W = 590, H = 470, left = 62, right = W - 16;
    cnb_buf b = {0};
    char title[128], id[64];
    snprintf(title, sizeof title, "Roofline, %d thread%s", T, T == 1 ? "" : "s");
    snprintf(id, sizeof id, "chart-roofline-f%zu-t%d", fi + 1, T);
    cnb_svg_text(&b, 10, 18, "start", 0, "ctitle", title);
    bool use[MAX_FAMS] = {false};
    double xlo = INFINITY, xhi = 0, ylo = INFINITY, yhi = 0;
    size_t npts = 0;
    for (size_t k = 0; k < f->ne; k++) {
        const rp_entry *e = &f->e[k];
        const rp_layer *L = &f->L[e->layer];
        if (e->threads != T || !(e->ns > 0) || !(L->flops > 0) || !(L->bytes > 0)) continue;
        use[e->fam] = true;
        double ai = L->flops / L->bytes, gf = L->flops / e->ns;
        xlo = fmin(xlo, ai), xhi = fmax(xhi, ai), ylo = fmin(ylo, gf), yhi = fmax(yhi, gf);
        npts++;
    }
    double y = legend_fams(&b, r, use, 10, 38, W - 10, "none", file_has_auto(f) ? "ringed: auto's choice" : NULL);
    double top = y + 6, bottom = H - 46;
    const char *isa = best_isa(f);
    double fma = peak_at(f, "fma", isa, T), dram = peak_at(f, "dram", NULL, T), l2 = peak_at(f, "l2", NULL, T);
    if (!npts) {
        cnb_svg_text(&b, 10, y + 20, "start", 0, "lab", "no entry with flops, bytes and a time at this thread count");
    } else {
        if (fma > 0) {
            yhi = fmax(yhi, fma);
            if (dram > 0) xhi = fmax(xhi, fma / dram), xlo = fmin(xlo, fma / dram);
            if (l2 > 0) xlo = fmin(xlo, fma / l2);
        }
        cnb_scale xs = {0, 0, left, right, true}, ys = {0, 0, bottom, top, true};
        cnb_decade_range(xlo / 1.5, xhi * 1.5, &xs.d0, &xs.d1);
        cnb_decade_range(ylo / 1.5, yhi * 1.5, &ys.d0, &ys.d1);
        cnb_svg_axis_x(&b, &xs, bottom, top, "arithmetic intensity (FLOP per byte moved)");
        cnb_svg_axis_y(&b, &ys, left, right, "GFLOP/s");
        // Every ISA's FMA peak is a horizontal roof; the best one carries the bandwidth roofs.
        json_t *fg = f->peaks ? json_object_get(f->peaks, "fma_gflops") : NULL;
        const char *k;
        json_t *v;
        json_object_foreach(fg, k, v) {
            double p = peak_at(f, "fma", k, T);
            if (!(p > 0) || p < ys.d0 || p > ys.d1) continue;
            char lab[96], pn[32];
            cnb_fmt_num(pn, sizeof pn, p);
            snprintf(lab, sizeof lab, "%s FMA %s GFLOP/s%s", k, pn, peak_measured(f, T) ? "" : " (interpolated)");
            bool best = !strcmp(k, isa);
            if (!best || !(dram > 0))
                cnb_buf_printf(&b, "<path class=\"roof%s\" d=\"M%.1f %.1f L%.1f %.1f\"/>\n", best ? "" : " isa", left,
                               cnb_scale_map(&ys, p), right, cnb_scale_map(&ys, p));
            cnb_svg_text(&b, right - 4, cnb_scale_map(&ys, p) - 4, "end", 0, "rooflab", lab);
        }
        if (fma > 0 && dram > 0) roof_path(&b, &xs, &ys, fma, dram, "roof");
        if (fma > 0 && l2 > 0) roof_path(&b, &xs, &ys, fma, l2, "roof l2");
        for (int m = 0; m < 2; m++) {
            double bw = m ? l2 : dram;
            if (!(bw > 0)) continue;
            // Label the diagonal where it enters the plot, rotated along its slope (45 degrees in decades).
            double x0 = fmax(xs.d0, ys.d0 / bw) * 1.6;
            if (fma > 0 && x0 * bw > fma) continue;
            char lab[64], bn[32];
            cnb_fmt_num(bn, sizeof bn, bw);
            snprintf(lab, sizeof lab, "%s triad %s GB/s%s", m ? "L2" : "DRAM", bn, peak_measured(f, T) ? "" : " (interpolated)");
            double px = cnb_scale_map(&xs, x0), py = cnb_scale_map(&ys, x0 * bw);
            double ang = atan2(cnb_scale_map(&ys, x0 * bw * 10) - py, cnb_scale_map(&xs, x0 * 10) - px) * 180 / M_PI;
            cnb_svg_text(&b, px + 4, py - 5, "start", ang, "rooflab", lab);
        }
        for (size_t q = 0; q < f->ne; q++) {
            const rp_entry *e = &f->e[q];
            const rp_layer *L = &f->L[e->layer];
            if (e->threads != T || !(e->ns > 0) || !(L->flops > 0) || !(L->bytes > 0)) continue;
            bool is_auto = L->auto_impl[0] && !strcmp(L->auto_impl, e->impl);
            cnb_buf_printf(&b, "<circle class=\"pt%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\">", is_auto ? " auto" : "",
                           cnb_scale_map(&xs, L->flops / L->bytes), cnb_scale_map(&ys, L->flops / e->ns), fam_color(e->fam));
            entry_tooltip(&b, f, e, T);
            cnb_buf_puts(&b, "</circle>\n");
        }
        if (!(fma > 0)) cnb_svg_text(&b, left + 8, top + 14, "start", 0, "lab", "no measured peaks in this file: no roofs");
    }
    cnb_svg_open(out, id, "chart-roofline", W, H, title);
    cnb_buf_puts(out, b.s ? b.s : "");
    out->oom |= b.oom;
    cnb_svg_close(out);
    cnb_buf_free(&b);
}

typedef struct curve {
    const char *label, *color;
    double ns[MAX_T];        /* time per thread count of the file; NAN or 0 where missing */
} curve;

/* One panel of speedup over the smallest thread count against threads, with the ideal line. */
static void scaling_panel(cnb_buf *b, const rp_file *f, double x0, double w, double h, double y0, const char *title,
                          const curve *c, size_t nc) {
    const double left = x0 + 54, right = x0 + w - 10, top = y0 + 22, bottom = y0 + h - 40;
    int T0 = f->T[0], Tn = f->T[f->nt - 1];
    double smax = (double)Tn / T0;
    for (size_t i = 0; i < nc; i++)
        for (int t = 0; t < f->nt; t++)
            if (c[i].ns[0] > 0 && c[i].ns[t] > 0) smax = fmax(smax, c[i].ns[0] / c[i].ns[t]);
    cnb_scale xs = {T0, Tn, left, right, false}, ys = {0, cnb_nice_max(smax * 1.05), bottom, top, false};
    double ticks[MAX_T];
    for (int t = 0; t < f->nt; t++) ticks[t] = f->T[t];
    cnb_svg_text(b, x0 + w / 2, y0 + 12, "middle", 0, "ptitle", title);
    cnb_svg_axis_x_at(b, &xs, ticks, (size_t)f->nt, bottom, top, "threads");
    cnb_svg_axis_y(b, &ys, left, right, "speedup");
    cnb_buf_printf(b, "<path class=\"ideal\" d=\"M%.1f %.1f L%.1f %.1f\"><title>ideal: speedup = threads / %d</title></path>\n",
                   cnb_scale_map(&xs, T0), cnb_scale_map(&ys, 1), cnb_scale_map(&xs, Tn), cnb_scale_map(&ys, (double)Tn / T0), T0);
    for (size_t i = 0; i < nc; i++) {
        if (!(c[i].ns[0] > 0)) continue;
        int np = 0;
        cnb_buf pts = {0};
        cnb_buf_printf(b, "<path class=\"curve\" stroke=\"%s\" d=\"", c[i].color);
        for (int t = 0; t < f->nt; t++) {
            if (!(c[i].ns[t] > 0)) continue;
            double s = c[i].ns[0] / c[i].ns[t], px = cnb_scale_map(&xs, f->T[t]), py = cnb_scale_map(&ys, s);
            cnb_buf_printf(b, "%s%.1f %.1f", np++ ? " L" : "M", px, py);
            cnb_buf_printf(&pts, "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>", px, py, c[i].color);
            cnb_buf_esc(&pts, c[i].label);
            cnb_buf_printf(&pts, ": %.2fx at %d threads</title></circle>\n", s, f->T[t]);
        }
        cnb_buf_puts(b, "\"><title>");
        cnb_buf_esc(b, c[i].label);
        cnb_buf_puts(b, "</title></path>\n");
        cnb_buf_puts(b, pts.s ? pts.s : "");
        b->oom |= pts.oom;
        cnb_buf_free(&pts);
    }
}

/* Speedup against threads: the whole network (per choice) and the layers that take the most time. */
static void chart_scaling(cnb_buf *out, const rp_report *r, const rp_file *f, size_t fi, const rp_choice *ch, size_t nch) {
    if (f->nt < 2) return;
    // The layers that take the most time: count x best time at the smallest thread count.
    size_t big[N_BIG_LAYERS], nbig = 0;
    double wbig[N_BIG_LAYERS];
    for (size_t l = 0; l < f->nl; l++) {
        const rp_entry *e = best_entry(f, l, f->T[0]);
        if (!e) continue;
        double w = f->L[l].count * e->ns;
        size_t j = nbig < N_BIG_LAYERS ? nbig++ : N_BIG_LAYERS;
        for (; j > 0 && wbig[j - 1] < w; j--) {
            if (j < N_BIG_LAYERS) big[j] = big[j - 1], wbig[j] = wbig[j - 1];
        }
        if (j < N_BIG_LAYERS) big[j] = l, wbig[j] = w;
    }
    const double pw = 290, ph = 270;
    double W = pw * (double)(1 + nbig) + 10;
    cnb_buf b = {0};
    char title[128], id[64];
    snprintf(title, sizeof title, "Thread scaling: speedup over %d thread%s", f->T[0], f->T[0] == 1 ? "" : "s");
    snprintf(id, sizeof id, "chart-scaling-f%zu", fi + 1);
    cnb_svg_text(&b, 10, 18, "start", 0, "ctitle", title);
    bool use[MAX_FAMS] = {false};
    for (size_t k = 0; k < f->ne; k++)
        if (f->e[k].ns > 0) use[f->e[k].fam] = true;
    double x = 10, y = 38;
    x = cnb_svg_legend_item(&b, x, y, COLOR_BEST, "best per layer");
    if (file_has_auto(f)) x = cnb_svg_legend_item(&b, x, y, COLOR_AUTO, "auto's choice");
    cnb_buf_printf(&b, "<path class=\"ideal\" d=\"M%.1f %.1f L%.1f %.1f\"/>\n", x, y - 4, x + 14, y - 4);
    cnb_svg_text(&b, x + 18, y, "start", 0, "legend", "ideal");
    y = legend_fams(&b, r, use, 10, y + 16, W - 10, NULL, NULL);

    curve *cv = calloc(MAX_CHOICES + MAX_FAMS, sizeof *cv);
    if (!cv) b.oom = true;
    size_t nc = 0;
    for (size_t i = 0; cv && i < nch; i++) {
        if (ch[i].partial) continue;
        cv[nc] = (curve){.label = ch[i].label, .color = ch[i].color};
        for (int t = 0; t < f->nt; t++) cv[nc].ns[t] = ch[i].ns[t];
        nc++;
    }
    if (cv) scaling_panel(&b, f, 0, pw, ph, y, "whole network", cv, nc);
    for (size_t k = 0; cv && k < nbig; k++) {
        const rp_layer *L = &f->L[big[k]];
        nc = 0;
        for (size_t fam = 0; fam < r->nfam; fam++) {
            cv[nc] = (curve){.label = r->fam[fam], .color = fam_color(fam)};
            bool any = false;
            for (int t = 0; t < f->nt; t++) {
                const rp_entry *e = find_fam(f, big[k], fam, f->T[t]);
                cv[nc].ns[t] = e ? e->ns : 0;
                any |= e != NULL;
            }
            nc += any;
        }
        char pt[128];
        snprintf(pt, sizeof pt, "%s (x%.0f, %s)", L->name, L->count, L->kind);
        scaling_panel(&b, f, pw * (double)(k + 1), pw, ph, y, pt, cv, nc);
    }
    free(cv);
    cnb_svg_open(out, id, "chart-scaling", W, y + ph + 4, title);
    cnb_buf_puts(out, b.s ? b.s : "");
    out->oom |= b.oom;
    cnb_svg_close(out);
    cnb_buf_free(&b);
}

static void pct_over(char *buf, size_t size, double v, double base) {
    if (v > 0 && base > 0 && isfinite(v) && isfinite(base)) snprintf(buf, size, "%+.1f%%", 100 * (v / base - 1));
    else snprintf(buf, size, "-");
}

/* Whole-network time per choice at T, as horizontal bars. */
static void chart_network(cnb_buf *out, const rp_file *f, size_t fi, int T, const rp_choice *ch, size_t nch) {
    const double W = 590, left = 220, right = W - 110, rh = 18;
    int t = t_index(f, T);
    cnb_buf b = {0};
    char title[128], id[64];
    snprintf(title, sizeof title, "Whole network, %d thread%s (count-weighted)", T, T == 1 ? "" : "s");
    snprintf(id, sizeof id, "chart-network-f%zu-t%d", fi + 1, T);
    cnb_svg_text(&b, 10, 18, "start", 0, "ctitle", title);
    double vmax = 0, best = ch[0].ns[t];
    size_t n = 0;
    for (size_t i = 0; i < nch; i++)
        if (ch[i].ns[t] > 0) vmax = fmax(vmax, ch[i].ns[t]), n++;
    double y = 34, y_top = y;
    if (!n) {
        cnb_svg_text(&b, 10, y + 16, "start", 0, "lab", "no complete whole-network time at this thread count");
        y += 30;
    } else {
        cnb_scale xs = {0, cnb_nice_max(vmax * 1e-6 * 1.02), left, right, false};
        cnb_buf rows = {0};
        for (size_t i = 0; i < nch; i++) {
            if (!(ch[i].ns[t] > 0)) continue;
            double ms = ch[i].ns[t] * 1e-6;
            char lab[160], tm[32], pc[32];
            if (ch[i].partial) snprintf(lab, sizeof lab, "%s (%zu/%zu)", ch[i].label, ch[i].covered[t], f->nl);
            else snprintf(lab, sizeof lab, "%s", ch[i].label);
            cnb_svg_text(&rows, left - 6, y + rh / 2 + 3.5, "end", 0, ch[i].kind < 2 ? "lab strong" : "lab", lab);
            cnb_buf_printf(&rows, "<rect class=\"bar%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>",
                           ch[i].partial ? " partial" : "", left, y + 2, fmax(cnb_scale_map(&xs, ms) - left, 0.5), rh - 4,
                           ch[i].color);
            cnb_fmt_time(tm, sizeof tm, ch[i].ns[t]);
            pct_over(pc, sizeof pc, ch[i].ns[t], best);
            cnb_buf_esc(&rows, lab);
            cnb_buf_printf(&rows, ": %s (%s against the best per layer)</title></rect>\n", tm, pc);
            char val[80];
            snprintf(val, sizeof val, "%s  %s", tm, ch[i].kind == 0 ? "" : pc);
            cnb_svg_text(&rows, cnb_scale_map(&xs, ms) + 4, y + rh / 2 + 3.5, "start", 0, "val", val);
            y += rh;
        }
        cnb_svg_axis_x(&b, &xs, y + 4, y_top, "ms per forward pass (the suite's layers only)");
        cnb_buf_puts(&b, rows.s ? rows.s : "");
        b.oom |= rows.oom;
        cnb_buf_free(&rows);
        y += 44;
    }
    cnb_svg_open(out, id, "chart-network", W, y, title);
    cnb_buf_puts(out, b.s ? b.s : "");
    out->oom |= b.oom;
    cnb_svg_close(out);
    cnb_buf_free(&b);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Sections                                                                                              */

static void td_text(cnb_buf *b, const char *s) {
    cnb_buf_puts(b, "<td>");
    cnb_buf_esc(b, s && *s ? s : "-");
    cnb_buf_puts(b, "</td>");
}

static void row_kv(cnb_buf *b, const char *k, const char *v) {
    cnb_buf_puts(b, "<tr><th>");
    cnb_buf_esc(b, k);
    cnb_buf_puts(b, "</th>");
    td_text(b, v ? v : "not recorded");
    cnb_buf_puts(b, "</tr>\n");
}

static void fmt_bytes(char *buf, size_t size, double v) {
    if (v >= 1 << 30) snprintf(buf, size, "%.0f GiB", v / (1 << 30));
    else if (v >= 1 << 20) snprintf(buf, size, "%.0f MiB", v / (1 << 20));
    else snprintf(buf, size, "%.0f KiB", v / 1024);
}

/* Machine, build, date and the measured limits of one file. */
static void section_header(cnb_buf *b, const rp_file *f) {
    json_t *topo = f->cnb ? json_object_get(f->cnb, "topology") : NULL;
    char buf[512], cores[128] = "", caches[160] = "";
    cnb_buf_puts(b, "<table class=\"meta\">\n");
    row_kv(b, "result file", f->path);
    row_kv(b, "date", f->ctx ? jstr(f->ctx, "date") : NULL);
    row_kv(b, "CPU", f->cnb ? jstr(f->cnb, "cpu_model") : NULL);
    if (f->cnb && jstr(f->cnb, "features")) {
        const char *fu = jstr(f->cnb, "features_used");
        snprintf(buf, sizeof buf, "%s%s%s%s", jstr(f->cnb, "features"), fu ? " (in use: " : "", fu ? fu : "", fu ? ")" : "");
        row_kv(b, "features", buf);
    } else {
        row_kv(b, "features", NULL);
    }
    if (json_is_object(topo)) {
        snprintf(cores, sizeof cores, "%.0f cores, %.0f hardware threads, %.0f package%s", jnum(topo, "cores", 0),
                 jnum(topo, "pus", 0), jnum(topo, "packages", 0), jnum(topo, "packages", 0) == 1 ? "" : "s");
        json_t *cc = json_object_get(topo, "caches");
        char l1[32], l2[32], l3[32];
        fmt_bytes(l1, sizeof l1, jnum(cc, "l1d", 0));
        fmt_bytes(l2, sizeof l2, jnum(cc, "l2", 0));
        fmt_bytes(l3, sizeof l3, jnum(cc, "l3", 0));
        snprintf(caches, sizeof caches, "L1d %s, L2 %s, L3 %s", l1, l2, l3);
    } else if (f->ctx && json_is_number(json_object_get(f->ctx, "num_cpus"))) {
        snprintf(cores, sizeof cores, "%.0f CPUs", jnum(f->ctx, "num_cpus", 0));
    }
    row_kv(b, "cores", cores[0] ? cores : NULL);
    row_kv(b, "caches", caches[0] ? caches : NULL);
    if (f->ctx) {
        int n = snprintf(buf, sizeof buf, "%s", jstr(f->ctx, "host_name") ? jstr(f->ctx, "host_name") : "?");
        if (jnum(f->ctx, "mhz_per_cpu", 0) > 0)
            n += snprintf(buf + n, sizeof buf - (size_t)n, ", %.0f MHz", jnum(f->ctx, "mhz_per_cpu", 0));
        json_t *la = json_object_get(f->ctx, "load_avg");
        if (json_array_size(la) >= 1 && json_is_number(json_array_get(la, 0)))
            snprintf(buf + n, sizeof buf - (size_t)n, ", load average %.2f when the run started",
                     json_number_value(json_array_get(la, 0)));
        row_kv(b, "host", buf);
    }
    if (f->cnb) {
        snprintf(buf, sizeof buf, "cnnbench %s, commit %s, %s", jstr(f->cnb, "version") ? jstr(f->cnb, "version") : "?",
                 jstr(f->cnb, "git_commit") ? jstr(f->cnb, "git_commit") : "?",
                 jstr(f->cnb, "compiler") ? jstr(f->cnb, "compiler") : "?");
        row_kv(b, "build", buf);
        row_kv(b, "flags", jstr(f->cnb, "flags"));
    } else {
        row_kv(b, "build", f->ctx ? jstr(f->ctx, "cnnbench_build") : NULL);
    }
    // Suites, entries, thread counts.
    char suites[256] = "";
    size_t sn = 0;
    for (size_t l = 0; l < f->nl; l++) {
        bool seen = false;
        for (size_t k = 0; k < l && !seen; k++) seen = !strcmp(f->L[k].suite, f->L[l].suite);
        if (!seen && sn < sizeof suites) sn += (size_t)snprintf(suites + sn, sizeof suites - sn, "%s%s", sn ? ", " : "", f->L[l].suite);
    }
    snprintf(buf, sizeof buf, "%s: %zu distinct layers, %zu entries; threads", suites, f->nl, f->ne);
    for (int t = 0; t < f->nt; t++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%d", t ? ", " : " ", f->T[t]);
    if (f->n_failed) snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "; %zu failed agreement or could not run", f->n_failed);
    row_kv(b, "measured", buf);
    cnb_buf_puts(b, "</table>\n");

    // The measured machine limits, the roofs of the charts.
    json_t *th = f->peaks ? json_object_get(f->peaks, "threads") : NULL;
    if (json_is_array(th) && json_array_size(th)) {
        cnb_buf_puts(b, "<table class=\"peaks\"><tr><th>measured limit</th>");
        size_t i;
        json_t *v;
        json_array_foreach(th, i, v) cnb_buf_printf(b, "<th>%.0f thread%s</th>", json_number_value(v),
                                                    json_number_value(v) == 1 ? "" : "s");
        cnb_buf_puts(b, "</tr>\n");
        json_t *fg = json_object_get(f->peaks, "fma_gflops");
        const char *k;
        json_t *arr;
        json_object_foreach(fg, k, arr) {
            cnb_buf_puts(b, "<tr><td>");
            cnb_buf_esc(b, k);
            cnb_buf_puts(b, " FMA GFLOP/s</td>");
            json_array_foreach(th, i, v) {
                char n[32];
                cnb_fmt_num(n, sizeof n, json_number_value(json_array_get(arr, i)));
                cnb_buf_printf(b, "<td class=\"num\">%s</td>", n);
            }
            cnb_buf_puts(b, "</tr>\n");
        }
        static const char *const bw[][2] = {{"triad_dram_gbs", "DRAM triad GB/s"}, {"triad_l2_gbs", "L2 triad GB/s"}};
        for (size_t m = 0; m < 2; m++) {
            json_t *arr2 = json_object_get(f->peaks, bw[m][0]);
            if (!json_is_array(arr2)) continue;
            cnb_buf_printf(b, "<tr><td>%s</td>", bw[m][1]);
            json_array_foreach(th, i, v) {
                char n[32];
                cnb_fmt_num(n, sizeof n, json_number_value(json_array_get(arr2, i)));
                cnb_buf_printf(b, "<td class=\"num\">%s</td>", n);
            }
            cnb_buf_puts(b, "</tr>\n");
        }
        cnb_buf_puts(b, "</table>\n");
        if (jstr(f->peaks, "note")) {
            cnb_buf_puts(b, "<p class=\"note\">peaks: ");
            cnb_buf_esc(b, jstr(f->peaks, "note"));
            cnb_buf_puts(b, "</p>\n");
        }
    } else {
        cnb_buf_puts(b, "<p class=\"note\">This file records no measured peaks (context.cnnbench.peaks): the charts have no roofs.</p>\n");
    }
    if (f->skipped)
        cnb_buf_printf(b, "<p class=\"note\">%zu runs that are not cnnbench entries were left out.</p>\n", f->skipped);
    if (f->dropped_t)
        cnb_buf_printf(b, "<p class=\"note\">%zu entries at more than %d distinct thread counts were left out.</p>\n", f->dropped_t, MAX_T);
    if (f->n_failed) {
        cnb_buf_puts(b, "<div class=\"warn\"><b>Entries without a time</b> (failed the agreement check or could not run):<ul>\n");
        size_t shown = 0;
        for (size_t k = 0; k < f->ne && shown < 20; k++) {
            if (!f->e[k].failed) continue;
            shown++;
            cnb_buf_puts(b, "<li>");
            cnb_buf_esc(b, f->e[k].run_name);
            cnb_buf_puts(b, ": ");
            cnb_buf_esc(b, f->e[k].msg);
            cnb_buf_puts(b, "</li>\n");
        }
        if (f->n_failed > shown) cnb_buf_printf(b, "<li>... and %zu more</li>\n", f->n_failed - shown);
        cnb_buf_puts(b, "</ul></div>\n");
    }
}

/* Per layer and thread count: the best implementation and auto's choice against it. */
static void table_layers(cnb_buf *b, const rp_file *f) {
    bool has_auto = file_has_auto(f);
    cnb_buf_puts(b, "<div class=\"tw\"><table class=\"layers\"><tr><th rowspan=\"2\">layer</th><th rowspan=\"2\">input</th>"
                    "<th rowspan=\"2\">count</th><th rowspan=\"2\">bound</th>");
    for (int t = 0; t < f->nt; t++)
        cnb_buf_printf(b, "<th colspan=\"%d\">%d thread%s</th>", has_auto ? 4 : 2, f->T[t], f->T[t] == 1 ? "" : "s");
    cnb_buf_puts(b, "</tr>\n<tr>");
    for (int t = 0; t < f->nt; t++)
        cnb_buf_puts(b, has_auto ? "<th>best</th><th>time</th><th>auto's choice</th><th>vs best</th>" : "<th>best</th><th>time</th>");
    cnb_buf_puts(b, "</tr>\n");
    for (size_t l = 0; l < f->nl; l++) {
        const rp_layer *L = &f->L[l];
        cnb_buf_puts(b, "<tr><td title=\"");
        cnb_buf_esc(b, L->spec);
        cnb_buf_puts(b, "\">");
        cnb_buf_esc(b, L->name);
        cnb_buf_puts(b, "</td>");
        td_text(b, L->shape);
        cnb_buf_printf(b, "<td class=\"num\">%.0f</td>", L->count);
        td_text(b, L->memory ? "memory" : "compute");
        for (int t = 0; t < f->nt; t++) {
            const rp_entry *be = best_entry(f, l, f->T[t]);
            char tm[32];
            cnb_fmt_time(tm, sizeof tm, be ? be->ns : 0);
            td_text(b, be ? be->impl : NULL);
            cnb_buf_printf(b, "<td class=\"num\">%s</td>", tm);
            if (!has_auto) continue;
            const rp_entry *ae = L->auto_impl[0] ? find_entry(f, l, L->auto_impl, f->T[t]) : NULL;
            char pc[32];
            pct_over(pc, sizeof pc, ae ? ae->ns : 0, be ? be->ns : 0);
            td_text(b, L->auto_impl[0] ? L->auto_impl : NULL);
            bool slow = ae && be && ae->ns > 1.05 * be->ns;
            cnb_buf_printf(b, "<td class=\"num%s\">%s</td>", slow ? " bad" : "", ae && ae->ns > 0 ? pc : "not measured");
        }
        cnb_buf_puts(b, "</tr>\n");
    }
    cnb_buf_puts(b, "</table></div>\n");
}

static void table_network(cnb_buf *b, const rp_file *f, const rp_choice *ch, size_t nch) {
    cnb_buf_puts(b, "<table class=\"network\"><tr><th>choice</th>");
    for (int t = 0; t < f->nt; t++) cnb_buf_printf(b, "<th>%d thread%s</th><th>vs best</th>", f->T[t], f->T[t] == 1 ? "" : "s");
    cnb_buf_puts(b, "</tr>\n");
    for (size_t i = 0; i < nch; i++) {
        cnb_buf_printf(b, "<tr><td><span class=\"sw\" style=\"background:%s\"></span>", ch[i].color);
        cnb_buf_esc(b, ch[i].label);
        if (ch[i].partial) cnb_buf_printf(b, " <span class=\"note\">(covers %zu of %zu layers)</span>", ch[i].covered[0], f->nl);
        cnb_buf_puts(b, "</td>");
        for (int t = 0; t < f->nt; t++) {
            char tm[32], pc[32];
            cnb_fmt_time(tm, sizeof tm, ch[i].ns[t]);
            pct_over(pc, sizeof pc, ch[i].ns[t], ch[0].ns[t]);
            cnb_buf_printf(b, "<td class=\"num\">%s</td><td class=\"num\">%s</td>", tm, i ? pc : "");
        }
        cnb_buf_puts(b, "</tr>\n");
    }
    cnb_buf_puts(b, "</table>\n");
}

static void section_file(cnb_buf *b, const rp_report *r, size_t fi) {
    const rp_file *f = &r->f[fi];
    cnb_buf_printf(b, "<section id=\"f%zu\">\n<h2>[%zu] ", fi + 1, fi + 1);
    cnb_buf_esc(b, f->path);
    cnb_buf_puts(b, "</h2>\n");
    section_header(b, f);

    rp_choice *ch = calloc(MAX_CHOICES, sizeof *ch);
    size_t nch = ch ? network_choices(r, f, ch) : 0;
    if (!ch) b->oom = true;
    bool has_auto = file_has_auto(f);
    if (ch) {
        cnb_buf_puts(b, "<p class=\"callout\">");
        if (!has_auto) cnb_buf_puts(b, "auto's choice: not recorded in this file (no auto_impl field). ");
        for (int t = 0; t < f->nt; t++) {
            char tb[32], ta[32], pc[32];
            cnb_fmt_time(tb, sizeof tb, ch[0].ns[t]);
            cnb_buf_printf(b, "%s%d thread%s: best per layer %s", t ? "; " : "", f->T[t], f->T[t] == 1 ? "" : "s", tb);
            if (has_auto) {
                cnb_fmt_time(ta, sizeof ta, ch[1].ns[t]);
                pct_over(pc, sizeof pc, ch[1].ns[t], ch[0].ns[t]);
                if (ch[1].ns[t] > 0) cnb_buf_printf(b, ", auto's choice %s (%s)", ta, pc);
                else cnb_buf_puts(b, ", auto's choice not measured for every layer");
            }
        }
        cnb_buf_puts(b, "</p>\n");
    }

    cnb_buf_puts(b, "<h3>Per-layer throughput</h3>\n<p class=\"note\">One bar per implementation that passed the "
                    "agreement check; compute-bound layers in GFLOP/s against the FMA peak, memory-bound ones in GB/s. "
                    "Colours are implementation families (algorithm.isa), the same in every chart; hover for details.</p>\n"
                    "<div class=\"charts\">\n");
    for (int t = 0; t < f->nt; t++) chart_bars(b, r, f, fi, f->T[t]);
    cnb_buf_puts(b, "</div>\n<h3>Roofline</h3>\n<p class=\"note\">Arithmetic intensity (the layer's FLOPs over the "
                    "bytes it must move) against achieved GFLOP/s. Roofs: the measured FMA peak of each ISA, and the "
                    "DRAM (solid) and L2 (dashed) triad bandwidths.</p>\n<div class=\"charts\">\n");
    for (int t = 0; t < f->nt; t++) chart_roofline(b, r, f, fi, f->T[t]);
    cnb_buf_puts(b, "</div>\n<h3>Thread scaling</h3>\n");
    if (f->nt >= 2) {
        cnb_buf_puts(b, "<div class=\"charts\">\n");
        chart_scaling(b, r, f, fi, ch, nch);
        cnb_buf_puts(b, "</div>\n");
    } else {
        cnb_buf_printf(b, "<p class=\"note\">Measured at one thread count only (%d): run <code>cnnbench bench --threads "
                          "1,2</code> (or <code>scaling</code>) for curves.</p>\n", f->nt ? f->T[0] : 0);
    }
    cnb_buf_puts(b, "<h3>Whole network per implementation choice</h3>\n<p class=\"note\">Each layer's median time "
                    "times its count in the network, summed: the best implementation per layer, auto's choice, and "
                    "each implementation family (where a family does not cover a layer, that layer's best is used; "
                    "such bars are pale).</p>\n<div class=\"charts\">\n");
    for (int t = 0; ch && t < f->nt; t++) chart_network(b, f, fi, f->T[t], ch, nch);
    cnb_buf_puts(b, "</div>\n");
    if (ch) table_network(b, f, ch, nch);
    cnb_buf_puts(b, "<h3>Per layer: the best implementation and auto's choice</h3>\n");
    table_layers(b, f);
    cnb_buf_puts(b, "</section>\n");
    free(ch);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Comparison of several files (the first is the base)                                                   */

static const char *file_color(size_t fi) {
    return cnb_svg_color(fi + 2);
}

/* The layer of f that is L of another file: same suite, name and input shape; a file that does not record
 * shapes (older ones) matches by suite and name. (size_t)-1 when f does not have it. */
static size_t find_layer(const rp_file *f, const rp_layer *L) {
    json_t *pos = json_object_get(f->lindex, L->key);
    if (pos) return (size_t)json_integer_value(pos);
    for (size_t l = 0; l < f->nl; l++) {
        const rp_layer *M = &f->L[l];
        if ((!M->shape[0] || !L->shape[0]) && !strcmp(M->suite, L->suite) && !strcmp(M->name, L->name)) return l;
    }
    return (size_t)-1;
}

/* Per layer, the best time in each other file over the base's, at T, on a log scale centred on 1. */
static void chart_compare(cnb_buf *out, const rp_report *r, int T, rp_choice *const *ch, const size_t *nch) {
    const rp_file *base = &r->f[0];
    int tb = t_index(base, T);
    const double W = 590, left = 150, right = W - 20;
    size_t nother = r->nf - 1;
    double bh = nother <= 2 ? 9 : 6;
    cnb_buf b = {0}, rows = {0};
    char title[128], id[64];
    snprintf(title, sizeof title, "Time against [1], %d thread%s (best implementation per layer)", T, T == 1 ? "" : "s");
    snprintf(id, sizeof id, "chart-compare-t%d", T);
    cnb_svg_text(&b, 10, 18, "start", 0, "ctitle", title);
    double x = 10, y = 38;
    for (size_t k = 1; k < r->nf; k++) {
        char lab[64];
        snprintf(lab, sizeof lab, "[%zu] / [1]", k + 1);
        x = cnb_svg_legend_item(&b, x, y, file_color(k), lab);
    }
    cnb_svg_text(&b, x, y, "start", 0, "legend", "(below 1: faster than [1])");
    y += 14;
    // Rows: the whole network (best per layer; auto's choice), then the layers of the base in order.
    typedef struct { char label[80]; double ratio[MAX_FILES]; bool strong; } crow;
    size_t cap = base->nl + 2, nr = 0;
    crow *cr = calloc(cap, sizeof *cr);
    double rmax = 1;
    for (int kind = 0; cr && kind < 2; kind++) {
        crow *c = &cr[nr];
        snprintf(c->label, sizeof c->label, kind ? "network: auto" : "network: best");
        c->strong = true;
        bool any = false;
        for (size_t k = 1; k < r->nf; k++) {
            int t = t_index(&r->f[k], T);
            c->ratio[k] = NAN;
            if (t < 0 || tb < 0 || nch[k] <= (size_t)kind || nch[0] <= (size_t)kind) continue;
            if (ch[k][kind].kind != kind || ch[0][kind].kind != kind) continue;
            double v = ch[k][kind].ns[t] / ch[0][kind].ns[tb];
            if (v > 0 && isfinite(v)) c->ratio[k] = v, any = true;
        }
        nr += any;
    }
    for (size_t l = 0; cr && l < base->nl; l++) {
        const rp_entry *eb = best_entry(base, l, T);
        crow *c = &cr[nr];
        layer_label(c->label, sizeof c->label, &base->L[l]);
        bool any = false;
        for (size_t k = 1; k < r->nf; k++) {
            size_t lk = find_layer(&r->f[k], &base->L[l]);
            const rp_entry *ek = lk != (size_t)-1 ? best_entry(&r->f[k], lk, T) : NULL;
            c->ratio[k] = eb && ek ? ek->ns / eb->ns : NAN;
            any |= eb && ek;
        }
        nr += any;
    }
    for (size_t i = 0; i < nr; i++)
        for (size_t k = 1; k < r->nf; k++)
            if (cr[i].ratio[k] > 0) rmax = fmax(rmax, fmax(cr[i].ratio[k], 1 / cr[i].ratio[k]));
    double R = 2;
    while (R < rmax * 1.05 && R < 1e9) R = R == 2 ? 5 : R == 5 ? 10 : R * 10;
    cnb_scale xs = {1 / R, R, left, right, true};
    double y_top = y + 4;
    y = y_top;
    for (size_t i = 0; i < nr; i++) {
        double gh = fmax((double)nother * bh, 12);
        cnb_svg_text(&rows, left - 6, y + gh / 2 + 3.5, "end", 0, cr[i].strong ? "lab strong" : "lab", cr[i].label);
        for (size_t k = 1; k < r->nf; k++) {
            double v = cr[i].ratio[k];
            if (!(v > 0)) continue;
            double x0 = cnb_scale_map(&xs, 1), x1 = cnb_scale_map(&xs, v);
            cnb_buf_printf(&rows, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>",
                           fmin(x0, x1), y + (double)(k - 1) * bh + (gh - (double)nother * bh) / 2, fmax(fabs(x1 - x0), 1),
                           bh - 1, file_color(k));
            cnb_buf_esc(&rows, cr[i].label);
            cnb_buf_printf(&rows, ": [%zu] takes %.3gx the time of [1]</title></rect>\n", k + 1, v);
        }
        y += gh + 4;
        if (i + 1 < nr && cr[i].strong && !cr[i + 1].strong) y += 6;
    }
    free(cr);
    if (!nr) {
        cnb_svg_text(&b, 10, y + 16, "start", 0, "lab", "no layer timed in [1] and another file at this thread count");
        y += 40;
    } else {
        cnb_svg_axis_x(&b, &xs, y, y_top, "time ratio (log scale)");
        cnb_buf_printf(&b, "<line class=\"one\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", cnb_scale_map(&xs, 1), y_top,
                       cnb_scale_map(&xs, 1), y);
        cnb_buf_puts(&b, rows.s ? rows.s : "");
        y += 42;
    }
    b.oom |= rows.oom;
    cnb_buf_free(&rows);
    cnb_svg_open(out, id, "chart-compare", W, y, title);
    cnb_buf_puts(out, b.s ? b.s : "");
    out->oom |= b.oom;
    cnb_svg_close(out);
    cnb_buf_free(&b);
}

static void ratio_cell(cnb_buf *b, double v, double base) {
    if (v > 0 && base > 0) {
        double q = v / base;
        cnb_buf_printf(b, "<td class=\"num%s\">%.3f</td>", q < 0.95 ? " good" : q > 1.05 ? " bad" : "", q);
    } else {
        cnb_buf_puts(b, "<td class=\"num\">-</td>");
    }
}

static void section_compare(cnb_buf *b, const rp_report *r) {
    cnb_buf_puts(b, "<section id=\"compare\">\n<h2>Comparison</h2>\n<div class=\"tw\"><table class=\"files\"><tr><th>file</th><th>path</th>"
                    "<th>machine</th><th>build</th><th>date</th></tr>\n");
    for (size_t k = 0; k < r->nf; k++) {
        const rp_file *f = &r->f[k];
        cnb_buf_printf(b, "<tr><td><span class=\"sw\" style=\"background:%s\"></span>[%zu]</td>", k ? file_color(k) : "#fff", k + 1);
        td_text(b, f->path);
        const char *m = f->cnb ? jstr(f->cnb, "machine") : NULL, *bd = f->cnb ? jstr(f->cnb, "build") : NULL;
        if (!m && f->ctx) m = jstr(f->ctx, "cnnbench_machine");
        if (!bd && f->ctx) bd = jstr(f->ctx, "cnnbench_build");
        td_text(b, m);
        td_text(b, bd);
        td_text(b, f->ctx ? jstr(f->ctx, "date") : NULL);
        cnb_buf_puts(b, "</tr>\n");
    }
    cnb_buf_puts(b, "</table></div>\n<p class=\"note\">Ratios are time in the file over time in [1]: below 1 is faster "
                    "(green below 0.95, red above 1.05). Timings on a shared machine vary by 15-20% between runs; use "
                    "<code>cnnbench compare</code> for a significance test over the repetitions.</p>\n");

    // Thread counts that [1] and at least one other file have.
    const rp_file *base = &r->f[0];
    rp_choice *ch[MAX_FILES] = {NULL};
    size_t nch[MAX_FILES] = {0};
    bool oom = false;
    for (size_t k = 0; k < r->nf; k++) {
        ch[k] = calloc(MAX_CHOICES, sizeof *ch[k]);
        if (!ch[k]) oom = true;
        else nch[k] = network_choices(r, &r->f[k], ch[k]);
    }
    if (oom) {
        b->oom = true;
        for (size_t k = 0; k < r->nf; k++) free(ch[k]);
        return;
    }
    cnb_buf_puts(b, "<div class=\"charts\">\n");
    for (int t = 0; t < base->nt; t++) {
        bool shared = false;
        for (size_t k = 1; k < r->nf; k++) shared |= t_index(&r->f[k], base->T[t]) >= 0;
        if (shared) chart_compare(b, r, base->T[t], ch, nch);
    }
    cnb_buf_puts(b, "</div>\n");

    // Whole-network totals per file, matched by the choice's label.
    cnb_buf_puts(b, "<h3>Whole network per file</h3>\n<table class=\"cmpnet\"><tr><th>choice</th><th>threads</th>");
    for (size_t k = 0; k < r->nf; k++) cnb_buf_printf(b, "<th>[%zu]</th>", k + 1);
    for (size_t k = 1; k < r->nf; k++) cnb_buf_printf(b, "<th>[%zu]/[1]</th>", k + 1);
    cnb_buf_puts(b, "</tr>\n");
    for (size_t i = 0; i < nch[0]; i++) {
        if (ch[0][i].partial) continue;
        for (int t = 0; t < base->nt; t++) {
            double v[MAX_FILES];
            for (size_t k = 0; k < r->nf; k++) {
                v[k] = NAN;
                int tk = t_index(&r->f[k], base->T[t]);
                for (size_t j = 0; j < nch[k] && tk >= 0; j++)
                    if (!ch[k][j].partial && !strcmp(ch[k][j].label, ch[0][i].label)) v[k] = ch[k][j].ns[tk];
            }
            cnb_buf_puts(b, "<tr>");
            td_text(b, ch[0][i].label);
            cnb_buf_printf(b, "<td class=\"num\">%d</td>", base->T[t]);
            for (size_t k = 0; k < r->nf; k++) {
                char tm[32];
                cnb_fmt_time(tm, sizeof tm, v[k]);
                cnb_buf_printf(b, "<td class=\"num\">%s</td>", tm);
            }
            for (size_t k = 1; k < r->nf; k++) ratio_cell(b, v[k], v[0]);
            cnb_buf_puts(b, "</tr>\n");
        }
    }
    cnb_buf_puts(b, "</table>\n");
    for (size_t k = 0; k < r->nf; k++) free(ch[k]);

    // Every (layer, implementation, threads) of any file.
    cnb_buf_puts(b, "<h3>Per layer and implementation</h3>\n<div class=\"tw\"><table class=\"cmp\"><tr><th>layer</th><th>implementation</th>"
                    "<th>threads</th>");
    for (size_t k = 0; k < r->nf; k++) cnb_buf_printf(b, "<th>[%zu]</th>", k + 1);
    for (size_t k = 1; k < r->nf; k++) cnb_buf_printf(b, "<th>[%zu]/[1]</th>", k + 1);
    cnb_buf_puts(b, "</tr>\n");
    for (size_t k0 = 0; k0 < r->nf; k0++) {
        const rp_file *fk = &r->f[k0];
        for (size_t q = 0; q < fk->ne; q++) {
            const rp_entry *e = &fk->e[q];
            const rp_layer *L = &fk->L[e->layer];
            // A row belongs to the first file that has it.
            bool earlier = false;
            for (size_t j = 0; j < k0 && !earlier; j++) {
                size_t lj = find_layer(&r->f[j], L);
                earlier = lj != (size_t)-1 && find_entry(&r->f[j], lj, e->impl, e->threads);
            }
            if (earlier) continue;
            double v[MAX_FILES];
            const char *fail[MAX_FILES] = {NULL};
            for (size_t k = 0; k < r->nf; k++) {
                size_t lk = find_layer(&r->f[k], L);
                const rp_entry *ek = lk != (size_t)-1 ? find_entry(&r->f[k], lk, e->impl, e->threads) : NULL;
                v[k] = ek ? ek->ns : NAN;
                if (ek && ek->failed) fail[k] = "failed";
            }
            cnb_buf_puts(b, "<tr><td title=\"");
            cnb_buf_esc(b, L->spec);
            cnb_buf_puts(b, "\">");
            cnb_buf_esc(b, L->name);
            cnb_buf_puts(b, "</td>");
            td_text(b, e->impl);
            cnb_buf_printf(b, "<td class=\"num\">%d</td>", e->threads);
            for (size_t k = 0; k < r->nf; k++) {
                char tm[32];
                cnb_fmt_time(tm, sizeof tm, v[k]);
                cnb_buf_printf(b, "<td class=\"num%s\">%s</td>", fail[k] ? " bad" : "", fail[k] ? fail[k] : tm);
            }
            for (size_t k = 1; k < r->nf; k++) ratio_cell(b, v[k], v[0]);
            cnb_buf_puts(b, "</tr>\n");
        }
    }
    cnb_buf_puts(b, "</table></div>\n</section>\n");
}

/* ---------------------------------------------------------------------------------------------------- */

static const char k_css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',Arial,sans-serif;margin:18px 22px;"
    "color:#222;background:#fff}\n"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;border-bottom:2px solid #ddd;padding-bottom:3px;margin:26px 0 8px}"
    "h3{font-size:15px;margin:18px 0 4px}\n"
    "table{border-collapse:collapse;font-size:12px;margin:6px 0 10px}th,td{border:1px solid #ddd;padding:2px 6px;"
    "text-align:left;vertical-align:top}th{background:#f5f5f5;font-weight:600}td.num{text-align:right;"
    "font-variant-numeric:tabular-nums;white-space:nowrap}table.meta th{width:90px}\n"
    ".charts{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}svg.chart{border:1px solid #e2e2e2;"
    "background:#fff}\n"
    "svg text{fill:#222}.ctitle{font-size:13px;font-weight:600}.ptitle{font-size:11px;font-weight:600}"
    ".shead{font-size:11px;font-weight:600;fill:#444}.tick{font-size:10px;fill:#555}.axislabel{font-size:11px;fill:#333}"
    ".legend{font-size:11px}.lab{font-size:10px}.lab.strong{font-weight:600}.val{font-size:10px;fill:#444}"
    ".rooflab{font-size:10px;fill:#333}\n"
    ".grid{stroke:#e8e8e8}.grid.minor{stroke:#f4f4f4}.axisline{stroke:#999}.bar.auto{stroke:#000;stroke-width:1.2}"
    ".bar.partial{opacity:.45}.roof{fill:none;stroke:#333;stroke-width:1.6}.roof.l2{stroke-dasharray:6 3}"
    ".roof.isa{stroke:#999;stroke-width:1.2;stroke-dasharray:2 3}.roofmark{stroke:#555;stroke-dasharray:4 3}"
    ".ideal{fill:none;stroke:#888;stroke-width:1.4;stroke-dasharray:5 4}.curve{fill:none;stroke-width:2}"
    ".pt{stroke:#fff;stroke-width:.7}.pt.auto{stroke:#000;stroke-width:1.4}.one{stroke:#333}"
    ".swatch{stroke:#666;stroke-width:.5}\n"
    ".good{color:#1a7f37}.bad{color:#c62828}.note{color:#555;font-size:12px;margin:2px 0 6px}"
    ".warn{background:#fff4e5;border:1px solid #f0c36d;padding:4px 10px;font-size:12px}"
    ".callout{font-weight:600}.sw{display:inline-block;width:10px;height:10px;margin-right:5px;border:1px solid #999}"
    ".tw{overflow-x:auto;max-width:100%}nav a{margin-right:14px}code{background:#f4f4f4;padding:0 3px}\n";

static cnb_status write_report(const rp_report *r, cnb_buf *b) {
    cnb_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>cnnbench report</title>\n<style>\n");
    cnb_buf_puts(b, k_css);
    cnb_buf_puts(b, "</style>\n</head>\n<body>\n<h1>cnnbench report</h1>\n<p class=\"note\">");
    for (size_t k = 0; k < r->nf; k++) {
        cnb_buf_printf(b, "%s[%zu] ", k ? "; " : "", k + 1);
        cnb_buf_esc(b, r->f[k].path);
    }
    cnb_buf_puts(b, ". Times are the medians of the repetitions; every chart and table comes from these files "
                    "alone.</p>\n<nav>");
    for (size_t k = 0; k < r->nf; k++) {
        cnb_buf_printf(b, "<a href=\"#f%zu\">[%zu] ", k + 1, k + 1);
        const char *slash = strrchr(r->f[k].path, '/');
        cnb_buf_esc(b, slash ? slash + 1 : r->f[k].path);
        cnb_buf_puts(b, "</a>");
    }
    if (r->nf > 1) cnb_buf_puts(b, "<a href=\"#compare\">comparison</a>");
    cnb_buf_puts(b, "</nav>\n");
    for (size_t k = 0; k < r->nf; k++) section_file(b, r, k);
    if (r->nf > 1) section_compare(b, r);
    cnb_buf_printf(b, "<p class=\"note\">Made by <code>cnnbench report</code> %s.</p>\n</body>\n</html>\n",
                   cnb_build_facts_here()->version);
    return b->oom ? CNB_E_NOMEM : CNB_OK;
}

static void print_help(void) {
    fputs(USAGE "\n"
          "  One self-contained HTML page (inline SVG and CSS; no scripts, nothing fetched) from result files of\n"
          "  `cnnbench bench --out`: per file the machine and build, per-layer GFLOP/s (GB/s for memory-bound layers)\n"
          "  of every implementation, a roofline under the measured peaks, thread scaling, whole-network time per\n"
          "  implementation choice and auto's choice against the best; with several files a comparison against the\n"
          "  first. Times are the median aggregate of each entry, else the median of its repetitions.\n"
          "  --out FILE    where to write the page ('-' for standard output)\n",
          stdout);
}

int cnb_cmd_report(int argc, char **argv) {
    const char *paths[MAX_FILES], *out = NULL;
    size_t np = 0;
    bool only_files = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!only_files && !strcmp(a, "--")) {
            only_files = true;
        } else if (only_files || a[0] != '-' || !a[1]) {
            if (np == MAX_FILES) return cmd_error("at most %d result files", MAX_FILES);
            paths[np++] = a;
        } else if (!strcmp(a, "--out") || !strncmp(a, "--out=", 6)) {
            if (a[5] == '=') out = a + 6;
            else if (i + 1 < argc) out = argv[++i];
            else return cmd_error("--out needs a file name");
            if (!*out) return cmd_error("--out needs a file name");
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_help();
            return 0;
        } else {
            return cmd_error("unknown option '%s' (" USAGE ")", a);
        }
    }
    if (!np) return cmd_error("no result files (" USAGE ")");
    if (!out) return cmd_error("--out FILE is required ('-' for standard output)");

    rp_report *r = calloc(1, sizeof *r);
    if (!r) return cmd_error("out of memory");
    int status = 0;
    for (size_t k = 0; k < np && !status; k++) {
        r->nf++;
        if (!load_file(&r->f[k], paths[k])) status = 2;
    }
    cnb_buf b = {0};
    if (!status) {
        index_families(r);
        if (write_report(r, &b) != CNB_OK) status = cmd_error("out of memory writing the report");
    }
    if (!status) {
        bool to_stdout = !strcmp(out, "-");
        FILE *fo = to_stdout ? stdout : fopen(out, "wb");
        if (!fo) {
            fprintf(stderr, "cnnbench: report: cannot write %s: %s\n", out, strerror(errno));
            status = 1;
        } else {
            bool ok = fwrite(b.s, 1, b.len, fo) == b.len;
            ok &= to_stdout ? fflush(fo) == 0 : fclose(fo) == 0;
            if (!ok) {
                fprintf(stderr, "cnnbench: report: error writing %s\n", out);
                status = 1;
            } else if (!to_stdout) {
                fprintf(stderr, "cnnbench: report: wrote %s (%zu files, %zu KiB)\n", out, np, (b.len + 1023) / 1024);
            }
        }
    }
    cnb_buf_free(&b);
    for (size_t k = 0; k < r->nf; k++) free_file(&r->f[k]);
    free(r);
    return status;
}
