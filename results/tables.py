#!/usr/bin/env python3
"""Markdown tables from `cnnbench bench --out` result files: per layer and thread count, the fastest of
ours (or one implementation family), oneDNN's peer, the ratio, % of peak, the pack time against one run,
the on-CPU share; and the whole-network totals of auto, the plan and the best per layer.

    results/tables.py FILE.json [--threads 1] [--impl GLOB]      (plain python3; no third-party modules)
"""
import argparse, fnmatch, json, sys

UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def medians(path):
    d = json.load(open(path))
    rows = {}
    for b in d["benchmarks"]:
        if b.get("run_type") != "aggregate" or b.get("aggregate_name") != "median" or b.get("error_occurred"):
            continue
        key = (b["layer"], b["omp_threads"])
        rows.setdefault(key, {})[b["impl"]] = b
    return d, rows


def secs(b):
    return b["real_time"] * UNIT[b["time_unit"]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--impl", default="*", help="which of ours count (globs, comma-separated), default every non-peer")
    ap.add_argument("--no-total", action="store_true", help="leave out the whole-network line")
    a = ap.parse_args()
    d, rows = medians(a.file)
    print("| layer | shape | x | ours (fastest) | time | % peak | oneDNN | ratio | auto | auto / best | pack / run | on-cpu |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    tot = {"best": 0.0, "auto": 0.0, "rule": 0.0, "onednn": 0.0}
    ok = {k: True for k in tot}
    for (layer, t), impls in rows.items():
        if t != a.threads:
            continue
        ours = {k: v for k, v in impls.items() if not k.endswith(".ext") and ".naive." not in k and any(fnmatch.fnmatch(k, g) for g in a.impl.split(","))}
        peer = next((v for k, v in impls.items() if k.endswith(".onednn.ext")), None)
        if not ours:
            continue
        best = min(ours.values(), key=secs)
        any_b = next(iter(impls.values()))
        count = any_b["count"]
        auto = impls.get(any_b.get("auto_impl", ""))
        rule = impls.get(any_b.get("rule_impl", any_b.get("auto_impl", "")))
        tot["best"] += count * secs(best)
        for k, v in (("auto", auto), ("rule", rule), ("onednn", peer)):
            if v: tot[k] += count * secs(v)
            else: ok[k] = False
        pk = best.get("pack_ms", 0) * 1e-3 / secs(best)
        oc = best.get("on_cpu_share")
        cells = [layer, best["shape"].replace(",", "x"), str(count), best["impl"], f"{secs(best)*1e3:.3f} ms",
                 f"{best.get('pct_peak', 0):.0f}% ({best['bound'][0]})",
                 f"{secs(peer)*1e3:.3f} ms" if peer else "-", f"{secs(peer) / secs(best):.2f}x" if peer else "-",
                 auto["impl"] if auto else "-", f"{secs(auto) / secs(best):.2f}" if auto else "-", f"{pk:.0%}",
                 "-" if oc is None else f"{oc:.0%}"]
        print("| " + " | ".join(cells) + " |")
    print()
    if tot["best"] <= 0 or a.no_total:
        return 0
    parts = [f"best per layer {tot['best']*1e3:.2f} ms"]
    if ok["auto"]: parts.append(f"auto {tot['auto']*1e3:.2f} ms ({tot['auto']/tot['best']-1:+.1%})")
    if ok["rule"]: parts.append(f"built-in rule {tot['rule']*1e3:.2f} ms ({tot['rule']/tot['best']-1:+.1%})")
    if ok["onednn"]: parts.append(f"oneDNN {tot['onednn']*1e3:.2f} ms ({tot['onednn']/tot['best']:.2f}x the best)")
    print(f"whole network, {a.threads} thread(s), each layer x its count: " + "; ".join(parts))


if __name__ == "__main__":
    sys.exit(main())
