/* The Mann-Whitney U test (Wilcoxon rank-sum test), one-sided both ways, for `cnnbench compare`.
 * Exact conditional permutation distribution of the rank sum when both samples have at most
 * CNB_MWU_EXACT_MAX values (ties keep their midranks, so ties need no approximation); otherwise the
 * normal approximation with continuity and tie correction. Internal to the harness and its tests. */
#ifndef CNB_HARNESS_MANNWHITNEY_H
#define CNB_HARNESS_MANNWHITNEY_H

#include <stdbool.h>
#include <stddef.h>

#include "cnnbench.h"

/* Both samples at most this large: exact distribution; either larger: normal approximation. */
#define CNB_MWU_EXACT_MAX 20

typedef struct cnb_mwu_result {
    double u;         /* U of b: #pairs (a_i, b_j) with b_j > a_i, plus half the tied pairs */
    double p_greater; /* one-sided p-value for "b tends to be larger than a" (P(U >= u) under H0) */
    double p_less;    /* one-sided p-value for "b tends to be smaller than a" (P(U <= u) under H0) */
    bool exact;       /* true: exact permutation distribution; false: normal approximation */
} cnb_mwu_result;

/* Run the test on a (na values) and b (nb values); values must not be NaN. With an empty sample both
 * p-values are 1. CNB_E_INVALID_ARG for NaN input, CNB_E_NOMEM when the exact table cannot be
 * allocated; r is set only on CNB_OK. */
cnb_status cnb_mwu_test(const double *a, size_t na, const double *b, size_t nb, cnb_mwu_result *r,
                        cnb_error *err);

/* Shorthands: U of b, and the two one-sided p-values; NaN where cnb_mwu_test fails. */
double cnb_mwu_u(const double *a, size_t na, const double *b, size_t nb);
double cnb_mwu_p_greater(const double *a, size_t na, const double *b, size_t nb);
double cnb_mwu_p_less(const double *a, size_t na, const double *b, size_t nb);

#endif /* CNB_HARNESS_MANNWHITNEY_H */
