#!/usr/bin/python3
"""Generate cnnbench's PyTorch golden cases (tests/golden/README.md describes the files).

Run from the repository root with Debian's interpreter, which sees python3-torch 1.13 and numpy:
    /usr/bin/python3 tests/golden/gen_golden.py
Deterministic: every case seeds its own generator from its id, so regenerating gives byte-identical
files (on the same torch/numpy versions) and adding a case does not change the others.

Each module is built by evaluating its SPEC string as torch.nn.<SPEC>, so the spec written to the
.tsv file and the module that produced the numbers cannot disagree. Outputs are computed by running
the module in float64 on the float32 inputs/parameters and rounding to float32 (the exact result, as
the naive reference computes it); the float32 forward is run too and must agree.
"""
import copy
import os
import shutil
import sys
import warnings
import zlib

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
CASES_DIR = os.path.join(HERE, "cases")
warnings.filterwarnings("ignore")            # "Initializing zero-element tensors is a no-op"
torch.set_num_threads(1)

# print(module) writes strings unquoted (padding=same, padding_mode=reflect): bind those names so the
# printed form evaluates too.
SPEC_NAMES = {s: s for s in ("same", "valid", "zeros", "reflect", "replicate", "circular")}
MODES = ("zeros", "reflect", "replicate", "circular")
EDGE_W = (1, 7, 8, 9, 15, 16, 17)            # AVX2 width 8: 1, w-1, w, w+1, and 2w-1, 2w, 2w+1
EDGE_W4 = (3, 4, 5)                          # NEON width 4
EDGE_C = (1, 3, 4, 5, 7, 8, 9, 16, 17)


def build(spec):
    """The module a spec describes: eval('torch.nn.' + spec)."""
    return eval("torch.nn." + spec, {"__builtins__": {}, "torch": torch}, dict(SPEC_NAMES))


def config(m):
    """The constructor-visible state of a module, to check that a printed spec round-trips."""
    d = {k: v for k, v in vars(m).items() if not k.startswith("_") and k != "training"}
    d["has_bias"] = getattr(m, "bias", None) is not None
    return d


def R(name, *args, **kw):
    """Spec in print(module) form. print() leaves out MaxPool2d's return_indices and AvgPool2d's
    ceil_mode, count_include_pad and divisor_override: those are appended as keywords."""
    m = getattr(nn, name)(*args, **kw)
    s = repr(m)
    extra = []
    if isinstance(m, nn.MaxPool2d) and m.return_indices:
        extra.append("return_indices=True")
    if isinstance(m, nn.AvgPool2d):
        if m.ceil_mode:
            extra.append("ceil_mode=True")
        if not m.count_include_pad:
            extra.append("count_include_pad=False")
        if m.divisor_override is not None:
            extra.append("divisor_override=%d" % m.divisor_override)
    if extra:
        s = s[:-1] + ", " + ", ".join(extra) + ")"
    if config(build(s)) != config(m):
        raise AssertionError("spec does not round-trip: %s" % s)
    return s


def shape_str(shape):
    return ",".join(str(d) for d in shape)


def one_line(msg):
    return " ".join(str(msg).split())[:200]


# ---------------------------------------------------------------------------------------------------
# Value makers: f(g, shape) -> float32 tensor, g a torch.Generator seeded from the case id.

def randn(g, shape, scale=1.0, shift=0.0):
    return torch.randn(shape, generator=g, dtype=torch.float32) * scale + shift


def ints(lo, hi):
    return lambda g, shape: torch.randint(lo, hi, shape, generator=g).float()


def near1e4(g, shape):                        # 1e4 + 0.01*randn: BN variance must be computed stably
    return randn(g, shape, 0.01, 1e4)


def sprinkle(value, frac):
    """randn with a fraction frac of the elements replaced by value (NaN, -inf, inf)."""
    def f(g, shape):
        x = randn(g, shape)
        x[torch.rand(shape, generator=g) < frac] = value
        return x
    return f


def signed_zeros(frac_neg):
    """Zeros, a fraction frac_neg of them -0 (1: all): PyTorch's average pooling sums from +0, so an
    average of -0s is +0; max pooling keeps the first of equal maxima, and with it its sign."""
    def f(g, shape):
        return torch.where(torch.rand(shape, generator=g) < frac_neg, -0.0, 0.0).float()
    return f


def fixed(rows):
    """A fixed array (nested lists), reshaped to the case's shape."""
    return lambda g, shape: torch.tensor(rows, dtype=torch.float32).reshape(shape)


NAN, INF = float("nan"), float("inf")

# ---------------------------------------------------------------------------------------------------
# The case table.

CASES = []     # dicts: id, spec, shape, flags, x (value maker), p ('randn' | 'int' | 'near1e4'), comment
ERRORS = []    # dicts: id, spec, shape, flags
PERRORS = []   # dicts: id, spec, shape, which, wrong


def case(id, spec, shape, flags="-", x=randn, p="randn", comment=None):
    CASES.append(dict(id=id, spec=spec, shape=tuple(shape), flags=flags, x=x, p=p, comment=comment))


def error(id, spec, shape, flags="-"):
    ERRORS.append(dict(id=id, spec=spec, shape=tuple(shape), flags=flags))


def perror(id, spec, shape, which, wrong):
    PERRORS.append(dict(id=id, spec=spec, shape=tuple(shape), which=which, wrong=tuple(wrong)))


ACCEPTED = "accepted by PyTorch 1.13 although one might expect an error: "

# ---- Conv2d ------------------------------------------------------------------------------------------
for mode in MODES:
    m = mode[:4]
    # explicit padding, different per dimension
    case("c2_pad12_" + m, R("Conv2d", 3, 4, 3, padding=(1, 2), padding_mode=mode), (2, 3, 6, 7))
    case("c2_pad21_k35_" + m, R("Conv2d", 2, 3, (3, 5), stride=(1, 2), padding=(2, 1), bias=False,
                                 padding_mode=mode), (1, 2, 5, 9))
    case("c2_pad_s2_" + m, R("Conv2d", 2, 5, 3, stride=2, padding=(2, 1), padding_mode=mode), (1, 2, 7, 8))
    # 'same': total dilation*(k-1), left = total//2, the extra one right/bottom
    case("c2_same_k3_" + m, R("Conv2d", 3, 4, 3, padding="same", padding_mode=mode), (1, 3, 7, 9))
    case("c2_same_k4_" + m, R("Conv2d", 2, 3, 4, padding="same", padding_mode=mode), (1, 2, 6, 8))
    case("c2_same_k25_d32_" + m, R("Conv2d", 2, 2, (2, 5), dilation=(3, 2), padding="same",
                                    padding_mode=mode), (1, 2, 7, 9))
    case("c2_same_k4_d3_" + m, "Conv2d(3, 2, 4, padding='same', dilation=3, padding_mode='%s')" % mode,
         (1, 3, 10, 11))
    case("c2_same_k3_d2_" + m, "Conv2d(4, 4, kernel_size=(3, 3), dilation=(2, 2), padding='same', "
         "padding_mode='%s', bias=False)" % mode, (2, 4, 5, 8))
    case("c2_same_k6x1_" + m, R("Conv2d", 1, 2, (6, 1), padding="same", padding_mode=mode), (1, 1, 9, 4))

case("c2_valid", R("Conv2d", 3, 5, 3, padding="valid"), (2, 3, 8, 9))
case("c2_valid_hand", "Conv2d(3, 5, (3, 2), padding='valid', bias=False)", (1, 3, 5, 4))
case("c2_s2_p1", R("Conv2d", 4, 8, 3, stride=2, padding=1), (1, 4, 9, 9))
case("c2_s3", R("Conv2d", 3, 4, 3, stride=3), (1, 3, 10, 11))
case("c2_s21", R("Conv2d", 3, 4, 3, stride=(2, 1), padding=(1, 0)), (1, 3, 8, 9))
case("c2_s13_refl", R("Conv2d", 3, 4, (3, 2), stride=(1, 3), padding=(1, 1), padding_mode="reflect"),
     (1, 3, 7, 10))
case("c2_s2_repl_positional", "Conv2d(2, 3, 5, 2, 2, 1, 1, True, 'replicate')", (1, 2, 9, 9))
case("c2_s32_circ_list", "Conv2d(2, 3, [3, 3], stride=[3, 2], padding=[1, 2], padding_mode='circular')",
     (1, 2, 8, 7))
