/* `cnnbench compare BASE.json NEW.json`: the CI regression gate over two Google Benchmark (1.7) JSON
 * result files written with --benchmark_out and --benchmark_repetitions. Entries pair by run_name; each
 * side's samples are the real_time of its repetitions; a one-sided Mann-Whitney U test (mannwhitney.c)
 * plus a change threshold decide. Exit 0: no regression; 1: regression; 2: usage or file error. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/status.h"
#include "harness/cmd.h"
#include "harness/gbjson.h"
#include "harness/mannwhitney.h"

enum { EXIT_PASS = 0, EXIT_REGRESSION = 1, EXIT_USAGE = 2 };

#define USAGE "usage: cnnbench compare BASE.json NEW.json [--threshold PCT] [--alpha A] [--allow-different-machine]"

typedef struct bench_entry {
    const char *key;       /* run_name (or name); points into the parsed JSON, which outlives the entry */
    double *t;             /* real_time of the "iteration" runs that did not fail, in ns */
    size_t n, cap;
    double agg_median;     /* real_time of the "median" aggregate, in ns, if has_agg_median */
    bool has_agg_median;
    double on_cpu;         /* the smallest on_cpu_share of its repetitions (cnnbench bench); 1 when absent */
    bool failed;           /* some run has error_occurred or "agreement": "fail" */
    const char *fail_msg;  /* the first failing run's error_message, or NULL */
} bench_entry;

typedef struct result_file {
    const char *path;
    json_t *root;
    json_t *index;            /* key -> position in e[]: jansson's object is a hash table */
    bench_entry *e;
    size_t n, cap;
    const char *cnb_machine;  /* context.cnnbench.machine, NULL when absent */
    const char *cnb_build;    /* context.cnnbench.build, NULL when absent */
    char host[512];           /* context.host_name and num_cpus: the fallback machine identity */
    char mhz[64];             /* context.mhz_per_cpu, shown but not compared */
} result_file;

/* One line on stderr; returns exit status 2 (usage errors, unusable files, refused comparisons). */
static int cmd_error(const char *fmt, ...) CNB_PRINTF(1, 2);
static int cmd_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("cnnbench: compare: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_USAGE;
}

static bool file_error(const char *path, const char *fmt, ...) CNB_PRINTF(2, 3);
static bool file_error(const char *path, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cnnbench: compare: %s: ", path);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return false;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        file_error(path, "cannot open: %s", strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *grown = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
        if (!grown) free(buf);
        buf = grown;
        cap *= 2;
    }
    if (!buf) {
        fclose(f);
        file_error(path, "out of memory reading the file");
        return NULL;
    }
    // fread on a directory or a failing disk sets the error flag rather than returning an error.
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        free(buf);
        file_error(path, "read error: %s", e ? strerror(e) : "unknown");
        return NULL;
    }
    fclose(f);
    *len = n;
    return buf;
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

/* real_time of run i in ns: a finite non-negative number in time_unit (ns when absent, GB's default). */
static bool run_time_ns(const result_file *rf, size_t i, const char *key, json_t *run, double *ns) {
    json_t *rt = json_object_get(run, "real_time"), *tu = json_object_get(run, "time_unit");
    double scale = 1;
    if (tu && (!json_is_string(tu) || !unit_scale(json_string_value(tu), &scale)))
        return file_error(rf->path, "benchmarks[%zu] (%s): time_unit must be \"ns\", \"us\", \"ms\" or \"s\"", i, key);
    if (!json_is_number(rt))
        return file_error(rf->path, "benchmarks[%zu] (%s): real_time is missing or not a finite number", i, key);
    double v = json_number_value(rt);
    if (!isfinite(v) || v < 0)
        return file_error(rf->path, "benchmarks[%zu] (%s): real_time %g is not a finite non-negative time", i, key, v);
    *ns = v * scale;
    return true;
}

