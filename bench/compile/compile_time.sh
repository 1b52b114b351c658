#!/usr/bin/env bash
# What a user's build pays for swarmsync: the wall time and peak memory of compiling, alone on
# the machine, one translation unit of each kind a user writes, each the median of `RUNS` runs:
#   channels   includes <swarmsync/channels.hpp>, creates one channel (tests/install/consumer/channels_main.cpp)
#   includes   includes <swarmsync/swarmsync.hpp> and nothing else
#   program    a complete supervised program: wiring, supervisor, two services
#              (tests/install/consumer/main.cpp, the README's)
#   program+pch  the same with <swarmsync/swarmsync.hpp> precompiled (a user's
#              `target_precompile_headers(app PRIVATE <swarmsync/swarmsync.hpp>)`)
#   library    src/runtime/supervisor.cpp, the supervisor's compiled part: paid once, when the
#              library is built, not by each translation unit (absent from older checkouts)
# at -O0 and -O2 with g++ and clang++, with the flags a user's CMake build of swarmsync::swarmsync
# gets (spdlog as the compiled library). Prints a Markdown table.
#
#   bench/compile/compile_time.sh [SOURCE_DIR] [RUNS]     (default: this checkout, 3)
#
# SOURCE_DIR lets the same measurement run on another checkout (`git worktree add /tmp/base REV`),
# so that a change is judged before and after, on the same machine in the same hour.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
src=${1:-$here}
runs=${2:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

defs=(-DFMT_SHARED -DSPDLOG_COMPILED_LIB -DSPDLOG_FMT_EXTERNAL -DSPDLOG_SHARED_LIB)
printf '#include <swarmsync/swarmsync.hpp>\nint main() {}\n' >"$work/includes.cpp"
cp "$src/tests/install/consumer/channels_main.cpp" "$work/channels.cpp"
cp "$src/tests/install/consumer/main.cpp" "$work/program.cpp"

# One compile, timed: prints "seconds kilobytes".
measure() {  # compiler, opt, source, extra...
  local cxx=$1 opt=$2 file=$3; shift 3
  /usr/bin/time -f '%e %M' -o "$work/time" "$cxx" -std=c++20 "$opt" "${defs[@]}" -I"$src/include" "$@" \
    -c "$file" -o "$work/out.o"
  cat "$work/time"
}

# The median over `runs` of "seconds kilobytes" lines: prints "seconds MB".
median() {
  sort -n | awk '{ s[NR] = $1; m[NR] = $2 } END { i = int((NR + 1) / 2); printf "%.2f %.0f\n", s[i], m[i] / 1024 }'
}

echo "| compiler | opt | TU | wall s (median of $runs) | peak MB |"
echo "|---|---|---|---|---|"
for cxx in g++ clang++; do
  for opt in -O0 -O2; do
    for tu in channels includes program; do
      read -r secs mb < <(for _ in $(seq "$runs"); do measure "$cxx" "$opt" "$work/$tu.cpp"; done | median)
      echo "| $cxx | $opt | $tu | $secs | $mb |"
    done
    # The precompiled header, built once per compiler and level (not timed), then the program.
    mkdir -p "$work/pch-$cxx$opt/swarmsync"
    pch_header="$work/pch-$cxx$opt/swarmsync/swarmsync.hpp"
    printf '#include "%s/include/swarmsync/swarmsync.hpp"\n' "$src" >"$pch_header"
    if [ "$cxx" = g++ ]; then
      g++ -std=c++20 "$opt" "${defs[@]}" -I"$src/include" -x c++-header "$pch_header" -o "$pch_header.gch"
      read -r secs mb < <(for _ in $(seq "$runs"); do measure "$cxx" "$opt" "$work/program.cpp" -I"$work/pch-$cxx$opt" -include "$pch_header"; done | median)
    else
      clang++ -std=c++20 "$opt" "${defs[@]}" -I"$src/include" -x c++-header "$pch_header" -o "$pch_header.pch"
      read -r secs mb < <(for _ in $(seq "$runs"); do measure "$cxx" "$opt" "$work/program.cpp" -include-pch "$pch_header.pch"; done | median)
    fi
    echo "| $cxx | $opt | program+pch | $secs | $mb |"
    if [ -f "$src/src/runtime/supervisor.cpp" ]; then
      read -r secs mb < <(for _ in $(seq "$runs"); do measure "$cxx" "$opt" "$src/src/runtime/supervisor.cpp"; done | median)
      echo "| $cxx | $opt | library (once) | $secs | $mb |"
    fi
  done
done
