// libFuzzer target: cnb_plan_create with any layer kind, parameters and input shape decoded from the bytes
// (huge, negative and overflowing values included), `auto` or any implementation: refusals agree with the
// validation and are one line; small plans run on data from the bytes (NaN and inf too), every output
// element written and nothing past it; huge ones are planned only (docs/fuzzing.md).
#include "tests/fuzz/fuzz.h"

#include "core/geom.h"

#define MAX_ELEMS 100000        // input, output and parameter elements of a plan that is run
#define MAX_WORK 20000000.0     // multiply-adds (or window taps) of a run
#define CANARY 64               // guard elements after each output
#define MAX_PLANE 1e7           // padded rows or columns of a convolution that is planned (not run)

static void decode_layer(fuzz_src *s, cnb_layer *l) {
    const uint8_t k = fuzz_u8(s) % 8;
    // 6 and 7: kinds that do not exist.
    const cnb_layer_kind kind = k < CNB_KIND_COUNT ? (cnb_layer_kind)k : k == 6 ? CNB_KIND_COUNT : (cnb_layer_kind)1000;
    memset(l, 0, sizeof *l);
    if (kind < CNB_KIND_COUNT) cnb_layer_defaults(l, kind);
    l->kind = kind;
    switch (kind) {
    case CNB_CONV1D:
    case CNB_CONV2D: {
        cnb_conv_params *c = &l->u.conv;
        c->in_channels = fuzz_i64(s);
        c->out_channels = fuzz_i64(s);
        for (int i = 0; i < 2; i++) {
            c->kernel_size[i] = fuzz_i64(s);
            c->stride[i] = fuzz_i64(s);
            c->padding[i] = fuzz_i64(s);
            c->dilation[i] = fuzz_i64(s);
        }
        c->padding_kind = (cnb_padding_kind)(fuzz_u8(s) % 4);  // 3: invalid
        c->groups = fuzz_i64(s);
        c->bias = fuzz_u8(s) & 1;
        c->padding_mode = (cnb_padding_mode)(fuzz_u8(s) % 5);  // 4: invalid
        break;
    }
    case CNB_MAXPOOL2D: {
        cnb_maxpool2d_params *m = &l->u.maxpool2d;
        for (int i = 0; i < 2; i++) {
            m->kernel_size[i] = fuzz_i64(s);
            m->stride[i] = fuzz_i64(s);
            m->padding[i] = fuzz_i64(s);
            m->dilation[i] = fuzz_i64(s);
        }
        const uint8_t f = fuzz_u8(s);
        m->stride_given = f & 1;
        m->return_indices = f & 2;
        m->ceil_mode = f & 4;
        break;
    }
    case CNB_AVGPOOL2D: {
        cnb_avgpool2d_params *a = &l->u.avgpool2d;
        for (int i = 0; i < 2; i++) {
            a->kernel_size[i] = fuzz_i64(s);
            a->stride[i] = fuzz_i64(s);
            a->padding[i] = fuzz_i64(s);
        }
        const uint8_t f = fuzz_u8(s);
        a->stride_given = f & 1;
        a->ceil_mode = f & 2;
        a->count_include_pad = f & 4;
        a->divisor_override_given = f & 8;
        a->divisor_override = fuzz_i64(s);
        break;
    }
    case CNB_ADAPTIVEAVGPOOL2D:
        l->u.adaptiveavgpool2d.output_size[0] = fuzz_i64(s);
        l->u.adaptiveavgpool2d.output_size[1] = fuzz_i64(s);
        break;
    case CNB_BATCHNORM2D: {
        cnb_batchnorm2d_params *b = &l->u.batchnorm2d;
        b->num_features = fuzz_i64(s);
        b->eps = fuzz_real(s);
        b->momentum = fuzz_real(s);
        const uint8_t f = fuzz_u8(s);
        b->momentum_given = f & 1;
        b->affine = f & 2;
        b->track_running_stats = f & 4;
        b->training = f & 8;
        break;
    }
    default:
        break;
    }
}

/* A float from one byte: small integers mostly, the non-finite values sometimes. */
static float value(uint8_t b) {
    if (b >= 250) return b == 250 ? NAN : b == 251 ? INFINITY : b == 252 ? -INFINITY : b == 253 ? -0.f : 1e30f;
    return (float)((int)(b % 17) - 8) * (b & 0x80 ? 0.25f : 1.f);
}

static float *make(int64_t n, const uint8_t *bytes, size_t nb, bool positive) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    FUZZ_CHECK(p != NULL, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        float v = nb ? value(bytes[(size_t)i % nb] ^ (uint8_t)(i * 37)) : (float)(i % 5);
        p[i] = positive ? fabsf(v) + 0.5f : v;
    }
    return p;
}

/* The work of one run, in multiply-adds or window taps (approximately). Our pooling kernels visit the taps
 * inside the plane only (clip): a kernel larger than the input costs no more; a peer's visit them all. */
