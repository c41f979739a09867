/* Determinism of every registered implementation, over the generated layers of every kind (random float
 * data, BN in training and eval; small ones for the edge paths, large ones for the vector loops and the
 * multi-thread splits) and the PyTorch golden cases (tests/golden/cases.tsv):
 *   - run to run: the same plan run again, and (generated layers) a second plan of the same layer, give the
 *     same bits, at every thread count tried;
 *   - thread counts 1, 2, 3, 4 and the core count (golden cases: 1 and 3, to stay fast): bit-identical
 *     outputs, indices and running statistics
 *     for every implementation that does not carry CNB_IMPL_THREAD_VARIANT (cnb_impl_thread_invariant);
 *     for those that do, how often they differed is reported (a flag that never shows is noted, not failed).
 * NaN equals NaN whatever its payload. A new kernel needs no edit here. Exit 0 all passed, 1 a failure. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_layers.h"
#include "test_util.h"

#define MAX_COUNTS 5

static int g_counts[MAX_COUNTS], g_ncounts;
static int g_varied[512], g_tried[512];   /* per implementation: layers where thread counts differed */

static void add_count(int t) {
    for (int i = 0; i < g_ncounts; i++)
        if (g_counts[i] == t) return;
    if (g_ncounts < MAX_COUNTS) g_counts[g_ncounts++] = t;
}

/* One plan run at threads into o; false (a FAIL recorded) when it fails. */
static bool run(const cnb_plan *p, const tl_data *d, tl_out *o, int threads, const char *name) {
    cnb_error e = {0};
    if (!tl_out_alloc(d, o)) {
        tu_check(false, name, "%s: out of memory for the outputs", d->id);
        return false;
    }
    if (tl_run(p, d, NULL, o, threads, NULL, &e)) {
        tu_check(false, name, "%s: run at %d threads: %s", d->id, threads, e.msg);
        tl_out_free(o);
        return false;
    }
    return true;
}

/* full: the second plan and every thread count (generated layers); else 1 and 3 threads (golden cases:
 * many small layers, where 3 splits the work unevenly). */
static void check_impl(size_t i, const tl_data *d, bool full) {
    const char *name = cnb_impl_name(i);
    const bool invariant = cnb_impl_thread_invariant(i);
    cnb_error e = {0};
    cnb_plan *p = NULL, *p2 = NULL;
    if (tl_plan(d, name, 0, &p, &e)) {
        tu_check(false, name, "%s (%s): plan: %s", d->id, d->spec, e.msg);
        return;
    }
    char what[160];
    tl_out base, o;
    if (!run(p, d, &base, 1, name)) goto done;
    // Another plan of the same layer: what plan() prepares (packing, blocking) must not vary either.
    if (!full) {
    } else if (tl_plan(d, name, 0, &p2, &e)) tu_check(false, name, "%s: second plan: %s", d->id, e.msg);
    else if (run(p2, d, &o, 1, name)) {
        tu_check(tl_same(d, &o, &base, what, sizeof what), name, "%s (%s): a second plan differs at 1 thread: %s",
                 d->id, d->spec, what);
        tl_out_free(&o);
    }
    bool varied = false;
    static const int golden_counts[] = {3};
    const int ncounts = full ? g_ncounts : 1;
    for (int k = 0; k < ncounts; k++) {
        const int t = full ? g_counts[k] : golden_counts[k];
        tl_out first;
        if (!run(p, d, &first, t, name)) continue;
        if (run(p, d, &o, t, name)) {
            tu_check(tl_same(d, &o, &first, what, sizeof what), name, "%s (%s): run to run at %d threads: %s", d->id,
                     d->spec, t, what);
            tl_out_free(&o);
        }
        const bool same = tl_same(d, &first, &base, what, sizeof what);
        if (!same) varied = true;
        if (invariant)
            tu_check(same, name, "%s (%s): %d threads vs 1 thread: %s (the implementation is registered as "
                     "thread-invariant: give it CNB_IMPL_THREAD_VARIANT in core/impls.def, or fix its reduction "
                     "order)", d->id, d->spec, t, what);
        tl_out_free(&first);
    }
    if (i < sizeof g_tried / sizeof g_tried[0]) g_tried[i]++, g_varied[i] += varied;
    tl_out_free(&base);
done:
    cnb_plan_destroy(p2);
    cnb_plan_destroy(p);
}

static void check_all(const tl_data *d, bool full) {
    for (size_t i = 0; i < cnb_impl_count(); i++) {
        if (cnb_impl_kind(i) != d->layer.kind) continue;
        cnb_error why = {0};
        if (cnb_impl_check(i, &d->layer, &d->in, &why)) continue;   // not for this layer or CPU
        check_impl(i, d, full);
    }
}

int main(int argc, char **argv) {
    const char *golden = argc > 1 ? argv[1] : CNB_GOLDEN_DIR;
    int cores = omp_get_num_procs();
    for (int t = 2; t <= 4; t++) add_count(t);
    if (cores > 1) add_count(cores);
    printf("thread counts: 1 and");
    int most = 1;
    for (int k = 0; k < g_ncounts; k++) {
        printf(" %d", g_counts[k]);
        if (g_counts[k] > most) most = g_counts[k];
    }
    printf("\n");
    // Plans size their per-thread workspace slots by omp_get_max_threads() and run more threads as that
    // many: raise it so that every count above really splits the work its own way, on any machine.
    if (omp_get_max_threads() < most) omp_set_num_threads(most);

    char why[512];
    for (size_t g = 0; g < tl_ngens + tl_nlarge; g++) {
        tl_data d;
        const tl_gen *gen = g < tl_ngens ? &tl_gens[g] : &tl_large[g - tl_ngens];
        if (!tl_make(gen, g, 1000 + g, &d, why, sizeof why)) tu_check(false, "generated layer", "%s", why);
        else check_all(&d, true);
        tl_free(&d);
    }

    char path[1024], line[4096];
    snprintf(path, sizeof path, "%s/cases.tsv", golden);
    FILE *f = fopen(path, "r");
    tu_check(f != NULL, "golden", "cannot open %s", path);
    int ncases = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *id = line, *flags = strchr(id, '\t'), *spec = flags ? strchr(flags + 1, '\t') : NULL;
        if (!spec) continue;   // tests/test_impls.c reports malformed lines
        *flags++ = 0, *spec++ = 0;
        tl_data d;
        if (!tl_golden(golden, id, flags, spec, &d, why, sizeof why)) tu_check(false, "golden", "%s: %s", id, why);
        else {
            ncases++;
            check_all(&d, false);
        }
        tl_free(&d);
    }
    if (f) fclose(f);
    printf("%zu generated layers, %d golden cases\n", tl_ngens + tl_nlarge, ncases);
    for (size_t i = 0; i < cnb_impl_count() && i < sizeof g_tried / sizeof g_tried[0]; i++) {
        if (!g_tried[i]) continue;
        if (cnb_impl_thread_invariant(i)) printf("  %-34s thread-invariant: checked on %d layers\n", cnb_impl_name(i), g_tried[i]);
        else
            printf("  %-34s thread-variant:  differed between thread counts on %d of %d layers%s\n", cnb_impl_name(i),
                   g_varied[i], g_tried[i], g_varied[i] ? "" : " (note: never seen to vary here)");
    }
    return tu_summary("determinism");
}
