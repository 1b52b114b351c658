#pragma once
// A thread's next continuation: tokio's LIFO slot, for coroutines on an `asio::io_context`.
//
// A wake-up from a thread that runs the woken coroutine's own io_context used to `asio::defer`
// the continuation: it went into the thread's private queue, and when the waker's handler
// returned, the io_context moved it to its shared queue and took it out again, a mutex each way,
// and could hand it to another thread (a futex wake-up and a cold cache). With the slot, the
// continuation waits in a per-thread slot instead and runs on the same thread as soon as the
// handler that woke it returns, before anything in the io_context's queue:
//
//     LifoSlot<Task>::run(task, ex);     // an io_context handler: runs `task`, then the slot
//     LifoSlot<Task>::offer(next, ex);   // from inside it: `next` runs when the current task returns
//
// A ping-pong between two coroutines then runs as a chain of continuations inside one io_context
// handler, without touching the io_context's queue. Rules, as tokio's:
// - one task a slot: a second offer moves the earlier task to the io_context's queue (deferred);
// - a budget: after `kBudget` tasks from the slot, the next goes to the io_context's queue and the
//   runner returns, so that other handlers and `io_context::stop()` get their turn;
// - a task in the slot never runs inline in the offering code, only after it returns, on the same
//   thread; if a task throws, what waits in the slot goes to the queue, and the exception leaves
//   `io_context::run()` as any handler's does.
// The slot exists only while `run` is on the thread's stack, and only for its io_context: an
// offer from anywhere else returns false and the caller defers as before. Strands are not served
// (their executor is not the io_context's own): their order is the strand's.

#include <boost/asio/defer.hpp>
#include <boost/asio/io_context.hpp>

#include <optional>
#include <utility>

namespace swarmsync::detail {

/// `Task`: a nullary function object, the continuation (a completion handler bound to its result);
/// it is only ever move-constructed, never assigned (Boost 1.81's `any_completion_handler`
/// move-assignment recurses forever). Every member is called on a thread inside the io_context's
/// `run()`.
template <class Task>
class LifoSlot {
 public:
  using Executor = boost::asio::io_context::executor_type;

  /// Tasks a runner takes from its slot before it hands the next one to the io_context's queue
  /// (tokio's cooperative budget is 128 operations a task poll).
  static constexpr unsigned kBudget = 128;

  /// An io_context handler that runs a task and then the slot: what to defer or post instead of
  /// the bare task, so that the coroutine it resumes gets a slot for the tasks it wakes.
  struct Runner {
    Task task;
    Executor executor;
    void operator()() { run(std::move(task), executor); }
  };

  /// Runs `task`, then the tasks offered to this thread's slot meanwhile, up to `kBudget` of them.
  /// Inside another runner on this thread (a nested `run()` of some io_context) it only runs
  /// `task`: the outer runner keeps the slot.
  static void run(Task task, const Executor& executor) {
    if (current_) {
      std::move(task)();
      return;
    }
    Frame frame{executor, std::nullopt};
    const Scope scope(frame);
    std::move(task)();
    for (unsigned left = kBudget; frame.slot && left != 0; --left) {
      Task next = std::move(*frame.slot);
      frame.slot.reset();
      std::move(next)();
    }
  }

  /// Puts `task` in the slot when this thread is inside `run` for `executor`'s io_context; a task
  /// already there goes to the io_context's queue. False, and `task` untouched, otherwise.
  static bool offer(Task& task, const Executor& executor) {
    Frame* frame = current_;
    if (!frame || frame->executor != executor) return false;
    std::optional<Task> earlier;
    if (frame->slot) {
      earlier.emplace(std::move(*frame->slot));
      frame->slot.reset();
    }
    frame->slot.emplace(std::move(task));
    if (earlier) boost::asio::defer(executor, Runner{std::move(*earlier), executor});
    return true;
  }

 private:
  struct Frame {
    Executor executor;
    std::optional<Task> slot;
  };

  // Leaves the runner: a task still in the slot (budget spent, or a task threw) goes to the queue.
  class Scope {
   public:
    explicit Scope(Frame& frame) noexcept : frame_(frame) { current_ = &frame; }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    ~Scope() {
      current_ = nullptr;
      if (frame_.slot) boost::asio::defer(frame_.executor, Runner{std::move(*frame_.slot), frame_.executor});
    }

   private:
    Frame& frame_;
  };

  // The runner on this thread's stack, if any. A plain pointer: no per-thread initialization.
  static inline thread_local Frame* current_ = nullptr;
};

}  // namespace swarmsync::detail
