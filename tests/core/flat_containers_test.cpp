// The Core's flat containers (model/flat_hash_map.hpp, model/ring_queue.hpp,
// model/block_vector.hpp): each against a
// standard container doing the same random operations, what an erase or a pop frees, what a
// failed allocation leaves, and that using them allocates nothing once grown.

#include "model/block_vector.hpp"
#include "model/flat_hash_map.hpp"
#include "model/job.hpp"
#include "model/ring_queue.hpp"

#include "support/allocation_counter.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <new>
#include <random>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

namespace flat_containers_test {
namespace {

using core::BlockVector;
using core::FlatHashMap;
using core::RingQueue;

// A hash that sends every key to one of four homes: probe runs are long and wrap around the
// array's end, so erasing has entries to shift back.
struct FourHomes {
  std::size_t operator()(std::uint64_t k) const noexcept { return k % 4; }
};

// A value whose copy throws while `fail` is set; it moves without throwing.
struct Fragile {
  static inline bool fail = false;
  int v = 0;
  Fragile() = default;
  explicit Fragile(int x) : v(x) {}
  Fragile(const Fragile& o) : v(o.v) {
    if (fail) throw std::runtime_error("copy refused");
  }
  Fragile(Fragile&&) noexcept = default;
  Fragile& operator=(const Fragile& o) {
    if (fail) throw std::runtime_error("copy refused");
    v = o.v;
    return *this;
  }
  Fragile& operator=(Fragile&&) noexcept = default;
};

TEST(FlatHashMap, DoesWhatAnUnorderedMapDoesUnderRandomInsertsAndErases) {
  for (const bool bad_hash : {false, true}) {
    FlatHashMap<std::uint64_t, std::uint64_t, std::hash<std::uint64_t>> good;
    FlatHashMap<std::uint64_t, std::uint64_t, FourHomes> bad;
    std::unordered_map<std::uint64_t, std::uint64_t> model;
    std::mt19937_64 rng(bad_hash ? 7 : 11);
    for (int step = 0; step < 200000; ++step) {
      const std::uint64_t key = rng() % 300;  // a small key space: keys come and go many times
      const auto op = rng() % 4;
      if (op == 0) {
        const bool added = bad_hash ? bad.insert(key, std::uint64_t(step)) : good.insert(key, std::uint64_t(step));
        ASSERT_EQ(added, model.emplace(key, step).second) << "step " << step;
      } else if (op == 1) {
        bad_hash ? bad.insert_or_assign(key, std::uint64_t(step)) : good.insert_or_assign(key, std::uint64_t(step));
        model.insert_or_assign(key, step);
      } else if (op == 2) {
        const bool erased = bad_hash ? bad.erase(key) : good.erase(key);
        ASSERT_EQ(erased, model.erase(key) == 1) << "step " << step;
      } else {
        const std::uint64_t* found = bad_hash ? bad.find(key) : good.find(key);
        const auto it = model.find(key);
        ASSERT_EQ(found != nullptr, it != model.end()) << "step " << step << " key " << key;
        if (found) {
          ASSERT_EQ(*found, it->second);
        }
      }
      ASSERT_EQ(bad_hash ? bad.size() : good.size(), model.size());
    }
    // Every key the model holds is found, and nothing else is.
    std::size_t seen = 0;
    auto check = [&](std::uint64_t k, std::uint64_t v) {
      ++seen;
      ASSERT_EQ(model.at(k), v);
    };
    bad_hash ? bad.for_each(check) : good.for_each(check);
    EXPECT_EQ(seen, model.size());
  }
}

TEST(FlatHashMap, KeysOfAJobRunAreFoundAfterGrowing) {
  FlatHashMap<std::pair<core::JobId, std::uint64_t>, std::size_t, core::JobKeyHash> index;
  for (core::JobId id = 1; id <= 100000; ++id) ASSERT_TRUE(index.insert({id, id % 3}, std::size_t(id)));
  EXPECT_EQ(index.size(), 100000u);
  for (core::JobId id = 1; id <= 100000; ++id) {
    const std::size_t* at = index.find({id, id % 3});
    ASSERT_NE(at, nullptr);
    ASSERT_EQ(*at, id);
    ASSERT_FALSE(index.contains({id, id % 3 + 1}));
  }
  EXPECT_FALSE(index.insert({5, 2}, std::size_t(0)));  // there already: unchanged
  EXPECT_EQ(*index.find({5, 2}), 5u);
}

TEST(FlatHashMap, AnEraseFreesTheValueAtOnce) {
  FlatHashMap<int, std::shared_ptr<int>, std::hash<int>> map;
  auto value = std::make_shared<int>(1);
  ASSERT_TRUE(map.insert(1, value));
  ASSERT_TRUE(map.insert(2, value));
  EXPECT_EQ(value.use_count(), 3);
  EXPECT_TRUE(map.erase(1));
  EXPECT_EQ(value.use_count(), 2);
  EXPECT_FALSE(map.erase(1));
  map.insert_or_assign(2, std::make_shared<int>(2));
  EXPECT_EQ(value.use_count(), 1);
}

TEST(FlatHashMap, AValueWhoseCopyThrowsLeavesTheMapAsItWas) {
  FlatHashMap<int, Fragile, std::hash<int>> map;
  for (int k = 0; k < 11; ++k) ASSERT_TRUE(map.insert(k, Fragile(k)));  // 11 of 16: the next one grows
  const Fragile v(99);
  Fragile::fail = true;
  EXPECT_THROW(map.insert(20, v), std::runtime_error);  // added without growing
  EXPECT_THROW(map.insert_or_assign(21, v), std::runtime_error);
  Fragile::fail = false;
  EXPECT_EQ(map.size(), 11u);
  EXPECT_FALSE(map.contains(20));
  EXPECT_FALSE(map.contains(21));
  for (int k = 0; k < 11; ++k) ASSERT_EQ(map.find(k)->v, k);
  EXPECT_TRUE(map.insert(20, v));
}

TEST(FlatHashMap, AFailedGrowthLeavesTheMapAsItWas) {
  if (!swarmsync::test::allocation_counting())
    GTEST_SKIP() << "allocation failures are injected through the program's own operator new, which sanitizers replace";
  FlatHashMap<std::uint64_t, std::uint64_t, std::hash<std::uint64_t>> map;
  for (std::uint64_t k = 0; k < 12; ++k) ASSERT_TRUE(map.insert(k, k));  // 12 of 16: full to 3/4
  swarmsync::test::fail_allocations_of_at_least(1);
  EXPECT_THROW(map.insert(100, std::uint64_t(1)), std::bad_alloc);
  swarmsync::test::fail_allocations_of_at_least(0);
  EXPECT_EQ(map.size(), 12u);
  EXPECT_FALSE(map.contains(100));
  for (std::uint64_t k = 0; k < 12; ++k) ASSERT_EQ(*map.find(k), k);
}

TEST(FlatHashMap, KeysComingAndGoingAllocateNothingOnceGrown) {
  if (!swarmsync::test::allocation_counting())
    GTEST_SKIP() << "allocation counting needs the program's own operator new, which sanitizers replace";
  FlatHashMap<std::pair<core::JobId, std::uint64_t>, core::Job, core::JobKeyHash> expected;
  for (core::JobId id = 0; id < 64; ++id) expected.insert({id, 0}, core::Job{});
  for (core::JobId id = 0; id < 64; ++id) expected.erase({id, 0});
  const std::size_t before = swarmsync::test::allocation_count();
  for (core::JobId id = 64; id < 100000; ++id) {
    core::Job job;
    job.id = id;
    expected.insert({id, 0}, std::move(job));
    if (id >= 100) expected.erase({id - 36, 0});  // 36 in flight, as placements on workers
  }
  EXPECT_EQ(swarmsync::test::allocation_count() - before, 0u);
  EXPECT_EQ(expected.size(), 36u);
}

TEST(RingQueue, IsFirstInFirstOutAcrossWrapsAndGrowth) {
  RingQueue<std::uint64_t> queue;
  std::deque<std::uint64_t> model;
  std::mt19937_64 rng(3);
  for (std::uint64_t step = 0; step < 200000; ++step) {
    // Runs of pushes and pops, so the queue wraps around at many lengths and grows a few times.
    const bool push = model.empty() || rng() % 100 < (step / 20000 % 2 ? 40 : 60);
    if (push) {
      queue.push_back(std::uint64_t(step));
      model.push_back(step);
    } else {
      ASSERT_EQ(queue.front(), model.front());
      queue.pop_front();
      model.pop_front();
    }
    ASSERT_EQ(queue.size(), model.size());
    if (step % 997 == 0) {
      for (std::size_t i = 0; i < model.size(); ++i) ASSERT_EQ(queue[i], model[i]);
    }
  }
  queue.clear();
  EXPECT_TRUE(queue.empty());
  queue.push_back(7);
  EXPECT_EQ(queue.front(), 7u);
}

TEST(RingQueue, APopFreesTheValueAtOnce) {
  RingQueue<std::shared_ptr<int>> queue;
  auto value = std::make_shared<int>(1);
  queue.push_back(std::shared_ptr<int>(value));
  queue.push_back(std::shared_ptr<int>(value));
  EXPECT_EQ(value.use_count(), 3);
  queue.pop_front();
  EXPECT_EQ(value.use_count(), 2);
  queue.clear();
  EXPECT_EQ(value.use_count(), 1);
}

TEST(RingQueue, AFailedGrowthLeavesTheQueueAndTheValueAsTheyWere) {
  if (!swarmsync::test::allocation_counting())
    GTEST_SKIP() << "allocation failures are injected through the program's own operator new, which sanitizers replace";
  RingQueue<std::unique_ptr<int>> queue;
  for (int i = 0; i < 4; ++i) queue.push_back(std::make_unique<int>(i));  // full: the next one grows
  queue.pop_front();
  queue.push_back(std::make_unique<int>(4));  // wrapped
  auto value = std::make_unique<int>(5);
  swarmsync::test::fail_allocations_of_at_least(1);
  EXPECT_THROW(queue.push_back(std::move(value)), std::bad_alloc);
  swarmsync::test::fail_allocations_of_at_least(0);
  ASSERT_NE(value, nullptr);  // not moved from
  EXPECT_EQ(*value, 5);
  ASSERT_EQ(queue.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(*queue[static_cast<std::size_t>(i)], i + 1);
}

TEST(RingQueue, JobsQueuedAndTakenAllocateNothingOnceGrown) {
  if (!swarmsync::test::allocation_counting())
    GTEST_SKIP() << "allocation counting needs the program's own operator new, which sanitizers replace";
  RingQueue<core::Job> queue;
  for (int i = 0; i < 8; ++i) queue.push_back(core::Job{});
  queue.clear();
  const std::size_t before = swarmsync::test::allocation_count();
  for (core::JobId id = 0; id < 10000; ++id) {
    core::Job job;
    job.id = id;
    queue.push_back(std::move(job));
    if (queue.size() > 5) queue.pop_front();
  }
  EXPECT_EQ(swarmsync::test::allocation_count() - before, 0u);
  EXPECT_EQ(queue.front().id, 9995u);
}


TEST(BlockVector, KeepsOrderAndNeverMovesAnElement) {
  BlockVector<std::uint64_t, 4> values;
  std::vector<const std::uint64_t*> where;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    values.make_room();
    where.push_back(&values.append(i * 3));
  }
  ASSERT_EQ(values.size(), 1000u);
  for (std::size_t i = 0; i < 1000; ++i) {
    ASSERT_EQ(values[i], i * 3);
    ASSERT_EQ(&values[i], where[i]) << "element " << i << " moved";
  }
  values[7] = 1;  // overwritten in place, as the Scheduler reuses a slot
  EXPECT_EQ(values[7], 1u);
}

TEST(BlockVector, RoomIsMadeOneBlockAtATime) {
  if (!swarmsync::test::allocation_counting())
    GTEST_SKIP() << "allocation counting needs the program's own operator new, which sanitizers replace";
  BlockVector<core::Job, 8> jobs;
  jobs.make_room();
  jobs.append(core::Job{});
  const std::size_t before = swarmsync::test::allocation_count();
  for (int i = 1; i < 8; ++i) {
    jobs.make_room();  // room left in the first block: nothing allocated
    jobs.append(core::Job{});
  }
  EXPECT_EQ(swarmsync::test::allocation_count() - before, 0u);
  jobs.make_room();  // the ninth: one new block (and the list of blocks grows)
  EXPECT_GE(swarmsync::test::allocation_count() - before, 1u);
  EXPECT_LE(swarmsync::test::allocation_count() - before, 2u);
  jobs.make_room();  // idempotent until the next append
  EXPECT_LE(swarmsync::test::allocation_count() - before, 2u);
}

TEST(BlockVector, AFailedMakeRoomLeavesItAsItWas) {
  if (!swarmsync::test::allocation_counting())
    GTEST_SKIP() << "allocation failures are injected through the program's own operator new, which sanitizers replace";
  BlockVector<std::uint64_t, 4> values;
  for (std::uint64_t i = 0; i < 4; ++i) {
    values.make_room();
    values.append(std::uint64_t(i));
  }
  swarmsync::test::fail_allocations_of_at_least(1);
  EXPECT_THROW(values.make_room(), std::bad_alloc);
  swarmsync::test::fail_allocations_of_at_least(0);
  ASSERT_EQ(values.size(), 4u);
  for (std::uint64_t i = 0; i < 4; ++i) EXPECT_EQ(values[i], i);
  values.make_room();
  values.append(std::uint64_t(4));
  EXPECT_EQ(values[4], 4u);
}

}  // namespace
}  // namespace flat_containers_test