static bench_entry *entry_for(result_file *rf, const char *key) {
    json_t *pos = json_object_get(rf->index, key);
    if (pos) return &rf->e[json_integer_value(pos)];
    if (rf->n == rf->cap) {
        size_t cap = rf->cap ? rf->cap * 2 : 64;
        bench_entry *grown = realloc(rf->e, cap * sizeof *grown);
        if (!grown) return NULL;
        rf->e = grown;
        rf->cap = cap;
    }
    if (json_object_set_new(rf->index, key, json_integer((json_int_t)rf->n))) return NULL;
    bench_entry *e = &rf->e[rf->n++];
    *e = (bench_entry){.key = key, .on_cpu = 1};
    return e;
}

static bool add_sample(bench_entry *e, double ns) {
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        double *grown = realloc(e->t, cap * sizeof *grown);
        if (!grown) return false;
        e->t = grown;
        e->cap = cap;
    }
    e->t[e->n++] = ns;
    return true;
}

static void read_context(result_file *rf, json_t *ctx) {
    json_t *cnb = json_object_get(ctx, "cnnbench");
    // Google Benchmark's AddCustomContext only writes flat strings, so accept cnnbench_machine too.
    json_t *m = json_is_object(cnb) ? json_object_get(cnb, "machine") : json_object_get(ctx, "cnnbench_machine");
    json_t *b = json_is_object(cnb) ? json_object_get(cnb, "build") : json_object_get(ctx, "cnnbench_build");
    rf->cnb_machine = json_is_string(m) ? json_string_value(m) : NULL;
    rf->cnb_build = json_is_string(b) ? json_string_value(b) : NULL;

    json_t *host = json_object_get(ctx, "host_name"), *cpus = json_object_get(ctx, "num_cpus");
    json_t *mhz = json_object_get(ctx, "mhz_per_cpu");
    char cpu_str[64] = "? cpus";
    if (json_is_number(cpus)) snprintf(cpu_str, sizeof cpu_str, "%.0f cpus", json_number_value(cpus));
    snprintf(rf->host, sizeof rf->host, "host %s, %s", json_is_string(host) ? json_string_value(host) : "?", cpu_str);
    if (json_is_number(mhz)) snprintf(rf->mhz, sizeof rf->mhz, "%.0f MHz", json_number_value(mhz));
}

