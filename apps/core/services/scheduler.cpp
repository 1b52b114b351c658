#include "services/scheduler.hpp"

#include <tuple>

namespace core {

bool SchedulerState::RunsLater::operator()(const Job& a, const Job& b) const {
  return std::tuple(a.spec.priority, b.ready_at, b.id, b.run) < std::tuple(b.spec.priority, a.ready_at, a.id, a.run);
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
      state->push(std::move(r->job));
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
