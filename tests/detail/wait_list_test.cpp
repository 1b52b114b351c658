// detail::WaitNode and its lists: a completion that lands while the wait is still being started
// does not resume the coroutine before the start is over.

#include <swarmsync/detail/wait_list.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace wait_list_test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using swarmsync::detail::SingleWaiter;
using swarmsync::detail::WaitList;
using swarmsync::detail::WaitNode;

// The parking side's re-read (`ready`, inside the initiation) has another thread wake the node,
// then lingers: a continuation that another thread of the io_context picked up at once must wait
// until the initiation has ended before the coroutine runs.
template <class List>
void expect_resumed_only_after_the_initiation() {
  asio::io_context ioc;
  List list;
  WaitNode* node = WaitNode::make();
  std::atomic<bool> initiation_over{false};
  std::atomic<int> rereads{0};
  bool resumed_after = false;
  bool resumed = false;
  auto ready = [&] {
    if (rereads.fetch_add(1) == 0) {
      std::thread waker([&list] { list.wake_all(); });
      waker.join();
      std::this_thread::sleep_for(50ms);  // time for the other thread to resume it, were it let
      initiation_over.store(true);
    }
    return false;
  };
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        co_await swarmsync::detail::park(list, *node, ready);
        resumed_after = initiation_over.load();
        resumed = true;
      },
      asio::detached);
  std::thread second([&ioc] { ioc.run(); });
  ioc.run();
  second.join();
  node->retire();
  EXPECT_TRUE(resumed);
  EXPECT_TRUE(resumed_after) << "the coroutine ran while its wait was still being started";
  EXPECT_EQ(rereads.load(), 1);
}

TEST(WaitNode, AWakeUpDuringTheInitiationOfAListWaitResumesOnlyAfterIt) {
  expect_resumed_only_after_the_initiation<WaitList>();
}

TEST(WaitNode, AWakeUpDuringTheInitiationOfASingleWaitResumesOnlyAfterIt) {
  expect_resumed_only_after_the_initiation<SingleWaiter>();
}

}  // namespace
}  // namespace wait_list_test
