# Cross build for AArch64 with Debian's gcc-aarch64-linux-gnu; tests run under qemu-aarch64 (Debian's
# qemu-user) with the cross sysroot. Libraries come from Debian's multiarch arm64 packages
# (dpkg --add-architecture arm64; apt-get install libjansson-dev:arm64 libhwloc-dev:arm64 libbenchmark-dev:arm64).
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# pkg-config must see the arm64 .pc files only.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
# CTest runs every test binary through the emulator. -L gives the sysroot's ld.so (libc6-arm64-cross), but qemu
# falls back to host paths its prefix lacks, and that ld.so looks in /lib/aarch64-linux-gnu first, where the
# multiarch libc6:arm64 (another build of glibc) lives: mixing the two hangs the first pthread_create. The
# library path makes it load the sysroot's own libc; hwloc, jansson and benchmark still come from multiarch.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;/usr/aarch64-linux-gnu;-E;LD_LIBRARY_PATH=/usr/aarch64-linux-gnu/lib)
