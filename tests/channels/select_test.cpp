// swarmsync::select and the receivers' wait_ready: every kind of branch wins, ended channels are
// reported, the timer wins when nothing comes, a cancelled select consumes nothing, move-only and
// counted payloads, fairness, allocations, and races on multi-threaded io_contexts without a
// strand in which every value must arrive exactly once and in order.

#include <swarmsync/channels/select.hpp>

#include "support/allocation_counter.hpp"
#include "support/async.hpp"
#include "support/counted.hpp"
#include "support/races.hpp"
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
#include <boost/asio/system_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace select_test {

namespace {

using namespace swarmsync;
using namespace boost::asio::experimental::awaitable_operators;
using namespace std::chrono_literals;
using swarmsync::test::Counted;
using swarmsync::test::InOrder;
using swarmsync::test::PacedProducer;
using swarmsync::test::run_on_threads;
using swarmsync::test::run_sync;
using swarmsync::test::scaled;
using swarmsync::test::Watchdog;
using Clock = std::chrono::steady_clock;

// The result shapes the header documents.
static_assert(std::is_same_v<SelectResult<mpsc::Receiver<int>, broadcast::Receiver<int>, oneshot::Receiver<int>,
                                          asio::steady_timer>,
                             std::variant<std::optional<int>, Result<int, broadcast::RecvError>,
                                          Result<int, oneshot::RecvError>, TimerFired>>);
static_assert(Selectable<asio::system_timer>);
static_assert(!Selectable<int>);
static_assert(!Selectable<mpsc::UnboundedSender<int>>);

// A value sent in the context-destruction race.
constexpr int round_value = 77;

// A timer that does not expire during a test.
asio::steady_timer far_timer(asio::any_io_executor ex) { return asio::steady_timer(ex, 1h); }

// Whether `e` holds `system_error(operation_aborted)`.
bool aborted(const std::exception_ptr& e) {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const boost::system::system_error& err) {
    return err.code() == asio::error::operation_aborted;
  } catch (...) {
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Each kind of branch wins

TEST(Select, AnMpscBranchWinsWithItsValueAndTheOthersKeepTheirs) {
  auto [atx_end, arx_end] = mpsc::unbounded_channel<int>();
  auto [btx_end, brx_end] = mpsc::channel<int>(4);
  auto& atx = atx_end;
  auto& arx = arx_end;
  auto& btx = btx_end;
  auto& brx = brx_end;
  ASSERT_TRUE(btx.try_send(7));
  run_sync([&]() -> asio::awaitable<void> {
    auto timer = far_timer(co_await asio::this_coro::executor);
    auto r = co_await swarmsync::select(arx, brx, timer);
    EXPECT_EQ(r.index(), 1u);
    if (r.index() == 1) {
      EXPECT_EQ(std::get<1>(r), std::optional<int>(7));
    }
    // Parked first, then woken by a send from another thread.
    std::thread sender([&atx] {
      std::this_thread::sleep_for(2ms);
      atx.send(5).value();
    });
    auto r2 = co_await swarmsync::select(arx, brx, timer);
    sender.join();
    EXPECT_EQ(r2.index(), 0u);
    if (r2.index() == 0) {
      EXPECT_EQ(std::get<0>(r2), std::optional<int>(5));
    }
    EXPECT_EQ(timer.cancel(), 0u) << "select left a wait on the timer";
  }());
  EXPECT_EQ(arx.try_recv().error(), mpsc::TryRecvError::empty);
  EXPECT_EQ(brx.try_recv().error(), mpsc::TryRecvError::empty);
}

TEST(Select, ABroadcastBranchWinsWithItsValue) {
  auto [mtx_end, mrx_end] = mpsc::unbounded_channel<int>();
  auto [tx_end, rx_end] = broadcast::channel<std::string>(4);
  auto& mrx = mrx_end;
  auto& tx = tx_end;
  auto& rx = rx_end;
  auto other = tx.subscribe();
  tx.send("first").value();
  run_sync([&]() -> asio::awaitable<void> {
    auto timer = far_timer(co_await asio::this_coro::executor);
    auto r = co_await swarmsync::select(mrx, rx, timer);
    EXPECT_EQ(r.index(), 1u);
    if (r.index() == 1) {
      auto& got = std::get<1>(r);
      EXPECT_TRUE(got && *got == "first");
    }
    std::thread sender([&tx] {
      std::this_thread::sleep_for(2ms);
      tx.send("second").value();
    });
    auto r2 = co_await swarmsync::select(mrx, rx, timer);
    sender.join();
    EXPECT_EQ(r2.index(), 1u);
    if (r2.index() == 1) {
      auto& got = std::get<1>(r2);
      EXPECT_TRUE(got && *got == "second");
    }
  }());
  EXPECT_EQ(other.len(), 2u) << "the other subscriber sees both values";
  EXPECT_EQ(rx.try_recv().error().kind, broadcast::RecvError::empty);
}

TEST(Select, AOneshotBranchWinsWithItsValue) {
  auto [mtx_end, mrx_end] = mpsc::unbounded_channel<int>();
  auto [tx_end, rx_end] = oneshot::channel<int>();
  auto& mrx = mrx_end;
  auto& rx = rx_end;
  std::thread sender([tx = std::move(tx_end)]() mutable {
    std::this_thread::sleep_for(2ms);
    (void)std::move(tx).send(42);
  });
  run_sync([&]() -> asio::awaitable<void> {
    auto timer = far_timer(co_await asio::this_coro::executor);
    auto r = co_await swarmsync::select(mrx, rx, timer);
    EXPECT_EQ(r.index(), 1u);
    if (r.index() == 1) {
      auto& got = std::get<1>(r);
      EXPECT_TRUE(got && *got == 42);
    }
  }());
  sender.join();
  auto again = rx.try_recv();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), oneshot::TryRecvError::closed) << "the value was taken once";
  EXPECT_EQ(mrx.try_recv().error(), mpsc::TryRecvError::empty);
}

