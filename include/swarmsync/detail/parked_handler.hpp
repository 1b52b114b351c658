#pragma once
// The completion handler of a parked wait, type-erased for a `void(error_code)` call.
//
//     ParkedHandler h;
//     h.emplace(std::move(handler));          // in place when it fits, else a spare block
//     auto slot = h.cancellation_slot();      // the handler's own
//     std::move(h)(ec);                       // empty from here on; the handler is invoked
//
// What `asio::any_completion_handler` does for a wait, without its allocation: the handler of a
// coroutine parked on a channel (the suspended coroutine and a pointer or two, at most
// `kCapacity` bytes) is kept inside the object, so that parking and waking touch no allocator and
// make one indirect call each. A larger handler (a callback's readiness wait with its tracked
// executor, a select's branch) goes to a block from the thread's `SpareBlocks`, which keeps the
// blocks given back for the next waits: a steady stream of waits allocates nothing, and these
// blocks do not compete with the two that Asio's recycling allocator keeps a thread for its own
// operations. Asio's rule holds either way: the handler's memory is given back before the handler
// is invoked.
//
// Move-only, and a move must not throw: a handler that fits is kept in place only when its move
// constructor is noexcept, and one that does not is kept behind a pointer. Not thread-safe: one
// owner at a time, as a handler.

#include "swarmsync/detail/asio_fwd.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace swarmsync::detail {

/// A thread's spare memory blocks for parked handlers that do not fit in place: up to `kSlots`
/// blocks given back, each reused for a request it is large enough for. Sizes are rounded up to
/// `kGrain` bytes so that handlers of close sizes share blocks. A block may be given back on
/// another thread than the one that took it (a wait completed elsewhere), and after the thread's
/// cache is gone (a handler destroyed late in the thread's exit): it is then freed at once.
class SpareBlocks {
 public:
  static constexpr std::size_t kSlots = 4;
  static constexpr std::size_t kGrain = 64;

  /// The size of the block `take(bytes)` returns.
  static constexpr std::size_t rounded(std::size_t bytes) noexcept { return (bytes + kGrain - 1) / kGrain * kGrain; }

  /// A block of at least `rounded(bytes)` bytes, aligned as `operator new` aligns; its size is
  /// stored in `*size`. Throws `std::bad_alloc`.
  static void* take(std::size_t bytes, std::size_t* size) {
    *size = rounded(bytes);
    if (gone) return ::operator new(*size);
    Cache& cache = local();
    for (Slot& slot : cache.slots) {
      if (slot.block && slot.size >= bytes) {
        *size = slot.size;
        return std::exchange(slot.block, nullptr);
      }
    }
    return ::operator new(*size);
  }

  /// Gives a block back: kept for the next `take` while there is room, freed otherwise.
  static void give(void* block, std::size_t size) noexcept {
    if (gone) {
      ::operator delete(block);
      return;
    }
    Cache& cache = local();
    for (Slot& slot : cache.slots) {
      if (!slot.block) {
        slot = Slot{block, size};
        return;
      }
    }
    ::operator delete(block);
  }

 private:
  struct Slot {
    void* block = nullptr;
    std::size_t size = 0;
  };
  struct Cache {
    Slot slots[kSlots];
    Cache() = default;
    Cache(const Cache&) = delete;
    Cache& operator=(const Cache&) = delete;
    ~Cache() {
      for (Slot& slot : slots)
        if (slot.block) ::operator delete(std::exchange(slot.block, nullptr));
      gone = true;
    }
  };

  // Set when this thread's cache is destroyed. A plain flag with nothing to destroy: it stays
  // readable until the thread ends, after every thread_local object's destructor.
  static inline thread_local bool gone = false;
  static Cache& local() noexcept {
    thread_local Cache cache;
    return cache;
  }
};

class ParkedHandler {
 public:
  /// Bytes a handler may take to be kept in place: a coroutine's receive (its suspended thread,
  /// its result and its operation), three pointers.
  static constexpr std::size_t kCapacity = 3 * sizeof(void*);

  template <class H>
  static constexpr bool fits_inline = sizeof(H) <= kCapacity && alignof(H) <= alignof(void*) &&
                                      std::is_nothrow_move_constructible_v<H>;

  ParkedHandler() noexcept = default;
  ParkedHandler(ParkedHandler&& other) noexcept : ops_(std::exchange(other.ops_, nullptr)) {
    if (ops_) ops_->relocate(storage_, other.storage_);
  }
  ParkedHandler& operator=(ParkedHandler&&) = delete;  // a node's handler is emptied, then filled
  ~ParkedHandler() { reset(); }

