/* How many threads a layer takes and how they start, shared by the convolution, pooling and BatchNorm2d drivers. */
#ifndef CNB_KERNELS_TEAM_H
#define CNB_KERNELS_TEAM_H

#include <stdint.h>

// Threads for a layer moving `floats` floats: starting a team costs microseconds, so small layers take
// fewer threads than offered: at least GRAIN floats (256 KiB, several microseconds of work) each. With one,
// the drivers enter no parallel region at all (that too costs microseconds, even for a team of one).
static inline int team(int threads, int64_t floats) {
    enum { GRAIN = 65536 };
    const int64_t most = floats / GRAIN > 1 ? floats / GRAIN : 1;
    return threads < most ? threads : (int)most;
}

// Runs the statement(s) on `nt` threads; they hold the worksharing loops (orphaned `omp for`) of one run.
// One thread enters no parallel region: entering one, even for a team of one, cost 1.5-4 us a run on the
// reference VM, as much as a small layer's whole work.
#define CNB_TEAM_RUN(nt, ...)                                  \
    do {                                                       \
        const int cnb_team_nt_ = (nt);                         \
        if (cnb_team_nt_ == 1) {                               \
            __VA_ARGS__;                                       \
        } else {                                               \
            _Pragma("omp parallel num_threads(cnb_team_nt_)") \
            { __VA_ARGS__; }                                   \
        }                                                      \
    } while (0)

#endif /* CNB_KERNELS_TEAM_H */
