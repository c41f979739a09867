/* cnnbench: CNN layer kernels with exactly PyTorch 1.13's semantics (float32, NCHW).
 *
 * A layer is described by its PyTorch constructor parameters (cnb_layer), applied to an input shape
 * (cnb_shape), and executed through a plan: cnb_plan_create() validates the layer and shape as PyTorch
 * would, picks an implementation (by name, or "auto"), copies/packs the weights, and cnb_plan_run()
 * computes the output. Every function reports failure through a cnb_status and a caller-owned cnb_error
 * whose message names the problem; nothing aborts. This is the only public header. */
#ifndef CNNBENCH_H
#define CNNBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status ------------------------------------------------------------------------------------ */

/** Result of every fallible call. */
typedef enum cnb_status {
    CNB_OK = 0,
    CNB_E_INVALID_ARG,  /**< PyTorch would reject these parameters, shapes or tensors. */
    CNB_E_UNSUPPORTED,  /**< Valid, but the requested implementation cannot run it. */
    CNB_E_NO_ISA,       /**< The CPU (or the CNB_ISA cap) lacks the instructions the implementation needs. */
    CNB_E_NOT_FOUND,    /**< No implementation of that name. */
    CNB_E_OVERFLOW,     /**< A size product overflows int64 or size_t. */
    CNB_E_NOMEM,        /**< Memory allocation failed. */
    CNB_E_IO,           /**< Reading or writing a file failed. */
    CNB_E_PARSE,        /**< A layer spec or file could not be parsed, or a plan file is damaged. */
    CNB_E_MISMATCH,     /**< A plan file was made on another machine or with another build. */
    CNB_STATUS_COUNT
} cnb_status;

/** Caller-owned error report: the status and a one-line message naming the problem. */
typedef struct cnb_error {
    cnb_status code;
    char msg[256];
} cnb_error;

/** Short name of a status ("invalid argument", ...); never NULL. */
const char *cnb_status_name(cnb_status s);

/* ---- layer descriptions ------------------------------------------------------------------------ */

/** The six layer kinds; each has its own parameter struct in cnb_layer. */
typedef enum cnb_layer_kind {
    CNB_CONV1D = 0,
    CNB_CONV2D,
    CNB_MAXPOOL2D,
    CNB_AVGPOOL2D,
    CNB_ADAPTIVEAVGPOOL2D,
    CNB_BATCHNORM2D,
    CNB_KIND_COUNT
} cnb_layer_kind;

/** PyTorch's class name of a kind ("Conv2d", ...), or "?" for an invalid value. */
const char *cnb_kind_name(cnb_layer_kind k);

/** Conv padding_mode. */
typedef enum cnb_padding_mode {
    CNB_PADMODE_ZEROS = 0,
    CNB_PADMODE_REFLECT,
    CNB_PADMODE_REPLICATE,
    CNB_PADMODE_CIRCULAR
} cnb_padding_mode;

/** How Conv's padding was given: numbers, or the strings 'valid' / 'same'. */
typedef enum cnb_padding_kind {
    CNB_PADDING_EXPLICIT = 0,
    CNB_PADDING_VALID,
    CNB_PADDING_SAME
} cnb_padding_kind;

/** Conv1d / Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
 *  bias=True, padding_mode='zeros'). Per-dimension values are (h, w) for Conv2d; Conv1d uses index 0
 *  only (its length dimension) and ignores index 1. */
typedef struct cnb_conv_params {
    int64_t in_channels;
    int64_t out_channels;
    int64_t kernel_size[2];
    int64_t stride[2];
    cnb_padding_kind padding_kind;
    int64_t padding[2];           /**< used when padding_kind == CNB_PADDING_EXPLICIT */
    int64_t dilation[2];
    int64_t groups;
    bool bias;
    cnb_padding_mode padding_mode;
} cnb_conv_params;

/** MaxPool2d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False). */
typedef struct cnb_maxpool2d_params {
    int64_t kernel_size[2];
    bool stride_given;            /**< false: stride=None, i.e. stride = kernel_size */
    int64_t stride[2];
    int64_t padding[2];
    int64_t dilation[2];
    bool return_indices;
    bool ceil_mode;
} cnb_maxpool2d_params;