case("c2_d2", R("Conv2d", 3, 4, 3, dilation=2, padding=2), (1, 3, 9, 9))
case("c2_d13", R("Conv2d", 3, 4, 3, dilation=(1, 3), padding=(1, 2)), (2, 3, 7, 12))
case("c2_d2_s2_refl", R("Conv2d", 3, 4, 3, stride=2, dilation=2, padding=2, padding_mode="reflect"),
     (1, 3, 9, 10))
case("c2_d3_nopad", R("Conv2d", 2, 3, 3, dilation=3, bias=False), (1, 2, 8, 9))
case("c2_g2", R("Conv2d", 4, 6, 3, padding=1, groups=2), (1, 4, 7, 8))
case("c2_g3_nobias", R("Conv2d", 9, 3, 3, groups=3, bias=False), (2, 9, 5, 5))
case("c2_g4_circ", R("Conv2d", 8, 4, 3, padding=(1, 2), groups=4, padding_mode="circular"), (1, 8, 5, 6))
case("c2_g2_s2_repl", R("Conv2d", 6, 10, 3, stride=2, padding=1, groups=2, padding_mode="replicate"),
     (1, 6, 8, 9))
case("c2_dw_c8", R("Conv2d", 8, 8, 3, padding=1, groups=8), (1, 8, 9, 9))
case("c2_dw_c7_m2", R("Conv2d", 7, 14, 3, stride=2, padding=1, groups=7), (1, 7, 9, 9))
case("c2_dw_c16_refl", "Conv2d(16, 16, kernel_size=3, padding=1, groups=16, bias=False, padding_mode='reflect')",
     (1, 16, 8, 8))
case("c2_dw_c17_same", R("Conv2d", 17, 17, 5, padding="same", groups=17), (1, 17, 7, 9))
case("c2_dw_c3_m3_int", R("Conv2d", 3, 9, 3, groups=3), (1, 3, 6, 7), x=ints(-4, 5), p="int")
case("c2_dw_c32_mobilenet", R("Conv2d", 32, 32, 3, padding=1, groups=32, bias=False), (1, 32, 16, 16))
# Depthwise 3x3 pad 1 stride 1 at widths around a vector of 8 (the AVX2 kernel's row-vector path: masked
# columns, a last column overlapping the one before, rows narrower than a vector), integer data: exact.
for w in (1, 3, 7, 8, 9, 15, 16, 20):
    case("c2_dw_s1_w%d_int" % w, R("Conv2d", 3, 3, 3, padding=1, groups=3), (1, 3, 4 if w > 1 else 2, w),
         x=ints(-4, 5), p="int")
# And stride 2 (odd and even heights and widths: the bottom row and right column of padding read or not).
for w in (1, 2, 14, 15, 16, 17, 31, 34):
    case("c2_dw_s2_w%d_int" % w, R("Conv2d", 3, 3, 3, stride=2, padding=1, groups=3), (1, 3, 5 if w % 2 else 6, w),
         x=ints(-4, 5), p="int")
case("c2_1x1", R("Conv2d", 16, 8, 1), (2, 16, 5, 7))
case("c2_1x1_s2", R("Conv2d", 16, 32, 1, stride=2, bias=False), (1, 16, 9, 9))
case("c2_1x1_c17_w17", R("Conv2d", 17, 9, 1), (1, 17, 3, 17))
case("c2_1x1_pad1", R("Conv2d", 3, 4, 1, padding=1), (1, 3, 4, 5))
case("c2_7x7_s2", R("Conv2d", 3, 8, 7, stride=2, padding=3, bias=False), (1, 3, 33, 33))
case("c2_k_eq_in", R("Conv2d", 3, 5, 5), (2, 3, 5, 5))
case("c2_k_eq_in_rect", R("Conv2d", 2, 3, (3, 7)), (1, 2, 3, 7))
case("c2_k_eq_padded_in", R("Conv2d", 2, 3, 7, padding=1), (1, 2, 5, 5))
case("c2_circ_pad_eq_in", R("Conv2d", 2, 3, 3, padding=(3, 4), padding_mode="circular"), (1, 2, 3, 4))
case("c2_refl_pad_eq_in_m1", R("Conv2d", 2, 3, 3, padding=(3, 4), padding_mode="reflect"), (1, 2, 4, 5))
case("c2_repl_bigpad", R("Conv2d", 1, 2, 3, padding=(4, 5), padding_mode="replicate"), (1, 1, 2, 3))
case("c2_repl_in1x1", R("Conv2d", 1, 2, 3, padding=2, padding_mode="replicate"), (1, 1, 1, 1))
case("c2_circ_in1x1", R("Conv2d", 2, 2, 3, padding=1, padding_mode="circular"), (2, 2, 1, 1))
case("c2_in1x1_k1", R("Conv2d", 5, 3, 1), (3, 5, 1, 1))
case("c2_unb", R("Conv2d", 3, 4, 3, padding=1), (3, 7, 8))
case("c2_unb_same_refl", "Conv2d(3, 4, 4, padding='same', padding_mode='reflect')", (3, 6, 9))
case("c2_unb_repl_s2", R("Conv2d", 3, 2, 3, stride=2, padding=1, padding_mode="replicate"), (3, 8, 8))
case("c2_unb_dw", R("Conv2d", 4, 8, 3, groups=4, bias=False), (4, 5, 9))
case("c2_n0", R("Conv2d", 3, 4, 3, padding=1), (0, 3, 5, 5), comment=ACCEPTED + "batch size 0")
case("c2_n0_refl", R("Conv2d", 3, 4, 3, padding=1, padding_mode="reflect"), (0, 3, 5, 5))
for i, c in enumerate(EDGE_C):                           # input and output channel counts at tile edges
    o = EDGE_C[(i + 4) % len(EDGE_C)]
    case("c2_c%d_o%d" % (c, o), R("Conv2d", c, o, 3, padding=1), (1, c, 5, 6))
for o in EDGE_W + EDGE_W4:                               # output channels (GEMM rows) of a 1x1 conv
    case("c2_1x1_o%d" % o, R("Conv2d", 5, o, 1, bias=o % 2 == 1), (1, 5, 3, 9))
for w in EDGE_W + EDGE_W4:                               # widths
    case("c2_w%d" % w, R("Conv2d", 3, 4, 3, padding=1), (1, 3, 4, w))
for w in (3, 4, 5, 9, 17):
    case("c2_w%d_same_refl" % w, R("Conv2d", 2, 3, 3, padding="same", padding_mode="reflect"), (2, 2, 3, w))
for w in (8, 9, 16, 17):
    case("c2_w%d_s2" % w, R("Conv2d", 3, 4, 3, stride=2), (1, 3, 5, w))
for h in (1, 7, 9):
    case("c2_h%d_k1x3" % h, R("Conv2d", 3, 4, (1, 3), padding=(0, 1)), (1, 3, h, 8))
case("c2_int_k3", R("Conv2d", 4, 5, 3, padding=1), (1, 4, 6, 7), x=ints(-4, 5), p="int")
case("c2_int_s2_g2", R("Conv2d", 4, 6, 3, stride=2, padding=1, groups=2), (2, 4, 7, 9), x=ints(-4, 5), p="int")
case("c2_int_same_k4_refl", "Conv2d(3, 3, 4, padding='same', padding_mode='reflect', bias=False)",
     (1, 3, 6, 8), x=ints(-3, 4), p="int")
case("c2_int_circ_d2", R("Conv2d", 2, 3, 3, padding=2, dilation=2, padding_mode="circular"), (1, 2, 5, 6),
     x=ints(-3, 4), p="int")
case("c2_resnet_3x3", R("Conv2d", 64, 64, 3, padding=1, bias=False), (1, 64, 14, 14))
case("c2_resnet_s2", R("Conv2d", 16, 32, 3, stride=2, padding=1, bias=False), (2, 16, 15, 15))
case("c2_kwargs_all", "Conv2d(in_channels=4, out_channels=4, kernel_size=(3, 1), stride=(1, 1), padding=(1, 0), "
     "dilation=(1, 1), groups=2, bias=True, padding_mode='zeros')", (1, 4, 6, 5))
case("c2_negpad_refl", R("Conv2d", 2, 3, 3, padding=(-1, 1), padding_mode="reflect"), (1, 2, 6, 7),
     comment=ACCEPTED + "negative padding with a non-zeros padding_mode (F.pad crops)")
