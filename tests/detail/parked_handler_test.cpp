// detail::ParkedHandler: a parked wait's handler, kept in place when it fits, in a spare block of
// the thread's otherwise; given back before it is invoked, also when its move throws.

#include <swarmsync/detail/parked_handler.hpp>

#include "support/allocation_counter.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/error.hpp>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <stdexcept>
#include <thread>
#include <utility>

namespace parked_handler_test {
namespace {

namespace asio = boost::asio;
using swarmsync::detail::ParkedHandler;
using boost::system::error_code;

// A handler of `Extra` more bytes than a pointer, that counts its live copies and records the
// error it was called with and how many copies were alive during the call. Its move throws on
// demand when `Throwing`.
template <std::size_t Extra, bool Throwing = false>
struct Probe {
  static inline int alive = 0;
  static inline bool throw_on_move = false;

  error_code* seen;
  int* alive_in_call;
  std::array<unsigned char, Extra> pad{};

  Probe(error_code* s, int* a) : seen(s), alive_in_call(a) { ++alive; }
  Probe(Probe&& o) noexcept(!Throwing) : seen(o.seen), alive_in_call(o.alive_in_call), pad(o.pad) {
    if constexpr (Throwing) {
      if (throw_on_move) throw std::runtime_error("Probe: move failed on demand");
    }
    ++alive;
  }
  Probe(const Probe&) = delete;
  ~Probe() { --alive; }

