// swarmsync::watch: every operation and error, the versions, copies and moves of the handles,
// counted payloads, modifiers and copies that throw, cancellation of `changed()`, the senders'
// `closed()`, and a stress of one sender against receivers on several threads.

#include <swarmsync/channels/watch.hpp>

#include "support/allocation_counter.hpp"
#include "support/async.hpp"
#include "support/counted.hpp"
#include "support/fragile.hpp"
#include "support/watchdog.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

namespace watch_test {
namespace {

using namespace swarmsync;
using namespace boost::asio::experimental::awaitable_operators;
using namespace std::chrono_literals;
using swarmsync::test::Counted;
using swarmsync::test::Fragile;
using Changed = Result<void, watch::RecvError>;

// Whether `rx.changed()` completes now, without waiting: runs it on a one-thread context until
// nothing is ready, then destroys a wait still parked (as dropping a future). True with the
// result if it completed.
template <class T>
std::optional<Changed> changed_now(watch::Receiver<T>& rx) {
  asio::io_context ioc;
  std::optional<Changed> out;
  asio::co_spawn(ioc, [&]() -> asio::awaitable<void> { out.emplace(co_await rx.changed()); }, asio::detached);
  ioc.poll();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Values and versions

TEST(Watch, BorrowSeesTheInitialValueAsSeen) {
  auto [tx, rx] = watch::channel(std::string("one"));
  EXPECT_EQ(*rx.borrow(), "one");
  EXPECT_EQ(rx.borrow()->size(), 3u);
  EXPECT_FALSE(rx.borrow().has_changed());
  EXPECT_EQ(tx.borrow().get(), "one");
  EXPECT_FALSE(tx.borrow().has_changed());
  EXPECT_FALSE(rx.has_changed().value());
  EXPECT_FALSE(changed_now(rx));  // not initially notified
}

TEST(Watch, BorrowDoesNotMarkSeenAndBorrowAndUpdateDoes) {
  auto [tx, rx] = watch::channel(1);
  EXPECT_TRUE(tx.send(2));
  EXPECT_TRUE(rx.has_changed().value());
  {
    auto r = rx.borrow();
    EXPECT_EQ(*r, 2);
    EXPECT_TRUE(r.has_changed());
  }
  EXPECT_TRUE(rx.has_changed().value());  // borrow marked nothing
  {
    auto r = rx.borrow_and_update();
    EXPECT_EQ(*r, 2);
    EXPECT_TRUE(r.has_changed());
  }
  EXPECT_FALSE(rx.has_changed().value());
  EXPECT_FALSE(rx.borrow().has_changed());
  EXPECT_FALSE(rx.borrow_and_update().has_changed());
  EXPECT_FALSE(tx.borrow().has_changed());  // a sender's borrow: never
}

TEST(Watch, ChangedReportsSeveralSendsOnceWithTheLatestValue) {
  auto [tx, rx] = watch::channel(0);
  for (int i = 1; i <= 3; ++i) EXPECT_TRUE(tx.send(i));
  auto first = changed_now(rx);
  ASSERT_TRUE(first);
  EXPECT_TRUE(*first);
  EXPECT_EQ(*rx.borrow(), 3);
  EXPECT_FALSE(rx.borrow().has_changed());  // changed() marked the version seen
  EXPECT_FALSE(changed_now(rx));            // nothing new: it waits
}

TEST(Watch, ChangedWaitsForASendFromAnotherThread) {
  test::Watchdog watchdog;
  auto [tx_end, rx_end] = watch::channel(0);
  auto& rx = rx_end;
  asio::io_context ioc;
  auto fut = asio::co_spawn(ioc, [&]() -> asio::awaitable<int> {
    const Changed c = co_await rx.changed();
    EXPECT_TRUE(c);
    co_return *rx.borrow_and_update();
  }, asio::use_future);
  std::thread sender([tx = std::move(tx_end)] {
    std::this_thread::sleep_for(5ms);
    EXPECT_TRUE(tx.send(42));
  });
  ioc.run();
  sender.join();
  EXPECT_EQ(fut.get(), 42);
}

TEST(Watch, SendFailsWithoutAReceiverAndHandsTheVeryValueBack) {
  auto [tx, rx] = watch::channel(std::make_unique<int>(1));
  { auto drop = std::move(rx); }
  EXPECT_TRUE(tx.is_closed());
  EXPECT_EQ(tx.receiver_count(), 0u);
  auto value = std::make_unique<int>(2);
  int* const address = value.get();
  auto sent = tx.send(std::move(value));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().value.get(), address);
  EXPECT_THROW(sent.value(), ChannelError);
  EXPECT_EQ(**tx.borrow(), 1);  // nothing changed

  // send_replace works without receivers, and bumps the version.
  auto old = tx.send_replace(std::make_unique<int>(3));
  EXPECT_EQ(*old, 1);
  EXPECT_EQ(**tx.borrow(), 3);
  auto late = tx.subscribe();  // has seen the current value
  EXPECT_FALSE(late.has_changed().value());
  EXPECT_EQ(**late.borrow(), 3);
  EXPECT_FALSE(tx.is_closed());
  EXPECT_TRUE(tx.send(std::make_unique<int>(4)));
  EXPECT_TRUE(late.has_changed().value());
}

TEST(Watch, SendReplaceReturnsThePreviousValueAndWakes) {
  auto [tx, rx] = watch::channel(std::string("a"));
  EXPECT_EQ(tx.send_replace("b"), "a");
  EXPECT_EQ(tx.send_replace("c"), "b");
  EXPECT_TRUE(rx.has_changed().value());
  EXPECT_EQ(*rx.borrow_and_update(), "c");
}

TEST(Watch, SendModifyChangesInPlaceAndAlwaysNotifies) {
  auto [tx, rx] = watch::channel(std::vector<int>{1});
  tx.send_modify([](std::vector<int>& v) { v.push_back(2); });
  EXPECT_TRUE(rx.has_changed().value());
  EXPECT_EQ(*rx.borrow_and_update(), (std::vector<int>{1, 2}));
  tx.send_modify([](std::vector<int>&) {});  // notifies even when nothing changed, as tokio's
  EXPECT_TRUE(rx.has_changed().value());
}

TEST(Watch, SendIfModifiedNotifiesOnlyWhenTheModifierSaysSo) {
  auto [tx, rx] = watch::channel(10);
  EXPECT_FALSE(tx.send_if_modified([](int& v) { return v > 100; }));
  EXPECT_FALSE(rx.has_changed().value());
  EXPECT_FALSE(changed_now(rx));
  EXPECT_TRUE(tx.send_if_modified([](int& v) {
    v = 11;
    return true;
  }));
  EXPECT_TRUE(rx.has_changed().value());
  EXPECT_EQ(*rx.borrow_and_update(), 11);
  // The modifier's result only needs to convert to bool.
  EXPECT_FALSE(tx.send_if_modified([](int&) { return 0; }));
  EXPECT_FALSE(rx.has_changed().value());
}

TEST(Watch, ChangedReportsTheLastChangeThenClosedWhenTheSenderGoes) {
  auto [tx, rx] = watch::channel(1);
  EXPECT_TRUE(tx.send(2));
  { auto drop = std::move(tx); }
  EXPECT_FALSE(rx.has_changed());  // closed, as tokio 1.24's, although a change is unseen
  EXPECT_EQ(rx.has_changed().error(), watch::RecvError::closed);
  auto first = changed_now(rx);
  ASSERT_TRUE(first);
  EXPECT_TRUE(*first);
  EXPECT_EQ(*rx.borrow(), 2);
  auto second = changed_now(rx);
  ASSERT_TRUE(second);
  ASSERT_FALSE(*second);
  EXPECT_EQ(second->error(), watch::RecvError::closed);
  EXPECT_THROW(second->value(), ChannelError);
  EXPECT_EQ(*rx.borrow(), 2);  // the last value stays readable
}

TEST(Watch, ParkedChangedEndsWhenTheLastSenderGoesFromAnotherThread) {
  test::Watchdog watchdog;
  auto [tx_end, rx_end] = watch::channel(0);
  auto& rx = rx_end;
  asio::io_context ioc;
  auto fut = asio::co_spawn(ioc, rx.changed(), asio::use_future);
  std::thread other([tx = std::move(tx_end)]() mutable {
    std::this_thread::sleep_for(5ms);
    auto drop = std::move(tx);
  });
  ioc.run();
  other.join();
  auto r = fut.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), watch::RecvError::closed);
}

