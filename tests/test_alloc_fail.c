/* Resource failures, against the test build's library (cnnbench_lib_broken), whose allocator (core/alloc.c)
 * can fail the k-th allocation:
 *   - every implementation on every small generated layer of its kind it supports, and a few large ones
 *     (tests/test_layers.c): plan creation and two runs (1 thread, and one more thread than the plan was
 *     made for, with workspace NULL so that the run allocates) with allocation k failing, for k = 1, 2, ...
 *     until all succeed without an injected failure. Each failure must give CNB_E_NOMEM with a message,
 *     leave *plan NULL (a failed run writes nothing to the caller's buffers and leaves the plan usable: it
 *     is run again and checked), and leak nothing (allocations and frees are counted; the sanitizer
 *     build's LeakSanitizer checks too). Likewise plan-file loading, the suite reader and
 *     the .npy reader;
 *   - sizes that fit int64 but not memory: parameters of terabytes, a per-run workspace of terabytes, a
 *     parameter count whose bytes overflow size_t, and `cnnbench run` on a .npy whose header promises
 *     2 TB: a status and a message (the command: exit 1, one stderr line, no output), never a crash.
 *     Large allocations are made to fail by RLIMIT_AS (the sanitizers reserve too much address space for
 *     that: there allocator_may_return_null=1 and sizes above their 1 TB allocation limit do it);
 *   - core/ and kernels/ call no allocator but core/alloc.h's (a source scan).
 * Usage: test_alloc_fail CNNBENCH SOURCE_DIR. Exit 0 all passed, 1 a failure. */
#include <ctype.h>
#include <dirent.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/alloc.h"
#include "harness/npy.h"
#include "harness/suite.h"
#include "test_layers.h"
#include "test_util.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#if SANITIZED
// Allocations beyond memory must come back NULL, as from the C library, not abort the test.
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "allocator_may_return_null=1"; }
#endif

#define MAX_K 100000

static const char *g_cnnbench, *g_src;

/* ---- injected failures ------------------------------------------------------------------------------ */

/* One injected step's outcome: true when the armed failure fired inside it and made it fail, which must
 * then be as CNB_E_NOMEM with a message; false when it did not fire (then the step must have succeeded)
 * or the step succeeded anyway (an allocation whose failure is worked around). */
static bool fired_ok(const char *what, const char *where, int k, bool fired, cnb_status st, const cnb_error *e) {
    if (!fired) {
        tu_check(st == CNB_OK, what, "%s, allocation %d armed but not reached: failed anyway: %s", where, k, e->msg);
        return false;
    }
    if (st == CNB_OK) return false;   // a failure the code works around (a fallback, a shorter message)
    tu_check(st == CNB_E_NOMEM && e->msg[0], what, "%s failed at allocation %d: %s (\"%s\"), expected %s with a message",
             where, k, cnb_status_name(st), e->msg, cnb_status_name(CNB_E_NOMEM));
    return true;
}

/* Plan + run at 1 thread + run at more threads than the plan knows, allocation k failing. Returns true
 * when the armed failure did not fire (k is past the last allocation). */
