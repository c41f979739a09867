# AArch64: cross-build with Debian's gcc-aarch64-linux-gnu against its arm64 multiarch libraries, then run every
# test under qemu-user (cmake/aarch64-linux-gnu.cmake sets the emulator, and the tests that start the command
# put it in front too). The `bench` test runs `cnnbench bench` there and checks that its result file says it ran
# emulated; `report` skips its rendering (chromium cannot run through the emulator). About 2 minutes of tests.
pkgs="gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user libjansson-dev:arm64 libhwloc-dev:arm64 libbenchmark-dev:arm64"
dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
# shellcheck disable=SC2086  # a list of package names
if ! dpkg -s $pkgs >/dev/null 2>&1; then
    apt-get update
    apt-get install -y --no-install-recommends $pkgs
fi
cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
cmake --build build-aarch64 -j2
ctest --test-dir build-aarch64 --output-on-failure -j2
