#include "remote/remote_worker.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <mutex>
#include <optional>
#include <swarmsync/transport/nats/bridged_channel.hpp>
#include <thread>

#include "model/payload_json.hpp"
#include "remote/worker_gateway.hpp"
#include "workers/simulated_worker.hpp"

namespace core {

WorkerId remote_worker_id(std::string_view name) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : name) {
    h ^= c;
    h *= 16777619u;
  }
  return h | 0x80000000u;
}

int run_remote_worker(const RemoteWorkerOptions& o, const std::atomic<bool>& stop, std::ostream& err) {
  namespace sn = swarmsync::nats;
  auto fail = [&err](const std::string& why) {
    err << "error: " << why << "\n";
    return 1;
  };
  if (o.name.empty() || o.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
                            std::string::npos)
    return fail("--name '" + o.name + "': letters, digits, '_' and '-' only, not empty");
  sn::ConnectOptions connect_options;
  connect_options.name = "swarmsync-core worker " + o.name;
  auto conn = sn::connect(o.url, connect_options);
  if (!conn) return fail("--nats " + o.url + ": " + conn.error().message);
  const WorkerId id = remote_worker_id(o.name);

  // The bridges' troubles, on their threads, a line each on the error stream.
  auto err_mutex = std::make_shared<std::mutex>();
  auto warn = [&err, err_mutex](const std::string& line) {
    std::lock_guard lock(*err_mutex);
    err << "warning: " << line << "\n";
  };
  // The worker's wiring: both of its outboxes go to FromWorkers through one bridge, so that what
  // it sends goes out in the order it sent it. A job's Outcome (to the Harvester) is sent before
  // its Finished (to the Dispatcher): with one ordered publisher, a Finished that reached the
  // Core means its Outcome did too, even if the worker is killed between the two sends. (With a
  // bridge each, the Finished could go out alone: the Dispatcher would free the slot, and the
  // Harvester would wait for ever for a result no one would send again.) Its inbox is its own.
  auto shared = std::make_shared<Shared>();
  sn::BridgeOptions outbox_bridge;
  outbox_bridge.sender = o.name;
  outbox_bridge = reported(std::move(outbox_bridge), "FromWorkers", warn);
  auto outbox = sn::bridge_channel<EventPayload>(*conn, {o.core, "FromWorkers"}, outbox_bridge);
  if (!outbox) return fail("--nats " + o.url + ": " + outbox.error().message);
  for (auto channel : {ChannelType::ToDispatcher, ChannelType::ToHarvester})
    shared->wiring
        ->add_channel(channel, swarmsync::RemoteEnds<EventPayload>{outbox->tx, std::nullopt, outbox->where, {},
                                                                    outbox->transport})
        .value();
  sn::BridgeOptions inbox_bridge;
  inbox_bridge.consume_here = true;
  inbox_bridge.sender = o.name;
  inbox_bridge = reported(std::move(inbox_bridge), worker_inbox_channel(id), warn);
  auto inbox = sn::bridge_channel<RunJob>(*conn, {o.core, worker_inbox_channel(id)}, inbox_bridge);
  if (!inbox) return fail("--nats " + o.url + ": " + inbox.error().message);
  std::optional<mpsc::Receiver<RunJob>> inbox_rx = std::move(inbox->rx);

  WorkerOptions wo;
  wo.id = id;
  wo.capacity = o.capacity;
  wo.speed = o.speed;
  wo.failure_rate = o.failure_rate;
  wo.heartbeat = o.heartbeat;
  wo.seed = o.seed;
  // One session: the jobs come from the worker's JetStream channel (its Register's inbox is
  // replaced by the Core's gateway). A second session (after a silence) would have no inbox.
  wo.make_inbox = [&inbox_rx] {
    auto local = mpsc::unbounded_channel<RunJob>();
    if (!inbox_rx) return local;
    auto rx = std::move(*inbox_rx);
    inbox_rx.reset();
    return std::make_pair(std::move(local.first), std::move(rx));
  };
  auto control = std::make_shared<WorkerControl>();
  asio::io_context ioc(1);
  asio::co_spawn(asio::make_strand(ioc), run_worker(shared, wo, control), asio::detached);
  std::thread thread([&ioc] { ioc.run(); });
  while (!stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (inbox->acknowledge) inbox->acknowledge();  // received: the Dispatcher owns them now
  }
  control->kill();
  thread.join();
  return 0;
}

}  // namespace core
