// The TaskArchive: its store (counts, lookups, duplicates, latency percentiles) and the service
// alone, through its channel end.

#include "services/task_archive.hpp"
#include "run_alone.hpp"
#include "support/allocation_counter.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <new>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

namespace task_archive_test {

namespace {

using namespace core;
using namespace std::chrono_literals;

const auto t0 = std::chrono::steady_clock::time_point{} + 1h;

ArchiveRecord record(JobId id, std::uint64_t run, bool ok, std::chrono::milliseconds latency, std::string error = {}) {
  ArchiveRecord r;
  r.job.id = id;
  r.job.run = run;
  r.ok = ok;
  r.error = std::move(error);
  r.submitted = t0;
  r.finished = t0 + latency;
  return r;
}

TEST(TaskArchive, CountsAndFindsRecords) {
  TaskArchiveStore store;
  EXPECT_EQ(store.size(), 0u);
  EXPECT_FALSE(store.find(1, 0));
  EXPECT_TRUE(store.add(record(1, 0, true, 10ms)));
  EXPECT_TRUE(store.add(record(1, 1, false, 20ms, "boom")));  // another run of the same job
  EXPECT_TRUE(store.add(record(2, 0, true, 30ms)));
  EXPECT_EQ(store.size(), 3u);
  EXPECT_EQ(store.done(), 2u);
  EXPECT_EQ(store.failed(), 1u);
  auto found = store.find(1, 1);
  ASSERT_TRUE(found);
  EXPECT_FALSE(found->ok);
  EXPECT_EQ(found->error, "boom");
  EXPECT_FALSE(store.find(2, 1));
  auto all = store.records();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].job.id, 2u);  // in the order kept
}

TEST(TaskArchive, ARecordAddedTwiceIsKeptOnceAndCounted) {
  TaskArchiveStore store;
  EXPECT_TRUE(store.add(record(4, 0, true, 10ms)));
  EXPECT_FALSE(store.add(record(4, 0, false, 99ms, "late copy")));
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(store.duplicates(), 1u);
  EXPECT_EQ(store.done(), 1u);
  EXPECT_EQ(store.failed(), 0u);
  EXPECT_TRUE(store.find(4, 0)->ok);  // the first one stays
}

// Jobs as the summary counts them: a cron job with runs finishes with its last run, failed if any
// run failed; a recurring job never finishes, its runs are counted apart.
TEST(TaskArchive, CountsJobsAsTheSummaryDoes) {
  TaskArchiveStore store;
  auto cron = [](ArchiveRecord r, std::optional<unsigned> runs) {
    r.job.spec.cron = CronExpression::parse("* * * * *").value();
    r.job.spec.runs = runs;
    return r;
  };
  store.add(record(1, 0, true, 1ms));                  // plain, done
  store.add(record(2, 0, false, 1ms, "x"));            // plain, failed
  store.add(cron(record(3, 1, true, 1ms), 2u));        // 1 of 2 runs: not finished
  store.add(cron(record(4, 0, true, 1ms), 2u));        // both runs ok: done
  store.add(cron(record(4, 1, true, 1ms), 2u));
  store.add(cron(record(5, 0, true, 1ms), 2u));        // one run failed: failed
  store.add(cron(record(5, 1, false, 1ms, "y"), 2u));
  store.add(cron(record(6, 0, true, 1ms), std::nullopt));  // recurring
  store.add(cron(record(6, 1, false, 1ms, "z"), std::nullopt));
  store.add(cron(record(6, 2, true, 1ms), std::nullopt));
  store.add(cron(record(4, 1, false, 1ms), 2u));  // a duplicate changes nothing
  const auto c = store.counts();
  EXPECT_EQ(c.jobs_done, 2u);
  EXPECT_EQ(c.jobs_failed, 2u);
  EXPECT_EQ(c.finite_runs, 7u);
  EXPECT_EQ(c.recurring_runs_done, 2u);
  EXPECT_EQ(c.recurring_runs_failed, 1u);
  store.add(cron(record(3, 0, false, 1ms, "w"), 2u));  // the other run, out of order
  EXPECT_EQ(store.counts().jobs_failed, 3u);
}

