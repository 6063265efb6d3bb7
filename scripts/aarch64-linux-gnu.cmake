# CMake toolchain file: cross-compiles for linux-arm64 (aarch64, glibc) on an x86_64 Debian/Ubuntu
# host with the distribution's cross compiler (apt-get install g++-aarch64-linux-gnu). Used by
# `npm run prebuild:arm64` (scripts/prebuild-arm64.mjs); a plain cmake build takes it too:
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=scripts/aarch64-linux-gnu.cmake
# Node-API's headers are the same for every architecture, and ONNX Runtime is dlopened at run time,
# so the only target libraries linked are glibc's and the (static) C++ runtime of the cross toolchain.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(ORT_NAPI_CROSS_PREFIX "aarch64-linux-gnu-" CACHE STRING "prefix of the cross toolchain's programs")
set(CMAKE_C_COMPILER "${ORT_NAPI_CROSS_PREFIX}gcc")
set(CMAKE_CXX_COMPILER "${ORT_NAPI_CROSS_PREFIX}g++")
set(CMAKE_STRIP "${ORT_NAPI_CROSS_PREFIX}strip" CACHE FILEPATH "strip for the target")

# The target's headers and libraries live under the cross sysroot; programs (node, for the
# Node-API header lookup in a plain cmake build) are the host's.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
