#!/usr/bin/env bash
# Writes OUTDIR/SUMMARY.md from the files results/measure.sh left there: per suite and thread count, the
# fastest of ours against oneDNN per layer (results/tables.py), and bench's whole-network lines.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: results/summary.sh OUTDIR}
{
    echo "# Results: $(basename "$out")"
    echo
    # The commit the measured build was made from, as it recorded it (not the checkout's HEAD now).
    commit=$(sed -n 's/.*(commit \([^)]*\)).*/\1/p' "$out/info.txt" 2>/dev/null | head -1)
    echo "Made by \`results/measure.sh $out\` (build of commit ${commit:-unknown}); tables by \`results/tables.py\`."
    echo "\"ours (fastest)\": the fastest cnnbench implementation of the layer; \"ratio\": oneDNN's time over it;"
    echo "\"auto / best\": auto's (the tuned plan's at 1 thread) time over the fastest; \"pack / run\": plan creation"
    echo "over one run; \"on-cpu\": share of the wall time the threads were on a CPU (below 90%: disturbed)."
    echo
    [ -f "$out/info.txt" ] && { echo '```'; sed -n '/machine limits/,$p' "$out/info.txt"; echo '```'; echo; }
    for f in "$out"/*.json; do
        case $f in *-plan.json) continue ;; esac
        s=$(basename "$f" .json)
        for t in 1 2; do
            echo "## $s, $t thread$([ $t = 1 ] || echo s)"
            echo
            results/tables.py "$f" --threads $t
            echo
        done
        if [ "$s" = resnet50 ] || [ "$s" = vgg16 ]; then
            # Issue 4 asks the non-Winograd kernels to reach oneDNN on their own: the same run without Winograd.
            echo "## $s, 1 thread, Winograd left out (im2col, direct, depthwise only; convolutions only)"
            echo
            echo "\"auto / best\" here: auto's choice (Winograd where it is chosen) over the fastest non-Winograd kernel."
            echo
            results/tables.py "$f" --threads 1 --impl 'conv*.im2col.*,conv*.direct.*,conv*.depthwise.*' --no-total
            echo
        fi
        if [ -f "$out/$s.txt" ]; then
            echo "bench's whole-network lines (each layer x its count; \"best\" includes the oneDNN peers):"
            echo '```'
            sed -n '/^whole network/,/^$/p' "$out/$s.txt" | sed '/^$/d'
            echo '```'
            echo
        fi
    done
} > "$out/SUMMARY.md"
echo "wrote $out/SUMMARY.md"