static double work(const cnb_geom *g, bool clip) {
    const double out = (double)g->out_numel;
    switch (g->kind) {
    case CNB_CONV1D:
    case CNB_CONV2D: return out * (double)(g->C / g->groups) * (double)g->kh * (double)g->kw;
    case CNB_MAXPOOL2D:
    case CNB_AVGPOOL2D:
        if (!clip) return out * (double)g->kh * (double)g->kw;
        return out * (double)(g->kh < g->H ? g->kh : g->H) * (double)(g->kw < g->W ? g->kw : g->W);
    case CNB_ADAPTIVEAVGPOOL2D:
        return out * ((double)g->H / (double)(g->OH ? g->OH : 1) + 2) * ((double)g->W / (double)(g->OW ? g->OW : 1) + 2);
    default: return 4.0 * (double)g->in_numel;
    }
}

static void run_plan(const cnb_plan *plan, const cnb_geom *g, fuzz_src *s) {
    const int64_t nx = g->in_numel, ny = g->out_numel;
    float *x = make(nx, s->p, s->n, false);
    float *y = malloc((size_t)(ny + CANARY) * sizeof *y);
    int64_t *idx = NULL;
    float *nrm = NULL, *nrv = NULL;
    FUZZ_CHECK(y != NULL, "out of memory");
    // A NaN pattern no kernel computes: an element left unwritten still holds it.
    const uint32_t poison = 0x7fa5a5a5u;
    for (int64_t i = 0; i < ny + CANARY; i++) memcpy(&y[i], &poison, sizeof poison);
    if (g->kind == CNB_MAXPOOL2D && g->return_indices) {
        FUZZ_CHECK((idx = malloc((size_t)(ny + CANARY) * sizeof *idx)) != NULL, "out of memory");
        for (int64_t i = 0; i < ny + CANARY; i++) idx[i] = -12345;
    }
    if (g->kind == CNB_BATCHNORM2D && g->track_running_stats) {
        nrm = make(g->C + CANARY, NULL, 0, false);
        nrv = make(g->C + CANARY, NULL, 0, false);
    }
    const uint8_t how = fuzz_u8(s);
    const size_t wsb = cnb_plan_workspace_size(plan);
    void *ws = (how & 1) && wsb ? malloc(wsb) : NULL;
    int64_t nbt = -1;
    cnb_run_args a = {.x = x, .y = y, .indices = idx, .new_running_mean = nrm, .new_running_var = nrv,
                      .new_num_batches_tracked = g->kind == CNB_BATCHNORM2D ? &nbt : NULL, .workspace = ws,
                      .threads = 1 + (how >> 1) % 2};
    cnb_error e = {0};
    cnb_status st = cnb_plan_run(plan, &a, &e);
    FUZZ_CHECK(st == CNB_OK, "%s: run failed: %s", cnb_plan_impl(plan), e.msg);
    for (int64_t i = 0; i < ny + CANARY; i++) {
        uint32_t bits;
        memcpy(&bits, &y[i], sizeof bits);
        if (i < ny) FUZZ_CHECK(bits != poison, "%s: output element %lld of %lld not written", cnb_plan_impl(plan), (long long)i, (long long)ny);
        else FUZZ_CHECK(bits == poison, "%s: wrote past the output (element %lld of %lld)", cnb_plan_impl(plan), (long long)i, (long long)ny);
        // A window of padding only gives -inf at the index of its first tap, outside the plane (PyTorch's rule).
        if (idx && i < ny && !(isinf(y[i]) && y[i] < 0))
            FUZZ_CHECK(idx[i] >= 0 && idx[i] < g->H * g->W, "%s: index %lld out of range", cnb_plan_impl(plan), (long long)idx[i]);
        if (idx && i >= ny) FUZZ_CHECK(idx[i] == -12345, "%s: wrote past the indices", cnb_plan_impl(plan));
    }
    free(ws);
    free(x), free(y), free(idx), free(nrm), free(nrv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_src s = {data, size};
    cnb_layer layer;
    decode_layer(&s, &layer);
    cnb_shape in;
    memset(&in, 0, sizeof in);
    const uint8_t nd = fuzz_u8(&s) % 7;
    in.ndim = nd == 6 ? -1 : nd;  // 0 and 5: too few or too many, -1: nonsense
    for (int i = 0; i < CNB_MAX_DIMS; i++) in.dims[i] = fuzz_i64(&s);
    const int64_t nbt = fuzz_u8(&s) < 240 ? fuzz_u8(&s) % 4 : fuzz_i64(&s);
    const uint8_t ib = fuzz_u8(&s);
    const size_t ni = cnb_impl_count();
    const char *impl = ib < 96 ? "auto" : ib < 100 ? NULL : ib < 104 ? "no.such.impl" : cnb_impl_name(ib % ni);
    const uint8_t pt = fuzz_u8(&s);
    const int threads = pt < 250 ? pt % 3 : -1;
    const uint8_t given = fuzz_u8(&s);

    cnb_geom g;
    cnb_error e = {0}, e2 = {0};
    const cnb_status gst = cnb_geom_init(&g, &layer, &in, nbt, &e);
    cnb_shape out;
    const cnb_status ost = cnb_output_shape(&layer, &in, &out, &e2);
    if (gst) fuzz_check_error(gst, &e);
    if (ost) fuzz_check_error(ost, &e2);
    if (!gst) {
        FUZZ_CHECK(!ost && out.ndim == g.out_shape.ndim && !memcmp(out.dims, g.out_shape.dims, sizeof out.dims),
                   "cnb_output_shape disagrees with the geometry");
        FUZZ_CHECK(g.in_numel >= 0 && g.out_numel >= 0 && g.OH >= 0 && g.OW >= 0, "negative sizes");
    }

    // Parameters: the weight when the layer has one of a size that can be made, the others when asked.
    int64_t nw = 0, nb = 0, nc = 0;
    if (!gst && (g.kind == CNB_CONV1D || g.kind == CNB_CONV2D)) nw = g.K * (g.C / g.groups) * g.kh * g.kw, nb = g.K;
    if (!gst && g.kind == CNB_BATCHNORM2D) nw = nb = nc = g.C;
    const bool small_params = nw <= MAX_ELEMS && nb <= MAX_ELEMS;
    // BatchNorm2d fills in defaults of its channel count: a count too big to allocate is left out.
    if (!gst && g.kind == CNB_BATCHNORM2D && !small_params) return 0;
    const size_t il = impl ? strlen(impl) : 0;
    const bool peer = il > 4 && !strcmp(impl + il - 4, ".ext");
    const bool small = !gst && small_params && g.in_numel <= MAX_ELEMS && g.out_numel <= MAX_ELEMS &&
                       work(&g, !peer) <= MAX_WORK;
    // A kernel's plan() may size tables by the padded input plane or the output plane (conv2d.direct.avx2,
    // adaptiveavgpool2d.direct.*: one entry per row and column), as large as the tensors a run would need:
    // beyond MAX_PLANE, a convolution gets no weight and a pooling layer is only asked supports(), so
    // validation, dispatch and supports() run, not plan().
    const bool plannable = !gst && (double)g.H + (double)g.pad_t + (double)g.pad_b <= MAX_PLANE &&
                           (double)g.W + (double)g.pad_l + (double)g.pad_r <= MAX_PLANE && g.OH <= MAX_PLANE &&
                           g.OW <= MAX_PLANE;
    const bool pool = !gst && (g.kind == CNB_MAXPOOL2D || g.kind == CNB_AVGPOOL2D || g.kind == CNB_ADAPTIVEAVGPOOL2D);
    float *w = NULL, *b = NULL, *rm = NULL, *rv = NULL;
    if (small_params && nw && ((given & 1) || g.kind != CNB_BATCHNORM2D) && (plannable || g.kind == CNB_BATCHNORM2D))
        w = make(nw, s.p, s.n, false);
    if (small_params && nb && (given & 2) && (g.kind == CNB_BATCHNORM2D ? g.affine : g.has_bias)) b = make(nb, s.p, s.n, false);
    if (small_params && nc && (given & 4) && g.track_running_stats) rm = make(nc, s.p, s.n, false), rv = make(nc, s.p, s.n, true);
    if (g.kind == CNB_BATCHNORM2D && !g.affine) w = (free(w), NULL);
    if ((given & 8) && nb <= MAX_ELEMS) {  // a bias whatever the layer: refused where it takes none
        free(b);
        b = make(nb > 4 ? nb : 4, NULL, 0, false);
    }
    const cnb_params prm = {.weight = w, .bias = b, .running_mean = rm, .running_var = rv, .num_batches_tracked = nbt,
                            .threads = threads};
    // A peer library's plan for a huge layer is left out, only its supports() asked: oneDNN 2.6 takes seconds
    // to create the reorders of a prime-sized dimension near 2^31 (time linear in it), its business, not a
    // hang of ours. So is a pooling layer whose planes exceed MAX_PLANE (above).
    if (!small && !gst && (peer || (pool && !plannable))) {
        const long i = cnb_impl_find(impl);
        cnb_status cs = i < 0 ? CNB_OK : cnb_impl_check((size_t)i, &layer, &in, &e);
        if (cs) fuzz_check_error(cs, &e);
        free(w), free(b), free(rm), free(rv);
        return 0;
    }
    cnb_plan *plan = (cnb_plan *)1;
    cnb_status st = cnb_plan_create(&layer, &in, impl, &prm, &plan, &e);
    if (st) {
        fuzz_check_error(st, &e);
        FUZZ_CHECK(plan == NULL, "a failed creation left a plan");
        if (gst) FUZZ_CHECK(st == gst, "creation says %d (%s), validation %d", (int)st, e.msg, (int)gst);
    } else {
        FUZZ_CHECK(!gst, "a plan was created for a layer validation refuses: %s", e.msg);
        const cnb_shape *os = cnb_plan_output_shape(plan);
        FUZZ_CHECK(os->ndim == g.out_shape.ndim && !memcmp(os->dims, g.out_shape.dims, sizeof os->dims), "plan output shape");
        if (small) run_plan(plan, &g, &s);
        cnb_plan_destroy(plan);
    }
    free(w), free(b), free(rm), free(rv);
    return 0;
}
