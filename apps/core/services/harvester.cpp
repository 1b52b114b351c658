#include "services/harvester.hpp"

#include <algorithm>

namespace core {

std::chrono::milliseconds retry_delay(const HarvesterOptions& options, unsigned attempt) {
  auto delay = options.backoff;
  for (unsigned i = 1; i < attempt && delay < options.backoff_max; ++i) delay *= 2;
  return std::min(delay, options.backoff_max);
}

std::size_t HarvesterState::keep_in(std::shared_ptr<HarvesterJournal> journal) {
  journal_ = std::move(journal);
  std::size_t taken = 0;
  if (!journal_) return taken;
  for (auto& entry : journal_->load()) {
    const auto key = std::make_pair(entry.job.id, entry.job.run);
    Expectation* held = expected_.find(key);
    if (!held) {
      expected_.insert(key, Expectation{std::move(entry.job), entry.worker});
      ++taken;
      continue;
    }
    // Two placements of one job run: the earlier one was settled and its entry not dropped yet.
    auto& older = held->job.placement < entry.job.placement ? held->job : entry.job;
    to_settle_.emplace_back(older.id, older.run, older.placement);
    if (&older == &held->job) *held = Expectation{std::move(entry.job), entry.worker};
  }
  recount();
  settle_journal();
  return taken;
}

void HarvesterState::settle_journal() {
  if (journal_)
    for (const auto& [job, run, placement] : to_settle_) journal_->settled(job, run, placement);
  to_settle_.clear();
}

std::optional<Outcome> HarvesterState::expect(Job job, WorkerId worker) {
  const auto key = std::make_pair(job.id, job.run);
  if (const Expectation* held = expected_.find(key); held && held->job.placement > job.placement)
    return std::nullopt;  // a later placement is expected already
  if (settled_.contains({job.id, job.run, job.placement})) return std::nullopt;  // handled, or taken back
  if (journal_) {
    journal_->expected(job, worker);
    if (const Expectation* held = expected_.find(key); held && held->job.placement != job.placement)
      to_settle_.emplace_back(job.id, job.run, held->job.placement);  // replaced by this one
  }
  std::optional<Outcome> early;
  if (auto it = early_.find(key); it != early_.end() && it->second.placement == job.placement &&
                                  it->second.worker == worker && it->second.attempt == job.attempt) {
    early = std::move(it->second);
    early_.erase(it);
    early_count_.store(early_.size(), std::memory_order_relaxed);
  }
  expected_.insert_or_assign(key, Expectation{std::move(job), worker});
  recount();
  return early;
}

bool HarvesterState::keep_early(const Outcome& outcome) {
  constexpr std::size_t most = 65536;
  const auto key = std::make_pair(outcome.job, outcome.run);
  if (expected_.contains(key) || settled_.contains({outcome.job, outcome.run, outcome.placement}) ||
      early_.size() >= most)
    return false;
  early_.insert_or_assign(key, outcome);
  early_count_.store(early_.size(), std::memory_order_relaxed);
  return true;
}

void HarvesterState::remember_settled(JobId job, std::uint64_t run, std::uint64_t placement) {
  constexpr std::size_t most = 65536;
  if (placement == 0) return;  // not numbered by a Dispatcher (which starts at 1): nothing to tell apart
  const SettledKey key{job, run, placement};
  if (!settled_.insert(key, true)) return;
  if (settled_order_.size() < most) {
    settled_order_.push_back(key);
    return;
  }
  // The ring is full: the oldest entry, at the next position, makes room.
  settled_.erase(settled_order_[settled_next_]);
  settled_order_[settled_next_] = key;
  settled_next_ = (settled_next_ + 1) % most;
}

bool HarvesterState::forget(JobId job, std::uint64_t run, WorkerId worker, std::uint64_t placement) {
  remember_settled(job, run, placement);  // that placement is over, whether its Expect came or not
  const Expectation* held = expected_.find({job, run});
  if (!held || held->worker != worker || held->job.placement != placement) return false;
  expected_.erase({job, run});
  if (journal_) to_settle_.emplace_back(job, run, placement);
  recount();
  return true;
}

std::optional<Job> HarvesterState::take(const Outcome& outcome) {
  Expectation* held = expected_.find({outcome.job, outcome.run});
  if (!held || held->worker != outcome.worker || held->job.attempt != outcome.attempt ||
      held->job.placement != outcome.placement)
    return std::nullopt;
  Job job = std::move(held->job);
  expected_.erase({outcome.job, outcome.run});
  remember_settled(job.id, job.run, job.placement);
  if (journal_) to_settle_.emplace_back(job.id, job.run, job.placement);
  recount();
  return job;
}

std::vector<Job> HarvesterState::expected_jobs() const {
  std::vector<Job> out;
  out.reserve(expected_.size());
  expected_.for_each([&](const auto&, const Expectation& e) { out.push_back(e.job); });
  return out;
}

namespace {

asio::awaitable<void> run(Context& ctx, std::shared_ptr<HarvesterState> state, HarvesterOptions options,
                          FaultHook fault) {
  auto& wiring = *ctx.shared()->wiring;
  auto inbox = wiring.take_rx(ChannelType::ToHarvester, ctx.name()).value();
  // ToScheduler is the Scheduler's inbox with several producers: the Receiver takes its tx, the
  // others add senders.
  auto scheduler = wiring.get_tx(ChannelType::ToScheduler).value();
  auto hibernator = wiring.get_tx(ChannelType::ToHibernator).value();
  auto archive = wiring.take_tx(ChannelType::HarvesterToArchive, ctx.name()).value();
  auto& log = *ctx.shared()->logger;
  auto broadcast = [&](const Job& job, JobStatus status, unsigned attempt) {
    ctx.shared()->channels->send_event_to_all_services(CoreEvent{JobStatusChanged{job.id, job.run, status, attempt}});
  };

  // A result: archived, retried or, matching no expectation, kept early or ignored.
  auto handle = [&](Outcome* o) {
    auto job = state->take(*o);
    if (!job) {
      if (state->keep_early(*o)) {
        log.info("{}: a result of job {} run {} attempt {} from worker {} came before its Expect: kept for it",
                 ctx.name(), o->job, o->run, o->attempt, o->worker);
        return;
      }
      state->count_unexpected();
      log.info("{}: ignored a result of job {} run {} attempt {} from worker {}: not expected", ctx.name(), o->job,
               o->run, o->attempt, o->worker);
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    const auto finished = o->finished == std::chrono::steady_clock::time_point{} ? now : o->finished;
    if (o->ok || job->attempt >= options.max_retries) {
      if (o->ok) {
        state->count_done();
      } else {
        state->count_failed();
      }
      broadcast(*job, o->ok ? JobStatus::done : JobStatus::failed, job->attempt);
      job->history.push_back(o->ok ? JobStatus::done : JobStatus::failed);
      const auto [id, run, attempts, submitted] = std::tuple(job->id, job->run, job->attempt + 1, job->submitted_at);
      ArchiveRecord record{.job = std::move(*job),
                           .ok = o->ok,
                           .attempts = attempts,
                           .worker = o->worker,
                           .error = o->ok ? std::string() : std::move(o->error),
                           .submitted = submitted,
                           .started = o->started == std::chrono::steady_clock::time_point{} ? finished : o->started,
                           .finished = finished};
      if (!archive.send(Archive{std::move(record)}))
        log.error("{}: the archive is closed: the outcome of job {} run {} is lost", ctx.name(), id, run);
    } else {
      state->count_retried();
      job->attempt += 1;
      job->history.push_back(JobStatus::retrying);
      broadcast(*job, JobStatus::retrying, job->attempt);
      const auto delay = retry_delay(options, job->attempt);
      bool sent = false;
      if (delay.count() > 0) {
        job->history.push_back(JobStatus::hibernating);
        sent = static_cast<bool>(hibernator.send(Hibernate{*job, now + delay}));
      } else {
        job->ready_at = now;
        job->history.push_back(JobStatus::ready);
        sent = static_cast<bool>(scheduler.send(Ready{*job}));
      }
      if (!sent)
        log.error("{}: the channel of retries is closed: the retry of job {} run {} is lost", ctx.name(), job->id,
                  job->run);
    }
  };

  while (auto msg = co_await ctx.recv(inbox)) {
    if (fault) fault(*msg);
    if (auto* e = std::get_if<Expect>(&*msg)) {
      if (auto early = state->expect(std::move(e->job), e->worker)) handle(&*early);
    } else if (auto* f = std::get_if<Forget>(&*msg)) {
      state->forget(f->job, f->run, f->worker, f->placement);
    } else if (auto* o = std::get_if<Outcome>(&*msg)) {
      handle(o);
    } else {
      log.warn("{}: ignored a message that is not for the Harvester", ctx.name());
    }
    state->settle_journal();  // what the handling sent is sent: the journal may drop what it settled
  }
  if (state->expected()) log.info("{}: {} result(s) still expected", ctx.name(), state->expected());
}

}  // namespace

Service harvester(std::shared_ptr<HarvesterState> state, HarvesterOptions options, FaultHook fault) {
  // Not a coroutine itself: the coroutine gets its own copies of `state`, `options` and `fault`.
  return [state, options, fault](Context& ctx) { return run(ctx, state, options, fault); };
}

}  // namespace core
