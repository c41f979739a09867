/* What a result file says about where and how it was produced: version, git commit, compiler and flags,
 * CPU model, features and topology, the measured peaks, and two fingerprints that `compare` checks:
 * "machine" (CPU model, detected features, cores) and "build" (version, commit, compiler, flags); and
 * "emulated" (with the evidence in "emulation"): whether the run went through an emulator such as qemu-user,
 * whose timings say nothing about the emulated CPU. */
#ifndef CNB_HARNESS_BENCH_META_H
#define CNB_HARNESS_BENCH_META_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "harness/peak.h"
#include "harness/topo.h"

/* A new JSON object with the context above (NULL on allocation failure). */
json_t *cnb_bench_context_json(const cnb_topo *t, const cnb_peaks *p);

/* Whether this process runs under an emulator of its architecture (qemu-user), with the evidence in why;
 * false on native hardware. See bench_meta.c for what is checked. */
bool cnb_emulated(char *why, size_t size);

/* The fingerprints alone. */
void cnb_machine_fingerprint(const cnb_topo *t, char *buf, size_t size);
void cnb_build_fingerprint(char *buf, size_t size);

#endif /* CNB_HARNESS_BENCH_META_H */
