// Cron expressions: parsing, errors naming the field, and the next firing time, by Vixie cron's
// rules.

#include "model/cron.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace cron_test {

namespace {

using core::CronExpression;
using namespace std::chrono;

CronExpression::Clock::time_point at(int y, unsigned mo, unsigned d, int h, int mi) {
  return sys_days(year(y) / month(mo) / day(d)) + hours(h) + minutes(mi);
}

// "YYYY-MM-DD HH:MM", UTC.
CronExpression::Clock::time_point when(const char* text) {
  int y = 0, h = 0, mi = 0;
  unsigned mo = 0, d = 0;
  EXPECT_EQ(std::sscanf(text, "%d-%u-%u %d:%d", &y, &mo, &d, &h, &mi), 5) << text;
  return at(y, mo, d, h, mi);
}

std::string show(CronExpression::Clock::time_point t) {
  const auto day = floor<days>(t);
  const year_month_day ymd(day);
  const auto m = duration_cast<minutes>(t - day).count();
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u %02d:%02d", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), static_cast<int>(m / 60),
                static_cast<int>(m % 60));
  return text;
}

CronExpression::Clock::time_point next(std::string_view expr, CronExpression::Clock::time_point t) {
  auto c = CronExpression::parse(expr);
  EXPECT_TRUE(c) << (c ? "" : c.error().message);
  if (!c) return {};
  auto n = c->next_after(t);
  EXPECT_TRUE(n.has_value()) << expr;
  return n.value_or(CronExpression::Clock::time_point{});
}

// The error `expr` gives, or "(parsed)".
std::string error_of(std::string_view expr) {
  auto c = CronExpression::parse(expr);
  return c ? std::string("(parsed)") : c.error().message;
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
  EXPECT_EQ(next("0 12 * * 7", at(2026, 11, 24, 0, 0)), at(2026, 11, 29, 12, 0));        // 7 is Sunday
  EXPECT_EQ(next("10/20 * * * *", at(2026, 11, 24, 10, 31)), at(2026, 11, 24, 10, 50));
}