TEST(Watch, CopiedSendersCloseTheChannelWhenTheLastGoes) {
  auto [tx, rx] = watch::channel(0);
  EXPECT_EQ(tx.sender_count(), 1u);
  auto tx2 = tx;
  EXPECT_EQ(tx.sender_count(), 2u);
  EXPECT_TRUE(tx2.same_channel(tx));
  EXPECT_TRUE(tx2.send(5));
  { auto drop = std::move(tx); }
  EXPECT_EQ(tx2.sender_count(), 1u);
  EXPECT_TRUE(rx.has_changed().value());  // still open
  EXPECT_EQ(*rx.borrow_and_update(), 5);
  EXPECT_FALSE(changed_now(rx));
  { auto drop = std::move(tx2); }
  EXPECT_FALSE(rx.has_changed());
  auto end = changed_now(rx);
  ASSERT_TRUE(end);
  EXPECT_FALSE(*end);
}

TEST(Watch, ReceiverCopiesSeeWhatTheirSourceHadSeenAndThenGoTheirOwnWay) {
  auto [tx, rx] = watch::channel(0);
  EXPECT_TRUE(tx.send(1));
  auto unseen = rx;  // the source had not seen 1
  EXPECT_EQ(tx.receiver_count(), 2u);
  EXPECT_TRUE(unseen.has_changed().value());
  (void)rx.borrow_and_update();
  auto seen = rx;  // the source has seen 1
  EXPECT_FALSE(seen.has_changed().value());
  EXPECT_TRUE(unseen.has_changed().value());  // each copy keeps its own version
  EXPECT_TRUE(seen.same_channel(rx));
  EXPECT_TRUE(rx.same_channel(tx));
  EXPECT_TRUE(tx.same_channel(rx));
  EXPECT_EQ(tx.receiver_count(), 3u);

  auto [other_tx, other_rx] = watch::channel(0);
  EXPECT_FALSE(rx.same_channel(other_rx));
  EXPECT_FALSE(tx.same_channel(other_rx));
  EXPECT_FALSE(tx.same_channel(other_tx));
}

