// `cnnbench info`: what a result depends on, in one screen: the hwloc topology, CPU features (detected
// and as capped by CNB_ISA), the compiler and build flags, and the machine limits (measured now, or read
// from the peaks cache with --cached). Takes a few seconds, almost all of them the measurement.
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnbench.h"
#include "harness/cmd.h"
#include "core/planfile.h"
#include "harness/bench_meta.h"
#include "harness/peak.h"
#include "harness/topo.h"


static void usage(FILE *f) {
    fputs("usage: cnnbench info [--cached] [--cache FILE] [--refresh] [--no-measure]\n"
          "  topology, CPU features, compiler and flags, and the machine limits (peak GFLOP/s, triad GB/s).\n"
          "  By default the limits are measured now (a few seconds) and no file is touched.\n"
          "  --cached       use the peaks cache if it matches this machine, else measure and write it\n"
          "                 ($XDG_CACHE_HOME/cnnbench/peaks.json or ~/.cache/cnnbench/peaks.json)\n"
          "  --cache FILE   the same with FILE as the cache\n"
          "  --refresh      measure and rewrite the cache even if it matches\n"
          "  --no-measure   skip the machine limits\n",
          f);
}

int cnb_cmd_info(int argc, char **argv) {
    bool cached = false, refresh = false, measure = true;
    const char *cache = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--cached")) {
            cached = true;
        } else if (!strcmp(a, "--cache")) {
            if (i + 1 >= argc) {
                fputs("cnnbench: info: --cache needs a file name\n", stderr);
                return 2;
            }
            cache = argv[++i];
            cached = true;
        } else if (!strcmp(a, "--refresh")) {
            refresh = cached = true;
        } else if (!strcmp(a, "--no-measure")) {
            measure = false;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "cnnbench: info: unknown option '%s' (try: cnnbench info --help)\n", a);
            return 2;
        }
    }

    const cnb_build_facts *bf = cnb_build_facts_here();
    printf("cnnbench:   %s (commit %s)\n", bf->version, bf->git_commit);
    printf("compiler:   %s\n", bf->compiler);
    printf("flags:      %s\n", bf->flags);
    printf("openmp:     version %d, %d threads by default\n", _OPENMP, omp_get_max_threads());

    char det[64], use[64];
    const char *cap = getenv("CNB_ISA");
    cnb_isa_names(cnb_cpu_features_detected(), det, sizeof det);
    cnb_isa_names(cnb_cpu_features(), use, sizeof use);
    if (cap && *cap) printf("features:   detected %s; in use %s (CNB_ISA=%s)\n", det, use, cap);
    else printf("features:   detected %s; in use %s\n", det, use);
    char emu[256];
    if (cnb_emulated(emu, sizeof emu)) printf("emulated:   yes (%s): timings do not describe this CPU\n", emu);
    else printf("emulated:   no\n");

    cnb_topo t;
    cnb_error err = {CNB_OK, ""};
    if (cnb_topo_load(&t, &err) != CNB_OK) {
        fprintf(stderr, "cnnbench: %s\n", err.msg);
        return 1;
    }
    cnb_topo_print(&t, stdout);
    fflush(stdout);

    int rc = 0;
    if (measure) {
        cnb_peaks p;
        const cnb_status st = cached ? cnb_peaks_load_or_measure(&t, cache, refresh, &p, &err)
                                     : cnb_peaks_measure(&t, &p, &err);
        if (st == CNB_OK) {
            char path[4096];
            if (cached && (cache || cnb_peaks_default_cache_path(path, sizeof path)))
                printf("peaks cache: %s (%s)\n", cache ? cache : path, p.from_cache ? "read" : "measured now");
            cnb_peaks_print(&p, stdout);
        } else {
            fprintf(stderr, "cnnbench: %s\n", err.msg);
            rc = 1;
        }
    }
    cnb_topo_free(&t);
    return rc;
}