// Each next firing time worked out by hand from the rules in cron.hpp (Vixie cron's). Calendar:
// 2026-11-24 is a Tuesday, 2026-12-01 a Tuesday, 2027-01-01 a Friday, 2027-02-01 a Monday,
// 2028-02-29 a Tuesday; 2028 and 2032 are leap years, 2027 is not.
TEST(Cron, NextFiringTimesByVixieCronsRules) {
  struct Case {
    const char* expr;
    const char* from;
    const char* next;
  };
  const Case cases[] = {
      // Minutes and hours, steps and lists.
      {"* * * * *", "2026-11-24 10:30", "2026-11-24 10:31"},
      {"*/15 * * * *", "2026-11-24 10:45", "2026-11-24 11:00"},
      {"5/1 * * * *", "2026-11-24 10:05", "2026-11-24 10:06"},  // 5-59, every minute
      {"5/1 * * * *", "2026-11-24 10:59", "2026-11-24 11:05"},
      {"10/20 * * * *", "2026-11-24 10:50", "2026-11-24 11:10"},   // 10,30,50
      {"1-5/10 * * * *", "2026-11-24 10:01", "2026-11-24 11:01"},  // a step beyond its range: 1 only
      {"0-30/7 * * * *", "2026-11-24 10:22", "2026-11-24 10:28"},  // 0,7,14,21,28
      {"0-30/7 * * * *", "2026-11-24 10:28", "2026-11-24 11:00"},
      {"*/59 * * * *", "2026-11-24 10:01", "2026-11-24 10:59"},  // 0 and 59
      {"*/60 * * * *", "2026-11-24 10:00", "2026-11-24 11:00"},  // the largest step: 0 only
      {"0 */7 * * *", "2026-11-24 21:00", "2026-11-25 00:00"},   // hours 0,7,14,21
      {"0 22/1 * * *", "2026-11-24 22:00", "2026-11-24 23:00"},  // hours 22-23
      {"5,10 9-17/4 * * *", "2026-11-24 13:10", "2026-11-24 17:05"},
      {"  0   0  *  *  *  ", "2026-11-24 10:30", "2026-11-25 00:00"},  // white space around fields
      // Year rollover and month ends.
      {"30 23 * * *", "2026-12-31 23:30", "2027-01-01 23:30"},
      {"0 0 1 1 *", "2026-11-24 10:30", "2027-01-01 00:00"},
      {"59 23 31 12 *", "2026-12-31 23:59", "2027-12-31 23:59"},
      {"0 0 31 * *", "2026-11-24 00:00", "2026-12-31 00:00"},  // November has 30 days
      {"0 0 31 * *", "2027-01-31 00:00", "2027-03-31 00:00"},  // nor has February a 31st
      {"0 0 30 * *", "2027-01-30 00:00", "2027-03-30 00:00"},  // February 2027 has 28 days
      {"0 0 1,15 * *", "2026-11-24 00:00", "2026-12-01 00:00"},
      // Leap years.
      {"0 0 29 2 *", "2026-11-24 00:00", "2028-02-29 00:00"},
      {"0 0 29 2 *", "2028-02-29 00:00", "2032-02-29 00:00"},
      {"0 12 28-29 feb *", "2027-02-28 12:00", "2028-02-28 12:00"},
      {"0 0 * * *", "2028-02-28 00:00", "2028-02-29 00:00"},
      {"0 0 1 mar *", "2028-02-28 00:00", "2028-03-01 00:00"},
      // Day of month OR day of week: neither field begins with '*'.
      {"0 0 13 * 5", "2026-11-24 00:00", "2026-11-27 00:00"},      // Friday the 27th
      {"0 0 13 * 5", "2026-12-11 00:00", "2026-12-13 00:00"},      // Sunday the 13th
      {"0 0 1-31 * MON", "2026-11-24 00:00", "2026-11-25 00:00"},  // every day: 1-31 is no '*'
      {"0 0 29 2 MON", "2027-01-01 00:00", "2027-02-01 00:00"},    // a Monday in February
      {"0 0 29 2 MON", "2028-02-28 00:00", "2028-02-29 00:00"},    // the leap day, a Tuesday
      {"0 0 30 2 MON", "2026-11-24 00:00", "2027-02-01 00:00"},    // never the 30th, but Mondays
      // Day of month AND day of week: one of them begins with '*'.
      {"0 0 */2 * 1", "2026-12-01 00:00", "2026-12-07 00:00"},  // a Monday on an odd day
      {"0 0 */2 * 1", "2026-12-07 00:00", "2026-12-21 00:00"},  // not the 14th
      {"0 0 1 * */2", "2026-11-24 00:00", "2026-12-01 00:00"},  // a 1st on SUN, TUE, THU or SAT
      {"0 0 1 * */2", "2026-12-01 00:00", "2027-04-01 00:00"},  // Jan 1 Fri, Feb 1 and Mar 1 Mon
      {"0 0 * * MON", "2026-11-24 00:00", "2026-11-30 00:00"},
      // Days of the week: names, 0 and 7, ranges, steps.
      {"0 12 * * 0", "2026-11-24 00:00", "2026-11-29 12:00"},
      {"0 12 * * 7", "2026-11-24 00:00", "2026-11-29 12:00"},
      {"0 0 * * sat,sun", "2026-11-24 00:00", "2026-11-28 00:00"},
      {"0 0 * * Sat-7", "2026-11-28 00:00", "2026-11-29 00:00"},
      {"0 0 * * mOn", "2026-11-24 00:00", "2026-11-30 00:00"},
      {"0 0 * * 5/1", "2026-11-27 00:00", "2026-11-28 00:00"},  // FRI-7: Friday to Sunday
      {"0 0 * * 5/1", "2026-11-29 00:00", "2026-12-04 00:00"},
      {"0 0 * * 1/2", "2026-11-24 00:00", "2026-11-25 00:00"},  // 1,3,5,7: MON,WED,FRI,SUN
      {"0 0 * * 1/2", "2026-11-28 00:00", "2026-11-29 00:00"},
      // Months: names, ranges, lists, steps.
      {"0 0 1 DeC *", "2026-11-24 00:00", "2026-12-01 00:00"},
      {"0 0 1 jan-mar,oct *", "2027-03-01 00:00", "2027-10-01 00:00"},
      {"0 0 1 11/1 *", "2026-11-24 00:00", "2026-12-01 00:00"},  // November and December
      {"0 0 1 */5 *", "2026-11-24 00:00", "2027-01-01 00:00"},   // months 1,6,11
      {"0 0 1 */5 *", "2027-01-01 00:00", "2027-06-01 00:00"},
      // Shortcuts.
      {"@yearly", "2026-11-24 10:30", "2027-01-01 00:00"},
      {"@annually", "2027-01-01 00:00", "2028-01-01 00:00"},
      {"@monthly", "2026-11-24 10:30", "2026-12-01 00:00"},
      {"@weekly", "2026-11-24 10:30", "2026-11-29 00:00"},  // Sunday
      {"@Weekly", "2026-11-29 00:00", "2026-12-06 00:00"},
      {"@daily", "2026-11-24 10:30", "2026-11-25 00:00"},
      {"@midnight", "2026-12-31 00:00", "2027-01-01 00:00"},
      {"@hourly", "2026-11-24 10:30", "2026-11-24 11:00"},
      {" @HOURLY ", "2026-11-24 23:00", "2026-11-25 00:00"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string("'") + c.expr + "' after " + c.from);
    EXPECT_EQ(show(next(c.expr, when(c.from))), c.next);
  }
}

