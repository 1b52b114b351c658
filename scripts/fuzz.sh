#!/usr/bin/env bash
# Builds the libFuzzer harnesses of fuzz/ with clang in build/fuzz, then runs each for a bounded
# time on a copy of its committed seed corpus (fuzz/corpus/<harness>/):
#
#     scripts/fuzz.sh [seconds per harness, default 60]
#
# Prints one line per harness and exits non-zero if any crashed, leaked, timed out on an input
# (5 s) or went over 2 GB; the input that did it is kept under build/fuzz/run/<harness>/, with the
# run's log. JOBS sets the parallelism of the build (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz.sh: the time per harness must be a whole number of seconds, not '$seconds'" >&2
  exit 2
fi
if (($# > 1)); then
  echo "fuzz.sh: one argument at most (seconds per harness)" >&2
  exit 2
fi

if ! grep -q 'add_subdirectory(fuzz)' CMakeLists.txt; then
  echo "fuzz.sh: CMakeLists.txt does not include fuzz/ (the SWARMSYNC_BUILD_FUZZERS option)" >&2
  exit 2
fi

build=build/fuzz
harnesses=(cron_fuzz job_file_fuzz payload_json_fuzz log_record_fuzz)

echo "== configuring $build (clang, SWARMSYNC_BUILD_FUZZERS=ON)"
cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSWARMSYNC_BUILD_FUZZERS=ON -DSWARMSYNC_BUILD_TESTS=OFF -DSWARMSYNC_BUILD_EXAMPLES=OFF \
  -DSWARMSYNC_BUILD_CORE=OFF -DSWARMSYNC_BUILD_BENCHMARKS=OFF -DSWARMSYNC_SANITIZE= >/dev/null
echo "== building ${harnesses[*]}"
cmake --build "$build" -j "${JOBS:-$(nproc)}" --target "${harnesses[@]}"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

failed=0
summaries=()
for h in "${harnesses[@]}"; do
  run="$build/run/$h"
  rm -rf "$run"
  mkdir -p "$run/corpus" "$run/artifacts"
  cp fuzz/corpus/"$h"/* "$run/corpus/"
  seeds=$(find "$run/corpus" -type f | wc -l)
  dict=()
  [ -f "fuzz/$h.dict" ] && dict=("-dict=fuzz/$h.dict")
  echo "== fuzzing $h for ${seconds} s ($seeds seeds; log: $run/log)"
  set +e
  "$build/fuzz/$h" "${dict[@]}" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
    -artifact_prefix="$run/artifacts/" -print_final_stats=1 "$run/corpus" >"$run/log" 2>&1
  rc=$?
  set -e
  # A run that failed early has no statistics: each of these may come out empty.
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run/log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$run/log" | tail -n 1 | cut -d' ' -f2 || true)
  inputs=$(find "$run/corpus" -type f | wc -l)
  artifact=$(find "$run/artifacts" -type f | head -n 1)
  if [ "$rc" -eq 0 ] && [ -z "$artifact" ]; then
    summaries+=("$h: ok, ${runs:-?} runs in ${seconds} s, coverage ${cov:-?}, corpus $seeds -> $inputs inputs")
  else
    failed=1
    kind=$(grep -o -m 1 -E 'runtime error: .*|ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer): [^(]*' "$run/log" |
      head -n 1 || true)
    summaries+=("$h: FAILED (exit $rc): ${kind:-see the log}; input: ${artifact:-none}; log: $run/log")
  fi
done

echo "== summary"
printf '%s\n' "${summaries[@]}"
exit "$failed"
