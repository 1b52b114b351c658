#include "services/hibernator.hpp"

namespace core {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Holds `job` until its next due time; false for a cron job that never fires again.
bool arm(HibernatorState& state, Job job, const HibernatorOptions& options) {
  const auto steady_now = SteadyClock::now();
  if (job.spec.cron) {
    const auto wall_now = options.now();
    const auto next = job.spec.cron->next_after(wall_now);
    if (!next) return false;
    state.hold(steady_now + std::chrono::duration_cast<SteadyClock::duration>(*next - wall_now), std::move(job));
  } else {
    state.hold(job.submitted_at + job.spec.delay, std::move(job));
  }
  return true;
}

asio::awaitable<void> run(Context& ctx, std::shared_ptr<HibernatorState> state, HibernatorOptions options,
                          FaultHook fault) {
  auto& wiring = *ctx.shared()->wiring;
  auto inbox = wiring.take_rx(ChannelType::ReceiverToHibernator, ctx.name()).value();
  // ToScheduler is the Scheduler's inbox with several producers: the Receiver takes its tx, the
  // others add senders.
  auto scheduler = wiring.get_tx(ChannelType::ToScheduler).value();
  constexpr auto idle_wait = std::chrono::hours(24);
  for (;;) {
    // Hand over everything due, re-arming recurring jobs.
    while (!state->empty() && state->next_due() <= SteadyClock::now()) {
      Job job = state->take();
      Job next_run = job;
      job.ready_at = SteadyClock::now();
      job.history.push_back(JobStatus::ready);
      scheduler.send(Ready{std::move(job)}).value();
      ++state->fired;
      if (next_run.spec.cron) {
        ++next_run.run;
        next_run.attempt = 0;
        next_run.history = {JobStatus::submitted, JobStatus::hibernating};
        if (!arm(*state, std::move(next_run), options)) ++state->never_fire;
      }
    }
    const auto deadline = state->empty() ? SteadyClock::now() + idle_wait : state->next_due();
    auto msg = co_await ctx.recv_until(inbox, deadline);
    if (!msg) {
      if (msg.error() == mpsc::RecvTimeoutError::timed_out) continue;
      break;  // stop requested, or the channel ended
    }
    if (fault) fault(*msg);
    if (auto* h = std::get_if<Hibernate>(&*msg)) {
      const JobId id = h->job.id;
      if (!arm(*state, std::move(h->job), options)) {
        ++state->never_fire;
        ctx.shared()->logger->warn("{}: cron job {} has no next firing time within 5 years", ctx.name(), id);
      }
    } else {
      ctx.shared()->logger->warn("{}: ignored a message that is not for the Hibernator", ctx.name());
    }
  }
  if (!state->empty()) ctx.shared()->logger->info("{}: {} job(s) still held", ctx.name(), state->size());
}

}  // namespace

Service hibernator(std::shared_ptr<HibernatorState> state, HibernatorOptions options, FaultHook fault) {
  return [state, options, fault](Context& ctx) { return run(ctx, state, options, fault); };
}

}  // namespace core