static bool inject_once(size_t i, const tl_data *d, const tl_out *want, int k) {
    const char *name = cnb_impl_name(i);
    const long live0 = cnb_alloc_test_live();
    const int more = omp_get_max_threads() + 1;
    char where[96], what[160];
    cnb_error e = {0};
    cnb_plan *p = (cnb_plan *)&e;   // must come back NULL on failure
    tl_out o;
    if (!tl_out_alloc(d, &o)) return true;
    cnb_alloc_test_fail_at(k);
    cnb_status st = tl_plan(d, name, 0, &p, &e);
    bool done = false;
    snprintf(where, sizeof where, "%.60s: plan creation", d->id);
    if (st) {
        if (fired_ok(name, where, k, cnb_alloc_test_fired(), st, &e)) tu_check(p == NULL, name, "%s: *plan not NULL after a failure", where);
        else done = true;
        p = NULL;
    } else {
        for (int r = 0; r < 2 && !cnb_alloc_test_fired(); r++) {
            const int threads = r ? more : 1;
            snprintf(where, sizeof where, "%.60s: run at %d threads", d->id, threads);
            memset(&e, 0, sizeof e);
            tl_out_fill(d, &o);
            st = tl_run(p, d, NULL, &o, threads, NULL, &e);
            if (st && fired_ok(name, where, k, cnb_alloc_test_fired(), st, &e)) {
                // A failed run leaves the caller's buffers as they were: no partial output to mistake for one.
                tu_check(tl_out_untouched(d, &o, what, sizeof what), name, "%s, allocation %d failing: %s", where, k,
                         what);
                // The plan must still work: run it again (no failure armed any more) and check the result.
                cnb_alloc_test_fail_at(0);
                st = tl_run(p, d, NULL, &o, threads, NULL, &e);
                tu_check(st == CNB_OK, name, "%s: the plan fails after a failed run: %s", where, e.msg);
                if (!st && !cnb_impl_thread_invariant(i) && threads > 1) break;
                tu_check(st || tl_same(d, &o, want, what, sizeof what), name, "%s: wrong after a failed run: %s", where, what);
                break;
            }
            if (!st && (cnb_impl_thread_invariant(i) || threads == 1))
                tu_check(tl_same(d, &o, want, what, sizeof what), name, "%s: wrong output: %s", where, what);
        }
        done = !cnb_alloc_test_fired();
    }
    cnb_alloc_test_fail_at(0);
    cnb_plan_destroy(p);
    tl_out_free(&o);
    const long leaked = cnb_alloc_test_live() - live0;
    tu_check(leaked == 0, name, "%s on %s, allocation %d failing: %ld allocation(s) not freed", d->id, d->spec, k, leaked);
    return done;
}

static void inject_impls(const tl_data *layers, size_t n) {
    int total = 0, pairs = 0;
    for (size_t i = 0; i < cnb_impl_count(); i++)
        for (size_t l = 0; l < n; l++) {
            const tl_data *d = &layers[l];
            cnb_error e = {0};
            if (cnb_impl_kind(i) != d->layer.kind || cnb_impl_check(i, &d->layer, &d->in, &e)) continue;
            cnb_plan *p = NULL;
            tl_out want;
            if (!tl_out_alloc(d, &want)) continue;
            if (tl_plan(d, cnb_impl_name(i), 0, &p, &e) || tl_run(p, d, NULL, &want, 1, NULL, &e)) {
                tu_check(false, cnb_impl_name(i), "%s: without injected failures: %s", d->id, e.msg);
            } else {
                int k = 1;
                while (k < MAX_K && !inject_once(i, d, &want, k)) k++;
                tu_check(k < MAX_K, cnb_impl_name(i), "%s: still failing after %d allocations", d->id, MAX_K);
                total += k - 1;
                pairs++;
            }
            cnb_plan_destroy(p);
            tl_out_free(&want);
        }
    printf("injected: %d allocation failures over %d implementation x layer pairs\n", total, pairs);
}

