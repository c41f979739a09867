#!/usr/bin/python3
"""Check the golden files against an independent numpy implementation of shared/SEMANTICS.md.

Run from the repository root: /usr/bin/python3 tests/golden/check_golden.py
It shares nothing with gen_golden.py but build() (the spec -> module parse); every output, index and
running statistic is recomputed here in float64 from the stored inputs with plain loops, and the file
formats (dtypes, C order, which files exist, the .tsv fields) are checked too.
"""
import os
import sys

import numpy as np
import torch.nn as nn

D = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, D)
import gen_golden as G  # noqa: E402

def ld(id, name):
    """cases/<id>/<name>.npy, or None when the case has no such file."""
    path = os.path.join(D, "cases", id, name + ".npy")
    return np.load(path) if os.path.exists(path) else None


def batched(x, rank):
    """(x with a batch dimension, whether one was added)."""
    return (x[None], True) if x.ndim == rank - 1 else (x, False)


def pad_axis(x, axis, lo, hi, mode):
    """Pad one axis as F.pad does; a negative amount crops (PyTorch accepts it for non-zeros modes)."""
    if lo < 0:
        x = np.take(x, range(-lo, x.shape[axis]), axis=axis)
        lo = 0
    if hi < 0:
        x = np.take(x, range(0, x.shape[axis] + hi), axis=axis)
        hi = 0
    widths = [(0, 0)] * x.ndim
    widths[axis] = (lo, hi)
    npmode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    return np.pad(x, widths, mode=npmode)