/** AvgPool2d(kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
 *  divisor_override=None). */
typedef struct cnb_avgpool2d_params {
    int64_t kernel_size[2];
    bool stride_given;            /**< false: stride=None, i.e. stride = kernel_size */
    int64_t stride[2];
    int64_t padding[2];
    bool ceil_mode;
    bool count_include_pad;
    bool divisor_override_given;  /**< false: divisor_override=None */
    int64_t divisor_override;
} cnb_avgpool2d_params;

/** AdaptiveAvgPool2d(output_size): output_size[i] < 0 stands for None (keep that input dimension). */
typedef struct cnb_adaptiveavgpool2d_params {
    int64_t output_size[2];
} cnb_adaptiveavgpool2d_params;

/** BatchNorm2d(num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True), plus the
 *  module's mode: training (module.train()) or eval. */
typedef struct cnb_batchnorm2d_params {
    int64_t num_features;
    double eps;
    bool momentum_given;          /**< false: momentum=None (cumulative average, 1/num_batches_tracked) */
    double momentum;
    bool affine;
    bool track_running_stats;
    bool training;
} cnb_batchnorm2d_params;

/** A layer: its kind and the parameters of that kind, as given to PyTorch's constructor. */
typedef struct cnb_layer {
    cnb_layer_kind kind;
    union {
        cnb_conv_params conv;     /**< CNB_CONV1D and CNB_CONV2D */
        cnb_maxpool2d_params maxpool2d;
        cnb_avgpool2d_params avgpool2d;
        cnb_adaptiveavgpool2d_params adaptiveavgpool2d;
        cnb_batchnorm2d_params batchnorm2d;
    } u;
} cnb_layer;

/** Fill *layer with PyTorch's defaults for kind (kernel_size and channel counts are left 0). */
void cnb_layer_defaults(cnb_layer *layer, cnb_layer_kind kind);

/** A tensor shape, C order. ndim 1..4; batched or unbatched as PyTorch accepts for the layer. */
#define CNB_MAX_DIMS 4
typedef struct cnb_shape {
    int ndim;
    int64_t dims[CNB_MAX_DIMS];
} cnb_shape;

/** Number of elements of a shape; CNB_E_OVERFLOW if it does not fit int64. */
cnb_status cnb_shape_numel(const cnb_shape *s, int64_t *numel, cnb_error *err);

/** Validate layer and input shape exactly as PyTorch does and compute the output shape (indices, when
 *  requested, have the same shape). The shape of every parameter tensor is given by cnb_param_shape. */
cnb_status cnb_output_shape(const cnb_layer *layer, const cnb_shape *input, cnb_shape *output, cnb_error *err);

/** Which parameter tensor: the shape PyTorch's module holds for it. */
typedef enum cnb_param {
    CNB_PARAM_WEIGHT = 0,   /**< conv (out, in/groups, kh, kw) or (out, in/groups, k); BN (C,) */
    CNB_PARAM_BIAS,         /**< (out,) or BN (C,) */
    CNB_PARAM_RUNNING_MEAN, /**< BN (C,) */
    CNB_PARAM_RUNNING_VAR   /**< BN (C,) */
} cnb_param;

/** The shape the layer expects for a parameter tensor; CNB_E_INVALID_ARG if the layer has no such
 *  parameter (conv with bias=False, BN with affine=False, ...). The layer must already be valid. */
cnb_status cnb_param_shape(const cnb_layer *layer, cnb_param which, cnb_shape *shape, cnb_error *err);

/** Parameter tensors, row-major float32 of the shapes cnb_param_shape gives. NULL means the default:
 *  conv bias zero (conv weight is required); BN weight 1, bias 0, running_mean 0, running_var 1.
 *  They are copied (and packed) at plan creation; the caller may free them afterwards. */
typedef struct cnb_params {
    const float *weight;
    const float *bias;
    const float *running_mean;
    const float *running_var;
    int64_t num_batches_tracked;  /**< BN: the module's counter before this forward call */
    int threads;                  /**< The OpenMP thread count the plan will be run with (0: the OpenMP
                                       default, omp_get_max_threads()). Only part of the key `auto` looks up
                                       in a loaded plan file (cnb_plan_file_load): runs take their thread
                                       count from cnb_run_args.threads, so pass the same value there. */
    bool builtin_rule;            /**< `auto` ignores a loaded plan file and takes the built-in rule's
                                       choice (to measure one against the other). */
} cnb_params;

