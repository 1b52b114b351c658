// Cron expressions: parsing, errors naming the field, and the next firing time.

#include "model/cron.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace {

using core::CronExpression;
using namespace std::chrono;

CronExpression::Clock::time_point at(int y, unsigned mo, unsigned d, int h, int mi) {
  return sys_days(year(y) / month(mo) / day(d)) + hours(h) + minutes(mi);
}

CronExpression::Clock::time_point next(std::string_view expr, CronExpression::Clock::time_point t) {
  auto c = CronExpression::parse(expr);
  EXPECT_TRUE(c) << (c ? "" : c.error().message);
  auto n = c->next_after(t);
  EXPECT_TRUE(n.has_value()) << expr;
  return n.value_or(CronExpression::Clock::time_point{});
}

TEST(Cron, EveryMinuteIsTheNextMinute) {
  EXPECT_EQ(next("* * * * *", at(2026, 11, 24, 10, 30) + seconds(15)), at(2026, 11, 24, 10, 31));
  EXPECT_EQ(next("* * * * *", at(2026, 11, 24, 10, 30)), at(2026, 11, 24, 10, 31));  // strictly after
}

TEST(Cron, StepsRangesListsAndNames) {
  EXPECT_EQ(next("*/15 * * * *", at(2026, 11, 24, 10, 31)), at(2026, 11, 24, 10, 45));
  EXPECT_EQ(next("*/15 * * * *", at(2026, 11, 24, 10, 45)), at(2026, 11, 24, 11, 0));
  EXPECT_EQ(next("5,10 9-17/4 * * *", at(2026, 11, 24, 10, 30)), at(2026, 11, 24, 13, 5));
  EXPECT_EQ(next("0 0 1 jan *", at(2026, 11, 24, 10, 30)), at(2027, 1, 1, 0, 0));
  EXPECT_EQ(next("30 8 * * MON-FRI", at(2026, 11, 27, 9, 0)), at(2026, 11, 30, 8, 30));  // Fri -> Mon
  EXPECT_EQ(next("0 12 * * 7", at(2026, 11, 24, 0, 0)), at(2026, 11, 29, 12, 0));       // 7 is Sunday
  EXPECT_EQ(next("10/20 * * * *", at(2026, 11, 24, 10, 31)), at(2026, 11, 24, 10, 50));
}

TEST(Cron, DayOfMonthOrDayOfWeekWhenBothAreRestricted) {
  // The 13th, or any Friday: after Tue 24 Nov 2026 comes Fri 27 Nov.
  EXPECT_EQ(next("0 0 13 * 5", at(2026, 11, 24, 0, 0)), at(2026, 11, 27, 0, 0));
}

TEST(Cron, LeapDayAndImpossibleDates) {
  EXPECT_EQ(next("0 0 29 2 *", at(2026, 11, 24, 0, 0)), at(2028, 2, 29, 0, 0));
  auto never = CronExpression::parse("0 0 30 2 *");
  ASSERT_TRUE(never);
  EXPECT_FALSE(never->next_after(at(2026, 11, 24, 0, 0)).has_value());
}

TEST(Cron, ErrorsNameTheFieldAndTheProblem) {
  auto expect_error = [](std::string_view expr, std::string_view message) {
    auto c = CronExpression::parse(expr);
    ASSERT_FALSE(c) << expr;
    EXPECT_EQ(c.error(), message);
  };
  expect_error("* * * *", "invalid cron expression '* * * *': expected 5 fields (minute hour day-of-month month "
                          "day-of-week), got 4");
  expect_error("60 * * * *", "invalid cron expression '60 * * * *': field minute '60': value out of range 0-59");
  expect_error("* 25 * * *", "invalid cron expression '* 25 * * *': field hour '25': value out of range 0-23");
  expect_error("* * 0 * *", "invalid cron expression '* * 0 * *': field day of month '0': value out of range 1-31");
  expect_error("*/0 * * * *", "invalid cron expression '*/0 * * * *': field minute '*/0': step '0' is not a positive "
                              "number");
  expect_error("* * * FOO *", "invalid cron expression '* * * FOO *': field month 'FOO': 'FOO' is not a value");
  expect_error("5-1 * * * *", "invalid cron expression '5-1 * * * *': field minute '5-1': range 5-1 goes backwards");
  expect_error("1,,2 * * * *", "invalid cron expression '1,,2 * * * *': field minute '1,,2': empty list element");
}

}  // namespace