/* Load and index one result file; on failure prints one line naming the file and returns false. */
static bool load_result(result_file *rf, const char *path) {
    *rf = (result_file){.path = path};
    size_t len = 0, clean_len = 0;
    char *raw = read_all(path, &len);
    if (!raw) return false;
    char *clean = cnb_gbjson_sanitize(raw, len, &clean_len);
    free(raw);
    if (!clean) return file_error(path, "out of memory reading the file");
    json_error_t jerr;
    rf->root = json_loadb(clean, clean_len, 0, &jerr);
    free(clean);
    if (!rf->root) return file_error(path, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
    if (!json_is_object(rf->root)) return file_error(path, "not a Google Benchmark result: the top level is not an object");
    json_t *ctx = json_object_get(rf->root, "context");
    if (ctx && !json_is_object(ctx)) return file_error(path, "\"context\" is not an object");
    json_t *runs = json_object_get(rf->root, "benchmarks");
    if (!json_is_array(runs)) return file_error(path, "not a Google Benchmark result: no \"benchmarks\" array");
    if (ctx) read_context(rf, ctx);
    else snprintf(rf->host, sizeof rf->host, "unknown (no context)");
    rf->index = json_object();
    if (!rf->index) return file_error(path, "out of memory");

    size_t i;
    json_t *run;
    json_array_foreach(runs, i, run) {
        if (!json_is_object(run)) return file_error(path, "benchmarks[%zu] is not an object", i);
        json_t *k = json_object_get(run, "run_name");
        if (!json_is_string(k)) k = json_object_get(run, "name");
        if (!json_is_string(k)) return file_error(path, "benchmarks[%zu] has no \"run_name\" or \"name\" string", i);
        const char *key = json_string_value(k);
        json_t *type = json_object_get(run, "run_type");
        const char *rtype = json_is_string(type) ? json_string_value(type) : "iteration";
        if (type && !json_is_string(type)) return file_error(path, "benchmarks[%zu] (%s): run_type is not a string", i, key);
        bool aggregate = !strcmp(rtype, "aggregate");
        if (!aggregate && strcmp(rtype, "iteration"))
            return file_error(path, "benchmarks[%zu] (%s): unknown run_type \"%s\"", i, key, rtype);

        bench_entry *e = entry_for(rf, key);
        if (!e) return file_error(path, "out of memory");
        json_t *agr = json_object_get(run, "agreement");
        bool failed = json_is_true(json_object_get(run, "error_occurred")) ||
                      (json_is_string(agr) && !strcmp(json_string_value(agr), "fail"));
        if (failed) {
            if (!e->failed) {
                json_t *msg = json_object_get(run, "error_message");
                e->fail_msg = json_is_string(msg) ? json_string_value(msg) : "agreement: fail";
            }
            e->failed = true;
            continue;  // a failed run's time measures nothing useful
        }
        double ns;
        if (aggregate) {
            json_t *an = json_object_get(run, "aggregate_name");
            if (!json_is_string(an) || strcmp(json_string_value(an), "median")) continue;
            if (!run_time_ns(rf, i, key, run, &ns)) return false;
            e->agg_median = ns;
            e->has_agg_median = true;
        } else {
            if (!run_time_ns(rf, i, key, run, &ns)) return false;
            if (!add_sample(e, ns)) return file_error(path, "out of memory");
            json_t *oc = json_object_get(run, "on_cpu_share");
            if (json_is_number(oc) && json_number_value(oc) < e->on_cpu) e->on_cpu = json_number_value(oc);
        }
    }
    return true;
}

static void free_result(result_file *rf) {
    for (size_t i = 0; i < rf->n; i++) free(rf->e[i].t);
    free(rf->e);
    json_decref(rf->index);
    json_decref(rf->root);
}

static bench_entry *find(const result_file *rf, const char *key) {
    json_t *pos = json_object_get(rf->index, key);
    return pos ? &rf->e[json_integer_value(pos)] : NULL;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Median in ns and the sample count behind it: the repetitions, else the "median" aggregate (one
 * value), else none (count 0). Sorts e->t in place. */
static size_t entry_median(bench_entry *e, double *med) {
    if (e->n) {
        qsort(e->t, e->n, sizeof *e->t, cmp_double);
        size_t h = e->n / 2;
        *med = e->n % 2 ? e->t[h] : (e->t[h - 1] + e->t[h]) / 2;
        return e->n;
    }
    if (e->has_agg_median) {
        *med = e->agg_median;
        return 1;
    }
    return 0;
}

typedef enum verdict_class { V_SLOWER, V_FASTER, V_SAME, V_DISAPPEARED, V_FAILING, V_NEW, V_UNTIMED } verdict_class;

typedef struct row {
    const char *key;
    double mb, mn;        /* medians in ns, valid when nb / nn > 0 */
    size_t nb, nn;        /* samples behind them */
    double p;             /* NaN: no test */
    verdict_class cls;
    const char *verdict;  /* the words in the verdict column */
    const char *note;     /* appended in parentheses, or NULL */
    char busy[96];        /* the note for a change measured on a busy machine */
} row;

/* An on_cpu_share below this marks a time measured while something else had the cores (cmd_bench.c). */
#define BUSY_SHARE 0.9

static void fmt_time(char *buf, size_t size, double ns, size_t count) {
    if (!count) {
        snprintf(buf, size, "-");
        return;
    }
    static const struct { double ns; const char *unit; } units[] = {{1e9, "s"}, {1e6, "ms"}, {1e3, "us"}, {1, "ns"}};
    size_t u = 0;
    while (u + 1 < sizeof units / sizeof units[0] && ns < units[u].ns) u++;
    double v = ns / units[u].ns;
    snprintf(buf, size, "%.*f %s", v >= 100 ? 1 : v >= 10 ? 2 : 3, v, units[u].unit);
}

/* Decide one paired entry that has a median on both sides. */
static cnb_status judge(row *r, bench_entry *b, bench_entry *n, double thr, double alpha, cnb_error *err) {
    double ratio = r->mb > 0 ? r->mn / r->mb : (r->mn > 0 ? INFINITY : 1);
    double change = ratio - 1;
    bool slower = change > thr, faster = change < -thr;
    if (r->nb < 2 || r->nn < 2) {
        r->cls = slower ? V_SLOWER : faster ? V_FASTER : V_SAME;
        r->verdict = slower ? "slower" : faster ? "faster" : "same";
        r->note = "no test: 1 sample";
        return CNB_OK;
    }
    cnb_mwu_result t;
    cnb_status st = cnb_mwu_test(b->t, b->n, n->t, n->n, &t, err);
    if (st != CNB_OK) return st;
    // Report the one-sided p of the direction the medians moved; "new larger" means slower.
    r->p = change > 0 ? t.p_greater : change < 0 ? t.p_less : fmin(t.p_greater, t.p_less);
    bool sig = r->p < alpha;
    if (sig && slower) r->cls = V_SLOWER, r->verdict = "slower";
    else if (sig && faster) r->cls = V_FASTER, r->verdict = "faster";
    else r->cls = V_SAME, r->verdict = sig ? "same (noise)" : "same (not significant)";
    return CNB_OK;
}

static bool parse_threshold(const char *s, double *pct) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno) return false;
    if (*end == '%') end++;
    if (*end || !isfinite(v) || v < 0) return false;
    *pct = v;
    return true;
}

