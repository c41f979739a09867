/* cnnbench: the command line. Dispatches to the subcommands in harness/cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "harness/cmd.h"

static void usage(FILE *f) {
    fputs("usage: cnnbench <command> [args]\n"
          "  run SPEC --input X.npy --output Y.npy [--weight W.npy] [--bias B.npy]\n"
          "           [--running-mean M.npy] [--running-var V.npy] [--num-batches-tracked N] [--train]\n"
          "           [--new-running-mean F.npy] [--new-running-var F.npy] [--indices I.npy]\n"
          "           [--impl NAME|auto] [--threads N] [--plan FILE [--any-machine]]\n"
          "           [--expect Y.npy [--expect-indices I.npy] [--expect-running-mean M.npy] [--expect-running-var V.npy]]\n"
          "                    run one layer on .npy tensors, exactly as PyTorch 1.13 would; with --expect, judge the\n"
          "                    outputs by bench's agreement rule against expected ones, exit 1 if they disagree\n"
          "  impls SPEC --shape N,C,H,W [--train]\n"
          "                    the implementations that can run it on this CPU, best first\n"
          "  list              CPU features and every registered implementation, available or not\n"
          "  bench (SPEC --shape N,C,H,W | --suite NAME|FILE) [--impl GLOB[,GLOB]] [--threads 1,2|scaling]\n"
          "        [--batch N] [--cold-cache] [--out FILE.json] [--seed N] [--peaks-cache FILE] [--remeasure-peaks]\n"
          "        [--plan FILE [--any-machine]] [--benchmark_* flags of Google Benchmark]\n"
          "                    check every implementation against the reference, then time it (default: --suite resnet50)\n"
          "  tune (--suite NAME|FILE ... | SPEC --shape N,C,H,W [--train]) --out PLAN.json [--threads LIST|scaling]\n"
          "       [--rigor estimate|measure|exhaustive] [--time-limit SECONDS] [--max-error E] [--no-winograd]\n"
          "       [--impl GLOB[,GLOB]] [--min-time SECONDS]\n"
          "                    time the candidates for each layer and save the fastest in a plan file for `auto`\n"
          "  fuzz [--time SECONDS | --count N] [--seed S] [--impl GLOB[,GLOB]] [--kind KIND[,KIND]] [--out-dir DIR]\n"
          "                    check every implementation against the reference on random valid layers and shapes;\n"
          "                    a mismatch is shrunk and written out as a `cnnbench run` reproducer (exit 1)\n"
          "  info [--cached]   topology, CPU features, compiler and flags, measured machine limits\n"
          "  compare BASE.json NEW.json [--threshold PCT] [--alpha A] [--allow-different-machine]\n"
          "                    pair two result files; exit 1 if an entry got significantly slower,\n"
          "                    disappeared, or fails agreement (Mann-Whitney U over the repetitions)\n"
          "  report RESULTS.json [more.json ...] --out report.html\n"
          "                    one self-contained HTML page with charts: per-layer GFLOP/s, roofline, thread\n"
          "                    scaling, whole-network time per implementation choice; several files side by side\n"
          "SPEC is the PyTorch constructor call, e.g. \"Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)\".\n"
          "CNB_ISA=scalar|avx2|avx512|neon caps the instruction sets used.\n",
          f);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run")) return cnb_cmd_run(argc - 2, argv + 2);
    if (!strcmp(cmd, "impls")) return cnb_cmd_impls(argc - 2, argv + 2);
    if (!strcmp(cmd, "list")) return cnb_cmd_list(argc - 2, argv + 2);
    if (!strcmp(cmd, "compare")) return cnb_cmd_compare(argc - 2, argv + 2);
    if (!strcmp(cmd, "bench")) return cnb_cmd_bench(argc - 2, argv + 2);
    if (!strcmp(cmd, "info")) return cnb_cmd_info(argc - 2, argv + 2);
    if (!strcmp(cmd, "report")) return cnb_cmd_report(argc - 2, argv + 2);
    if (!strcmp(cmd, "tune")) return cnb_cmd_tune(argc - 2, argv + 2);
    if (!strcmp(cmd, "fuzz")) return cnb_cmd_fuzz(argc - 2, argv + 2);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "cnnbench: unknown command '%s' (try: cnnbench help)\n", cmd);
    return 2;
}