/* Plan file loading, the suite reader and the .npy reader, allocation k failing in turn. */
static void inject_readers(void) {
    const char *dir = tu_tmpdir();
    char plan[512], npy[512], suites[1024];
    snprintf(plan, sizeof plan, "%s/plan.json", dir ? dir : "/tmp");
    snprintf(npy, sizeof npy, "%s/x.npy", dir ? dir : "/tmp");
    snprintf(suites, sizeof suites, "%s/suites", g_src);
    FILE *f = fopen(plan, "w");
    if (f) {
        fprintf(f, "{\"format\": \"cnnbench-plan\", \"version\": 1, \"rigor\": \"estimate\", \"created\": \"t\",\n"
                   " \"fingerprint\": {\"cpu_model\": \"x\", \"features\": \"none\", \"cores\": 1, \"build\": \"t\"},\n"
                   " \"entries\": [\n");
        for (int i = 0; i < 5; i++)
            fprintf(f, "%s  {\"spec\": \"MaxPool2d(%d)\", \"shape\": [1, 1, 9, 9], \"train\": false, \"threads\": 1, "
                       "\"impl\": \"maxpool2d.naive.scalar\", \"time_ns\": null, \"runner_up\": null, "
                       "\"runner_up_ns\": null, \"measured\": false}\n", i ? "," : "", i + 2);
        fprintf(f, "]}\n");
        fclose(f);
    }
    const float data[6] = {1, 2, 3, 4, 5, 6};
    const cnb_shape s6 = {.ndim = 2, .dims = {2, 3}};
    cnb_error e = {0};
    tu_check(cnb_npy_write_f32(npy, &s6, data, &e) == CNB_OK, "npy", "cannot write %s: %s", npy, e.msg);
    const char *names[] = {"plan file", "suite", "npy"};
    for (int which = 0; which < 3; which++) {
        int k = 1;
        for (; k < MAX_K; k++) {
            const long live0 = cnb_alloc_test_live();
            cnb_suite suite = {0};
            float *x = NULL;
            cnb_shape xs;
            memset(&e, 0, sizeof e);
            cnb_alloc_test_fail_at(k);
            const cnb_status st = which == 0 ? cnb_plan_file_load(plan, CNB_PLAN_FILE_ANY_MACHINE, &e)
                                : which == 1 ? cnb_suite_load("resnet50", suites, &suite, &e)
                                             : cnb_npy_read_f32(npy, &xs, &x, &e);
            const bool fired = cnb_alloc_test_fired();
            cnb_alloc_test_fail_at(0);
            char where[64];
            snprintf(where, sizeof where, "loading");
            if (fired_ok(names[which], where, k, fired, st, &e))
                tu_check(!x && !suite.layers && !suite.n, names[which], "allocation %d failing: a result left behind (%p %p %zu)",
                         k, (void *)x, (void *)suite.layers, suite.n);
            cnb_plan_file_unload();
            cnb_suite_free(&suite);
            cnb_free(x);
            tu_check(cnb_alloc_test_live() == live0, names[which], "allocation %d failing: %ld allocation(s) not freed",
                     k, cnb_alloc_test_live() - live0);
            if (!fired) break;
        }
        printf("injected: %d allocation failures into the %s reader\n", k - 1, names[which]);
    }
}

/* ---- sizes that do not fit memory ------------------------------------------------------------------- */

/* Whether malloc(bytes) fails here now; it is the condition for running code with fake buffers below. */
static bool too_big(size_t bytes) {
    void *p = malloc(bytes);
    free(p);
    return p == NULL;
}

static void huge_params(void) {
    // Parameters of 1.44 TB: plan creation copies them, and must say it cannot.
    cnb_layer L;
    cnb_error e = {0};
    cnb_layer_defaults(&L, CNB_CONV2D);
    L.u.conv.in_channels = L.u.conv.out_channels = 200000;
    L.u.conv.kernel_size[0] = L.u.conv.kernel_size[1] = 3;
    const cnb_shape in = {.ndim = 4, .dims = {1, 200000, 3, 3}};
    const size_t wbytes = (size_t)200000 * 200000 * 9 * sizeof(float);
    if (!too_big(wbytes)) {
        printf("skipped: huge parameters (a %zu-byte allocation succeeds here)\n", wbytes);
        return;
    }
    float small[16] = {0};
    for (size_t i = 0; i < cnb_impl_count(); i++) {
        if (cnb_impl_kind(i) != CNB_CONV2D || cnb_impl_check(i, &L, &in, &e)) continue;
        const cnb_params prm = {.weight = small};   // never read: the copy cannot be allocated
        cnb_plan *p = (cnb_plan *)&e;
        memset(&e, 0, sizeof e);
        const cnb_status st = cnb_plan_create(&L, &in, cnb_impl_name(i), &prm, &p, &e);
        tu_check(st == CNB_E_NOMEM && e.msg[0] && !p, cnb_impl_name(i),
                 "1.44 TB of weights: %s (\"%s\"), expected out of memory with a message", cnb_status_name(st), e.msg);
        if (!st) cnb_plan_destroy(p);
    }
}

