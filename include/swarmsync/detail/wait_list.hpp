#pragma once
// Parking of coroutines on a channel, lock-free.
//
// A coroutine that finds nothing to do parks a `WaitNode` on a `WaitList` and suspends. Whoever
// makes progress possible (a sender that published a value, a receiver that freed room, the last
// sender leaving) calls `wake_all()`, which takes the whole list with one exchange and completes
// every node that is still armed. The woken coroutine only resumes: it takes its value itself,
// after checking that it was not cancelled meanwhile ("wake, then take"), so a wake-up that loses a
// race with a cancellation or a timeout never consumes a message.
//
// Who completes a parked node is decided by one atomic word, `state`:
//   armed      - a handler is installed and nobody has completed it yet;
//   linked     - the node is (or is about to be) on a list, or in a list that a waker took;
//   initiating - the parking side is still inside the wait's initiation;
//   deferred   - a completion arrived during the initiation and waits for it to end;
//   completing - the winner of `armed` is handing the continuation to an executor from a thread
//                that may not be running it (see Shutdown).
// The waker, a cancellation and a timeout each clear `armed` with a read-modify-write; exactly one
// of them wins and completes the handler. A waker that finds the initiation over and hands the
// continuation to its own thread's LIFO slot (the waker and the woken coroutine on one io_context
// thread) clears `armed` alone and touches the node no more; any other winner sets `completing`
// in the same step and clears it once it no longer touches the executor. Every completer holds a
// reference to the node for that time. A node stays `linked` until a waker unlinks it, so a
// cancelled node that parks again is re-armed in place rather than pushed twice.
//
// After arming, the parking side re-reads the channel from inside the initiation, and that read
// touches the consumer's own state. A completion that lands meanwhile (from another thread) must
// not resume the coroutine yet, or the coroutine would run on another thread while the initiation
// still reads its state and frame: such a completion only sets `deferred`, and the initiation
// resumes the coroutine itself when it ends, from its own thread.
//
// No lost wake-up: the parking side links its node (a seq_cst RMW) and then re-reads the channel
// (seq_cst); the making-progress side publishes (seq_cst) and then reads the list head (seq_cst).
// In the single total order of these operations one of the two sees the other. When the node was
// still linked from an earlier wait, the re-arming RMW on `state` orders it against the waker's RMW on
// the same word: either the waker sees `armed`, or the parker sees `linked` cleared
// and pushes again before re-reading the channel.
//
// The list is a Treiber stack that is only ever emptied whole (`exchange(nullptr)`), so there is
// no ABA problem. Nodes are reference counted: a list holds one reference per linked node, so a
// receiver may go away while its node is still linked. A channel with a single receiver (mpsc)
// parks it in a `SingleWaiter` instead: the receiver's one node stays there, referenced, for the
// channel's life, so waking it takes no list exchange and no reference count.
//
// Shutdown. A parked handler is not in any Asio queue, so an io_context destroyed while a
// coroutine is parked would never destroy it, and a later wake-up would post to a dead context.
// Each node therefore registers (once per execution context, not per wait) with that context's
// `ParkingService`; when the context shuts down, the service destroys every handler still parked
// there, and with it the coroutine frame, as Asio does with its own pending operations. A node it
// cannot disarm has a completer on another thread that won first: the shutdown waits until that
// completer's `completing` bit clears, so the continuation is in the context's queue (and is
// destroyed with it) before the context's scheduler goes away, and no completer ever reaches a
// destroyed scheduler. The service is created after the scheduler and so shut down before it.

#include "swarmsync/detail/asio_fwd.hpp"
#include "swarmsync/detail/lifo_executor.hpp"
#include "swarmsync/detail/lifo_slot.hpp"
#include "swarmsync/detail/parked_handler.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/query.hpp>

#include <algorithm>
#include <cassert>
#include <atomic>
#include <chrono>
#include <optional>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>
#include <tuple>
#include <type_traits>
#include <utility>

namespace swarmsync::detail {

/// Busy-wait helper for the few places that wait on another thread's progress for a bounded
/// number of instructions (a writer finishing a slot): spin, then yield the core.
class Backoff {
 public:
  void pause() noexcept {
    if (++spins_ < 64) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else {
      std::this_thread::yield();
    }
  }

 private:
  unsigned spins_ = 0;
};

class WaitList;
class ParkingRegistry;

/// A parked waiter: the completion handler of one wait at a time.
class WaitNode {
 public:
  using Handler = ParkedHandler;