case("c2_negpad_repl", R("Conv2d", 2, 3, 3, padding=-1, padding_mode="replicate"), (1, 2, 7, 7))
case("c2_negpad_circ", R("Conv2d", 2, 3, 1, padding=(1, -2), padding_mode="circular"), (1, 2, 6, 8))

# ---- Conv1d ------------------------------------------------------------------------------------------
for mode in MODES:
    m = mode[:4]
    case("c1_pad2_" + m, R("Conv1d", 3, 4, 3, padding=2, padding_mode=mode), (2, 3, 9))
    case("c1_pad1_s2_" + m, R("Conv1d", 2, 3, 4, stride=2, padding=1, padding_mode=mode, bias=False), (1, 2, 10))
    case("c1_same_k4_" + m, R("Conv1d", 2, 3, 4, padding="same", padding_mode=mode), (1, 2, 8))
    case("c1_same_k3_d2_" + m, R("Conv1d", 3, 3, 3, dilation=2, padding="same", padding_mode=mode), (1, 3, 9))
    case("c1_same_k2_d3_" + m, "Conv1d(2, 2, 2, dilation=3, padding='same', padding_mode='%s')" % mode, (2, 2, 7))
    if mode != "circular":      # PyTorch 1.13 rejects circular padding of unbatched input: see the errors
        case("c1_unb_same_k5_" + m, "Conv1d(3, 2, kernel_size=5, padding='same', padding_mode=%s)" % mode, (3, 6))
case("c1_valid", R("Conv1d", 3, 4, 3, padding="valid"), (2, 3, 9))
case("c1_s2", R("Conv1d", 3, 4, 3, stride=2), (1, 3, 10))
case("c1_s3_p1", R("Conv1d", 3, 4, 3, stride=3, padding=1), (1, 3, 11))
case("c1_d3", R("Conv1d", 3, 4, 3, dilation=3, padding=1), (1, 3, 12))
case("c1_g2", R("Conv1d", 4, 6, 3, padding=1, groups=2), (2, 4, 9))
case("c1_dw_m2", R("Conv1d", 4, 8, 3, padding=1, groups=4, bias=False), (1, 4, 9))
case("c1_nobias", R("Conv1d", 5, 7, 5, bias=False), (2, 5, 16))
case("c1_k1", R("Conv1d", 8, 9, 1), (2, 8, 7))
case("c1_tcn_d8", R("Conv1d", 16, 16, 3, dilation=8, padding=8), (1, 16, 500))
case("c1_tcn_d8_same", "Conv1d(8, 8, kernel_size=3, dilation=8, padding='same')", (1, 8, 500))
case("c1_tcn_causal_d4", R("Conv1d", 8, 8, 2, dilation=4, padding=4, bias=False), (1, 8, 100))
case("c1_unb", R("Conv1d", 3, 4, 3, padding=1), (3, 9))
case("c1_unb_refl_s2", R("Conv1d", 3, 4, 3, stride=2, padding=2, padding_mode="reflect"), (3, 9))
case("c1_n0", R("Conv1d", 3, 4, 3, padding=1), (0, 3, 9), comment=ACCEPTED + "batch size 0")
for l in EDGE_W + EDGE_W4:
    case("c1_l%d" % l, R("Conv1d", 4, 5, 3, padding=1), (1, 4, l))
for c in (1, 3, 8, 9, 16, 17):
    case("c1_c%d" % c, R("Conv1d", c, c, 3), (2, c, 8))
case("c1_k_eq_l", R("Conv1d", 3, 2, 7), (1, 3, 7))
case("c1_circ_pad_eq_l", R("Conv1d", 2, 3, 3, padding=5, padding_mode="circular"), (1, 2, 5))
case("c1_refl_pad_eq_l_m1", R("Conv1d", 2, 3, 3, padding=4, padding_mode="reflect"), (1, 2, 5))
case("c1_repl_bigpad", R("Conv1d", 1, 2, 3, padding=6, padding_mode="replicate"), (1, 1, 2))
case("c1_negpad_refl", R("Conv1d", 2, 3, 3, padding=-1, padding_mode="reflect"), (1, 2, 8),
     comment=ACCEPTED + "negative padding with a non-zeros padding_mode (F.pad crops)")
case("c1_int", R("Conv1d", 3, 4, 3, padding=1, padding_mode="circular"), (2, 3, 8), x=ints(-4, 5), p="int")
case("c1_int_g3", "Conv1d(6, 3, 5, 1, 2, 1, 3)", (1, 6, 9), x=ints(-4, 5), p="int")

# ---- MaxPool2d ---------------------------------------------------------------------------------------
case("mp_k2s2_33", R("MaxPool2d", 2, 2), (1, 4, 33, 33))
case("mp_k2s2_33_idx", R("MaxPool2d", 2, 2, return_indices=True), (1, 2, 33, 33))
case("mp_k3s2p1_33", R("MaxPool2d", 3, stride=2, padding=1, return_indices=True), (1, 4, 33, 33))
case("mp_k3s2p1_32_ceil", R("MaxPool2d", 3, stride=2, padding=1, ceil_mode=True, return_indices=True),
     (1, 3, 32, 32))
case("mp_k3s2p1_32_ceil_noidx", R("MaxPool2d", 3, stride=2, padding=1, ceil_mode=True), (1, 3, 32, 32))
case("mp_ceil_drop_k2s2p1", R("MaxPool2d", 2, stride=2, padding=1, ceil_mode=True, return_indices=True),
     (1, 2, 5, 5))                                        # ceil gives 4, the last window starts at 6 >= 5+1: 3
case("mp_ceil_drop_k3s3p1", R("MaxPool2d", 3, stride=3, padding=1, ceil_mode=True, return_indices=True),
     (1, 2, 8, 7))                                        # H: ceil gives 4, dropped to 3; W: 3 kept
case("mp_ceil_keep_k3s2", R("MaxPool2d", 3, stride=2, ceil_mode=True, return_indices=True), (1, 2, 6, 8))
case("mp_ceil_s3k2", "MaxPool2d(kernel_size=2, stride=3, ceil_mode=True, return_indices=True)", (1, 2, 8, 9))
case("mp_dil2", R("MaxPool2d", 3, stride=1, padding=1, dilation=2, return_indices=True), (1, 2, 9, 9))
case("mp_dil2_ceil", R("MaxPool2d", 3, stride=2, padding=1, dilation=2, ceil_mode=True, return_indices=True),
     (1, 2, 10, 9))
case("mp_mixed", R("MaxPool2d", (2, 3), stride=(1, 2), padding=(1, 1), dilation=(2, 1), return_indices=True),
     (2, 3, 7, 9))
case("mp_stride_none", "MaxPool2d(3)", (1, 2, 9, 10))
case("mp_stride_none_tuple", "MaxPool2d((2, 3), return_indices=True)", (1, 2, 7, 9))
case("mp_stride_none_kw", "MaxPool2d(kernel_size=3, stride=None, padding=1, return_indices=True)", (1, 2, 8, 8))
case("mp_positional", "MaxPool2d(3, 2, 1, 1, True, True)", (1, 2, 9, 8))
case("mp_k1", R("MaxPool2d", 1, return_indices=True), (1, 2, 3, 5))
case("mp_s3k2", R("MaxPool2d", 2, stride=3, return_indices=True), (1, 2, 9, 10))
case("mp_k2_pad1", R("MaxPool2d", 2, stride=1, padding=1, return_indices=True), (1, 2, 5, 6))
# NaN: taken when greater OR NaN, so the last NaN of a window wins; a NaN followed by numbers stays.
MP_NAN = [[NAN, 1, 3, NAN, NAN, 5],
          [2, NAN, NAN, 9, 7, 8],
          [NAN, NAN, -INF, NAN, 1, 1],
          [NAN, NAN, -INF, -INF, 1, 1]]
case("mp_nan_k2s2", R("MaxPool2d", 2, return_indices=True), (1, 1, 4, 6), x=fixed(MP_NAN))
case("mp_nan_k3s1p1", R("MaxPool2d", 3, stride=1, padding=1, return_indices=True), (1, 1, 4, 6), x=fixed(MP_NAN))
case("mp_nan_k2s1_dil2", R("MaxPool2d", 2, stride=1, dilation=2, return_indices=True), (1, 1, 4, 6),
     x=fixed(MP_NAN))
case("mp_nan_random", R("MaxPool2d", 3, stride=2, padding=1, return_indices=True), (1, 3, 9, 9),
     x=sprinkle(NAN, 0.15))
