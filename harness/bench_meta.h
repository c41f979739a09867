/* What a result file says about where and how it was produced: version, git commit, compiler and flags,
 * CPU model, features and topology, the measured peaks, and two fingerprints that `compare` checks:
 * "machine" (CPU model, detected features, cores) and "build" (version, commit, compiler, flags). */
#ifndef CNB_HARNESS_BENCH_META_H
#define CNB_HARNESS_BENCH_META_H

#include <jansson.h>
#include <stddef.h>

#include "harness/peak.h"
#include "harness/topo.h"

/* A new JSON object with the context above (NULL on allocation failure). */
json_t *cnb_bench_context_json(const cnb_topo *t, const cnb_peaks *p);

/* The fingerprints alone. */
void cnb_machine_fingerprint(const cnb_topo *t, char *buf, size_t size);
void cnb_build_fingerprint(char *buf, size_t size);

#endif /* CNB_HARNESS_BENCH_META_H */