TEST(Select, TheTimerWinsWhenNothingComesAndNothingIsConsumed) {
  Watchdog watchdog;
  auto [atx_end, arx_end] = mpsc::unbounded_channel<int>();
  auto [btx_end, brx_end] = broadcast::channel<int>(4);
  auto [otx_end, orx_end] = oneshot::channel<int>();
  auto& atx = atx_end;
  auto& arx = arx_end;
  auto& btx = btx_end;
  auto& brx = brx_end;
  auto& orx = orx_end;
  run_sync([&]() -> asio::awaitable<void> {
    asio::steady_timer timer(co_await asio::this_coro::executor, 3ms);
    auto r = co_await swarmsync::select(arx, brx, orx, timer);
    EXPECT_EQ(r.index(), 3u);
    EXPECT_GE(Clock::now(), timer.expiry());
    // An expired timer is ready at once, each time.
    auto again = co_await swarmsync::select_biased(timer, arx);
    EXPECT_EQ(again.index(), 0u);
  }());
  // Every receiver is whole: values sent now are received.
  atx.send(1).value();
  btx.send(2).value();
  EXPECT_TRUE(std::move(otx_end).send(3));
  EXPECT_EQ(run_sync(arx.recv()), std::optional<int>(1));
  EXPECT_EQ(run_sync(brx.recv()).value(), 2);
  EXPECT_EQ(run_sync(orx.recv()).value(), 3);
}

// ---------------------------------------------------------------------------------------------
// Ended channels

TEST(Select, EndedChannelsAreReportedAsEnded) {
  Watchdog watchdog;
  {
    auto [tx, rx_end] = mpsc::unbounded_channel<int>();
    auto& rx = rx_end;
    tx.send(1).value();
    { auto gone = std::move(tx); }
    run_sync([&]() -> asio::awaitable<void> {
      auto timer = far_timer(co_await asio::this_coro::executor);
      auto first = co_await swarmsync::select(rx, timer);
      EXPECT_EQ(first.index(), 0u);
      if (first.index() == 0) {
        EXPECT_EQ(std::get<0>(first), std::optional<int>(1)) << "what was queued comes first";
      }
      auto end = co_await swarmsync::select(rx, timer);
      EXPECT_EQ(end.index(), 0u);
      if (end.index() == 0) {
        EXPECT_EQ(std::get<0>(end), std::nullopt);
      }
    }());
  }
  {
    auto [tx, rx_end] = broadcast::channel<int>(4);
    auto& rx = rx_end;
    { auto gone = std::move(tx); }
    auto r = run_sync([&]() -> asio::awaitable<SelectResult<broadcast::Receiver<int>, asio::steady_timer>> {
      auto timer = far_timer(co_await asio::this_coro::executor);
      co_return co_await swarmsync::select(rx, timer);
    }());
    ASSERT_EQ(r.index(), 0u);
    ASSERT_FALSE(std::get<0>(r));
    EXPECT_EQ(std::get<0>(r).error().kind, broadcast::RecvError::closed);
  }
  {
    auto [tx, rx_end] = oneshot::channel<int>();
    auto& rx = rx_end;
    { auto gone = std::move(tx); }
    auto r = run_sync([&]() -> asio::awaitable<SelectResult<oneshot::Receiver<int>, asio::steady_timer>> {
      auto timer = far_timer(co_await asio::this_coro::executor);
      co_return co_await swarmsync::select(rx, timer);
    }());
    ASSERT_EQ(r.index(), 0u);
    ASSERT_FALSE(std::get<0>(r));
    EXPECT_EQ(std::get<0>(r).error(), oneshot::RecvError::closed);
  }
}

// A select parked on three channels wakes with the end of each when its last sender goes on
// another thread.
TEST(Select, AParkedSelectWakesWhenAChannelEndsOnAnotherThread) {
  Watchdog watchdog;
  for (int kind = 0; kind < 3; ++kind) {
    auto [mtx_end, mrx_end] = mpsc::unbounded_channel<int>();
    auto [btx_end, brx_end] = broadcast::channel<int>(4);
    auto [otx_end, orx_end] = oneshot::channel<int>();
    auto& mtx = mtx_end;
    auto& mrx = mrx_end;
    auto& btx = btx_end;
    auto& brx = brx_end;
    auto& otx = otx_end;
    auto& orx = orx_end;
    asio::io_context ioc;
    std::atomic<bool> parked{false};
    auto done = asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<std::size_t> {
          auto timer = far_timer(co_await asio::this_coro::executor);
          parked = true;
          auto r = co_await swarmsync::select(mrx, brx, orx, timer);
          if (r.index() == 0) {
            EXPECT_EQ(std::get<0>(r), std::nullopt);
          } else if (r.index() == 1) {
            EXPECT_EQ(std::get<1>(r).error().kind, broadcast::RecvError::closed);
          } else if (r.index() == 2) {
            EXPECT_EQ(std::get<2>(r).error(), oneshot::RecvError::closed);
          }
          co_return r.index();
        },
        asio::use_future);
    std::thread leaver([&parked, &mtx, &btx, &otx, kind] {
      while (!parked) std::this_thread::yield();
      std::this_thread::sleep_for(1ms);
      if (kind == 0) {
        auto gone = std::move(mtx);
      } else if (kind == 1) {
        auto gone = std::move(btx);
      } else {
        auto gone = std::move(otx);
      }
    });
    run_on_threads(ioc, 2);
    leaver.join();
    EXPECT_EQ(done.get(), static_cast<std::size_t>(kind));
  }
}