case("mp_nan_random_ceil", R("MaxPool2d", 2, stride=2, padding=1, ceil_mode=True, return_indices=True),
     (2, 2, 9, 8), x=sprinkle(NAN, 0.3))
case("mp_nan_w17", R("MaxPool2d", 3, stride=1, padding=1, return_indices=True), (1, 2, 4, 17),
     x=sprinkle(NAN, 0.1))
case("mp_nan_noidx", R("MaxPool2d", 3, stride=2), (1, 2, 9, 9), x=sprinkle(NAN, 0.2))
case("mp_ties", R("MaxPool2d", 3, stride=1, return_indices=True), (1, 2, 8, 9), x=ints(0, 3))
case("mp_ties_pad", R("MaxPool2d", 2, stride=1, padding=1, return_indices=True), (1, 2, 8, 9), x=ints(0, 2))
case("mp_ties_const", R("MaxPool2d", 3, stride=2, padding=1, return_indices=True), (1, 1, 7, 8), x=ints(5, 6))
case("mp_neginf", R("MaxPool2d", 3, stride=2, return_indices=True), (1, 2, 9, 9), x=sprinkle(-INF, 0.4))
case("mp_all_neginf", R("MaxPool2d", 2, stride=2, padding=1, return_indices=True), (1, 2, 5, 7),
     x=lambda g, s: torch.full(s, -INF))
case("mp_posinf", R("MaxPool2d", 2, stride=1, return_indices=True), (1, 2, 5, 7), x=sprinkle(INF, 0.2))
# Windows that touch no input element (dilation skips over it): -inf, index = first in-range start.
case("mp_emptywin", "MaxPool2d(2, padding=1, dilation=2, return_indices=True)", (1, 1, 1, 3))
case("mp_emptywin_ceil", "MaxPool2d((2, 3), stride=2, padding=1, dilation=(3, 1), ceil_mode=True, "
     "return_indices=True)", (1, 2, 2, 6))
case("mp_unb", R("MaxPool2d", 3, 2, 1, return_indices=True), (3, 9, 8))
case("mp_unb_ceil", R("MaxPool2d", 2, ceil_mode=True), (2, 7, 9))
case("mp_n0", R("MaxPool2d", 2, return_indices=True), (0, 3, 8, 8), comment=ACCEPTED + "batch size 0")
for w in EDGE_W + EDGE_W4:
    case("mp_w%d" % w, R("MaxPool2d", 3, stride=1, padding=1, return_indices=True), (1, 2, 3, w))
for w in (8, 9, 16, 17):
    case("mp_w%d_k2s2" % w, R("MaxPool2d", 2, return_indices=True), (1, 3, 4, w))
for w in (15, 16, 17):
    case("mp_w%d_k3s2p1_ceil" % w, R("MaxPool2d", 3, 2, 1, ceil_mode=True), (1, 2, 5, w))
case("mp_signed_zeros", R("MaxPool2d", 3, stride=2, padding=1, return_indices=True), (1, 4, 9, 19),
     x=signed_zeros(0.5))
case("mp_signed_zeros_k2s2", R("MaxPool2d", 2, 2), (1, 4, 8, 18), x=signed_zeros(0.5))
case("mp_c17_int", R("MaxPool2d", 3, stride=2, return_indices=True), (2, 17, 7, 7), x=ints(-9, 10))

# ---- AvgPool2d ---------------------------------------------------------------------------------------
case("ap_k2", "AvgPool2d(2)", (1, 3, 8, 9))
case("ap_k2s2_repr", R("AvgPool2d", 2, 2), (2, 2, 9, 8))
for cip in (True, False):
    t = "cip" if cip else "nocip"
    case("ap_k3s2p1_" + t, R("AvgPool2d", 3, stride=2, padding=1, count_include_pad=cip), (1, 3, 9, 9))
    case("ap_ceil_k3s2p1_" + t, R("AvgPool2d", 3, 2, 1, ceil_mode=True, count_include_pad=cip), (1, 2, 6, 6))
    case("ap_ceil_k2s2p1_" + t, R("AvgPool2d", 2, 2, 1, ceil_mode=True, count_include_pad=cip), (1, 2, 5, 6))
    case("ap_ceil_k3s2_" + t, R("AvgPool2d", 3, 2, ceil_mode=True, count_include_pad=cip), (1, 2, 6, 8))
    case("ap_ceil_k4s3p2_" + t, R("AvgPool2d", 4, 3, 2, ceil_mode=True, count_include_pad=cip), (1, 2, 9, 10))
    case("ap_mixed_" + t, R("AvgPool2d", (3, 2), stride=(2, 1), padding=(1, 0), count_include_pad=cip),
         (1, 2, 7, 9))
    case("ap_k2s1p1_" + t, R("AvgPool2d", 2, stride=1, padding=1, count_include_pad=cip), (1, 2, 4, 5))
# ceil_mode adds stride-1 before the floor division even when the kernel is larger than the input:
# a lone window hanging over the end is still produced.
case("ap_ceil_kernel_over_end", "AvgPool2d((4, 2), stride=(1, 3), padding=(1, 0), ceil_mode=True, count_include_pad=False)",
     (1, 2, 3, 1))
case("ap_ceil_kernel_over_end_cip", "AvgPool2d((1, 2), stride=(2, 2), ceil_mode=True)", (1, 3, 5, 1))
case("mp_ceil_kernel_over_end", "MaxPool2d((4, 2), padding=(1, 0), dilation=(2, 1), return_indices=True, ceil_mode=True)",
     (2, 1, 3, 9))
case("mp_ceil_dil_over_end", "MaxPool2d((1, 4), stride=(3, 3), padding=(0, 2), dilation=(1, 3), return_indices=True, ceil_mode=True)",
     (1, 1, 3, 5))
case("ap_div5", R("AvgPool2d", 3, stride=2, padding=1, divisor_override=5), (1, 2, 9, 9))
case("ap_div1", R("AvgPool2d", 2, divisor_override=1), (1, 2, 6, 7), x=ints(-4, 5))
case("ap_div_neg3", R("AvgPool2d", 3, stride=2, padding=1, divisor_override=-3), (1, 2, 7, 7),
     comment=ACCEPTED + "negative divisor_override")
case("ap_div_ceil_nocip", R("AvgPool2d", 3, 2, 1, ceil_mode=True, count_include_pad=False, divisor_override=7),
     (1, 2, 6, 8))
case("ap_div_big", "AvgPool2d(2, divisor_override=1000)", (1, 1, 6, 6))
case("ap_positional", "AvgPool2d(3, 2, 1, True, False, None)", (1, 2, 8, 7))
case("ap_kwargs_strs", "AvgPool2d(kernel_size=[3, 3], stride=[1, 2], padding=[1, 1], ceil_mode=False, "
     "count_include_pad=True, divisor_override=None)", (1, 2, 6, 9))
case("ap_stride_none_tuple", "AvgPool2d((3, 2))", (1, 2, 7, 9))
case("ap_k1", R("AvgPool2d", 1), (1, 2, 3, 4))
case("ap_k7_global", R("AvgPool2d", 7), (1, 8, 7, 7))
case("ap_unb", R("AvgPool2d", 3, 2, 1, count_include_pad=False), (3, 7, 8))
case("ap_unb_ceil", R("AvgPool2d", 2, ceil_mode=True), (2, 5, 7))
case("ap_n0", R("AvgPool2d", 2), (0, 3, 8, 8), comment=ACCEPTED + "batch size 0")
case("ap_int_k2", R("AvgPool2d", 2), (1, 3, 8, 10), x=ints(-8, 9))
case("ap_int_div8", R("AvgPool2d", 3, stride=1, padding=1, divisor_override=8), (1, 2, 5, 6), x=ints(-8, 9))
for w in EDGE_W + EDGE_W4:
    case("ap_w%d" % w, R("AvgPool2d", 3, stride=1, padding=1, count_include_pad=False), (1, 2, 3, w))
for w in (8, 9, 16, 17):
    case("ap_w%d_k2s2_cip" % w, R("AvgPool2d", 2, stride=2, padding=1), (1, 3, 4, w))
for w in (15, 16, 17):
    case("ap_w%d_k3s2p1_ceil" % w, R("AvgPool2d", 3, 2, 1, ceil_mode=True), (1, 2, 5, w))
