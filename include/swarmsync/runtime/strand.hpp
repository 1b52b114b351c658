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
//
// That strand sits on `detail::LifoExecutor`, the io_context's executor with the thread's LIFO
// slot: when a handler arrives for an idle strand from a handler of the same io_context (a
// service woken by a message from another), the strand's turn runs on the same thread as soon as
// the current handler returns, before the io_context's queue and without its mutex (see
// detail/lifo_slot.hpp: one task a slot, 128 in a row at most before the queue gets a turn).

#include "swarmsync/detail/lifo_executor.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

namespace swarmsync {

/// The strand type `make_strand` builds over an io_context: 24 bytes, held in place by
/// `asio::any_io_executor`.
using IoStrand = detail::IoStrand;

/// A new strand over `executor`'s io_context (an `IoStrand`) when `executor` is an io_context's
/// executor or a strand over one; a strand over `executor` itself otherwise. Thread safety: as
/// `asio::make_strand`.
inline boost::asio::any_io_executor make_strand(const boost::asio::any_io_executor& executor) {
  namespace asio = boost::asio;
  using IoExecutor = asio::io_context::executor_type;
  using Lifo = detail::LifoExecutor<IoExecutor>;
  if (const auto* io = executor.target<IoExecutor>()) return IoStrand(Lifo(*io));
  if (const auto* strand = executor.target<IoStrand>()) return IoStrand(strand->get_inner_executor());
  if (const auto* strand = executor.target<asio::strand<IoExecutor>>()) return IoStrand(Lifo(strand->get_inner_executor()));
  return asio::make_strand(executor);
}

}  // namespace swarmsync
