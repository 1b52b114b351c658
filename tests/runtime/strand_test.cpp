// swarmsync::make_strand: a strand that Asio's type-erased executor holds in place.

#include <swarmsync/runtime/strand.hpp>

#include "support/allocation_counter.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <type_traits>
#include <optional>
#include <vector>

namespace strand_test {
namespace {

namespace asio = boost::asio;
using swarmsync::IoStrand;
using Lifo = swarmsync::detail::LifoExecutor<asio::io_context::executor_type>;

// Asio's type-erased executor holds an executor of up to three pointers in place.
static_assert(sizeof(IoStrand) <= 3 * sizeof(void*));

// Heap allocations made by handing `rounds` handlers to `executor` and running each (after one
// round to warm Asio's handler memory up), and by as many requests for a tracked executor, which
// Asio makes of the executor at every post and every completion of a coroutine.
std::size_t allocations_of_use(asio::io_context& ioc, const asio::any_io_executor& executor, int rounds) {
  int ran = 0;
  auto round = [&] {
    asio::post(executor, [&ran] { ++ran; });
    ioc.restart();
    ioc.poll();
  };
  round();
  const std::size_t before = swarmsync::test::allocation_count();
  for (int i = 0; i < rounds; ++i) {
    round();
    const asio::any_io_executor tracked = asio::prefer(executor, asio::execution::outstanding_work.tracked);
    (void)tracked;
  }
  const std::size_t made = swarmsync::test::allocation_count() - before;
  EXPECT_EQ(ran, rounds + 1);
  return made;
}

TEST(Strand, OverAnIoContextItIsAStrandOfItsOwnExecutor) {
  asio::io_context ioc;
  const asio::any_io_executor strand = swarmsync::make_strand(ioc.get_executor());
  ASSERT_NE(strand.target<IoStrand>(), nullptr);
  EXPECT_EQ(&asio::query(strand, asio::execution::context), &ioc);
}

TEST(Strand, OverAStrandItIsANewStrandOverTheSameContext) {
  asio::io_context ioc;
  const asio::any_io_executor asios = asio::make_strand(ioc.get_executor());
  const asio::any_io_executor ours = swarmsync::make_strand(ioc.get_executor());
  for (const asio::any_io_executor& first : {asios, ours}) {
    const asio::any_io_executor second = swarmsync::make_strand(first);
    ASSERT_NE(second.target<IoStrand>(), nullptr);
    EXPECT_NE(second, first);
    EXPECT_EQ(&asio::query(second, asio::execution::context), &ioc);
  }
}

TEST(Strand, OverAnyOtherExecutorItIsAStrandOverThatExecutor) {
  asio::thread_pool pool(1);
  const asio::any_io_executor strand = swarmsync::make_strand(pool.get_executor());
  EXPECT_NE(strand.target<asio::strand<asio::any_io_executor>>(), nullptr);
  pool.join();
}

TEST(Strand, ItsUseAllocatesNothing) {
  if (!swarmsync::test::allocation_counting())
    GTEST_SKIP() << "allocation counting needs the program's own operator new, which sanitizers replace";
  asio::io_context ioc;
  EXPECT_EQ(allocations_of_use(ioc, swarmsync::make_strand(ioc.get_executor()), 100), 0u);
  // Why it exists: Asio's own strand over the erased executor allocates at each of these.
  const asio::any_io_executor erased = ioc.get_executor();
  EXPECT_GE(allocations_of_use(ioc, asio::make_strand(erased), 100), 200u);
}

TEST(Strand, ItRunsOneHandlerAtATime) {
  asio::io_context ioc;
  const asio::any_io_executor strand = swarmsync::make_strand(ioc.get_executor());
  constexpr int handlers = 20'000;
  std::atomic<int> inside{0}, most_inside{0}, ran{0};
  for (int i = 0; i < handlers; ++i)
    asio::post(strand, [&] {
      const int now = inside.fetch_add(1) + 1;
      if (now > most_inside.load()) most_inside.store(now);
      ran.fetch_add(1);
      inside.fetch_sub(1);
    });
  std::thread other([&] { ioc.run(); });
  ioc.run();
  other.join();
  EXPECT_EQ(ran.load(), handlers);
  EXPECT_EQ(most_inside.load(), 1);
}

TEST(LifoExecutor, ItsPropertiesAreItsIoContextExecutors) {
  asio::io_context ioc;
  const Lifo ex(ioc.get_executor());
  EXPECT_EQ(&asio::query(ex, asio::execution::context), &ioc);
  EXPECT_EQ(asio::query(ex, asio::execution::blocking), asio::execution::blocking.possibly);
  const auto never = asio::require(ex, asio::execution::blocking.never);
  static_assert(std::is_same_v<decltype(never), const swarmsync::detail::LifoExecutor<decltype(asio::require(
                                                    ioc.get_executor(), asio::execution::blocking.never))>>);
  EXPECT_EQ(asio::query(never, asio::execution::blocking), asio::execution::blocking.never);
  EXPECT_EQ(ex, Lifo(ioc.get_executor()));
  asio::io_context other;
  EXPECT_NE(ex, Lifo(other.get_executor()));
}

TEST(LifoExecutor, ATrackedOneKeepsTheIoContextRunning) {
  asio::io_context ioc;
  std::optional tracked = asio::prefer(Lifo(ioc.get_executor()), asio::execution::outstanding_work.tracked);
  ioc.poll();
  EXPECT_FALSE(ioc.stopped());
  tracked.reset();
  ioc.poll();
  EXPECT_TRUE(ioc.stopped());
}

TEST(LifoExecutor, APossiblyBlockingSubmissionInsideTheContextRunsInline) {
  asio::io_context ioc;
  const Lifo ex(ioc.get_executor());
  std::vector<int> order;
  asio::post(ioc, [&] {
    asio::execution::execute(ex, [&] { order.push_back(1); });
    order.push_back(2);
  });
  ioc.run();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(LifoExecutor, ANeverBlockingSubmissionFromOutsideIsPosted) {
  asio::io_context ioc;
  bool ran = false;
  asio::execution::execute(asio::require(Lifo(ioc.get_executor()), asio::execution::blocking.never), [&] { ran = true; });
  EXPECT_FALSE(ran);
  ioc.run();
  EXPECT_TRUE(ran);
}

}  // namespace
}  // namespace strand_test
