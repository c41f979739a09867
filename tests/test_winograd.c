// Winograd F(m x m, 3x3): the tables of kernels/scalar/winograd_scalar.h reproduce direct 1-D and 2-D correlation
// exactly (G and B^T scaled to integers, in double) and match its formulas; every registered winograd kernel
// matches the reference, with the same bits at 1 and 2 threads, on shapes the golden cases miss (weights per run,
// several blocks, channels split over threads, odd channels, groups, batches, all padding modes, NaN and inf).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnbench.h"
#include "core/spec.h"
#include "kernels/scalar/winograd_scalar.h"
#include "test_util.h"

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static int64_t rnd_int(int lo, int hi) {   /* uniform in [lo, hi] */
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (int64_t)((g_rng >> 33) % (uint64_t)(hi - lo + 1));
}
static float rnd_float(void) { return (float)rnd_int(-1000000, 1000000) / 1000000.f; }

/* x * scale must be an integer (the tables hold rationals with that denominator); returns it. */
static double as_int(double x, double scale, const char *what) {
    const double v = x * scale, r = nearbyint(v);
    tu_check(fabs(v - r) < 1e-9 * (1 + fabs(v)), what, "entry %.17g x %.0f is not an integer", x, scale);
    return r;
}

/* 1-D: A^T [(G g) .* (B^T d)] == sum_j d[i+j] g[j], with G and B^T scaled to integers, all in exact integers. */
static void check_1d(const cnb_wino_matrices *t) {
    const int m = t->m, a = t->alpha;
    char what[64];
    snprintf(what, sizeof what, "F(%d,3) 1-D", m);
    double Gi[8][3], Bi[8][8];
    for (int i = 0; i < a; i++) {
        for (int j = 0; j < 3; j++) Gi[i][j] = as_int(t->g[i * 3 + j], t->g_den, what);
        for (int j = 0; j < a; j++) Bi[i][j] = as_int(t->bt[i * a + j], t->bt_den, what);
    }
    int bad = 0;
    for (int trial = 0; trial < 2000 && !bad; trial++) {
        double d[8], g[3], gg[8], bd[8];
        for (int i = 0; i < a; i++) d[i] = (double)rnd_int(-50, 50);
        for (int i = 0; i < 3; i++) g[i] = (double)rnd_int(-50, 50);
        for (int i = 0; i < a; i++) {
            gg[i] = bd[i] = 0;
            for (int j = 0; j < 3; j++) gg[i] += Gi[i][j] * g[j];
            for (int j = 0; j < a; j++) bd[i] += Bi[i][j] * d[j];
        }
        for (int i = 0; i < m; i++) {
            double y = 0, ref = 0;
            for (int p = 0; p < a; p++) y += t->at[i * a + p] * gg[p] * bd[p];   // A^T entries are dyadic: exact
            for (int j = 0; j < 3; j++) ref += d[i + j] * g[j];
            if (y != ref * t->g_den * t->bt_den) bad = 1;
        }
    }
    tu_check(!bad, what, "does not reproduce direct correlation");
}

/* 2-D: A^T [(G g G^T) .* (B^T d B)] A == the 3x3 correlation of the alpha x alpha tile, exactly. */
static void check_2d(const cnb_wino_matrices *t) {
    const int m = t->m, a = t->alpha;
    char what[64];
    snprintf(what, sizeof what, "F(%dx%d,3x3) 2-D", m, m);
    double Gi[8][3], Bi[8][8];
    for (int i = 0; i < a; i++) {
        for (int j = 0; j < 3; j++) Gi[i][j] = nearbyint(t->g[i * 3 + j] * t->g_den);
        for (int j = 0; j < a; j++) Bi[i][j] = nearbyint(t->bt[i * a + j] * t->bt_den);
    }
    const double scale = t->g_den * t->g_den * t->bt_den * t->bt_den;
    int bad = 0;
    for (int trial = 0; trial < 300 && !bad; trial++) {
        double d[8][8], g[3][3], u[8][8], v[8][8], tmp[8][8];
        for (int i = 0; i < a; i++)
            for (int j = 0; j < a; j++) d[i][j] = (double)rnd_int(-20, 20);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) g[i][j] = (double)rnd_int(-20, 20);
        for (int i = 0; i < a; i++)   // G g
            for (int j = 0; j < 3; j++) {
                tmp[i][j] = 0;
                for (int l = 0; l < 3; l++) tmp[i][j] += Gi[i][l] * g[l][j];
            }
        for (int i = 0; i < a; i++)   // (G g) G^T
            for (int j = 0; j < a; j++) {
                u[i][j] = 0;
                for (int l = 0; l < 3; l++) u[i][j] += tmp[i][l] * Gi[j][l];
            }
        for (int i = 0; i < a; i++)   // B^T d
            for (int j = 0; j < a; j++) {
                tmp[i][j] = 0;
                for (int l = 0; l < a; l++) tmp[i][j] += Bi[i][l] * d[l][j];
            }
        for (int i = 0; i < a; i++)   // (B^T d) B
            for (int j = 0; j < a; j++) {
                v[i][j] = 0;
                for (int l = 0; l < a; l++) v[i][j] += tmp[i][l] * Bi[j][l];
            }
        for (int i = 0; i < a; i++)
            for (int j = 0; j < a; j++) u[i][j] *= v[i][j];
        for (int i = 0; i < m; i++)   // A^T M
            for (int j = 0; j < a; j++) {
                tmp[i][j] = 0;
                for (int l = 0; l < a; l++) tmp[i][j] += t->at[i * a + l] * u[l][j];
            }
        for (int i = 0; i < m; i++)   // (A^T M) A
            for (int j = 0; j < m; j++) {
                double y = 0, ref = 0;
                for (int l = 0; l < a; l++) y += tmp[i][l] * t->at[j * a + l];
                for (int p = 0; p < 3; p++)
                    for (int q = 0; q < 3; q++) ref += d[i + p][j + q] * g[p][q];
                if (y != ref * scale) bad = 1;
            }
    }
    tu_check(!bad, what, "does not reproduce direct 3x3 correlation");
}

