#pragma once
// The state of the Core's stateful services kept in JetStream key-value buckets (kv_bucket.hpp),
// so that it outlives the process that runs them (`swarmsync-core node --services ...`): a node
// killed with SIGKILL is followed by one that takes on what it held.
//
//     auto fence = nats.fence;  // the process's AckFence, shared with its bridged channels
//     auto harvester = core::KvHarvesterJournal::open(conn, "core", logger, fence).value();
//     parts.harvester->keep_in(harvester);   // takes on what a killed node's Harvester expected
//     parts.scheduler->keep_in(core::KvSchedulerJournal::open(conn, "core", logger, fence).value());
//     parts.hibernator->keep_in(core::KvHibernatorJournal::open(conn, "core", logger, fence).value());
//     parts.dispatcher->keep_in(core::KvDispatcherJournal::open(conn, "core", logger, fence).value());
//
// Buckets `swarmsync_<core>_harvester`, `_scheduler`, `_hibernator` and `_dispatcher`; values are JSON (the
// Core's messages' own: model/payload_json.hpp).
//
// Why nothing is lost. A message is acknowledged once handled and once what its handling sent
// is published (AckFence). What a service holds after acknowledging is put in its bucket during
// the handling (the bucket is an outbox of the fence: the acknowledgement waits for the server to
// store the change), and an entry is dropped only once what made it
// unneeded (a record, a Dispatch, a Ready) is published. Killed at any point, the next process
// finds in the bucket what was acknowledged and still held, and gets again what was not
// acknowledged.
//
// What may happen twice (at least once, as everywhere on the wire): killed after an effect was
// published and before its entry was dropped or its message acknowledged, the next process acts
// again (a job dispatched or fired twice, a result handled twice: the TaskArchive keeps a job run
// once and counts the second record). Copies of one message are dropped where they meet: a
// state holds a job once (by id, run, attempt and, for the Scheduler, placement).
//
// Harvester: a key per expected placement of a job run, `<job>.<run>.<placement>`, the value
// `{"job":{...},"worker":3}`. A key per placement: the late delete of a settled placement must
// not take away the entry of the retry's placement put meanwhile. Killed between a settle and
// its delete, an entry stays until the job run's next placement replaces it or the bucket's age
// limit drops it: the next Harvester expects a result that was handled.
//
// Scheduler: `job.<id>.<run>.<attempt>.<placement>` per queued job, and `credits`, the room at
// the Dispatcher, kept never below the truth: raised at once, lowered only once the Dispatches
// that used the credit are published and no raise came since (a next Scheduler may send a job
// with no slot for it, which the Dispatcher queues; it never waits for credit granted).
//
// Hibernator: `<id>.<run>.<attempt>` per held job, the value `{"job":{...},"due_ms":...,
// "fires_at_ms":...}` in wall-clock milliseconds since the epoch (a steady clock does not cross
// processes): a job due while no Hibernator ran fires as soon as the next one starts.
//
// Dispatcher: `waiting.<n>` per job waiting for a slot (n its arrival: the order is kept),
// `held.<worker>.<id>.<run>.<placement>` per job placed on a worker, `worker.<id>` its capacity,
// and `placements`, a number no placement given is above (stored ahead, 1024 at a time, waiting
// for the store: a Dispatcher that takes over never gives a placement number twice). A job placed
// at once is never kept waiting. A finished job's entry is dropped at once, a job taken back only
// once its Ready is published. What a worker holds is taken on with the worker, which takes no
// job until it is heard from again; one that never is (killed with the node, or meanwhile) is
// lost after the heartbeat timeout, and its jobs go back to the Scheduler.
//
// Thread safety: each journal is used from its service's instance; deletes after the fence run on
// a bridge's thread. A change the server did not take is logged and counted (`failures()`).

#include <cstdint>
#include <memory>
#include <mutex>
#include <spdlog/logger.h>
#include <string>
#include <swarmsync/transport/nats/ack_fence.hpp>
#include <swarmsync/transport/nats/connection.hpp>
#include <swarmsync/transport/nats/error.hpp>
#include <vector>

#include "remote/kv_bucket.hpp"
#include "services/dispatcher.hpp"
#include "services/harvester.hpp"
#include "services/hibernator.hpp"
#include "services/scheduler.hpp"

