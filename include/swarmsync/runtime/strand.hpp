#pragma once
// A strand that costs no allocation to use.
//
//     asio::any_io_executor strand = swarmsync::make_strand(co_await asio::this_coro::executor);
//     asio::co_spawn(strand, service(), asio::detached);
//
// Asio's type-erased executor (`any_io_executor`) keeps an executor of up to 24 bytes in place
// and a larger one on the heap. A strand over an erased executor is larger, and each new
// executor Asio derives from it (a tracked one for every post to it, others at every completion
// of a coroutine running on it) allocates a new one there: 5 allocations a post on Asio 1.81.
// A strand over an io_context's own executor fits: none. `make_strand` builds that one whenever
// the io_context can be found behind `executor`: its own executor, or a strand over it (a new
// strand then, not the same one). The supervisor runs every service on one of these.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

namespace swarmsync {

/// A new strand over `executor`'s io_context when `executor` is an io_context's executor or a
/// strand over one (the strand then fits in an `any_io_executor` without allocating); a strand
/// over `executor` itself otherwise. Thread safety: as `asio::make_strand`.
inline boost::asio::any_io_executor make_strand(const boost::asio::any_io_executor& executor) {
  namespace asio = boost::asio;
  using IoExecutor = asio::io_context::executor_type;
  if (const auto* io = executor.target<IoExecutor>()) return asio::make_strand(*io);
  if (const auto* strand = executor.target<asio::strand<IoExecutor>>())
    return asio::make_strand(strand->get_inner_executor());
  return asio::make_strand(executor);
}

}  // namespace swarmsync
