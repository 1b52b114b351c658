#pragma once
// The Harvester: collects the workers' results. The Dispatcher tells it which worker runs which
// placement of which attempt of which job run (`Expect`), and takes that back when a worker is
// lost (`Forget`). A result (`Outcome`) counts only if it matches an expectation: same job run,
// same worker, same attempt, same placement; anything else (a late result of a placement taken
// back, a stray attempt) is ignored and counted as unexpected. Across processes a result can
// overtake its Expect (the Expect delivered again after the Harvester's process died, behind
// newer messages): a result for a job run nothing is expected of, whose placement is not
// settled yet, is kept (in memory, at most 65,536) and handled when its Expect comes; an Expect
// older than the placement expected, or of a placement settled, is dropped.
//
// A success is broadcast as `done` and archived. A failure is retried while `attempt <
// max_retries`: broadcast as `retrying` (with the attempt about to run) and, with `attempt + 1`,
// held by the Hibernator for its backoff (`Hibernate` with `until`), which then hands it to the
// Scheduler; with no backoff, it goes to the Scheduler at once as `Ready` with `ready_at = now`.
// A failure of the last attempt is broadcast as `failed` and archived with its error.
//
// In: `ToHarvester` (`Expect`, `Forget`, `Outcome`). Out: `ToHibernator` (`Hibernate`),
// `ToScheduler` (`Ready`), `HarvesterToArchive` (`Archive`), and `JobStatusChanged` on the core
// events. Its expectations
// and counters live in a `HarvesterState` that outlives its instances, so a restarted Harvester
// still recognises the results of jobs dispatched before the restart; with a `HarvesterJournal`
// its expectations outlive its process too.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "model/flat_hash_map.hpp"
#include "wiring.hpp"

namespace core {

struct HarvesterOptions {
  unsigned max_retries = 3;  ///< a job runs at most `max_retries + 1` times
  /// The delay before the first retry; it doubles for each further retry, up to `backoff_max`.
  /// Zero: retries at once.
  std::chrono::milliseconds backoff{10};
  std::chrono::milliseconds backoff_max{1000};
};

/// The delay before attempt `attempt` (1 for the first retry) under `options`.
std::chrono::milliseconds retry_delay(const HarvesterOptions& options, unsigned attempt);

/// Where a Harvester's expectations are kept beyond its process, if anywhere (remote/
/// state_journals.hpp keeps them in JetStream): told of each change as the state makes it,
/// read once when a state starts to keep its expectations there. Called from the Harvester's
/// instance; an implementation reports its own troubles (the state goes on without it). An entry
/// is one placement of a job run: a placement's entry is settled apart from the next one's, so
/// that settling an old placement late never takes away the expectation of a newer one.
class HarvesterJournal {
 public:
  struct Entry {
    Job job;
    WorkerId worker = 0;
  };
  virtual ~HarvesterJournal() = default;
  /// `worker` runs placement `job.placement` of (job.id, job.run): kept.
  virtual void expected(const Job& job, WorkerId worker) = 0;
  /// That placement of (job, run) is no longer expected. Told only once what the Harvester sent
  /// while handling the message that settled it (the archive record, the retry) has been sent.
  virtual void settled(JobId job, std::uint64_t run, std::uint64_t placement) = 0;
  /// Every entry kept; a job run may have several (older placements settled too late).
  virtual std::vector<Entry> load() = 0;
};

/// The Harvester's expectations and counters, kept across restarts. The expectations belong to the
/// running instance; the counters may be read from any thread.
class HarvesterState {
 public:
  /// Keeps the expectations in `journal` from now on, taking on those it kept (a Harvester of an
  /// earlier process expected them; of several placements of a job run, the latest, the others
  /// settled). Call before an instance runs. Returns how many it took on.
  std::size_t keep_in(std::shared_ptr<HarvesterJournal> journal);
  /// Tells the journal of the placements settled since the last call. The Harvester calls it
  /// after it has sent what handling a message made it send: a journal told earlier could drop an
  /// expectation whose record was not sent yet (killed then, the job run would be lost).
  void settle_journal();

