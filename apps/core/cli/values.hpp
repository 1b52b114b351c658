#pragma once
// The values of swarmsync-core's flags, parsed with messages that name the flag, what was given
// and what is accepted:
//
//     auto d = core::cli::parse_duration("--duration", "5m");   // 300000 ms
//     auto n = core::cli::parse_whole("--count", "1e3", 1, 10'000'000);
//     // error: "--count: '1e3' is not a whole number; expected 1 to 10000000"
//     auto r = core::cli::parse_decimal("--failure-rate", "nan", 0, 1);
//     // error: "--failure-rate: 'nan' is not a number; expected a number from 0 to 1"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "model/cron.hpp"

namespace core::cli {

/// A duration: seconds as a plain number (`90`, `1.5`) or a number with a unit (`500ms`, `90s`,
/// `5m`, `2h`, `1d`); more than 0 and at most 365 days.
InputResult<std::chrono::milliseconds> parse_duration(std::string_view flag, std::string_view text);

/// A whole number in [lo, hi], in decimal digits only (no sign, exponent or fraction).
InputResult<std::uint64_t> parse_whole(std::string_view flag, std::string_view text, std::uint64_t lo,
                                       std::uint64_t hi);

/// A number in [lo, hi] written in decimal digits with at most one decimal point (`0.25`, `60`,
/// `.5`); no sign, exponent, `nan` or `inf`.
InputResult<double> parse_decimal(std::string_view flag, std::string_view text, double lo, double hi);

}  // namespace core::cli
