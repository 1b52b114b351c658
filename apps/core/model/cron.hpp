#pragma once
// Cron expressions with Vixie cron's rules: when a recurring job fires.
//
//     auto every_5 = core::CronExpression::parse("*/5 * * * *").value();
//     auto next = every_5.next_after(now);            // the first matching minute after `now`
//
// An expression is five fields separated by white space, or one shortcut, with white space
// allowed around it:
//
//     expression = field field field field field | shortcut
//     field      = element { "," element }
//     element    = "*" [ "/" step ] | value [ "-" value ] [ "/" step ]
//     value      = digits | name
//     step       = digits
//
// The fields, in order, with their values and the largest step each takes:
//
//     minute        0-59                              step 1-60
//     hour          0-23                              step 1-24
//     day of month  1-31                              step 1-31
//     month         1-12 or JAN-DEC                   step 1-12
//     day of week   0-7 or SUN-SAT (0 and 7 Sunday)   step 1-7
//
// `*` is the field's first to last value (0-7 for the day of week), `a` that value alone, `a-b`
// a to b, and a step n keeps every n-th of them from the first: `*/n` from the first value,
// `a-b/n` from a to b, `a/n` from a to the field's last value (so `5/20` is minutes 5,25,45, and
// in the day of week `1/2` is 1,3,5,7: MON,WED,FRI,SUN; Vixie cron itself refuses `a/n`). A step
// larger than its range keeps the first value only (`1-5/10` is 1); a step of 0 or beyond the
// field's largest is an error (Vixie cron takes any positive step, but every step beyond the
// largest selects what the largest does). A range must run forwards: `SAT-SUN` or `22-2` is an
// error, to be written as a list (`SAT,SUN`, `22-23,0-2`). Numbers are decimal digits, without
// sign, of any length (a number too large for its field is an error, never wrapped); names are
// the three-letter English ones, in any case, for the month and the day of week only, and may be
// range bounds but not steps.
//
// Day of month and day of week: if either field's text begins with `*` (`*`, `*/2`, ...), a day
// must match both; otherwise (both written without a leading `*`) a day matches if either
// does. So `0 0 13 * 5` is every 13th and every Friday, while `0 0 */2 * 1` is the Mondays that
// fall on an odd day of the month.
//
// Shortcuts, in any case: `@yearly` and `@annually` (0 0 1 1 *), `@monthly` (0 0 1 * *),
// `@weekly` (0 0 * * 0), `@daily` and `@midnight` (0 0 * * *), `@hourly` (0 * * * *). `@reboot`
// is refused: a job's schedule is a time of day, not an event.
//
// Times are UTC, to the minute.

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

  /// Parses `text` (the grammar above); the error says which field is wrong and why.
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
  bool dom_star_ = true;           // the day of month field begins with `*`
  bool dow_star_ = true;           // the day of week field begins with `*`
  std::string text_;
};

}  // namespace core