TEST(Watch, SubscribeHasSeenTheCurrentValueAndReopensTheChannel) {
  auto [tx, rx] = watch::channel(0);
  EXPECT_TRUE(tx.send(1));
  auto sub = tx.subscribe();
  EXPECT_FALSE(sub.has_changed().value());
  EXPECT_TRUE(rx.has_changed().value());
  EXPECT_EQ(tx.receiver_count(), 2u);
  { auto drop = std::move(rx); }
  { auto drop = std::move(sub); }
  EXPECT_TRUE(tx.is_closed());
  EXPECT_FALSE(tx.send(2));
  auto again = tx.subscribe();
  EXPECT_FALSE(tx.is_closed());
  EXPECT_TRUE(tx.send(3));
  EXPECT_TRUE(again.has_changed().value());
}

TEST(Watch, MarkChangedAndMarkUnchanged) {
  auto [tx, rx] = watch::channel(0);
  rx.mark_changed();
  EXPECT_TRUE(rx.has_changed().value());
  EXPECT_TRUE(rx.borrow().has_changed());
  auto c = changed_now(rx);
  ASSERT_TRUE(c);
  EXPECT_TRUE(*c);
  EXPECT_FALSE(rx.has_changed().value());

  EXPECT_TRUE(tx.send(1));
  rx.mark_unchanged();
  EXPECT_FALSE(rx.has_changed().value());
  EXPECT_FALSE(changed_now(rx));
  EXPECT_EQ(*rx.borrow(), 1);

  EXPECT_TRUE(tx.send(2));
  rx.mark_changed();  // already changed: stays so
  EXPECT_TRUE(rx.has_changed().value());
  (void)rx.borrow_and_update();
  EXPECT_FALSE(rx.has_changed().value());
}

TEST(Watch, WaitForReturnsABorrowOfTheFirstMatchingValue) {
  test::Watchdog watchdog;
  auto [tx_end, rx_end] = watch::channel(0);
  auto& tx = tx_end;
  auto& rx = rx_end;
  // Already matching: checked at once, even though seen.
  int seen_now = -1;
  test::run_sync([&]() -> asio::awaitable<void> {
    auto r = co_await rx.wait_for([](int v) { return v == 0; });
    EXPECT_TRUE(r);
    seen_now = **r;
    EXPECT_FALSE(r->has_changed());
  }());
  EXPECT_EQ(seen_now, 0);

  // Waits through values that do not match; marks what it checked seen.
  asio::io_context ioc;
  std::vector<int> checked;
  auto fut = asio::co_spawn(ioc, [&]() -> asio::awaitable<int> {
    auto r = co_await rx.wait_for([&](int v) {
      checked.push_back(v);
      return v >= 3;
    });
    co_return **r;
  }, asio::use_future);
  ioc.poll();
  for (int i = 1; i <= 4; ++i) {
    EXPECT_TRUE(tx.send(i));
    ioc.restart();
    ioc.poll();
  }
  EXPECT_EQ(fut.get(), 3);
  EXPECT_EQ(checked, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_TRUE(rx.has_changed().value());  // 4 came after
}

TEST(Watch, WaitForIsClosedWhenTheSenderGoesWithoutAMatch) {
  auto [tx, rx_end] = watch::channel(0);
  auto& rx = rx_end;
  EXPECT_TRUE(tx.send(1));
  { auto drop = std::move(tx); }
  int calls = 0;
  auto r = test::run_sync([&]() -> asio::awaitable<Result<int, watch::RecvError>> {
    auto got = co_await rx.wait_for([&](int) {
      ++calls;
      return false;
    });
    if (!got) co_return got.error();
    co_return **got;
  }());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), watch::RecvError::closed);
  EXPECT_EQ(calls, 1);  // the last value, once

  // The last value still matches after the end.
  auto found = test::run_sync([&]() -> asio::awaitable<int> {
    auto got = co_await rx.wait_for([](int v) { return v == 1; });
    co_return **got;
  }());
  EXPECT_EQ(found, 1);
}

TEST(Watch, WaitForWhosePredicateThrowsReleasesTheLock) {
  test::Watchdog watchdog;
  auto [tx_end, rx_end] = watch::channel(0);
  auto& tx = tx_end;
  auto& rx = rx_end;
  EXPECT_THROW(test::run_sync([&]() -> asio::awaitable<void> {
                 auto r = co_await rx.wait_for([](int) -> bool { throw std::runtime_error("predicate"); });
                 (void)r;
               }()),
               std::runtime_error);
  EXPECT_TRUE(tx.send(1));  // would wait forever for the write lock if the borrow were kept
  EXPECT_EQ(*rx.borrow(), 1);
}

// ---------------------------------------------------------------------------------------------
// The senders' closed()

asio::awaitable<bool> closed_of(const watch::Sender<int>& tx) {
  co_await tx.closed();
  co_return true;
}

TEST(Watch, SenderClosedCompletesWhenTheLastReceiverGoesFromAnotherThread) {
  test::Watchdog watchdog;
  auto [tx_end, rx_end] = watch::channel(0);
  auto& tx = tx_end;
  auto rx2 = rx_end;
  asio::io_context ioc;
  auto first = asio::co_spawn(ioc, closed_of(tx), asio::use_future);
  auto second = asio::co_spawn(ioc, closed_of(tx), asio::use_future);  // two waits on one sender
  ioc.poll();
  { auto drop = std::move(rx_end); }
  ioc.restart();
  ioc.poll();
  EXPECT_EQ(first.wait_for(0s), std::future_status::timeout);  // one receiver left
  std::thread other([rx = std::move(rx2)]() mutable {
    std::this_thread::sleep_for(5ms);
    auto drop = std::move(rx);
  });
  ioc.restart();
  ioc.run();
  other.join();
  EXPECT_TRUE(first.get());
  EXPECT_TRUE(second.get());
  EXPECT_TRUE(tx.is_closed());
  EXPECT_TRUE(test::run_sync(closed_of(tx)));  // at once now
}

