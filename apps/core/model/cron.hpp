#pragma once
// Standard 5-field cron expressions: when a recurring job fires.
//
//     auto every_5 = core::CronExpression::parse("*/5 * * * *").value();
//     auto next = every_5.next_after(now);            // the first matching minute after `now`
//
// Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or JAN-DEC), day of week
// (0-7 or SUN-SAT, 0 and 7 both Sunday). Each field is `*`, a value, a range `a-b`, a step `*/n`
// or `a-b/n` or `a/n`, or a comma-separated list of those. As in Vixie cron, when both day of
// month and day of week are restricted, a day matches if either does. Times are UTC, to the
// minute.

#include <bitset>
#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace core {

/// Bad input to the Core (a job file, a cron expression, a flag): one sentence that says what is
/// wrong and where.
struct InputError {
  std::string message;

  friend bool operator==(const InputError& e, std::string_view text) { return e.message == text; }
  friend std::ostream& operator<<(std::ostream& out, const InputError& e) { return out << e.message; }
};

/// Thrown by `.value()` on a failed result.
[[noreturn]] inline void throw_exception_from_error(const InputError& e, const boost::source_location&) {
  throw std::invalid_argument(e.message);
}

template <class T>
using InputResult = boost::system::result<T, InputError>;

/// A parsed cron expression.
class CronExpression {
 public:
  using Clock = std::chrono::system_clock;

  /// Parses `text`; the error says which field is wrong and why.
  static InputResult<CronExpression> parse(std::string_view text);

  /// The first matching minute strictly after `t`; nothing if none within 5 years (for example
  /// February 30th).
  std::optional<Clock::time_point> next_after(Clock::time_point t) const;

  /// The text it was parsed from.
  const std::string& text() const noexcept { return text_; }

 private:
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // 1..31
  std::bitset<13> months_;         // 1..12
  std::bitset<7> days_of_week_;    // 0..6, Sunday = 0
  bool dom_restricted_ = false;
  bool dow_restricted_ = false;
  std::string text_;
};

}  // namespace core
