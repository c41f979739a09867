# The libFuzzer targets (docs/fuzzing.md): a clang build with coverage, AddressSanitizer and
# UndefinedBehaviorSanitizer, then each target through 60000 inputs from seed 1 (5-15 s each here; at most
# CNB_FUZZ_SECONDS, default 60, which a machine 4x slower still completes) from its seed corpus and
# regressions, two at a time: the same sequence every run, so the gate fails only on a change, not on luck. A crash, leak, UB report or hang fails the stage and leaves its input in
# build-fuzz/tests/fuzz-artifacts/. The `cnnbench fuzz` test and the regressions' replay run in 10-release.
if ! dpkg -s clang libclang-rt-14-dev libomp-dev >/dev/null 2>&1; then
    apt-get update
    apt-get install -y --no-install-recommends clang libclang-rt-14-dev libomp-dev
fi
cmake -S . -B build-fuzz -DCNB_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCNB_FUZZ_SECONDS="${CNB_FUZZ_SECONDS:-60}"
cmake --build build-fuzz -j2 --target fuzz_spec fuzz_npy fuzz_suite fuzz_planfile fuzz_plan
ctest --test-dir build-fuzz -L fuzz --output-on-failure -j2
