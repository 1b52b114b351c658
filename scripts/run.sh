#!/usr/bin/env bash
# Sets everything up, builds (release) and runs the main program, the SwarmSync Core, on a
# generated workload. Arguments replace the default `run`: ./scripts/run.sh wiring --dot
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSWARMSYNC_BUILD_TESTS=OFF >/dev/null
cmake --build build/release --target swarmsync-core
if [ "$#" -eq 0 ]; then set -- run; fi
exec build/release/apps/core/swarmsync-core "$@"
