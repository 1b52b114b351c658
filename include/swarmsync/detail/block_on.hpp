#pragma once
// Runs one channel operation to its end on a plain thread: the blocking bridges
// (`blocking_send`, `blocking_recv`) for code that lives outside Asio.
//
// The operation runs as a coroutine on a private one-thread `io_context` that the calling thread
// runs until the operation is done; a wake-up from another thread posts to that context, so the
// calling thread sleeps in the context's own wait (no spinning) and wakes with the operation. Only
// an operation that must wait gets here: the bridges first try without waiting.
//
// A thread that is inside an Asio execution context's `run()` (one of an `io_context`'s or a
// `thread_pool`'s threads, strands on them included) is refused with `std::logic_error`: blocking it
// would stop that context's other work, and the other side of the channel may be part of it (a
// deadlock). This is detected through Asio's per-thread call stack of running schedulers
// (`asio::detail::thread_context`); a thread of an executor that is not built on Asio's scheduler
// is not detected.

#include "swarmsync/detail/asio_fwd.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detail/thread_context.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace swarmsync::detail {

/// True on a thread that is inside an Asio execution context's `run()` (or `poll()`, or a
/// handler called from them).
inline bool in_asio_context_thread() noexcept {
  return asio::detail::thread_context::top_of_thread_call_stack() != nullptr;
}

/// Throws `std::logic_error` naming `operation` if the calling thread runs an Asio execution
/// context (see the header comment).
inline void refuse_in_asio_context(const char* operation) {
  if (in_asio_context_thread())
    throw std::logic_error(std::string(operation) +
                           ": called from a thread that runs an Asio execution context; blocking it could "
                           "deadlock (the channel's other side may need that thread): co_await the "
                           "asynchronous operation there instead");
}

template <class R>
asio::awaitable<void> store_result(std::optional<R>& out, asio::awaitable<R> op) {
  out.emplace(co_await std::move(op));
}

/// Runs `op` to its end on the calling thread and returns its result; rethrows what it throws.
/// Refuses (`std::logic_error`, naming `operation`) on a thread that runs an Asio execution context.
template <class R>
R block_on(asio::awaitable<R> op, const char* operation) {
  refuse_in_asio_context(operation);
  asio::io_context context(1);
  std::optional<R> out;
  std::exception_ptr failure;
  asio::co_spawn(context, store_result(out, std::move(op)), [&failure](std::exception_ptr e) { failure = e; });
  context.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*out);
}

}  // namespace swarmsync::detail
