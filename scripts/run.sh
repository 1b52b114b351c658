#!/usr/bin/env bash
# Sets everything up, builds (release) and runs the main program. Arguments go to the program.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSWARMSYNC_BUILD_TESTS=OFF >/dev/null
cmake --build build/release --target swarmsync-channels-demo
exec build/release/examples/swarmsync-channels-demo "$@"