/* ---- CPU features --------------------------------------------------------------------------------- */

/** Instruction-set bits. */
enum {
    CNB_ISA_AVX2    = 1u << 0,
    CNB_ISA_FMA     = 1u << 1,
    CNB_ISA_AVX512F = 1u << 2,
    CNB_ISA_NEON    = 1u << 3,  /* AArch64 Advanced SIMD (ASIMD) */
    /* Reported by `cnnbench list`/`info` and recorded in result files; no implementation requires them
     * yet, so they do not change dispatch. AArch64 only, from HWCAP; CNB_ISA=neon keeps fp16 and dotprod
     * (extensions of Advanced SIMD) and drops sve, CNB_ISA=scalar drops all. */
    CNB_ISA_FP16    = 1u << 4,  /* half-precision arithmetic in FP and Advanced SIMD (HWCAP_FPHP and ASIMDHP) */
    CNB_ISA_DOTPROD = 1u << 5,  /* Advanced SIMD SDOT/UDOT (HWCAP_ASIMDDP) */
    CNB_ISA_SVE     = 1u << 6   /* Scalable Vector Extension (HWCAP_SVE) */
};

/** Features detected once at run time (CPUID+XGETBV, or HWCAP), capped by the environment variable
 *  CNB_ISA=scalar|avx2|avx512|neon when set. */
uint32_t cnb_cpu_features(void);
/** Features the CPU has, ignoring CNB_ISA. */
uint32_t cnb_cpu_features_detected(void);
/** Writes the space-separated names of the bits set in features ("avx2 fma"), or "none", to buf; returns buf. */
const char *cnb_isa_names(uint32_t features, char *buf, size_t size);

/* ---- implementations ------------------------------------------------------------------------------ */

/** Number of registered implementations (available on this CPU or not). */
size_t cnb_impl_count(void);
/** Name ("conv2d.naive.scalar") of implementation i < cnb_impl_count(), else NULL. */
const char *cnb_impl_name(size_t i);
/** Layer kind of implementation i. */
cnb_layer_kind cnb_impl_kind(size_t i);
/** Instruction-set bits implementation i needs. */
uint32_t cnb_impl_isa(size_t i);
/** Priority of implementation i: `auto` takes the highest that can run; negative: a peer library's
 *  implementation (<layer>.onednn.ext), measured and checked but never chosen by `auto`. */
int cnb_impl_prio(size_t i);
/** What `auto`'s built-in rule weighs implementation i at for layer on input: its prio plus the
 *  shape-dependent preference of core/registry.c (higher wins); INT32_MIN for an invalid layer. */
int cnb_impl_score(size_t i, const cnb_layer *layer, const cnb_shape *input);
/** Largest relative error implementation i promises against the reference (0: exact or double-accurate). */
float cnb_impl_max_rel_err(size_t i);
/** Whether implementation i gives bit-identical results (outputs, indices, running statistics) at every
 *  thread count. False for one that splits a reduction between threads (its results may then differ in
 *  the last bits between thread counts), and for i >= cnb_impl_count(). Whatever this says, every
 *  implementation gives bit-identical results from run to run of one plan at one thread count. */
bool cnb_impl_thread_invariant(size_t i);
/** Index of the implementation named name, or -1. */
long cnb_impl_find(const char *name);
/** Whether implementation i can run layer on input on this CPU: CNB_OK, or CNB_E_NO_ISA /
 *  CNB_E_UNSUPPORTED / CNB_E_INVALID_ARG with the reason in err. */
cnb_status cnb_impl_check(size_t i, const cnb_layer *layer, const cnb_shape *input, cnb_error *err);

/* ---- plans -------------------------------------------------------------------------------------- */

typedef struct cnb_plan cnb_plan;

