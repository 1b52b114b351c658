#!/usr/bin/env bash
# Sets everything up, builds the benchmarks (release) and runs them. Arguments go to the benchmark
# program, e.g. `scripts/bench.sh --benchmark_filter=Mpsc`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSWARMSYNC_BUILD_BENCHMARKS=ON \
  -DSWARMSYNC_BUILD_TESTS=OFF -DSWARMSYNC_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/bench --target swarmsync-bench
exec build/bench/bench/swarmsync-bench "$@"
