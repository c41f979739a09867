// harness/gbench_shim.cc: the extern "C" layer over Google Benchmark declared in gbench_shim.h; the project's
// only C++ file (C++17). Written against Debian's libbenchmark 1.7.1 (error_occurred/error_message, a double
// --benchmark_min_time); every entry point catches what it could throw, since no exception may unwind into C.
// Google Benchmark exits or aborts on several bad inputs; the shim checks for them first (see the comments).
#include "harness/gbench_shim.h"

#include <benchmark/benchmark.h>

#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
// GCC 12's <regex> gives false -Wmaybe-uninitialized warnings under -fsanitize=address,undefined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <string>
#include <vector>

namespace benchmark {
namespace internal {
// Exported by libbenchmark but declared only in its private src/benchmark_api_internal.h: the console options
// (color, tabular counters) that CreateDefaultDisplayReporter() derives from --benchmark_color and
// --benchmark_counters_tabular. We build a fresh display reporter per run instead of using that function,
// because in 1.7.1 it returns one process-wide reporter, fixed at the first call's --benchmark_format and
// carrying state (a JSON display reporter writes a stray comma into a second run's output).
ConsoleReporter::OutputOptions GetOutputOptions(bool force_no_color);
}  // namespace internal
}  // namespace benchmark

struct cnb_gb_state {
    benchmark::State *st;
    bool started;   // cnb_gb_keep_running() was called: the library's loop has begun
    bool finished;  // cnb_gb_keep_running() returned false: the library's loop is over
    bool paused;    // cnb_gb_pause() stopped the timer
};

namespace {

__attribute__((format(printf, 1, 2))) void shim_error(const char *fmt, ...) {
    std::va_list ap;
    va_start(ap, fmt);
    std::fputs("gbench_shim: ", stderr);
    std::vfprintf(stderr, fmt, ap);
    std::fputc('\n', stderr);
    va_end(ap);
}

// ---- the benchmark body ------------------------------------------------------------------------------

void run_body(benchmark::State &st, cnb_gb_fn fn, void *ctx) {
    cnb_gb_state s = {&st, false, false, false};
    fn(&s, ctx);
    if (s.finished) return;
    // In 1.7.1 a body that returns before KeepRunning() said false aborts the process (BM_CHECK in
    // RunInThread) unless an error was reported, and a timer left running aborts in real_time_used().
    // SkipWithError stops the timer; the drain then lets the State finish its loop the normal way.
    if (!st.error_occurred())
        st.SkipWithError(s.started ? "benchmark function returned before cnb_gb_keep_running() returned false"
                                   : "benchmark function returned without running the cnb_gb_keep_running() loop");
    while (st.KeepRunning()) {
    }
}

// ---- flag mirror -----------------------------------------------------------------------------------------

// The flag values Google Benchmark will hold after Initialize(), tracked here because it keeps them in
// internal globals: defaults from the BENCHMARK_* environment variables (as the library reads them), then
// each --flag=value of every run in order, since the library never resets them either.
struct FlagMirror {
    std::string format, out_format, color, time_unit, out, filter;
    int repetitions;
};

std::string env_string(const char *var, const char *def) {
    const char *v = std::getenv(var);
    return v ? std::string(v) : std::string(def);
}

// ParseInt32 of commandlineflags.cc: the whole string, base 10, within int32_t.
bool parse_int32(const char *s, int *out) {
    char *end = nullptr;
    errno = 0;
    long v = std::strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || v < INT32_MIN || v > INT32_MAX) return false;
    *out = static_cast<int>(v);
    return true;
}

FlagMirror &flag_mirror() {
    static FlagMirror m = [] {
        FlagMirror f;
        f.format = env_string("BENCHMARK_FORMAT", "console");
        f.out_format = env_string("BENCHMARK_OUT_FORMAT", "json");
        f.color = env_string("BENCHMARK_COLOR", "auto");
        f.time_unit = env_string("BENCHMARK_TIME_UNIT", "");
        f.out = env_string("BENCHMARK_OUT", "");
        f.filter = env_string("BENCHMARK_FILTER", ".");
        f.repetitions = 1;
        const char *r = std::getenv("BENCHMARK_REPETITIONS");
        if (r) parse_int32(r, &f.repetitions);
        return f;
    }();
    return m;
}

