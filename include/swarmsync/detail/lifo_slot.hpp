#pragma once
// A thread's next continuation: tokio's LIFO slot, for handlers on an `asio::io_context`.
//
// A wake-up from a thread that runs the woken coroutine's own io_context used to `asio::defer`
// the continuation: it went into the thread's private queue, and when the waker's handler
// returned, the io_context moved it to its shared queue and took it out again, a mutex each way,
// and could hand it to another thread (a futex wake-up and a cold cache). With the slot, the
// continuation waits in a per-thread slot instead and runs on the same thread as soon as the
// handler that woke it returns, before anything in the io_context's queue:
//
//     LifoSlot::run(task, ioc);     // an io_context handler: runs `task`, then the slot
//     LifoSlot::offer(next, ioc);   // from inside it: `next` runs when the current task returns
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
// offer from anywhere else returns false and the caller defers as before. A task that does not
// fit `LifoTask` (larger than its 64 bytes) is never offered. Strands get the slot through
// `LifoExecutor` (detail/lifo_executor.hpp), the executor they run on.

#include <boost/asio/defer.hpp>
#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace swarmsync::detail {

/// A nullary task, type-erased in place: up to `kCapacity` bytes, no allocation. Move-only; its
/// move must not throw (a task's is a pointer or two: a coroutine's handler, a strand's invoker).
/// Empty when default-constructed, moved from, or run.
class LifoTask {
 public:
  static constexpr std::size_t kCapacity = 64;

  template <class F>
  static constexpr bool fits = sizeof(F) <= kCapacity && alignof(F) <= alignof(std::max_align_t);

  LifoTask() noexcept = default;
  template <class F, class D = std::decay_t<F>>
    requires(fits<D> && !std::is_same_v<D, LifoTask>)
  explicit LifoTask(F&& f) {
    emplace(std::forward<F>(f));
  }
  LifoTask(LifoTask&& other) noexcept : ops_(std::exchange(other.ops_, nullptr)) {
    if (ops_) ops_->relocate(storage_, other.storage_);
  }
  LifoTask& operator=(LifoTask&&) = delete;  // never needed: a slot is emptied, then filled
  ~LifoTask() {
    if (ops_) ops_->destroy(storage_);
  }

  explicit operator bool() const noexcept { return ops_ != nullptr; }

  /// Puts `f` in this empty task.
  template <class F, class D = std::decay_t<F>>
    requires(fits<D> && !std::is_same_v<D, LifoTask>)
  void emplace(F&& f) {
    ::new (static_cast<void*>(storage_)) D(std::forward<F>(f));
    ops_ = &kOps<D>;
  }

  /// Runs the task once, in place; it is destroyed right after, also when it throws. The task is
  /// empty from the start of the call.
  void operator()() { std::exchange(ops_, nullptr)->run(storage_); }

 private:
  struct Ops {
    void (*run)(void*);
    void (*relocate)(void* to, void* from) noexcept;
    void (*destroy)(void*) noexcept;
  };
  template <class D>
  static D& as(void* p) noexcept {
    return *std::launder(static_cast<D*>(p));
  }
  template <class D>
  static constexpr Ops kOps{
      [](void* p) {
        D& f = as<D>(p);
        struct Destroy {
          D* f;
          ~Destroy() { std::destroy_at(f); }
        } destroy{&f};
        std::move(f)();
      },
      [](void* to, void* from) noexcept {
        ::new (to) D(std::move(as<D>(from)));
        std::destroy_at(&as<D>(from));
      },
      [](void* p) noexcept { std::destroy_at(&as<D>(p)); },
  };

  alignas(std::max_align_t) unsigned char storage_[kCapacity];
  const Ops* ops_ = nullptr;
};

/// The per-thread slot. Every member is called on a thread inside the io_context's `run()`.
class LifoSlot {
 public:
  /// Tasks a runner takes from its slot before it hands the next one to the io_context's queue
  /// (tokio's cooperative budget is 128 operations a task poll).
  static constexpr unsigned kBudget = 128;

  /// An io_context handler that runs a task and then the slot: what to defer or post instead of
  /// the bare task, so that what the task wakes gets the slot.
  template <class F>
  struct Runner {
    F task;
    boost::asio::io_context* context;
    void operator()() { run(std::move(task), *context); }
  };

  /// Runs `task`, then the tasks offered to this thread's slot meanwhile, up to `kBudget` of them.
  /// Inside another runner on this thread (a handler run inline, a nested `run()` of some
  /// io_context) it only runs `task`: the outer runner keeps the slot.
  template <class F>
  static void run(F&& task, boost::asio::io_context& context) {
    if (current_) {
      std::forward<F>(task)();
      return;
    }
    Frame frame(&context);
    const Scope scope(frame);
    std::forward<F>(task)();
    // Each task runs in place in its half of the frame while offers fill the other half.
    for (unsigned left = kBudget; frame.slot() && left != 0; --left) {
      LifoTask& next = frame.slot();
      frame.filling ^= 1;
      next();
    }
  }

  /// True when this thread is inside `run` for `context`: an `offer` for it would succeed.
  static bool running(const boost::asio::io_context& context) noexcept {
    return current_ && current_->context == &context;
  }

  /// Puts `task` in the slot when this thread is inside `run` for `context`; a task already there
  /// goes to the io_context's queue. False, and `task` untouched, otherwise.
  template <class F>
    requires LifoTask::fits<F>
  static bool offer(F& task, boost::asio::io_context& context) {
    Frame* frame = current_;
    if (!frame || frame->context != &context) return false;
    LifoTask& slot = frame->slot();
    if (!slot) {
      slot.emplace(std::move(task));
      return true;
    }
    LifoTask earlier(std::move(slot));
    slot.emplace(std::move(task));
    boost::asio::defer(context.get_executor(), Runner<LifoTask>{std::move(earlier), &context});
    return true;
  }

 private:
  struct Frame {
    explicit Frame(boost::asio::io_context* c) noexcept : context(c) {}
    boost::asio::io_context* context;
    LifoTask tasks[2];
    unsigned filling = 0;  // the half offers go to; the other may be running
    LifoTask& slot() noexcept { return tasks[filling]; }
  };

  // Leaves the runner: a task still in the slot (budget spent, or a task threw) goes to the queue.
  class Scope {
   public:
    explicit Scope(Frame& frame) noexcept : frame_(frame) { current_ = &frame; }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    ~Scope() {
      current_ = nullptr;
      if (LifoTask& left = frame_.slot())
        boost::asio::defer(frame_.context->get_executor(), Runner<LifoTask>{std::move(left), frame_.context});
    }

   private:
    Frame& frame_;
  };

  // The runner on this thread's stack, if any. A plain pointer: no per-thread initialization.
  static inline thread_local Frame* current_ = nullptr;
};

}  // namespace swarmsync::detail