TEST(Cron, DayOfMonthOrDayOfWeekWhenBothAreRestricted) {
  // The 13th, or any Friday: after Tue 24 Nov 2026 comes Fri 27 Nov.
  EXPECT_EQ(next("0 0 13 * 5", at(2026, 11, 24, 0, 0)), at(2026, 11, 27, 0, 0));
}

TEST(Cron, DayOfMonthAndDayOfWeekWhenEitherBeginsWithAStar) {
  // Odd days that are Mondays: from Tue 1 Dec 2026, Mon 7 Dec (not Thu 3 Dec, an odd day).
  EXPECT_EQ(next("0 0 */2 * 1", at(2026, 12, 1, 0, 0)), at(2026, 12, 7, 0, 0));
  // A 1st of the month that is a Sunday, Tuesday, Thursday or Saturday (not Thu 26 Nov).
  EXPECT_EQ(next("0 0 1 * */2", at(2026, 11, 24, 0, 0)), at(2026, 12, 1, 0, 0));
}

TEST(Cron, LeapDayAndImpossibleDates) {
  EXPECT_EQ(next("0 0 29 2 *", at(2026, 11, 24, 0, 0)), at(2028, 2, 29, 0, 0));
  for (const char* expr : {"0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 30-31 feb *"}) {
    auto never = CronExpression::parse(expr);
    ASSERT_TRUE(never) << expr;
    EXPECT_FALSE(never->next_after(at(2026, 11, 24, 0, 0)).has_value()) << expr;
  }
}

TEST(Cron, AValueWithAStepRunsToTheFieldsEnd) {
  EXPECT_EQ(next("5/1 * * * *", at(2026, 11, 24, 10, 5)), at(2026, 11, 24, 10, 6));
  EXPECT_EQ(next("0 0 1 11/1 *", at(2026, 11, 24, 0, 0)), at(2026, 12, 1, 0, 0));
}

TEST(Cron, Shortcuts) {
  EXPECT_EQ(next("@daily", at(2026, 11, 24, 10, 30)), at(2026, 11, 25, 0, 0));
  EXPECT_EQ(next("@WEEKLY", at(2026, 11, 24, 10, 30)), at(2026, 11, 29, 0, 0));
  auto c = CronExpression::parse("@monthly");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->text(), "@monthly");
  EXPECT_EQ(error_of("@reboot"),
            "invalid cron expression '@reboot': @reboot is not supported: the Core schedules jobs at times, not "
            "at start-up");
  EXPECT_EQ(error_of("@Reboot"),
            "invalid cron expression '@Reboot': @reboot is not supported: the Core schedules jobs at times, not "
            "at start-up");
  EXPECT_EQ(error_of("@often"),
            "invalid cron expression '@often': unknown shortcut '@often' (expected @yearly, @annually, @monthly, "
            "@weekly, @daily, @midnight or @hourly)");
  EXPECT_EQ(error_of("@"),
            "invalid cron expression '@': unknown shortcut '@' (expected @yearly, @annually, @monthly, @weekly, "
            "@daily, @midnight or @hourly)");
  EXPECT_EQ(error_of("@daily *"), "invalid cron expression '@daily *': the shortcut @daily takes no other fields");
}

