#include "remote/worker_gateway.hpp"

#include "model/payload_json.hpp"

namespace core {

std::string worker_inbox_channel(WorkerId worker) { return "Worker" + std::to_string(worker); }

swarmsync::nats::BridgeOptions reported(swarmsync::nats::BridgeOptions options, const std::string& channel,
                                        std::function<void(const std::string&)> warn,
                                        std::shared_ptr<BridgeTroubles> counts) {
  if (!counts) counts = std::make_shared<BridgeTroubles>();
  auto say = [channel, warn = std::move(warn)](std::string_view what, std::string_view why) {
    std::string line = "nats channel ";
    line += channel;
    line += ": ";
    line += what;
    line += ": ";
    line += why;
    warn(line);
  };
  options.on_lost = [say, counts](std::string_view why) {
    counts->lost.fetch_add(1, std::memory_order_relaxed);
    say("a value was lost", why);
  };
  options.on_unconfirmed = [say, counts](std::string_view why) {
    counts->published_again.fetch_add(1, std::memory_order_relaxed);
    say("a value not confirmed is published again", why);
  };
  options.inbound.on_transport_error = [say, counts](std::string_view why) {
    counts->transport_errors.fetch_add(1, std::memory_order_relaxed);
    say("transport error", why);
  };
  options.inbound.on_decode_failure = [say, counts](std::string_view subject, std::string_view why) {
    counts->undecodable.fetch_add(1, std::memory_order_relaxed);
    std::string what = "a message on ";
    what += subject;
    what += " did not decode and was dropped";
    say(what, why);
  };
  return options;
}

swarmsync::Result<mpsc::UnboundedSender<RunJob>, swarmsync::nats::NatsError> WorkerGatewayState::inbox_of(
    WorkerId worker) {
  using R = swarmsync::Result<mpsc::UnboundedSender<RunJob>, swarmsync::nats::NatsError>;
  std::lock_guard lock(mutex_);
  if (auto it = inboxes_.find(worker); it != inboxes_.end()) return R(swarmsync::in_place_value, it->second.tx);
  swarmsync::nats::BridgeOptions options;
  options.consume_here = false;
  options.sender = "core-gateway";
  const std::string channel = worker_inbox_channel(worker);
  options.fence = fence_;
  options = reported(
      std::move(options), channel, [logger = logger_](const std::string& line) { logger->warn("{}", line); },
      troubles_);
  auto ends = swarmsync::nats::bridge_channel<RunJob>(conn_, {core_, channel}, options);
  if (!ends) return std::move(ends).error();
  auto tx = ends->tx;
  inboxes_.emplace(worker, std::move(*ends));
  return R(swarmsync::in_place_value, std::move(tx));
}

bool WorkerGatewayState::knows(WorkerId worker) const {
  std::lock_guard lock(mutex_);
  return inboxes_.count(worker) != 0;
}

std::size_t WorkerGatewayState::remote_workers() const {
  std::lock_guard lock(mutex_);
  return inboxes_.size();
}

namespace {

asio::awaitable<void> run(Context& ctx, std::shared_ptr<WorkerGatewayState> state) {
  auto& wiring = *ctx.shared()->wiring;
  auto inbox = wiring.take_rx(ChannelType::FromWorkers, ctx.name()).value();
  auto dispatcher = wiring.get_tx(ChannelType::ToDispatcher).value();
  auto harvester = wiring.get_tx(ChannelType::ToHarvester).value();
  while (auto msg = co_await ctx.recv(inbox)) {
    if (auto* r = std::get_if<Register>(&*msg)) {
      auto worker_inbox = state->inbox_of(r->worker);
      if (!worker_inbox) {
        ctx.shared()->logger->error("{}: worker {} not registered: no inbox ({})", ctx.name(), r->worker,
                                    worker_inbox.error().message);
        continue;
      }
      r->inbox = std::move(*worker_inbox);
      ctx.shared()->logger->info("{}: remote worker {} registered with capacity {}", ctx.name(), r->worker,
                                 r->capacity);
      dispatcher.send(std::move(*msg)).value();
    } else if (auto* h = std::get_if<Heartbeat>(&*msg)) {
      if (!state->knows(h->worker) && h->capacity > 0) {
        // Registered with an earlier run of this core, or with the gateway of an earlier process
        // (a node killed): taken on from its heartbeat, as resumed (it did not start over).
        if (auto worker_inbox = state->inbox_of(h->worker)) {
          ctx.shared()->logger->info("{}: remote worker {} heard from without a registration in this run (it outlived "
                                     "an earlier one); registered with capacity {}",
                                     ctx.name(), h->worker, h->capacity);
          dispatcher.send(Register{h->worker, h->capacity, std::move(*worker_inbox), true}).value();
        } else {
          ctx.shared()->logger->error("{}: worker {} not taken on: no inbox ({})", ctx.name(), h->worker,
                                      worker_inbox.error().message);
        }
      }
      dispatcher.send(std::move(*msg)).value();
    } else if (std::holds_alternative<Finished>(*msg)) {
      dispatcher.send(std::move(*msg)).value();
    } else if (std::holds_alternative<Outcome>(*msg)) {
      harvester.send(std::move(*msg)).value();
    } else {
      ctx.shared()->logger->warn("{}: ignored a {} from a worker", ctx.name(), kind_name(*msg));
    }
  }
}

}  // namespace

Service worker_gateway(std::shared_ptr<WorkerGatewayState> state) {
  return [state](Context& ctx) { return run(ctx, state); };
}

}  // namespace core
