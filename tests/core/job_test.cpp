// A job's status history: kept in place up to its inline capacity, on the heap beyond, the same
// sequence either way.

#include "model/job.hpp"

#include "support/allocation_counter.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace job_test {
namespace {

using core::JobStatus;
using core::StatusHistory;

std::vector<JobStatus> as_vector(const StatusHistory& h) { return {h.begin(), h.end()}; }

// n statuses cycling through the seven.
StatusHistory history_of(std::size_t n) {
  StatusHistory h;
  for (std::size_t i = 0; i < n; ++i) h.push_back(static_cast<JobStatus>(i % 7));
  return h;
}

TEST(StatusHistory, KeepsEveryStatusInOrderAcrossTheMoveToTheHeap) {
  for (const std::size_t n : {std::size_t{0}, std::size_t{1}, StatusHistory::inline_capacity - 1,
                              StatusHistory::inline_capacity, StatusHistory::inline_capacity + 1,
                              3 * StatusHistory::inline_capacity + 2}) {
    const StatusHistory h = history_of(n);
    ASSERT_EQ(h.size(), n);
    EXPECT_EQ(h.empty(), n == 0);
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(h[i], static_cast<JobStatus>(i % 7)) << "n " << n << ", i " << i;
    if (n > 0) {
      EXPECT_EQ(h.front(), JobStatus::submitted);
      EXPECT_EQ(h.back(), static_cast<JobStatus>((n - 1) % 7));
    }
    EXPECT_EQ(static_cast<std::size_t>(h.end() - h.begin()), n);
  }
}

TEST(StatusHistory, CopiesAndMovesAreEqualOnBothSidesOfTheInlineCapacity) {
  for (const std::size_t n : {std::size_t{4}, StatusHistory::inline_capacity + 3}) {
    const StatusHistory h = history_of(n);
    StatusHistory copy = h;
    EXPECT_EQ(copy, h);
    StatusHistory moved = std::move(copy);
    EXPECT_EQ(moved, h);
    moved.push_back(JobStatus::done);
    EXPECT_NE(moved, h);
    EXPECT_EQ(moved.size(), n + 1);
    EXPECT_EQ(h.size(), n);  // the original is its own
  }
  EXPECT_EQ(StatusHistory({JobStatus::submitted, JobStatus::hibernating}), history_of(2));
  EXPECT_NE(StatusHistory({JobStatus::submitted}), StatusHistory({JobStatus::ready}));
}

TEST(StatusHistory, ReserveBeyondTheInlineCapacityKeepsTheStatuses) {
  StatusHistory h = history_of(5);
  h.reserve(2);  // within: nothing changes
  EXPECT_EQ(as_vector(h), as_vector(history_of(5)));
  h.reserve(100);
  EXPECT_EQ(as_vector(h), as_vector(history_of(5)));
  for (std::size_t i = 5; i < 40; ++i) h.push_back(static_cast<JobStatus>(i % 7));
  EXPECT_EQ(h, history_of(40));
}

TEST(StatusHistory, PopBackUndoesAPushOnBothSidesOfTheInlineCapacity) {
  for (const std::size_t n : {std::size_t{1}, StatusHistory::inline_capacity, StatusHistory::inline_capacity + 1,
                              StatusHistory::inline_capacity + 2}) {
    StatusHistory h = history_of(n - 1);
    const auto before = as_vector(h);
    h.push_back(JobStatus::dispatched);
    ASSERT_EQ(h.size(), n);
    h.pop_back();
    EXPECT_EQ(as_vector(h), before) << n;
  }
  // A history that moved to the heap (a decoder's reserve) and is popped empty is empty.
  StatusHistory h;
  h.reserve(2 * StatusHistory::inline_capacity);
  h.push_back(JobStatus::ready);
  h.pop_back();
  EXPECT_TRUE(h.empty());
  h.push_back(JobStatus::done);
  EXPECT_EQ(as_vector(h), std::vector<JobStatus>{JobStatus::done});
}

// The reason it exists: a Job is copied a few times on its trip through the Core.
TEST(StatusHistory, ACopyOfAJobWithoutRetriesAllocatesNothing) {
  if (!swarmsync::test::allocation_counting())
    GTEST_SKIP() << "allocation counting needs the program's own operator new, which sanitizers replace";
  core::Job job;
  job.spec.name = "job-1234";  // within the string's own room, as the Core's generated names
  job.history = {JobStatus::submitted, JobStatus::ready, JobStatus::dispatched, JobStatus::retrying,
                 JobStatus::hibernating, JobStatus::ready, JobStatus::dispatched, JobStatus::done};
  const std::size_t before = swarmsync::test::allocation_count();
  core::Job copy = job;
  copy.history.push_back(JobStatus::done);
  EXPECT_EQ(swarmsync::test::allocation_count() - before, 0u);
  EXPECT_EQ(copy.history.size(), 9u);
}

}  // namespace
}  // namespace job_test