  /// `worker` runs `job` (its id, run and attempt); replaces an earlier expectation of that run
  /// unless that one is of a later placement (this Expect then came late: it is dropped). Returns
  /// the result that came before it (see keep_early), if any: the caller handles it now.
  std::optional<Outcome> expect(Job job, WorkerId worker);
  /// Keeps `outcome`, which matched no expectation, for the Expect that may come after it: a
  /// message delivered again after its consumer's process died comes after those published
  /// later, so a result can overtake the Expect that announced it. Kept only if no expectation of
  /// its job run is held, its placement was not settled already (handled, or taken back), and
  /// fewer than 65,536 are kept; returns false otherwise (the result is then late: ignore it).
  bool keep_early(const Outcome& outcome);
  /// Results kept for their Expect now.
  std::size_t early() const noexcept { return early_count_.load(std::memory_order_relaxed); }
  /// Drops the expectation of (`job`, `run`) if it names `worker` and `placement`; returns true if
  /// it did. Either way that placement is settled: an Expect of it that comes later is dropped.
  bool forget(JobId job, std::uint64_t run, WorkerId worker, std::uint64_t placement);
  /// The expected job if `outcome` matches its expectation (run, worker, attempt and placement),
  /// which is then removed; nothing otherwise, and the expectation, if any, stays.
  std::optional<Job> take(const Outcome& outcome);
  /// True if (`job`, `run`) is expected now.
  bool expects(JobId job, std::uint64_t run) const { return expected_.contains({job, run}); }
  /// Copies of the expected jobs (read it while no Harvester instance runs).
  std::vector<Job> expected_jobs() const;

  void count_done() noexcept { done_.fetch_add(1, std::memory_order_relaxed); }
  void count_failed() noexcept { failed_.fetch_add(1, std::memory_order_relaxed); }
  void count_retried() noexcept { retried_.fetch_add(1, std::memory_order_relaxed); }
  void count_unexpected() noexcept { unexpected_.fetch_add(1, std::memory_order_relaxed); }

  /// Job runs whose result is awaited now.
  std::size_t expected() const noexcept { return expected_count_.load(std::memory_order_relaxed); }
  /// Job runs finished well, finished failed (out of retries), failures sent back for a retry,
  /// and results ignored because nothing expected them.
  std::uint64_t done() const noexcept { return done_.load(std::memory_order_relaxed); }
  std::uint64_t failed() const noexcept { return failed_.load(std::memory_order_relaxed); }
  std::uint64_t retried() const noexcept { return retried_.load(std::memory_order_relaxed); }
  std::uint64_t unexpected() const noexcept { return unexpected_.load(std::memory_order_relaxed); }

 private:
  struct Expectation {
    Job job;
    WorkerId worker = 0;
  };
  void recount() noexcept { expected_count_.store(expected_.size(), std::memory_order_relaxed); }

  // A placement settled (its result handled, or taken back), remembered for the most recent ones.
  void remember_settled(JobId job, std::uint64_t run, std::uint64_t placement);

  using SettledKey = std::tuple<JobId, std::uint64_t, std::uint64_t>;  // (job, run, placement)
  FlatHashMap<std::pair<JobId, std::uint64_t>, Expectation, JobKeyHash> expected_;
  std::map<std::pair<JobId, std::uint64_t>, Outcome> early_;
  FlatHashMap<SettledKey, bool, JobKeyHash> settled_;  // the most recent ones, as settled_order_ holds them
  std::vector<SettledKey> settled_order_;  // a ring once full: the oldest at settled_next_
  std::size_t settled_next_ = 0;
  std::shared_ptr<HarvesterJournal> journal_;
  std::vector<SettledKey> to_settle_;  // for the journal
  std::atomic<std::size_t> early_count_{0};
  std::atomic<std::size_t> expected_count_{0};
  std::atomic<std::uint64_t> done_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::atomic<std::uint64_t> retried_{0};
  std::atomic<std::uint64_t> unexpected_{0};
};

/// The Harvester service over `state`. `fault`, if set, is called with each message before the
/// message changes anything.
Service harvester(std::shared_ptr<HarvesterState> state, HarvesterOptions options = {}, FaultHook fault = {});

}  // namespace core