TEST(Watch, SenderClosedWaitsOnWhenASubscriberReopensTheChannel) {
  auto [tx_end, rx_end] = watch::channel(0);
  auto& tx = tx_end;
  asio::io_context ioc;
  auto fut = asio::co_spawn(ioc, closed_of(tx), asio::use_future);
  ioc.poll();
  // The last receiver goes and a new one subscribes before the waiter runs.
  { auto drop = std::move(rx_end); }
  auto rx = tx.subscribe();
  ioc.restart();
  ioc.poll();
  EXPECT_EQ(fut.wait_for(0s), std::future_status::timeout);
  { auto drop = std::move(rx); }
  ioc.restart();
  ioc.run();
  EXPECT_TRUE(fut.get());
}

TEST(Watch, SenderClosedIsCancellableAndAwaitableAgain) {
  auto [tx_end, rx_end] = watch::channel(0);
  auto& tx = tx_end;
  auto& rx = rx_end;
  asio::io_context ioc;
  auto first = asio::co_spawn(ioc, [&]() -> asio::awaitable<std::size_t> {
    asio::steady_timer t(co_await asio::this_coro::executor, 2ms);
    auto r = co_await (tx.closed() || t.async_wait(asio::use_awaitable));
    co_return r.index();
  }, asio::use_future);
  ioc.run();
  EXPECT_EQ(first.get(), 1u);  // the timer won
  ioc.restart();
  auto second = asio::co_spawn(ioc, closed_of(tx), asio::use_future);
  asio::post(ioc, [&] { auto drop = std::move(rx); });
  ioc.run();
  EXPECT_TRUE(second.get());
}

// ---------------------------------------------------------------------------------------------
// Payloads: nothing leaks, nothing is copied

TEST(Watch, CountedPayloadNeitherLeaksNorIsCopied) {
  Counted::reset();
  {
    auto [tx, rx] = watch::channel(Counted(1));
    EXPECT_EQ(Counted::alive.load(), 1);
    auto before = Counted::constructed.load();
    {
      auto r = rx.borrow();
      auto s = tx.borrow();
      EXPECT_EQ(r->id, 1);
      EXPECT_EQ(s->id, 1);
    }
    EXPECT_EQ(Counted::constructed.load(), before) << "a borrow constructed a value";
    tx.send_modify([](Counted& c) { c.id = 2; });
    EXPECT_TRUE(tx.send_if_modified([](Counted& c) {
      c.id = 3;
      return true;
    }));
    EXPECT_EQ(Counted::constructed.load(), before) << "a modification constructed a value";

    // send: the argument, and the old value moved out to be destroyed after the lock.
    before = Counted::constructed.load();
    EXPECT_TRUE(tx.send(Counted(4)));
    EXPECT_EQ(Counted::constructed.load() - before, 2);
    EXPECT_EQ(Counted::alive.load(), 1);

    // send_replace: the argument, and the old value returned.
    before = Counted::constructed.load();
    {
      Counted old = tx.send_replace(Counted(5));
      EXPECT_EQ(old.id, 4);
      EXPECT_EQ(Counted::alive.load(), 2);
    }
    EXPECT_EQ(Counted::constructed.load() - before, 2);
    EXPECT_EQ(Counted::alive.load(), 1);

    auto rx2 = rx;
    auto rx3 = tx.subscribe();
    auto tx2 = tx;
    EXPECT_EQ(Counted::alive.load(), 1) << "a handle copied the value";
    EXPECT_EQ(rx3.borrow_and_update()->id, 5);

    // A refused send hands the value back.
    { auto drop = std::move(rx); }
    { auto drop = std::move(rx2); }
    { auto drop = std::move(rx3); }
    {
      auto sent = tx.send(Counted(6));
      ASSERT_FALSE(sent);
      EXPECT_EQ(sent.error().value.id, 6);
      EXPECT_EQ(Counted::alive.load(), 2);
    }
    EXPECT_EQ(tx.borrow()->id, 5);
    EXPECT_EQ(Counted::alive.load(), 1);
  }
  EXPECT_EQ(Counted::alive.load(), 0);
}

// Every operation on a move-only payload: nothing needs a copy.
TEST(Watch, MoveOnlyPayloadThroughEveryOperation) {
  auto [tx, rx_end] = watch::channel(std::make_unique<int>(1));
  auto& rx = rx_end;
  EXPECT_TRUE(tx.send(std::make_unique<int>(2)));
  EXPECT_EQ(*tx.send_replace(std::make_unique<int>(3)), 2);
  tx.send_modify([](std::unique_ptr<int>& p) { *p = 4; });
  EXPECT_TRUE(tx.send_if_modified([](std::unique_ptr<int>& p) { return *p == 4; }));
  EXPECT_EQ(**rx.borrow_and_update(), 4);
  auto copy = rx;
  EXPECT_EQ(**copy.borrow(), 4);
  const int got = test::run_sync([&]() -> asio::awaitable<int> {
    auto r = co_await rx.wait_for([](const std::unique_ptr<int>& p) { return *p == 4; });
    co_return *r->get();
  }());
  EXPECT_EQ(got, 4);
}

// ---------------------------------------------------------------------------------------------
// Exceptions

