#!/usr/bin/env python3
"""Writes the seed corpora of the libFuzzer targets (tests/fuzz/corpus/<target>/). Plain Python 3, no
packages: `python3 tests/fuzz/gen_corpus.py` from the repository root rewrites them (the files are
committed; rerun it after changing a target's input format, e.g. fuzz_plan's byte layout).
Seeds are small and few: a handful per feature, valid and just-invalid, so that the fuzzer starts from
inputs that reach deep into each reader."""
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def reset(target):
    d = os.path.join(HERE, "corpus", target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def write(d, name, data):
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- fuzz_spec: SPEC, optionally NUL and an input shape ---------------------------------------------

def spec_corpus():
    d = reset("fuzz_spec")
    # A spread of the golden cases: every kind, padding kinds and modes, pooling options, BN modes.
    want = ["c2_same_k3_refl", "c2_negpad_refl", "c1_negpad_refl", "mp_nan_random_ceil", "c2_pad21_k35_zero"]
    seen_kind = {}
    with open(os.path.join(ROOT, "tests", "golden", "cases.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cid, _flags, spec = line.rstrip("\n").split("\t")[:3]
            kind = spec.split("(")[0]
            if cid in want or seen_kind.get(kind, 0) < 4:
                seen_kind[kind] = seen_kind.get(kind, 0) + 1
                write(d, "golden_" + cid, spec)
    shaped = {
        "conv2d_shape": ("Conv2d(3, 8, kernel_size=3, stride=2, padding=1, groups=1, bias=False)", "1,3,9,9"),
        "conv1d_same": ("Conv1d(4, 4, 5, padding='same', dilation=2, padding_mode='circular')", "2,4,17"),
        "depthwise": ("nn.Conv2d(8, 16, (3, 1), groups=8, padding=\"valid\")", "(8, 7, 7)"),
        "maxpool_idx": ("MaxPool2d(kernel_size=[3], stride=(), padding=1, return_indices=True, ceil_mode=True)", "1x2x5x5"),
        "avgpool_div": ("AvgPool2d(3, 2, 1, True, False, divisor_override=-3)", "2,3,6,6"),
        "adaptive_none": ("torch.nn.AdaptiveAvgPool2d(output_size=(None, 3))", "[1, 3, 7, 5]"),
        "bn_none": ("BatchNorm2d(3, eps=1e-3, momentum=None, affine=False, track_running_stats=False, device='cpu', "
                    "dtype=torch.float32)", "2,3,4,4"),
        "bn_bigint": ("BatchNorm2d(9223372036854775807, eps=1.5e308, momentum=-0.0)", "0,9223372036854775807,0,1"),
        "conv_huge": ("Conv2d(-9223372036854775808, 3, kernel_size=(4611686018427387904, 2))", "1,3,4,4"),
    }
    for name, (spec, shape) in shaped.items():
        write(d, name, spec.encode() + b"\0" + shape.encode())
    bad = {
        "bad_unterminated": "Conv2d(3, 8, 3, padding_mode='zeros",
        "bad_nested": "MaxPool2d((2, (3, 4)))",
        "bad_keyword_order": "Conv2d(3, 8, kernel_size=3, 1)",
        "bad_escape": "Conv2d(3, 8, 3, padding_mode='ze\\ros')",
        "bad_bytes": b"BatchNorm2d(\x93\xff\x00, 3)",
        "bad_float": "BatchNorm2d(4, eps=1e999)",
        "bad_number": "Conv2d(0x10, 1_000, 3)",
        "long": "Conv2d(" + "1, " * 40 + ")",
    }
    for name, spec in bad.items():
        write(d, name, spec)


# ---- fuzz_npy: .npy files ---------------------------------------------------------------------------

def npy(descr, shape, payload, version=(1, 0), fortran=False, header=None, pad=True):
    if header is None:
        dims = ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "")
        header = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (descr, fortran, dims)
    h = header.encode()
    lenbytes = 2 if version[0] == 1 else 4
    if pad:
        total = 6 + 2 + lenbytes + len(h) + 1
        h += b" " * ((64 - total % 64) % 64) + b"\n"
    fmt = "<H" if lenbytes == 2 else "<I"
    return b"\x93NUMPY" + bytes(version) + struct.pack(fmt, len(h)) + h + payload


def f32(*v):
    return struct.pack("<%df" % len(v), *v)


def i64(*v):
    return struct.pack("<%dq" % len(v), *v)


def npy_corpus():
    d = reset("fuzz_npy")
    write(d, "f32_2x3", npy("<f4", (2, 3), f32(1, 2, 3, 4, 5, float("nan"))))
    write(d, "f32_scalar", npy("<f4", (), f32(7)))
    write(d, "f32_1d", npy("<f4", (3,), f32(0, -0.0, float("inf"))))
    write(d, "f32_4d_empty", npy("<f4", (1, 0, 3, 3), b""))
    write(d, "i64_indices", npy("<i8", (1, 1, 2, 2), i64(0, 3, 8, 15)))
    write(d, "f32_v2", npy("<f4", (2,), f32(1, 2), version=(2, 0)))
    write(d, "f32_v3", npy("<f4", (1,), f32(3), version=(3, 0)))
    write(d, "f32_python2_long", npy("<f4", (2,), f32(1, 2), header="{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }"))
    write(d, "f32_keys_reordered", npy("<f4", (1,), f32(1), header="{\"shape\": (1,), \"fortran_order\": False, \"descr\": \"<f4\"}"))
    write(d, "bad_big_endian", npy(">f4", (1,), b"\x3f\x80\x00\x00"))
    write(d, "bad_fortran", npy("<f4", (2, 2), f32(1, 2, 3, 4), fortran=True))
    write(d, "bad_f64", npy("<f8", (1,), struct.pack("<d", 1.0)))
    write(d, "bad_truncated", npy("<f4", (4,), f32(1, 2)))
    write(d, "bad_extra", npy("<f4", (1,), f32(1, 2)))
    write(d, "bad_5d", npy("<f4", (1, 1, 1, 1, 1), f32(1)))
    write(d, "bad_overflow", npy("<f4", (4611686018427387904, 4), b""))
    write(d, "bad_negative", npy("<f4", (-1,), b""))
    write(d, "bad_structured", npy("<f4", (), b"", header="{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': ()}"))
    write(d, "bad_header_len", b"\x93NUMPY\x01\x00\xff\xff{'descr'")
    write(d, "bad_version", b"\x93NUMPY\x04\x00\x10\x00{}              \n")
    write(d, "bad_magic", b"\x93NUMPX\x01\x00")


# ---- fuzz_suite: suite files ------------------------------------------------------------------------

def suite_corpus():
    d = reset("fuzz_suite")
    write(d, "small", "# a comment\n\nconv1 | Conv2d(3, 8, kernel_size=(3, 3), padding=(1, 1), bias=False) | 1,3,16,16 | 1\n"
          "bn1 | BatchNorm2d(8) | 1,8,16,16 | 2 | train\n"
          "pool | MaxPool2d(kernel_size=3, stride=2, padding=1) | 1,8,16,16 | 1\n"
          "gap | AdaptiveAvgPool2d((1, 1)) | 1,8,8,8 | 1\r\n")
    write(d, "tcn", "tcn.0:conv | Conv1d(64, 128, kernel_size=(3,), dilation=(2,), padding=(4,)) | 1,64,4096 | 3\n"
          "avg | AvgPool2d(2, stride=None, ceil_mode=True, count_include_pad=False) | 2,4,5,5 | 7 | \n")
    with open(os.path.join(ROOT, "suites", "alexnet.suite")) as f:
        write(d, "alexnet", f.read())
    bad = {
        "bad_fields": "conv | Conv2d(3, 8, 3) | 1,3,8,8\n",
        "bad_duplicate": "a | MaxPool2d(2) | 1,1,4,4 | 1\na | MaxPool2d(2) | 1,1,4,4 | 1\n",
        "bad_name": "bad name! | MaxPool2d(2) | 1,1,4,4 | 1\n",
        "bad_count": "a | MaxPool2d(2) | 1,1,4,4 | +3\n",
        "bad_flag": "a | MaxPool2d(2) | 1,1,4,4 | 1 | train\n",
        "bad_shape": "a | Conv2d(3, 8, 3) | 1,3,2,2 | 1\n",
        "bad_nul": b"a | MaxPool2d(2) | 1,1,4,4 | 1\n\0\n",
        "empty": "# only a comment\n",
    }
    for name, text in bad.items():
        write(d, name, text)


# ---- fuzz_planfile: mode byte, then JSON (0, 1), the entries' value (2) or structured bytes (3) -----------

PLAN_ENTRY = ('{"name": "s:conv", "spec": "Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), '
              'dilation=(1, 1), groups=1, bias=True, padding_mode=\'zeros\')", "shape": [1, 2, 6, 6], "train": false, '
              '"threads": 1, "impl": "conv2d.naive.scalar", "time_ns": 1234.5, "runner_up": null, '
              '"runner_up_ns": null, "measured": true}')
PLAN_ENTRY_BN = ('{"spec": "BatchNorm2d(4)", "shape": [2, 4, 3, 3], "train": true, "threads": 2, '
                 '"impl": "batchnorm2d.naive.scalar", "time_ns": null, "runner_up": "batchnorm2d.onednn.ext", '
                 '"runner_up_ns": 5, "measured": false, "best_pair": true}')
PLAN_ENTRY_POOL = ('{"spec": "MaxPool2d(2, return_indices=True)", "shape": [3, 5, 5], "train": false, "threads": 1, '
                   '"impl": "maxpool2d.naive.scalar", "time_ns": 10, "runner_up": null, "runner_up_ns": null, '
                   '"measured": true}')


def plan(entries, fingerprint=None, extra=""):
    fp = fingerprint or ('{"cpu_model": "AMD EPYC 7B13 64-Core Processor", "features": "avx2 fma", "cores": 2, '
                         '"build": "0.1.0|523940d666f1|gcc 12.2.0| -O3 -DNDEBUG"}')
    return ('{"format": "cnnbench-plan", "version": 1, "fingerprint": %s, "rigor": "measure", '
            '"created": "2026-11-27T20:57:43Z", "options": {"threads": [1], "impl": null}%s, "entries": [%s]}'
            % (fp, extra, ", ".join(entries)))


def planfile_corpus():
    d = reset("fuzz_planfile")
    write(d, "m0_valid", b"\0" + plan([PLAN_ENTRY, PLAN_ENTRY_BN, PLAN_ENTRY_POOL]).encode())
    write(d, "m0_empty_entries", b"\0" + plan([]).encode())
    write(d, "m1_machine_checked", b"\1" + plan([PLAN_ENTRY]).encode())
    write(d, "m1_unknown_flag", b"\x09" + plan([PLAN_ENTRY]).encode())
    write(d, "m2_entries", b"\2[" + ", ".join([PLAN_ENTRY_POOL, PLAN_ENTRY_BN]).encode() + b"]")
    write(d, "m2_duplicate", b"\2[" + ", ".join([PLAN_ENTRY_POOL, PLAN_ENTRY_POOL]).encode() + b"]")
    write(d, "m0_bad_impl_kind", b"\0" + plan([PLAN_ENTRY.replace("conv2d.naive.scalar", "maxpool2d.naive.scalar")]).encode())
    write(d, "m0_peer", b"\0" + plan([PLAN_ENTRY.replace("conv2d.naive.scalar", "conv2d.onednn.ext")]).encode())
    write(d, "m0_bad_shape", b"\0" + plan([PLAN_ENTRY.replace("[1, 2, 6, 6]", "[1, 2, -6, 6]")]).encode())
    write(d, "m0_unknown_field", b"\0" + plan([PLAN_ENTRY], extra=', "colour": "blue"').encode())
    write(d, "m0_version2", b"\0" + plan([]).replace('"version": 1', '"version": 2').encode())
    write(d, "m0_not_json", b"\0{\"format\": \"cnnbench-plan\", ")
    write(d, "m0_dup_key", b"\0{\"format\": \"a\", \"format\": \"b\"}")
    # Structured (mode 3): fingerprint byte, entry count, then per entry: spec choice, shape, impl, fields.
    write(d, "m3_two_entries", bytes([3, 1, 2, 2, 4, 1, 2, 6, 6, 200, 0, 2, 1, 1, 0, 1, 0,
                                      8, 4, 2, 2, 4, 4, 210, 0, 1, 0, 0, 1, 1, 3]))
    write(d, "m3_spec_text", bytes([3, 0, 1, 1]) + b"AvgPool2d(2, stride=1)\0" + bytes([3, 1, 5, 5, 180, 0, 1, 0, 0, 0, 1, 0]))


# ---- fuzz_plan: the byte layout of tests/fuzz/fuzz_plan.c -------------------------------------------------

def plan_bytes(kind, params, shape, nbt=(0, 0), impl=0, threads=1, given=7, data=b""):
    out = [kind] + params + [len(shape)] + list(shape) + [0] * (4 - len(shape)) + list(nbt) + [impl, threads, given]
    return bytes(out) + data


DATA = bytes(range(0, 256, 7)) + b"\xfa\xfb\xfc\xfd"


def plan_corpus():
    d = reset("fuzz_plan")
    # Values below 160 decode to themselves mod 10 (fuzz.h, fuzz_i64); 160..191 to -8..23; 192..239 edge values.
    conv = [2, 3, 3, 1, 1, 1, 3, 1, 1, 1, 0, 1, 1, 0]         # Conv2d(2, 3, 3, padding=1), zeros
    write(d, "conv2d", plan_bytes(1, conv, [1, 2, 5, 5], data=DATA))
    write(d, "conv2d_reflect_same", plan_bytes(1, [2, 4, 3, 1, 0, 1, 3, 1, 0, 2, 2, 2, 1, 1], [2, 2, 6, 7], data=DATA))
    write(d, "conv2d_circular_groups", plan_bytes(1, [4, 4, 3, 2, 1, 1, 1, 1, 1, 1, 0, 2, 0, 3], [1, 4, 4, 6], data=DATA))
    write(d, "conv1d_dilated", plan_bytes(0, [2, 2, 3, 1, 2, 2, 1, 1, 0, 1, 0, 1, 1, 0], [1, 2, 9], data=DATA))
    write(d, "conv2d_unbatched_impl", plan_bytes(1, conv, [2, 5, 5], impl=200, data=DATA))
    write(d, "maxpool_indices_ceil", plan_bytes(2, [3, 2, 1, 2, 3, 2, 1, 1, 7], [1, 2, 7, 6], data=DATA))
    write(d, "avgpool_divisor", plan_bytes(3, [3, 2, 1, 3, 1, 1, 15, 5], [2, 3, 6, 6], data=DATA))
    write(d, "adaptive", plan_bytes(4, [3, 4], [1, 2, 7, 5], data=DATA))
    write(d, "batchnorm_train", plan_bytes(5, [3, 0, 3, 15], [2, 3, 4, 4], nbt=(0, 2), data=DATA))
    write(d, "batchnorm_eval_defaults", plan_bytes(5, [3, 0, 0, 6], [1, 3, 2, 2], given=0, data=DATA))
    write(d, "conv2d_huge", plan_bytes(1, [206, 3, 203, 1, 0, 1, 3, 1, 0, 1, 0, 1, 1, 0], [1, 206, 5, 5]))
    write(d, "maxpool_huge_kernel", plan_bytes(2, [202, 1, 204, 1, 3, 1, 1, 1, 1], [1, 1, 4, 213]))
    write(d, "adaptive_huge", plan_bytes(4, [203, 203], [1, 1, 1, 1]))
    write(d, "bn_nbt_max", plan_bytes(5, [2, 0, 0, 13], [2, 2, 2, 2], nbt=(245, 194)))  # INT64_MAX
    write(d, "pool_foreign_params", plan_bytes(2, [2, 2, 0, 1, 2, 2, 0, 1, 0], [1, 1, 4, 4], given=8, data=DATA))
    write(d, "bad_kind", plan_bytes(6, [], [1, 1, 1, 1]))


def main():
    spec_corpus()
    npy_corpus()
    suite_corpus()
    planfile_corpus()
    plan_corpus()
    for t in sorted(os.listdir(os.path.join(HERE, "corpus"))):
        print("%-14s %d seeds" % (t, len(os.listdir(os.path.join(HERE, "corpus", t)))))


if __name__ == "__main__":
    main()