static void overflowing_params(void) {
    // BatchNorm2d(2**62) on an empty batch is a valid layer whose 2**62 floats overflow size_t bytes.
    cnb_layer L;
    cnb_error e = {0};
    cnb_layer_defaults(&L, CNB_BATCHNORM2D);
    L.u.batchnorm2d.num_features = (int64_t)1 << 62;
    const cnb_shape in = {.ndim = 4, .dims = {0, (int64_t)1 << 62, 1, 1}};
    for (long i = -1; i < (long)cnb_impl_count(); i++) {
        if (i >= 0 && (cnb_impl_kind((size_t)i) != CNB_BATCHNORM2D || cnb_impl_check((size_t)i, &L, &in, &e))) continue;
        const char *name = i >= 0 ? cnb_impl_name((size_t)i) : "auto";
        cnb_plan *p = NULL;
        memset(&e, 0, sizeof e);
        const cnb_status st = cnb_plan_create(&L, &in, i >= 0 ? name : NULL, NULL, &p, &e);
        tu_check((st == CNB_E_NOMEM || st == CNB_E_OVERFLOW || st == CNB_E_INVALID_ARG) && e.msg[0] && !p, name,
                 "BatchNorm2d(2**62) on an empty batch: %s (\"%s\"), expected a size error with a message",
                 cnb_status_name(st), e.msg);
        if (!st) cnb_plan_destroy(p);
    }
}

static void huge_workspace(void) {
    // 1 x 16 x 100000 x 100000 (fits int64 and int): an implementation that reorders or packs the input needs
    // a workspace of its size, 640 GB; a run with workspace NULL must then say it cannot allocate it.
    // Fake (small) buffers are passed: the run is attempted only where that allocation fails here.
    cnb_layer L;
    cnb_error e = {0};
    cnb_layer_defaults(&L, CNB_CONV2D);
    L.u.conv.in_channels = L.u.conv.out_channels = 16;
    L.u.conv.kernel_size[0] = L.u.conv.kernel_size[1] = 3;
    L.u.conv.padding[0] = L.u.conv.padding[1] = 1;
    const cnb_shape in = {.ndim = 4, .dims = {1, 16, 100000, 100000}};
    float w[16 * 16 * 9] = {0}, fake[64] = {0};
    int tried = 0;
    for (size_t i = 0; i < cnb_impl_count(); i++) {
        if (cnb_impl_kind(i) != CNB_CONV2D || cnb_impl_check(i, &L, &in, &e)) continue;
        const cnb_params prm = {.weight = w};
        cnb_plan *p = NULL;
        memset(&e, 0, sizeof e);
        cnb_status st = cnb_plan_create(&L, &in, cnb_impl_name(i), &prm, &p, &e);
        if (st) {   // a plan that needs the memory up front may refuse here
            tu_check(st == CNB_E_NOMEM && e.msg[0], cnb_impl_name(i), "1x16x100000x100000: plan: %s (\"%s\")",
                     cnb_status_name(st), e.msg);
            continue;
        }
        const size_t ws = cnb_plan_workspace_size(p);
        if (ws > ((size_t)1 << 30) && too_big(ws)) {
            const cnb_run_args a = {.x = fake, .y = fake, .threads = 1};
            memset(&e, 0, sizeof e);
            st = cnb_plan_run(p, &a, &e);
            tu_check(st == CNB_E_NOMEM && e.msg[0], cnb_impl_name(i), "a %zu-byte workspace: run gave %s (\"%s\")", ws,
                     cnb_status_name(st), e.msg);
            tried++;
        }
        cnb_plan_destroy(p);
    }
    printf("huge workspaces: %d implementation(s) needing one were run\n", tried);
}