TEST(Select, ALaggedBroadcastReceiverIsReportedThenResumes) {
  auto [tx_end, rx_end] = broadcast::channel<int>(2);
  auto& tx = tx_end;
  auto& rx = rx_end;
  for (int i = 0; i < 5; ++i) tx.send(i).value();
  run_sync([&]() -> asio::awaitable<void> {
    auto timer = far_timer(co_await asio::this_coro::executor);
    auto r = co_await swarmsync::select(rx, timer);
    EXPECT_EQ(r.index(), 0u);
    if (r.index() == 0) {
      auto& got = std::get<0>(r);
      EXPECT_FALSE(got);
      if (!got) {
        EXPECT_EQ(got.error().kind, broadcast::RecvError::lagged);
        EXPECT_EQ(got.error().skipped, 3u);
      }
    }
    auto next = co_await swarmsync::select(rx, timer);
    EXPECT_EQ(next.index(), 0u);
    if (next.index() == 0) {
      EXPECT_EQ(std::get<0>(next).value(), 3);
    }
  }());
}

// ---------------------------------------------------------------------------------------------
// Cancelling the select consumes nothing

// A parked select cancelled through its slot throws `operation_aborted`; a value sent in the
// same handler as the cancellation (so after the select saw it ready, before it could take it)
// stays in the channel.
TEST(Select, ACancelledSelectThrowsAndConsumesNothingEvenWhenABranchBecameReady) {
  Watchdog watchdog;
  for (int order = 0; order < 3; ++order) {
    auto [atx_end, arx_end] = mpsc::unbounded_channel<int>();
    auto [btx_end, brx_end] = broadcast::channel<int>(4);
    auto& atx = atx_end;
    auto& arx = arx_end;
    auto& btx = btx_end;
    auto& brx = brx_end;
    asio::io_context ioc;
    asio::cancellation_signal cancel;
    std::exception_ptr error;
    bool completed = false;
    bool returned = false;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          auto timer = far_timer(co_await asio::this_coro::executor);
          (void)co_await swarmsync::select(arx, brx, timer);
          returned = true;
        },
        asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e) {
          error = e;
          completed = true;
        }));
    ioc.poll();  // the select parks
    ASSERT_FALSE(completed);
    asio::post(ioc, [&, order] {
      if (order == 0) {
        atx.send(1).value();  // wakes the select's wait on `arx`, then the cancellation comes
        btx.send(2).value();
        cancel.emit(asio::cancellation_type::terminal);
      } else if (order == 1) {
        cancel.emit(asio::cancellation_type::terminal);
        atx.send(1).value();
        btx.send(2).value();
      } else {
        cancel.emit(asio::cancellation_type::terminal);  // nothing sent: a plain cancellation
      }
    });
    ioc.run();
    EXPECT_TRUE(completed);
    EXPECT_FALSE(returned) << "order " << order;
    EXPECT_TRUE(aborted(error)) << "order " << order;
    if (order < 2) {
      EXPECT_EQ(arx.try_recv().value(), 1) << "order " << order;
      EXPECT_EQ(brx.try_recv().value(), 2) << "order " << order;
    }
    // The receivers are usable again, by a select or a receive.
    atx.send(3).value();
    EXPECT_EQ(run_sync([&]() -> asio::awaitable<int> {
                auto timer = far_timer(co_await asio::this_coro::executor);
                auto r = co_await swarmsync::select(arx, brx, timer);
                co_return r.index() == 0 ? std::get<0>(r).value_or(-1) : -1;
              }()),
              3);
  }
}

// The select as the losing branch of `||` against a timer, on one thread: it consumes nothing.
TEST(Select, ASelectThatLosesAnOrConsumesNothing) {
  auto [atx_end, arx_end] = mpsc::unbounded_channel<int>();
  auto [otx_end, orx_end] = oneshot::channel<int>();
  auto& atx = atx_end;
  auto& arx = arx_end;
  auto& orx = orx_end;
  run_sync([&]() -> asio::awaitable<void> {
    const auto ex = co_await asio::this_coro::executor;
    auto far = far_timer(ex);
    for (int i = 0; i < 20; ++i) {
      asio::steady_timer deadline(ex, std::chrono::microseconds(i % 4 * 200));
      // `||` flattens the select's variant: the timer's result comes after the select's three.
      auto r = co_await (swarmsync::select(arx, orx, far) || deadline.async_wait(asio::use_awaitable));
      EXPECT_EQ(r.index(), 3u);
    }
    // A value that is already there when the two start: the `||` on one thread lets one win and
    // the other consume nothing (the select yields once before taking, as `recv()` does).
    atx.send(9).value();
    asio::steady_timer now(ex, 0s);
    auto r = co_await (swarmsync::select(arx, orx, far) || now.async_wait(asio::use_awaitable));
    if (r.index() == 3) {
      EXPECT_EQ(arx.try_recv().value(), 9) << "the losing select left the value";
    } else {
      EXPECT_EQ(r.index(), 0u);
      if (r.index() == 0) {
        EXPECT_EQ(std::get<0>(r), std::optional<int>(9));
      }
    }
    EXPECT_EQ(arx.try_recv().error(), mpsc::TryRecvError::empty);
  }());
  EXPECT_TRUE(std::move(otx_end).send(4));
  EXPECT_EQ(run_sync(orx.recv()).value(), 4);
}

// ---------------------------------------------------------------------------------------------
// Payloads

TEST(Select, MoveOnlyPayloads) {
  auto [atx_end, arx_end] = mpsc::unbounded_channel<std::unique_ptr<int>>();
  auto [otx_end, orx_end] = oneshot::channel<std::unique_ptr<int>>();
  auto& atx = atx_end;
  auto& arx = arx_end;
  auto& orx = orx_end;
  atx.send(std::make_unique<int>(1)).value();
  EXPECT_TRUE(std::move(otx_end).send(std::make_unique<int>(2)));
  int sum = 0;
  run_sync([&]() -> asio::awaitable<void> {
    auto timer = far_timer(co_await asio::this_coro::executor);
    // Once its value is taken, `orx` is ready with `closed` (as its `recv()`): a fair select may
    // report that before `arx`'s value, so this goes on until both values are in.
    for (int i = 0; i < 100 && sum != 3; ++i) {
      auto r = co_await swarmsync::select(arx, orx, timer);
      if (r.index() == 0) {
        auto& v = std::get<0>(r);
        if (v && *v) sum += **v;
      } else if (r.index() == 1) {
        auto& v = std::get<1>(r);
        if (v && *v) sum += **v;
      }
    }
    // Now only `orx`'s end is ready (its value was received) and nothing from `arx`.
    auto last = co_await swarmsync::select_biased(arx, orx, timer);
    EXPECT_EQ(last.index(), 1u);
    if (last.index() == 1) {
      EXPECT_EQ(std::get<1>(last).error(), oneshot::RecvError::closed);
    }
  }());
  EXPECT_EQ(sum, 3);
}

