// libFuzzer harness: any bytes as a cron expression. An expression that parses must give, from
// a few fixed times, a next firing time that is a whole minute, strictly later, and that the
// expression itself matches; one that does not parse must say why. Nothing may crash or hang.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "model/cron.hpp"

namespace {

using core::CronExpression;
using namespace std::chrono;

void check(bool ok) {
  if (!ok) std::abort();
}

CronExpression::Clock::time_point at(int y, unsigned mo, unsigned d, int h, int mi, int s = 0) {
  return sys_days(year(y) / month(mo) / day(d)) + hours(h) + minutes(mi) + seconds(s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto cron = CronExpression::parse(text);
  if (!cron) {
    check(!cron.error().message.empty());
    return 0;
  }
  check(cron->text() == text);
  static const CronExpression::Clock::time_point starts[] = {
      at(1970, 1, 1, 0, 0),         // a Thursday
      at(2026, 12, 1, 0, 0),        // a Tuesday
      at(2028, 2, 28, 23, 59, 30),  // the eve of a leap day, mid-minute
      at(2099, 12, 31, 23, 59),     // the last minute of a year
  };
  for (const auto t : starts) {
    const auto next = cron->next_after(t);
    if (!next) continue;
    check(*next > t);
    check(*next - t <= days(5 * 366 + 1));
    check(floor<minutes>(*next) == *next);
    // The first firing after the minute before it is itself.
    check(cron->next_after(*next - minutes(1)) == next);
  }
  return 0;
}
