#include "cli/values.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace core::cli {
namespace {

InputResult<std::chrono::milliseconds> duration_error(std::string_view flag, std::string_view text,
                                                      const std::string& why) {
  return InputResult<std::chrono::milliseconds>(
      boost::system::in_place_error,
      InputError{std::string(flag) + ": '" + std::string(text) + "' " + why});
}

// `text` cut to a readable length for a message.
std::string shown(std::string_view text) {
  return text.size() > 40 ? std::string(text.substr(0, 37)) + "..." : std::string(text);
}

}  // namespace

InputResult<std::chrono::milliseconds> parse_duration(std::string_view flag, std::string_view text) {
  const std::string accepted =
      "; give seconds (90, 1.5) or a number with a unit (500ms, 90s, 5m, 2h, 1d), more than 0 and at most 365 days";
  const std::string quoted = shown(text);
  // The number: digits with at most one decimal point; no sign, exponent, nan or inf.
  std::size_t i = 0;
  bool digits = false, point = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c >= '0' && c <= '9') digits = true;
    else if (c == '.' && !point) point = true;
    else break;
  }
  if (!digits) return duration_error(flag, quoted, "is not a duration" + accepted);
  const std::string_view number = text.substr(0, i);
  const std::string_view unit = text.substr(i);
  double per_unit_ms = 0;
  if (unit.empty() || unit == "s") per_unit_ms = 1000;
  else if (unit == "ms") per_unit_ms = 1;
  else if (unit == "m") per_unit_ms = 60'000;
  else if (unit == "h") per_unit_ms = 3'600'000;
  else if (unit == "d") per_unit_ms = 86'400'000;
  else return duration_error(flag, quoted, "has an unknown unit '" + shown(unit) + "'" + accepted);
  if (number.size() > 20) return duration_error(flag, quoted, "is too long" + accepted);
  double value = 0;
  try {
    value = std::stod(std::string(number));
  } catch (...) {
    return duration_error(flag, quoted, "is not a duration" + accepted);
  }
  const double ms = value * per_unit_ms;
  constexpr double max_ms = 365.0 * 86'400'000;
  if (!std::isfinite(ms) || ms > max_ms) return duration_error(flag, quoted, "is too long" + accepted);
  const auto rounded = std::chrono::milliseconds(static_cast<long long>(std::llround(ms)));
  if (rounded.count() <= 0) return duration_error(flag, quoted, "is not more than 0" + accepted);
  return rounded;
}

InputResult<std::uint64_t> parse_whole(std::string_view flag, std::string_view text, std::uint64_t lo,
                                       std::uint64_t hi) {
  const std::string expected = "; expected " + std::to_string(lo) + " to " + std::to_string(hi);
  auto fail = [&](const std::string& why) {
    return InputResult<std::uint64_t>(boost::system::in_place_error,
                                      InputError{std::string(flag) + ": '" + shown(text) + "' " + why + expected});
  };
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos)
    return fail("is not a whole number");
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range || value > hi || value < lo) return fail("is out of range");
  if (ec != std::errc() || end != text.data() + text.size()) return fail("is not a whole number");
  return value;
}

namespace {

std::string plain(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

}  // namespace

InputResult<double> parse_decimal(std::string_view flag, std::string_view text, double lo, double hi) {
  const std::string expected = "; expected a number from " + plain(lo) + " to " + plain(hi);
  auto fail = [&](const std::string& why) {
    return InputResult<double>(boost::system::in_place_error,
                               InputError{std::string(flag) + ": '" + shown(text) + "' " + why + expected});
  };
  bool digits = false, point = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') digits = true;
    else if (c == '.' && !point) point = true;
    else return fail("is not a number");
  }
  if (!digits) return fail("is not a number");
  if (text.size() > 40) return fail("is out of range");
  const double value = std::strtod(std::string(text).c_str(), nullptr);
  if (!(value >= lo && value <= hi)) return fail("is out of range");
  return value;
}

}  // namespace core::cli
