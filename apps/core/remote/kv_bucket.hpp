#pragma once
// A JetStream key-value bucket in which a Core service keeps its state beyond its process
// (state_journals.hpp builds the Harvester's, the Scheduler's and the Hibernator's on it):
//
//     auto bucket = core::KvBucket::open(conn, "swarmsync_core_scheduler", logger, fence).value();
//     bucket->put("job.7.0.0.0", json);          // on its way; kept before any later ack
//     bucket->drop_after_fence("job.7.0.0.0");   // once what the process sent by now is published
//     bucket->flush();                           // every change answered
//     for (auto& [key, value] : bucket->entries()) ...
//
// The bucket is created if it does not exist: file storage, one revision a key, entries older
// than a day dropped by the server by default (what a Core left behind does not outlive it for
// long).
//
// Changes are published without waiting (a JetStream round trip each would bound a service
// to a few thousand changes a second), and the bucket is an outbox of the process's AckFence: a
// message received after a change is acknowledged only once the server has stored the change.
// So "kept before the message that caused it is acknowledged" holds as it would with a wait. A
// change the server does not answer within 5 s is published again, up to 5 times; one it
// refuses, or never answers, is logged and counted (`failures()`), and the service goes on with
// what it holds: a journal is a second copy, never the one the service works from.
//
// Order: changes of one key are stored in the order made, a change made after the fence (a
// drop) after every change made before it.
//
// Thread safety: every member from any thread; `after_fence` runs on the thread that settles
// the fence last (a bridge's, or cnats's thread answering a change), or at once.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <spdlog/logger.h>
#include <string>
#include <string_view>
#include <swarmsync/transport/nats/ack_fence.hpp>
#include <swarmsync/transport/nats/connection.hpp>
#include <swarmsync/transport/nats/error.hpp>
#include <utility>
#include <vector>

namespace core {

class KvBucket : public std::enable_shared_from_this<KvBucket> {
 public:
  /// Opens the bucket `name` (letters, digits, '-' and '_'), creating it if it does not exist,
  /// with entries dropped by the server at `max_age` (zero: never). Blocks for the JetStream API
  /// calls. `conn` must outlive the bucket; `fence` is the process's (drop_after_fence waits for
  /// it; null: it drops at once).
  static swarmsync::Result<std::shared_ptr<KvBucket>, swarmsync::nats::NatsError> open(
      swarmsync::nats::Connection& conn, const std::string& name, std::shared_ptr<spdlog::logger> logger,
      std::shared_ptr<swarmsync::nats::AckFence> fence, std::chrono::seconds max_age = std::chrono::hours(24));
  ~KvBucket();
  KvBucket(const KvBucket&) = delete;
  KvBucket& operator=(const KvBucket&) = delete;

  /// Stores `value` under `key` (replacing it), without waiting. False if it could not even be
  /// sent (counted as a failure).
  bool put(const std::string& key, std::string_view value);
  /// Deletes `key`, without waiting. False if it could not be sent.
  bool drop(const std::string& key);
  /// Waits (at most `wait`) until every change made so far is answered; true if all were.
  bool flush(std::chrono::milliseconds wait = std::chrono::seconds(10));
  /// Runs `then` once what this process's outbound channels and this bucket were given by now is
  /// published (at once without a fence). A bucket destroyed by then does not run it.
  void after_fence(std::function<void(KvBucket&)> then);
  /// Deletes `key` after the fence: a state entry whose effect (a message sent) must be out
  /// before the entry goes. Killed before, the entry stays, and the next process acts on it again.
  void drop_after_fence(std::string key);
  /// Every (key, value) stored now, in no particular order.
  std::vector<std::pair<std::string, std::string>> entries();

  /// The bucket's name.
  const std::string& name() const noexcept { return name_; }
  /// Changes the server did not take and entries that could not be read.
  std::uint64_t failures() const noexcept { return failures_.load(std::memory_order_relaxed); }
  /// Logs `what` and counts it as a failure (for the journals' own troubles: an entry that does
  /// not decode).
  void fail(const std::string& what);

  struct Store;  // cnats's handles; see kv_bucket.cpp

 private:
  KvBucket(std::string name, std::shared_ptr<spdlog::logger> logger, std::shared_ptr<swarmsync::nats::AckFence> fence);
  bool publish(const std::string& key, std::string_view value, bool is_delete);
  void settle();  // a change answered, or given up

  std::unique_ptr<Store> store_;
  std::shared_ptr<swarmsync::nats::AckFence::Outbox> outbox_;  // this bucket in the fence
  // Changes sent, read by the fence (through the outbox, which may outlive the bucket briefly).
  std::shared_ptr<std::atomic<std::uint64_t>> given_ = std::make_shared<std::atomic<std::uint64_t>>(0);
  std::string name_;
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<swarmsync::nats::AckFence> fence_;
  std::atomic<std::uint64_t> failures_{0};  // a count for reports, ordered with nothing
};

}  // namespace core