  explicit operator bool() const noexcept { return ops_ != nullptr; }

  /// Puts `handler` in this object, destroying the one it held, if any. Throws what the handler's
  /// move throws, or `std::bad_alloc` for one that does not fit; this object is then empty.
  template <class H, class D = std::decay_t<H>>
    requires(!std::is_same_v<D, ParkedHandler>)
  void emplace(H&& handler) {
    reset();
    if constexpr (fits_inline<D>) {
      ::new (static_cast<void*>(storage_)) D(std::forward<H>(handler));
      ops_ = &kInline<D>;
    } else {
      static_assert(alignof(D) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__, "ParkedHandler: an over-aligned handler");
      std::size_t size = 0;
      void* block = SpareBlocks::take(sizeof(D), &size);
      try {
        ::new (block) D(std::forward<H>(handler));
      } catch (...) {
        SpareBlocks::give(block, size);
        throw;
      }
      ::new (static_cast<void*>(storage_)) Boxed<D>{static_cast<D*>(block), size};
      ops_ = &kBoxed<D>;
    }
  }

  /// Destroys the handler without invoking it (and with it, for a coroutine, its frame).
  void reset() noexcept {
    if (const Ops* ops = std::exchange(ops_, nullptr)) ops->destroy(storage_);
  }

  /// The handler's cancellation slot (not connected when it has none, or when empty).
  asio::cancellation_slot cancellation_slot() const noexcept {
    return ops_ ? ops_->slot(storage_) : asio::cancellation_slot();
  }

  /// Invokes the handler with `ec`. Its storage is given back first; this object is empty from
  /// the start of the call, so the handler may put another one in it.
  void operator()(boost::system::error_code ec) && { std::exchange(ops_, nullptr)->invoke(storage_, ec); }

 private:
  struct Ops {
    void (*invoke)(void*, boost::system::error_code);
    void (*relocate)(void* to, void* from) noexcept;
    void (*destroy)(void*) noexcept;
    asio::cancellation_slot (*slot)(const void*) noexcept;
  };

  template <class D>
  static D& as(void* p) noexcept {
    return *std::launder(static_cast<D*>(p));
  }
  template <class D>
  static const D& as(const void* p) noexcept {
    return *std::launder(static_cast<const D*>(p));
  }

  template <class D>
  static asio::cancellation_slot slot_of(const D& handler) noexcept {
    return asio::get_associated_cancellation_slot(handler, asio::cancellation_slot());
  }

  // Where a handler that does not fit is kept: its block and the block's size.
  template <class D>
  struct Boxed {
    D* handler;
    std::size_t size;
  };

  // Destroys a boxed handler and gives its block back.
  template <class D>
  struct GiveBack {
    Boxed<D> boxed;
    ~GiveBack() {
      std::destroy_at(boxed.handler);
      SpareBlocks::give(boxed.handler, boxed.size);
    }
  };

  // In place: the handler is moved to the stack and its storage emptied (also when the move
  // throws), then it is called.
  template <class D>
  static constexpr Ops kInline{
      [](void* p, boost::system::error_code ec) {
        struct Empty {
          D* stored;
          ~Empty() { std::destroy_at(stored); }
        };
        D handler = [&] {
          const Empty empty{&as<D>(p)};
          return D(std::move(*empty.stored));
        }();
        std::move(handler)(ec);
      },
      [](void* to, void* from) noexcept {
        ::new (to) D(std::move(as<D>(from)));
        std::destroy_at(&as<D>(from));
      },
      [](void* p) noexcept { std::destroy_at(&as<D>(p)); },
      [](const void* p) noexcept { return slot_of(as<D>(p)); },
  };

  // Behind a pointer to a spare block: the block is given back (also when the move throws)
  // before the call.
  template <class D>
  static constexpr Ops kBoxed{
      [](void* p, boost::system::error_code ec) {
        D handler = [&] {
          const GiveBack<D> give_back{as<Boxed<D>>(p)};
          return D(std::move(*give_back.boxed.handler));
        }();
        std::move(handler)(ec);
      },
      [](void* to, void* from) noexcept { ::new (to) Boxed<D>(as<Boxed<D>>(from)); },
      [](void* p) noexcept { const GiveBack<D> give_back{as<Boxed<D>>(p)}; },
      [](const void* p) noexcept { return slot_of(*as<Boxed<D>>(p).handler); },
  };

  alignas(void*) unsigned char storage_[kCapacity];
  const Ops* ops_ = nullptr;
};

}  // namespace swarmsync::detail