// Every counted value is constructed and destroyed in balance: each value received once, the
// ones left in channels destroyed with them, none duplicated, none leaked, also across cancelled
// selects and a select destroyed with its context.
TEST(Select, CountedPayloadsAreNeitherDuplicatedNorLeaked) {
  Watchdog watchdog;
  Counted::reset();
  {
    auto [atx_end, arx_end] = mpsc::channel<Counted>(8);
    auto [btx_end, brx_end] = broadcast::channel<Counted>(8);
    auto [otx_end, orx_end] = oneshot::channel<Counted>();
    auto& atx = atx_end;
    auto& arx = arx_end;
    auto& btx = btx_end;
    auto& brx = brx_end;
    auto& orx = orx_end;
    std::vector<std::int64_t> got;
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(atx.try_send(Counted(i)));
    for (int i = 10; i < 14; ++i) btx.send(Counted(i)).value();
    EXPECT_TRUE(std::move(otx_end).send(Counted(100)));
    run_sync([&]() -> asio::awaitable<void> {
      const auto ex = co_await asio::this_coro::executor;
      auto timer = far_timer(ex);
      for (int i = 0; i < 6; ++i) {
        auto r = co_await swarmsync::select(arx, brx, orx, timer);
        std::visit(
            [&](auto& v) {
              if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::optional<Counted>>) {
                if (v) got.push_back(v->id);
              } else if constexpr (!std::is_same_v<std::decay_t<decltype(v)>, TimerFired>) {
                if (v) got.push_back(v->id);
              }
            },
            r);
      }
      // Cancelled selects on what is left: nothing taken.
      for (int i = 0; i < 5; ++i) {
        asio::steady_timer soon(ex, 0s);
        // `||` flattens the select's variant and appends the timer's `std::monostate`.
        auto r = co_await (swarmsync::select(arx, brx, orx, timer) || soon.async_wait(asio::use_awaitable));
        std::visit(
            [&](auto& v) {
              using V = std::decay_t<decltype(v)>;
              if constexpr (std::is_same_v<V, std::optional<Counted>>) {
                if (v) got.push_back(v->id);
              } else if constexpr (!std::is_same_v<V, TimerFired> && !std::is_same_v<V, std::monostate>) {
                if (v) got.push_back(v->id);
              }
            },
            r);
      }
    }());
    // A select parked when its context is destroyed: the values stay in the channels.
    {
      auto [ctx_end, crx_end] = mpsc::unbounded_channel<Counted>();
      auto& crx = crx_end;
      bool frame_destroyed = false;
      {
        asio::io_context ioc;
        struct Guard {
          bool& flag;
          ~Guard() { flag = true; }
        };
        asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<void> {
              Guard guard{frame_destroyed};
              auto timer = far_timer(co_await asio::this_coro::executor);
              (void)co_await swarmsync::select(crx, timer);
              ADD_FAILURE() << "the select completed";
            },
            asio::detached);
        ioc.poll();
        EXPECT_FALSE(frame_destroyed);
      }
      EXPECT_TRUE(frame_destroyed) << "the parked select's coroutine was destroyed with its context";
      ctx_end.send(Counted(1000)).value();
      EXPECT_EQ(crx.try_recv().value().id, 1000);
    }
    std::sort(got.begin(), got.end());
    const std::size_t received = got.size();
    got.erase(std::unique(got.begin(), got.end()), got.end());
    EXPECT_EQ(got.size(), received) << "a value was received twice";
    // What was received plus what is left is what was sent.
    std::size_t left = 0;
    while (arx.try_recv()) ++left;
    while (brx.try_recv()) ++left;
    if (orx.try_recv()) ++left;
    EXPECT_EQ(received + left, 9u);
  }
  EXPECT_EQ(Counted::alive.load(), 0) << "a value leaked or was destroyed twice";
}

// A select parked in a context destroyed while another thread sends to it, at about the same
// instant: the wake-up lands in the context's queue before it goes (and is destroyed with it) or
// finds the select already withdrawn; the coroutine is destroyed with its context, and the value,
// never taken, is still in the channel. (Under the sanitizers a use after free or a leak shows.)
TEST(Select, ASelectWhoseContextIsDestroyedWhileItIsWokenLosesNothing) {
  Watchdog watchdog;
  const int rounds = 2000;
  std::mt19937 rng(9);
  int destroyed = 0;
  for (int round = 0; round < rounds; ++round) {
    auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
    auto [btx_end, brx_end] = broadcast::channel<int>(2);
    auto& tx = tx_end;
    auto& rx = rx_end;
    auto& brx = brx_end;
    bool frame_destroyed = false;
    std::atomic<bool> go{false};
    std::atomic<unsigned> spun{0};  // a delay the compiler cannot drop
    const unsigned spin = rng() % 512;
    std::thread sender([&tx, &go, &spun, spin] {
      while (!go.load(std::memory_order_acquire)) {
      }
      for (unsigned i = 0; i < spin; ++i) spun.fetch_add(1, std::memory_order_relaxed);
      tx.send(round_value).value();
    });
    {
      asio::io_context ioc;
      struct Guard {
        bool& flag;
        ~Guard() { flag = true; }
      };
      asio::co_spawn(
          ioc,
          [&]() -> asio::awaitable<void> {
            Guard guard{frame_destroyed};
            auto timer = far_timer(co_await asio::this_coro::executor);
            (void)co_await swarmsync::select(rx, brx, timer);
            ADD_FAILURE() << "the select completed in a context that no longer runs";
          },
          asio::detached);
      ioc.poll();
      go.store(true, std::memory_order_release);
    }
    sender.join();
    destroyed += frame_destroyed;
    auto v = rx.try_recv();
    ASSERT_TRUE(v) << "round " << round << ": the value was lost";
    EXPECT_EQ(*v, round_value);
  }
  EXPECT_EQ(destroyed, rounds);
}

