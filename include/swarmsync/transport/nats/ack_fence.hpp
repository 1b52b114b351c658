#pragma once
// Holds back a process's acknowledgements of what it received until what it sent by then is
// published: a message is acknowledged only once its effects have left the process.
//
//     auto fence = std::make_shared<swarmsync::nats::AckFence>();
//     BridgeOptions options;
//     options.fence = fence;   // the same fence for every bridged channel of the process
//     auto in = bridge_channel<Job>(conn, {"core", "ToHarvester"}, {.consume_here = true, .fence = fence});
//     auto out = bridge_channel<Job>(conn, {"core", "HarvesterToArchive"}, {.fence = fence});
//
// Why. A service that handles a message by sending others (the Harvester takes a result and
// sends the archive record) sends into local channels whose bridges publish in their own time.
// Acknowledged at once, the message would be gone from the stream while what it caused still
// waits in a local outbox: a process killed then loses both. With the fence, `acknowledge` of an
// inbound channel notes how many values each outbound channel of the fence had been given, and
// the acknowledgement goes to the server once each of them has settled that many (published, or
// counted lost). Killed before, the process's message is delivered again to the next consumer,
// which may then send its effects a second time: at least once, as everywhere on the wire.
//
// Cost: one lock and a small vector per acknowledgement, and a check per value published.
// Thread safety: every member from any thread.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace swarmsync::nats {

class AckFence {
 public:
  /// An outbound channel's progress: values given to it (`given`, read when an acknowledgement
  /// is asked for) and values it settled (`settle`).
  class Outbox {
   public:
    explicit Outbox(std::function<std::uint64_t()> given) : given_(std::move(given)) {}
    std::uint64_t given() const { return given_(); }
    std::uint64_t settled() const noexcept {
      // Acquire: pairs with the release in settle(), so that an acknowledgement run after it
      // reads this count only once the value's publish has returned.
      return settled_.load(std::memory_order_acquire);
    }
    void settle() noexcept { settled_.fetch_add(1, std::memory_order_release); }

   private:
    std::function<std::uint64_t()> given_;
    std::atomic<std::uint64_t> settled_{0};
  };

  /// Registers an outbound channel whose progress `given` reads. The fence keeps it weakly: once
  /// the caller drops it, acknowledgements stop waiting for it.
  std::shared_ptr<Outbox> add_outbox(std::function<std::uint64_t()> given) {
    auto outbox = std::make_shared<Outbox>(std::move(given));
    std::lock_guard lock(mutex_);
    outboxes_.push_back(outbox);
    return outbox;
  }

  /// Runs `ack` once every outbox has settled what it had been given by now: at once (on this
  /// thread) if each has, otherwise on the thread of the outbox that settles last. An
  /// acknowledgement becomes due only once those asked for before it are (two due at once may
  /// run on two threads: acknowledging "everything through n" does not mind the order).
  void after_outboxes(std::function<void()> ack) {
    std::vector<std::function<void()>> due;
    {
      std::lock_guard lock(mutex_);
      Pending p{{}, std::move(ack)};
      for (auto it = outboxes_.begin(); it != outboxes_.end();) {
        auto outbox = it->lock();
        if (!outbox) {
          it = outboxes_.erase(it);
          continue;
        }
        if (const auto given = outbox->given(); given > outbox->settled()) p.marks.emplace_back(*it, given);
        ++it;
      }
      pending_.push_back(std::move(p));
      take_due(due);
    }
    for (auto& f : due) f();
  }

  /// An outbox settled a value: runs the acknowledgements now due (on this thread).
  void poke() {
    std::vector<std::function<void()>> due;
    {
      std::lock_guard lock(mutex_);
      take_due(due);
    }
    for (auto& f : due) f();
  }

  /// Acknowledgements waiting for an outbox.
  std::size_t waiting() const {
    std::lock_guard lock(mutex_);
    return pending_.size();
  }

 private:
  struct Pending {
    std::vector<std::pair<std::weak_ptr<Outbox>, std::uint64_t>> marks;
    std::function<void()> ack;
  };

  // Moves the acknowledgements at the front whose marks are all passed into `due`.
  void take_due(std::vector<std::function<void()>>& due) {
    while (!pending_.empty()) {
      auto& front = pending_.front();
      for (auto it = front.marks.begin(); it != front.marks.end();) {
        auto outbox = it->first.lock();
        if (!outbox || outbox->settled() >= it->second) it = front.marks.erase(it);
        else ++it;
      }
      if (!front.marks.empty()) return;
      due.push_back(std::move(front.ack));
      pending_.pop_front();
    }
  }

  mutable std::mutex mutex_;
  std::vector<std::weak_ptr<Outbox>> outboxes_;
  std::deque<Pending> pending_;
};

}  // namespace swarmsync::nats