// The value of "--name=value" in arg, or NULL (ParseFlagValue: "--", the exact name, then '=').
const char *flag_value(const char *arg, const char *name) {
    size_t n = std::strlen(name);
    if (std::strncmp(arg, "--", 2) != 0 || std::strncmp(arg + 2, name, n) != 0 || arg[2 + n] != '=') return nullptr;
    return arg + 2 + n + 1;
}

void mirror_apply(FlagMirror *m, int argc, char **argv) {
    struct {
        const char *name;
        std::string *dst;
    } strs[] = {
        {"benchmark_format", &m->format},       {"benchmark_out_format", &m->out_format},
        {"benchmark_color", &m->color},         {"benchmark_time_unit", &m->time_unit},
        {"benchmark_out", &m->out},             {"benchmark_filter", &m->filter},
    };
    for (int i = 1; i < argc; i++) {
        for (auto &f : strs)
            if (const char *v = flag_value(argv[i], f.name)) *f.dst = v;
        if (const char *v = flag_value(argv[i], "benchmark_repetitions")) parse_int32(v, &m->repetitions);
    }
}

bool is_format(const std::string &f) { return f == "console" || f == "json" || f == "csv"; }

// The checks Google Benchmark 1.7.1 makes by exiting: ParseCommandLineFlags calls PrintUsageAndExit() (exit 0)
// for an unknown --benchmark_format/--benchmark_out_format/--benchmark_time_unit or an empty --benchmark_color;
// a negative --benchmark_repetitions throws std::length_error deep in RunBenchmarks (0 silently runs
// nothing); an invalid filter regex is only a message and a count of 0.
bool mirror_check(const FlagMirror &m) {
    if (!is_format(m.format)) {
        shim_error("--benchmark_format=%s: expected console, json or csv", m.format.c_str());
        return false;
    }
    if (!is_format(m.out_format)) {
        shim_error("--benchmark_out_format=%s: expected console, json or csv", m.out_format.c_str());
        return false;
    }
    if (m.color.empty()) {
        shim_error("--benchmark_color is empty: expected auto, true or false");
        return false;
    }
    const std::string &u = m.time_unit;
    if (!(u.empty() || u == "ns" || u == "us" || u == "ms" || u == "s")) {
        shim_error("--benchmark_time_unit=%s: expected ns, us, ms or s", u.c_str());
        return false;
    }
    if (m.repetitions < 1) {
        shim_error("--benchmark_repetitions=%d: must be at least 1", m.repetitions);
        return false;
    }
    // RunSpecifiedBenchmarks turns "" and "all" into "."; re_std.cc compiles std::regex(spec, extended).
    std::string spec = (m.filter.empty() || m.filter == "all") ? std::string(".") : m.filter;
    try {
        std::regex re(spec, std::regex_constants::extended);
        (void)re;
    } catch (const std::regex_error &e) {
        shim_error("--benchmark_filter=%s: not a valid regular expression: %s", m.filter.c_str(), e.what());
        return false;
    }
    return true;
}

// RunSpecifiedBenchmarks prints "invalid file name" and calls exit(1) when it cannot open --benchmark_out.
// Checked before Initialize() so that a bad name never reaches the library's flags (they would keep it for
// later runs); a file created by the check is removed again, as the run may still be refused.
bool can_write(const std::string &path) {
    std::error_code ec;
    const bool existed = std::filesystem::exists(path, ec);
    const bool ok = std::ofstream(path, std::ios::app).is_open();
    if (ok && !existed) std::filesystem::remove(path, ec);
    return ok;
}

// ---- reporting ---------------------------------------------------------------------------------------

const char *unit_name(benchmark::TimeUnit u) { return benchmark::GetTimeUnitString(u); }

// Wraps the display reporter (or none, when quiet) and hands each run it is given to the C callback.
// RunSpecifiedBenchmarks still creates the --benchmark_out file reporter itself, as for any display reporter.
class ResultReporter : public benchmark::BenchmarkReporter {
  public:
    ResultReporter(benchmark::BenchmarkReporter *inner, cnb_gb_result_fn fn, void *ctx)
        : inner_(inner), fn_(fn), ctx_(ctx), failed_(false) {}