static bool parse_alpha(const char *s, double *alpha) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !(v > 0 && v < 1)) return false;
    *alpha = v;
    return true;
}

static void print_help(void) {
    fputs(USAGE "\n"
          "  Compare two Google Benchmark JSON result files (--benchmark_out, --benchmark_repetitions=R).\n"
          "  Entries pair by run_name; samples are the real_time of the repetitions (else the median aggregate).\n"
          "  An entry is slower/faster when a one-sided Mann-Whitney U test gives p < alpha and the median\n"
          "  moved by more than the threshold.\n"
          "  --threshold PCT              smallest change that counts, in percent (default 5)\n"
          "  --alpha A                    significance level, 0 < A < 1 (default 0.05)\n"
          "  --allow-different-machine    compare results from different machines (warns)\n"
          "  A change whose repetitions ran with their threads on a CPU less than 90% of the time (on_cpu_share,\n"
          "  written by cnnbench bench) is noted as measured on a busy machine; the verdict stands.\n"
          "  Exit status: 0 no regression; 1 an entry is slower, disappeared or fails agreement in NEW;\n"
          "  2 usage error or unreadable/malformed file, or different machines.\n",
          stdout);
}

/* Print the table, the summary and the verdict line; returns the exit status. */
static int report(result_file *base, result_file *cur, double thr_pct, double alpha) {
    row *rows = calloc(base->n + cur->n + 1, sizeof *rows);
    if (!rows) return cmd_error("out of memory");
    size_t nr = 0, n_busy = 0;
    int status = EXIT_PASS;
    for (size_t i = 0; i < base->n + cur->n; i++) {
        bool from_base = i < base->n;
        bench_entry *b = from_base ? &base->e[i] : NULL, *n = from_base ? NULL : &cur->e[i - base->n];
        if (from_base) n = find(cur, b->key);
        else if (find(base, n->key)) continue;  // already paired in the first pass
        row *r = &rows[nr++];
        *r = (row){.key = from_base ? b->key : n->key, .p = NAN};
        if (b) r->nb = entry_median(b, &r->mb);
        if (n) r->nn = entry_median(n, &r->mn);
        if (!n) {
            r->cls = V_DISAPPEARED, r->verdict = "DISAPPEARED";
        } else if (n->failed) {
            r->cls = V_FAILING, r->verdict = "FAILS AGREEMENT", r->note = n->fail_msg;
        } else if (!b) {
            r->cls = V_NEW, r->verdict = "new";
        } else if (!r->nb || !r->nn) {
            r->cls = V_UNTIMED, r->verdict = "not compared";
            r->note = !r->nn ? "no timing in NEW" : b->failed ? "base failed agreement" : "no timing in BASE";
        } else {
            cnb_error err = {0};
            if (judge(r, b, n, thr_pct / 100, alpha, &err) != CNB_OK) {
                int st = cmd_error("%s: %s", r->key, err.msg);
                free(rows);
                return st;
            }
            if (b->failed) r->note = "base failed agreement";
            // A time taken while other work had the cores is inflated: say so beside a changed entry.
            if (r->cls == V_SLOWER || r->cls == V_FASTER) {
                const bench_entry *busy = n->on_cpu < BUSY_SHARE ? n : b->on_cpu < BUSY_SHARE ? b : NULL;
                if (busy) {
                    snprintf(r->busy, sizeof r->busy, "%s measured on a busy machine: threads on a CPU %.0f%% of the time",
                             busy == n ? "NEW" : "BASE", 100 * busy->on_cpu);
                    if (!r->note) r->note = r->busy;
                    n_busy++;
                }
            }
        }
    }

    int kw = (int)strlen("benchmark");
    for (size_t i = 0; i < nr; i++)
        if ((int)strlen(rows[i].key) > kw) kw = (int)strlen(rows[i].key);
    printf("%-*s  %11s  %11s  %8s  %9s  %s\n", kw, "benchmark", "base", "new", "change", "p", "verdict");
    size_t count[V_UNTIMED + 1] = {0}, n_geo = 0;
    double log_sum = 0;
    for (size_t i = 0; i < nr; i++) {
        const row *r = &rows[i];
        char tb[32], tn[32], ch[32] = "-", pv[32] = "-";
        fmt_time(tb, sizeof tb, r->mb, r->nb);
        fmt_time(tn, sizeof tn, r->mn, r->nn);
        if (r->nb && r->nn && r->mb > 0) snprintf(ch, sizeof ch, "%+.1f%%", (r->mn / r->mb - 1) * 100);
        if (!isnan(r->p)) snprintf(pv, sizeof pv, "%.3g", r->p);
        printf("%-*s  %11s  %11s  %8s  %9s  %s", kw, r->key, tb, tn, ch, pv, r->verdict);
        if (r->note) {
            // Keep one row per entry even when an error message spans lines.
            fputs(" (", stdout);
            for (const char *c = r->note; *c; c++) putchar(*c == '\n' || *c == '\r' ? ' ' : *c);
            putchar(')');
        }
        putchar('\n');
        count[r->cls]++;
        bool compared = r->cls == V_SLOWER || r->cls == V_FASTER || r->cls == V_SAME;
        if (compared && r->mb > 0 && r->mn > 0) {
            log_sum += log(r->mn / r->mb);
            n_geo++;
        }
    }
    free(rows);

    printf("summary: %zu slower, %zu faster, %zu same; %zu disappeared, %zu failing agreement, %zu new",
           count[V_SLOWER], count[V_FASTER], count[V_SAME], count[V_DISAPPEARED], count[V_FAILING], count[V_NEW]);
    if (count[V_UNTIMED]) printf(", %zu not compared", count[V_UNTIMED]);
    if (n_busy) printf("; %zu change%s measured on a busy machine (see the notes)", n_busy, n_busy == 1 ? "" : "s");
    if (n_geo) printf("; geometric mean change %+.2f%% over %zu entries\n", (exp(log_sum / (double)n_geo) - 1) * 100, n_geo);
    else printf("; geometric mean change: none (nothing compared)\n");
    printf("(one-sided Mann-Whitney U on real_time, alpha %g, threshold %g%%)\n", alpha, thr_pct);
    if (count[V_SLOWER] || count[V_DISAPPEARED] || count[V_FAILING]) {
        status = EXIT_REGRESSION;
        printf("compare: FAIL (%zu slower, %zu disappeared, %zu failing agreement)\n", count[V_SLOWER],
               count[V_DISAPPEARED], count[V_FAILING]);
    } else {
        printf("compare: PASS\n");
    }
    return status;
}