case("ap_c17", R("AvgPool2d", 3, stride=2, padding=1), (2, 17, 7, 7))
case("ap_negzero_k2s2", R("AvgPool2d", 2), (1, 3, 8, 18), x=signed_zeros(1))
case("ap_negzero_k3s2p1_nopad", R("AvgPool2d", 3, stride=2, padding=1, count_include_pad=False), (1, 3, 9, 19),
     x=signed_zeros(1))

# ---- AdaptiveAvgPool2d -------------------------------------------------------------------------------
case("aa_8to4", R("AdaptiveAvgPool2d", 4), (1, 3, 8, 8))
case("aa_14to7", R("AdaptiveAvgPool2d", (7, 7)), (1, 4, 14, 14))
case("aa_7to3", R("AdaptiveAvgPool2d", 3), (1, 3, 7, 7))
case("aa_5to3", R("AdaptiveAvgPool2d", 3), (1, 3, 5, 5))
case("aa_7to4", R("AdaptiveAvgPool2d", 4), (2, 3, 7, 7))
case("aa_3to5", R("AdaptiveAvgPool2d", 5), (1, 2, 3, 3))
case("aa_1to3", R("AdaptiveAvgPool2d", 3), (1, 2, 1, 1))
case("aa_13x14to7", "AdaptiveAvgPool2d((7, 7))", (1, 4, 13, 14))
case("aa_rect_5x9to3x4", "AdaptiveAvgPool2d(output_size=(3, 4))", (1, 2, 5, 9))
case("aa_rect_up_down", "AdaptiveAvgPool2d([6, 2])", (1, 2, 4, 9))
case("aa_h_none", R("AdaptiveAvgPool2d", (3, None)), (1, 2, 7, 5))
case("aa_none_w", R("AdaptiveAvgPool2d", (None, 4)), (1, 2, 6, 9))
case("aa_none_none", "AdaptiveAvgPool2d((None, None))", (1, 2, 4, 5))
case("aa_global", R("AdaptiveAvgPool2d", 1), (2, 16, 7, 7))
case("aa_global_tuple", "AdaptiveAvgPool2d((1, 1))", (1, 17, 5, 9))
case("aa_int5", "AdaptiveAvgPool2d(5)", (1, 2, 11, 12))
case("aa_unb", R("AdaptiveAvgPool2d", (4, 5)), (3, 7, 9))
case("aa_unb_global", "AdaptiveAvgPool2d(1)", (5, 3, 3))
case("aa_n0", R("AdaptiveAvgPool2d", 2), (0, 3, 4, 4), comment=ACCEPTED + "batch size 0")
case("aa_out0", "AdaptiveAvgPool2d(0)", (1, 2, 4, 4), comment=ACCEPTED + "output_size 0 (empty output)")
case("aa_out0x2", "AdaptiveAvgPool2d((0, 2))", (1, 2, 4, 4), comment=ACCEPTED + "output_size 0 (empty output)")
case("aa_c0", "AdaptiveAvgPool2d(2)", (1, 0, 4, 4), comment=ACCEPTED + "zero channels")
for w in EDGE_W + EDGE_W4:
    case("aa_w%d_to3" % w, R("AdaptiveAvgPool2d", (2, 3)), (1, 2, 5, w))
for w in (7, 8, 9, 16, 17):
    case("aa_w%d_to_w" % w, "AdaptiveAvgPool2d((3, %d))" % w, (1, 2, 4, 9))
case("aa_int", R("AdaptiveAvgPool2d", (2, 4)), (1, 3, 6, 8), x=ints(-8, 9))
# Averages of -0s: PyTorch sums each cell from +0, so they are +0. Global, equal 2x2 cells, and overlapping
# cells over 8 or more planes and over fewer (the fast kernels take these apart).
case("aa_negzero_global", "AdaptiveAvgPool2d(1)", (1, 16, 7, 7), x=signed_zeros(1))
case("aa_negzero_14to7", R("AdaptiveAvgPool2d", 7), (1, 4, 14, 14), x=signed_zeros(1))
case("aa_negzero_14to7x14", "AdaptiveAvgPool2d((7, 14))", (1, 2, 14, 14), x=signed_zeros(1))
case("aa_negzero_20to7_c8", R("AdaptiveAvgPool2d", 7), (1, 9, 20, 20), x=signed_zeros(1))
case("aa_negzero_5to3_c8", R("AdaptiveAvgPool2d", 3), (1, 9, 5, 5), x=signed_zeros(1))
case("aa_negzero_20to7", R("AdaptiveAvgPool2d", 7), (1, 2, 20, 20), x=signed_zeros(1))

# ---- BatchNorm2d -------------------------------------------------------------------------------------
case("bn_eval", R("BatchNorm2d", 4), (2, 4, 5, 6))
case("bn_train", R("BatchNorm2d", 4), (2, 4, 5, 6), flags="train")
case("bn_train_nbt7", R("BatchNorm2d", 4), (2, 4, 5, 6), flags="train,nbt=7")
case("bn_mom_none_nbt0", R("BatchNorm2d", 3, momentum=None), (2, 3, 4, 5), flags="train")
case("bn_mom_none_nbt5", R("BatchNorm2d", 3, momentum=None), (2, 3, 4, 5), flags="train,nbt=5")
case("bn_mom_none_eval", R("BatchNorm2d", 3, momentum=None), (2, 3, 4, 5), flags="nbt=5")
case("bn_mom1", R("BatchNorm2d", 3, momentum=1.0), (2, 3, 4, 5), flags="train")
case("bn_mom0", R("BatchNorm2d", 3, momentum=0.0), (2, 3, 4, 5), flags="train,nbt=2")
case("bn_mom03_hand", "BatchNorm2d(num_features=5, momentum=0.3)", (3, 5, 3, 3), flags="train")
case("bn_positional", "BatchNorm2d(8, 1e-3, None)", (2, 8, 3, 4), flags="train,nbt=3")
case("bn_affine0_train", R("BatchNorm2d", 3, affine=False), (2, 3, 4, 5), flags="train")
case("bn_affine0_eval", R("BatchNorm2d", 3, affine=False), (2, 3, 4, 5))
case("bn_track0_train", R("BatchNorm2d", 3, track_running_stats=False), (2, 3, 4, 5), flags="train")
case("bn_track0_eval", R("BatchNorm2d", 3, track_running_stats=False), (2, 3, 4, 5))
case("bn_track0_affine0_train", R("BatchNorm2d", 3, affine=False, track_running_stats=False), (2, 3, 4, 5),
     flags="train")
case("bn_track0_affine0_eval", "BatchNorm2d(3, affine=False, track_running_stats=False)", (2, 3, 4, 5))
case("bn_track0_mom_none", R("BatchNorm2d", 3, momentum=None, track_running_stats=False), (2, 3, 4, 5),
     flags="train")
case("bn_eps1e3_eval", R("BatchNorm2d", 4, eps=1e-3), (2, 4, 3, 3))
case("bn_eps01_train", R("BatchNorm2d", 4, eps=0.1), (2, 4, 3, 3), flags="train")
case("bn_eps0_train", R("BatchNorm2d", 4, eps=0.0), (2, 4, 3, 3), flags="train")
case("bn_eps1_eval", "BatchNorm2d(4, eps=1.0)", (1, 4, 3, 3))
case("bn_1e4_train", R("BatchNorm2d", 3), (2, 3, 8, 8), flags="train", x=near1e4)
case("bn_1e4_train_c17", R("BatchNorm2d", 17), (4, 17, 5, 5), flags="train", x=near1e4)
case("bn_1e4_train_n1", R("BatchNorm2d", 5), (1, 5, 7, 9), flags="train", x=near1e4)
case("bn_1e4_train_w17", R("BatchNorm2d", 2, momentum=None), (3, 2, 3, 17), flags="train,nbt=1", x=near1e4)
case("bn_1e4_track0_eval", R("BatchNorm2d", 3, track_running_stats=False), (2, 3, 6, 6), x=near1e4)
case("bn_1e4_eval", R("BatchNorm2d", 3), (2, 3, 6, 6), x=near1e4, p="near1e4")
case("bn_n1_train", R("BatchNorm2d", 3), (1, 3, 4, 5), flags="train")
case("bn_hw1_train", R("BatchNorm2d", 5), (8, 5, 1, 1), flags="train")
case("bn_hw1_n2_train", R("BatchNorm2d", 3), (2, 3, 1, 1), flags="train")
case("bn_n1_hw2_train", R("BatchNorm2d", 3), (1, 3, 1, 2), flags="train")
case("bn_hw1_n1_eval", R("BatchNorm2d", 3), (1, 3, 1, 1))
case("bn_n0_train", R("BatchNorm2d", 3), (0, 3, 4, 4), flags="train",
     comment=ACCEPTED + "BN training on an empty batch: output empty, running stats unchanged "
     "(num_batches_tracked still += 1)")
