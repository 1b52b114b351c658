#include "services/task_archive.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace core {

bool TaskArchiveStore::add(ArchiveRecord record) {
  static_assert(std::is_nothrow_move_assignable_v<ArchiveRecord>);
  const JobSpec& spec = record.job.spec;
  const auto key = std::make_pair(record.job.id, record.job.run);
  std::lock_guard lock(mutex_);
  if (record.job.id < first_id_ || record.job.id > last_id_) {
    ++foreign_;
    return false;
  }
  if (index_.contains(key)) {
    ++duplicates_;
    return false;
  }
  // What may throw comes first, so that a failure leaves the store as it was (a new empty block
  // or an empty entry of `partial_` changes no count).
  std::pair<unsigned, unsigned>* runs = spec.finite() && spec.run_count() > 1 ? &partial_[record.job.id] : nullptr;
  records_.make_room();
  index_.insert(key, records_.size());
  if (record.ok) ++done_;
  if (!spec.cron) {  // as the summary's latencies
    histograms_.to_ready.observe(record.job.ready_at - record.submitted);
    histograms_.ready_to_started.observe(record.started - record.job.ready_at);
    histograms_.run.observe(record.finished - record.started);
  }
  if (!spec.finite()) {
    ++(record.ok ? counts_.recurring_runs_done : counts_.recurring_runs_failed);
  } else if (++counts_.finite_runs; !runs) {
    ++(record.ok ? counts_.jobs_done : counts_.jobs_failed);
  } else {
    auto& [kept, failed] = *runs;
    ++kept;
    failed += record.ok ? 0 : 1;
    if (kept == spec.run_count()) {
      ++(failed ? counts_.jobs_failed : counts_.jobs_done);
      partial_.erase(record.job.id);
    }
  }
  records_.append(std::move(record));
  return true;
}

void TaskArchiveStore::Histogram::observe(std::chrono::nanoseconds latency) {
  const double seconds = std::max(0.0, std::chrono::duration<double>(latency).count());
  ++count;
  sum_seconds += seconds;
  for (std::size_t i = 0; i < bounds.size(); ++i)
    if (seconds <= bounds[i]) ++at_most[i];
}

TaskArchiveStore::Histograms TaskArchiveStore::histograms() const {
  std::lock_guard lock(mutex_);
  return histograms_;
}

void TaskArchiveStore::accept_ids(JobId first, JobId last) {
  std::lock_guard lock(mutex_);
  first_id_ = first;
  last_id_ = last;
}

bool TaskArchiveStore::accepts(JobId job) const {
  std::lock_guard lock(mutex_);
  return job >= first_id_ && job <= last_id_;
}

std::size_t TaskArchiveStore::foreign() const {
  std::lock_guard lock(mutex_);
  return foreign_;
}

TaskArchiveStore::Counts TaskArchiveStore::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

std::size_t TaskArchiveStore::size() const {
  std::lock_guard lock(mutex_);
  return records_.size();
}

std::size_t TaskArchiveStore::done() const {
  std::lock_guard lock(mutex_);
  return done_;
}

std::size_t TaskArchiveStore::failed() const {
  std::lock_guard lock(mutex_);
  return records_.size() - done_;
}

std::size_t TaskArchiveStore::duplicates() const {
  std::lock_guard lock(mutex_);
  return duplicates_;
}

std::optional<ArchiveRecord> TaskArchiveStore::find(JobId job, std::uint64_t run) const {
  std::lock_guard lock(mutex_);
  const std::size_t* at = index_.find({job, run});
  if (!at) return std::nullopt;
  return records_[*at];
}

std::vector<ArchiveRecord> TaskArchiveStore::records() const {
  std::lock_guard lock(mutex_);
  std::vector<ArchiveRecord> out;
  out.reserve(records_.size());
  for (std::size_t i = 0; i < records_.size(); ++i) out.push_back(records_[i]);
  return out;
}

std::chrono::nanoseconds TaskArchiveStore::latency_percentile(double p) const {
  std::vector<std::chrono::nanoseconds> latencies;
  {
    std::lock_guard lock(mutex_);
    latencies.reserve(records_.size());
    for (std::size_t i = 0; i < records_.size(); ++i) {
      const ArchiveRecord& r = records_[i];
      latencies.push_back(std::max(std::chrono::nanoseconds(0),
                                   std::chrono::duration_cast<std::chrono::nanoseconds>(r.finished - r.submitted)));
    }
  }
  if (latencies.empty()) return std::chrono::nanoseconds(0);
  p = std::clamp(std::isnan(p) ? 0.0 : p, 0.0, 100.0);
  const std::size_t n = latencies.size();
  // Nearest rank: ceil(p / 100 * n), at least 1.
  const auto rank =
      std::clamp<std::size_t>(static_cast<std::size_t>(std::ceil(p * static_cast<double>(n) / 100.0)), 1, n);
  std::nth_element(latencies.begin(), latencies.begin() + static_cast<std::ptrdiff_t>(rank - 1), latencies.end());
  return latencies[rank - 1];
}

std::string TaskArchiveStore::summary() const {
  using ms = std::chrono::duration<double, std::milli>;
  return fmt::format(
      "{} job run(s) archived: {} done, {} failed, {} duplicate(s); latency p50 {:.1f} ms, p90 "
      "{:.1f} ms, p99 {:.1f} ms",
      size(), done(), failed(), duplicates(), ms(latency_percentile(50)).count(), ms(latency_percentile(90)).count(),
      ms(latency_percentile(99)).count());
}

namespace {

asio::awaitable<void> run(Context& ctx, std::shared_ptr<TaskArchiveStore> store, FaultHook fault) {
  auto inbox = ctx.shared()->wiring->take_rx(ChannelType::HarvesterToArchive, ctx.name()).value();
  auto& log = *ctx.shared()->logger;

  while (auto msg = co_await ctx.recv(inbox)) {
    if (fault) fault(*msg);
    if (auto* a = std::get_if<Archive>(&*msg)) {
      const JobId job = a->record.job.id;
      const std::uint64_t run_no = a->record.job.run;
      const bool ours = store->accepts(job);
      if (!store->add(std::move(a->record))) {
        if (ours) log.warn("{}: job {} run {} was already archived: the second record is dropped", ctx.name(), job, run_no);
        else log.debug("{}: job {} run {} is of an earlier run: its record is dropped", ctx.name(), job, run_no);
      }
    } else {
      log.warn("{}: ignored a message that is not for the TaskArchive", ctx.name());
    }
  }
  log.info("{}: {}", ctx.name(), store->summary());
}

}  // namespace

Service task_archive(std::shared_ptr<TaskArchiveStore> store, FaultHook fault) {
  // Not a coroutine itself: the coroutine gets its own copies of `store` and `fault`.
  return [store, fault](Context& ctx) { return run(ctx, store, fault); };
}

}  // namespace core
