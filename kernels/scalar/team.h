/* How many threads a small layer should take, shared by the pooling and BatchNorm2d drivers. */
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

#endif /* CNB_KERNELS_TEAM_H */