def conv(m, x, w, b):
    """Conv1d/Conv2d: pad with the mode ('same': total dilation*(k-1), the extra one right), then a
    plain grouped, strided, dilated correlation."""
    nd = w.ndim - 2
    x, unb = batched(x.astype(np.float64), nd + 2)
    w = w.astype(np.float64)
    k = w.shape[2:]
    for i in range(nd):
        if m.padding == "same":
            total = m.dilation[i] * (k[i] - 1)
            lo, hi = total // 2, total - total // 2
        elif m.padding == "valid":
            lo = hi = 0
        else:
            lo = hi = m.padding[i]
        x = pad_axis(x, 2 + i, lo, hi, m.padding_mode)
    n, c, o = x.shape[0], x.shape[1], w.shape[0]
    cg, og = c // m.groups, o // m.groups
    outs = [(x.shape[2 + i] - m.dilation[i] * (k[i] - 1) - 1) // m.stride[i] + 1 for i in range(nd)]
    y = np.zeros((n, o) + tuple(outs))
    for oc in range(o):
        g = oc // og
        for tap in np.ndindex(*k):
            sl = [slice(None), slice(g * cg, (g + 1) * cg)]
            for i in range(nd):
                start = tap[i] * m.dilation[i]
                sl.append(slice(start, start + (outs[i] - 1) * m.stride[i] + 1, m.stride[i]))
            y[:, oc] += np.tensordot(x[tuple(sl)], w[(oc, slice(None)) + tap], axes=([1], [0]))
        if b is not None:
            y[:, oc] += b[oc]
    return y[0] if unb else y


def pool_out(size, k, s, p, d, ceil):
    """floor/ceil((size + 2p - d(k-1) - 1) / s) + 1; with ceil, drop a last window starting at >= size + p."""
    num = size + 2 * p - d * (k - 1) - 1
    out = (-(-num // s) if ceil else num // s) + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out


def pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def maxpool(m, x):
    """Row-major scan taking an element if greater or NaN (ties: first; NaNs: the last). A window with
    no input element gives -inf and PyTorch's initial index: the first in-range start along each axis
    (h0 = hs + i*d >= 0), h0*W + w0, which may lie outside the plane."""
    x, unb = batched(x, 4)
    k, p, d = pair(m.kernel_size), pair(m.padding), pair(m.dilation)
    s = pair(m.stride if m.stride is not None else m.kernel_size)
    n, c, H, W = x.shape
    oh_n = pool_out(H, k[0], s[0], p[0], d[0], m.ceil_mode)
    ow_n = pool_out(W, k[1], s[1], p[1], d[1], m.ceil_mode)
    y = np.full((n, c, oh_n, ow_n), -np.inf)
    ind = np.zeros((n, c, oh_n, ow_n), np.int64)
    for b, ch, oh, ow in np.ndindex(n, c, oh_n, ow_n):
        hs, ws = oh * s[0] - p[0], ow * s[1] - p[1]
        h0 = next(h for h in range(hs, hs + 10**6, d[0]) if h >= 0)
        w0 = next(w for w in range(ws, ws + 10**6, d[1]) if w >= 0)
        best, where = -np.inf, h0 * W + w0
        for i, j in np.ndindex(k[0], k[1]):
            h, w = hs + i * d[0], ws + j * d[1]
            if 0 <= h < H and 0 <= w < W:
                v = x[b, ch, h, w]
                if v > best or np.isnan(v):
                    best, where = v, h * W + w
        y[b, ch, oh, ow], ind[b, ch, oh, ow] = best, where
    return (y[0], ind[0]) if unb else (y, ind)


def avgpool(m, x):
    """pool = (he-hs)*(we-ws) with he = min(hs+k, H+p), counted before clipping to the input."""
    x, unb = batched(x.astype(np.float64), 4)
    k, p = pair(m.kernel_size), pair(m.padding)
    s = pair(m.stride if m.stride is not None else m.kernel_size)
    n, c, H, W = x.shape
    oh_n = pool_out(H, k[0], s[0], p[0], 1, m.ceil_mode)
    ow_n = pool_out(W, k[1], s[1], p[1], 1, m.ceil_mode)
    y = np.zeros((n, c, oh_n, ow_n))
    for oh, ow in np.ndindex(oh_n, ow_n):
        hs, ws = oh * s[0] - p[0], ow * s[1] - p[1]
        he, we = min(hs + k[0], H + p[0]), min(ws + k[1], W + p[1])
        pool = (he - hs) * (we - ws)
        hs, ws, he, we = max(hs, 0), max(ws, 0), min(he, H), min(we, W)
        if m.divisor_override is not None:
            div = m.divisor_override
        else:
            div = pool if m.count_include_pad else (he - hs) * (we - ws)
        y[:, :, oh, ow] = x[:, :, hs:he, ws:we].sum(axis=(2, 3)) / div
    return y[0] if unb else y


def adaptive(m, x):
    """Cell o of n over L spans [floor(o*L/n), ceil((o+1)*L/n)); None keeps the input size."""
    x, unb = batched(x.astype(np.float64), 4)
    n, c, H, W = x.shape
    size = m.output_size if isinstance(m.output_size, (tuple, list)) else (m.output_size, m.output_size)
    oh_n = H if size[0] is None else size[0]
    ow_n = W if size[1] is None else size[1]
    y = np.zeros((n, c, oh_n, ow_n))
    for oh, ow in np.ndindex(oh_n, ow_n):
        h0, h1 = oh * H // oh_n, -(-(oh + 1) * H // oh_n)
        w0, w1 = ow * W // ow_n, -(-(ow + 1) * W // ow_n)
        y[:, :, oh, ow] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return y[0] if unb else y


def bn(m, x, train, nbt, w, b, rm, rv):
    """Batch statistics (two-pass, biased) in training or without tracking, else the running ones; the
    running update uses the unbiased variance and f = momentum or 1/(nbt+1). An empty batch (N*H*W == 0)
    leaves the running statistics as they were."""
    x = x.astype(np.float64)
    c = x.shape[1]
    w = np.ones(c) if w is None else w.astype(np.float64)
    b = np.zeros(c) if b is None else b.astype(np.float64)
    n = x.shape[0] * x.shape[2] * x.shape[3]
    new_rm, new_rv = rm, rv
    if train or not m.track_running_stats:
        if n == 0:
            return x.copy(), rm, rv
        mean = x.mean(axis=(0, 2, 3))
        var = ((x - mean[:, None, None]) ** 2).mean(axis=(0, 2, 3))
        if train and m.track_running_stats:
            f = m.momentum if m.momentum is not None else 1.0 / (nbt + 1)
            new_rm = (1 - f) * rm.astype(np.float64) + f * mean
            new_rv = (1 - f) * rv.astype(np.float64) + f * var * n / (n - 1)
    else:
        mean, var = rm.astype(np.float64), rv.astype(np.float64)
    y = (x - mean[:, None, None]) / np.sqrt(var[:, None, None] + m.eps) * w[:, None, None] + b[:, None, None]
    return y, new_rm, new_rv


def cmp(id, what, got, want, tol):
    """Max error of got vs want relative to max(1, max |want|); NaN and inf positions must match."""
    want = want.astype(np.float64)
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == want.shape, (id, what, got.shape, want.shape)
    if want.size == 0:
        return 0.0
    assert np.array_equal(np.isnan(got), np.isnan(want)), (id, what, "NaN positions")
    fin = np.isfinite(want)
    inf = ~fin & ~np.isnan(want)
    assert np.array_equal(got[inf], want[inf]), (id, what, "infinities")
    err = np.abs(got[fin] - want[fin]).max() / max(1.0, np.abs(want[fin]).max()) if fin.any() else 0.0
    assert err <= tol, (id, what, err)
    return err


def expected_files(m):
    f = {"input", "output"}
    if isinstance(m, (nn.Conv1d, nn.Conv2d)):
        f |= {"weight", "bias"} if m.bias is not None else {"weight"}
    if isinstance(m, nn.MaxPool2d) and m.return_indices:
        f.add("indices")
    if isinstance(m, nn.BatchNorm2d):
        if m.affine:
            f |= {"weight", "bias"}
        if m.track_running_stats:
            f |= {"running_mean", "running_var", "new_running_mean", "new_running_var"}
    return f


def check_npy(id, name):
    path = os.path.join(D, "cases", id, name + ".npy")
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        shape, fortran, dtype = np.lib.format._read_array_header(fh, version)
    want = np.dtype("<i8") if name == "indices" else np.dtype("<f4")
    assert version == (1, 0) and not fortran and dtype == want, (id, name, version, fortran, dtype)


def tsv(name, nfields):
    rows = []
    for line in open(os.path.join(D, name)):
        if line.startswith("#"):
            continue
        f = line.rstrip("\n").split("\t")
        assert len(f) == nfields and all(f), (name, line)
        rows.append(f)
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)), (name, "duplicate ids")
    return rows


def main():
    n, worst = 0, 0.0
    rows = tsv("cases.tsv", 3)
    assert sorted(os.listdir(os.path.join(D, "cases"))) == sorted(r[0] for r in rows), "case dirs != cases.tsv"
    for id, flags, spec in rows:
        fl = [] if flags == "-" else flags.split(",")
        assert all(f == "train" or f.startswith("nbt=") for f in fl), (id, flags)
        train = "train" in fl
        nbt = next((int(f[4:]) for f in fl if f.startswith("nbt=")), 0)
        m = G.build(spec)
        names = {f[:-4] for f in os.listdir(os.path.join(D, "cases", id))}
        assert names == expected_files(m), (id, names)
        for name in names:
            check_npy(id, name)
        x, y = ld(id, "input"), ld(id, "output")
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            worst = max(worst, cmp(id, "output", conv(m, x, ld(id, "weight"), ld(id, "bias")), y, 2e-6))
        elif isinstance(m, nn.MaxPool2d):
            got, ind = maxpool(m, x)
            cmp(id, "output", got, y, 0.0)
            if m.return_indices:
                assert np.array_equal(ld(id, "indices"), ind), (id, "indices")
        elif isinstance(m, nn.AvgPool2d):
            worst = max(worst, cmp(id, "output", avgpool(m, x), y, 2e-6))
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            worst = max(worst, cmp(id, "output", adaptive(m, x), y, 2e-6))
        elif isinstance(m, nn.BatchNorm2d):
            got, nrm, nrv = bn(m, x, train, nbt, ld(id, "weight"), ld(id, "bias"),
                               ld(id, "running_mean"), ld(id, "running_var"))
            worst = max(worst, cmp(id, "output", got, y, 2e-6))
            if m.track_running_stats:
                cmp(id, "new_running_mean", nrm, ld(id, "new_running_mean"), 2e-6)
                cmp(id, "new_running_var", nrv, ld(id, "new_running_var"), 2e-6)
        else:
            raise AssertionError((id, "unknown layer"))
        n += 1
    errors = tsv("errors.tsv", 5)
    perrors = tsv("errors_params.tsv", 6)
    for e in errors:
        assert e[1] == "-" or all(f == "train" or f.startswith("nbt=") for f in e[1].split(",")), e
        assert all(d.isdigit() for d in e[3].split(",")) and len(e[4]) <= 200, e
    for p in perrors:
        assert p[3] in ("weight", "bias", "running_mean", "running_var"), p
    print("checked %d cases (worst relative error %.3g), %d error cases, %d parameter errors"
          % (n, worst, len(errors), len(perrors)))


if __name__ == "__main__":
    main()
