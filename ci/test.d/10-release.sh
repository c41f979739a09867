# The release build and every test.
cmake -S . -B build
cmake --build build -j2
ctest --test-dir build --output-on-failure -j2