/* `cnnbench run` on a .npy whose header promises 2 TB of data (a sparse file of that size). */
static void huge_npy(void) {
    const char *dir = tu_tmpdir();
    char x[512], w[512], y[512], hdr[128];
    snprintf(x, sizeof x, "%s/huge.npy", dir);
    snprintf(w, sizeof w, "%s/w.npy", dir);
    snprintf(y, sizeof y, "%s/y.npy", dir);
    const int64_t side = 724000;   // 1 x 1 x side x side floats: 2.1e12 bytes
    const int64_t bytes = side * side * 4;
    snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, %lld, %lld), }",
             (long long)side, (long long)side);
    char header[128];
    const size_t len = strlen(hdr), total = (10 + len + 1 + 63) / 64 * 64;
    memset(header, ' ', sizeof header);
    memcpy(header, "\x93NUMPY\x01\x00", 8);
    header[8] = (char)((total - 10) & 0xff), header[9] = (char)((total - 10) >> 8);
    memcpy(header + 10, hdr, len);
    header[total - 1] = '\n';
    FILE *f = fopen(x, "wb");
    const bool made = f && fwrite(header, 1, total, f) == total && !ftruncate(fileno(f), (off_t)(total + (size_t)bytes));
    if (f) fclose(f);
    if (!made) {
        printf("skipped: huge .npy (cannot make a %lld-byte sparse file under %s)\n", (long long)bytes, dir);
        unlink(x);
        return;
    }
    const float one = 1.f;
    const cnb_shape ws = {.ndim = 4, .dims = {1, 1, 1, 1}};
    cnb_error e = {0};
    cnb_npy_write_f32(w, &ws, &one, &e);
    char out[4096], err[4096];
    // The command's own allocation fails: by the address-space limit, or in a sanitizer build because 2 TB
    // is above the sanitizer's allocation limit, with the option that makes that a NULL return.
    // The shell is a host program: in a cross build it runs natively (tu_run_host) and starts the command
    // through the emulator itself ($CNB_TEST_EXEC, unquoted: a command and its options, empty natively), since
    // the emulator cannot run the host's shell. qemu-user keeps the address-space limit: the guest's 2 TB
    // mmap fails as a native one does.
    char *args[] = {"-c",
                    SANITIZED ? "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1\" "
                                "TSAN_OPTIONS=\"${TSAN_OPTIONS:+$TSAN_OPTIONS:}allocator_may_return_null=1\" "
                                "exec $CNB_TEST_EXEC \"$0\" \"$@\""
                              : "ulimit -v 4000000 && exec $CNB_TEST_EXEC \"$0\" \"$@\"",
                    (char *)g_cnnbench, "run", "Conv2d(1, 1, kernel_size=(1, 1))", "--input", x, "--weight", w,
                    "--output", y, NULL};
    const int rc = tu_run_host("/bin/sh", args, out, sizeof out, err, sizeof err);
    // A sanitizer adds its own "==pid==WARNING: ... failed to allocate" line: not the command's.
    int lines = 0;
    for (const char *l = err; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l))
        lines += strncmp(l, "==", 2) != 0;
    tu_check(rc == 1 && lines == 1 && strstr(err, "allocate") && !tu_exists(y), "cli",
             "run on a 2 TB .npy: exit %d, stderr \"%s\", output %s", rc, err, tu_exists(y) ? "written" : "absent");
    unlink(x);
}

static void huge_sizes(void) {
    struct rlimit old;
    const bool limited = !SANITIZED && getrlimit(RLIMIT_AS, &old) == 0;
    if (limited) {
        // Address space now + 4 GB: whatever the machine's memory and overcommit policy, a terabyte fails.
        long pages = 0, page = sysconf(_SC_PAGESIZE);
        FILE *f = fopen("/proc/self/statm", "r");
        if (!f || fscanf(f, "%ld", &pages) != 1) pages = 0;
        if (f) fclose(f);
        struct rlimit lim = old;
        lim.rlim_cur = (rlim_t)pages * (rlim_t)page + ((rlim_t)4 << 30);
        if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < lim.rlim_cur) lim.rlim_cur = old.rlim_cur;
        if (setrlimit(RLIMIT_AS, &lim)) printf("note: setrlimit(RLIMIT_AS) failed; relying on the allocator\n");
    }
    huge_params();
    overflowing_params();
    huge_workspace();
    if (limited) setrlimit(RLIMIT_AS, &old);
    huge_npy();
}

/* ---- the source scan -------------------------------------------------------------------------------- */

