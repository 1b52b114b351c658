#pragma once
// An io_context executor whose never-blocking submissions use the thread's LIFO slot.
//
//     asio::strand<LifoExecutor<>> strand(LifoExecutor<>(ioc.get_executor()));
//
// A strand hands its queue to its inner executor when a handler arrives for an idle strand
// (Asio's strand "invoker"), with `blocking.never`. Over the io_context's own executor that is a
// post: the io_context's queue and its mutex, and often the other thread. Over this executor, a
// submission made from inside a `LifoSlot` runner of the same io_context goes to that thread's
// slot instead, and runs as soon as the current handler returns (see detail/lifo_slot.hpp): a
// service woken by another one runs next, on the same thread. A never-blocking submission from
// anywhere else is posted in a runner, so that what it wakes gets the slot; a possibly-blocking
// one is the inner executor's alone (it runs inline where the io_context's would).
// Properties are the inner executor's (queried, required and preferred through it). Thread
// safety: as the inner executor's.

#include "swarmsync/detail/lifo_slot.hpp"

#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>
#include <boost/asio/strand.hpp>

#include <type_traits>
#include <utility>

namespace swarmsync::detail {

template <class Inner = boost::asio::io_context::executor_type>
class LifoExecutor {
 public:
  explicit LifoExecutor(const Inner& inner) noexcept : inner_(inner) {}

  /// The io_context executor underneath.
  const Inner& inner() const noexcept { return inner_; }
  boost::asio::io_context& context() const noexcept { return boost::asio::query(inner_, boost::asio::execution::context); }
  bool running_in_this_thread() const noexcept { return inner_.running_in_this_thread(); }

  /// The inner executor's answer.
  template <class Property>
    requires requires(const Inner& e, const Property& p) { boost::asio::query(e, p); }
  decltype(auto) query(const Property& p) const noexcept {
    return boost::asio::query(inner_, p);
  }

  /// This executor over the inner executor with `p`.
  template <class Property>
    requires requires(const Inner& e, const Property& p) { boost::asio::require(e, p); }
  auto require(const Property& p) const noexcept {
    using Next = std::decay_t<decltype(boost::asio::require(inner_, p))>;
    return LifoExecutor<Next>(boost::asio::require(inner_, p));
  }

  /// Runs `f` as the inner executor would, except that a never-blocking submission from a thread
  /// inside this io_context's slot runner goes to the slot, and one from elsewhere is posted in
  /// a runner.
  template <class F>
  void execute(F&& f) const {
    using Task = std::decay_t<F>;
    boost::asio::io_context& ctx = context();
    if constexpr (LifoTask::fits<Task>) {
      if (boost::asio::query(inner_, boost::asio::execution::blocking) == boost::asio::execution::blocking.never) {
        Task task(std::forward<F>(f));
        if (LifoSlot::offer(task, ctx)) return;
        inner_.execute(LifoSlot::Runner<Task>{std::move(task), &ctx});
        return;
      }
    }
    inner_.execute(std::forward<F>(f));
  }

  friend bool operator==(const LifoExecutor& a, const LifoExecutor& b) noexcept { return a.inner_ == b.inner_; }
  friend bool operator!=(const LifoExecutor& a, const LifoExecutor& b) noexcept { return a.inner_ != b.inner_; }

 private:
  Inner inner_;
};

/// A strand over an io_context with the LIFO slot (what `swarmsync::make_strand` builds): 24
/// bytes, held in place by `asio::any_io_executor`.
using IoStrand = boost::asio::strand<LifoExecutor<boost::asio::io_context::executor_type>>;

}  // namespace swarmsync::detail
