/* Test of `cnnbench report`: two short benchmark runs of a three-layer suite (conv, max pool, BatchNorm),
 * reports of one file, of both, and of a file stripped to Google Benchmark's fields; the page must be
 * self-contained, and headless Chromium must render it with every chart holding the expected elements.
 * usage: test_report path/to/cnnbench. Exits 77 (skip) when chromium is not installed, or when running emulated
 * (a cross build under qemu), where chromium cannot run. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/bench_meta.h"
#include "harness/gbjson.h"
#include "harness/peak.h"
#include "harness/topo.h"
#include "test_util.h"

static const char *g_bin;
static char g_dir[256];

static char *path_in(const char *name) {
    static char buf[64][512];
    static int k;
    char *p = buf[k++ % 64];
    snprintf(p, 512, "%s/%s", g_dir, name);
    return p;
}

static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s) {
        size_t k = fread(s, 1, (size_t)n, f);
        s[k] = 0;
        if (len) *len = k;
    }
    fclose(f);
    return s;
}

static bool write_text(const char *path, const char *s) {
    FILE *f = fopen(path, "w");
    if (!f) return false;
    bool ok = fputs(s, f) >= 0;
    return fclose(f) == 0 && ok;
}

/* Debian's chromium, or the browser named by CNB_CHROMIUM; NULL when there is none. */
static const char *find_chromium(void) {
    static char found[1024];
    const char *env = getenv("CNB_CHROMIUM");
    if (env && *env) return access(env, X_OK) == 0 ? env : NULL;
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    static const char *const names[] = {"chromium", "chromium-browser"};
    for (size_t n = 0; n < sizeof names / sizeof names[0]; n++) {
        for (const char *p = path; *p;) {
            const char *colon = strchr(p, ':');
            size_t len = colon ? (size_t)(colon - p) : strlen(p);
            snprintf(found, sizeof found, "%.*s/%s", (int)len, p, names[n]);
            if (len && access(found, X_OK) == 0) return found;
            p += len + (colon ? 1 : 0);
        }
    }
    return NULL;
}

/* Expected element counts from a result file: timed (layer, implementation) entries per thread count. */
typedef struct expect {
    int T[8], nt;
    int timed[8];            /* entries with a time at T[i] */
    int layers;
} expect;

static bool read_expect(const char *path, expect *x) {
    memset(x, 0, sizeof *x);
    json_error_t je;
    json_t *root = cnb_gbjson_load_file(path, &je);
    if (!root) return false;
    json_t *seen = json_object(), *layers = json_object();
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(root, "benchmarks"), i, b) {
        const char *rn = json_string_value(json_object_get(b, "run_name"));
        const char *rt = json_string_value(json_object_get(b, "run_type"));
        const char *ag = json_string_value(json_object_get(b, "agreement"));
        if (!rn || !rt || strcmp(rt, "iteration") || json_object_get(seen, rn)) continue;
        json_object_set_new(seen, rn, json_true());
        json_object_set_new(layers, json_string_value(json_object_get(b, "layer")), json_true());
        if (!ag || strcmp(ag, "pass") || json_is_true(json_object_get(b, "error_occurred"))) continue;
        int t = (int)json_integer_value(json_object_get(b, "omp_threads"));
        int k = 0;
        while (k < x->nt && x->T[k] != t) k++;
        if (k == x->nt && x->nt < 8) x->T[x->nt++] = t;
        if (k < 8) x->timed[k]++;
    }
    x->layers = (int)json_object_size(layers);
    json_decref(seen);
    json_decref(layers);
    json_decref(root);
    return x->nt > 0;
}

/* The text of <svg id="id" ...> ... </svg> in html (a malloc'ed copy), or NULL. */
static char *svg_by_id(const char *html, const char *id) {
    char pat[128];
    snprintf(pat, sizeof pat, "<svg id=\"%s\"", id);
    const char *s = strstr(html, pat);
    if (!s) return NULL;
    const char *e = strstr(s, "</svg>");
    if (!e) return NULL;
    size_t n = (size_t)(e - s);
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = 0;
    }
    return c;
}