/* Calls of the C allocator outside comments and strings in one file: each reported as file:line. */
static void scan_file(const char *path, const char *rel) {
    static const char *const calls[] = {"malloc", "calloc", "realloc", "aligned_alloc", "posix_memalign", "strdup",
                                        "strndup", "free", NULL};
    FILE *f = fopen(path, "r");
    if (!f) return;
    int line = 1, c, prev = 0, state = 0;   // 0 code, 1 // comment, 2 /* comment */, 3 string, 4 char
    char word[64];
    size_t wn = 0;
    char before = 0;   // the character before the current word
    while ((c = fgetc(f)) != EOF) {
        if (state == 0 && (isalnum(c) || c == '_')) {
            if (wn == 0) before = (char)prev;
            if (wn < sizeof word - 1) word[wn++] = (char)c;
        } else {
            if (wn) {
                word[wn] = 0;
                int d = c;
                while (d == ' ' || d == '\t') d = fgetc(f);
                if (d == '(' && before != '.' && before != '>')
                    for (int k = 0; calls[k]; k++)
                        if (!strcmp(word, calls[k]))
                            tu_check(false, "allocator", "%s:%d: calls %s(): use core/alloc.h's cnb_%s instead (the test "
                                     "build must be able to make every allocation fail)", rel, line, word,
                                     !strcmp(word, "strdup") || !strcmp(word, "strndup") || !strcmp(word, "posix_memalign")
                                         ? "malloc" : word);
                if (d != c) {
                    if (d == EOF) break;
                    c = d;
                }
                wn = 0;
            }
            if (state == 0) {
                if (prev == '/' && c == '/') state = 1;
                else if (prev == '/' && c == '*') state = 2, c = 0;
                else if (c == '"') state = 3;
                else if (c == '\'') state = 4;
            } else if (state == 1 && c == '\n') state = 0;
            else if (state == 2 && prev == '*' && c == '/') state = 0, c = 0;
            else if ((state == 3 && c == '"' && prev != '\\') || (state == 4 && c == '\'' && prev != '\\')) state = 0;
            else if ((state == 3 || state == 4) && prev == '\\' && c == '\\') c = 0;   // an escaped backslash
        }
        if (c == '\n') line++;
        prev = c;
    }
    fclose(f);
}

static int scan_dir(const char *dir, const char *rel) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        if (ent->d_name[0] == '.') continue;
        char path[2048], r[1024];
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        snprintf(r, sizeof r, "%s/%s", rel, ent->d_name);
        const size_t len = strlen(ent->d_name);
        if (ent->d_type == DT_DIR) n += scan_dir(path, r);
        else if (len > 2 && (!strcmp(ent->d_name + len - 2, ".c") || !strcmp(ent->d_name + len - 2, ".h")) &&
                 strcmp(r, "core/alloc.h") && strcmp(r, "core/alloc.c")) {
            scan_file(path, r);
            n++;
        }
    }
    closedir(d);
    return n;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        printf("usage: test_alloc_fail CNNBENCH SOURCE_DIR\n");
        return 2;
    }
    g_cnnbench = argv[1];
    g_src = argv[2];
    char dir[2048];
    int files = 0;
    snprintf(dir, sizeof dir, "%s/core", g_src);
    files += scan_dir(dir, "core");
    snprintf(dir, sizeof dir, "%s/kernels", g_src);
    files += scan_dir(dir, "kernels");
    tu_check(files > 10, "allocator", "found only %d source files under %s/core and kernels", files, g_src);

    tl_data layers[64];
    size_t n = 0;
    char why[512];
    for (size_t g = 0; g < tl_ngens && n < sizeof layers / sizeof layers[0]; g++) {
        if (tl_make(&tl_gens[g], g, 900 + g, &layers[n], why, sizeof why)) n++;
        else tu_check(false, "generated layer", "%s", why);
    }
    // A few of the large layers, for plan() paths the small ones miss (the transposed im2col GEMM, Winograd
    // with few tiles, the strided depthwise fast path, BN's fused statistics); the rest would only cost time.
    static const size_t large[] = {1, 2, 5, 12};
    for (size_t j = 0; j < sizeof large / sizeof large[0] && n < sizeof layers / sizeof layers[0]; j++) {
        const size_t g = large[j] < tl_nlarge ? large[j] : 0;
        if (tl_make(&tl_large[g], tl_ngens + g, 950 + g, &layers[n], why, sizeof why)) n++;
        else tu_check(false, "generated layer", "%s", why);
    }
    inject_impls(layers, n);
    inject_readers();
    huge_sizes();
    for (size_t l = 0; l < n; l++) tl_free(&layers[l]);
    tu_cleanup();
    return tu_summary("alloc_fail");
}
