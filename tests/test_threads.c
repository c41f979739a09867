/* Thread safety, over every registered implementation and the generated layers of every kind:
 *   - concurrent runs: one plan run from 4 pthreads at once, 20 runs each, every thread with its own input
 *     and output buffers, half of the runs with workspace NULL (the library allocates per run) and half
 *     with the thread's own workspace, at 1 and 2 OpenMP threads (1 only for implementations whose bits
 *     depend on the thread count); every output, index and running statistic bit-identical to a
 *     single-threaded run of the same input;
 *   - concurrent creation: 4 pthreads creating, running once and destroying plans of every implementation
 *     and layer and of `auto`, while another loads a plan file, loads a damaged one (refused, the previous
 *     stays) and unloads, over and over: every creation succeeds exactly when cnb_impl_check says it can,
 *     `auto` picks either the plan file's entry (cnb_plan_from_file) or the built-in choice, outputs match.
 * Results are gathered per thread and checked on the main thread. Exit 0 all passed, 1 a failure. */
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_layers.h"
#include "test_util.h"

#define WORKERS 4
#define RUNS 20
#define CREATE_ROUNDS 2

static tl_data g_layers[64];
static size_t g_nlayers;

/* ---- concurrent runs of one plan ------------------------------------------------------------------ */

typedef struct worker {
    const cnb_plan *plan;
    const tl_data *d;
    int id, runs, max_threads;
    float *x;                 /* this thread's input */
    tl_out want;              /* its single-threaded result */
    void *ws;                 /* its own workspace (NULL when the plan needs none) */
    int bad;                  /* runs that failed or differed */
    char first[400];          /* the first of them */
} worker;

static void *run_worker(void *arg) {
    worker *w = arg;
    tl_out o;
    if (!tl_out_alloc(w->d, &o)) {
        w->bad = w->runs;
        snprintf(w->first, sizeof w->first, "out of memory");
        return NULL;
    }
    for (int r = 0; r < w->runs; r++) {
        const int threads = 1 + r % w->max_threads;
        void *ws = (r + w->id) % 2 ? w->ws : NULL;
        cnb_error e = {0};
        char what[160];
        if (tl_run(w->plan, w->d, w->x, &o, threads, ws, &e)) {
            if (!w->bad++) snprintf(w->first, sizeof w->first, "run %d (%d threads): %s", r, threads, e.msg);
        } else if (!tl_same(w->d, &o, &w->want, what, sizeof what)) {
            if (!w->bad++)
                snprintf(w->first, sizeof w->first, "run %d (%d threads, %s workspace): %s", r, threads,
                         ws ? "own" : "library's", what);
        }
    }
    tl_out_free(&o);
    return NULL;
}

static void concurrent_runs(size_t i, const tl_data *d, int runs) {
    const char *name = cnb_impl_name(i);
    cnb_error e = {0};
    cnb_plan *p = NULL;
    if (tl_plan(d, name, 0, &p, &e)) {
        tu_check(false, name, "%s (%s): plan: %s", d->id, d->spec, e.msg);
        return;
    }
    worker w[WORKERS];
    memset(w, 0, sizeof w);
    const size_t wsb = cnb_plan_workspace_size(p);
    bool ready = true;
    for (int k = 0; k < WORKERS && ready; k++) {
        // 2 OpenMP threads only within OMP_NUM_THREADS: the ThreadSanitizer run sets 1 (it cannot see libgomp's
        // barriers), and only thread-invariant implementations can be compared across counts.
        const int omp2 = omp_get_max_threads() >= 2 ? 2 : 1;
        w[k] = (worker){.plan = p, .d = d, .id = k, .runs = runs, .max_threads = cnb_impl_thread_invariant(i) ? omp2 : 1};
        w[k].x = malloc((size_t)(d->nx ? d->nx : 1) * sizeof *w[k].x);
        w[k].ws = wsb ? malloc(wsb) : NULL;
        ready = w[k].x && (!wsb || w[k].ws) && tl_out_alloc(d, &w[k].want);
        if (!ready) break;
        tl_random(w[k].x, d->nx, 77 + 13 * (uint64_t)k);
        if (tl_run(p, d, w[k].x, &w[k].want, 1, NULL, &e)) {
            tu_check(false, name, "%s: single-threaded run: %s", d->id, e.msg);
            ready = false;
        }
    }
    pthread_t th[WORKERS];
    int started = 0;
    for (int k = 0; ready && k < WORKERS; k++, started++)
        if (pthread_create(&th[k], NULL, run_worker, &w[k])) {
            tu_check(false, name, "pthread_create failed");
            break;
        }
    for (int k = 0; k < started; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < started; k++)
        tu_check(!w[k].bad, name, "%s (%s): thread %d of %d sharing the plan: %d of %d runs wrong; first: %s", d->id,
                 d->spec, k, WORKERS, w[k].bad, runs, w[k].first);
    for (int k = 0; k < WORKERS; k++) free(w[k].x), free(w[k].ws), tl_out_free(&w[k].want);
    cnb_plan_destroy(p);
}

