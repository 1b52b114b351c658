#include "services/receiver.hpp"

namespace core {
namespace {

asio::awaitable<void> run(Context& ctx, std::shared_ptr<ReceiverState> state, FaultHook fault) {
  auto& wiring = *ctx.shared()->wiring;
  auto inbox = wiring.take_rx(ChannelType::Submissions, ctx.name()).value();
  auto scheduler = wiring.take_tx(ChannelType::ToScheduler, ctx.name()).value();
  auto hibernator = wiring.take_tx(ChannelType::ToHibernator, ctx.name()).value();
  while (auto msg = co_await ctx.recv(inbox)) {
    if (fault) fault(*msg);
    auto* submit = std::get_if<Submit>(&*msg);
    if (!submit) {
      ctx.shared()->logger->warn("{}: ignored a message that is not a submission", ctx.name());
      continue;
    }
    Job job;
    job.id = state->next_id.fetch_add(1);
    job.spec = std::move(submit->spec);
    job.submitted_at = std::chrono::steady_clock::now();
    job.history.push_back(JobStatus::submitted);
    if (job.spec.kind() == ScheduleKind::immediate) {
      job.ready_at = job.submitted_at;
      job.history.push_back(JobStatus::ready);
      scheduler.send(Ready{std::move(job)}).value();
      state->immediate.fetch_add(1);
    } else {
      job.history.push_back(JobStatus::hibernating);
      hibernator.send(Hibernate{std::move(job)}).value();
      state->hibernated.fetch_add(1);
    }
  }
}

}  // namespace

Service receiver(std::shared_ptr<ReceiverState> state, FaultHook fault) {
  return [state, fault](Context& ctx) { return run(ctx, state, fault); };
}

}  // namespace core
