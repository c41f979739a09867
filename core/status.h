/* The single place errors are reported: cnb_fail() fills a caller-owned cnb_error. */
#ifndef CNB_CORE_STATUS_H
#define CNB_CORE_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "cnnbench.h"

#if defined(__GNUC__)
#define CNB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CNB_PRINTF(f, a)
#endif

/* Set err (if not NULL) to status s with a printf-style one-line message; returns s. */
cnb_status cnb_fail(cnb_error *err, cnb_status s, const char *fmt, ...) CNB_PRINTF(3, 4);

/* Overflow-checked int64 products and sums: return false on overflow (*r unspecified). */
static inline bool cnb_mul_ok(int64_t a, int64_t b, int64_t *r) { return !__builtin_mul_overflow(a, b, r); }
static inline bool cnb_add_ok(int64_t a, int64_t b, int64_t *r) { return !__builtin_add_overflow(a, b, r); }

#endif /* CNB_CORE_STATUS_H */
