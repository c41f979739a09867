/* A C interface to Google Benchmark (written against Debian's libbenchmark 1.7.1): register C callbacks as
 * benchmarks, drive the timing loop, set counters, and run them with the usual --benchmark_* flags, getting
 * each reported run back as a plain struct. Usable from C11 and C++; implemented in gbench_shim.cc, the only
 * C++ file of the project. Link with -lbenchmark -lpthread and the C++ runtime (-lstdc++).
 * Nothing here is thread-safe: register and run from one thread. No C++ exception crosses these functions. */
#ifndef CNB_HARNESS_GBENCH_SHIM_H
#define CNB_HARNESS_GBENCH_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One running benchmark: wraps a benchmark::State. Only valid inside the cnb_gb_fn it was passed to. */
typedef struct cnb_gb_state cnb_gb_state;

/* A benchmark body. It must run the timed loop `while (cnb_gb_keep_running(st)) { ... }` or call
 * cnb_gb_skip_with_error(); if it returns having done neither, the run is reported as an error.
 * It is called several times per benchmark (to pick the iteration count, then once per repetition). */
typedef void (*cnb_gb_fn)(cnb_gb_state *st, void *ctx);

/* Flags of cnb_gb_register(). The time unit of the reports (console table and file); UNIT_DEFAULT keeps
 * Google Benchmark's default (ns, or --benchmark_time_unit). The result callback always gets nanoseconds. */
#define CNB_GB_UNIT_DEFAULT 0u
#define CNB_GB_UNIT_NS      1u
#define CNB_GB_UNIT_US      2u
#define CNB_GB_UNIT_MS      3u
#define CNB_GB_UNIT_S       4u
#define CNB_GB_UNIT_MASK    7u
/* CPU time counts every thread of the process, not only the calling one (MeasureProcessCPUTime); adds
 * "/process_time" to the reported name. */
#define CNB_GB_PROCESS_CPU  8u

/* Per-benchmark overrides of the command-line flags; a zero field keeps the flag's value.
 * Each override adds a part to the reported name: "/iterations:N", "/min_time:S", "/repeats:N". */
typedef struct cnb_gb_opts {
    int64_t iterations;  /* > 0: run exactly this many iterations (Iterations(n)) instead of timing up */
    double  min_time;    /* > 0: seconds to run at least (MinTime), instead of --benchmark_min_time */
    int     repetitions; /* > 0: repetitions (Repetitions), instead of --benchmark_repetitions */
} cnb_gb_opts;

/* Register a benchmark called name (copied) that calls fn(st, ctx); ctx must stay valid until the runs are
 * over. Time is wall-clock time (UseRealTime), which also adds "/real_time" to the reported name.
 * flags: one CNB_GB_UNIT_* value, optionally | CNB_GB_PROCESS_CPU.
 * Returns 0, or -1 (with a message on stderr) if name or fn is NULL, flags has unknown bits, or memory ran out. */
int cnb_gb_register(const char *name, cnb_gb_fn fn, void *ctx, unsigned flags);

/* cnb_gb_register() with per-benchmark overrides (opts may be NULL: none). Also -1 if opts has a negative
 * field, or sets both iterations and min_time (Google Benchmark allows only one of them). */
int cnb_gb_register_opts(const char *name, cnb_gb_fn fn, void *ctx, unsigned flags, const cnb_gb_opts *opts);

/* Remove every registered benchmark (ClearRegisteredBenchmarks). */
void cnb_gb_clear(void);

/* The timed loop's condition, C's `for (auto _ : state)`: true while another iteration should run. The timer
 * starts at the first call. If the timer is paused when it is called, it is resumed first, so a body may
 * pause at the end of an iteration to untime the preparation of the next. After it has returned false it
 * keeps returning false. */
bool cnb_gb_keep_running(cnb_gb_state *st);

/* Stop (PauseTiming) and restart (ResumeTiming) the timer inside the loop. Outside the loop, after an error,
 * or when the timer already is in the requested state they do nothing (Google Benchmark would abort). */
void cnb_gb_pause(cnb_gb_state *st);
void cnb_gb_resume(cnb_gb_state *st);

/* Flags of cnb_gb_set_counter(). 0: the value is reported as given. RATE: divided by the run's wall time
 * (per second). AVG_ITERS: divided by the iteration count. ITER_INVARIANT: the value is per iteration and
 * is multiplied by the iteration count. RATE | ITER_INVARIANT turns "FLOPs per iteration" into FLOP/s.
 * K1024: the console prints it with 1024-based prefixes (Ki, Mi), as bytes usually are. */
#define CNB_GB_RATE           1u
#define CNB_GB_AVG_ITERS      2u
#define CNB_GB_ITER_INVARIANT 4u
#define CNB_GB_K1024          8u

/* Set the user counter name (copied) to value for this run, replacing an earlier value. Call it after the
 * loop. Unknown flag bits are ignored. */
void cnb_gb_set_counter(cnb_gb_state *st, const char *name, double value, unsigned flags);

