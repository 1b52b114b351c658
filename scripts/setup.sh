#!/usr/bin/env bash
# Installs everything swarmsync needs to build and test, from Debian's packages; with `--bench`,
# also what the full benchmark suite needs (Debian's cargo and tokio crates, matplotlib). Idempotent: packages already present are left as they are.
set -euo pipefail

packages=(
  build-essential cmake ninja-build g++ clang libclang-rt-14-dev
  libboost1.81-dev
  libgtest-dev libgmock-dev
  libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  graphviz python3 libconcurrentqueue-dev
  nats-server libnats-dev
  prometheus-cpp-dev
  chromium
)
case "${1:-}" in
  "") ;;
  --bench) packages+=(cargo librust-tokio-dev python3-matplotlib) ;;
  *) echo "setup: unknown option '$1' (expected --bench or nothing)" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all packages present"