TEST(Watch, ModifierThatThrowsPropagatesReleasesTheLockAndNotifiesNobody) {
  test::Watchdog watchdog;
  Counted::reset();
  {
    auto [tx_end, rx_end] = watch::channel(Counted(1));
    auto& tx = tx_end;
    auto& rx = rx_end;
    asio::io_context ioc;
    bool woke = false;
    asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
      const Changed c = co_await rx.changed();
      EXPECT_TRUE(c);
      woke = true;
    }, asio::detached);
    ioc.poll();
    EXPECT_FALSE(woke);

    EXPECT_THROW(tx.send_modify([](Counted& c) {
      c.id = 7;
      throw std::runtime_error("modify");
    }),
                 std::runtime_error);
    EXPECT_THROW((void)tx.send_if_modified([](Counted& c) -> bool {
      c.id = 8;
      throw std::runtime_error("modify");
    }),
                 std::runtime_error);
    ioc.restart();
    ioc.poll();
    EXPECT_FALSE(woke) << "a modifier that threw woke a receiver";
    auto seen = rx;
    EXPECT_FALSE(seen.has_changed().value()) << "a modifier that threw bumped the version";
    EXPECT_EQ(rx.borrow()->id, 8);  // what it changed before throwing stays, as tokio's

    // The write lock was released: the channel works on.
    tx.send_modify([](Counted& c) { c.id = 9; });
    ioc.restart();
    ioc.poll();
    EXPECT_TRUE(woke);
    EXPECT_EQ(rx.borrow()->id, 9);
    EXPECT_EQ(Counted::alive.load(), 1);
  }
  EXPECT_EQ(Counted::alive.load(), 0);
}

TEST(Watch, CopyThatThrowsLeavesTheChannelIntact) {
  test::Watchdog watchdog;
  Fragile::reset();
  {
    auto [tx, rx] = watch::channel(Fragile(1));
    EXPECT_TRUE(tx.send(Fragile(2)));

    // A receiver copying out of a borrow.
    Fragile::throw_on_next_copy();
    EXPECT_THROW(
        {
          Fragile copy = *rx.borrow();
          (void)copy;
        },
        std::runtime_error);
    EXPECT_TRUE(rx.has_changed().value()) << "a failed copy out of borrow() marked the version seen";
    EXPECT_EQ(Fragile::alive.load(), 1);

    // Out of borrow_and_update: the version is marked seen with the borrow (documented).
    Fragile::throw_on_next_copy();
    EXPECT_THROW(
        {
          Fragile copy = *rx.borrow_and_update();
          (void)copy;
        },
        std::runtime_error);
    EXPECT_FALSE(rx.has_changed().value());

    // A copy into `send` that throws sends nothing.
    const Fragile three(3);
    Fragile::throw_on_next_copy();
    EXPECT_THROW((void)tx.send(three), std::runtime_error);
    EXPECT_FALSE(rx.has_changed().value());
    EXPECT_EQ(rx.borrow()->id, 2);

    // The locks were released: the channel works on, and copies succeed again.
    EXPECT_TRUE(tx.send(three));
    const Fragile copy = *rx.borrow_and_update();
    EXPECT_EQ(copy.id, 3);
    EXPECT_EQ(Fragile::alive.load(), 3);
  }
  EXPECT_EQ(Fragile::alive.load(), 0);
  Fragile::reset();
}

// ---------------------------------------------------------------------------------------------
// Cancellation

TEST(Watch, ChangedLosingToATimerOnAStrandLeavesTheVersionUnseen) {
  test::Watchdog watchdog;
  auto [tx_end, rx_end] = watch::channel(0);
  auto& tx = tx_end;
  auto& rx = rx_end;
  asio::io_context ioc;
  auto fut = asio::co_spawn(asio::make_strand(ioc), [&]() -> asio::awaitable<int> {
    asio::steady_timer t(co_await asio::this_coro::executor, 1ms);
    auto r = co_await (rx.changed() || t.async_wait(asio::use_awaitable));
    EXPECT_EQ(r.index(), 1u);
    EXPECT_FALSE(rx.has_changed().value());
    EXPECT_TRUE(tx.send(5));
    // The version came after the cancelled wait: the next one sees it at once.
    const Changed c = co_await rx.changed();
    EXPECT_TRUE(c);
    co_return *rx.borrow_and_update();
  }, asio::use_future);
  ioc.run();
  EXPECT_EQ(fut.get(), 5);
}

// Two receivers with a change each, raced with `||` on a strand: only the winner marks its change
// seen; the loser's is still there. (A receive that took the version before the sibling's
// cancellation reached it would lose it.)
TEST(Watch, RacedChangedMarksOnlyTheWinnerSeen) {
  for (int round = 0; round < 50; ++round) {
    auto [tx_end, rx_end] = watch::channel(0);
    auto& tx = tx_end;
    auto& a = rx_end;
    auto b = a;
    EXPECT_TRUE(tx.send(1));
    asio::io_context ioc;
    auto fut = asio::co_spawn(asio::make_strand(ioc), [&]() -> asio::awaitable<std::size_t> {
      auto r = co_await (a.changed() || b.changed());
      co_return r.index();
    }, asio::use_future);
    ioc.run();
    const std::size_t winner = fut.get();
    EXPECT_EQ(a.has_changed().value(), winner != 0) << "round " << round;
    EXPECT_EQ(b.has_changed().value(), winner != 1) << "round " << round;
  }
}