TEST(TaskArchive, LatencyPercentilesByNearestRank) {
  TaskArchiveStore store;
  EXPECT_EQ(store.latency_percentile(50), 0ns);  // empty
  // Latencies 1..10 ms, added out of order.
  for (int ms : {7, 3, 10, 1, 5, 9, 2, 8, 6, 4}) store.add(record(static_cast<JobId>(ms), 0, true, std::chrono::milliseconds(ms)));
  EXPECT_EQ(store.latency_percentile(0), 1ms);
  EXPECT_EQ(store.latency_percentile(10), 1ms);
  EXPECT_EQ(store.latency_percentile(11), 2ms);
  EXPECT_EQ(store.latency_percentile(50), 5ms);
  EXPECT_EQ(store.latency_percentile(90), 9ms);
  EXPECT_EQ(store.latency_percentile(95), 10ms);
  EXPECT_EQ(store.latency_percentile(100), 10ms);
  EXPECT_EQ(store.latency_percentile(250), 10ms);  // clamped
  EXPECT_EQ(store.latency_percentile(-5), 1ms);

  TaskArchiveStore one;
  one.add(record(1, 0, true, 42ms));
  EXPECT_EQ(one.latency_percentile(0), 42ms);
  EXPECT_EQ(one.latency_percentile(99), 42ms);
}

// A failed add (an allocation of the store's that fails) leaves the store as it was: its
// records, index and counts; the same record is kept by a later add.
TEST(TaskArchive, AFailedAddLeavesTheStoreAsItWas) {
  if (!swarmsync::test::allocation_counting())
    GTEST_SKIP() << "allocation failures are injected through the program's own operator new, which sanitizers replace";
  TaskArchiveStore store;
  auto try_to_add = [&](JobId id, std::size_t failing_from) {
    const auto before = store.counts();
    swarmsync::test::fail_allocations_of_at_least(failing_from);
    EXPECT_THROW(store.add(record(id, 0, true, 1ms)), std::bad_alloc);
    swarmsync::test::fail_allocations_of_at_least(0);
    EXPECT_EQ(store.size(), id - 1);
    EXPECT_EQ(store.done(), id - 1);
    EXPECT_EQ(store.counts().jobs_done, before.jobs_done);
    EXPECT_EQ(store.counts().finite_runs, before.finite_runs);
    EXPECT_FALSE(store.find(id, 0));
    EXPECT_TRUE(store.add(record(id, 0, true, 1ms)));
    EXPECT_EQ(store.records().back().job.id, id);
  };
  for (JobId id = 1; id <= 12; ++id) ASSERT_TRUE(store.add(record(id, 0, true, 1ms)));
  try_to_add(13, 1000);  // the index grows from 16 entries to 32 (1 KB)
  for (JobId id = 14; id <= 64; ++id) ASSERT_TRUE(store.add(record(id, 0, true, 1ms)));
  try_to_add(65, 500);  // a new block of 64 records (20 KB)
  EXPECT_EQ(store.size(), 65u);
  EXPECT_EQ(store.counts().jobs_done, 65u);
}

TEST(TaskArchive, TheStoreIsSafeToUseFromManyThreads) {
  TaskArchiveStore store;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&store] {
      for (JobId i = 0; i < 200; ++i) {
        store.add(record(i, 0, i % 2 == 0, 1ms));  // every thread adds the same 200 job runs
        (void)store.latency_percentile(50);
        (void)store.find(i, 0);
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(store.size(), 200u);
  EXPECT_EQ(store.duplicates(), 600u);
  EXPECT_EQ(store.done(), 100u);
}

TEST(TaskArchive, TheServiceKeepsWhatTheHarvesterSendsAcrossARestart) {
  auto shared = std::make_shared<Shared>();
  shared->wiring->add_channel(ChannelType::HarvesterToArchive).value();
  auto store = std::make_shared<TaskArchiveStore>();
  asio::io_context ioc;
  auto run = [&](FaultHook fault) { core::test::run_until_idle(ioc, shared, "task_archive", task_archive(store, fault)); };
  auto in = shared->wiring->get_tx(ChannelType::HarvesterToArchive).value();
  in.send(Archive{record(1, 0, true, 5ms)}).value();
  in.send(Archive{record(2, 0, false, 6ms, "boom")}).value();
  in.send(Archive{record(3, 0, true, 7ms)}).value();
  int seen = 0;
  run([&](const EventPayload&) {
    if (seen++ == 1) throw std::runtime_error("archive crash");
  });
  EXPECT_EQ(store->size(), 1u);  // the crash lost the second record, in hand
  run({});
  EXPECT_EQ(store->size(), 2u);
  in.send(Archive{record(1, 0, true, 5ms)}).value();  // sent again
  run({});
  EXPECT_EQ(store->size(), 2u);
  EXPECT_EQ(store->duplicates(), 1u);
  EXPECT_TRUE(store->find(3, 0));
  EXPECT_FALSE(store->find(2, 0));
}

}  // namespace

}  // namespace task_archive_test