// ---------------------------------------------------------------------------------------------
// Fairness

TEST(Select, AFairSelectLetsEveryReadyBranchWinAndABiasedOneTakesTheFirst) {
  auto [atx_end, arx_end] = mpsc::unbounded_channel<int>();
  auto [btx_end, brx_end] = mpsc::unbounded_channel<int>();
  auto& atx = atx_end;
  auto& arx = arx_end;
  auto& btx = btx_end;
  auto& brx = brx_end;
  constexpr int rounds = 2000;
  for (int i = 0; i < 2 * rounds; ++i) {
    atx.send(i).value();
    btx.send(i).value();
  }
  int wins[3] = {0, 0, 0};
  int biased_wins[3] = {0, 0, 0};
  run_sync([&]() -> asio::awaitable<void> {
    auto timer = far_timer(co_await asio::this_coro::executor);
    for (int i = 0; i < rounds; ++i) {
      auto r = co_await swarmsync::select(arx, brx, timer);
      ++wins[r.index()];
    }
    for (int i = 0; i < rounds / 2; ++i) {
      auto r = co_await swarmsync::select_biased(arx, brx, timer);
      ++biased_wins[r.index()];
    }
  }());
  // Each branch is checked first with probability 1/3 (the timer's third falls to `arx`): the
  // chance that one never wins in 2000 rounds is (2/3)^2000.
  EXPECT_GT(wins[0], 0);
  EXPECT_GT(wins[1], 0);
  EXPECT_EQ(biased_wins[0], rounds / 2);
  EXPECT_EQ(biased_wins[1], 0);
}

// ---------------------------------------------------------------------------------------------
// wait_ready

// A wait woken by a value that is gone by the time it resumes (taken here, between the wake-up
// and the resumption) waits again: it completes only once something is there.
TEST(WaitReady, AWakeUpForAValueAlreadyTakenWaitsAgain) {
  auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
  auto& tx = tx_end;
  auto& rx = rx_end;
  asio::io_context ioc;
  bool ready = false;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        co_await rx.wait_ready();
        ready = true;
      },
      asio::detached);
  ioc.poll();
  ASSERT_FALSE(ready);
  tx.send(1).value();            // completes the parked wait: its continuation is queued
  EXPECT_EQ(rx.try_recv().value(), 1);  // and the value is taken before it runs
  ioc.poll();
  EXPECT_FALSE(ready) << "wait_ready completed with nothing there";
  tx.send(2).value();
  ioc.poll();
  EXPECT_TRUE(ready);
  EXPECT_EQ(rx.try_recv().value(), 2) << "wait_ready consumed nothing";
}

TEST(WaitReady, EachReceiverCompletesWhenReadyOrEndedAndConsumesNothing) {
  Watchdog watchdog;
  auto [mtx_end, mrx_end] = mpsc::channel<int>(2);
  auto [btx_end, brx_end] = broadcast::channel<int>(2);
  auto [otx_end, orx_end] = oneshot::channel<int>();
  auto& mtx = mtx_end;
  auto& mrx = mrx_end;
  auto& btx = btx_end;
  auto& brx = brx_end;
  auto& otx = otx_end;
  auto& orx = orx_end;
  std::thread sender([&mtx, &btx, &otx] {
    std::this_thread::sleep_for(1ms);
    mtx.try_send(1).value();
    btx.send(2).value();
    (void)std::move(otx).send(3);
  });
  run_sync([&]() -> asio::awaitable<void> {
    co_await mrx.wait_ready();
    co_await brx.wait_ready();
    co_await orx.wait_ready();
  }());
  sender.join();
  EXPECT_EQ(mrx.try_recv().value(), 1);
  EXPECT_EQ(brx.try_recv().value(), 2);
  EXPECT_EQ(orx.try_recv().value(), 3);
  // Ended channels are ready at once.
  { auto gone = std::move(mtx_end); }
  { auto gone = std::move(btx_end); }
  run_sync([&]() -> asio::awaitable<void> {
    co_await mrx.wait_ready();
    co_await brx.wait_ready();
    co_await orx.wait_ready();
    auto moved = std::move(orx);
    co_await orx.wait_ready();  // a moved-from oneshot receiver: at once
  }());
  EXPECT_EQ(mrx.try_recv().error(), mpsc::TryRecvError::disconnected);
  EXPECT_EQ(brx.try_recv().error().kind, broadcast::RecvError::closed);
}

TEST(WaitReady, ACancelledWaitThrowsAndTheReceiverStaysUsable) {
  auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
  auto& tx = tx_end;
  auto& rx = rx_end;
  run_sync([&]() -> asio::awaitable<void> {
    const auto ex = co_await asio::this_coro::executor;
    for (int i = 0; i < 10; ++i) {
      asio::steady_timer timer(ex, std::chrono::microseconds(i * 100));
      auto r = co_await (rx.wait_ready(asio::use_awaitable) || timer.async_wait(asio::use_awaitable));
      EXPECT_EQ(r.index(), 1u);
    }
    tx.send(5).value();
    co_await rx.wait_ready();
    EXPECT_EQ(co_await rx.recv(), std::optional<int>(5));
  }());
}

// ---------------------------------------------------------------------------------------------
// Allocations