/* The explicit formulas of winograd_scalar.h against the tables, on integers (exact in float). */
static void check_formulas(const cnb_wino_matrices *t, cnb_wino_pass_fn in1, cnb_wino_pass_fn out1) {
    const int m = t->m, a = t->alpha;
    char what[64];
    snprintf(what, sizeof what, "F(%d,3) formulas", m);
    int bad = 0;
    for (int trial = 0; trial < 1000; trial++) {
        float d[8], o[8];
        for (int i = 0; i < a; i++) d[i] = (float)rnd_int(-100, 100);
        in1(d, 1, o, 1);
        for (int i = 0; i < a; i++) {
            double ref = 0;
            for (int j = 0; j < a; j++) ref += t->bt[i * a + j] * d[j];
            if (o[i] != ref) bad |= 1;
        }
        out1(d, 1, o, 1);
        for (int i = 0; i < m; i++) {
            double ref = 0;
            for (int j = 0; j < a; j++) ref += t->at[i * a + j] * d[j];
            if (o[i] != ref) bad |= 2;
        }
        // the weight transform: U = G g G^T of integer taps, against the table in double
        float g[9], u[64];
        for (int i = 0; i < 9; i++) g[i] = (float)rnd_int(-8, 8);
        cnb_wino_weight_tile(t, g, u, 1);
        for (int i = 0; i < a; i++)
            for (int j = 0; j < a; j++) {
                double ref = 0;
                for (int p = 0; p < 3; p++)
                    for (int q = 0; q < 3; q++) ref += t->g[i * 3 + p] * g[p * 3 + q] * t->g[j * 3 + q];
                if (fabs(u[i * a + j] - ref) > 1e-6 * (1 + fabs(ref))) bad |= 4;
            }
    }
    tu_check(!(bad & 1), what, "input transform differs from B^T");
    tu_check(!(bad & 2), what, "output transform differs from A^T");
    tu_check(!(bad & 4), what, "weight transform differs from G g G^T");
}

/* ---- implementations on shapes beyond the golden cases ---------------------------------------------------- */

typedef struct shape_case {
    const char *spec;
    int64_t n, c, h, w;
    const char *why;
    int nonfinite;   /* NaNs and infinities put into the input */
} shape_case;

static const shape_case k_cases[] = {
    {"Conv2d(160, 160, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))", 1, 160, 9, 9, "weights per run (F4, F6)", 0},
    {"Conv2d(160, 150, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)", 1, 160, 5, 6,
     "weights per run, K % 16 != 0", 0},
    {"Conv2d(300, 100, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), groups=2, padding_mode=reflect)", 2, 300, 6, 5,
     "weights per run, groups, batch", 0},
    {"Conv2d(32, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))", 1, 32, 8, 8, "output channels split over threads", 0},
    {"Conv2d(64, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)", 2, 64, 40, 44, "several tile blocks", 0},
    {"Conv2d(13, 19, kernel_size=(3, 3), stride=(1, 1), padding=(2, 1), padding_mode=reflect)", 2, 13, 23, 37,
     "odd channels, reflect, multi-row", 0},
    {"Conv2d(9, 7, kernel_size=(3, 3), stride=(1, 1), padding=same, padding_mode=replicate)", 1, 9, 31, 17,
     "replicate, same", 0},
    {"Conv2d(12, 10, kernel_size=(3, 3), stride=(1, 1), padding=(3, 2), groups=2, padding_mode=circular)", 3, 12, 11, 19,
     "circular, groups, batch", 0},
    {"Conv2d(8, 24, kernel_size=(3, 3), stride=(1, 1))", 1, 8, 3, 70, "valid, one output row", 0},
    {"Conv2d(6, 20, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), padding_mode=circular)", 2, 6, 17, 15,
     "NaN and inf in the input", 1},
    {"Conv2d(160, 160, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), groups=2, padding_mode=reflect)", 1, 160, 9, 7,
     "NaN and inf in the input, weights per run", 1},
};

