// The journals of remote/state_journals.hpp against a real nats-server: what each keeps, when it
// drops it (only past the process's AckFence), and the Scheduler's credits never kept below what
// the Dispatcher granted. The fence's one outbox is driven by hand: `given` values handed to it,
// `settle` one published.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#if SWARMSYNC_CORE_WITH_NATS
#include <swarmsync/transport/nats/ack_fence.hpp>
#include <swarmsync/transport/nats/connection.hpp>

#include "remote/state_journals.hpp"
#include "transport/nats_server.hpp"
#endif

namespace state_journals_test {

namespace {

#if SWARMSYNC_CORE_WITH_NATS

using namespace core;
using namespace std::chrono_literals;
namespace sn = swarmsync::nats;

class StateJournals : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = server.start()) GTEST_SKIP() << *why;
    auto c = sn::connect(server.url());
    ASSERT_TRUE(c) << c.error().message;
    conn.emplace(std::move(*c));
    outbox = fence->add_outbox([this] { return given.load(); });
  }
  void TearDown() override { conn.reset(); }

  // One value handed to the outbox (a message sent by the service)...
  void send() { given.fetch_add(1); }
  // ...and published: the fence runs what waited for it.
  void publish() {
    outbox->settle();
    fence->poke();
  }

  static Job job(JobId id, std::uint64_t placement = 0) {
    Job j;
    j.id = id;
    j.placement = placement;
    return j;
  }

  swarmsync::test::NatsServer server;
  std::optional<sn::Connection> conn;
  std::shared_ptr<sn::AckFence> fence = std::make_shared<sn::AckFence>();
  std::atomic<std::uint64_t> given{0};
  std::shared_ptr<sn::AckFence::Outbox> outbox;
};

// What `journal` holds once every change made so far is answered.
template <class Journal>
auto loaded(const std::shared_ptr<Journal>& journal) {
  EXPECT_TRUE(journal->flush());
  return journal->load();
}

std::vector<JobId> ids(const std::vector<Job>& jobs) {
  std::vector<JobId> out;
  for (const auto& j : jobs) out.push_back(j.id);
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(StateJournals, TheSchedulersQueueIsKeptUntilItsDispatchIsPublished) {
  auto journal = KvSchedulerJournal::open(*conn, "t", nullptr, fence).value();
  journal->queued(job(1));
  journal->queued(job(2));
  journal->queued(job(2));  // the same entry
  EXPECT_EQ(ids(loaded(journal).jobs), (std::vector<JobId>{1, 2}));
  send();
  journal->dispatched(job(1));
  EXPECT_EQ(ids(loaded(journal).jobs), (std::vector<JobId>{1, 2})) << "dropped before its Dispatch was published";
  publish();
  EXPECT_EQ(ids(loaded(journal).jobs), (std::vector<JobId>{2}));
  // Another journal on the bucket (the next process) finds the same.
  auto next = KvSchedulerJournal::open(*conn, "t", nullptr, fence).value();
  EXPECT_EQ(ids(loaded(next).jobs), (std::vector<JobId>{2}));
  EXPECT_EQ(journal->failures(), 0u);
}

TEST_F(StateJournals, TheSchedulersCreditsAreNeverKeptBelowWhatWasGranted) {
  auto journal = KvSchedulerJournal::open(*conn, "t", nullptr, fence).value();
  EXPECT_EQ(loaded(journal).credits, 0u);
  journal->credits_raised(5);
  EXPECT_EQ(loaded(journal).credits, 5u);  // at once
  send();
  journal->credits_spent(4);
  EXPECT_EQ(loaded(journal).credits, 5u) << "lowered before the Dispatch that used the credit was published";
  publish();
  EXPECT_EQ(loaded(journal).credits, 4u);
  // A raise after a lowering was asked for: the lowering, once due, would write a value below
  // the raised one. It is skipped.
  send();
  journal->credits_spent(3);
  journal->credits_raised(7);
  publish();
  EXPECT_EQ(loaded(journal).credits, 7u);
  // Two lowerings due at once: the later one's value stays.
  send();
  journal->credits_spent(6);
  send();
  journal->credits_spent(5);
  publish();
  publish();
  EXPECT_EQ(loaded(journal).credits, 5u);
}

TEST_F(StateJournals, TheHibernatorsJobsKeepTheirWallClockDueTime) {
  auto journal = KvHibernatorJournal::open(*conn, "t", nullptr, fence).value();
  const auto now = std::chrono::steady_clock::now();
  const auto fires_at = std::chrono::system_clock::now() + 1h;
  journal->held({now + 10s, job(1), std::nullopt});
  journal->held({now - 5s, job(2), fires_at});
  auto kept = loaded(journal);
  ASSERT_EQ(kept.size(), 2u);
  if (kept[0].job.id != 1) std::swap(kept[0], kept[1]);
  // Through the wall clock and back (milliseconds): the same due time, give or take the time
  // between the two readings of the clocks.
  EXPECT_LT(std::chrono::abs(kept[0].due - (now + 10s)), 1s);
  EXPECT_LT(std::chrono::abs(kept[1].due - (now - 5s)), 1s);
  EXPECT_FALSE(kept[0].fires_at);
  ASSERT_TRUE(kept[1].fires_at);
  EXPECT_LT(std::chrono::abs(*kept[1].fires_at - fires_at), 1ms);
  send();
  journal->released(job(2));
  EXPECT_EQ(loaded(journal).size(), 2u) << "dropped before its Ready was published";
  publish();
  ASSERT_EQ(loaded(journal).size(), 1u);
  EXPECT_EQ(loaded(journal)[0].job.id, 1u);
}

TEST_F(StateJournals, TheHarvesterKeepsEachPlacementApart) {
  auto journal = KvHarvesterJournal::open(*conn, "t", nullptr, fence).value();
  journal->expected(job(1, 1), 3);
  journal->expected(job(1, 2), 4);  // placed again: a second entry
  EXPECT_EQ(loaded(journal).size(), 2u);
  send();
  journal->settled(1, 0, 1);
  EXPECT_EQ(loaded(journal).size(), 2u) << "dropped before what settling it sent was published";
  publish();
  const auto kept = loaded(journal);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].job.placement, 2u);
  EXPECT_EQ(kept[0].worker, 4u);
}