TEST(Cron, HugeStepsAreRefusedWithTheFieldNamed) {
  // Once each crashed the parser: an exception from std::bitset::set, or signed overflow.
  EXPECT_EQ(error_of("1/2147483647 * * * *"),
            "invalid cron expression '1/2147483647 * * * *': field minute '1/2147483647': step out of range 1-60");
  EXPECT_EQ(error_of("* 1/2147483647 * * *"),
            "invalid cron expression '* 1/2147483647 * * *': field hour '1/2147483647': step out of range 1-24");
  EXPECT_EQ(error_of("1-5/2147483647 * * * *"),
            "invalid cron expression '1-5/2147483647 * * * *': field minute '1-5/2147483647': step out of range "
            "1-60");
  EXPECT_EQ(error_of("* * */2147483647 * *"),
            "invalid cron expression '* * */2147483647 * *': field day of month '*/2147483647': step out of range "
            "1-31");
  EXPECT_EQ(error_of("* * * */2147483647 *"),
            "invalid cron expression '* * * */2147483647 *': field month '*/2147483647': step out of range 1-12");
  EXPECT_EQ(error_of("* * * * 1/2147483647"),
            "invalid cron expression '* * * * 1/2147483647': field day of week '1/2147483647': step out of range "
            "1-7");
  EXPECT_EQ(error_of("*/2147483648 * * * *"),
            "invalid cron expression '*/2147483648 * * * *': field minute '*/2147483648': step out of range 1-60");
  EXPECT_EQ(error_of("*/4294967297 * * * *"),  // 2^32 + 1 would wrap to 1
            "invalid cron expression '*/4294967297 * * * *': field minute '*/4294967297': step out of range 1-60");
}

TEST(Cron, StepsBeyondTheFieldOrZeroAreRefused) {
  EXPECT_EQ(error_of("*/0 * * * *"),
            "invalid cron expression '*/0 * * * *': field minute '*/0': step out of range 1-60");
  EXPECT_EQ(error_of("*/61 * * * *"),
            "invalid cron expression '*/61 * * * *': field minute '*/61': step out of range 1-60");
  EXPECT_EQ(error_of("* */25 * * *"),
            "invalid cron expression '* */25 * * *': field hour '*/25': step out of range 1-24");
  EXPECT_EQ(error_of("* * * * */8"),
            "invalid cron expression '* * * * */8': field day of week '*/8': step out of range 1-7");
  EXPECT_EQ(error_of("*/60 */24 */31 */12 */7"), "(parsed)");  // the largest steps
  EXPECT_EQ(error_of("1-5/10 * * * *"), "(parsed)");           // larger than its range, not the field
}

TEST(Cron, LongNumbersAreRefusedNotWrapped) {
  EXPECT_EQ(error_of("99999999999999999999 * * * *"),
            "invalid cron expression '99999999999999999999 * * * *': field minute '99999999999999999999': value out "
            "of range 0-59");
  EXPECT_EQ(error_of("4294967296 * * * *"),  // 2^32 would wrap to 0
            "invalid cron expression '4294967296 * * * *': field minute '4294967296': value out of range 0-59");
  EXPECT_EQ(error_of("0-99999999999999999999 * * * *"),
            "invalid cron expression '0-99999999999999999999 * * * *': field minute '0-99999999999999999999': value "
            "out of range 0-59");
  EXPECT_EQ(error_of("* * * * 2147483648"),
            "invalid cron expression '* * * * 2147483648': field day of week '2147483648': value out of range 0-7");
  EXPECT_EQ(error_of("*/99999999999999999999 * * * *"),
            "invalid cron expression '*/99999999999999999999 * * * *': field minute '*/99999999999999999999': step "
            "out of range 1-60");
  EXPECT_EQ(error_of("0000000000000000000005 * * * *"), "(parsed)");  // leading zeros are digits like any
}

