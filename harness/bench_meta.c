/* The context block of result files (bench_meta.h). Build facts come from compile definitions set by
 * CMake at configure time: CNB_VERSION, CNB_GIT_COMMIT, CNB_BUILD_FLAGS. */
#include <stdio.h>

#include "cnnbench.h"
#include "harness/bench_meta.h"

#ifndef CNB_VERSION
#define CNB_VERSION "unknown"
#endif
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

void cnb_machine_fingerprint(const cnb_topo *t, char *buf, size_t size) {
    char f[64];
    snprintf(buf, size, "%s|%s|%d cores", t->cpu_model, cnb_isa_names(cnb_cpu_features_detected(), f, sizeof f),
             cnb_topo_cores(t));
}

void cnb_build_fingerprint(char *buf, size_t size) {
    snprintf(buf, size, "%s|%s|%s|%s", CNB_VERSION, CNB_GIT_COMMIT, CNB_COMPILER, CNB_BUILD_FLAGS);
}

json_t *cnb_bench_context_json(const cnb_topo *t, const cnb_peaks *p) {
    char machine[512], build[512], f[64], g[64];
    cnb_machine_fingerprint(t, machine, sizeof machine);
    cnb_build_fingerprint(build, sizeof build);
    json_t *caches = json_pack("{s:I, s:I, s:I}", "l1d", (json_int_t)cnb_topo_cache_size(t, 1), "l2",
                               (json_int_t)cnb_topo_cache_size(t, 2), "l3", (json_int_t)cnb_topo_cache_size(t, 3));
    json_t *topo = json_pack("{s:i, s:i, s:i, s:o*}", "packages", t->packages, "cores", cnb_topo_cores(t), "pus", t->pus,
                             "caches", caches);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o*, s:o*, s:s, s:s}", "version", CNB_VERSION, "git_commit",
                     CNB_GIT_COMMIT, "compiler", CNB_COMPILER, "flags", CNB_BUILD_FLAGS, "cpu_model", t->cpu_model,
                     "features", cnb_isa_names(cnb_cpu_features_detected(), f, sizeof f), "features_used",
                     cnb_isa_names(cnb_cpu_features(), g, sizeof g), "topology", topo, "peaks", cnb_peaks_to_json(p),
                     "machine", machine, "build", build);
}
