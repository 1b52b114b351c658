#pragma once
// The processes of one Core over NATS find each other: each answers "who is there?" on the core
// NATS subject `swarmsync:nodes.<core>` with what it runs and its counters, as one JSON object.
//
//     auto responder = core::NodeResponder::start(conn, "core", [&] { return status_json(); }).value();
//     auto nodes = core::ask_nodes(conn, "core", std::chrono::milliseconds(300)).value();
//     for (const auto& n : nodes) std::cout << n.name << " runs " << n.services.size() << " service(s)\n";
//
// `swarmsync-core run` asks before it boots, and runs every service that no node runs; a node
// asks before it boots and refuses to run a service another process already runs (two consumers
// of one channel would split its messages). While a run goes on, it asks again for the nodes'
// counters (workers reachable, retries, late results). Core NATS, not JetStream: only a process
// that is up answers, so a killed node is not found. An answer that is not a JSON object of the
// shape below is skipped.
//
//   {"name":"node-a","kind":"node","services":["scheduler","dispatcher"],
//    "counters":{"reachable_workers":4,"retried":12,...}}

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <swarmsync/transport/nats/connection.hpp>
#include <swarmsync/transport/nats/error.hpp>
#include <vector>

namespace core {

/// One process of a Core, as it answered.
struct NodeInfo {
  std::string name;
  std::string kind;  ///< "node" or "run"
  std::vector<std::string> services;
  std::map<std::string, std::uint64_t> counters;
};

/// Answers every request on `swarmsync:nodes.<core>` with `describe()` (called on cnats's
/// thread: it must be thread-safe) until destroyed; the destructor returns once the last
/// answer is out.
class NodeResponder {
 public:
  static swarmsync::Result<NodeResponder, swarmsync::nats::NatsError> start(swarmsync::nats::Connection& conn,
                                                                            const std::string& core,
                                                                            std::function<std::string()> describe);
  NodeResponder(NodeResponder&&) noexcept;
  NodeResponder& operator=(NodeResponder&&) = delete;
  ~NodeResponder();

  struct State;

 private:
  explicit NodeResponder(std::unique_ptr<State> state) noexcept;
  std::unique_ptr<State> state_;
};

/// The answers to one request on `swarmsync:nodes.<core>` that arrive within `wait`, or the
/// first `enough` of them. Blocks until then. Errors: the connection could not send the request.
swarmsync::Result<std::vector<NodeInfo>, swarmsync::nats::NatsError> ask_nodes(
    swarmsync::nats::Connection& conn, const std::string& core, std::chrono::milliseconds wait,
    std::size_t enough = static_cast<std::size_t>(-1));

/// `info` as the JSON object above.
std::string to_json(const NodeInfo& info);

}  // namespace core
