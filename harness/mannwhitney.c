/* The Mann-Whitney U test (Mann & Whitney 1947; Wilcoxon 1945 rank sum), one-sided both ways.
 * Small samples: the exact permutation distribution of the rank sum of b given the observed tie
 * pattern, counted by dynamic programming over doubled midranks. Large samples: the normal
 * approximation with continuity correction and the tie-corrected variance (as in Lehmann 1975). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/status.h"
#include "harness/mannwhitney.h"

typedef struct obs {
    double v;
    bool from_b;
} obs;

static int cmp_obs(const void *x, const void *y) {
    double a = ((const obs *)x)->v, b = ((const obs *)y)->v;
    return (a > b) - (a < b);
}

/* Exact tail probabilities of T = sum of the doubled ranks of b, under H0 (every choice of which nb
 * of the n pooled values belong to b is equally likely). Doubled midranks are integers, so
 * cnt[j][s] = number of j-subsets of the values seen so far whose doubled ranks sum to s. */
static cnb_status exact_tails(const uint32_t *w2, size_t n, size_t nb, uint64_t t_obs, double *p_ge,
                              double *p_le, cnb_error *err) {
    uint64_t smax = 0;
    for (size_t k = 0; k < n; k++) smax += w2[k];
    size_t cols = (size_t)smax + 1;
    // Counts go up to C(40, 20) ~ 1.4e11 here, far below 2^53, so doubles hold them exactly.
    double *cnt = calloc((nb + 1) * cols, sizeof *cnt);
    if (!cnt) return cnb_fail(err, CNB_E_NOMEM, "Mann-Whitney: out of memory for the exact table (%zu values)", n);
    cnt[0] = 1;
    for (size_t k = 0; k < n; k++) {
        size_t w = w2[k];
        size_t jmax = k + 1 < nb ? k + 1 : nb;
        // Walk j downwards so each value is used at most once per subset (0/1 knapsack order).
        for (size_t j = jmax; j >= 1; j--) {
            double *dst = cnt + j * cols;
            const double *src = cnt + (j - 1) * cols;
            for (size_t s = cols - 1; s >= w; s--) dst[s] += src[s - w];
        }
    }
    const double *row = cnt + nb * cols;
    double total = 0, ge = 0, le = 0;
    for (size_t s = 0; s < cols; s++) {
        total += row[s];
        if (s >= t_obs) ge += row[s];
        if (s <= t_obs) le += row[s];
    }
    free(cnt);
    *p_ge = ge / total;
    *p_le = le / total;
    return CNB_OK;
}

cnb_status cnb_mwu_test(const double *a, size_t na, const double *b, size_t nb, cnb_mwu_result *r,
                        cnb_error *err) {
    if (na == 0 || nb == 0) {
        *r = (cnb_mwu_result){.u = 0, .p_greater = 1, .p_less = 1, .exact = true};
        return CNB_OK;
    }
    size_t n = na + nb;
    obs *o = malloc(n * sizeof *o);
    uint32_t *w2 = malloc(n * sizeof *w2);
    if (!o || !w2) {
        free(o), free(w2);
        return cnb_fail(err, CNB_E_NOMEM, "Mann-Whitney: out of memory for %zu values", n);
    }
    for (size_t i = 0; i < na; i++) o[i] = (obs){a[i], false};
    for (size_t i = 0; i < nb; i++) o[na + i] = (obs){b[i], true};
    for (size_t i = 0; i < n; i++) {
        if (isnan(o[i].v)) {
            const char *which = o[i].from_b ? "b" : "a";
            free(o), free(w2);
            return cnb_fail(err, CNB_E_INVALID_ARG, "Mann-Whitney: sample %s has a NaN value", which);
        }
    }
    qsort(o, n, sizeof *o, cmp_obs);

    // A tie group at sorted positions i..j holds ranks i+1..j+1, midrank (i+j+2)/2; doubling keeps it
    // an integer. tie_sum = sum over groups of (t^3 - t), for the variance correction.
    uint64_t t_b = 0;
    double tie_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && o[j + 1].v == o[i].v) j++;
        uint32_t w = (uint32_t)(i + j + 2);
        for (size_t k = i; k <= j; k++) {
            w2[k] = w;
            if (o[k].from_b) t_b += w;
        }
        double t = (double)(j - i + 1);
        tie_sum += t * t * t - t;
        i = j + 1;
    }
    free(o);

    // U of b = R_b - nb(nb+1)/2 with R_b its (mid)rank sum; this equals #(b > a) + #(b == a)/2.
    r->u = (double)t_b / 2 - (double)nb * (double)(nb + 1) / 2;
    if (na <= CNB_MWU_EXACT_MAX && nb <= CNB_MWU_EXACT_MAX) {
        r->exact = true;
        cnb_status st = exact_tails(w2, n, nb, t_b, &r->p_greater, &r->p_less, err);
        free(w2);
        return st;
    }
    free(w2);

    // E[U] = na nb / 2, Var[U] = na nb / 12 * ((n + 1) - sum(t^3 - t) / (n (n - 1))). The 0.5 moves
    // U towards the mean: the continuity correction for a discrete statistic.
    r->exact = false;
    double dn = (double)n, mean = (double)na * (double)nb / 2;
    double var = (double)na * (double)nb / 12 * ((dn + 1) - tie_sum / (dn * (dn - 1)));
    if (!(var > 0)) {
        // Every value is the same: the data say nothing either way.
        r->p_greater = r->p_less = 1;
        return CNB_OK;
    }
    double sd = sqrt(var);
    double z_g = (r->u - mean - 0.5) / sd, z_l = (r->u - mean + 0.5) / sd;
    r->p_greater = fmin(1, 0.5 * erfc(z_g / sqrt(2.0)));
    r->p_less = fmin(1, 0.5 * erfc(-z_l / sqrt(2.0)));
    return CNB_OK;
}

double cnb_mwu_u(const double *a, size_t na, const double *b, size_t nb) {
    cnb_mwu_result r;
    return cnb_mwu_test(a, na, b, nb, &r, NULL) == CNB_OK ? r.u : NAN;
}

double cnb_mwu_p_greater(const double *a, size_t na, const double *b, size_t nb) {
    cnb_mwu_result r;
    return cnb_mwu_test(a, na, b, nb, &r, NULL) == CNB_OK ? r.p_greater : NAN;
}

double cnb_mwu_p_less(const double *a, size_t na, const double *b, size_t nb) {
    cnb_mwu_result r;
    return cnb_mwu_test(a, na, b, nb, &r, NULL) == CNB_OK ? r.p_less : NAN;
}
