#!/bin/bash
# Runs every test of nrfca.  Usage:
#   bash deploy/test.sh              build in build/ and run all tests
#   bash deploy/test.sh --sanitize   the same in build-asan/ with ASan + UBSan
#   bash deploy/test.sh --fuzz SECS  build the libFuzzer targets (clang) in
#                                    build-fuzz/ and run each for SECS seconds
# Installs missing Debian packages first (deploy/packages.txt).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mode=normal secs=30
case "${1:-}" in
--sanitize) mode=sanitize ;;
--fuzz) mode=fuzz; secs=${2:-30} ;;
"") ;;
*) echo "usage: bash deploy/test.sh [--sanitize | --fuzz SECONDS]" >&2; exit 2 ;;
esac
bash deploy/install-packages.sh
jobs=$(nproc 2>/dev/null || echo 2)
# tests: one more than the CPUs, since most of them wait on servers and
# sockets (the suite keeps ~1.2 CPUs busy); the ones that load the server
# and measure time still run one at a time (RESOURCE_LOCK nrfca_server_load)
tjobs=$((jobs + 1))
case $mode in
normal)
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j"$jobs"
	ctest --test-dir build --output-on-failure -j"$tjobs" --timeout 600
	;;
sanitize)
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DNRFCA_SANITIZE=ON >/dev/null
	cmake --build build-asan -j"$jobs"
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
	export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$top/tests/lsan.supp:print_suppressions=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	ctest --test-dir build-asan --output-on-failure -j"$tjobs" --timeout 900
	;;
fuzz)
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNRFCA_FUZZ=ON >/dev/null
	cmake --build build-fuzz -j"$jobs"
	bash tests/fuzz/run-fuzzers.sh build-fuzz "$secs"
	;;
esac
