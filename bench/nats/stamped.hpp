#pragma once
// The value the NATS cases send: an mpsc value (producer and sequence, bench.hpp) and the time it
// was sent, for the hop latency. JSON on the wire, for swarmsync's bridges and plain cnats alike.

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "bench.hpp"

namespace bench::nats {

struct Stamped {
  Value v = 0;
  std::int64_t sent_ns = 0;  // steady clock
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Stamped, v, sent_ns)

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Values per case at scale 1, over all producers, sent as fast as they go (the throughput).
constexpr std::uint64_t kValues = 20'000;
/// Then values sent one at a time, each received before the next (the hop latency, unloaded).
constexpr std::uint64_t kPaced = 500;

}  // namespace bench::nats
