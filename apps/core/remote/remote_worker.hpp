#pragma once
// A simulated worker in a process of its own, talking to a Core over NATS JetStream:
//
//     core::RemoteWorkerOptions o{.url = "nats://127.0.0.1:4222", .name = "w1", .capacity = 4};
//     std::atomic<bool> stop{false};                 // set by a signal handler
//     return core::run_remote_worker(o, stop, std::cerr);
//
// The worker is the Core's simulated worker (workers/simulated_worker.hpp), wired to the Core's
// stream `SWARMSYNC_<core>`: what it would send to the Dispatcher and the Harvester goes out on
// `<core>.FromWorkers` (the Core's worker gateway hands it on), and its jobs come from its own
// channel `<core>.Worker<id>`. Its id is derived from its name (`remote_worker_id`), so that a
// worker started again under the same name is the same worker to the Dispatcher. Jobs are
// acknowledged as they are received: if the worker dies, the Dispatcher finds it silent and sends
// its jobs elsewhere; JetStream does not hand them to the next incarnation (which would run them
// under a placement already taken back).
//
// The worker runs until `stop` is set; the Core may be started before or after it (its Register
// waits in the stream).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "wiring.hpp"

namespace core {

struct RemoteWorkerOptions {
  std::string url;            ///< the NATS server, e.g. nats://127.0.0.1:4222
  std::string core = "core";  ///< the Core's name (its stream)
  std::string name;           ///< the worker's name: letters, digits, '_' and '-'
  unsigned capacity = 4;
  double speed = 1.0;
  double failure_rate = 0.0;
  std::chrono::milliseconds heartbeat{50};
  std::uint64_t seed = 1;
};

/// The worker id of `name`: a 32-bit FNV-1a hash with the top bit set, so that it never equals
/// the id of a Core's in-process worker (1..256).
WorkerId remote_worker_id(std::string_view name);

/// Runs the worker until `stop` is set. Returns 0, or 1 after writing why to `err` (the server
/// unreachable, a bad name).
int run_remote_worker(const RemoteWorkerOptions& options, const std::atomic<bool>& stop, std::ostream& err);

}  // namespace core
