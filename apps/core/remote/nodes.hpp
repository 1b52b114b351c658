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
// How long to wait for answers: a process also enters the core's roster (`NodeRoster`, the
// key-value bucket `swarmsync_<core>_nodes`) once it answers, and leaves it when it stops. Who
// asks waits for every process the roster lists (a busy machine may answer late: a fixed window
// alone would take a slow node for none and run its services twice), and only a short while
// for others. A listed process that stays silent was killed (its entry outlived it) or is cut
// off: `discover_nodes` names it.
//
//   {"name":"node-a","kind":"node","services":["scheduler","dispatcher"],
//    "counters":{"reachable_workers":4,"retried":12,...}}

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <spdlog/logger.h>
#include <string>
#include <swarmsync/transport/nats/connection.hpp>
#include <swarmsync/transport/nats/error.hpp>
#include <vector>

namespace core {

class KvBucket;

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

/// `kind.name`: how the roster and `ask_nodes` name a process ("node.a", "run.run").
std::string roster_key(const NodeInfo& info);

/// The answers to one request on `swarmsync:nodes.<core>` that arrive within `wait`; past it, the
/// wait goes on (to `expected_wait` in all) while a process named in `expected` (roster keys)
/// has not answered. Returns early once `wait` is over, or every expected process answered if
/// `wait` is zero. Blocks until then. Errors: the connection could not send the request.
swarmsync::Result<std::vector<NodeInfo>, swarmsync::nats::NatsError> ask_nodes(
    swarmsync::nats::Connection& conn, const std::string& core, std::chrono::milliseconds wait,
    const std::set<std::string>& expected = {}, std::chrono::milliseconds expected_wait = {});

/// The processes of a core that run, as the key-value bucket `swarmsync_<core>_nodes` lists them:
/// one entry a process (its roster key), entered once it answers and left when it stops. A
/// process killed leaves its entry behind; `discover_nodes` finds it silent and `drop` removes it.
/// Thread safety: every member from any thread.
class NodeRoster {
 public:
  /// This process's entry: it leaves the roster when destroyed (or `leave()`), whichever way the
  /// process ends short of being killed. Move-only.
  class Entry {
   public:
    Entry() = default;
    Entry(Entry&& other) noexcept { *this = std::move(other); }
    Entry& operator=(Entry&& other) noexcept;
    ~Entry() { leave(); }
    /// True if the server stored the entry.
    bool stored() const noexcept { return stored_; }
    /// Leaves the roster now (once).
    void leave();

   private:
    friend class NodeRoster;
    std::shared_ptr<KvBucket> bucket_;
    std::string key_;
    bool stored_ = false;
  };

  /// Opens (creating it if need be) the roster of `core`. Blocks for the JetStream API calls.
  static swarmsync::Result<NodeRoster, swarmsync::nats::NatsError> open(swarmsync::nats::Connection& conn,
                                                                       const std::string& core,
                                                                       std::shared_ptr<spdlog::logger> logger);
  /// Enters `self`, and waits until the server stored it (`stored()` is false if it did not
  /// in 10 s: logged).
  [[nodiscard]] Entry enter(const NodeInfo& self);
  /// Removes the entry `key` (another process's, found gone) and waits until the server stored
  /// that.
  bool drop(const std::string& key);
  /// The roster keys listed now.
  std::set<std::string> listed();
  /// The bucket's name.
  const std::string& bucket() const;

 private:
  explicit NodeRoster(std::shared_ptr<KvBucket> bucket) : bucket_(std::move(bucket)) {}
  std::shared_ptr<KvBucket> bucket_;
};

/// What a process of a core found at boot: who answered, and who the roster lists but stayed
/// silent (roster keys).
struct Discovery {
  std::vector<NodeInfo> answers;
  std::vector<std::string> silent;
};

/// Asks who runs in `core`: waits `wait` for any answer, and up to `listed_wait` for each process
/// the roster lists. Errors: the request could not be sent.
swarmsync::Result<Discovery, swarmsync::nats::NatsError> discover_nodes(swarmsync::nats::Connection& conn,
                                                                      const std::string& core, NodeRoster& roster,
                                                                      std::chrono::milliseconds wait,
                                                                      std::chrono::milliseconds listed_wait);

/// `info` as the JSON object above.
std::string to_json(const NodeInfo& info);

}  // namespace core