/* ---- concurrent plan creation, with plan files loaded and unloaded ---------------------------------- */

typedef struct job {
    long impl;                /* registry index, or -1 for auto */
    size_t layer;
    bool usable;              /* cnb_impl_check said yes (auto: always) */
    const char *builtin;      /* auto: what the built-in rule picks */
    const char *from_file;    /* auto: the plan file's entry for this layer (NULL: none) */
    tl_out want;              /* impl's output at 1 thread (auto: the built-in choice's) */
} job;

static job *g_jobs;
static size_t g_njobs;
static atomic_bool g_stop;
static char g_plan_good[512], g_plan_bad[512];

typedef struct creator {
    int id, bad, checked;
    char first[320];
} creator;

static void note(creator *c, const char *fmt, const char *a, const char *b, const char *m) {
    if (!c->bad++) snprintf(c->first, sizeof c->first, fmt, a, b, m);
}

static void *create_worker(void *arg) {
    creator *c = arg;
    for (int round = 0; round < CREATE_ROUNDS; round++)
        for (size_t n = 0; n < g_njobs; n++) {
            const job *j = &g_jobs[(n + (size_t)c->id * 7) % g_njobs];   // threads start at different jobs
            const tl_data *d = &g_layers[j->layer];
            const char *name = j->impl >= 0 ? cnb_impl_name((size_t)j->impl) : "auto";
            cnb_error e = {0};
            cnb_plan *p = NULL;
            const cnb_status st = tl_plan(d, j->impl >= 0 ? name : NULL, 1, &p, &e);
            c->checked++;
            if ((st == CNB_OK) != j->usable) {
                note(c, "%s on %s: plan creation %s", name, d->id, st ? e.msg : "succeeded but the check said no");
                cnb_plan_destroy(p);
                continue;
            }
            if (st) continue;
            const char *chosen = cnb_plan_impl(p);
            if (j->impl < 0) {
                const bool ff = cnb_plan_from_file(p);
                const char *want = ff ? j->from_file : j->builtin;
                if (!want || strcmp(chosen, want))
                    note(c, "auto on %s picked %s, %s", d->id, chosen,
                         ff ? "from the plan file, which has another entry or none" : "not the built-in choice");
            }
            tl_out o;
            if (tl_out_alloc(d, &o)) {
                char what[160];
                if (tl_run(p, d, NULL, &o, 1, NULL, &e)) note(c, "%s on %s: run: %s", name, d->id, e.msg);
                else if (!strcmp(chosen, j->impl >= 0 ? name : j->builtin) && !tl_same(d, &o, &j->want, what, sizeof what))
                    note(c, "%s on %s: output differs from a single-threaded creation: %s", name, d->id, what);
                tl_out_free(&o);
            }
            cnb_plan_destroy(p);
        }
    return NULL;
}

