#pragma once
// Helpers to run coroutines to completion in tests.

#include <swarmsync/detail/asio_fwd.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <cstddef>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

// Tests name channel ends through references (`auto [tx_end, rx_end] = ...; auto& tx = tx_end;`)
// because clang 14, which builds the ThreadSanitizer suite, cannot capture structured bindings in
// lambdas.

namespace swarmsync::test {

/// Scales a stress count down under sanitizers, which run 5-20x slower.
constexpr std::size_t scaled(std::size_t n) {
#ifdef SWARMSYNC_SANITIZED
  return n / 10 > 0 ? n / 10 : 1;
#else
  return n;
#endif
}

/// Runs `ioc` on `threads` threads until it has no more work.
inline void run_on_threads(asio::io_context& ioc, std::size_t threads) {
  std::vector<std::thread> pool;
  for (std::size_t i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
}

/// Runs one awaitable to completion on a fresh one-thread io_context and returns its result;
/// rethrows its exception.
template <class Awaitable>
auto run_sync(Awaitable a) {
  asio::io_context ioc;
  auto fut = asio::co_spawn(ioc, std::move(a), asio::use_future);
  ioc.run();
  return fut.get();
}

/// The same for an operation (a receiver's `recv()`), awaited by a coroutine as a service's is.
template <class Op>
  requires asio::is_async_operation<Op>::value
auto run_sync(Op op) {
  return run_sync(std::move(op)(asio::use_awaitable));
}

}  // namespace swarmsync::test