static int count(const char *s, const char *pat) {
    int n = 0;
    for (const char *p = s; s && (p = strstr(p, pat)); p += strlen(pat)) n++;
    return n;
}

static int count_svgs(const char *html, const char *cls) {
    char pat[96];
    snprintf(pat, sizeof pat, "class=\"chart %s\"", cls);
    return count(html, pat);
}

/* Chart id holds exactly (want >= 0) or at least (-want) elements with the opening pat. */
static void check_chart(const char *html, const char *where, const char *id, const char *pat, int want) {
    char *svg = svg_by_id(html, id);
    char what[256];
    snprintf(what, sizeof what, "%s: %s", where, id);
    tu_check(svg != NULL, what, "no <svg id=\"%s\">", id);
    if (!svg) return;
    int n = count(svg, pat);
    if (want >= 0) tu_check(n == want, what, "%d '%s' elements, expected %d", n, pat, want);
    else tu_check(n >= -want, what, "%d '%s' elements, expected at least %d", n, pat, -want);
    free(svg);
}

/* Everything a page needs is in it: no scripts, no fetched resources, no links out. */
static void check_self_contained(const char *html, const char *where) {
    static const char *const bad[] = {"<script", "<link", "<iframe", "<img", "@import", "url(", "http://", "https://",
                                      "src=\"", "src='"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        tu_check(!strstr(html, bad[i]), where, "the page contains '%s'", bad[i]);
    tu_check(!strncmp(html, "<!DOCTYPE html>", 15), where, "does not start with <!DOCTYPE html>");
    tu_check(strstr(html, "</html>") != NULL, where, "no </html>");
}

/* The charts of one file's section, against the counts its result file implies. */
static void check_file_charts(const char *html, const char *where, int fi, const expect *x, bool has_auto) {
    char id[64];
    for (int k = 0; k < x->nt; k++) {
        snprintf(id, sizeof id, "chart-bars-f%d-t%d", fi, x->T[k]);
        check_chart(html, where, id, "<rect class=\"bar", x->timed[k]);
        if (has_auto) check_chart(html, where, id, "<rect class=\"bar auto\"", -1);
        snprintf(id, sizeof id, "chart-roofline-f%d-t%d", fi, x->T[k]);
        check_chart(html, where, id, "<circle class=\"pt", x->timed[k]);
        check_chart(html, where, id, "<path class=\"roof", -2);  // compute roof with DRAM, L2
        snprintf(id, sizeof id, "chart-network-f%d-t%d", fi, x->T[k]);
        // best per layer, auto's choice, and the families (naive.scalar covers every layer).
        check_chart(html, where, id, "<rect class=\"bar", has_auto ? -3 : -2);
    }
    snprintf(id, sizeof id, "chart-scaling-f%d", fi);
    if (x->nt >= 2) {
        // Whole network and the three largest layers: one ideal line and at least one curve each.
        int panels = 1 + (x->layers < 3 ? x->layers : 3);
        check_chart(html, where, id, "<path class=\"ideal\"", panels + 1);  // + the legend's
        check_chart(html, where, id, "<path class=\"curve\"", -panels);
        check_chart(html, where, id, "<circle class=\"pt\"", -2 * panels);
    } else {
        char *svg = svg_by_id(html, id);
        tu_check(!svg, where, "%s present with one thread count", id);
        free(svg);
    }
}

static int chromium_run(const char *chromium, const char *profile, const char *mode, const char *html_path, char *out,
                        size_t out_size) {
    char ud[600], url[600], shot[600];
    snprintf(ud, sizeof ud, "--user-data-dir=%s", profile);
    snprintf(url, sizeof url, "file://%s", html_path);
    snprintf(shot, sizeof shot, "--screenshot=%s", mode);
    bool dump = !strcmp(mode, "dump");
    // Every host name fails to resolve: a page that needed the network would show it.
    char *args[] = {"60", (char *)chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--host-resolver-rules=MAP * ~NOTFOUND", ud, dump ? "--dump-dom" : shot, dump ? url : "--window-size=1280,2000", dump ? NULL : url, NULL};
    static char err[1 << 16];
    int rc = tu_run("/usr/bin/timeout", args, out, out_size, err, sizeof err);
    if (rc) printf("chromium exit %d; its stderr:\n%s\n", rc, err);
    return rc;
}

/* Remove what a result file from an older cnnbench would not have: the per-entry fields and the context. */
static bool strip_file(const char *in, const char *out) {
    json_error_t je;
    json_t *root = cnb_gbjson_load_file(in, &je);
    if (!root) return false;
    json_object_del(json_object_get(root, "context"), "cnnbench");
    size_t i;
    json_t *b;
    static const char *const fields[] = {"suite", "layer", "spec", "shape", "count", "impl", "auto_impl", "omp_threads",
                                         "flops", "bytes", "bound", "peak_per_s", "pct_peak", "agreement"};
    json_array_foreach(json_object_get(root, "benchmarks"), i, b) {
        for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) json_object_del(b, fields[k]);
    }
    bool ok = json_dump_file(root, out, JSON_INDENT(1)) == 0;
    json_decref(root);
    return ok;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_report path/to/cnnbench\n");
        return 2;
    }
    g_bin = argv[1];
    const char *tmp = tu_tmpdir();
    if (!tmp) {
        fprintf(stderr, "cannot make a temporary directory\n");
        return 1;
    }
    snprintf(g_dir, sizeof g_dir, "%s", tmp);
    char out[1 << 14], err[1 << 14];

    // A conv (compute-bound), a max pool and a BatchNorm (memory-bound); the conv runs twice per pass.
    tu_check(write_text(path_in("tiny.suite"),
                        "# test_report: three small layers\n"
                        "conv | Conv2d(8, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False) | 1,8,20,20 | 2\n"
                        "pool | MaxPool2d(kernel_size=2, stride=2) | 1,16,20,20 | 1\n"
                        "bn   | BatchNorm2d(16) | 1,16,10,10 | 1\n"),
             "suite", "cannot write the suite file");
    // The machine's limits, measured briefly (a full measurement takes seconds, many on a loaded machine)
    // and cached where both bench runs read them.
    cnb_topo topo;
    cnb_peaks peaks;
    cnb_error perr = {0};
    bool have_topo = cnb_topo_load(&topo, &perr) == CNB_OK;
    tu_check(have_topo && cnb_peaks_measure_scaled(&topo, 0.05, &peaks, &perr) == CNB_OK &&
                 cnb_peaks_save_cache(&topo, path_in("peaks.json"), &peaks, &perr) == CNB_OK,
             "peaks", "%s", perr.msg);
    if (have_topo) cnb_topo_free(&topo);
    const char *threads = sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? "1,2" : "1";
    for (int k = 0; k < 2; k++) {
        char *args[] = {"bench", "--suite", path_in("tiny.suite"), "--threads", (char *)threads, "--out",
                        path_in(k ? "b.json" : "a.json"), "--peaks-cache", path_in("peaks.json"),
                        "--benchmark_repetitions=2", "--benchmark_min_time=0.01", NULL};
        int rc = tu_run(g_bin, args, out, sizeof out, err, sizeof err);
        tu_check(rc == 0, "bench", "exit %d: %s", rc, err);
    }
    expect xa, xb;
    tu_check(read_expect(path_in("a.json"), &xa), "a.json", "no timed entries");
    tu_check(read_expect(path_in("b.json"), &xb), "b.json", "no timed entries");
    tu_check(strip_file(path_in("a.json"), path_in("old.json")), "old.json", "cannot write the stripped file");

    // The reports.
    {
        char *args[] = {"report", path_in("a.json"), "--out", path_in("one.html"), NULL};
        int rc = tu_run(g_bin, args, out, sizeof out, err, sizeof err);
        tu_check(rc == 0, "report one", "exit %d: %s", rc, err);
        char *args2[] = {"report", path_in("a.json"), path_in("b.json"), "--out", path_in("two.html"), NULL};
        rc = tu_run(g_bin, args2, out, sizeof out, err, sizeof err);
        tu_check(rc == 0, "report two", "exit %d: %s", rc, err);
        char *args3[] = {"report", path_in("old.json"), path_in("a.json"), "--out", path_in("old.html"), NULL};
        rc = tu_run(g_bin, args3, out, sizeof out, err, sizeof err);
        tu_check(rc == 0, "report stripped", "exit %d: %s", rc, err);
        char *args4[] = {"report", path_in("a.json"), "--out", "-", NULL};
        rc = tu_run(g_bin, args4, out, sizeof out, err, sizeof err);
        tu_check(rc == 0 && !strncmp(out, "<!DOCTYPE html>", 15), "report to stdout", "exit %d: %s", rc, err);
    }

    // Refusals: exit 2 and one line naming the problem; no page written.
    tu_check(write_text(path_in("bad.json"), "{\"benchmarks\": [ {\"name\": \"x\" ]}"), "bad.json", "cannot write");
    tu_check(write_text(path_in("other.json"), "{\"benchmarks\": [{\"name\": \"BM_other\", \"real_time\": 1}]}"),
             "other.json", "cannot write");
    tu_check(write_text(path_in("badtime.json"),
                        "{\"benchmarks\": [{\"name\": \"bench/x.y.z/s:l/threads:1\", \"real_time\": \"fast\"}]}"),
             "badtime.json", "cannot write");
    struct { const char *what; char *args[6]; const char *msg; } refusals[] = {
        {"no files", {"report", "--out", path_in("n1.html"), NULL}, "no result files"},
        {"no --out", {"report", path_in("a.json"), NULL}, "--out"},
        {"missing file", {"report", path_in("nonexistent.json"), "--out", path_in("n2.html"), NULL}, "cannot open"},
        {"malformed JSON", {"report", path_in("bad.json"), "--out", path_in("n3.html"), NULL}, "invalid JSON"},
        {"no cnnbench entries", {"report", path_in("other.json"), "--out", path_in("n4.html"), NULL}, "no cnnbench entries"},
        {"bad real_time", {"report", path_in("badtime.json"), "--out", path_in("n5.html"), NULL}, "real_time"},
        {"unknown option", {"report", path_in("a.json"), "--colour", "--out", path_in("n6.html"), NULL}, "unknown option"},
    };
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        int rc = tu_run(g_bin, refusals[i].args, out, sizeof out, err, sizeof err);
        tu_check(rc == 2 && strstr(err, refusals[i].msg) && tu_count_lines(err) == 1, refusals[i].what,
                 "exit %d, stderr '%s' (expected 2 and '%s')", rc, err, refusals[i].msg);
    }
    for (int k = 1; k <= 6; k++) {
        char name[16];
        snprintf(name, sizeof name, "n%d.html", k);
        tu_check(!tu_exists(path_in(name)), "refusal", "%s was written", name);
    }

    // The pages as written: self-contained, with the charts' elements (also checks the stripped file's).
    char *one = read_text(path_in("one.html"), NULL), *two = read_text(path_in("two.html"), NULL);
    char *old = read_text(path_in("old.html"), NULL);
    tu_check(one && two && old, "pages", "a report is missing");
    if (one && two && old) {
        check_self_contained(one, "one.html");
        check_self_contained(two, "two.html");
        check_self_contained(old, "old.html");
        check_file_charts(one, "one.html", 1, &xa, true);
        tu_check(count_svgs(one, "chart-compare") == 0, "one.html", "a comparison chart with one file");
        // The stripped file loses per-entry fields but keeps names and rate counters: same bars, no auto
        // outline, no roofs (no peaks), but the points (flops and bytes from the counters).
        char *bars = svg_by_id(old, "chart-bars-f1-t1");
        tu_check(bars && count(bars, "<rect class=\"bar") == xa.timed[0] && !strstr(bars, "bar auto"), "old.html",
                 "chart-bars-f1-t1 has %d bars (expected %d, none outlined)", count(bars, "<rect class=\"bar"), xa.timed[0]);
        free(bars);
        check_chart(old, "old.html", "chart-roofline-f1-t1", "<circle class=\"pt", xa.timed[0]);
        tu_check(strstr(old, "not recorded in this file") != NULL, "old.html", "no note that auto's choice is missing");
        tu_check(strstr(old, "records no measured peaks") != NULL, "old.html", "no note that peaks are missing");
    }

    // A cross build's tests run under an emulator (qemu-aarch64), which tu_run puts in front of every program:
    // the host's chromium (x86-64; Debian has no arm64 one to install beside it) cannot run through it.
    char emu[256];
    if (cnb_emulated(emu, sizeof emu)) {
        printf("SKIP: rendering checks: running emulated (%s), and chromium cannot run through the emulator\n", emu);
        free(one), free(two), free(old);
        int st = tu_summary("report");
        tu_cleanup();
        return st ? st : 77;
    }
    const char *chromium = find_chromium();
    if (!chromium) {
        printf("SKIP: rendering checks need Debian's chromium (apt-get install chromium), not found in PATH "
               "(or set CNB_CHROMIUM)\n");
        free(one), free(two), free(old);
        int st = tu_summary("report");
        tu_cleanup();
        return st ? st : 77;
    }

    // Rendered by Chromium: the DOM it built must hold the charts.
    size_t dom_size = 16 << 20;
    char *dom = malloc(dom_size);
    tu_check(dom != NULL, "dom", "out of memory");
    // The two-file page holds the one-file page's section as its first: one browser start covers both.
    if (dom) {
        const char *page = "two.html (rendered)";
        char profile[600];
        snprintf(profile, sizeof profile, "%s/profile-dom", g_dir);
        mkdir(profile, 0700);
        int rc = chromium_run(chromium, profile, "dump", path_in("two.html"), dom, dom_size);
        tu_check(rc == 0 && strstr(dom, "<svg"), page, "chromium --dump-dom failed (exit %d)", rc);
        if (!rc) {
            tu_check(strstr(dom, "cnnbench report") != NULL, page, "rendered DOM has no title");
            check_file_charts(dom, page, 1, &xa, true);
            check_file_charts(dom, page, 2, &xb, true);
            // Per shared thread count: rows "network: best", "network: auto" and the layers, one bar each.
            for (int k = 0; k < xa.nt; k++) {
                char id[64];
                snprintf(id, sizeof id, "chart-compare-t%d", xa.T[k]);
                check_chart(dom, page, id, "<rect class=\"bar\"", 2 + xa.layers);
            }
            tu_check(strstr(dom, "class=\"cmp\"") && strstr(dom, "class=\"cmpnet\""), page, "no comparison tables");
        }
    }
    free(dom);

    // A screenshot of the two-file page: a PNG of the window's size, with content (a blank page is a few KB).
    char profile[600];
    snprintf(profile, sizeof profile, "%s/profile-shot", g_dir);
    mkdir(profile, 0700);
    int rc = chromium_run(chromium, profile, path_in("two.png"), path_in("two.html"), out, sizeof out);
    size_t png_len = 0;
    char *png = read_text(path_in("two.png"), &png_len);
    tu_check(rc == 0 && png, "screenshot", "no PNG (exit %d)", rc);
    if (png) {
        const unsigned char *u = (const unsigned char *)png;
        bool sig = png_len > 24 && !memcmp(png, "\x89PNG\r\n\x1a\n", 8) && !memcmp(png + 12, "IHDR", 4);
        unsigned w = sig ? (unsigned)u[16] << 24 | u[17] << 16 | u[18] << 8 | u[19] : 0;
        unsigned h = sig ? (unsigned)u[20] << 24 | u[21] << 16 | u[22] << 8 | u[23] : 0;
        tu_check(sig && w == 1280 && h == 2000, "screenshot", "not a 1280x2000 PNG (%ux%u)", w, h);
        tu_check(png_len > 40000, "screenshot", "only %zu bytes: the page looks blank", png_len);
    }
    free(png);
    free(one), free(two), free(old);
    int st = tu_summary("report");
    if (!st) tu_cleanup();
    else printf("files kept in %s\n", g_dir);
    return st;
}
