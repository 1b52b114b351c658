#include "services/scheduler.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <tuple>

namespace core {

bool SchedulerState::RunsLater::operator()(const Rank& a, const Rank& b) const {
  return std::tuple(a.priority, b.ready_at, b.id, b.run) < std::tuple(b.priority, a.ready_at, a.id, a.run);
}

void SchedulerState::enqueue(Job job) {
  static_assert(std::is_nothrow_move_assignable_v<Job>);
  const bool fresh = free_.empty();
  if (fresh && slots_.size() >= std::numeric_limits<std::uint32_t>::max())
    throw std::length_error("Scheduler: queue full");
  const auto slot = fresh ? static_cast<std::uint32_t>(slots_.size()) : free_.back();
  order_.push_back(Rank{job.spec.priority, job.ready_at, job.id, job.run, slot});  // may throw: nothing changed
  if (fresh) {
    try {
      slots_.make_room();
    } catch (...) {
      order_.pop_back();
      throw;
    }
    slots_.append(std::move(job));
  } else {
    slots_[slot] = std::move(job);
    free_.pop_back();
  }
  std::push_heap(order_.begin(), order_.end(), RunsLater{});
}

std::vector<Job> SchedulerState::jobs() const {
  std::vector<Job> out;
  out.reserve(order_.size());
  for (const Rank& r : order_) out.push_back(slots_[r.slot]);
  return out;
}

std::size_t SchedulerState::keep_in(std::shared_ptr<SchedulerJournal> journal) {
  journal_ = std::move(journal);
  if (!journal_) return 0;
  drop_copies();
  auto kept = journal_->load();
  std::size_t taken = 0;
  for (auto& job : kept.jobs) {
    if (!keys_.insert(key_of(job)).second) continue;
    enqueue(std::move(job));
    ++taken;
  }
  credits_ = std::max(credits_, kept.credits);
  return taken;
}

void SchedulerState::drop_copies() {
  if (drop_copies_) return;
  for (const Rank& r : order_) keys_.insert(key_of(slots_[r.slot]));
  drop_copies_ = true;
}

bool SchedulerState::push(Job job) {
  if (drop_copies_ && !keys_.insert(key_of(job)).second) return false;
  if (journal_) journal_->queued(job);
  enqueue(std::move(job));
  return true;
}

void SchedulerState::add_credits(unsigned n) {
  credits_ += n;
  if (journal_ && n > 0) journal_->credits_raised(credits_);
}

namespace {

asio::awaitable<void> run(Context& ctx, std::shared_ptr<SchedulerState> state, FaultHook fault) {
  auto& wiring = *ctx.shared()->wiring;
  auto inbox = wiring.take_rx(ChannelType::ToScheduler, ctx.name()).value();
  auto dispatcher = wiring.take_tx(ChannelType::ToDispatcher, ctx.name()).value();
  auto send = [&](const Job& job) { dispatcher.send(Dispatch{job}).value(); };

  state->dispatch(send);  // a restarted instance first sends what the last one could not
  while (auto msg = co_await ctx.recv(inbox)) {
    // The message goes into the state first: a failure after that point loses nothing.
    if (auto* r = std::get_if<Ready>(&*msg)) {
      const auto [id, job_run, attempt] = std::tuple(r->job.id, r->job.run, r->job.attempt);
      if (!state->push(std::move(r->job)))
        ctx.shared()->logger->info("{}: job {} run {} attempt {} is queued already: dropped the copy", ctx.name(), id,
                                   job_run, attempt);
    } else if (auto* c = std::get_if<Credit>(&*msg)) {
      state->add_credits(c->slots);
    } else {
      ctx.shared()->logger->warn("{}: ignored a message that is not for the Scheduler", ctx.name());
    }
    if (fault) fault(*msg);
    // Once the inbox is empty: a burst of jobs is ranked as a whole before any goes out.
    if (inbox.is_empty()) state->dispatch(send);
  }
  if (state->queued()) ctx.shared()->logger->info("{}: {} ready job(s) not dispatched", ctx.name(), state->queued());
}

}  // namespace

Service scheduler(std::shared_ptr<SchedulerState> state, FaultHook fault) {
  // Not a coroutine itself: the coroutine gets its own copies of `state` and `fault`.
  return [state, fault](Context& ctx) { return run(ctx, state, fault); };
}

}  // namespace core