case("bn_n0_eval", R("BatchNorm2d", 3), (0, 3, 4, 4))
case("bn_h0_train", R("BatchNorm2d", 3), (2, 3, 0, 4), flags="train",
     comment=ACCEPTED + "BN training with H=0 (zero values per channel): running stats unchanged")
for c in EDGE_C:
    case("bn_c%d_train" % c, R("BatchNorm2d", c), (2, c, 3, 3), flags="train")
    case("bn_c%d_eval" % c, R("BatchNorm2d", c), (2, c, 3, 4))
for w in EDGE_W + EDGE_W4:
    case("bn_w%d_train" % w, R("BatchNorm2d", 3), (2, 3, 2, w), flags="train")
for w in (7, 8, 9, 17):
    case("bn_w%d_eval" % w, R("BatchNorm2d", 2), (1, 2, 3, w))
case("bn_resnet_train", R("BatchNorm2d", 64), (4, 64, 7, 7), flags="train")
case("bn_resnet_eval", R("BatchNorm2d", 64), (2, 64, 7, 7))
case("bn_mom2", R("BatchNorm2d", 3, momentum=2.0), (2, 3, 3, 3), flags="train",
     comment=ACCEPTED + "momentum > 1")
case("bn_mom_neg", R("BatchNorm2d", 3, momentum=-0.5), (2, 3, 3, 3), flags="train",
     comment=ACCEPTED + "negative momentum")
case("bn_eps_neg", R("BatchNorm2d", 3, eps=-1e-3), (2, 3, 3, 3), flags="train",
     comment=ACCEPTED + "negative eps (finite here because every batch variance exceeds 1e-3)")
case("bn_cmismatch_noaffine_notrack", "BatchNorm2d(2, affine=False, track_running_stats=False)", (2, 3, 4, 4),
     flags="train", comment=ACCEPTED + "C != num_features when there is no weight, bias or running stat "
     "to check it against")

# ---- Errors: PyTorch rejects the layer (at construction or in forward) -------------------------------
error("c2_chan_mismatch", R("Conv2d", 3, 4, 3), (1, 4, 5, 5))
error("c2_unb_chan_mismatch", R("Conv2d", 3, 4, 3), (4, 5, 5))
error("c2_groups_in", "Conv2d(3, 4, 3, groups=2)", (1, 3, 5, 5))
error("c2_groups_out", "Conv2d(4, 3, 3, groups=2)", (1, 4, 5, 5))
error("c2_groups_gt_in", "Conv2d(2, 4, 3, groups=4)", (1, 2, 5, 5))
error("c2_groups0", "Conv2d(4, 4, 3, groups=0)", (1, 4, 5, 5))
error("c2_groups_neg", "Conv2d(4, 4, 3, groups=-1)", (1, 4, 5, 5))
error("c2_same_s2", "Conv2d(4, 4, 3, stride=2, padding='same')", (1, 4, 5, 5))
error("c2_same_s12", "Conv2d(4, 4, 3, stride=(1, 2), padding='same')", (1, 4, 5, 5))
error("c2_bad_padding_str", "Conv2d(4, 4, 3, padding='full')", (1, 4, 5, 5))
error("c2_bad_padding_mode", "Conv2d(4, 4, 3, padding_mode='constant')", (1, 4, 5, 5))
error("c2_neg_padding", "Conv2d(4, 4, 3, padding=-1)", (1, 4, 5, 5))
error("c2_neg_padding_h", "Conv2d(4, 4, 3, padding=(-1, 1))", (1, 4, 5, 5))
error("c2_stride0", "Conv2d(4, 4, 3, stride=0)", (1, 4, 5, 5))
error("c2_stride_neg", "Conv2d(4, 4, 3, stride=(1, -1))", (1, 4, 5, 5))
error("c2_dilation0", "Conv2d(4, 4, 3, dilation=0)", (1, 4, 5, 5))
error("c2_dilation_neg", "Conv2d(4, 4, 3, dilation=(2, -1))", (1, 4, 5, 5))
error("c2_kernel0", "Conv2d(4, 4, 0)", (1, 4, 5, 5))
error("c2_kernel_gt_in", R("Conv2d", 4, 4, 6), (1, 4, 5, 5))
error("c2_kernel_gt_in_w", R("Conv2d", 4, 4, (3, 6), padding=(0, 0)), (1, 4, 5, 5))
error("c2_dilated_kernel_gt_in", R("Conv2d", 4, 4, 3, dilation=3), (1, 4, 5, 5))
error("c2_kernel_gt_padded_in", R("Conv2d", 4, 4, 8, padding=1), (1, 4, 5, 5))
error("c2_valid_too_small", "Conv2d(1, 1, 6, padding='valid')", (1, 1, 5, 5))
error("c2_refl_pad_eq_in", R("Conv2d", 1, 1, 3, padding=5, padding_mode="reflect"), (1, 1, 5, 5))
error("c2_refl_pad_eq_in_w", R("Conv2d", 1, 1, 3, padding=(1, 2), padding_mode="reflect"), (1, 1, 5, 2))
error("c2_refl_same_too_big", "Conv2d(1, 1, 11, padding='same', padding_mode='reflect')", (1, 1, 5, 5))
error("c2_circ_pad_gt_in", R("Conv2d", 1, 1, 3, padding=6, padding_mode="circular"), (1, 1, 5, 5))
error("c2_circ_same_too_big", "Conv2d(1, 1, 13, padding='same', padding_mode='circular')", (1, 1, 5, 5))
error("c2_negpad_refl_too_small", R("Conv2d", 1, 1, 1, padding=-3, padding_mode="reflect"), (1, 1, 5, 5))
error("c2_input_2d", R("Conv2d", 1, 1, 3), (5, 5))
error("c2_input_5d", R("Conv2d", 1, 1, 3), (1, 1, 1, 5, 5))
error("c2_input_h0", R("Conv2d", 1, 1, 1), (1, 1, 0, 4))
error("c2_input_h0_padded", R("Conv2d", 1, 1, 1, padding=1), (1, 1, 0, 4))
error("c2_out_channels0", "Conv2d(4, 0, 3)", (1, 4, 5, 5))
error("c2_padding_3_values", "Conv2d(4, 4, 3, padding=(1, 1, 1))", (1, 4, 5, 5))
error("c2_kernel_3_values", "Conv2d(4, 4, (3, 3, 3))", (1, 4, 5, 5))
# PyTorch 1.13 rejects padding_mode='circular' on unbatched input (F.pad's circular mode wants a batch
# dimension), whatever the padding, even 0: "Invalid padding size, expected 2 but got 4".
error("c2_unb_circ", R("Conv2d", 3, 2, 3, stride=2, padding=1, padding_mode="circular"), (3, 8, 8))
error("c2_unb_circ_same", "Conv2d(3, 2, 3, padding='same', padding_mode='circular')", (3, 8, 8))
error("c1_unb_circ_p0", R("Conv1d", 3, 2, 1, padding_mode="circular"), (3, 8))
error("c1_unb_circ_same", "Conv1d(3, 2, kernel_size=5, padding='same', padding_mode=circular)", (3, 6))
error("c1_chan_mismatch", R("Conv1d", 2, 1, 3), (1, 3, 5))
error("c1_unb_chan_mismatch", R("Conv1d", 2, 1, 3), (3, 5))
error("c1_input_1d", R("Conv1d", 1, 1, 3), (5,))
error("c1_input_4d", R("Conv1d", 1, 1, 3), (1, 1, 5, 5))
error("c1_groups", "Conv1d(4, 6, 3, groups=3)", (1, 4, 5))
error("c1_same_s2", "Conv1d(1, 1, 3, stride=2, padding='same')", (1, 1, 5))
error("c1_kernel_gt_in", R("Conv1d", 1, 1, 7), (1, 1, 5))
error("c1_refl_pad_eq_in", R("Conv1d", 1, 1, 3, padding=5, padding_mode="reflect"), (1, 1, 5))
error("c1_circ_pad_gt_in", R("Conv1d", 1, 1, 3, padding=6, padding_mode="circular"), (1, 1, 5))
error("c1_dilation0", "Conv1d(1, 1, 3, dilation=0)", (1, 1, 5))
error("c1_stride0", "Conv1d(1, 1, 3, stride=0)", (1, 1, 5))
error("c1_neg_padding", "Conv1d(1, 1, 3, padding=-1)", (1, 1, 5))
error("c1_input_l0", R("Conv1d", 1, 1, 1, padding=1), (1, 1, 0))
error("mp_pad_gt_half", "MaxPool2d(3, padding=2)", (1, 1, 8, 8))
error("mp_pad_gt_half_w", "MaxPool2d((3, 2), padding=(1, 2))", (1, 1, 8, 8))
error("mp_kernel0", "MaxPool2d(0)", (1, 1, 8, 8))
error("mp_kernel0_s1", "MaxPool2d(0, stride=1)", (1, 1, 8, 8))
error("mp_kernel_neg", "MaxPool2d(-1)", (1, 1, 8, 8))
error("mp_stride0", "MaxPool2d(2, stride=0)", (1, 1, 8, 8))
error("mp_stride_neg", "MaxPool2d(2, stride=-1)", (1, 1, 8, 8))
error("mp_dilation0", "MaxPool2d(2, dilation=0)", (1, 1, 8, 8))
error("mp_neg_padding", "MaxPool2d(2, padding=-1)", (1, 1, 8, 8))
error("mp_out_too_small", R("MaxPool2d", 3), (1, 1, 2, 2))
error("mp_dilated_out_too_small", R("MaxPool2d", 2, dilation=3), (1, 1, 3, 3))
error("mp_input_2d", R("MaxPool2d", 2), (4, 4))
error("mp_input_5d", R("MaxPool2d", 2), (1, 1, 1, 4, 4))
error("mp_input_h0", R("MaxPool2d", 1), (1, 1, 0, 4))
error("mp_input_c0", R("MaxPool2d", 1), (1, 0, 4, 4))
error("mp_unb_c0", R("MaxPool2d", 1), (0, 4, 4))
error("ap_pad_gt_half", "AvgPool2d(3, padding=2)", (1, 1, 8, 8))
error("ap_pad_gt_half_h", "AvgPool2d((2, 4), padding=(2, 2))", (1, 1, 8, 8))
error("ap_kernel0", "AvgPool2d(0)", (1, 1, 8, 8))
error("ap_kernel0_s1", "AvgPool2d(0, stride=1)", (1, 1, 8, 8))
error("ap_kernel_neg", "AvgPool2d(-1)", (1, 1, 8, 8))
error("ap_stride0", "AvgPool2d(2, stride=0)", (1, 1, 8, 8))
error("ap_neg_padding", "AvgPool2d(2, padding=-1)", (1, 1, 8, 8))
error("ap_out_too_small", R("AvgPool2d", 3), (1, 1, 2, 2))
error("ap_divisor0", "AvgPool2d(2, divisor_override=0)", (1, 1, 4, 4))
error("ap_input_2d", R("AvgPool2d", 2), (4, 4))
error("ap_input_5d", R("AvgPool2d", 2), (1, 1, 1, 4, 4))
error("ap_input_h0", R("AvgPool2d", 1), (1, 1, 0, 4))
error("ap_input_c0", R("AvgPool2d", 1), (1, 0, 4, 4))
error("aa_input_h0", "AdaptiveAvgPool2d(2)", (1, 1, 0, 4))
error("aa_unb_input_w0", "AdaptiveAvgPool2d(2)", (1, 4, 0))
error("aa_input_2d", "AdaptiveAvgPool2d(2)", (4, 4))
error("aa_input_5d", "AdaptiveAvgPool2d(2)", (1, 1, 1, 4, 4))
error("aa_out_neg", "AdaptiveAvgPool2d(-1)", (1, 1, 4, 4))
error("aa_out_neg_h", "AdaptiveAvgPool2d((-2, 3))", (1, 1, 4, 4))
error("aa_out_3_values", "AdaptiveAvgPool2d((1, 2, 3))", (1, 1, 4, 4))
error("bn_c_mismatch_train", R("BatchNorm2d", 2), (1, 3, 3, 3), flags="train")
error("bn_c_mismatch_eval", R("BatchNorm2d", 2), (1, 3, 3, 3))
error("bn_c_mismatch_track0", R("BatchNorm2d", 2, track_running_stats=False), (2, 3, 2, 2), flags="train")
error("bn_c_mismatch_affine0", R("BatchNorm2d", 2, affine=False), (2, 3, 2, 2))
error("bn_input_3d", R("BatchNorm2d", 2), (2, 3, 3), flags="train")
error("bn_input_3d_eval", R("BatchNorm2d", 2), (2, 3, 3))
error("bn_input_2d", R("BatchNorm2d", 2), (2, 2), flags="train")
error("bn_input_5d", R("BatchNorm2d", 2), (1, 2, 3, 3, 3), flags="train")
error("bn_train_n1", R("BatchNorm2d", 2), (1, 2, 1, 1), flags="train")
error("bn_train_n1_mom_none", R("BatchNorm2d", 7, momentum=None), (1, 7, 1, 1), flags="train,nbt=3")
error("bn_track0_eval_n1", R("BatchNorm2d", 2, track_running_stats=False), (1, 2, 1, 1))
error("bn_track0_train_n1", R("BatchNorm2d", 2, track_running_stats=False), (1, 2, 1, 1), flags="train")
error("bn_num_features0", "BatchNorm2d(0)", (2, 0, 4, 4), flags="train")
error("bn_num_features0_eval", "BatchNorm2d(0)", (2, 0, 4, 4))