typedef struct loader {
    int loads, bad;
    char first[320];
} loader;

static void *load_worker(void *arg) {
    loader *l = arg;
    while (!atomic_load(&g_stop)) {
        cnb_error e = {0};
        if (cnb_plan_file_load(g_plan_good, CNB_PLAN_FILE_ANY_MACHINE, &e) && !l->bad++)
            snprintf(l->first, sizeof l->first, "loading the plan file: %s", e.msg);
        const cnb_status st = cnb_plan_file_load(g_plan_bad, CNB_PLAN_FILE_ANY_MACHINE, &e);
        if (st != CNB_E_PARSE && !l->bad++)
            snprintf(l->first, sizeof l->first, "a damaged plan file gave %s, not a parse error", cnb_status_name(st));
        if (l->loads % 2) cnb_plan_file_unload();
        l->loads++;
    }
    cnb_plan_file_unload();
    return NULL;
}

/* A plan file (any machine) mapping the first generated layer of each kind at 1 thread to its reference. */
static bool write_plan_files(void) {
    const char *dir = tu_tmpdir();
    if (!dir) return false;
    snprintf(g_plan_good, sizeof g_plan_good, "%s/plan.json", dir);
    snprintf(g_plan_bad, sizeof g_plan_bad, "%s/damaged.json", dir);
    FILE *f = fopen(g_plan_good, "w");
    if (!f) return false;
    fprintf(f, "{\"format\": \"cnnbench-plan\", \"version\": 1, \"rigor\": \"estimate\", \"created\": \"test\",\n"
               " \"fingerprint\": {\"cpu_model\": \"any\", \"features\": \"none\", \"cores\": 1, \"build\": \"test\"},\n"
               " \"entries\": [");
    bool kind_done[CNB_KIND_COUNT] = {false};
    int n = 0;
    for (size_t k = 0; k < g_nlayers; k++) {
        const tl_data *d = &g_layers[k];
        if (kind_done[d->layer.kind]) continue;
        kind_done[d->layer.kind] = true;
        fprintf(f, "%s\n  {\"spec\": \"%s\", \"shape\": [", n++ ? "," : "", d->spec);
        for (int i = 0; i < d->in.ndim; i++) fprintf(f, "%s%lld", i ? ", " : "", (long long)d->in.dims[i]);
        fprintf(f, "], \"train\": %s, \"threads\": 1, \"impl\": \"%s\", \"time_ns\": null, \"runner_up\": null, "
                   "\"runner_up_ns\": null, \"measured\": false}",
                d->layer.kind == CNB_BATCHNORM2D && d->layer.u.batchnorm2d.training ? "true" : "false",
                cnb_impl_name((size_t)tl_reference(d->layer.kind)));
        for (size_t j = 0; j < g_njobs; j++)
            if (g_jobs[j].impl < 0 && g_jobs[j].layer == k)
                g_jobs[j].from_file = cnb_impl_name((size_t)tl_reference(d->layer.kind));
    }
    fprintf(f, "\n]}\n");
    const bool ok = !fclose(f);
    f = fopen(g_plan_bad, "w");
    if (!f) return false;
    fprintf(f, "{\"format\": \"cnnbench-plan\", \"version\": 1, \"entries\": [{\"spec\": 3}]}\n");
    return !fclose(f) && ok;
}

