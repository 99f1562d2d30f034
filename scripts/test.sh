#!/bin/bash
# The whole test suite on a fresh Debian 12 machine: install what is missing, build, run ctest
# (unit, integration, e2e, fuzz-corpus replay), then the libFuzzer targets when clang is there.
# Environment: GEODNS_WERROR=1 (warnings are errors), GEODNS_SANITIZE=1 (ASan+UBSan build),
# BUILD=dir (default build, or build-asan with GEODNS_SANITIZE=1), FUZZ_SECONDS=N (per fuzz
# target, default 60; 0 skips fuzzing), CTEST_ARGS="..." (extra ctest arguments).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

werror=${GEODNS_WERROR:-0}
sanitize=${GEODNS_SANITIZE:-0}
build=${BUILD:-$([ "$sanitize" = 1 ] && echo build-asan || echo build)}
fuzz_seconds=${FUZZ_SECONDS:-60}
onoff() { [ "$1" = 1 ] && echo ON || echo OFF; }

cmake -S . -B "$build" -DGEODNS_WERROR="$(onoff "$werror")" \
    -DGEODNS_SANITIZE="$(onoff "$sanitize")" >/dev/null
cmake --build "$build" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# shellcheck disable=SC2086
ctest --test-dir "$build" --output-on-failure --timeout 600 ${CTEST_ARGS:-}

if [ "$fuzz_seconds" != 0 ] && command -v clang >/dev/null 2>&1; then
    fb="$build-fuzz"
    # clang's warning set differs from gcc's; -Werror applies to the gcc builds above.
    CC=clang cmake -S . -B "$fb" -DGEODNS_FUZZ=ON -DGEODNS_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
    cmake --build "$fb" -j"$(nproc)"
    # Each target runs FUZZ_SECONDS; two at a time on two cores.
    ctest --test-dir "$fb" --output-on-failure -L fuzz -j2
fi
