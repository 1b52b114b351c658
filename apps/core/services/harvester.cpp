#include "services/harvester.hpp"

namespace core {

void HarvesterState::expect(Job job, WorkerId worker) {
  const auto key = std::make_pair(job.id, job.run);
  expected_.insert_or_assign(key, Expectation{std::move(job), worker});
  recount();
}

bool HarvesterState::forget(JobId job, std::uint64_t run, WorkerId worker) {
  auto it = expected_.find({job, run});
  if (it == expected_.end() || it->second.worker != worker) return false;
  expected_.erase(it);
  recount();
  return true;
}

std::optional<Job> HarvesterState::take(const Outcome& outcome) {
  auto it = expected_.find({outcome.job, outcome.run});
  if (it == expected_.end() || it->second.worker != outcome.worker || it->second.job.attempt != outcome.attempt)
    return std::nullopt;
  Job job = std::move(it->second.job);
  expected_.erase(it);
  recount();
  return job;
}

namespace {

asio::awaitable<void> run(Context& ctx, std::shared_ptr<HarvesterState> state, HarvesterOptions options,
                          FaultHook fault) {
  auto& wiring = *ctx.shared()->wiring;
  auto inbox = wiring.take_rx(ChannelType::ToHarvester, ctx.name()).value();
  // ToScheduler is the Scheduler's inbox with several producers: the Receiver takes its tx, the
  // others add senders.
  auto scheduler = wiring.get_tx(ChannelType::ToScheduler).value();
  auto archive = wiring.take_tx(ChannelType::HarvesterToArchive, ctx.name()).value();
  auto& log = *ctx.shared()->logger;
  auto broadcast = [&](const Job& job, JobStatus status, unsigned attempt) {
    ctx.shared()->channels->send_event_to_all_services(CoreEvent{JobStatusChanged{job.id, job.run, status, attempt}});
  };

  while (auto msg = co_await ctx.recv(inbox)) {
    if (fault) fault(*msg);
    if (auto* e = std::get_if<Expect>(&*msg)) {
      state->expect(std::move(e->job), e->worker);
    } else if (auto* f = std::get_if<Forget>(&*msg)) {
      state->forget(f->job, f->run, f->worker);
    } else if (auto* o = std::get_if<Outcome>(&*msg)) {
      auto job = state->take(*o);
      if (!job) {
        state->count_unexpected();
        log.info("{}: ignored a result of job {} run {} attempt {} from worker {}: not expected", ctx.name(), o->job,
                 o->run, o->attempt, o->worker);
        continue;
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
        ArchiveRecord record{
            *job,    o->ok, job->attempt + 1, o->worker, o->ok ? std::string() : std::move(o->error), job->submitted_at,
            finished};
        if (!archive.send(Archive{std::move(record)}))
          log.error("{}: the archive is closed: the outcome of job {} run {} is lost", ctx.name(), job->id, job->run);
      } else {
        state->count_retried();
        job->attempt += 1;
        job->ready_at = now;
        job->history.push_back(JobStatus::retrying);
        job->history.push_back(JobStatus::ready);
        broadcast(*job, JobStatus::retrying, job->attempt);
        if (!scheduler.send(Ready{*job}))
          log.error("{}: the Scheduler is closed: the retry of job {} run {} is lost", ctx.name(), job->id, job->run);
      }
    } else {
      log.warn("{}: ignored a message that is not for the Harvester", ctx.name());
    }
  }
  if (state->expected()) log.info("{}: {} result(s) still expected", ctx.name(), state->expected());
}

}  // namespace

Service harvester(std::shared_ptr<HarvesterState> state, HarvesterOptions options, FaultHook fault) {
  // Not a coroutine itself: the coroutine gets its own copies of `state`, `options` and `fault`.
  return [state, options, fault](Context& ctx) { return run(ctx, state, options, fault); };
}

}  // namespace core