static float *run_impl(const char *impl, const cnb_layer *l, const cnb_shape *s, const float *x, const float *w, const float *b,
                       int64_t ny, int threads) {
    cnb_error e = {0};
    cnb_params prm = {.weight = w, .bias = b};
    cnb_plan *plan = NULL;
    if (cnb_plan_create(l, s, impl, &prm, &plan, &e)) {
        tu_check(false, impl, "plan: %s", e.msg);
        return NULL;
    }
    float *y = malloc((size_t)ny * sizeof *y);
    cnb_run_args a = {.x = x, .y = y, .threads = threads};
    if (cnb_plan_run(plan, &a, &e)) {
        tu_check(false, impl, "run: %s", e.msg);
        free(y);
        y = NULL;
    }
    cnb_plan_destroy(plan);
    return y;
}

static void check_impls(void) {
    for (size_t ci = 0; ci < sizeof k_cases / sizeof k_cases[0]; ci++) {
        const shape_case *sc = &k_cases[ci];
        cnb_layer l;
        cnb_error e = {0};
        if (cnb_spec_parse(sc->spec, &l, &e)) {
            tu_check(false, sc->spec, "parse: %s", e.msg);
            continue;
        }
        cnb_shape s = {.ndim = 4, .dims = {sc->n, sc->c, sc->h, sc->w}}, os;
        if (cnb_output_shape(&l, &s, &os, &e)) {
            tu_check(false, sc->spec, "shape: %s", e.msg);
            continue;
        }
        int64_t nx = sc->n * sc->c * sc->h * sc->w, ny = 1;
        for (int i = 0; i < os.ndim; i++) ny *= os.dims[i];
        const int64_t nw = l.u.conv.out_channels * (sc->c / l.u.conv.groups) * 9;
        float *x = malloc((size_t)nx * sizeof *x), *w = malloc((size_t)nw * sizeof *w);
        float *b = malloc((size_t)l.u.conv.out_channels * sizeof *b);
        for (int64_t i = 0; i < nx; i++) x[i] = rnd_float();
        for (int i = 0; i < 3 * sc->nonfinite; i++) {   // at the border (the padding repeats it) and inside
            x[rnd_int(0, (int)nx - 1)] = NAN;
            x[rnd_int(0, (int)(sc->h * sc->w) - 1)] = i % 2 ? INFINITY : -INFINITY;
            x[(sc->c - 1) * sc->h * sc->w + rnd_int(0, (int)sc->w - 1)] = NAN;
        }
        for (int64_t i = 0; i < nw; i++) w[i] = rnd_float() / sqrtf((float)nw / (float)l.u.conv.out_channels);
        for (int64_t i = 0; i < l.u.conv.out_channels; i++) b[i] = 0.1f * rnd_float();
        const float *bias = l.u.conv.bias ? b : NULL;
        float *ref = run_impl("conv2d.naive.scalar", &l, &s, x, w, bias, ny, 2);
        double scale = 0;
        for (int64_t i = 0; ref && i < ny; i++)
            if (isfinite(ref[i])) scale = fmax(scale, fabs(ref[i]));
        for (size_t i = 0; ref && i < cnb_impl_count(); i++) {
            const char *name = cnb_impl_name(i);
            if (!strstr(name, ".winograd_") || cnb_impl_check(i, &l, &s, NULL) != CNB_OK) continue;
            float *y1 = run_impl(name, &l, &s, x, w, bias, ny, 1), *y2 = run_impl(name, &l, &s, x, w, bias, ny, 2);
            if (y1 && y2) {
                double err = 0;
                for (int64_t j = 0; j < ny; j++) {
                    if (isnan(ref[j]) || isnan(y1[j]) || isinf(ref[j]) || isinf(y1[j])) {   // same place, same value
                        if (!(isnan(ref[j]) && isnan(y1[j])) && ref[j] != y1[j]) err = INFINITY;
                        continue;
                    }
                    err = fmax(err, fabs((double)y1[j] - ref[j]) / scale);
                }
                char what[160];
                snprintf(what, sizeof what, "%s on %s %lldx%lldx%lldx%lld (%s)", name, sc->spec, (long long)sc->n,
                         (long long)sc->c, (long long)sc->h, (long long)sc->w, sc->why);
                tu_check(err <= cnb_impl_max_rel_err(i), what, "rel err %.3g > %.3g", err, cnb_impl_max_rel_err(i));
                tu_check(!memcmp(y1, y2, (size_t)ny * sizeof *y1), what, "1 and 2 threads give different bits");
            }
            free(y1), free(y2);
        }
        free(ref), free(x), free(w), free(b);
    }
}

int main(void) {
    for (int m = 2; m <= 6; m += 2) {
        check_1d(cnb_wino_matrices_for(m));
        check_2d(cnb_wino_matrices_for(m));
    }
    check_formulas(cnb_wino_matrices_for(2), cnb_wino_f2_input_1d, cnb_wino_f2_output_1d);
    check_formulas(cnb_wino_matrices_for(4), cnb_wino_f4_input_1d, cnb_wino_f4_output_1d);
    check_impls();
    return tu_summary("winograd");
}