# ---- Parameter-shape errors (load_state_dict refuses the tensor) -------------------------------------
perror("p_c2_weight_kernel", R("Conv2d", 3, 8, 3), (1, 3, 8, 8), "weight", (8, 3, 3, 2))
perror("p_c2_weight_in", R("Conv2d", 3, 8, 3), (1, 3, 8, 8), "weight", (8, 2, 3, 3))
perror("p_c2_weight_groups", R("Conv2d", 4, 8, 3, groups=2), (1, 4, 8, 8), "weight", (8, 4, 3, 3))
perror("p_c2_bias_len", R("Conv2d", 3, 8, 3), (1, 3, 8, 8), "bias", (7,))
perror("p_c2_bias_unexpected", R("Conv2d", 3, 8, 3, bias=False), (1, 3, 8, 8), "bias", (8,))
perror("p_c1_weight_rank", R("Conv1d", 3, 8, 3), (1, 3, 8), "weight", (8, 3, 3, 1))
perror("p_bn_weight_len", R("BatchNorm2d", 3), (2, 3, 4, 4), "weight", (4,))
perror("p_bn_bias_rank", R("BatchNorm2d", 3), (2, 3, 4, 4), "bias", (3, 1))
perror("p_bn_running_mean_len", R("BatchNorm2d", 3), (2, 3, 4, 4), "running_mean", (2,))
perror("p_bn_running_var_len", R("BatchNorm2d", 3), (2, 3, 4, 4), "running_var", (4,))
perror("p_bn_weight_unexpected", R("BatchNorm2d", 3, affine=False), (2, 3, 4, 4), "weight", (3,))
perror("p_bn_running_mean_unexpected", R("BatchNorm2d", 3, track_running_stats=False), (2, 3, 4, 4),
       "running_mean", (3,))


# ---------------------------------------------------------------------------------------------------
# Running the table.

def seeded(id):
    return torch.Generator().manual_seed(zlib.crc32(id.encode()))


def set_params(m, g, p):
    """Fill the module's parameters and buffers from g (p: 'randn', 'int' or 'near1e4')."""
    with torch.no_grad():
        if isinstance(m, nn.modules.conv._ConvNd):
            w = m.weight
            fan_in = max(1, int(np.prod(w.shape[1:])))
            if p == "int":
                w.copy_(torch.randint(-2, 3, w.shape, generator=g).float())
            else:
                w.copy_(randn(g, w.shape, fan_in ** -0.5))
            if m.bias is not None:
                m.bias.copy_(torch.randint(-3, 4, m.bias.shape, generator=g).float() if p == "int"
                             else randn(g, m.bias.shape, 0.1))
        elif isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            if m.affine:
                m.weight.copy_(randn(g, (c,), 0.25, 1.0))
                m.bias.copy_(randn(g, (c,), 0.5))
            if m.track_running_stats:
                if p == "near1e4":
                    m.running_mean.copy_(randn(g, (c,), 0.005, 1e4))
                    m.running_var.copy_(torch.rand((c,), generator=g) * 1e-4 + 5e-5)
                else:
                    m.running_mean.copy_(randn(g, (c,), 0.5, 0.2))
                    m.running_var.copy_(torch.rand((c,), generator=g) * 1.5 + 0.5)