    bool ReportContext(const Context &context) override { return inner_ ? inner_->ReportContext(context) : true; }

    void ReportRuns(const std::vector<Run> &runs) override {
        if (inner_) inner_->ReportRuns(runs);
        if (!fn_) return;
        try {
            for (const Run &r : runs) emit(r);
        } catch (const std::exception &e) {
            // Thrown from our own copying; stop calling back and make the run fail rather than unwind
            // through the library.
            if (!failed_) shim_error("collecting results: %s", e.what());
            failed_ = true;
        }
    }

    void Finalize() override {
        if (inner_) inner_->Finalize();
    }

    bool failed() const { return failed_; }

  private:
    void emit(const Run &r) {
        if (failed_) return;
        const std::string name = r.benchmark_name();
        const std::string run_name = r.run_name.str();
        std::vector<const char *> names;
        std::vector<double> values;
        names.reserve(r.counters.size());
        values.reserve(r.counters.size());
        for (const auto &kv : r.counters) {
            names.push_back(kv.first.c_str());
            values.push_back(kv.second.value);
        }
        cnb_gb_result res;
        std::memset(&res, 0, sizeof res);
        const bool aggregate = r.run_type == Run::RT_Aggregate;
        res.name = name.c_str();
        res.run_name = run_name.c_str();
        res.family_name = r.run_name.function_name.c_str();
        res.run_type = aggregate ? "aggregate" : "iteration";
        res.aggregate_name = aggregate ? r.aggregate_name.c_str() : "";
        res.percentage = aggregate && r.aggregate_unit == benchmark::kPercentage;
        res.label = r.report_label.c_str();
        res.repetition_index = r.repetition_index;
        res.repetitions = r.repetitions;
        res.iterations = r.iterations;
        if (res.percentage) {
            // The "cv" rows hold the fraction itself in the accumulated times (the reporters print them so).
            res.real_ns = r.real_accumulated_time;
            res.cpu_ns = r.cpu_accumulated_time;
        } else {
            // GetAdjusted*Time() without the unit: accumulated seconds over the iterations (for aggregates,
            // already rescaled by ComputeStats so this gives per-iteration values).
            const double per = r.iterations != 0 ? 1e9 / static_cast<double>(r.iterations) : 1e9;
            res.real_ns = r.real_accumulated_time * per;
            res.cpu_ns = r.cpu_accumulated_time * per;
        }
        res.time_unit = unit_name(r.time_unit);
        res.error = r.error_occurred;
        res.error_message = r.error_message.c_str();
        res.n_counters = names.size();
        res.counter_names = names.data();
        res.counter_values = values.data();
        fn_(&res, ctx_);
    }

    benchmark::BenchmarkReporter *inner_;
    cnb_gb_result_fn fn_;
    void *ctx_;
    bool failed_;
};

std::unique_ptr<benchmark::BenchmarkReporter> make_display_reporter(const std::string &format) {
    if (format == "json") return std::unique_ptr<benchmark::BenchmarkReporter>(new benchmark::JSONReporter());
    if (format == "csv") {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        return std::unique_ptr<benchmark::BenchmarkReporter>(new benchmark::CSVReporter());
#pragma GCC diagnostic pop
    }
    return std::unique_ptr<benchmark::BenchmarkReporter>(
        new benchmark::ConsoleReporter(benchmark::internal::GetOutputOptions(false)));
}

// Shutdown() of 1.7.1 deletes the custom context map but leaves the pointer set, so a later
// AddCustomContext() or report would use freed memory and a second Shutdown() would free it again.
void shutdown_library() {
    benchmark::Shutdown();
    benchmark::internal::GetGlobalContext() = nullptr;
}

