/* Saved plans (plan files, FFTW's "wisdom" idea): the fingerprint of this machine and build, and the one
 * plan file `auto` consults. `cnnbench tune` writes the files; the format is docs/plan-format.md; the
 * public calls are cnb_plan_file_load / cnb_plan_file_unload / cnb_plan_from_file (cnnbench.h). */
#ifndef CNB_CORE_PLANFILE_H
#define CNB_CORE_PLANFILE_H

#include <stddef.h>

#include "cnnbench.h"
#include "core/geom.h"
#include "core/registry.h"

#define CNB_PLANFILE_FORMAT "cnnbench-plan"
#define CNB_PLANFILE_VERSION 1

/* What a plan file is valid for: the CPU (model, detected features, physical cores) and the build. */
typedef struct cnb_fingerprint {
    char cpu_model[128];      /* hwloc's CPUModel, else /proc/cpuinfo's "model name", else "unknown" */
    char features[64];        /* cnb_isa_names(cnb_cpu_features_detected()): not capped by CNB_ISA */
    int cores;                /* physical cores of the machine (as its cgroup allows), not a taskset subset */
    char build[512];          /* "version|git commit|compiler|flags" */
} cnb_fingerprint;

/* This machine and build, determined once (call_once); never NULL. */
const cnb_fingerprint *cnb_fingerprint_here(void);

/* The facts of this build (set by CMake on core/planfile.c): result files record them. */
typedef struct cnb_build_facts {
    const char *version, *git_commit, *compiler, *flags;
} cnb_build_facts;
const cnb_build_facts *cnb_build_facts_here(void);

/* The build part alone, without touching the topology: "version|git commit|compiler|flags". */
void cnb_build_id(char *buf, size_t size);

/* The loaded plan file's choice for g run with threads (> 0) OpenMP threads:
 *   CNB_OK and *impl set when an entry has g's key (canonical spec, BN training flag, input shape,
 *   threads) and its implementation can run g here;
 *   CNB_OK and *impl NULL when no plan file is loaded or no entry has that key;
 *   an error naming the file and the entry when the entry's implementation cannot run g on this CPU
 *   (never a silent fall-back to the built-in rule). */
cnb_status cnb_planfile_choose(const cnb_geom *g, int threads, const cnb_impl **impl, cnb_error *err);

#endif /* CNB_CORE_PLANFILE_H */
