/* Shared by the libFuzzer targets (tests/fuzz/fuzz_*.c): the entry point they define, a check that aborts
 * (so libFuzzer records the input as a crash and the replay driver fails), a reader of the fuzzer's bytes,
 * and a memory-backed file for the readers that take a path. Everything here is static: each target is
 * one translation unit plus the library. */
#ifndef CNB_TESTS_FUZZ_FUZZ_H
#define CNB_TESTS_FUZZ_FUZZ_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cnnbench.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                                        \
    do {                                                                                             \
        if (!(cond)) {                                                                               \
            fprintf(stderr, "fuzz check failed at %s:%d: %s: ", __FILE__, __LINE__, #cond);         \
            fprintf(stderr, __VA_ARGS__);                                                            \
            fputc('\n', stderr);                                                                     \
            abort();                                                                                 \
        }                                                                                            \
    } while (0)

/* An error report must be one NUL-terminated, non-empty line with a failure status. */
static inline void fuzz_check_error(cnb_status st, const cnb_error *e) {
    FUZZ_CHECK(st != CNB_OK && st < CNB_STATUS_COUNT, "status %d", (int)st);
    FUZZ_CHECK(e->code == st, "error code %d, returned %d", (int)e->code, (int)st);
    const char *nul = memchr(e->msg, 0, sizeof e->msg);
    FUZZ_CHECK(nul != NULL && nul > e->msg, "message empty or not terminated");
    FUZZ_CHECK(!strchr(e->msg, '\n') && !strchr(e->msg, '\r'), "message is not one line: %s", e->msg);
}

/* ---- the fuzzer's bytes, consumed from the front; zeros once they run out -------------------------- */

typedef struct fuzz_src {
    const uint8_t *p;
    size_t n;
} fuzz_src;

static inline uint8_t fuzz_u8(fuzz_src *s) {
    if (!s->n) return 0;
    s->n--;
    return *s->p++;
}

static inline uint64_t fuzz_u64(fuzz_src *s) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)fuzz_u8(s) << (8 * i);
    return v;
}

/* An int64 that is mostly small, sometimes negative, sometimes a value at an overflow edge, sometimes
 * any 64 bits: what sizes and parameters are made of. */
static inline int64_t fuzz_i64(fuzz_src *s) {
    static const int64_t special[16] = {
        -1, INT64_MIN, INT64_MAX, INT64_MAX - 1, INT32_MAX, (int64_t)INT32_MAX + 1, INT32_MIN, 1 << 16,
        1 << 20, (int64_t)1 << 31, (int64_t)1 << 32, (int64_t)1 << 40, (int64_t)1 << 62, -((int64_t)1 << 62),
        3037000500, INT64_MAX / 8 + 1,
    };
    const uint8_t b = fuzz_u8(s);
    if (b < 160) return b % 10;
    if (b < 192) return (int64_t)(b % 32) - 8;
    if (b < 240) return special[b % 16];
    return (int64_t)fuzz_u64(s);
}

static inline double fuzz_real(fuzz_src *s) {
    static const double special[16] = {1e-5, 0.0, -1.0, 0.1, 1.0, 2.0, 1e-3, -0.0,
                                       1e300, -1e300, 5e-324, 0.5, 1e-30, 3.0, 1e5, -1e-5};
    const uint8_t b = fuzz_u8(s);
    if (b < 200) return special[b % 16];
    if (b < 208) return b & 1 ? (double)NAN : (b & 2 ? (double)INFINITY : -(double)INFINITY);
    uint64_t bits = fuzz_u64(s);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* ---- a file in memory, for the readers that take a path ------------------------------------------- */

/* Replace the contents of the process's one memory file with data and return its path
 * ("/proc/self/fd/N"): opening it gives a regular file, so the readers' checks (fstat, size) all run. */
static inline const char *fuzz_file(const uint8_t *data, size_t size) {
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("cnnbench-fuzz", 0);
        FUZZ_CHECK(fd >= 0, "memfd_create failed");
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    FUZZ_CHECK(ftruncate(fd, 0) == 0, "ftruncate failed");
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
        FUZZ_CHECK(w > 0, "pwrite failed");
        done += (size_t)w;
    }
    return path;
}

#endif /* CNB_TESTS_FUZZ_FUZZ_H */
