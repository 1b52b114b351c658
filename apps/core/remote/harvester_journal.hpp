#pragma once
// The Harvester's expectations kept in a JetStream key-value bucket, so that they outlive the
// process that runs it (`swarmsync-core node --services harvester`):
//
//     auto journal = core::KvHarvesterJournal::open(conn, "core", logger).value();
//     parts.harvester->keep_in(journal);   // takes on what a killed node's Harvester expected
//
// The bucket is `swarmsync_<core>_harvester` (file storage, one revision a key, entries older
// than a day dropped by the server); a key per expected job run, `<job>.<run>`, whose value is
// the JSON of the Job with the worker (`{"job":{...},"worker":3}`). An expectation is put at
// once, waited for (a JetStream round trip in the Harvester's handling of the `Expect`), so it is
// stored before that message is acknowledged. A settled one (its result handled, or its
// placement taken back) is deleted only once what the Harvester sent by then is published (with
// the process's AckFence): killed before, the next Harvester still expects the job, and the
// result, not acknowledged either, is delivered to it again. A change the server did not take is
// logged and counted (`failures()`); the Harvester goes on with what it holds.
//
// Together with the channels' acknowledgements (a message is acknowledged once handled and once
// what its handling sent is published: AckFence), a Harvester killed at any point loses nothing:
// an `Expect` it acknowledged is in the bucket, an `Outcome` it did not acknowledge is delivered
// again, and the next Harvester loads the bucket before it takes its first message. What can
// happen twice: an Outcome handled, its record published, then the process killed before the
// acknowledgement: the next Harvester handles it again (the TaskArchive keeps a job run once and
// counts the second record), or retries the job a second time (one of the two retries then
// finishes as a late result). Killed between the acknowledgement and the delete, an entry stays:
// the next Harvester expects a result that was handled, until the bucket's age limit drops it.

#include <atomic>
#include <cstdint>
#include <memory>
#include <spdlog/logger.h>
#include <string>
#include <swarmsync/transport/nats/ack_fence.hpp>
#include <swarmsync/transport/nats/connection.hpp>
#include <swarmsync/transport/nats/error.hpp>
#include <vector>

#include "services/harvester.hpp"

namespace core {

class KvHarvesterJournal : public HarvesterJournal, public std::enable_shared_from_this<KvHarvesterJournal> {
 public:
  /// Opens the bucket of `core`, creating it if it does not exist. Blocks for the JetStream API
  /// calls. `conn` must outlive the journal; `fence` is the process's (deletes wait for it).
  static swarmsync::Result<std::shared_ptr<KvHarvesterJournal>, swarmsync::nats::NatsError> open(
      swarmsync::nats::Connection& conn, const std::string& core, std::shared_ptr<spdlog::logger> logger,
      std::shared_ptr<swarmsync::nats::AckFence> fence);
  ~KvHarvesterJournal() override;

  void expected(const Job& job, WorkerId worker) override;
  void settled(JobId job, std::uint64_t run) override;
  std::vector<Entry> load() override;

  /// The bucket's name.
  const std::string& bucket() const noexcept { return bucket_; }
  /// Changes the server did not take, and entries that did not decode at `load`.
  std::uint64_t failures() const noexcept { return failures_.load(std::memory_order_relaxed); }

  struct Store;

 private:
  KvHarvesterJournal(std::unique_ptr<Store> store, std::string bucket, std::shared_ptr<spdlog::logger> logger,
                     std::shared_ptr<swarmsync::nats::AckFence> fence);
  void drop(const std::string& key);
  void fail(const std::string& what);

  std::unique_ptr<Store> store_;
  std::string bucket_;
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<swarmsync::nats::AckFence> fence_;
  std::atomic<std::uint64_t> failures_{0};  // a count for reports, ordered with nothing
};

}  // namespace core