/* Set the label printed after this run's row (NULL clears it). */
void cnb_gb_set_label(cnb_gb_state *st, const char *label);

/* Report this run as failed with msg (NULL: "error"): its rows carry the message, no times or counters, and
 * no aggregates are computed from it. cnb_gb_keep_running() returns false from its next call; the body
 * should leave its loop (break) and return. */
void cnb_gb_skip_with_error(cnb_gb_state *st, const char *msg);

/* Iterations done so far in this run (all of them once the loop has ended); 0 before the loop. */
int64_t cnb_gb_iterations(const cnb_gb_state *st);

/* Index of the calling thread within the run (always 0: the shim registers single-threaded benchmarks). */
int cnb_gb_thread_index(const cnb_gb_state *st);

/* Add "key": "value" to the context block of the reports (AddCustomContext). It applies to the next run
 * only: cnb_gb_run*() clears the context when it finishes. Returns 0, or -1 if key or value is NULL, the
 * key is already present (the first value stays), or memory ran out. */
int cnb_gb_add_context(const char *key, const char *value);

/* Run the registered benchmarks with Google Benchmark's command line: every --benchmark_* flag of 1.7.1
 * (filter, repetitions, min_time in plain seconds, min_warmup_time, format, out, out_format, color,
 * counters_tabular, report_aggregates_only, display_aggregates_only, enable_random_interleaving, context,
 * time_unit, list_tests, perf_counters) and --v. argv[0] is the program name. Recognized flags are removed
 * from argv (and *argc lowered). Any other argument left over is an error. Flag values persist between
 * calls in one process, as Google Benchmark keeps them in globals; that includes the valid flags of a
 * command line refused for an unrecognized argument.
 * Values that would make Google Benchmark exit or crash are refused first: a --benchmark_format,
 * --benchmark_out_format, --benchmark_color or --benchmark_time_unit it does not know, a
 * --benchmark_repetitions below 1, a --benchmark_filter that is not a valid extended regular expression,
 * and a --benchmark_out file that cannot be opened for writing (a file created by that check is removed),
 * likewise the BENCHMARK_* environment variables that set these flags' defaults; such a refused command line
 * changes no flag. --help prints the flag list and returns 0.
 * The console table goes to stdout, the file named by --benchmark_out gets --benchmark_out_format.
 * Returns the number of benchmarks that matched the filter and ran (>= 0), or -1 on error, with a message
 * on stderr. Shuts Google Benchmark down before returning (clearing the custom context). */
int cnb_gb_run(int *argc, char **argv);

/* One reported run, as the display (console) reporter got it: with --benchmark_display_aggregates_only or
 * --benchmark_report_aggregates_only only aggregates are reported when there are any. The pointers are
 * valid only during the callback. */
typedef struct cnb_gb_result {
    const char *name;            /* the displayed name: run_name, plus "_mean" etc. for an aggregate */
    const char *run_name;        /* name with its parts: "conv/x/real_time", "conv/x/repeats:3/real_time" */
    const char *family_name;     /* the name given to cnb_gb_register() */
    const char *run_type;        /* "iteration" (one repetition) or "aggregate" */
    const char *aggregate_name;  /* "mean", "median", "stddev", "cv"; "" for an iteration */
    bool        percentage;      /* an aggregate in percent ("cv"): real_ns/cpu_ns/counters are fractions
                                  * (0.01 = 1%), not times */
    const char *label;           /* cnb_gb_set_label()'s text, or "" */
    int64_t     repetition_index;/* 0-based repetition of an iteration; -1 for an aggregate */
    int64_t     repetitions;     /* repetitions of this benchmark */
    int64_t     iterations;      /* iterations of the repetition; for an aggregate, the repetitions it used */
    double      real_ns;         /* wall time per iteration, ns (for "stddev" the deviation of that) */
    double      cpu_ns;          /* CPU time per iteration, ns */
    const char *time_unit;       /* the unit the console/file reports use: "ns", "us", "ms" or "s" */
    bool        error;           /* the run failed (cnb_gb_skip_with_error(), or a body that left its loop
                                  * early): no times or counters */
    const char *error_message;   /* its message, or "" */
    size_t             n_counters;     /* user counters, in name order, as reported: rates already per second */
    const char *const *counter_names;
    const double      *counter_values;
} cnb_gb_result;

typedef void (*cnb_gb_result_fn)(const cnb_gb_result *r, void *ctx);

/* cnb_gb_run(), also calling on_result(r, ctx) (if not NULL) for each reported run, in report order: a
 * benchmark's repetitions, then its aggregates. quiet_console: no console output (context block and table;
 * the caller prints its own); --benchmark_out still writes its file, and --benchmark_list_tests still
 * prints. Without quiet_console the console follows --benchmark_format as usual. */
int cnb_gb_run_with_results(int *argc, char **argv, cnb_gb_result_fn on_result, void *ctx, bool quiet_console);

#ifdef __cplusplus
}
#endif

#endif /* CNB_HARNESS_GBENCH_SHIM_H */