  using State = std::uint64_t;
  static constexpr State armed = 1;
  static constexpr State linked = 2;
  static constexpr State initiating = 4;
  static constexpr State deferred = 8;
  static constexpr State completing = 16;
  static constexpr State generation_one = 32;  // the bits above the flags count the waits

  static WaitNode* make() { return new WaitNode; }

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  /// Takes the right to complete the installed handler; true for exactly one caller per wait.
  /// The winner must then call `complete` (or `abandon`), holding a reference to the node.
  /// acq_rel: the acquire half sees the handler the parking side installed before arming; the
  /// release half publishes `completing` to a shutdown that waits for it.
  bool try_disarm() noexcept {
    State s = state_.load(std::memory_order_relaxed);
    while (s & armed) {
      if (state_.compare_exchange_weak(s, (s & ~armed) | completing, std::memory_order_acq_rel,
                                       std::memory_order_relaxed))
        return true;
    }
    return false;
  }

  /// As `try_disarm`, but only for the wait numbered `generation` (see `WaitList::arm`): a
  /// late timer of an earlier wait does not complete a later one.
  bool try_disarm(State generation) noexcept {
    State s = state_.load(std::memory_order_relaxed);
    while ((s & armed) && (s & ~(generation_one - 1)) == generation) {
      if (state_.compare_exchange_weak(s, (s & ~armed) | completing, std::memory_order_acq_rel,
                                       std::memory_order_relaxed))
        return true;
    }
    return false;
  }

  /// Arms the node for the next wait (a seq_cst RMW: the protocol's "park" step), marks it as
  /// inside the initiation and, with `also`, sets those bits too. Returns the wait's generation.
  /// A node is re-armed only once the completer of its previous wait is done with it (it may still
  /// be returning from the executor's queue): `completing` then belongs to one wait at a time.
  State arm_state(State also = 0, State* previous = nullptr) noexcept {
    State s = state_.load(std::memory_order_relaxed);
    State next;
    Backoff backoff;
    do {
      while (s & completing) {
        backoff.pause();
        s = state_.load(std::memory_order_relaxed);
      }
      next = (s + generation_one) | armed | initiating | also;
    } while (!state_.compare_exchange_weak(s, next, std::memory_order_seq_cst, std::memory_order_relaxed));
    if (previous) *previous = s;
    return next & ~(generation_one - 1);
  }

  /// Installs the completion handler of the next wait, and notes the executor it resumes on.
  template <class H>
  void install(H&& handler) {
    auto executor = asio::get_associated_executor(handler);
    asio::execution_context* context = nullptr;
    if (asio::io_context* io = plain_io_context(executor)) {
      // Relaxed: the arming RMW publishes it, as the handler (see `resumes_here`).
      io_.store(io, std::memory_order_relaxed);
      context = io;
    } else {
      io_.store(nullptr, std::memory_order_relaxed);
      executor_ = std::move(executor);
      context = &asio::query(executor_, asio::execution::context);
    }
    handler_.emplace(std::forward<H>(handler));
    register_with(*context);
  }

  /// The owner is done with the node: it leaves the parking registry and drops the owner's
  /// reference (lists that still link it keep theirs).
  void retire() {
    detach();
    release();
  }