int run_impl(int *argc, char **argv, cnb_gb_result_fn on_result, void *ctx, bool quiet) {
    int rc = -1;
    try {
        if (!argc || !argv || *argc < 0) {
            shim_error("cnb_gb_run: argc and argv are required");
            shutdown_library();
            return -1;
        }
        for (int i = 0; i < *argc; i++)
            if (!argv[i]) {
                shim_error("cnb_gb_run: argv has a NULL entry before argc");
                shutdown_library();
                return -1;
            }
        // Initialize() answers --help and --help=... with PrintUsageAndExit().
        for (int i = 1; i < *argc; i++)
            if (std::strcmp(argv[i], "--help") == 0 || std::strncmp(argv[i], "--help=", 7) == 0) {
                benchmark::PrintDefaultHelp();
                shutdown_library();
                return 0;
            }
        FlagMirror next = flag_mirror();
        mirror_apply(&next, *argc, argv);
        if (!mirror_check(next)) {
            shutdown_library();
            return -1;
        }
        if (!next.out.empty() && !can_write(next.out)) {
            shim_error("--benchmark_out=%s: cannot open the file for writing", next.out.c_str());
            shutdown_library();
            return -1;
        }
        flag_mirror() = next;  // Initialize() now sets the library's flags to these values
        benchmark::Initialize(argc, argv);
        if (*argc > 1) {
            benchmark::ReportUnrecognizedArguments(*argc, argv);
        } else {
            std::unique_ptr<benchmark::BenchmarkReporter> display;
            if (!quiet) display = make_display_reporter(next.format);
            ResultReporter reporter(display.get(), on_result, ctx);
            size_t n = benchmark::RunSpecifiedBenchmarks(&reporter);
            if (!reporter.failed()) rc = n > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(n);
        }
    } catch (const std::exception &e) {
        shim_error("cnb_gb_run: %s", e.what());
        rc = -1;
    } catch (...) {
        shim_error("cnb_gb_run: unknown C++ exception");
        rc = -1;
    }
    try {
        shutdown_library();
    } catch (...) {
        rc = -1;
    }
    std::fflush(stdout);
    return rc;
}

}  // namespace

// ---- the C interface ----------------------------------------------------------------------------------

extern "C" int cnb_gb_register_opts(const char *name, cnb_gb_fn fn, void *ctx, unsigned flags,
                                    const cnb_gb_opts *opts) {
    try {
        if (!name || !fn) {
            shim_error("cnb_gb_register: name and fn are required");
            return -1;
        }
        const unsigned unit = flags & CNB_GB_UNIT_MASK;
        if ((flags & ~(CNB_GB_UNIT_MASK | CNB_GB_PROCESS_CPU)) != 0 || unit > CNB_GB_UNIT_S) {
            shim_error("cnb_gb_register(%s): unknown flag bits", name);
            return -1;
        }
        cnb_gb_opts o = {0, 0.0, 0};
        if (opts) o = *opts;
        // Negated comparisons so that a NaN min_time is refused too.
        if (o.iterations < 0 || !(o.min_time >= 0.0) || o.repetitions < 0) {
            shim_error("cnb_gb_register(%s): negative iterations, min_time or repetitions", name);
            return -1;
        }
        // Iterations() and MinTime() BM_CHECK that the other was not called.
        if (o.iterations > 0 && o.min_time > 0.0) {
            shim_error("cnb_gb_register(%s): iterations and min_time exclude each other", name);
            return -1;
        }
        benchmark::internal::Benchmark *b =
            benchmark::RegisterBenchmark(name, [fn, ctx](benchmark::State &st) { run_body(st, fn, ctx); });
        b->UseRealTime();
        static const benchmark::TimeUnit units[] = {benchmark::kNanosecond, benchmark::kNanosecond,
                                                    benchmark::kMicrosecond, benchmark::kMillisecond,
                                                    benchmark::kSecond};
        if (unit != CNB_GB_UNIT_DEFAULT) b->Unit(units[unit]);
        if (flags & CNB_GB_PROCESS_CPU) b->MeasureProcessCPUTime();
        if (o.iterations > 0) b->Iterations(o.iterations);
        if (o.min_time > 0.0) b->MinTime(o.min_time);
        if (o.repetitions > 0) b->Repetitions(o.repetitions);
        return 0;
    } catch (const std::exception &e) {
        shim_error("cnb_gb_register: %s", e.what());
        return -1;
    } catch (...) {
        return -1;
    }
}