TEST(Cron, BackwardRangesAreRefusedWithAList) {
  EXPECT_EQ(error_of("0 0 * * SAT-SUN"),
            "invalid cron expression '0 0 * * SAT-SUN': field day of week 'SAT-SUN': range 6-0 runs backwards; "
            "write it as a list, e.g. SAT,SUN");
  EXPECT_EQ(error_of("0 0 * * fri-mon"),
            "invalid cron expression '0 0 * * fri-mon': field day of week 'fri-mon': range 5-1 runs backwards; "
            "write it as a list, e.g. FRI-SAT,SUN-MON");
  EXPECT_EQ(error_of("0 0 * * 7-1"),
            "invalid cron expression '0 0 * * 7-1': field day of week '7-1': range 7-1 runs backwards; write it as "
            "a list, e.g. 0-1");
  EXPECT_EQ(error_of("0 22-2 * * *"),
            "invalid cron expression '0 22-2 * * *': field hour '22-2': range 22-2 runs backwards; write it as a "
            "list, e.g. 22-23,0-2");
  EXPECT_EQ(error_of("0 22-2/2 * * *"),
            "invalid cron expression '0 22-2/2 * * *': field hour '22-2/2': range 22-2 runs backwards; write it as "
            "a list, e.g. 22-23/2,0-2/2");
  EXPECT_EQ(error_of("0 0 1 NOV-FEB *"),
            "invalid cron expression '0 0 1 NOV-FEB *': field month 'NOV-FEB': range 11-2 runs backwards; write it "
            "as a list, e.g. NOV-DEC,JAN-FEB");
  EXPECT_EQ(error_of("0 0 28-3 * *"),
            "invalid cron expression '0 0 28-3 * *': field day of month '28-3': range 28-3 runs backwards; write "
            "it as a list, e.g. 28-31,1-3");
  EXPECT_EQ(error_of("0 0 * * SAT-7"), "(parsed)");
}

TEST(Cron, ErrorsNameTheFieldAndTheProblem) {
  auto expect_error = [](std::string_view expr, std::string_view message) {
    auto c = CronExpression::parse(expr);
    ASSERT_FALSE(c) << expr;
    EXPECT_EQ(c.error(), message);
  };
  expect_error("* * * *",
               "invalid cron expression '* * * *': expected 5 fields (minute hour day-of-month month "
               "day-of-week), got 4");
  expect_error("* * * * * *",
               "invalid cron expression '* * * * * *': expected 5 fields (minute hour day-of-month "
               "month day-of-week), got 6");
  expect_error("",
               "invalid cron expression '': expected 5 fields (minute hour day-of-month month day-of-week), "
               "got 0");
  expect_error("60 * * * *", "invalid cron expression '60 * * * *': field minute '60': value out of range 0-59");
  expect_error("* 25 * * *", "invalid cron expression '* 25 * * *': field hour '25': value out of range 0-23");
  expect_error("* * 0 * *", "invalid cron expression '* * 0 * *': field day of month '0': value out of range 1-31");
  expect_error("* * * 13 *", "invalid cron expression '* * * 13 *': field month '13': value out of range 1-12");
  expect_error("* * * * 8", "invalid cron expression '* * * * 8': field day of week '8': value out of range 0-7");
  expect_error("* * * FOO *", "invalid cron expression '* * * FOO *': field month 'FOO': 'FOO' is not a value");
  expect_error("* * * JANUARY *",
               "invalid cron expression '* * * JANUARY *': field month 'JANUARY': 'JANUARY' is not a value");
  expect_error("MON * * * *", "invalid cron expression 'MON * * * *': field minute 'MON': 'MON' is not a value");
  expect_error("5-1 * * * *",
               "invalid cron expression '5-1 * * * *': field minute '5-1': range 5-1 runs backwards; "
               "write it as a list, e.g. 5-59,0-1");
  expect_error("1,,2 * * * *", "invalid cron expression '1,,2 * * * *': field minute '1,,2': empty list element");
  expect_error("*/x * * * *", "invalid cron expression '*/x * * * *': field minute '*/x': step 'x' is not a number");
  expect_error("*/ * * * *", "invalid cron expression '*/ * * * *': field minute '*/': step '' is not a number");
  expect_error("*/-1 * * * *",
               "invalid cron expression '*/-1 * * * *': field minute '*/-1': step '-1' is not a number");
  expect_error("* * * * */MON",
               "invalid cron expression '* * * * */MON': field day of week '*/MON': step 'MON' is not a number");
  expect_error("/5 * * * *", "invalid cron expression '/5 * * * *': field minute '/5': no value before the step");
  expect_error("-1 * * * *", "invalid cron expression '-1 * * * *': field minute '-1': '-1' is not a range of values");
  expect_error("1-2-3 * * * *",
               "invalid cron expression '1-2-3 * * * *': field minute '1-2-3': '1-2-3' is not a range of values");
  expect_error("*5 * * * *", "invalid cron expression '*5 * * * *': field minute '*5': '*5' is not a value");
  expect_error("+5 * * * *", "invalid cron expression '+5 * * * *': field minute '+5': '+5' is not a value");
}

}  // namespace

}  // namespace cron_test
