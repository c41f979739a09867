# Everything again under AddressSanitizer (with leak checking) and UndefinedBehaviorSanitizer.
cmake -S . -B build-asan -DCNB_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build-asan -j2
ctest --test-dir build-asan --output-on-failure -j2
