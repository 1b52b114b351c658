// The senders' side of mpsc: `closed()`, `try_reserve()`, `max_capacity()`, `strong_count()` /
// `weak_count()` and weak senders. The weak-sender cases port tokio's tests/sync_mpsc_weak.rs,
// each TEST named after the tokio test (oneshot replies through swarmsync::oneshot).

#include <swarmsync/channels/mpsc.hpp>
#include <swarmsync/channels/oneshot.hpp>

#include "support/async.hpp"
#include "support/counted.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <thread>
#include <variant>

namespace mpsc_senders_test {
namespace {

using namespace swarmsync;
using namespace boost::asio::experimental::awaitable_operators;
using namespace std::chrono_literals;
using swarmsync::test::Counted;
using swarmsync::test::run_sync;

TEST(MpscSenders, ClosedCompletesWhenReceiverCloses) {
  auto [tx_end, rx_end] = mpsc::channel<int>(2);
  auto& tx = tx_end;
  auto& rx = rx_end;
  auto tx2 = tx;
  asio::io_context ioc;
  auto a = asio::co_spawn(ioc, tx.closed(), asio::use_future);
  auto b = asio::co_spawn(ioc, tx2.closed(), asio::use_future);
  ioc.poll();
  EXPECT_FALSE(tx.is_closed());
  rx.close();
  ioc.run();
  a.get();
  b.get();
  run_sync(tx.closed());  // at once now
}

TEST(MpscSenders, UnboundedClosedCompletesWhenReceiverGoesFromAnotherThread) {
  auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
  auto& tx = tx_end;
  asio::io_context ioc;
  auto fut = asio::co_spawn(ioc, tx.closed(), asio::use_future);
  std::thread other([rx = std::move(rx_end)]() mutable {
    std::this_thread::sleep_for(5ms);
    auto drop = std::move(rx);
  });
  ioc.run();
  other.join();
  fut.get();
  EXPECT_FALSE(tx.send(1));
}

TEST(MpscSenders, ClosedCancelledThenAwaitedAgainManyTimes) {
  auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
  auto& tx = tx_end;
  auto& rx = rx_end;
  asio::io_context ioc;
  auto fut = asio::co_spawn(ioc, [&]() -> asio::awaitable<int> {
    int timeouts = 0;
    for (int i = 0; i < 200; ++i) {
      asio::steady_timer t(co_await asio::this_coro::executor, 0ms);
      auto r = co_await (tx.closed() || t.async_wait(asio::use_awaitable));
      if (r.index() == 1) ++timeouts;
    }
    rx.close();
    co_await tx.closed();
    co_return timeouts;
  }(), asio::use_future);
  ioc.run();
  EXPECT_EQ(fut.get(), 200);
}

TEST(MpscSenders, TryReserveFullClosedAndPermit) {
  auto [tx_end, rx_end] = mpsc::channel<int>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;
  EXPECT_EQ(tx.max_capacity(), 1u);
  auto p = tx.try_reserve();
  ASSERT_TRUE(p);
  auto full = tx.try_reserve();
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error(), TrySendErrorKind::full);
  EXPECT_THROW((void)full.value(), ChannelError);
  EXPECT_TRUE(std::move(*p).send(7));
  EXPECT_EQ(rx.try_recv().value(), 7);
  {
    auto p2 = tx.try_reserve();  // dropped unused: room comes back
    ASSERT_TRUE(p2);
  }
  EXPECT_TRUE(tx.try_reserve());
  rx.close();
  auto closed = tx.try_reserve();
  ASSERT_FALSE(closed);
  EXPECT_EQ(closed.error(), TrySendErrorKind::closed);
  mpsc::Sender<int> moved = std::move(tx);
  EXPECT_EQ(tx.try_reserve().error(), TrySendErrorKind::closed);
  EXPECT_EQ(tx.max_capacity(), 0u);
}

TEST(MpscSenders, CountsAndMoveAssignment) {
  auto [tx_end, rx_end] = mpsc::channel<int>(1);
  auto& tx = tx_end;
  auto tx2 = tx;
  auto weak = tx.downgrade();
  EXPECT_EQ(tx.strong_count(), 2u);
  EXPECT_EQ(weak.weak_count(), 1u);
  auto weak2 = weak;
  EXPECT_EQ(tx.weak_count(), 2u);
  weak2 = std::move(weak);
  EXPECT_EQ(tx.weak_count(), 1u);
  auto& self_weak = weak2;
  weak2 = std::move(self_weak);
  EXPECT_EQ(tx.weak_count(), 1u);
  auto& self_tx = tx2;
  tx2 = std::move(self_tx);
  EXPECT_EQ(tx.strong_count(), 2u);
  auto [other_tx, other_rx] = mpsc::channel<int>(1);
  tx2 = std::move(other_tx);  // leaves the first channel
  EXPECT_EQ(tx.strong_count(), 1u);
  EXPECT_EQ(tx2.strong_count(), 1u);
  EXPECT_EQ(other_tx.strong_count(), 0u);
  EXPECT_FALSE(other_tx.downgrade().upgrade());
}

TEST(MpscSenders, WeakSenderDoesNotKeepTheChannelOpen) {
  Counted::reset();
  {
    auto [tx, rx_end] = mpsc::unbounded_channel<Counted>();
    auto& rx = rx_end;
    auto weak = tx.downgrade();
    EXPECT_TRUE(tx.send(Counted(1)));
    { auto drop = std::move(tx); }
    EXPECT_EQ(run_sync(rx.recv())->id, 1);
    EXPECT_FALSE(run_sync(rx.recv()));
    EXPECT_FALSE(weak.upgrade());
  }
  EXPECT_EQ(Counted::alive.load(), 0);
}

// --- tokio/tests/sync_mpsc_weak.rs ---

TEST(MpscSenders, weak_sender) {
  auto [tx_end, rx_end] = mpsc::channel<int>(11);
  auto& rx = rx_end;
  asio::io_context ioc;
  // The sender is the coroutine's parameter (a lambda's capture would die with the lambda).
  auto spawned = asio::co_spawn(ioc, [](mpsc::Sender<int> tx) -> asio::awaitable<std::optional<mpsc::WeakSender<int>>> {
    auto tx_weak = mpsc::Sender<int>(tx).downgrade();
    for (int i = 0; i < 10; ++i) {
      auto sent = co_await tx.send(i);
      if (!sent) co_return std::nullopt;
    }
    auto tx2 = tx_weak.upgrade();
    EXPECT_TRUE(tx2) << "expected to be able to upgrade tx_weak";
    (void)co_await tx2->send(20);
    co_return tx2->downgrade();
  }(std::move(tx_end)), asio::use_future);
  ioc.run();
  auto tx_weak = spawned.get();
  for (int i = 0; i < 12; ++i) {
    auto recvd = run_sync(rx.recv());
    if (recvd) {
      if (i == 10) {
        EXPECT_EQ(*recvd, 20);
      }
    } else {
      EXPECT_EQ(i, 11);
      break;
    }
  }
  ASSERT_TRUE(tx_weak);
  EXPECT_FALSE(tx_weak->upgrade());
}

TEST(MpscSenders, weak_unbounded_sender) {
  auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
  auto& rx = rx_end;
  std::optional<mpsc::WeakUnboundedSender<int>> tx_weak;
  {
    auto tx = std::move(tx_end);
    auto weak = mpsc::UnboundedSender<int>(tx).downgrade();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(tx.send(i));
    auto tx2 = weak.upgrade();
    ASSERT_TRUE(tx2) << "expected to be able to upgrade tx_weak";
    (void)tx2->send(20);
    tx_weak = tx2->downgrade();
  }
  for (int i = 0; i < 12; ++i) {
    auto recvd = run_sync(rx.recv());
    if (recvd) {
      if (i == 10) {
        EXPECT_EQ(*recvd, 20);
      }
    } else {
      EXPECT_EQ(i, 11);
      break;
    }
  }
  EXPECT_FALSE(tx_weak->upgrade());
}

// The actor holds a weak sender to itself; it ends when the last handle's strong sender goes.
struct GetUniqueId {
  oneshot::Sender<unsigned> respond_to;
};
struct SelfMessage {};
using ActorMessage = std::variant<GetUniqueId, SelfMessage>;

template <class Rx, class Weak>
asio::awaitable<bool> run_actor(Rx rx, Weak weak) {
  unsigned next_id = 0;
  bool received_self_msg = false;
  int i = 0;
  while (auto msg = co_await rx.recv()) {
    if (auto* get = std::get_if<GetUniqueId>(&*msg)) (void)std::move(get->respond_to).send(++next_id);
    else received_self_msg = true;
    if (i == 0) {
      auto copy = weak;
      if (auto sender = copy.upgrade()) {
        if constexpr (requires { sender->try_reserve(); }) {
          (void)co_await sender->send(SelfMessage{});
        } else {
          (void)sender->send(SelfMessage{});
        }
        weak = sender->downgrade();
      }
    }
    ++i;
  }
  co_return received_self_msg;
}

template <class Tx>
asio::awaitable<void> get_unique_id(Tx handle) {
  auto [send, recv_end] = oneshot::channel<unsigned>();
  auto& recv = recv_end;
  ActorMessage msg{GetUniqueId{std::move(send)}};
  if constexpr (requires { handle.try_reserve(); }) {
    (void)co_await handle.send(std::move(msg));
  } else {
    (void)handle.send(std::move(msg));
  }
  auto id = co_await recv.recv();
  EXPECT_TRUE(id) << "Actor task has been killed";
}

TEST(MpscSenders, actor_weak_sender) {
  auto [sender, receiver] = mpsc::channel<ActorMessage>(8);
  asio::io_context ioc;
  auto actor = asio::co_spawn(ioc, run_actor(std::move(receiver), sender.downgrade()), asio::use_future);
  asio::co_spawn(ioc, get_unique_id(std::move(sender)), asio::detached);
  ioc.run();
  EXPECT_TRUE(actor.get());
}

TEST(MpscSenders, actor_weak_unbounded_sender) {
  auto [sender, receiver] = mpsc::unbounded_channel<ActorMessage>();
  asio::io_context ioc;
  auto actor = asio::co_spawn(ioc, run_actor(std::move(receiver), sender.downgrade()), asio::use_future);
  asio::co_spawn(ioc, get_unique_id(std::move(sender)), asio::detached);
  ioc.run();
  EXPECT_TRUE(actor.get());
}

TEST(MpscSenders, test_msgs_dropped_on_rx_drop) {
  Counted::reset();
  auto [tx_end, rx_end] = mpsc::channel<Counted>(3);
  auto& tx = tx_end;
  EXPECT_TRUE(run_sync(tx.send(Counted(1))));
  EXPECT_TRUE(run_sync(tx.send(Counted(2))));
  EXPECT_TRUE(run_sync(rx_end.recv()));
  EXPECT_TRUE(run_sync(rx_end.recv()));
  EXPECT_TRUE(run_sync(tx.send(Counted(3))));
  { auto drop = std::move(rx_end); }
  EXPECT_EQ(Counted::constructed.load() - Counted::alive.load(), Counted::constructed.load());  // all 3 dropped
  EXPECT_FALSE(run_sync(tx.send(Counted(4))));
  EXPECT_EQ(Counted::alive.load(), 0);
}

TEST(MpscSenders, test_msgs_dropped_on_unbounded_rx_drop) {
  Counted::reset();
  auto [tx, rx_end] = mpsc::unbounded_channel<Counted>();
  EXPECT_TRUE(tx.send(Counted(1)));
  EXPECT_TRUE(tx.send(Counted(2)));
  auto sent = tx.send(Counted(3));
  EXPECT_TRUE(run_sync(rx_end.recv()));
  EXPECT_TRUE(run_sync(rx_end.recv()));
  EXPECT_TRUE(sent);
  { auto drop = std::move(rx_end); }
  EXPECT_EQ(Counted::alive.load(), 0);
  EXPECT_FALSE(tx.send(Counted(4)));
}

TEST(MpscSenders, downgrade_upgrade_sender_success) {
  auto [tx, rx] = mpsc::channel<int>(1);
  auto weak_tx = tx.downgrade();
  EXPECT_TRUE(weak_tx.upgrade());
}

TEST(MpscSenders, downgrade_upgrade_sender_failure) {
  auto [tx, rx] = mpsc::channel<int>(1);
  auto weak_tx = tx.downgrade();
  { auto drop = std::move(tx); }
  EXPECT_FALSE(weak_tx.upgrade());
}

TEST(MpscSenders, downgrade_drop_upgrade) {
  auto [tx, rx] = mpsc::channel<int>(1);
  auto weak_tx = mpsc::Sender<int>(tx).downgrade();
  { auto drop = std::move(tx); }
  EXPECT_FALSE(weak_tx.upgrade());
}

// tokio's `reserve_owned` consumes the sender; a swarmsync permit counts as a sender the same way.
TEST(MpscSenders, downgrade_get_permit_upgrade_no_senders) {
  auto [tx, rx] = mpsc::channel<int>(1);
  auto weak_tx = tx.downgrade();
  auto permit = run_sync(tx.reserve());
  ASSERT_TRUE(permit);
  { auto drop = std::move(tx); }
  EXPECT_TRUE(weak_tx.upgrade());
}

TEST(MpscSenders, downgrade_upgrade_get_permit_no_senders) {
  auto [tx, rx] = mpsc::channel<int>(1);
  auto tx2 = tx;
  auto permit = run_sync(tx.reserve());
  ASSERT_TRUE(permit);
  { auto drop = std::move(tx); }
  auto weak_tx = tx2.downgrade();
  { auto drop = std::move(tx2); }
  EXPECT_TRUE(weak_tx.upgrade());
}

TEST(MpscSenders, test_tx_count_weak_sender) {
  auto [tx, rx] = mpsc::channel<int>(1);
  auto tx_weak = tx.downgrade();
  auto tx_weak2 = tx.downgrade();
  { auto drop = std::move(tx); }
  EXPECT_TRUE(!tx_weak.upgrade() && !tx_weak2.upgrade());
}

TEST(MpscSenders, downgrade_upgrade_unbounded_sender_success) {
  auto [tx, rx] = mpsc::unbounded_channel<int>();
  EXPECT_TRUE(tx.downgrade().upgrade());
}

TEST(MpscSenders, downgrade_upgrade_unbounded_sender_failure) {
  auto [tx, rx] = mpsc::unbounded_channel<int>();
  auto weak_tx = tx.downgrade();
  { auto drop = std::move(tx); }
  EXPECT_FALSE(weak_tx.upgrade());
}

TEST(MpscSenders, downgrade_drop_upgrade_unbounded) {
  auto [tx, rx] = mpsc::unbounded_channel<int>();
  auto weak_tx = mpsc::UnboundedSender<int>(tx).downgrade();
  { auto drop = std::move(tx); }
  EXPECT_FALSE(weak_tx.upgrade());
}

TEST(MpscSenders, test_tx_count_weak_unbounded_sender) {
  auto [tx, rx] = mpsc::unbounded_channel<int>();
  auto tx_weak = tx.downgrade();
  auto tx_weak2 = tx.downgrade();
  { auto drop = std::move(tx); }
  EXPECT_TRUE(!tx_weak.upgrade() && !tx_weak2.upgrade());
}

TEST(MpscSenders, sender_strong_count_when_cloned) {
  auto [tx, rx] = mpsc::channel<std::monostate>(1);
  auto tx2 = tx;
  EXPECT_EQ(tx.strong_count(), 2u);
  EXPECT_EQ(tx2.strong_count(), 2u);
}

TEST(MpscSenders, sender_weak_count_when_downgraded) {
  auto [tx, rx] = mpsc::channel<std::monostate>(1);
  auto weak = tx.downgrade();
  EXPECT_EQ(tx.weak_count(), 1u);
  EXPECT_EQ(weak.weak_count(), 1u);
}

TEST(MpscSenders, sender_strong_count_when_dropped) {
  auto [tx, rx] = mpsc::channel<std::monostate>(1);
  { auto tx2 = tx; }
  EXPECT_EQ(tx.strong_count(), 1u);
}

TEST(MpscSenders, sender_weak_count_when_dropped) {
  auto [tx, rx] = mpsc::channel<std::monostate>(1);
  { auto weak = tx.downgrade(); }
  EXPECT_EQ(tx.weak_count(), 0u);
}

TEST(MpscSenders, sender_strong_and_weak_conut) {
  auto [tx, rx] = mpsc::channel<std::monostate>(1);
  std::optional<mpsc::Sender<std::monostate>> tx2(tx);
  auto weak = tx.downgrade();
  std::optional<mpsc::WeakSender<std::monostate>> weak2(tx2->downgrade());
  EXPECT_EQ(tx.strong_count(), 2u);
  EXPECT_EQ(tx2->strong_count(), 2u);
  EXPECT_EQ(weak.strong_count(), 2u);
  EXPECT_EQ(weak2->strong_count(), 2u);
  EXPECT_EQ(tx.weak_count(), 2u);
  EXPECT_EQ(tx2->weak_count(), 2u);
  EXPECT_EQ(weak.weak_count(), 2u);
  EXPECT_EQ(weak2->weak_count(), 2u);
  tx2.reset();
  weak2.reset();
  EXPECT_EQ(tx.strong_count(), 1u);
  EXPECT_EQ(weak.strong_count(), 1u);
  EXPECT_EQ(tx.weak_count(), 1u);
  EXPECT_EQ(weak.weak_count(), 1u);
}

TEST(MpscSenders, unbounded_sender_strong_and_weak_conut) {
  auto [tx, rx] = mpsc::unbounded_channel<std::monostate>();
  std::optional<mpsc::UnboundedSender<std::monostate>> tx2(tx);
  auto weak = tx.downgrade();
  std::optional<mpsc::WeakUnboundedSender<std::monostate>> weak2(tx2->downgrade());
  EXPECT_EQ(tx.strong_count(), 2u);
  EXPECT_EQ(weak2->strong_count(), 2u);
  EXPECT_EQ(tx.weak_count(), 2u);
  EXPECT_EQ(weak.weak_count(), 2u);
  tx2.reset();
  weak2.reset();
  EXPECT_EQ(tx.strong_count(), 1u);
  EXPECT_EQ(weak.weak_count(), 1u);
}

// Upgrades racing the last strong sender's drop: an upgrade either yields a working sender or
// fails; after the drop every upgrade fails and the receiver sees the end.
TEST(MpscSenders, UpgradeRacesLastDrop) {
  for (int round = 0; round < static_cast<int>(test::scaled(2000)); ++round) {
    auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
    auto weak = tx_end.downgrade();
    std::thread a([tx = std::move(tx_end)]() mutable { auto drop = std::move(tx); });
    std::thread b([&weak] {
      if (auto s = weak.upgrade()) (void)s->send(1);
    });
    a.join();
    b.join();
    EXPECT_FALSE(weak.upgrade());
    auto& rx = rx_end;
    while (rx.try_recv()) {
    }
    EXPECT_EQ(rx.try_recv().error(), mpsc::TryRecvError::disconnected);
  }
}

}  // namespace
}  // namespace mpsc_senders_test