def forward(m, x):
    with torch.no_grad():
        y = m(x)
    return y if isinstance(y, tuple) else (y, None)


def npsave(path, t, dtype):
    np.save(path, np.ascontiguousarray(t.detach().numpy().astype(dtype)))


DEVIATIONS = []   # (id, relative deviation of PyTorch's float32 forward) where it exceeds 1e-6


def check_close(id, y32, y64, tol):
    a, b = y32.double().numpy(), y64.numpy()
    if a.shape != b.shape or not np.array_equal(np.isnan(a), np.isnan(b)):
        raise AssertionError("%s: float32 and float64 forwards differ in shape or NaNs" % id)
    fin = np.isfinite(b)
    if not np.array_equal(a[~fin & ~np.isnan(b)], b[~fin & ~np.isnan(b)]):
        raise AssertionError("%s: float32 and float64 forwards differ in infinities" % id)
    if fin.any():
        scale = max(1.0, float(np.abs(b[fin]).max()))
        err = float(np.abs(a[fin] - b[fin]).max()) / scale
        if err > 1e-6:
            DEVIATIONS.append((id, err))
        if err > tol:
            raise AssertionError("%s: float32 forward deviates by %g (relative to max |y|)" % (id, err))


def run_case(c):
    g = seeded(c["id"])
    flags = [] if c["flags"] == "-" else c["flags"].split(",")
    train = "train" in flags
    nbt = next((int(f[4:]) for f in flags if f.startswith("nbt=")), 0)
    m = build(c["spec"])
    set_params(m, g, c["p"])
    x = c["x"](g, c["shape"]).float()
    assert tuple(x.shape) == c["shape"]
    is_bn = isinstance(m, nn.BatchNorm2d)
    if is_bn and m.track_running_stats:
        m.num_batches_tracked.fill_(nbt)
    elif nbt:
        raise AssertionError("%s: nbt flag without tracked BatchNorm2d" % c["id"])
    if train and not is_bn:
        raise AssertionError("%s: train flag on a layer without a mode" % c["id"])
    m.train(train)

    m64 = copy.deepcopy(m).double()
    m32 = copy.deepcopy(m)
    y64, i64 = forward(m64, x.double())
    y32, i32 = forward(m32, x)
    # A batch mean near 1e4 rounded to float32 (ulp 0.00098) is off by up to 5% of a 0.01 spread: PyTorch's
    # float32 forward cannot do better there, the float64 one (the golden) can.
    check_close(c["id"], y32, y64, 0.1 if c["x"] is near1e4 else 1e-4)
    if i64 is not None and not torch.equal(i32, i64):
        raise AssertionError("%s: float32 and float64 indices differ" % c["id"])

    d = os.path.join(CASES_DIR, c["id"])
    os.makedirs(d)
    npsave(os.path.join(d, "input.npy"), x, "<f4")
    if isinstance(m, nn.modules.conv._ConvNd):
        npsave(os.path.join(d, "weight.npy"), m.weight, "<f4")
        if m.bias is not None:
            npsave(os.path.join(d, "bias.npy"), m.bias, "<f4")
    if is_bn:
        if m.affine:
            npsave(os.path.join(d, "weight.npy"), m.weight, "<f4")
            npsave(os.path.join(d, "bias.npy"), m.bias, "<f4")
        if m.track_running_stats:
            npsave(os.path.join(d, "running_mean.npy"), m.running_mean, "<f4")
            npsave(os.path.join(d, "running_var.npy"), m.running_var, "<f4")
            npsave(os.path.join(d, "new_running_mean.npy"), m64.running_mean, "<f4")
            npsave(os.path.join(d, "new_running_var.npy"), m64.running_var, "<f4")
            for name in ("running_mean", "running_var"):
                a, b = getattr(m32, name).double(), getattr(m64, name)
                if not torch.allclose(a, b, rtol=1e-5, atol=1e-6):
                    raise AssertionError("%s: float32 and float64 %s differ" % (c["id"], name))
    npsave(os.path.join(d, "output.npy"), y64, "<f4")
    if i64 is not None:
        npsave(os.path.join(d, "indices.npy"), i64, "<i8")


def raises(f):
    """The one-line message of the exception f raises, or None."""
    try:
        f()
    except Exception as e:        # PyTorch raises RuntimeError, ValueError, IndexError, TypeError
        return one_line(e)
    return None


def run_error(e):
    g = seeded(e["id"])
    flags = [] if e["flags"] == "-" else e["flags"].split(",")
    nbt = next((int(f[4:]) for f in flags if f.startswith("nbt=")), 0)
    state = {}

    def construct():
        state["m"] = build(e["spec"])

    msg = raises(construct)
    if msg is None:
        m = state["m"]
        set_params(m, g, "randn")
        if isinstance(m, nn.BatchNorm2d) and m.track_running_stats:
            m.num_batches_tracked.fill_(nbt)
        m.train("train" in flags)
        x = randn(g, e["shape"])
        msg = raises(lambda: forward(m, x))
    if msg is None:
        raise AssertionError("%s: PyTorch accepted %s on %s" % (e["id"], e["spec"], e["shape"]))
    return msg


def run_perror(p):
    m = build(p["spec"])
    set_params(m, seeded(p["id"]), "randn")
    sd = m.state_dict()
    sd[p["which"]] = randn(seeded(p["id"]), p["wrong"])
    msg = raises(lambda: m.load_state_dict(sd))
    if msg is None:
        raise AssertionError("%s: load_state_dict accepted %s %s" % (p["id"], p["which"], p["wrong"]))
    return msg


def main():
    # Some messages print Python sets ({'valid', 'same'}), whose order depends on string hashing: fix it.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable] + sys.argv)
    for table in (CASES, ERRORS, PERRORS):
        ids = [c["id"] for c in table]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise AssertionError("duplicate ids: %s" % sorted(dup))
        for i in ids:
            if not i or any(ch not in "abcdefghijklmnopqrstuvwxyz0123456789_" for ch in i):
                raise AssertionError("bad id %r" % i)

    if os.path.isdir(CASES_DIR):
        shutil.rmtree(CASES_DIR)
    os.makedirs(CASES_DIR)
    head = "# Generated by tests/golden/gen_golden.py (PyTorch %s); see README.md. Do not edit.\n" % torch.__version__

    with open(os.path.join(HERE, "cases.tsv"), "w") as f:
        f.write(head + "# id\tflags\tSPEC (torch.nn.<SPEC>); files in cases/<id>/\n")
        for c in CASES:
            try:
                run_case(c)
            except Exception:
                print("in case", c["id"], c["spec"], c["shape"], file=sys.stderr)
                raise
            if c["comment"]:
                f.write("# %s: %s\n" % (c["id"], c["comment"]))
            f.write("%s\t%s\t%s\n" % (c["id"], c["flags"], c["spec"]))

    with open(os.path.join(HERE, "errors.tsv"), "w") as f:
        f.write(head + "# id\tflags\tSPEC\tinput shape\tPyTorch's message\n")
        for e in ERRORS:
            f.write("%s\t%s\t%s\t%s\t%s\n" % (e["id"], e["flags"], e["spec"], shape_str(e["shape"]), run_error(e)))

    with open(os.path.join(HERE, "errors_params.tsv"), "w") as f:
        f.write(head + "# id\tSPEC\tinput shape\twhich\twrong shape\tPyTorch's message (load_state_dict)\n")
        for p in PERRORS:
            f.write("%s\t%s\t%s\t%s\t%s\t%s\n" % (p["id"], p["spec"], shape_str(p["shape"]), p["which"],
                                                  shape_str(p["wrong"]), run_perror(p)))

    for id, err in sorted(DEVIATIONS, key=lambda t: -t[1])[:12]:
        print("float32 forward vs golden: %-28s %.3g (relative to max |y|)" % (id, err), file=sys.stderr)
    total = sum(os.path.getsize(os.path.join(r, n)) for r, _, ns in os.walk(CASES_DIR) for n in ns)
    print("%d valid cases, %d error cases, %d parameter errors, %.2f MB of .npy"
          % (len(CASES), len(ERRORS), len(PERRORS), total / 1e6), file=sys.stderr)


if __name__ == "__main__":
    main()
