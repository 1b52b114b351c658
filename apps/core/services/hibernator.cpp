#include "services/hibernator.hpp"

#include <algorithm>

namespace core {

std::size_t HibernatorState::keep_in(std::shared_ptr<HibernatorJournal> journal) {
  journal_ = std::move(journal);
  if (!journal_) return 0;
  drop_copies();
  std::size_t taken = 0;
  for (auto& held : journal_->load()) {
    if (!keys_.insert(key_of(held.job)).second) continue;
    held_.push_back(std::move(held));
    std::push_heap(held_.begin(), held_.end(), Later{});
    ++taken;
  }
  return taken;
}

void HibernatorState::drop_copies() {
  if (drop_copies_) return;
  for (const auto& held : held_) keys_.insert(key_of(held.job));
  drop_copies_ = true;
}

bool HibernatorState::hold(Held held) {
  if (drop_copies_ && !keys_.insert(key_of(held.job)).second) return false;
  if (journal_) journal_->held(held);
  held_.push_back(std::move(held));
  std::push_heap(held_.begin(), held_.end(), Later{});
  return true;
}

HibernatorState::Held HibernatorState::take() {
  std::pop_heap(held_.begin(), held_.end(), Later{});
  Held held = std::move(held_.back());
  held_.pop_back();
  if (drop_copies_) keys_.erase(key_of(held.job));
  return held;
}

std::vector<Job> HibernatorState::jobs() const {
  std::vector<Job> out;
  out.reserve(held_.size());
  for (const auto& h : held_) out.push_back(h.job);
  return out;
}

namespace {

using SteadyClock = std::chrono::steady_clock;
using WallTime = HibernatorState::WallTime;

// Holds a cron run until the first matching minute after both now and `after`; false if there is
// none within 5 years.
bool arm_cron(HibernatorState& state, Job job, const HibernatorOptions& options, std::optional<WallTime> after) {
  const auto steady_now = SteadyClock::now();
  const auto wall_now = options.now();
  const auto next = job.spec.cron->next_after(after ? std::max(*after, wall_now) : wall_now);
  if (!next) return false;
  const auto wait = std::chrono::ceil<SteadyClock::duration>((*next - wall_now) / options.clock_speed);
  state.hold({steady_now + wait, std::move(job), *next});
  return true;
}

// Holds a job received from another service; false for a cron job that never fires.
bool arm(HibernatorState& state, Hibernate msg, const HibernatorOptions& options) {
  if (msg.until) {
    state.hold({*msg.until, std::move(msg.job), std::nullopt});
  } else if (msg.job.spec.cron) {
    return arm_cron(state, std::move(msg.job), options, std::nullopt);
  } else {
    const auto due = msg.job.submitted_at + msg.job.spec.delay;
    state.hold({due, std::move(msg.job), std::nullopt});
  }
  return true;
}

// Counts a cron job that will not fire again and keeps it in the state; a bounded one counts the
// runs it will not have.
void never_fires(HibernatorState& state, Context& ctx, Job job) {
  ++state.never_fire;
  ctx.shared()->logger->warn("{}: cron job {} has no next firing time within 5 years", ctx.name(), job.id);
  if (job.spec.runs) state.runs_never_due.fetch_add(*job.spec.runs - job.run);
  state.never_due.push_back(std::move(job));
}

asio::awaitable<void> run(Context& ctx, std::shared_ptr<HibernatorState> state, HibernatorOptions options,
                          FaultHook fault) {
  auto& wiring = *ctx.shared()->wiring;
  auto inbox = wiring.take_rx(ChannelType::ToHibernator, ctx.name()).value();
  // ToScheduler is the Scheduler's inbox with several producers: the Receiver takes its tx, the
  // others add senders.
  auto scheduler = wiring.get_tx(ChannelType::ToScheduler).value();
  constexpr auto idle_wait = std::chrono::hours(24);
  for (;;) {
    // Hand over everything due, re-arming cron jobs that have runs left.
    while (!state->empty() && state->next_due() <= SteadyClock::now()) {
      auto held = state->take();
      Job next_run = held.job;
      held.job.ready_at = SteadyClock::now();
      held.job.history.push_back(JobStatus::ready);
      scheduler.send(Ready{std::move(held.job)}).value();
      state->released(next_run);  // after the send: the journal drops it once that is published
      ++state->fired;
      const auto& spec = next_run.spec;
      if (held.fires_at && (!spec.runs || next_run.run + 1 < *spec.runs)) {
        ++next_run.run;
        next_run.attempt = 0;
        next_run.placement = 0;
        next_run.history = {JobStatus::submitted, JobStatus::hibernating};
        if (!arm_cron(*state, next_run, options, held.fires_at)) never_fires(*state, ctx, std::move(next_run));
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
      Job job = h->job;
      if (!arm(*state, std::move(*h), options)) never_fires(*state, ctx, std::move(job));
    } else {
      ctx.shared()->logger->warn("{}: ignored a message that is not for the Hibernator", ctx.name());
    }
  }
  if (!state->empty()) ctx.shared()->logger->info("{}: {} job(s) still held", ctx.name(), state->size());
}

}  // namespace

Service hibernator(std::shared_ptr<HibernatorState> state, HibernatorOptions options, FaultHook fault) {
  if (options.clock_speed != 1.0) {
    // One scaled clock for every instance: restarts do not move cron time.
    const auto wall_start = options.now();
    const auto steady_start = SteadyClock::now();
    options.now = [wall_start, steady_start, speed = options.clock_speed] {
      return wall_start + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                              (SteadyClock::now() - steady_start) * speed);
    };
  }
  return [state, options, fault](Context& ctx) { return run(ctx, state, options, fault); };
}

}  // namespace core
