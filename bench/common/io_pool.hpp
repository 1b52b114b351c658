#pragma once
// An io_context run by two threads, the runtime of the swarmsync and Asio cases. Keeps the first
// failure of any coroutine spawned on it.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "bench.hpp"

namespace bench {

class IoPool {
 public:
  boost::asio::io_context& context() noexcept { return ctx_; }

  void spawn(boost::asio::awaitable<void> task) {
    boost::asio::co_spawn(ctx_, std::move(task), [this](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        note(ex.what());
      } catch (...) {
        note("unknown exception");
      }
    });
  }

  /// Runs the io_context on two threads until it runs out of work; fails with the first failure
  /// of a coroutine, if any.
  void run() {
    std::thread other([this] { ctx_.run(); });
    ctx_.run();
    other.join();
    if (!error_.empty()) fail(error_);
  }

 private:
  void note(std::string what) {
    std::lock_guard lock(mutex_);
    if (error_.empty()) error_ = std::move(what);
  }

  boost::asio::io_context ctx_{2};
  std::mutex mutex_;
  std::string error_;
};

/// Lets the other coroutines of the executor run.
inline boost::asio::awaitable<void> yield() {
  co_await boost::asio::post(co_await boost::asio::this_coro::executor, boost::asio::use_awaitable);
}

}  // namespace bench
