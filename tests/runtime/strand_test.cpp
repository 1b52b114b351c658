// swarmsync::make_strand: a strand that Asio's type-erased executor holds in place.

#include <swarmsync/runtime/strand.hpp>

#include "support/allocation_counter.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace strand_test {
namespace {

namespace asio = boost::asio;
using IoStrand = asio::strand<asio::io_context::executor_type>;

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
  const asio::any_io_executor first = asio::make_strand(ioc.get_executor());
  const asio::any_io_executor second = swarmsync::make_strand(first);
  ASSERT_NE(second.target<IoStrand>(), nullptr);
  EXPECT_NE(*second.target<IoStrand>(), *first.target<IoStrand>());
  EXPECT_EQ(&asio::query(second, asio::execution::context), &ioc);
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

}  // namespace
}  // namespace strand_test