// A select that finds a value allocates nothing. One that waits allocates nothing through
// operator new in steady state: the waits' parked handlers come from the thread's spare blocks
// (detail/parked_handler.hpp); its state, the cancellation handlers, the timer's operation and
// the coroutine frames from Asio's recycling allocator. That allocator keeps two blocks per
// purpose and thread, fewer than a select holds at once, so a select that waits takes a few
// blocks from the heap: 2 (it took 4 when the parked handlers shared Asio's blocks).
TEST(Select, SelectsAllocateNothingInSteadyState) {
  if (!test::allocation_counting())
    GTEST_SKIP() << "allocation counting needs the program's own operator new, which sanitizers replace";
  auto [atx_end, arx_end] = mpsc::unbounded_channel<int>();
  auto [btx_end, brx_end] = broadcast::channel<int>(4);
  auto& atx = atx_end;
  auto& arx = arx_end;
  auto& brx = brx_end;
  constexpr int warm_up = 1000, measured = 10000;
  std::size_t ready_allocations = 0, waiting_allocations = 0, ready_blocks = 0, waiting_blocks = 0;
  int received = 0;
  asio::io_context ioc;
  auto consumer = [&]() -> asio::awaitable<void> {
    const auto ex = co_await asio::this_coro::executor;
    auto timer = far_timer(ex);
    // A value there: taken at once.
    std::size_t before = 0, blocks_before = 0;
    for (int i = 0; i < warm_up + measured; ++i) {
      if (i == warm_up) {
        before = test::allocation_count();
        blocks_before = test::asio_block_count();
      }
      atx.send(i).value();
      auto r = co_await swarmsync::select(arx, brx, timer);
      received += r.index() == 0;
    }
    ready_allocations = test::allocation_count() - before;
    ready_blocks = test::asio_block_count() - blocks_before;
    // Nothing there: the select waits, and a coroutine on the same thread sends.
    for (int i = 0; i < warm_up + measured; ++i) {
      if (i == warm_up) {
        before = test::allocation_count();
        blocks_before = test::asio_block_count();
      }
      asio::post(ex, [&atx, i] { atx.send(i).value(); });
      auto r = co_await swarmsync::select(arx, brx, timer);
      received += r.index() == 0;
    }
    waiting_allocations = test::allocation_count() - before;
    waiting_blocks = test::asio_block_count() - blocks_before;
  };
  asio::co_spawn(ioc, consumer, asio::detached);
  ioc.run();
  EXPECT_EQ(received, 2 * (warm_up + measured));
  EXPECT_EQ(ready_allocations, 0u) << "allocations over " << measured << " selects that found a value";
  EXPECT_EQ(waiting_allocations, 0u) << "allocations over " << measured << " selects that waited";
  EXPECT_EQ(ready_blocks, 0u) << "Asio's blocks from the heap over " << measured << " selects that found a value";
  EXPECT_LE(waiting_blocks, 2u * measured) << "Asio's blocks from the heap over " << measured << " selects that waited";
  ::testing::Test::RecordProperty("waiting_asio_blocks", std::to_string(waiting_blocks));
  ::testing::Test::RecordProperty("waiting_allocations", std::to_string(waiting_allocations));
}

// ---------------------------------------------------------------------------------------------
// Races on multi-threaded io_contexts without a strand

