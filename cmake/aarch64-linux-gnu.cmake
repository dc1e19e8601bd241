# Cross build for 64-bit ARM Linux (Jetson Orin's CPU, Graviton, ...) with Debian's cross toolchain:
#   apt-get install g++-aarch64-linux-gnu libc6-dev-arm64-cross   (qemu-user runs the results)
#   cmake -S . -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DKITPOSE_CUDA=OFF ...
# tests/cross_build.py drives it (twin_driver, and kitpose._C with Debian's arm64 Python headers).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