static void concurrent_creation(void) {
    // The jobs and their expected results, made single-threaded with no plan file loaded.
    g_jobs = calloc((cnb_impl_count() + 1) * g_nlayers, sizeof *g_jobs);
    if (!g_jobs) return;
    for (size_t k = 0; k < g_nlayers; k++) {
        const tl_data *d = &g_layers[k];
        for (long i = -1; i < (long)cnb_impl_count(); i++) {
            if (i >= 0 && cnb_impl_kind((size_t)i) != d->layer.kind) continue;
            job *j = &g_jobs[g_njobs];
            *j = (job){.impl = i, .layer = k, .usable = true};
            cnb_error e = {0};
            if (i >= 0) j->usable = cnb_impl_check((size_t)i, &d->layer, &d->in, &e) == CNB_OK;
            if (!j->usable) {
                g_njobs++;
                continue;
            }
            cnb_plan *p = NULL;
            if (tl_plan(d, i >= 0 ? cnb_impl_name((size_t)i) : NULL, 1, &p, &e) || !tl_out_alloc(d, &j->want) ||
                tl_run(p, d, NULL, &j->want, 1, NULL, &e)) {
                tu_check(false, i >= 0 ? cnb_impl_name((size_t)i) : "auto", "%s: single-threaded: %s", d->id, e.msg);
                cnb_plan_destroy(p);
                tl_out_free(&j->want);
                continue;
            }
            if (i < 0) j->builtin = cnb_plan_impl(p);   // a registry name: outlives the plan
            cnb_plan_destroy(p);
            g_njobs++;
        }
    }
    if (!write_plan_files()) {
        tu_check(false, "plan file", "cannot write the plan files under %s", tu_tmpdir() ? tu_tmpdir() : "/tmp");
        return;
    }
    creator c[WORKERS];
    loader l = {0};
    pthread_t th[WORKERS], lt;
    memset(c, 0, sizeof c);
    atomic_store(&g_stop, false);
    const bool loading = pthread_create(&lt, NULL, load_worker, &l) == 0;
    int started = 0;
    for (int k = 0; k < WORKERS; k++, started++) {
        c[k].id = k;
        if (pthread_create(&th[k], NULL, create_worker, &c[k])) break;
    }
    for (int k = 0; k < started; k++) pthread_join(th[k], NULL);
    atomic_store(&g_stop, true);
    if (loading) pthread_join(lt, NULL);
    tu_check(loading && started == WORKERS, "creation", "could not start the threads");
    int checked = 0;
    for (int k = 0; k < started; k++) {
        checked += c[k].checked;
        tu_check(!c[k].bad, "creation", "thread %d: %d of %d creations wrong; first: %s", k, c[k].bad, c[k].checked,
                 c[k].first);
    }
    tu_check(!l.bad, "plan file", "while plans were created: %d wrong; first: %s", l.bad, l.first);
    printf("concurrent creation: %d plans by %d threads (%zu implementation x layer pairs and auto), %d plan-file "
           "load/unload rounds meanwhile\n", checked, started, g_njobs, l.loads);
    for (size_t j = 0; j < g_njobs; j++) tl_out_free(&g_jobs[j].want);
    free(g_jobs);
}

int main(void) {
    char why[512];
    for (size_t g = 0; g < tl_ngens && g_nlayers < sizeof g_layers / sizeof g_layers[0]; g++) {
        if (tl_make(&tl_gens[g], g, 500 + g, &g_layers[g_nlayers], why, sizeof why)) g_nlayers++;
        else tu_check(false, "generated layer", "%s", why);
    }
    // Every implementation: 4 x RUNS runs on the first layer of its kind it supports, 4 x 3 on the others.
    int plans = 0;
    for (size_t i = 0; i < cnb_impl_count(); i++) {
        bool first = true;
        for (size_t k = 0; k < g_nlayers; k++) {
            const tl_data *d = &g_layers[k];
            cnb_error e = {0};
            if (cnb_impl_kind(i) != d->layer.kind || cnb_impl_check(i, &d->layer, &d->in, &e)) continue;
            concurrent_runs(i, d, first ? RUNS : 3);
            first = false;
            plans++;
        }
    }
    printf("concurrent runs: %d plans, %d threads each\n", plans, WORKERS);
    concurrent_creation();
    for (size_t k = 0; k < g_nlayers; k++) tl_free(&g_layers[k]);
    tu_cleanup();
    return tu_summary("threads");
}