// Two receivers parked on two channels, raced with `||` on a strand; one handler on the strand
// sends on b's channel and then on a's, so both waits are woken, b's first. b wins; a, woken but
// cancelled before it resumed, marks nothing seen (wake, then take).
TEST(Watch, WokenChangedCancelledBeforeItRunsMarksNothingSeen) {
  test::Watchdog watchdog;
  auto [tx_a_end, rx_a_end] = watch::channel(0);
  auto [tx_b_end, rx_b_end] = watch::channel(0);
  auto& tx_a = tx_a_end;
  auto& tx_b = tx_b_end;
  auto& rx_a = rx_a_end;
  auto& rx_b = rx_b_end;
  asio::io_context ioc;
  auto strand = asio::make_strand(ioc);
  auto fut = asio::co_spawn(strand, [&]() -> asio::awaitable<std::size_t> {
    auto r = co_await (rx_a.changed() || rx_b.changed());
    co_return r.index();
  }, asio::use_future);
  ioc.poll();  // both parked
  asio::post(strand, [&] {
    EXPECT_TRUE(tx_b.send(1));
    EXPECT_TRUE(tx_a.send(1));
  });
  ioc.restart();
  ioc.run();
  EXPECT_EQ(fut.get(), 1u);
  EXPECT_TRUE(rx_a.has_changed().value()) << "a cancelled wait marked its change seen";
  EXPECT_FALSE(rx_b.has_changed().value());
}

// A `changed()` raced against a timer with `||`, each race on a strand of a 4-thread io_context,
// a send coming at a random moment from any of its threads, many times: when the timer wins, the
// change is still unseen (or not sent yet) and a later `changed()` reports it; never lost.
TEST(Watch, CancelledChangedLosesNoChange) {
  test::Watchdog watchdog;
  const int rounds = static_cast<int>(test::scaled(5000));
  std::atomic<int> done{0}, timer_won{0};
  asio::io_context ioc;
  for (int i = 0; i < rounds; ++i) {
    auto [tx_end, rx_end] = watch::channel(-1);
    auto rx = std::make_shared<watch::Receiver<int>>(std::move(rx_end));
    asio::co_spawn(asio::make_strand(ioc), [rx, &done, &timer_won, i]() -> asio::awaitable<void> {
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::microseconds(i % 50));
      auto r = co_await (rx->changed() || t.async_wait(asio::use_awaitable));
      if (r.index() == 0) {
        EXPECT_TRUE(std::get<0>(r));
      } else {
        ++timer_won;
        const Changed late = co_await rx->changed();
        EXPECT_TRUE(late) << "round " << i;
      }
      EXPECT_EQ(*rx->borrow_and_update(), i);
      ++done;
    }, asio::detached);
    auto tx = std::make_shared<watch::Sender<int>>(std::move(tx_end));
    asio::co_spawn(ioc, [tx, i]() -> asio::awaitable<void> {
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::microseconds((i * 7) % 60));
      co_await t.async_wait(asio::use_awaitable);
      tx->send_replace(i);  // the receiver may be done already: replace, whether or not it lives
    }, asio::detached);
  }
  test::run_on_threads(ioc, 4);
  EXPECT_EQ(done.load(), rounds);
  std::printf("timer won %d of %d races\n", timer_won.load(), rounds);
}

asio::awaitable<Changed> timer_wait(asio::steady_timer& t) {
  co_await t.async_wait(asio::use_awaitable);
  co_return Changed();
}

// A receiver cancelled many times over keeps one wait node, parked again in place: the cancelled
// waits leave nothing behind. Each cancelled `changed()` allocates no more than the same
// coroutine cancelled while waiting on a timer (what Asio's co_spawn and cancellation take).
TEST(Watch, RepeatedlyCancelledChangedLeavesNothingBehind) {
  test::Watchdog watchdog;
  auto [tx_end, rx_end] = watch::channel(0);
  auto& tx = tx_end;
  auto& rx = rx_end;
  asio::io_context ioc;
  asio::steady_timer timer(ioc, std::chrono::hours(1));
  asio::cancellation_signal cancel;
  const auto cancelled_wait = [&](asio::awaitable<Changed> wait) {
    bool aborted = false;
    asio::co_spawn(ioc, std::move(wait),
                   asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e, Changed) {
                     aborted = e != nullptr;
                   }));
    ioc.restart();
    ioc.poll();  // parked
    cancel.emit(asio::cancellation_type::terminal);
    ioc.restart();
    ioc.poll();
    return aborted;
  };
  const auto allocations_of = [&](auto make_wait) {
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(cancelled_wait(make_wait()));  // warm up Asio's caches
    const std::size_t before = test::allocation_count();
    for (int i = 0; i < 1000; ++i) EXPECT_TRUE(cancelled_wait(make_wait()));
    return test::allocation_count() - before;
  };
  const std::size_t baseline = allocations_of([&] { return timer_wait(timer); });
  const std::size_t grown = allocations_of([&] { return rx.changed(); });
  std::printf("allocations over 1000 cancelled waits: %zu for changed(), %zu on a timer\n", grown, baseline);
  if (test::allocation_counting()) {
    EXPECT_LE(grown, baseline + 10) << "cancelled changed() waits leave allocations behind";
  }
  EXPECT_FALSE(rx.has_changed().value());
  EXPECT_TRUE(tx.send(1));
  EXPECT_TRUE(changed_now(rx));
}

