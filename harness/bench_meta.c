/* The context block of result files (bench_meta.h); the build facts come from core/planfile.c. */
#include <stdio.h>

#include "cnnbench.h"
#include "core/planfile.h"
#include "harness/bench_meta.h"

void cnb_machine_fingerprint(const cnb_topo *t, char *buf, size_t size) {
    char f[64];
    snprintf(buf, size, "%s|%s|%d cores", t->cpu_model, cnb_isa_names(cnb_cpu_features_detected(), f, sizeof f),
             cnb_topo_cores(t));
}

// The library's own build id: plan files written by `cnnbench tune` carry it, and the library checks it.
void cnb_build_fingerprint(char *buf, size_t size) { cnb_build_id(buf, size); }

json_t *cnb_bench_context_json(const cnb_topo *t, const cnb_peaks *p) {
    char machine[512], build[512], f[64], g[64];
    cnb_machine_fingerprint(t, machine, sizeof machine);
    cnb_build_fingerprint(build, sizeof build);
    json_t *caches = json_pack("{s:I, s:I, s:I}", "l1d", (json_int_t)cnb_topo_cache_size(t, 1), "l2",
                               (json_int_t)cnb_topo_cache_size(t, 2), "l3", (json_int_t)cnb_topo_cache_size(t, 3));
    json_t *topo = json_pack("{s:i, s:i, s:i, s:o*}", "packages", t->packages, "cores", cnb_topo_cores(t), "pus", t->pus,
                             "caches", caches);
    const cnb_build_facts *bf = cnb_build_facts_here();
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o*, s:o*, s:s, s:s}", "version", bf->version, "git_commit",
                     bf->git_commit, "compiler", bf->compiler, "flags", bf->flags, "cpu_model", t->cpu_model,
                     "features", cnb_isa_names(cnb_cpu_features_detected(), f, sizeof f), "features_used",
                     cnb_isa_names(cnb_cpu_features(), g, sizeof g), "topology", topo, "peaks", cnb_peaks_to_json(p),
                     "machine", machine, "build", build);
}