// The Dispatcher's jobs: waiting ones in their order, placed ones by worker and placement; a
// wait ends and a job leaves its worker only once what was sent by now is published; the
// placement numbers reserved are stored before the call returns.
TEST_F(StateJournals, TheDispatchersJobsAreKeptByWorkerAndInTheirOrder) {
  auto journal = KvDispatcherJournal::open(*conn, "t", nullptr, fence).value();
  journal->registered(3, 2);
  journal->waiting(12, job(7));
  journal->waiting(2, job(8));
  journal->placed(3, job(9, 40), std::nullopt);
  journal->placements_up_to(1064);
  auto kept = journal->load();  // no flush: placements_up_to waited for the store
  EXPECT_EQ(kept.placements, 1064u);
  EXPECT_EQ(kept.capacities, (std::map<WorkerId, unsigned>{{3, 2}}));
  std::sort(kept.pending.begin(), kept.pending.end(), [](auto& a, auto& b) { return a.first < b.first; });
  ASSERT_EQ(kept.pending.size(), 2u);
  EXPECT_EQ(kept.pending[0].first, 2u);
  EXPECT_EQ(kept.pending[0].second.id, 8u);
  ASSERT_EQ(kept.held.size(), 1u);
  EXPECT_EQ(kept.held[0].first, 3u);
  EXPECT_EQ(kept.held[0].second.placement, 40u);

  send();  // the RunJob of job 8
  journal->placed(3, job(8, 41), 2);
  EXPECT_EQ(loaded(journal).pending.size(), 2u) << "a wait ended before its RunJob was published";
  publish();
  EXPECT_EQ(loaded(journal).pending.size(), 1u);
  EXPECT_EQ(loaded(journal).held.size(), 2u);
  journal->placed(3, job(10, 42), std::nullopt);
  journal->finished(3, job(10, 42));  // at once
  EXPECT_EQ(loaded(journal).held.size(), 2u);
  send();  // the Ready of job 9, taken back
  journal->taken_back(3, job(9, 40));
  EXPECT_EQ(loaded(journal).held.size(), 2u) << "dropped before its Ready was published";
  publish();
  kept = loaded(journal);
  ASSERT_EQ(kept.held.size(), 1u);
  EXPECT_EQ(kept.held[0].second.id, 8u);
  EXPECT_EQ(journal->failures(), 0u);
}

// An entry that does not decode is named, counted and skipped; the others are read.
TEST_F(StateJournals, AnEntryThatDoesNotDecodeIsCountedAndSkipped) {
  auto bucket = KvBucket::open(*conn, "swarmsync_t_hibernator", nullptr, fence).value();
  ASSERT_TRUE(bucket->put("9.0.0", "{not json"));
  ASSERT_TRUE(bucket->flush());
  auto journal = KvHibernatorJournal::open(*conn, "t", nullptr, fence).value();
  journal->held({std::chrono::steady_clock::now(), job(1), std::nullopt});
  const auto kept = loaded(journal);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].job.id, 1u);
  EXPECT_EQ(journal->failures(), 1u);
}

#endif

}  // namespace

}  // namespace state_journals_test