/** Create a plan: validate layer and input shape as PyTorch does, choose the implementation (impl is a
 *  registered name, or NULL / "auto" for the best available one), check parameter presence, copy/pack
 *  the parameters. The plan keeps all it needs: the caller's arrays may be freed or changed once it
 *  returns. On failure *plan is NULL and err says why.
 *  `auto` takes the loaded plan file's choice when it has an entry for this layer's key (see
 *  cnb_plan_file_load; the thread count of the key is params->threads), else the built-in rule: the
 *  highest-priority implementation that can run the layer on this CPU. If the plan file's entry names an
 *  implementation that cannot run the layer here (CNB_ISA cap, another CPU), creation fails with a
 *  message naming the file and the entry rather than falling back. */
cnb_status cnb_plan_create(const cnb_layer *layer, const cnb_shape *input, const char *impl,
                           const cnb_params *params, cnb_plan **plan, cnb_error *err);

/** The implementation the plan runs (what `auto` chose). */
const char *cnb_plan_impl(const cnb_plan *plan);
/** Whether `auto` took the plan's implementation from a loaded plan file (false for the built-in rule,
 *  for an implementation named explicitly, and for NULL). */
bool cnb_plan_from_file(const cnb_plan *plan);
/** Output shape of the plan. */
const cnb_shape *cnb_plan_output_shape(const cnb_plan *plan);
/** Bytes of scratch memory one run needs (0 if none). */
size_t cnb_plan_workspace_size(const cnb_plan *plan);

/** Buffers of one run. x and y are required; the others are optional (NULL: not produced). */
typedef struct cnb_run_args {
    const float *x;              /**< input, row-major in the plan's input shape */
    float *y;                    /**< output, row-major in the plan's output shape */
    int64_t *indices;            /**< MaxPool2d: flat h*W+w index of each maximum, shape of y */
    float *new_running_mean;     /**< BN: running_mean after this forward (C,); unchanged unless training with tracking */
    float *new_running_var;      /**< BN: running_var after this forward (C,) */
    int64_t *new_num_batches_tracked; /**< BN: the counter after this forward */
    void *workspace;             /**< cnb_plan_workspace_size() bytes, or NULL to allocate per run */
    int threads;                 /**< OpenMP threads; <= 0 means the OpenMP default */
} cnb_run_args;

/** Run the plan once. Safe to call concurrently on one plan with different buffers and workspaces. */
cnb_status cnb_plan_run(const cnb_plan *plan, const cnb_run_args *args, cnb_error *err);

/** Free a plan (NULL is fine). */
void cnb_plan_destroy(cnb_plan *plan);

/* ---- plan files ----------------------------------------------------------------------------------- */

/* A plan file records, per layer key, the implementation `cnnbench tune` measured fastest on this machine
 * (like FFTW's wisdom). The key is the layer's parameters in canonical form, BatchNorm2d's training flag,
 * the input shape as given (batched or not), and the thread count (cnb_params.threads). The JSON format is
 * documented in docs/plan-format.md. One plan file at a time is loaded, process-wide. */

/** Flag of cnb_plan_file_load: accept a plan file whose fingerprint (CPU model, CPU features, physical
 *  core count, build) differs from this machine's and build's. */
#define CNB_PLAN_FILE_ANY_MACHINE 1u

/** Load the plan file at path, replacing the one loaded before; from then on `auto` takes its choices.
 *  Everything is validated before anything is used. Errors (the previously loaded file, if any, then
 *  stays loaded): CNB_E_IO (cannot read), CNB_E_PARSE (not JSON, another format or version, a missing
 *  field, a wrong type, a spec or shape that is not a valid layer, an implementation of another layer
 *  kind or one `auto` never chooses, repeated keys, unknown fields: the message names the file, the
 *  entry index and the field), CNB_E_NOT_FOUND (an entry names an implementation this build lacks),
 *  CNB_E_MISMATCH (made on another machine or with another build, unless flags has
 *  CNB_PLAN_FILE_ANY_MACHINE: the message names the field and both values). Whether an entry's
 *  implementation can run its layer on this CPU is checked when cnb_plan_create uses the entry.
 *  Safe to call while other threads create plans. */
cnb_status cnb_plan_file_load(const char *path, unsigned flags, cnb_error *err);

/** Forget the loaded plan file (if any): `auto` goes back to the built-in rule. Plans already created
 *  are unaffected. Safe to call while other threads create plans. */
void cnb_plan_file_unload(void);

#ifdef __cplusplus
}
#endif
#endif /* CNNBENCH_H */
