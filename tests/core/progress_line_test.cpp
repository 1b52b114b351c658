// swarmsync-core's progress line: never wider than the terminal (so a redraw never wraps), counts
// jobs as the summary does, shows the time with a duration, and keeps the warning first.

#include "cli/progress_line.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace progress_line_test {

namespace {

using namespace core;
using core::cli::progress_line;
using namespace std::chrono_literals;

Progress finite(std::size_t jobs, std::size_t done, std::size_t failed) {
  Progress p;
  p.jobs = p.finite = jobs;
  p.done = done;
  p.failed = failed;
  p.elapsed = 3200ms;
  return p;
}

std::vector<Progress> states() {
  std::vector<Progress> out{finite(2000, 900, 12), finite(3, 3, 0), finite(10'000'000, 0, 0)};
  Progress mixed = finite(3, 1, 0);  // 1 recurring job beside 2 finite ones
  mixed.finite = 2;
  mixed.recurring_runs = 43;
  mixed.duration = 10s;
  out.push_back(mixed);
  Progress recurring_only;
  recurring_only.jobs = 5;
  recurring_only.recurring_runs = 40;
  recurring_only.elapsed = 2500ms;
  recurring_only.duration = 10s;
  out.push_back(recurring_only);
  Progress stalled = finite(50, 10, 0);
  stalled.no_live_worker = true;
  out.push_back(stalled);
  Progress long_run = finite(100, 1, 0);
  long_run.duration = std::chrono::milliseconds(10'000'000'000'000);
  out.push_back(long_run);
  return out;
}

TEST(ProgressLine, NeverReachesTheLastColumn) {
  for (const auto& p : states()) {
    for (std::size_t columns = 0; columns <= 220; ++columns) {
      const auto line = progress_line(p, columns);
      EXPECT_LE(line.size(), columns == 0 ? 0 : columns - 1) << columns << ": " << line;
      for (char c : line) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << columns << ": " << line;
    }
  }
}

TEST(ProgressLine, CountsJobsAsTheSummaryDoes) {
  const auto line = progress_line(finite(20, 9, 4), 160);
  EXPECT_NE(line.find(" 65% 13/20 finished: 9 done, 4 failed"), std::string::npos) << line;
  EXPECT_EQ(line.find("[#"), 0u) << line;
  // Recurring jobs beside finite ones: the finite ones fill the bar, never past 100%.
  Progress mixed = finite(3, 2, 0);
  mixed.finite = 2;
  mixed.recurring_runs = 41;
  const auto m = progress_line(mixed, 160);
  EXPECT_NE(m.find("100% 2/2 finished: 2 done, 0 failed"), std::string::npos) << m;
  EXPECT_NE(m.find("1 recurring: 41 runs"), std::string::npos) << m;
}

TEST(ProgressLine, WithADurationShowsElapsedAndRemainingTime) {
  Progress recurring_only;
  recurring_only.jobs = 5;
  recurring_only.recurring_runs = 40;
  recurring_only.elapsed = 2500ms;
  recurring_only.duration = 10s;
  const auto line = progress_line(recurring_only, 160);
  EXPECT_NE(line.find(" 25% | 2.5s of 10.0s, 7.5s left | 5 recurring: 40 runs"), std::string::npos) << line;
  EXPECT_EQ(line.find("[##########"), 0u) << line;  // a quarter of a 40-column bar
}

TEST(ProgressLine, ANarrowTerminalDropsTheLeastUsefulPartsFirst) {
  Progress mixed = finite(3, 1, 0);
  mixed.finite = 2;
  mixed.recurring_runs = 43;
  mixed.duration = 10s;
  // 50 columns: the short forms, with a bar.
  EXPECT_EQ(progress_line(mixed, 50), "[#######........]  50% 1/2, 0 failed | 3.2s/10.0s");  // 49 wide
  EXPECT_EQ(progress_line(mixed, 32), " 50% 1/2, 0 failed | 3.2s/10.0s");
  EXPECT_EQ(progress_line(mixed, 31), " 50% 1/2, 0 failed");
  EXPECT_EQ(progress_line(mixed, 12), " 50% 1/2, 0");
  Progress stalled = finite(50, 10, 0);
  stalled.no_live_worker = true;
  EXPECT_EQ(progress_line(stalled, 30).rfind("NO WORKER", 0), 0u) << progress_line(stalled, 30);
  EXPECT_NE(progress_line(stalled, 160).find("NO LIVE WORKER |  20% 10/50 finished"), std::string::npos);
}

TEST(ProgressLine, ShortDurations) {
  using core::cli::short_duration;
  EXPECT_EQ(short_duration(850ms), "850ms");
  EXPECT_EQ(short_duration(4290ms), "4.2s");
  EXPECT_EQ(short_duration(125s), "2m05s");
  EXPECT_EQ(short_duration(3720s), "1h02m");
  EXPECT_EQ(short_duration(std::chrono::hours(76)), "3d04h");
  EXPECT_EQ(short_duration(-5s), "0ms");
}

}  // namespace

}  // namespace progress_line_test