// A context destroyed while a receiver is parked destroys the wait; the receiver then waits on
// another context.
TEST(Watch, ReceiverParkedOnADestroyedContextWaitsAgainElsewhere) {
  test::Watchdog watchdog;
  auto [tx_end, rx_end] = watch::channel(0);
  auto& tx = tx_end;
  auto& rx = rx_end;
  {
    asio::io_context first;
    asio::co_spawn(first, [&]() -> asio::awaitable<void> { (void)co_await rx.changed(); }, asio::detached);
    first.poll();
  }
  EXPECT_TRUE(tx.send(1));  // the node is still linked: the wake-up finds nothing armed
  auto c = changed_now(rx);
  ASSERT_TRUE(c);
  EXPECT_TRUE(*c);
  asio::io_context second;
  auto fut = asio::co_spawn(second, rx.changed(), asio::use_future);
  second.poll();
  EXPECT_TRUE(tx.send(2));
  second.restart();
  second.run();
  EXPECT_TRUE(fut.get());
}

// ---------------------------------------------------------------------------------------------
// Handles

TEST(Watch, MoveConstructionAndMovedFromHandles) {
  auto [tx_end, rx_end] = watch::channel(1);
  auto tx = std::move(tx_end);
  auto rx = std::move(rx_end);
  EXPECT_TRUE(tx.send(2));
  EXPECT_EQ(*rx.borrow_and_update(), 2);
  EXPECT_EQ(tx.receiver_count(), 1u);
  EXPECT_EQ(tx.sender_count(), 1u);

  // The moved-from sender.
  auto& old_tx = tx_end;
  auto refused = old_tx.send(3);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().value, 3);
  EXPECT_EQ(old_tx.send_replace(4), 4);
  bool called = false;
  old_tx.send_modify([&](int&) { called = true; });
  EXPECT_FALSE(old_tx.send_if_modified([&](int&) { return called = true; }));
  EXPECT_FALSE(called);
  EXPECT_THROW((void)old_tx.borrow(), ChannelError);
  EXPECT_EQ(old_tx.receiver_count(), 0u);
  EXPECT_EQ(old_tx.sender_count(), 0u);
  EXPECT_TRUE(old_tx.is_closed());
  EXPECT_TRUE(test::run_sync(closed_of(old_tx)));
  EXPECT_FALSE(old_tx.same_channel(tx));
  auto orphan = old_tx.subscribe();
  EXPECT_FALSE(orphan.has_changed());
  EXPECT_EQ(tx.receiver_count(), 1u);

  // The moved-from receiver.
  auto& old_rx = rx_end;
  EXPECT_EQ(old_rx.has_changed().error(), watch::RecvError::closed);
  auto c = changed_now(old_rx);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->error(), watch::RecvError::closed);
  auto w = test::run_sync([&]() -> asio::awaitable<bool> {
    auto r = co_await old_rx.wait_for([](int) { return true; });
    co_return r.has_value();
  }());
  EXPECT_FALSE(w);
  EXPECT_THROW((void)old_rx.borrow(), ChannelError);
  EXPECT_THROW((void)old_rx.borrow_and_update(), ChannelError);
  old_rx.mark_changed();
  old_rx.mark_unchanged();
  EXPECT_FALSE(old_rx.same_channel(rx));
  EXPECT_FALSE(old_rx.same_channel(orphan));
  EXPECT_FALSE(rx.same_channel(old_tx));

  // Both can be assigned to and used again.
  old_rx = rx;
  old_tx = tx;
  EXPECT_TRUE(old_tx.send(5));
  EXPECT_EQ(*old_rx.borrow_and_update(), 5);
  EXPECT_EQ(tx.receiver_count(), 2u);
  EXPECT_EQ(tx.sender_count(), 2u);
}

TEST(Watch, MoveAssignmentLeavesTheOldChannelFirst) {
  Counted::reset();
  {
    auto [tx1, rx1] = watch::channel(Counted(1));
    auto [tx2, rx2] = watch::channel(Counted(2));
    EXPECT_TRUE(tx2.send(Counted(22)));
    rx1 = std::move(rx2);  // channel 1 loses its only receiver
    EXPECT_TRUE(tx1.is_closed());
    EXPECT_EQ(rx1.borrow()->id, 22);
    EXPECT_TRUE(rx1.has_changed().value());  // what rx2 had seen came along
    EXPECT_EQ(tx2.receiver_count(), 1u);

    auto [tx3, rx3] = watch::channel(Counted(3));
    tx2 = std::move(tx3);  // channel 2 loses its only sender: rx1 sees the end
    EXPECT_FALSE(rx1.has_changed());
    EXPECT_TRUE(tx2.send(Counted(33)));
    EXPECT_EQ(rx3.borrow_and_update()->id, 33);

    // Copy assignment: also leaves the old channel first.
    auto [tx4, rx4] = watch::channel(Counted(4));
    rx3 = rx4;
    EXPECT_TRUE(tx2.is_closed());
    EXPECT_EQ(tx4.receiver_count(), 2u);
    auto [tx5, rx5] = watch::channel(Counted(5));
    tx4 = tx5;
    EXPECT_FALSE(rx4.has_changed());  // channel 4's only sender left
    EXPECT_EQ(tx5.sender_count(), 2u);
    EXPECT_EQ(Counted::alive.load(), 5);
  }
  EXPECT_EQ(Counted::alive.load(), 0);
}