namespace core {

/// What the journals share: the bucket `swarmsync_<core>_<Journal::kService>` they are
/// kept in. `Journal` derives from it (and from its service's journal interface).
template <class Journal>
class KvJournal {
 public:
  /// Opens (or creates) the bucket; blocks for the JetStream API calls. `conn` must outlive it.
  static swarmsync::Result<std::shared_ptr<Journal>, swarmsync::nats::NatsError> open(
      swarmsync::nats::Connection& conn, const std::string& core, std::shared_ptr<spdlog::logger> logger,
      std::shared_ptr<swarmsync::nats::AckFence> fence) {
    auto bucket = KvBucket::open(conn, "swarmsync_" + core + "_" + Journal::kService, std::move(logger), std::move(fence));
    if (!bucket) return std::move(bucket.error());
    return std::make_shared<Journal>(std::move(*bucket));
  }
  explicit KvJournal(std::shared_ptr<KvBucket> bucket) : bucket_(std::move(bucket)) {}

  const std::string& bucket() const noexcept { return bucket_->name(); }
  /// Changes the server did not take and entries that could not be read (KvBucket::failures).
  std::uint64_t failures() const noexcept { return bucket_->failures(); }
  /// Waits until every change made so far is answered (see KvBucket::flush).
  bool flush() { return bucket_->flush(); }

 protected:
  std::shared_ptr<KvBucket> bucket_;
};

/// The Harvester's expectations in `swarmsync_<core>_harvester`.
class KvHarvesterJournal : public HarvesterJournal, public KvJournal<KvHarvesterJournal> {
 public:
  static constexpr const char* kService = "harvester";
  using KvJournal::KvJournal;

  void expected(const Job& job, WorkerId worker) override;
  void settled(JobId job, std::uint64_t run, std::uint64_t placement) override;
  std::vector<Entry> load() override;
};

/// The Scheduler's queue and credits in `swarmsync_<core>_scheduler`.
class KvSchedulerJournal : public SchedulerJournal, public KvJournal<KvSchedulerJournal> {
 public:
  static constexpr const char* kService = "scheduler";
  explicit KvSchedulerJournal(std::shared_ptr<KvBucket> bucket)
      : KvJournal(bucket), credits_(std::make_shared<Credits>(std::move(bucket))) {}

  void queued(const Job& job) override;
  void dispatched(const Job& job) override;
  void credits_raised(unsigned credits) override;
  void credits_spent(unsigned credits) override;
  Entries load() override;

 private:
  // The `credits` key's writers: the instance raising it, bridges' threads lowering it.
  struct Credits {
    explicit Credits(std::shared_ptr<KvBucket> b) : bucket(std::move(b)) {}
    std::shared_ptr<KvBucket> bucket;
    std::mutex mutex;
    std::uint64_t raises = 0;   // raises written so far
    std::uint64_t spends = 0;   // lowerings asked for so far
    std::uint64_t written = 0;  // the latest lowering written
  };
  std::shared_ptr<Credits> credits_;
};

/// The Hibernator's held jobs in `swarmsync_<core>_hibernator`.
class KvHibernatorJournal : public HibernatorJournal, public KvJournal<KvHibernatorJournal> {
 public:
  static constexpr const char* kService = "hibernator";
  using KvJournal::KvJournal;

  void held(const HeldJob& held) override;
  void released(const Job& job) override;
  std::vector<HeldJob> load() override;
};

/// The Dispatcher's jobs in `swarmsync_<core>_dispatcher`.
class KvDispatcherJournal : public DispatcherJournal, public KvJournal<KvDispatcherJournal> {
 public:
  static constexpr const char* kService = "dispatcher";
  using KvJournal::KvJournal;

  void registered(WorkerId worker, unsigned capacity) override;
  void waiting(std::uint64_t order, const Job& job) override;
  void placed(WorkerId worker, const Job& job, std::optional<std::uint64_t> order) override;
  void finished(WorkerId worker, const Job& job) override;
  void taken_back(WorkerId worker, const Job& job) override;
  void placements_up_to(std::uint64_t upto) override;
  Entries load() override;
};

}  // namespace core
