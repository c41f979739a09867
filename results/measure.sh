#!/usr/bin/env bash
# Regenerates the result files of one machine kind: for ResNet-50, VGG-16 and MobileNetV2 a tuned plan
# (1 thread) and then every AVX2/NEON implementation and oneDNN's peers at 1 and 2 threads, with `auto`
# following the plan and the built-in rule measured beside it; then the memory-bound layers of
# memory-bound.suite. Peaks are measured again by every bench: this VM's bandwidth drifts by 15-20% over hours.
# Run it on a quiet machine: the bench marks every time taken while something else
# had the cores (on-cpu column). Usage: results/measure.sh OUTDIR [SUITE ...]   (about 25 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: results/measure.sh OUTDIR [SUITE ...]}
shift || true
suites=${*:-resnet50 vgg16 mobilenetv2}
bin=build/cnnbench
mkdir -p "$out"
case $(uname -m) in x86_64) isa='*.avx2' ;; aarch64) isa='*.neon' ;; *) isa='*.scalar' ;; esac
for s in $suites; do
    echo "=== $s: tune ($(date -u +%H:%M:%S))"
    $bin tune --suite "$s" --threads 1 --impl "$isa" --time-limit 300 --out "$out/$s-plan.json" > "$out/$s-tune.txt"
    echo "=== $s: bench ($(date -u +%H:%M:%S))"
    $bin bench --remeasure-peaks --suite "$s" --plan "$out/$s-plan.json" --impl "$isa,*.ext" --threads 1,2 \
        --benchmark_repetitions=5 --benchmark_min_time=0.1 --out "$out/$s.json" > "$out/$s.txt" ||
        echo "some entries failed agreement (see $out/$s.txt)"
done
echo "=== memory-bound layers ($(date -u +%H:%M:%S))"
$bin bench --remeasure-peaks --suite results/memory-bound.suite --impl '*.direct.*,*.ext' --threads 1,2 \
    --benchmark_repetitions=10 --benchmark_min_time=0.05 --out "$out/memory-bound.json" > "$out/memory-bound.txt" ||
    echo "some entries failed agreement (see memory-bound.txt; oneDNN's BN training statistics do, here)"
$bin info --cached > "$out/info.txt"
echo "=== done ($(date -u +%H:%M:%S))"