  /// Completes the handler: hands the continuation to the handler's executor, never runs it
  /// inline, or, while the initiation is still running, leaves that to `end_initiation`; then
  /// clears `completing`. Only the winner of `try_disarm` (or of a waker's RMW that set
  /// `completing`) may call this.
  void complete(boost::system::error_code ec) {
    completion_ec_ = ec;
    State s = state_.load(std::memory_order_acquire);
    while (s & initiating) {
      // release: `completion_ec_` is visible to `end_initiation`, which acquires `deferred`.
      if (state_.compare_exchange_weak(s, (s | deferred) & ~completing, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
        return;
    }
    resume(ec);
    // release: everything this thread did with the executor happens before a waiting shutdown
    // (which acquires the cleared bit) lets the execution context go.
    state_.fetch_and(~completing, std::memory_order_release);
  }

  /// True when a waker that reads `s` (armed) may complete the wait through this thread's LIFO
  /// slot: the initiation is over, the handler runs on a plain io_context executor and this
  /// thread is inside that io_context's slot runner. Such a waker disarms without `completing`
  /// and calls `complete_here`: the context cannot shut down while this thread runs it, and the
  /// continuation, in this thread's slot, cannot run before the waker returns. `s` must have been
  /// read with acquire (or stronger): it shows this wait's executor.
  bool resumes_here(State s) const noexcept {
    if (s & initiating) return false;
    asio::io_context* io = io_.load(std::memory_order_relaxed);
    return io && LifoSlot::running(*io);
  }

  /// Completes the handler through this thread's LIFO slot; for a waker that disarmed without
  /// setting `completing` after `resumes_here`. The node is not touched after the hand-over.
  void complete_here(boost::system::error_code ec) { resume(ec); }

  /// Ends the initiation; resumes the coroutine if a completion arrived during it.
  void end_initiation() {
    const State s = state_.fetch_and(~initiating, std::memory_order_acq_rel);
    if (s & deferred) {
      state_.fetch_and(~deferred, std::memory_order_relaxed);
      resume(completion_ec_);
    }
  }

  /// The handler's cancellation slot (not connected when the wait cannot be cancelled).
  asio::cancellation_slot cancellation_slot() const { return handler_.cancellation_slot(); }

 private:
  friend class WaitList;
  friend class SingleWaiter;

  struct Resume {
    Handler handler;
    boost::system::error_code ec;
    void operator()() { std::move(handler)(ec); }
  };

  friend class ParkingRegistry;

  WaitNode() = default;
  ~WaitNode() = default;

  // A waker running on a thread of the waiting coroutine's own io_context (its handler's executor
  // a plain io_context executor) puts the continuation in that thread's `LifoSlot`, where it runs as soon as the waker's current handler returns, on the
  // same thread, before the io_context's queue and without waking another thread (tokio's LIFO
  // slot: a ping-pong between two coroutines stays on one thread, its data hot in that core's
  // cache, and never takes the io_context's mutex). Outside a slot's runner it is deferred to the
  // thread's private queue, in a runner. To a `make_strand` strand (`IoStrand`) it is deferred
  // through the strand's concrete type, and the strand's turn takes the slot the same way (see
  // detail/lifo_executor.hpp). From any other thread, or to any other executor, it is a post. The
  // continuation always waits for the end of the waker's current handler, as a task tokio wakes
  // waits for its waker to yield.
  //
  // From a foreign thread the continuation holds outstanding work on the executor until it has
  // returned: the resumed coroutine may be the last work of its io_context, whose owner may
  // destroy it as soon as `run()` returns, while this thread would otherwise still be inside the
  // post's wake-up signal.
  void resume(boost::system::error_code ec) {
    Resume next{std::move(handler_), ec};
    if (asio::io_context* io = io_.load(std::memory_order_relaxed)) {
      if (LifoSlot::offer(next, *io)) return;
      const asio::io_context::executor_type own = io->get_executor();
      // A waker inside its own io_context's run() needs no tracked work: the context outlives it.
      if (own.running_in_this_thread()) {
        asio::defer(own, LifoSlot::Runner<Resume>{std::move(next), io});
        return;
      }
      asio::defer(asio::prefer(own, asio::execution::outstanding_work.tracked),
                  LifoSlot::Runner<Resume>{std::move(next), io});
      return;
    }
    const asio::any_io_executor executor = std::move(executor_);
    executor_ = asio::any_io_executor();
    if (const auto* strand = executor.target<IoStrand>()) {
      // The concrete strand: no type-erased executor is made to hand the continuation over.
      if (strand->get_inner_executor().running_in_this_thread()) {
#if !defined(BOOST_ASIO_NO_TS_EXECUTORS)
        strand->defer(std::move(next), asio::recycling_allocator<void>());
#else
        asio::defer(*strand, std::move(next));
#endif
        return;
      }
      asio::defer(asio::prefer(*strand, asio::execution::outstanding_work.tracked), std::move(next));
      return;
    }
    asio::defer(asio::prefer(executor, asio::execution::outstanding_work.tracked), std::move(next));
  }

  // The io_context whose plain executor `executor` is (or holds, type-erased), else null.
  template <class Executor>
  static asio::io_context* plain_io_context(const Executor& executor) noexcept {
    if constexpr (std::is_same_v<Executor, asio::io_context::executor_type>) {
      return &asio::query(executor, asio::execution::context);
    } else if constexpr (std::is_same_v<Executor, asio::any_io_executor>) {
      const auto* own = executor.template target<asio::io_context::executor_type>();
      return own ? &asio::query(*own, asio::execution::context) : nullptr;
    } else {
      return nullptr;
    }
  }

  void register_with(asio::execution_context& context);
  void detach();

  std::atomic<std::uint32_t> refs_{1};
  std::atomic<State> state_{0};
  WaitNode* next_ = nullptr;  // written by the pusher before publication, read by the waker after
  Handler handler_;           // all three written by the parking side before it arms the node
  std::atomic<asio::io_context*> io_{nullptr};  // the handler's io_context, when its executor is plain
  asio::any_io_executor executor_;              // the handler's executor otherwise
  boost::system::error_code completion_ec_;  // written by the completer before it sets `deferred`
  asio::execution_context* context_ = nullptr;  // the parking side's own: where it is registered
  std::shared_ptr<ParkingRegistry> registry_;
};

/// The nodes that have parked on one execution context.
class ParkingRegistry {
 public:
  void add(WaitNode& node) {
    std::lock_guard lock(mutex_);
    if (shut_down_) return;
    node.add_ref();
    nodes_.push_back(&node);
  }

  void remove(WaitNode& node) {
    {
      std::lock_guard lock(mutex_);
      auto it = std::find(nodes_.begin(), nodes_.end(), &node);
      if (it == nodes_.end()) return;
      *it = nodes_.back();
      nodes_.pop_back();
    }
    node.release();
  }

  bool is_shut_down() const noexcept { return shut_down_flag_.load(std::memory_order_acquire); }

  /// Destroys, without invoking, every handler still parked; each destroyed handler takes its
  /// coroutine frame with it.
  void shutdown() {
    std::vector<WaitNode*> nodes;
    {
      std::lock_guard lock(mutex_);
      shut_down_ = true;
      shut_down_flag_.store(true, std::memory_order_release);
      nodes.swap(nodes_);
    }
    for (WaitNode* n : nodes) {
      if (n->try_disarm()) {
        WaitNode::Handler doomed(std::move(n->handler_));
        n->executor_ = asio::any_io_executor();
        n->io_.store(nullptr, std::memory_order_relaxed);
        n->state_.fetch_and(~WaitNode::completing, std::memory_order_relaxed);
      } else {
        // Another thread won the node and is handing its continuation to this context: wait
        // until it is done (acquire: its work on the context happens before we go on).
        Backoff backoff;
        while (n->state_.load(std::memory_order_acquire) & WaitNode::completing) backoff.pause();
      }
      n->release();
    }
  }

 private:
  std::mutex mutex_;
  std::vector<WaitNode*> nodes_;
  bool shut_down_ = false;
  std::atomic<bool> shut_down_flag_{false};
};

/// Owns the parking registry of one execution context and empties it at shutdown.
class ParkingService : public asio::execution_context::service {
 public:
  static inline asio::execution_context::id id;

  explicit ParkingService(asio::execution_context& context)
      : asio::execution_context::service(context), registry_(std::make_shared<ParkingRegistry>()) {}

  const std::shared_ptr<ParkingRegistry>& registry() const noexcept { return registry_; }

 private:
  void shutdown() override { registry_->shutdown(); }

  std::shared_ptr<ParkingRegistry> registry_;
};

inline void WaitNode::register_with(asio::execution_context& context) {
  if (&context == context_ && registry_ && !registry_->is_shut_down()) return;
  if (registry_) registry_->remove(*this);
  context_ = &context;
  registry_ = asio::use_service<ParkingService>(context).registry();
  registry_->add(*this);
}

inline void WaitNode::detach() {
  if (auto registry = std::move(registry_)) registry->remove(*this);
  context_ = nullptr;
}

/// A per-thread cache of one idle node, for waits that need a node only while they last (a
/// bounded send waiting for room). A cached node stays registered with the context it last parked
/// on, so a wait that takes it on the same context allocates nothing and takes no mutex.
class NodeCache {
 public:
  /// A node for one wait: the cached one, or a new one.
  static WaitNode* take() {
    if (WaitNode* n = std::exchange(local().node, nullptr)) return n;
    return WaitNode::make();
  }
  /// The wait is over: keeps `node` for the next one, or retires it if one is cached already.
  static void give_back(WaitNode* node) {
    Slot& slot = local();
    if (!slot.node) slot.node = node;
    else node->retire();
  }

 private:
  struct Slot {
    WaitNode* node = nullptr;
    ~Slot() {
      if (node) node->retire();
    }
  };
  static Slot& local() {
    thread_local Slot slot;
    return slot;
  }
};

/// A counted reference to a node: it holds one reference for as long as it lives.
class NodeRef {
 public:
  explicit NodeRef(WaitNode& node) noexcept : node_(&node) { node_->add_ref(); }
  NodeRef(NodeRef&& other) noexcept : node_(std::exchange(other.node_, nullptr)) {}
  NodeRef(const NodeRef& other) noexcept : node_(other.node_) {
    if (node_) node_->add_ref();
  }
  NodeRef& operator=(const NodeRef&) = delete;
  ~NodeRef() {
    if (node_) node_->release();
  }
  WaitNode* operator->() const noexcept { return node_; }

 private:
  WaitNode* node_;
};

/// A lock-free set of parked waiters, woken all at once.
class WaitList {
 public:
  WaitList() = default;
  WaitList(const WaitList&) = delete;
  WaitList& operator=(const WaitList&) = delete;
  ~WaitList() { drop(head_.exchange(nullptr, std::memory_order_acquire)); }

  /// Arms `node` (its handler must be installed) and links it if it is not linked already. The
  /// caller is inside the wait's initiation and must call `node.end_initiation()` when done.
  /// Returns the wait's generation, for `WaitNode::try_disarm(generation)`.
  WaitNode::State arm(WaitNode& node) {
    WaitNode::State s = 0;
    const WaitNode::State generation = node.arm_state(WaitNode::linked, &s);
    if (s & WaitNode::linked) return generation;
    node.add_ref();
    WaitNode* head = head_.load(std::memory_order_relaxed);
    do {
      node.next_ = head;
    } while (!head_.compare_exchange_weak(head, &node, std::memory_order_seq_cst,
                                          std::memory_order_relaxed));
    return generation;
  }

  /// True when some waiter may be parked. A seq_cst load: call it after publishing.
  bool maybe_waiting() const noexcept { return head_.load(std::memory_order_seq_cst) != nullptr; }

  /// Wakes every armed waiter. Cheap (one load) when nobody is parked.
  void wake_all() {
    if (!maybe_waiting()) return;
    WaitNode* n = head_.exchange(nullptr, std::memory_order_seq_cst);
    while (n) {
      WaitNode* next = n->next_;
      // Unlinks and, if armed, disarms in one RMW that also sets `completing` unless the
      // continuation goes to this thread's LIFO slot (see WaitNode). The list's reference keeps
      // the node alive until `release`.
      // acquire (also on a failed exchange): a state read as armed shows that wait's executor.
      WaitNode::State s = n->state_.load(std::memory_order_acquire);
      bool here = false;
      WaitNode::State next_state;
      do {
        here = (s & WaitNode::armed) && n->resumes_here(s);
        next_state = (s & ~(WaitNode::armed | WaitNode::linked)) |
                     ((s & WaitNode::armed) && !here ? WaitNode::completing : 0);
      } while (!n->state_.compare_exchange_weak(s, next_state, std::memory_order_acq_rel, std::memory_order_acquire));
      if (here) n->complete_here({});
      else if (s & WaitNode::armed) n->complete({});
      n->release();
      n = next;
    }
  }

 private:
  static void drop(WaitNode* n) {
    while (n) {
      WaitNode* next = n->next_;
      n->state_.fetch_and(~WaitNode::linked, std::memory_order_relaxed);
      n->release();
      n = next;
    }
  }

  std::atomic<WaitNode*> head_{nullptr};
};

/// The parking place of a channel that has a single receiver (mpsc): that receiver's node, taken
/// at its first wait and held, with a reference, until the channel is destroyed. A waker reaches
/// it without taking a list or a reference: waking a parked receiver is one read-modify-write
/// (disarming), and checking for one is two loads. Same protocol as `WaitList`: the parking side
/// arms its node (a seq_cst RMW; the first time, it also publishes the node with a seq_cst store)
/// and then re-reads the channel; the waker publishes and then reads the node and its state
/// (seq_cst). Only ever one node: parking a different one is a logic error (see `arm`).
class SingleWaiter {
 public:
  SingleWaiter() = default;
  SingleWaiter(const SingleWaiter&) = delete;
  SingleWaiter& operator=(const SingleWaiter&) = delete;
  ~SingleWaiter() {
    if (WaitNode* n = node_.load(std::memory_order_acquire)) n->release();
  }

  /// As `WaitList::arm`. `node` must be the same node at every call.
  WaitNode::State arm(WaitNode& node) {
    if (node_.load(std::memory_order_relaxed) != &node) {
      assert(node_.load(std::memory_order_relaxed) == nullptr && "SingleWaiter: a second node");
      node.add_ref();
      node_.store(&node, std::memory_order_seq_cst);
    }
    return node.arm_state();
  }

  /// Wakes the receiver if it is parked. Cheap (two loads, inline in the caller) when it is not.
  void wake_all() {
    WaitNode* n = node_.load(std::memory_order_seq_cst);
    if (!n) return;
    // seq_cst: the waker's "read the waiter" step, ordered after its publish (see the class
    // comment). The channel's reference keeps the node alive while it is completed.
    const WaitNode::State s = n->state_.load(std::memory_order_seq_cst);
    if (s & WaitNode::armed) wake(*n, s);
  }

 private:
  // Out of line: a send's path stays short while the receiver is busy.
  [[gnu::noinline]] static void wake(WaitNode& n, WaitNode::State s) {
    while (s & WaitNode::armed) {
      // Without `completing` when the continuation goes to this thread's LIFO slot (see WaitNode);
      // the loads above acquire the arming, so the executor read is this wait's.
      const bool here = n.resumes_here(s);
      if (n.state_.compare_exchange_weak(s, (s & ~WaitNode::armed) | (here ? 0 : WaitNode::completing),
                                         std::memory_order_acq_rel, std::memory_order_acquire)) {
        if (here) n.complete_here({});
        else n.complete({});
        return;
      }
    }
  }

  std::atomic<WaitNode*> node_{nullptr};
};

// A cancellation of the waiting coroutine completes the wait with `operation_aborted`, unless a
// waker got there first.
inline void connect_cancellation(WaitNode& node) {
  auto slot = node.cancellation_slot();
  if (!slot.is_connected()) return;
  slot.assign([&node](asio::cancellation_type type) {
    if (type != asio::cancellation_type::none && node.try_disarm()) {
      // The node is alive while armed (its coroutine is suspended); the reference keeps it so
      // until `complete` has cleared `completing`, after the coroutine may have resumed.
      const NodeRef keep(node);
      node.complete(asio::error::operation_aborted);
    }
  });
}

/// The initiation of a wait: installs `handler` in `node` (its associated executor is where it
/// will run, its cancellation slot completes the wait with `operation_aborted`), parks the node on
/// `list`, then completes it at once if `ready()` (re-read after parking: no lost wake-up). The
/// handler is never invoked inside this call: a completion that lands during it goes to the
/// handler's executor, and runs once this call has ended.
template <class List, class Ready, class Handler>
void park_now(List& list, WaitNode& node, const Ready& ready, Handler&& handler) {
  node.install(std::forward<Handler>(handler));
  connect_cancellation(node);
  list.arm(node);
  if (ready() && node.try_disarm()) node.complete({});
  node.end_initiation();
}

/// Suspends the calling coroutine on `list` until a waker completes it or it is cancelled, unless
/// `ready()` (checked after parking) says there is no need. Returns when woken or ready; throws
/// `system_error(operation_aborted)` when cancelled. Never consumes anything itself. Awaited
/// (`co_await park(...)`) from an `asio::awaitable`: a deferred operation, which the coroutine
/// awaits without a frame of its own and whose handler is the suspended coroutine itself.
template <class List, class Ready>
auto park(List& list, WaitNode& node, Ready ready) {
  return asio::async_initiate<const asio::deferred_t&, void(boost::system::error_code)>(
      [&list, &node, ready](auto handler) { park_now(list, node, ready, std::move(handler)); }, asio::deferred);
}

/// As `park`, and also completes with `asio::error::timed_out` at `deadline`. The timer and the
/// waker race on the node's state, so a timed-out wait never consumes a value: this is loss-free
/// on any executor, strand or not.
template <class List, class Ready, class Clock, class Duration>
asio::awaitable<boost::system::error_code> park_until(List& list, WaitNode& node, Ready ready,
                                                      std::chrono::time_point<Clock, Duration> deadline) {
  asio::basic_waitable_timer<Clock> timer(co_await asio::this_coro::executor, deadline);
  auto token = asio::as_tuple(asio::use_awaitable);
  auto [ec] = co_await asio::async_initiate<decltype(token), void(boost::system::error_code)>(
      [&list, &node, &ready, &timer](auto handler) {
        node.install(std::move(handler));
        connect_cancellation(node);
        const auto generation = list.arm(node);
        // The handler holds a reference, dropped even when the handler is destroyed uninvoked
        // (its io_context shut down first).
        timer.async_wait([ref = NodeRef(node), generation](boost::system::error_code tec) {
          if (!tec && ref->try_disarm(generation)) ref->complete(asio::error::timed_out);
        });
        if (ready() && node.try_disarm()) node.complete({});
        node.end_initiation();
      },
      token);
  timer.cancel();
  co_return ec;
}

/// The deadline `timeout` from now on the steady clock, for the `*_for`/`*_timeout` operations;
/// `std::nullopt` when it lies beyond the clock's range (half of it from now, about 146 years:
/// no deadline then, rather than an overflow). A timeout of zero or less is `now`.
template <class Rep, class Period>
std::optional<std::chrono::steady_clock::time_point> deadline_after(std::chrono::duration<Rep, Period> timeout) {
  using std::chrono::steady_clock;
  const steady_clock::time_point now = steady_clock::now();
  if (timeout <= std::chrono::duration<Rep, Period>::zero()) return now;
  // Compared in floating point, which cannot overflow whatever the caller's unit.
  const std::chrono::duration<double> left = steady_clock::time_point::max() - now;
  if (std::chrono::duration<double>(timeout) >= left / 2) return std::nullopt;
  return now + std::chrono::ceil<steady_clock::duration>(timeout);
}

/// Throws `operation_aborted` if the calling coroutine has been asked to stop; `state` is its
/// `co_await asio::this_coro::cancellation_state`. Called between a wake-up and taking a value,
/// so that a branch that lost a race (`||`) leaves the value queued.
inline void throw_if_cancelled(const asio::cancellation_state& state) {
  if (state.cancelled() != asio::cancellation_type::none)
    throw boost::system::system_error(asio::error::operation_aborted);
}

/// Whether the coroutine whose `cancellation_state` this is can be cancelled (it has a
/// cancellation slot, as each branch of an awaitable `||` has).
inline bool cancellable(const asio::cancellation_state& state) { return state.slot().is_connected(); }

/// Called, when `cancellable`, before a receive takes a value that is already there: yields to the
/// executor once, then throws `operation_aborted` if the coroutine was cancelled meanwhile. Asio
/// starts the branches of `||` one after the other and delivers a finished branch's result
/// through a post; the yield puts this branch's take behind that post, so that on a strand or a
/// one-thread context a sibling that already won has cancelled this branch before it takes
/// anything. Receives that cannot be cancelled skip it (one check, no frame):
///
///     const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
///     if (cancellable(state)) co_await yield_before_take();
inline asio::awaitable<void> yield_before_take() {
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  throw_if_cancelled(co_await asio::this_coro::cancellation_state);
}


// ---------------------------------------------------------------------------------------------
// Readiness waits: a receiver's `wait_ready`, on which `swarmsync::select` is built.

/// The cancellation handler of one readiness wait, emplaced once in the waiter's cancellation slot
/// for the whole wait (not at each parking, so that a canceller on another thread never meets a
/// slot being written). It records the request, then completes the parked node if it is armed. A
/// request that lands while the wait is between two parkings (woken, not parked again yet) is seen
/// by the next parking, which reads `requested` after arming its node.
///
/// Memory orders. The request is a seq_cst store followed by a seq_cst fence, then the node's
/// state is read (inside `try_disarm`); the parker arms with a seq_cst read-modify-write and then
/// reads `requested` with a seq_cst load. In the single total order either the parker's load comes
/// after the store (it sees the request and completes its own wait), or the fence comes before the
/// arming and this handler sees the node armed and completes it: a request is never missed.
class ReadyCancel {
 public:
  explicit ReadyCancel(WaitNode& node) noexcept : node_(node) {}
  ReadyCancel(const ReadyCancel&) = delete;
  ReadyCancel& operator=(const ReadyCancel&) = delete;

  void operator()(asio::cancellation_type type) {
    if (type == asio::cancellation_type::none) return;
    requested_.store(true, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (node_.try_disarm()) {
      // The reference keeps the node until `complete` has cleared `completing` (as in
      // `connect_cancellation`).
      const NodeRef keep(node_);
      node_.complete(asio::error::operation_aborted);
    }
  }

  /// True once a cancellation was requested. seq_cst: the parker's re-read (see above).
  bool requested() const noexcept { return requested_.load(std::memory_order_seq_cst); }

 private:
  WaitNode& node_;
  std::atomic<bool> requested_{false};
};

/// A readiness wait as an Asio operation: parks `node` on `list` until `ready()` holds, parking
/// again after a wake-up that finds it false (a waker that published progress this receiver has
/// already taken), and completes with no error then, or with `operation_aborted` when cancelled.
/// Consumes nothing. The handler runs on its associated executor; work is counted on that
/// executor while the wait is pending, as for Asio's own operations.
template <class List, class Ready, class Handler>
class ReadyWait {
  using Work = std::decay_t<decltype(asio::prefer(std::declval<asio::associated_executor_t<Handler>>(),
                                                  asio::execution::outstanding_work.tracked))>;

 public:
  using executor_type = asio::associated_executor_t<Handler>;
  executor_type get_executor() const noexcept { return asio::get_associated_executor(handler_); }

  /// With `yield_first`, the wait starts with a turn through the handler's executor (a post) and
  /// only then reads `ready()` and the cancellation request: a receive's guard against taking a
  /// value in a branch of `||` that a sibling has already won (see `yield_before_take`).
  static void start(List& list, WaitNode& node, Ready ready, Handler handler, bool yield_first = false) {
    ReadyCancel* cancel = nullptr;
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) cancel = &slot.template emplace<ReadyCancel>(node);
    ReadyWait wait(list, node, std::move(ready), cancel, std::move(handler));
    if (!yield_first) {
      std::move(wait).park();
      return;
    }
    const executor_type ex = wait.get_executor();
    asio::post(ex, [w = std::move(wait)]() mutable { w(boost::system::error_code()); });
  }

  ReadyWait(ReadyWait&&) = default;
  ReadyWait& operator=(ReadyWait&&) = delete;

  /// Called by the node's completer, on the handler's executor.
  void operator()(boost::system::error_code ec) {
    if (!ec && cancel_ && cancel_->requested()) ec = asio::error::operation_aborted;
    if (!ec && !ready_()) {
      std::move(*this).park();
      return;
    }
    Handler handler(std::move(handler_));
    const Work work(std::move(work_));  // released once the handler has returned
    std::move(handler)(ec);
  }

 private:
  ReadyWait(List& list, WaitNode& node, Ready ready, ReadyCancel* cancel, Handler handler)
      : list_(&list),
        node_(&node),
        ready_(std::move(ready)),
        cancel_(cancel),
        handler_(std::move(handler)),
        work_(asio::prefer(asio::get_associated_executor(handler_), asio::execution::outstanding_work.tracked)) {}

  // As `park`: arm, then re-read the channel (and the cancellation request) from inside the
  // initiation. This object moves into the node: only the copies taken first are used after.
  void park() && {
    List& list = *list_;
    WaitNode& node = *node_;
    const Ready ready = ready_;
    const ReadyCancel* cancel = cancel_;
    node.install(std::move(*this));
    list.arm(node);
    const bool done = ready() || (cancel && cancel->requested());
    if (done && node.try_disarm()) node.complete({});
    node.end_initiation();
  }

  List* list_;
  WaitNode* node_;
  Ready ready_;
  ReadyCancel* cancel_;  // in the caller's cancellation slot; null when the wait cannot be cancelled
  Handler handler_;
  Work work_;
};

/// Starts a readiness wait (see `ReadyWait`) on `list` with the receiver's `node`, completing
/// `token` with `void(boost::system::error_code)`. A null `list` (a receiver that holds no
/// channel) completes at once, through the handler's executor. One wait at a time per node.
template <class List, class Ready, class CompletionToken>
auto async_wait_ready(List* list, WaitNode& node, Ready ready, CompletionToken&& token) {
  return asio::async_initiate<CompletionToken, void(boost::system::error_code)>(
      [list, &node](auto handler, Ready r) {
        if (!list) {
          const auto ex = asio::get_associated_executor(handler);
          asio::post(ex, [h = std::move(handler)]() mutable { std::move(h)(boost::system::error_code()); });
          return;
        }
        ReadyWait<List, Ready, decltype(handler)>::start(*list, node, std::move(r), std::move(handler));
      },
      token, std::move(ready));
}

}  // namespace swarmsync::detail
