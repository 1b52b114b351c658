#pragma once
// swarmsync-core's progress line: one line redrawn in place on a terminal, never wider than it.
//
//     std::fprintf(stderr, "\r%s\x1b[K", core::cli::progress_line(progress, terminal_columns()).c_str());
//
// It counts what the summary counts: finite jobs finished out of the finite jobs, split into done
// and failed; recurring jobs (never finished) by their runs; elapsed time, and with a duration the
// time left. The bar fills with the finite jobs finished, or with the time when no job ends.
// In a narrow terminal the line says less until it fits: first without the runs of recurring
// jobs, then in short forms (`45% 900/2000, 10 failed | 3.2s/10.0s`), then without the time; at
// each step the bar goes before the words do. A warning that no worker is live stays first.

#include <cstddef>
#include <string>

#include "core_app.hpp"

namespace core::cli {

/// The line for `p` in a terminal `columns` wide: at most `columns - 1` printable ASCII
/// characters (the last column is left empty so that no terminal wraps), or "" below 2 columns.
std::string progress_line(const Progress& p, std::size_t columns);

/// The width of the terminal on `fd`; 80 if it is not a terminal or says nothing.
std::size_t terminal_columns(int fd);

/// A duration in a few characters: `850ms`, `4.2s`, `2m05s`, `1h02m`, `3d04h`.
std::string short_duration(std::chrono::nanoseconds d);

}  // namespace core::cli
