// Machine limits measured in a few seconds on pinned threads: fp32 arithmetic peaks (kernels/*/peak_fma_*.c)
// and STREAM-triad bandwidth from DRAM and from L2, for one thread and for one thread per physical core;
// cached as JSON with a machine fingerprint, and helpers that give the roofline ceiling for a run.
#ifndef CNB_HARNESS_PEAK_H
#define CNB_HARNESS_PEAK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cnnbench.h"
#include "harness/topo.h"

// First index of cnb_peaks.fma_gflops.
enum { CNB_PEAK_SCALAR = 0, CNB_PEAK_AVX2 = 1, CNB_PEAK_NEON = 2 };

// Every figure is [0]: one thread, [1]: one pinned thread per physical core (cores threads); 0 means not
// measured. GFLOP/s count a fused multiply-add, or a multiply and an add, as 2 flops. GB/s follow STREAM:
// a[i] = b[i] + s*c[i] on float moves 12 bytes per element (2 loads, 1 store); the write-allocate read
// of a[] that DRAM really serves is not counted, so DRAM traffic is about 4/3 of the figure. The triads
// run the isa_best loop (kernels/avx2/peak_triad_avx2.c or kernels/neon/peak_triad_neon.c, else plain C that
// gcc vectorises to SSE2 or NEON): from L2 the loop's instruction count matters (AVX2 moves ~1.45x more), from
// DRAM it does not.
typedef struct cnb_peaks {
    int cores;                    // threads of column [1]
    double fma_gflops[3][2];      // [CNB_PEAK_SCALAR: one-lane mul+add chains | CNB_PEAK_AVX2: 8-lane FMA |
                                  //  CNB_PEAK_NEON: 4-lane FMLA (AArch64)]
    double vec128_gflops[2];      // 128-bit vector mul+add (SSE2, NEON): the ceiling of auto-vectorised
                                  // code built without ISA flags, i.e. of the "scalar" kernels at -O3
    double triad_dram_gbs[2];     // working set triad_dram_bytes, far above L3
    double triad_l2_gbs[2];       // per thread triad_l2_bytes, half of one core's L2
    double triad_mid_gbs[2];      // working set triad_mid_bytes (16 MiB, shared by the threads): from L3 on
                                  // machines whose L3 holds it; 0 when not measured (older cache files)
    size_t triad_mid_bytes;
    size_t triad_dram_bytes;      // all three arrays together
    size_t triad_l2_bytes;        // all three arrays of one thread
    double seconds;               // wall time the measurement took
    char isa_best[16];            // "avx2" (x86-64) or "neon" (AArch64) when the CPU has it and CNB_ISA allows
                                  // it, else "scalar"
    bool pinned;                  // threads were pinned one per core (else see note)
    bool from_cache;              // set by cnb_peaks_load_or_measure when read from the cache file
    char note[320];               // why something was not measured or pinned; "" when all went well
} cnb_peaks;

// Measure everything (~2-3 s). Pins one thread per core for the duration and unpins afterwards (the
// threads of a team of cnb_topo_cores() are bound back to the process's original binding): pin again
// after this if you need it. A pinning failure is not an error: the figures are measured unpinned and
// note says why.
cnb_status cnb_peaks_measure(const cnb_topo *t, cnb_peaks *p, cnb_error *err);
// The same with every sample's duration and the DRAM working set multiplied by scale (0 < scale <= 1;
// tests use ~0.02 for a run of well under a second). Figures are noisier when scale is small.
cnb_status cnb_peaks_measure_scaled(const cnb_topo *t, double scale, cnb_peaks *p, cnb_error *err);

// Use the JSON cache at cache_path (NULL or "": cnb_peaks_default_cache_path) when it exists, parses and
// carries this machine's fingerprint (CPU model, CNB_ISA-capped features, cores, PUs, cache sizes) and
// refresh is false; otherwise measure and write it (creating directories). A cache that cannot be read
// or written is not an error: the figures are measured, and note says what happened to the file.
cnb_status cnb_peaks_load_or_measure(const cnb_topo *t, const char *cache_path, bool refresh, cnb_peaks *p,
                                     cnb_error *err);
// Read the cache file at path: CNB_OK when it parses and carries this machine's fingerprint (from_cache is
// set); CNB_E_NOT_FOUND when it is missing or from another machine, CNB_ISA cap or format; CNB_E_PARSE
// when it is not valid.
cnb_status cnb_peaks_load_cache(const cnb_topo *t, const char *path, cnb_peaks *p, cnb_error *err);
// Write p with this machine's fingerprint to path (creating directories), atomically (temp file + rename).
cnb_status cnb_peaks_save_cache(const cnb_topo *t, const char *path, const cnb_peaks *p, cnb_error *err);
// $XDG_CACHE_HOME/cnnbench/peaks.json, else $HOME/.cache/cnnbench/peaks.json; false if neither is set.
bool cnb_peaks_default_cache_path(char *buf, size_t size);

// Arithmetic ceiling in GFLOP/s for a run on threads threads (<= 0: all cores), using the best ISA that
// was measured and that cnb_cpu_features() allows now: avx2 or neon, else vec128 (code built without ISA flags
// still vectorises to 128 bits), else one-lane scalar. Between 1 and cores threads it interpolates
// linearly from the 1-thread to the all-core figure, never above threads x the 1-thread figure; beyond
// cores it is the all-core figure.
double cnb_peaks_fma_for(const cnb_peaks *p, int threads);
// Bandwidth ceiling in GB/s for a run on threads threads whose data is working_set_bytes: the L2 figure
// when the set fits in the L2 of the cores those threads are pinned to (threads x cnb_topo_l2_per_core),
// else the DRAM figure. L1- and L3-sized sets get these too: L1 ones the L2 figure, L3 ones the DRAM
// figure, which is conservative (a ceiling too low) for L3. t may be NULL: DRAM. Threads as above.
double cnb_peaks_bw_for(const cnb_peaks *p, int threads, size_t working_set_bytes, const cnb_topo *t);

// A readable table of the figures.
void cnb_peaks_print(const cnb_peaks *p, FILE *f);
// The figures as a new JSON object (the bench result file embeds it); NULL when out of memory.
json_t *cnb_peaks_to_json(const cnb_peaks *p);
// Read an object written by cnb_peaks_to_json; CNB_E_PARSE naming the first missing or bad field.
cnb_status cnb_peaks_from_json(const json_t *j, cnb_peaks *p, cnb_error *err);

#endif // CNB_HARNESS_PEAK_H
