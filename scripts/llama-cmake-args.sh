#!/bin/sh
# Prints the CMAKE_ARGS to build llama-cpp-python with on this machine (empty: llama.cpp's default,
# -march=native). Used by scripts/setup.sh and the Dockerfile's builder stage.
#
# llama.cpp built with -march=native uses AMX on CPUs that report it, and its AMX kernels crash
# (general protection fault in ldtilecfg) in the Firecracker VMs we run on. There, build for the CPU's
# vector extensions without AMX.
grep -qw amx_tile /proc/cpuinfo || exit 0
flags="-DGGML_NATIVE=OFF"
for flag in avx512f:AVX512 avx512vbmi:AVX512_VBMI avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16 avx_vnni:AVX_VNNI; do
  if grep -qw "${flag%%:*}" /proc/cpuinfo; then flags="$flags -DGGML_${flag#*:}=ON"; fi
done
echo "$flags"