int cnb_cmd_compare(int argc, char **argv) {
    const char *paths[2] = {NULL, NULL};
    size_t npaths = 0;
    double thr_pct = 5, alpha = 0.05;
    bool allow_machine = false, only_files = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!only_files && !strcmp(a, "--")) {
            only_files = true;
            continue;
        }
        if (only_files || a[0] != '-' || !a[1]) {
            if (npaths == 2) return cmd_error("unexpected argument '%s' (" USAGE ")", a);
            paths[npaths++] = a;
            continue;
        }
        // Options take "--opt VALUE" or "--opt=VALUE".
        const char *eq = strchr(a, '=');
        size_t name_len = eq ? (size_t)(eq - a) : strlen(a);
        const char *val = eq ? eq + 1 : NULL;
        bool is_thr = name_len == 11 && !strncmp(a, "--threshold", 11);
        bool is_alpha = name_len == 7 && !strncmp(a, "--alpha", 7);
        if (is_thr || is_alpha) {
            if (!val) {
                if (i + 1 >= argc) return cmd_error("%.*s needs a value", (int)name_len, a);
                val = argv[++i];
            }
            if (is_thr && !parse_threshold(val, &thr_pct))
                return cmd_error("--threshold '%s' is not a non-negative percentage", val);
            if (is_alpha && !parse_alpha(val, &alpha))
                return cmd_error("--alpha '%s' is not a number between 0 and 1 (exclusive)", val);
        } else if (!strcmp(a, "--allow-different-machine")) {
            allow_machine = true;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_help();
            return EXIT_PASS;
        } else {
            return cmd_error("unknown option '%s' (" USAGE ")", a);
        }
    }
    if (npaths != 2) return cmd_error("expected two result files (" USAGE ")");

    result_file base, cur;
    if (!load_result(&base, paths[0])) {
        free_result(&base);
        return EXIT_USAGE;
    }
    if (!load_result(&cur, paths[1])) {
        free_result(&base);
        free_result(&cur);
        return EXIT_USAGE;
    }

    // The cnnbench machine string names CPU model, ISA and cores; without it fall back to Google
    // Benchmark's host and CPU count. mhz_per_cpu is left out: GB 1.7 reads the current "cpu MHz"
    // from /proc/cpuinfo, which frequency scaling changes between runs on one machine.
    bool cnb_ids = base.cnb_machine && cur.cnb_machine;
    const char *mb = cnb_ids ? base.cnb_machine : base.host, *mn = cnb_ids ? cur.cnb_machine : cur.host;
    int status = EXIT_PASS;
    if (strcmp(mb, mn)) {
        if (!allow_machine) {
            status = cmd_error("different machines: %s has '%s', %s has '%s' (results are not comparable; "
                                 "use --allow-different-machine to compare anyway)",
                                 base.path, mb, cur.path, mn);
        } else {
            fprintf(stderr, "cnnbench: compare: warning: different machines: %s has '%s', %s has '%s'\n", base.path,
                    mb, cur.path, mn);
        }
    }
    if (!status && base.cnb_build && cur.cnb_build && strcmp(base.cnb_build, cur.cnb_build))
        fprintf(stderr, "cnnbench: compare: warning: different builds: %s has '%s', %s has '%s'\n", base.path,
                base.cnb_build, cur.path, cur.cnb_build);
    if (!status) {
        printf("base: %s (%zu entries; machine '%s'%s%s; build '%s')\n", base.path, base.n, mb, base.mhz[0] ? ", " : "",
               base.mhz, base.cnb_build ? base.cnb_build : "?");
        printf("new:  %s (%zu entries; machine '%s'%s%s; build '%s')\n", cur.path, cur.n, mn, cur.mhz[0] ? ", " : "",
               cur.mhz, cur.cnb_build ? cur.cnb_build : "?");
        status = report(&base, &cur, thr_pct, alpha);
    }
    free_result(&base);
    free_result(&cur);
    return status;
}
