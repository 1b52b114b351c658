#!/usr/bin/env bash
# Builds the benchmark programs (release; tokio's peer with cargo, offline) and runs the suite of
# bench/README.md. Arguments go to bench/run.py, e.g. `scripts/bench.sh --runs 3 --cases mpsc`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --bench
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSWARMSYNC_BUILD_BENCHMARKS=ON \
  -DSWARMSYNC_BUILD_TESTS=OFF -DSWARMSYNC_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/bench --target swarmsync-bench asio-peer moodycamel-peer cnats-peer
# Debian's cargo and rustc, from the peer's folder so that its .cargo/config.toml (offline, crates
# from /usr/share/cargo/registry) applies.
(cd bench/peers/tokio && CARGO_TARGET_DIR="$OLDPWD/build/tokio-peer" /usr/bin/cargo build --quiet --release)
exec /usr/bin/python3 bench/run.py "$@"
