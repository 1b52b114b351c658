#!/usr/bin/env bash
# Sets everything up, then builds and runs the whole test suite three times: a g++ release build
# and clang with AddressSanitizer and UndefinedBehaviorSanitizer, both with warnings as errors,
# and clang with ThreadSanitizer; then fuzzes the Core's parsers for 20 s each (scripts/fuzz.sh).
# The sanitizer builds use clang: it compiles this code in well under half the time g++ takes
# with sanitizers, and g++ has the release build's warnings.
# `--quick` runs only the first.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    *) echo "test.sh: unknown option '$arg' (only --quick)" >&2; exit 2 ;;
  esac
done

bash scripts/setup.sh
jobs=$(nproc)

run_suite() {  # name, compiler, extra cmake args...
  local name=$1 cxx=$2; shift 2
  echo "== $name"
  CXX=$cxx cmake -S . -B "build/$name" -G Ninja "$@" >/dev/null
  cmake --build "build/$name" -j "$jobs"
  (cd "build/$name" && ctest --output-on-failure -j 1)
}

export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp"
export ASAN_OPTIONS="detect_leaks=1 abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1"

# No debug information (a quarter of the build time with g++, more with the sanitizers'
# instrumentation: sanitizer stacks still name their functions), -O2 for the release suite and
# -O1 for the sanitizers (as they recommend; their reports are as good).
# The sanitized builds are unity builds (CMake's, 8 sources a unit): most of their time is the
# code generation of the inline functions and templates every source uses (Asio's coroutine
# machinery, the channels), done once a unit instead of once a source, which cuts each of them
# to about a third. The release build compiles each source alone, as a user's build does: it
# is the one that finds a source missing an include.
release=(-DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG")
sanitized=(-DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG" -DSWARMSYNC_SANITIZER_LINE_TABLES=OFF
           -DCMAKE_UNITY_BUILD=ON)

# The release suite also builds the benchmark programs and runs a smoke of them (bench.smoke).
run_suite test g++ "${release[@]}" -DSWARMSYNC_WARNINGS_AS_ERRORS=ON -DSWARMSYNC_BUILD_BENCHMARKS=ON
if [ "$quick" -eq 0 ]; then
  run_suite tsan clang++ "${sanitized[@]}" -DSWARMSYNC_SANITIZE=thread
  run_suite asan clang++ "${sanitized[@]}" -DSWARMSYNC_SANITIZE=address -DSWARMSYNC_WARNINGS_AS_ERRORS=ON
  # The parsers of outside input, fuzzed for a bounded time from their committed corpora.
  echo "== fuzz"
  bash scripts/fuzz.sh 20
fi
echo "== all test builds passed"