// A producer's pace: bursts, yields and now and then a short sleep, so that the consumer finds
// values there, parks and is woken, and loses to its timer, in every mix. Sleeps are rare (a
// sleep under load lasts far longer than asked), so that the test's length follows the machine's
// load as little as it can. Every 1000th value (by default) waits, at most a second, until the
// consumer has caught up, which keeps the queues short.
class Pace {
 public:
  // `sleeps` of 64 values are followed by a sleep, half of the others by a yield; every
  // `catch_up`th value waits for the consumer.
  Pace(std::uint32_t seed, const std::atomic<std::uint64_t>& consumer_next, unsigned sleeps = 2, unsigned catch_up = 1000)
      : rng_(seed), next_(consumer_next), sleeps_(sleeps), catch_up_(catch_up) {}
  void after(std::uint64_t i) {
    if (i % catch_up_ == catch_up_ - 1) {
      // Sleeps rather than yields while it waits: a waiting producer must leave the cores to the
      // consumer it waits for.
      const auto give_up = Clock::now() + 1s;  // a consumer that lost `i` never catches up
      while (next_.load(std::memory_order_acquire) <= i && Clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      // Then a rest: the consumer, with nothing left, waits, and its timer fires meanwhile.
      std::this_thread::sleep_for(std::chrono::microseconds(20 + rng_() % 50));
    }
    const auto r = rng_() % 64;
    if (r < sleeps_) {
      std::this_thread::sleep_for(std::chrono::microseconds(1 + rng_() % 50));
    } else if (r % 2) {
      std::this_thread::yield();
    }
  }

 private:
  std::mt19937 rng_;
  const std::atomic<std::uint64_t>& next_;
  unsigned sleeps_;
  unsigned catch_up_;
};

std::chrono::microseconds short_wait(std::mt19937& rng) { return std::chrono::microseconds(rng() % 21); }

struct Tally {
  std::uint64_t selects = 0;
  std::uint64_t timer_wins = 0;
};

// Sums over the whole test binary run, for the report.
std::atomic<std::uint64_t> total_races{0};

void record(const Tally& tally) {
  total_races += tally.selects;
  ::testing::Test::RecordProperty("selects", std::to_string(tally.selects));
  ::testing::Test::RecordProperty("timer_wins", std::to_string(tally.timer_wins));
  std::printf("    %llu selects, %llu won by the timer (%llu selects in the races so far)\n",
              static_cast<unsigned long long>(tally.selects), static_cast<unsigned long long>(tally.timer_wins),
              static_cast<unsigned long long>(total_races.load()));
}

// The value or the end of one branch of a race.
template <class R>
bool see_mpsc(R& v, InOrder& t) {
  if (!v) return false;
  t.see(*v);
  return true;
}

template <class R>
bool see_broadcast(R& v, InOrder& t) {
  if (v) {
    t.see(*v);
    return true;
  }
  if (v.error().kind == broadcast::RecvError::closed) return false;
  ++t.other_errors;
  t.note("broadcast error kind " + std::to_string(v.error().kind));
  return true;
}

// Two unbounded mpsc channels and a timer of 0-20 us; once a channel ends it is replaced in the
// select by one that never gets a value (its sender is kept), so that the select keeps its shape.
asio::awaitable<void> race_two(mpsc::Receiver<std::uint64_t>& a, mpsc::Receiver<std::uint64_t>& b, InOrder& ta,
                               InOrder& tb, Tally& tally, std::uint32_t seed) {
  std::mt19937 rng(seed);
  const auto ex = co_await asio::this_coro::executor;
  auto [never_tx_a, never_a] = mpsc::unbounded_channel<std::uint64_t>();
  auto [never_tx_b, never_b] = mpsc::unbounded_channel<std::uint64_t>();
  mpsc::Receiver<std::uint64_t>* pa = &a;
  mpsc::Receiver<std::uint64_t>* pb = &b;
  while (pa == &a || pb == &b) {
    asio::steady_timer timer(ex, short_wait(rng));
    auto r = co_await swarmsync::select(*pa, *pb, timer);
    ++tally.selects;
    if (r.index() == 0) {
      if (!see_mpsc(std::get<0>(r), ta)) pa = &never_a;
    } else if (r.index() == 1) {
      if (!see_mpsc(std::get<1>(r), tb)) pb = &never_b;
    } else {
      ++tally.timer_wins;
    }
  }
}

TEST(SelectRace, TwoChannelsAndATimerOnTwoThreadsWithoutAStrandLoseNothing) {
  Watchdog watchdog;
  const std::uint64_t total = scaled(500'000);
  auto a = mpsc::unbounded_channel<std::uint64_t>();
  auto b = mpsc::unbounded_channel<std::uint64_t>();
  auto arx = std::move(a.second);
  auto brx = std::move(b.second);
  asio::io_context ioc;
  InOrder ta, tb;
  Tally tally;
  auto done = asio::co_spawn(ioc, race_two(arx, brx, ta, tb, tally, 1), asio::use_future);
  PacedProducer pa(std::move(a.first), total, Pace(11, ta.next));
  PacedProducer pb(std::move(b.first), total, Pace(12, tb.next));
  run_on_threads(ioc, 2);
  EXPECT_TRUE(pa.join()) << "a send was refused";
  EXPECT_TRUE(pb.join()) << "a send was refused";
  EXPECT_NO_THROW(done.get());
  {
    SCOPED_TRACE("channel a");
    ta.expect_all(total);
  }
  {
    SCOPED_TRACE("channel b");
    tb.expect_all(total);
  }
  record(tally);
  EXPECT_GT(tally.timer_wins, 0u) << "the timer never won: the race was not exercised";
}

// A bounded and an unbounded mpsc channel, a broadcast channel (two receivers: one in the
// select, one that must see every value too) and a timer, on four threads without a strand.
asio::awaitable<void> race_three(mpsc::Receiver<std::uint64_t>& a, mpsc::Receiver<std::uint64_t>& b,
                                 broadcast::Receiver<std::uint64_t>& c, InOrder& ta, InOrder& tb, InOrder& tc,
                                 Tally& tally, std::uint32_t seed) {
  std::mt19937 rng(seed);
  const auto ex = co_await asio::this_coro::executor;
  auto [never_tx_a, never_a] = mpsc::unbounded_channel<std::uint64_t>();
  auto [never_tx_b, never_b] = mpsc::unbounded_channel<std::uint64_t>();
  auto [never_tx_c, never_c] = broadcast::channel<std::uint64_t>(1);
  mpsc::Receiver<std::uint64_t>* pa = &a;
  mpsc::Receiver<std::uint64_t>* pb = &b;
  broadcast::Receiver<std::uint64_t>* pc = &c;
  while (pa == &a || pb == &b || pc == &c) {
    asio::steady_timer timer(ex, short_wait(rng));
    auto r = co_await swarmsync::select(*pa, *pb, *pc, timer);
    ++tally.selects;
    switch (r.index()) {
      case 0:
        if (!see_mpsc(std::get<0>(r), ta)) pa = &never_a;
        break;
      case 1:
        if (!see_mpsc(std::get<1>(r), tb)) pb = &never_b;
        break;
      case 2:
        if (!see_broadcast(std::get<2>(r), tc)) pc = &never_c;
        break;
      default:
        ++tally.timer_wins;
    }
  }
}

// The second broadcast receiver: a plain receive loop on the same io_context.
asio::awaitable<void> drain_broadcast(broadcast::Receiver<std::uint64_t>& rx, InOrder& t) {
  for (;;) {
    auto v = co_await rx.recv();
    if (!see_broadcast(v, t)) co_return;
  }
}

TEST(SelectRace, ThreeChannelKindsAndATimerOnFourThreadsWithoutAStrandLoseNothing) {
  Watchdog watchdog;
  const std::uint64_t total = scaled(300'000);
  auto a = mpsc::channel<std::uint64_t>(4);
  auto b = mpsc::unbounded_channel<std::uint64_t>();
  auto c = broadcast::channel<std::uint64_t>(total);  // room for everything: nothing can lag
  auto arx = std::move(a.second);
  auto brx = std::move(b.second);
  auto crx = std::move(c.second);
  auto crx2 = c.first.subscribe();
  asio::io_context ioc;
  InOrder ta, tb, tc, tc2;
  Tally tally;
  auto done = asio::co_spawn(ioc, race_three(arx, brx, crx, ta, tb, tc, tally, 2), asio::use_future);
  auto done2 = asio::co_spawn(ioc, drain_broadcast(crx2, tc2), asio::use_future);
  PacedProducer pa(std::move(a.first), total, Pace(21, ta.next));
  PacedProducer pb(std::move(b.first), total, Pace(22, tb.next));
  PacedProducer pc(std::move(c.first), total, Pace(23, tc.next));
  run_on_threads(ioc, 4);
  EXPECT_TRUE(pa.join()) << "a send was refused";
  EXPECT_TRUE(pb.join()) << "a send was refused";
  EXPECT_TRUE(pc.join()) << "a send was refused";
  EXPECT_NO_THROW(done.get());
  EXPECT_NO_THROW(done2.get());
  {
    SCOPED_TRACE("bounded mpsc");
    ta.expect_all(total);
  }
  {
    SCOPED_TRACE("unbounded mpsc");
    tb.expect_all(total);
  }
  {
    SCOPED_TRACE("broadcast, in the select");
    tc.expect_all(total);
  }
  {
    SCOPED_TRACE("broadcast, second receiver");
    tc2.expect_all(total);
  }
  record(tally);
  EXPECT_GT(tally.timer_wins, 0u) << "the timer never won: the race was not exercised";
}

// A oneshot per round, sent at a random moment by another thread while the consumer selects on
// it and a 0-20 us timer until it comes: every round's value arrives, once. The senders reach
// the producer through an mpsc channel.
TEST(SelectRace, OneshotsRacingATimerOnTwoThreadsWithoutAStrandLoseNothing) {
  Watchdog watchdog;
  const std::uint64_t rounds = scaled(100'000);
  auto [jobs_tx_end, jobs_rx_end] = mpsc::unbounded_channel<oneshot::Sender<std::uint64_t>>();
  auto& jobs_rx = jobs_rx_end;
  asio::io_context ioc;
  Tally tally;
  std::uint64_t received = 0, wrong = 0;
  auto consumer = [&, jobs_tx = std::move(jobs_tx_end)]() mutable -> asio::awaitable<void> {
    std::mt19937 rng(3);
    const auto ex = co_await asio::this_coro::executor;
    for (std::uint64_t round = 0; round < rounds; ++round) {
      auto [tx, rx_end] = oneshot::channel<std::uint64_t>();
      auto& rx = rx_end;
      jobs_tx.send(std::move(tx)).value();
      for (bool got = false; !got;) {
        asio::steady_timer timer(ex, short_wait(rng));
        auto r = co_await swarmsync::select(rx, timer);
        ++tally.selects;
        if (r.index() == 1) {
          ++tally.timer_wins;
          continue;
        }
        got = true;
        auto& v = std::get<0>(r);
        if (v && *v == round) ++received;
        else ++wrong;
      }
    }
  };
  auto done = asio::co_spawn(ioc, std::move(consumer), asio::use_future);
  std::thread producer([&jobs_rx] {
    std::mt19937 rng(4);
    for (std::uint64_t round = 0;; ++round) {
      auto job = jobs_rx.try_recv();
      while (!job && job.error() == mpsc::TryRecvError::empty) {
        std::this_thread::yield();
        job = jobs_rx.try_recv();
      }
      if (!job) return;  // the consumer is done
      const auto r = rng() % 16;
      if (r == 0) {
        std::this_thread::sleep_for(std::chrono::microseconds(1 + rng() % 30));
      } else if (r < 8) {
        std::this_thread::yield();
      }
      (void)std::move(*job).send(round);
    }
  });
  run_on_threads(ioc, 2);
  producer.join();
  EXPECT_NO_THROW(done.get());
  EXPECT_EQ(received, rounds);
  EXPECT_EQ(wrong, 0u);
  record(tally);
  EXPECT_GT(tally.timer_wins, 0u) << "the timer never won: the race was not exercised";
}

// The select itself cancelled, as the losing branch of `||` against a timer, on a strand of a
// four-thread io_context (where Asio delivers `||`'s cancellation in order): nothing is lost.
TEST(SelectRace, ASelectCancelledByAnOrOnAStrandLosesNothing) {
  Watchdog watchdog;
  const std::uint64_t total = scaled(100'000);
  auto a = mpsc::unbounded_channel<std::uint64_t>();
  auto b = broadcast::channel<std::uint64_t>(total);
  auto arx = std::move(a.second);
  auto brx = std::move(b.second);
  asio::io_context ioc;
  InOrder ta, tb;
  Tally tally;
  auto consumer = [&]() -> asio::awaitable<void> {
    std::mt19937 rng(5);
    const auto ex = co_await asio::this_coro::executor;
    auto far = far_timer(ex);
    auto [never_tx_a, never_a] = mpsc::unbounded_channel<std::uint64_t>();
    auto [never_tx_b, never_b] = broadcast::channel<std::uint64_t>(1);
    mpsc::Receiver<std::uint64_t>* pa = &arx;
    broadcast::Receiver<std::uint64_t>* pb = &brx;
    while (pa == &arx || pb == &brx) {
      asio::steady_timer deadline(ex, short_wait(rng));
      auto r = co_await (swarmsync::select(*pa, *pb, far) || deadline.async_wait(asio::use_awaitable));
      ++tally.selects;
      // `||` flattens the select's variant: 0 and 1 are the channels, 2 the far timer, 3 the
      // deadline.
      if (r.index() == 3) {
        ++tally.timer_wins;
      } else if (r.index() == 0) {
        if (!see_mpsc(std::get<0>(r), ta)) pa = &never_a;
      } else if (r.index() == 1) {
        if (!see_broadcast(std::get<1>(r), tb)) pb = &never_b;
      } else {
        ADD_FAILURE() << "the far timer fired";
      }
    }
  };
  auto done = asio::co_spawn(asio::make_strand(ioc), consumer, asio::use_future);
  // Producers that wait for the consumer often (each `||` costs it two coroutines): the deadline
  // must often fire while the select waits.
  PacedProducer pa(std::move(a.first), total, Pace(31, ta.next, 2, 16));
  PacedProducer pb(std::move(b.first), total, Pace(32, tb.next, 2, 16));
  run_on_threads(ioc, 4);
  EXPECT_TRUE(pa.join());
  EXPECT_TRUE(pb.join());
  EXPECT_NO_THROW(done.get());
  {
    SCOPED_TRACE("mpsc");
    ta.expect_all(total);
  }
  {
    SCOPED_TRACE("broadcast");
    tb.expect_all(total);
  }
  record(tally);
  EXPECT_GT(tally.timer_wins, 0u) << "the timer never won: the race was not exercised";
}

}  // namespace

}  // namespace select_test