extern "C" int cnb_gb_register(const char *name, cnb_gb_fn fn, void *ctx, unsigned flags) {
    return cnb_gb_register_opts(name, fn, ctx, flags, nullptr);
}

extern "C" void cnb_gb_clear(void) {
    try {
        benchmark::ClearRegisteredBenchmarks();
    } catch (...) {
    }
}

extern "C" bool cnb_gb_keep_running(cnb_gb_state *s) {
    if (!s || s->finished) return false;  // a second FinishKeepRunning() would abort
    try {
        if (s->paused) {
            // FinishKeepRunning() pauses the timer, which aborts if it is already stopped.
            if (!s->st->error_occurred()) s->st->ResumeTiming();
            s->paused = false;
        }
        s->started = true;
        if (s->st->KeepRunning()) return true;
        s->finished = true;
        return false;
    } catch (...) {
        // run_body() reports the run as failed and finishes the library's loop.
        return false;
    }
}

// PauseTiming/ResumeTiming BM_CHECK (abort) that the loop is running, no error was reported and the timer is
// in the other state.
extern "C" void cnb_gb_pause(cnb_gb_state *s) {
    if (!s || !s->started || s->finished || s->paused || s->st->error_occurred()) return;
    try {
        s->st->PauseTiming();
        s->paused = true;
    } catch (...) {
    }
}

extern "C" void cnb_gb_resume(cnb_gb_state *s) {
    if (!s || !s->paused || s->finished || s->st->error_occurred()) return;
    try {
        s->st->ResumeTiming();
        s->paused = false;
    } catch (...) {
    }
}

extern "C" void cnb_gb_set_counter(cnb_gb_state *s, const char *name, double value, unsigned flags) {
    if (!s || !name) return;
    try {
        int f = benchmark::Counter::kDefaults;
        if (flags & CNB_GB_RATE) f |= benchmark::Counter::kIsRate;
        if (flags & CNB_GB_AVG_ITERS) f |= benchmark::Counter::kAvgIterations;
        if (flags & CNB_GB_ITER_INVARIANT) f |= benchmark::Counter::kIsIterationInvariant;
        const benchmark::Counter::OneK k = (flags & CNB_GB_K1024) ? benchmark::Counter::kIs1024
                                                                   : benchmark::Counter::kIs1000;
        s->st->counters[name] = benchmark::Counter(value, static_cast<benchmark::Counter::Flags>(f), k);
    } catch (...) {
        try {
            s->st->SkipWithError("cnb_gb_set_counter: out of memory");
        } catch (...) {
        }
    }
}

extern "C" void cnb_gb_set_label(cnb_gb_state *s, const char *label) {
    if (!s) return;
    try {
        s->st->SetLabel(label ? label : "");  // std::string from NULL throws
    } catch (...) {
    }
}

extern "C" void cnb_gb_skip_with_error(cnb_gb_state *s, const char *msg) {
    if (!s) return;
    try {
        s->st->SkipWithError(msg ? msg : "error");  // BM_CHECK(msg): NULL aborts
        s->paused = false;                           // SkipWithError stopped the timer if it ran
    } catch (...) {
    }
}

extern "C" int64_t cnb_gb_iterations(const cnb_gb_state *s) { return s ? s->st->iterations() : 0; }

extern "C" int cnb_gb_thread_index(const cnb_gb_state *s) { return s ? s->st->thread_index() : 0; }

extern "C" int cnb_gb_add_context(const char *key, const char *value) {
    if (!key || !value) return -1;
    try {
        // AddCustomContext() only prints a warning for a duplicate key.
        std::map<std::string, std::string> *m = benchmark::internal::GetGlobalContext();
        if (m && m->count(key)) return -1;
        benchmark::AddCustomContext(key, value);
        return 0;
    } catch (...) {
        return -1;
    }
}

extern "C" int cnb_gb_run(int *argc, char **argv) { return run_impl(argc, argv, nullptr, nullptr, false); }

extern "C" int cnb_gb_run_with_results(int *argc, char **argv, cnb_gb_result_fn on_result, void *ctx,
                                       bool quiet_console) {
    return run_impl(argc, argv, on_result, ctx, quiet_console);
}
