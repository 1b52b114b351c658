// detail::LifoSlot: a thread's next continuation, run before the io_context's queue, and the
// channels' wake-ups that use it.

#include <swarmsync/channels/mpsc.hpp>
#include <swarmsync/detail/lifo_slot.hpp>
#include <swarmsync/runtime/strand.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace lifo_slot_test {
namespace {

namespace asio = boost::asio;
using Task = std::function<void()>;
using Slot = swarmsync::detail::LifoSlot;

// Posts a runner of `task` to `ioc`, as a wake-up from another thread does.
void post_runner(asio::io_context& ioc, Task task) {
  asio::post(ioc, Slot::Runner<Task>{std::move(task), &ioc});
}

TEST(LifoSlot, AnOfferOutsideARunnerIsRefusedAndLeavesTheTask) {
  asio::io_context ioc;
  bool ran = false;
  Task task = [&ran] { ran = true; };
  EXPECT_FALSE(Slot::offer(task, ioc));
  ASSERT_TRUE(task);
  task();
  EXPECT_TRUE(ran);
}

TEST(LifoSlot, AnOfferForAnotherContextIsRefused) {
  asio::io_context ioc, other;
  bool refused = false;
  post_runner(ioc, [&] {
    Task task = [] {};
    refused = !Slot::offer(task, other) && static_cast<bool>(task);
  });
  ioc.run();
  EXPECT_TRUE(refused);
}

TEST(LifoSlot, RunningSaysWhetherThisThreadIsInsideARunnerForTheContext) {
  asio::io_context ioc, other;
  EXPECT_FALSE(Slot::running(ioc));
  bool in_runner = false, for_other = true, in_plain_handler = true;
  post_runner(ioc, [&] {
    in_runner = Slot::running(ioc);
    for_other = Slot::running(other);
  });
  asio::post(ioc, [&] { in_plain_handler = Slot::running(ioc); });  // not a runner
  ioc.run();
  EXPECT_TRUE(in_runner);
  EXPECT_FALSE(for_other);
  EXPECT_FALSE(in_plain_handler);
  EXPECT_FALSE(Slot::running(ioc));
}

TEST(LifoSlot, AnOfferedTaskRunsWhenTheCurrentOneReturnsOnItsThreadBeforeTheQueue) {
  asio::io_context ioc;
  std::vector<std::string> order;
  std::thread::id runner_thread, offered_thread;
  post_runner(ioc, [&] {
    runner_thread = std::this_thread::get_id();
    asio::post(ioc, [&] { order.push_back("queued"); });
    Task offered = [&] {
      offered_thread = std::this_thread::get_id();
      order.push_back("offered");
    };
    EXPECT_TRUE(Slot::offer(offered, ioc));
    order.push_back("offerer returns");
  });
  ioc.run();
  EXPECT_EQ(order, (std::vector<std::string>{"offerer returns", "offered", "queued"}));
  EXPECT_EQ(offered_thread, runner_thread);
}

TEST(LifoSlot, ASecondOfferMovesTheFirstToTheBackOfTheQueue) {
  asio::io_context ioc;
  std::vector<std::string> order;
  post_runner(ioc, [&] {
    asio::post(ioc, [&] { order.push_back("queued"); });
    Task first = [&] { order.push_back("first"); };
    Task second = [&] { order.push_back("second"); };
    EXPECT_TRUE(Slot::offer(first, ioc));
    EXPECT_TRUE(Slot::offer(second, ioc));
  });
  ioc.run();
  EXPECT_EQ(order, (std::vector<std::string>{"second", "queued", "first"}));
}

// A chain of tasks, each offering the next, until `limit` have run.
struct Chain {
  asio::io_context& ioc;
  int limit;
  int ran = 0;
  void next() {
    if (++ran == limit) return;
    Task task = [this] { next(); };
    EXPECT_TRUE(Slot::offer(task, ioc));
  }
};

TEST(LifoSlot, AfterItsBudgetTheRunnerGivesTheQueueATurn) {
  asio::io_context ioc;
  Chain chain{ioc, 1000};
  int chain_when_queued_ran = -1;
  post_runner(ioc, [&] {
    asio::post(ioc, [&] { chain_when_queued_ran = chain.ran; });
    chain.next();
  });
  ioc.run();
  EXPECT_EQ(chain.ran, 1000);
  // The first task and a budget's worth from the slot, then the queued handler.
  EXPECT_EQ(chain_when_queued_ran, static_cast<int>(Slot::kBudget) + 1);
}

TEST(LifoSlot, AStopTakesEffectWhenTheBudgetIsSpent) {
  asio::io_context ioc;
  Chain chain{ioc, 1000};
  post_runner(ioc, [&] {
    ioc.stop();
    chain.next();
  });
  ioc.run();
  EXPECT_EQ(chain.ran, static_cast<int>(Slot::kBudget) + 1);
  // The next task waits in the queue, not lost.
  ioc.restart();
  ioc.run();
  EXPECT_EQ(chain.ran, 1000);
}

TEST(LifoSlot, ATaskThatThrowsLeavesWhatWaitsInTheSlotToTheQueue) {
  asio::io_context ioc;
  bool offered_ran = false;
  post_runner(ioc, [&] {
    Task offered = [&] { offered_ran = true; };
    EXPECT_TRUE(Slot::offer(offered, ioc));
    throw std::runtime_error("task failed");
  });
  EXPECT_THROW(ioc.run(), std::runtime_error);
  EXPECT_FALSE(offered_ran);
  ioc.restart();
  ioc.run();
  EXPECT_TRUE(offered_ran);
}

// Through the channels: a coroutine resumed by a wake-up that wakes others resumes the last one
// woken next, on the same thread, before a handler it queued first; an earlier one goes behind it.
asio::awaitable<void> relay(swarmsync::mpsc::Receiver<int> rx, std::vector<swarmsync::mpsc::UnboundedSender<int>> to,
                            asio::io_context::executor_type queue, std::vector<std::string>* order) {
  const std::optional<int> v = co_await rx.recv();
  if (!v) co_return;
  asio::post(queue, [order] { order->push_back("queued"); });
  for (const auto& tx : to) EXPECT_TRUE(tx.send(*v));
  order->push_back("relay returns");
}

asio::awaitable<void> last(swarmsync::mpsc::Receiver<int> rx, std::string name, std::vector<std::string>* order) {
  const std::optional<int> v = co_await rx.recv();
  if (v) order->push_back(name);
}

// Each coroutine on the io_context's own executor, or each on a strand of its own (`make_strand`,
// as the supervisor runs services).
std::vector<std::string> order_of_wake_ups(int woken, bool on_strands) {
  asio::io_context ioc(1);
  auto executor = [&]() -> asio::any_io_executor {
    if (on_strands) return swarmsync::make_strand(ioc.get_executor());
    return ioc.get_executor();
  };
  std::vector<std::string> order;
  {
    auto [to_relay, relay_rx] = swarmsync::mpsc::unbounded_channel<int>();
    std::vector<swarmsync::mpsc::UnboundedSender<int>> to;
    for (int i = 1; i <= woken; ++i) {
      auto [tx, rx] = swarmsync::mpsc::unbounded_channel<int>();
      to.push_back(std::move(tx));
      asio::co_spawn(executor(), last(std::move(rx), "woken " + std::to_string(i), &order), asio::detached);
    }
    asio::co_spawn(executor(), relay(std::move(relay_rx), std::move(to), ioc.get_executor(), &order), asio::detached);
    ioc.poll();  // all parked
    EXPECT_TRUE(to_relay.send(7));
  }
  ioc.restart();
  ioc.run();
  return order;
}

TEST(LifoSlot, ACoroutineWokenByAResumedOneRunsBeforeTheQueue) {
  EXPECT_EQ(order_of_wake_ups(1, false), (std::vector<std::string>{"relay returns", "woken 1", "queued"}));
}

TEST(LifoSlot, OfTwoWokenTheLastRunsFirstAndTheOtherBehindTheQueue) {
  EXPECT_EQ(order_of_wake_ups(2, false), (std::vector<std::string>{"relay returns", "woken 2", "queued", "woken 1"}));
}

TEST(LifoSlot, AServiceOnAStrandWokenByAnotherRunsBeforeTheQueue) {
  EXPECT_EQ(order_of_wake_ups(1, true), (std::vector<std::string>{"relay returns", "woken 1", "queued"}));
}

TEST(LifoSlot, OfTwoServicesOnStrandsTheLastWokenRunsFirst) {
  EXPECT_EQ(order_of_wake_ups(2, true), (std::vector<std::string>{"relay returns", "woken 2", "queued", "woken 1"}));
}

// Through the channels: two coroutines passing a value back and forth on one io_context run as a
// chain in the slot, and a handler queued meanwhile still gets its turn long before they end.
asio::awaitable<void> bounce(swarmsync::mpsc::Receiver<int> rx, swarmsync::mpsc::UnboundedSender<int> tx, int* rounds,
                             int limit) {
  while (auto v = co_await rx.recv()) {
    ++*rounds;
    if (*v == limit) co_return;
    if (!tx.send(*v + 1)) co_return;
  }
}

TEST(LifoSlot, APingPongOfCoroutinesLetsAQueuedHandlerRun) {
  asio::io_context ioc(1);
  constexpr int kLimit = 20'000;
  int rounds = 0;
  int rounds_when_queued_ran = -1;
  {
    auto [to_a, a_rx] = swarmsync::mpsc::unbounded_channel<int>();
    auto [to_b, b_rx] = swarmsync::mpsc::unbounded_channel<int>();
    asio::co_spawn(ioc, bounce(std::move(a_rx), to_b, &rounds, kLimit), asio::detached);
    asio::co_spawn(ioc, bounce(std::move(b_rx), to_a, &rounds, kLimit), asio::detached);
    asio::post(ioc, [&, first = std::move(to_a)] {
      ASSERT_TRUE(first.send(1));
      asio::post(ioc, [&] { rounds_when_queued_ran = rounds; });
    });
  }
  ioc.run();
  EXPECT_EQ(rounds, kLimit);
  EXPECT_GT(rounds_when_queued_ran, 0);
  EXPECT_LE(rounds_when_queued_ran, 2 * static_cast<int>(Slot::kBudget));
}

}  // namespace
}  // namespace lifo_slot_test