  void operator()(error_code ec) {
    *seen = ec;
    *alive_in_call = alive;
  }
};

using Small = Probe<0>;                               // two pointers: in place
using Large = Probe<ParkedHandler::kCapacity>;        // too large: boxed
using Throwing = Probe<0, true>;                      // fits, but its move may throw: boxed

static_assert(ParkedHandler::fits_inline<Small>);
static_assert(!ParkedHandler::fits_inline<Large>);
static_assert(!ParkedHandler::fits_inline<Throwing>);

// What the probes of one check saw: the error of the last call and the live copies during it.
// Made first, it starts the probes' live count from zero.
template <class H>
struct Witness {
  error_code seen;
  int alive_in_call = -1;
  Witness() { H::alive = 0; }
  H probe() { return H(&seen, &alive_in_call); }
};

template <class H>
void expect_invoked_after_its_storage_is_gone() {
  Witness<H> w;
  {
    ParkedHandler parked;
    EXPECT_FALSE(parked);
    parked.emplace(w.probe());
    EXPECT_TRUE(parked);
    EXPECT_EQ(H::alive, 1);
    std::move(parked)(asio::error::operation_aborted);
    EXPECT_FALSE(parked);
  }
  EXPECT_EQ(w.seen, asio::error::operation_aborted);
  EXPECT_EQ(w.alive_in_call, 1) << "the stored handler is destroyed before the call";
  EXPECT_EQ(H::alive, 0);
}

TEST(ParkedHandler, AHandlerThatFitsIsInvokedOnceItsStorageIsEmpty) { expect_invoked_after_its_storage_is_gone<Small>(); }

TEST(ParkedHandler, ALargeHandlerIsInvokedOnceItsBlockIsGivenBack) { expect_invoked_after_its_storage_is_gone<Large>(); }

TEST(ParkedHandler, AHandlerThatFitsIsKeptWithoutAnAllocation) {
  if (!swarmsync::test::allocation_counting())
    GTEST_SKIP() << "allocation counting needs the program's own operator new, which sanitizers replace";
  Witness<Small> w;
  const std::size_t before = swarmsync::test::allocation_count();
  const std::size_t blocks_before = swarmsync::test::asio_block_count();
  ParkedHandler parked;
  parked.emplace(w.probe());
  std::move(parked)(error_code());
  EXPECT_EQ(swarmsync::test::allocation_count(), before);
  EXPECT_EQ(swarmsync::test::asio_block_count(), blocks_before);
}

TEST(ParkedHandler, ALargeHandlerReusesTheThreadsSpareBlock) {
  if (!swarmsync::test::allocation_counting())
    GTEST_SKIP() << "allocation counting needs the program's own operator new, which sanitizers replace";
  Witness<Large> w;
  ParkedHandler parked;
  parked.emplace(w.probe());
  std::move(parked)(error_code());
  const std::size_t before = swarmsync::test::allocation_count();
  for (int i = 0; i < 1000; ++i) {
    parked.emplace(w.probe());
    std::move(parked)(error_code());
    parked.emplace(w.probe());
    parked.reset();
  }
  EXPECT_EQ(swarmsync::test::allocation_count(), before) << "a block given back is taken again";
  EXPECT_EQ(Large::alive, 0);
}

TEST(SpareBlocks, KeepsUpToItsSlotsAndServesARequestWithABlockLargeEnough) {
  using swarmsync::detail::SpareBlocks;
  if (!swarmsync::test::allocation_counting())
    GTEST_SKIP() << "allocation counting needs the program's own operator new, which sanitizers replace";
  std::thread([] {  // a thread of its own: an empty cache
    constexpr std::size_t n = SpareBlocks::kSlots + 1;
    void* blocks[n];
    std::size_t sizes[n];
    std::size_t before = swarmsync::test::allocation_count();
    for (std::size_t i = 0; i < n; ++i) blocks[i] = SpareBlocks::take(100, &sizes[i]);
    EXPECT_EQ(swarmsync::test::allocation_count() - before, n);
    EXPECT_EQ(sizes[0], SpareBlocks::rounded(100));
    EXPECT_EQ(sizes[0] % SpareBlocks::kGrain, 0u);
    EXPECT_GE(sizes[0], 100u);
    for (std::size_t i = 0; i < n; ++i) SpareBlocks::give(blocks[i], sizes[i]);  // the last is freed
    before = swarmsync::test::allocation_count();
    std::size_t size = 0;
    void* larger = SpareBlocks::take(sizes[0] + 1, &size);  // none of the kept blocks is enough
    EXPECT_EQ(swarmsync::test::allocation_count() - before, 1u);
    EXPECT_GT(size, sizes[0]);
    for (std::size_t i = 0; i < SpareBlocks::kSlots; ++i) blocks[i] = SpareBlocks::take(10, &sizes[i]);
    EXPECT_EQ(swarmsync::test::allocation_count() - before, 1u) << "the kept blocks serve smaller requests";
    SpareBlocks::give(larger, size);
    for (std::size_t i = 0; i < SpareBlocks::kSlots; ++i) SpareBlocks::give(blocks[i], sizes[i]);
  }).join();
}

TEST(ParkedHandler, ALargeHandlersBlockIsBackWithTheThreadsSparesDuringItsCall) {
  if (!swarmsync::test::allocation_counting())
    GTEST_SKIP() << "allocation counting needs the program's own operator new, which sanitizers replace";
  std::size_t allocations_in_call = 1;
  std::thread([&allocations_in_call] {  // a thread of its own: no spare blocks but this one's
    struct Taker {
      std::size_t* allocations;
      std::array<unsigned char, ParkedHandler::kCapacity> pad{};
      void operator()(error_code) {
        const std::size_t before = swarmsync::test::allocation_count();
        std::size_t size = 0;
        void* block = swarmsync::detail::SpareBlocks::take(sizeof(Taker), &size);
        *allocations = swarmsync::test::allocation_count() - before;
        swarmsync::detail::SpareBlocks::give(block, size);
      }
    };
    static_assert(!ParkedHandler::fits_inline<Taker>);
    ParkedHandler parked;
    parked.emplace(Taker{&allocations_in_call});
    std::move(parked)(error_code());
  }).join();
  EXPECT_EQ(allocations_in_call, 0u) << "the handler's block is given back before it is called";
}

TEST(ParkedHandler, AHandlerMayParkAnotherInTheSameObjectFromItsCall) {
  ParkedHandler parked;
  int calls = 0;
  struct Again {
    ParkedHandler* parked;
    int* calls;
    void operator()(error_code) {
      EXPECT_FALSE(*parked) << "empty from the start of the call";
      if (++*calls < 3) parked->emplace(Again{parked, calls});
    }
  };
  parked.emplace(Again{&parked, &calls});
  std::move(parked)(error_code());
  ASSERT_TRUE(parked);
  std::move(parked)(error_code());
  ASSERT_TRUE(parked);
  std::move(parked)(error_code());
  EXPECT_FALSE(parked);
  EXPECT_EQ(calls, 3);
}

template <class H>
void expect_destroyed_uninvoked() {
  Witness<H> w;
  {
    ParkedHandler parked;
    parked.emplace(w.probe());
    ParkedHandler moved(std::move(parked));
    EXPECT_FALSE(parked);
    EXPECT_TRUE(moved);
    EXPECT_EQ(H::alive, 1);
  }
  EXPECT_EQ(H::alive, 0);
  EXPECT_EQ(w.alive_in_call, -1) << "never invoked";
  {
    ParkedHandler parked;
    parked.emplace(w.probe());
    parked.emplace(w.probe());  // replaces: the first is destroyed
    EXPECT_EQ(H::alive, 1);
    parked.reset();
    EXPECT_FALSE(parked);
    EXPECT_EQ(H::alive, 0);
  }
}

TEST(ParkedHandler, AHandlerThatFitsIsDestroyedUninvokedWithItsOwnerOrReset) { expect_destroyed_uninvoked<Small>(); }

TEST(ParkedHandler, ALargeHandlerIsDestroyedUninvokedWithItsOwnerOrReset) { expect_destroyed_uninvoked<Large>(); }

TEST(ParkedHandler, AMoveThatThrowsAtTheCallGivesTheBlockBackAndDestroysTheHandler) {
  Throwing::throw_on_move = false;
  Witness<Throwing> w;
  ParkedHandler parked;
  parked.emplace(w.probe());
  ASSERT_EQ(Throwing::alive, 1);
  Throwing::throw_on_move = true;
  EXPECT_THROW(std::move(parked)(error_code()), std::runtime_error);
  Throwing::throw_on_move = false;
  EXPECT_FALSE(parked);
  EXPECT_EQ(Throwing::alive, 0);
  EXPECT_EQ(w.alive_in_call, -1);
}

// Destroyed after the thread's spare-block cache (constructed before it): gives a block back
// then, and counts what operator delete freed meanwhile.
struct LateGiver {
  static inline std::atomic<std::size_t> freed{0};
  void* block = nullptr;
  std::size_t size = 0;
  ~LateGiver() {
    const std::size_t before = swarmsync::test::deallocation_count();
    if (block) swarmsync::detail::SpareBlocks::give(block, size);
    freed = swarmsync::test::deallocation_count() - before;
  }
};

TEST(SpareBlocks, ABlockGivenBackAfterTheThreadsCacheIsGoneIsFreed) {
  using swarmsync::detail::SpareBlocks;
  if (!swarmsync::test::allocation_counting())
    GTEST_SKIP() << "allocation counting needs the program's own operator new, which sanitizers replace";
  LateGiver::freed = 0;
  std::thread([] {
    static thread_local LateGiver late;  // constructed first: destroyed after the cache
    std::size_t size = 0;
    void* block = SpareBlocks::take(100, &size);  // the cache is constructed here
    late.block = block;
    late.size = size;
  }).join();
  EXPECT_EQ(LateGiver::freed.load(), 1u) << "a block given back to a destroyed cache is lost";
}

TEST(ParkedHandler, AMoveThatThrowsAtTheParkLeavesItEmptyAndGivesTheBlockBack) {
  if (!swarmsync::test::allocation_counting())
    GTEST_SKIP() << "allocation counting needs the program's own operator new, which sanitizers replace";
  Witness<Throwing> w;
  {
    ParkedHandler parked;
    parked.emplace(w.probe());  // a block for the thread's spares
    parked.reset();
    Throwing handler = w.probe();
    Throwing::throw_on_move = true;
    EXPECT_THROW(parked.emplace(std::move(handler)), std::runtime_error);
    Throwing::throw_on_move = false;
    EXPECT_FALSE(parked);
    // Counted after the throw (the exception's message allocates): the block the failed park
    // took is back with the thread's spares, so this park allocates nothing.
    const std::size_t before = swarmsync::test::allocation_count();
    parked.emplace(std::move(handler));
    EXPECT_TRUE(parked);
    parked.reset();
    EXPECT_EQ(swarmsync::test::allocation_count(), before);
  }
  EXPECT_EQ(Throwing::alive, 0);
}

TEST(ParkedHandler, TheCancellationSlotIsTheHandlers) {
  asio::cancellation_signal signal;
  error_code seen;
  int alive_in_call = -1;
  ParkedHandler parked;
  EXPECT_FALSE(parked.cancellation_slot().is_connected());
  parked.emplace(Small(&seen, &alive_in_call));
  EXPECT_FALSE(parked.cancellation_slot().is_connected()) << "a handler without a slot";
  parked.emplace(asio::bind_cancellation_slot(signal.slot(), Small(&seen, &alive_in_call)));
  EXPECT_TRUE(parked.cancellation_slot() == signal.slot());
  parked.emplace(asio::bind_cancellation_slot(signal.slot(), Large(&seen, &alive_in_call)));
  EXPECT_TRUE(parked.cancellation_slot() == signal.slot());
  parked.reset();
  EXPECT_FALSE(parked.cancellation_slot().is_connected());
}

}  // namespace
}  // namespace parked_handler_test