TEST(Watch, SelfAssignmentDoesNothing) {
  auto [tx, rx] = watch::channel(1);
  EXPECT_TRUE(tx.send(2));
  auto& tx_self = tx;
  auto& rx_self = rx;
  tx = tx_self;
  rx = rx_self;
  tx = std::move(tx_self);
  rx = std::move(rx_self);
  EXPECT_EQ(tx.sender_count(), 1u);
  EXPECT_EQ(tx.receiver_count(), 1u);
  EXPECT_TRUE(rx.has_changed().value());  // the version seen was kept
  EXPECT_TRUE(tx.send(3));
  EXPECT_EQ(*rx.borrow_and_update(), 3);
}

// ---------------------------------------------------------------------------------------------
// Stress

// One sender thread publishes 0..N; receivers on a multi-threaded io_context await `changed()` and
// `borrow_and_update()`. Each sees a non-decreasing sequence that ends at N: no wake-up is lost.
// The sender starts once every receiver has looked at the initial value, so each sees changes.
TEST(Watch, ReceiversOnSeveralThreadsSeeTheLastValue) {
  test::Watchdog watchdog;
  constexpr int receivers = 6;
  constexpr int last = static_cast<int>(test::scaled(200'000));
  auto [tx_end, rx_end] = watch::channel(0);
  asio::io_context ioc;
  std::vector<int> final_seen(receivers, -1);
  std::vector<int> changes(receivers, 0);
  std::atomic<int> out_of_order{0};
  std::atomic<int> started{0};
  for (int k = 0; k < receivers; ++k) {
    asio::co_spawn(ioc, [&, k, rx = rx_end]() mutable -> asio::awaitable<void> {
      int prev = *rx.borrow_and_update();
      started.fetch_add(1);
      for (;;) {
        const Changed c = co_await rx.changed();
        if (!c) break;
        const int now = *rx.borrow_and_update();
        if (now < prev) ++out_of_order;
        prev = now;
        ++changes[static_cast<std::size_t>(k)];
      }
      final_seen[static_cast<std::size_t>(k)] = prev;
    }, asio::detached);
  }
  { auto drop = std::move(rx_end); }
  std::thread sender([&started, tx = std::move(tx_end)]() mutable {
    while (started.load() < receivers) std::this_thread::yield();
    for (int i = 1; i <= last; ++i) {
      ASSERT_TRUE(tx.send(i));
      if (i % 1024 == 0) std::this_thread::yield();
    }
    auto drop = std::move(tx);  // closes: the receivers end after seeing `last`
  });
  test::run_on_threads(ioc, 3);
  sender.join();
  EXPECT_EQ(out_of_order.load(), 0);
  for (int k = 0; k < receivers; ++k) {
    EXPECT_EQ(final_seen[static_cast<std::size_t>(k)], last) << "receiver " << k;
    EXPECT_GT(changes[static_cast<std::size_t>(k)], 0) << "receiver " << k;
  }
}

// Several sender copies modify at once from their threads; receivers see every increment's
// effect eventually: the final count, and never a decrease.
TEST(Watch, ConcurrentSendModifyFromSenderCopies) {
  test::Watchdog watchdog;
  constexpr int senders = 3;
  constexpr int per_sender = static_cast<int>(test::scaled(50'000));
  const int total = senders * per_sender;
  auto [tx_end, rx_end] = watch::channel(0);
  asio::io_context ioc;
  constexpr int receivers = 3;
  std::vector<int> final_seen(receivers, -1);
  std::atomic<int> out_of_order{0};
  for (int k = 0; k < receivers; ++k) {
    asio::co_spawn(ioc, [&, k, rx = rx_end]() mutable -> asio::awaitable<void> {
      int prev = 0;
      for (;;) {
        auto r = co_await rx.wait_for([&](int v) { return v > prev; });
        if (!r) break;
        const int now = **r;
        if (now < prev) ++out_of_order;
        prev = now;
      }
      final_seen[static_cast<std::size_t>(k)] = prev;
    }, asio::detached);
  }
  { auto drop = std::move(rx_end); }
  std::vector<std::thread> threads;
  for (int s = 0; s < senders; ++s) {
    threads.emplace_back([tx = tx_end]() {
      for (int i = 0; i < per_sender; ++i) tx.send_modify([](int& v) { ++v; });
    });
  }
  { auto drop = std::move(tx_end); }
  test::run_on_threads(ioc, 2);
  for (auto& t : threads) t.join();
  EXPECT_EQ(out_of_order.load(), 0);
  for (int k = 0; k < receivers; ++k) EXPECT_EQ(final_seen[static_cast<std::size_t>(k)], total) << "receiver " << k;
}

// Receivers copied, subscribed and destroyed on several threads while the sender awaits
// `closed()` and sends: `closed()` completes once, after the last of them is gone.
TEST(Watch, ReceiversComingAndGoingOnThreadsEndInClosed) {
  test::Watchdog watchdog;
  const int rounds = static_cast<int>(test::scaled(200));
  for (int round = 0; round < rounds; ++round) {
    auto [tx_end, rx_end] = watch::channel(0);
    auto& tx = tx_end;
    asio::io_context ioc;
    auto closed = asio::co_spawn(ioc, closed_of(tx), asio::use_future);
    std::thread waiter([&ioc] { ioc.run(); });
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([rx = t == 0 ? std::move(rx_end) : tx.subscribe(), &tx]() mutable {
        for (int i = 0; i < 20; ++i) {
          auto copy = rx;
          (void)tx.send(i);
          (void)copy.has_changed();
        }
      });
    }
    for (auto& t : threads) t.join();
    waiter.join();
    EXPECT_TRUE(closed.get());
    EXPECT_TRUE(tx.is_closed());
  }
}

}  // namespace
}  // namespace watch_test
