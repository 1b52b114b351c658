#pragma once
// What the NATS transport's tests share: how long a test waits before it calls a wait a hang,
// and connection options that reconnect quickly to a test's own server (nats_server.hpp).
//
//     auto conn = sn::connect(server.url(), swarmsync::test::fast_reconnect()).value();

#include <chrono>
#include <swarmsync/transport/nats/connection.hpp>

namespace swarmsync::test {

/// A wait longer than this is a hang: the test fails instead of blocking the suite.
inline constexpr auto hang_guard = std::chrono::seconds(20);

/// Reconnects every 50 ms; JetStream calls wait 3 s.
inline swarmsync::nats::ConnectOptions fast_reconnect() {
  swarmsync::nats::ConnectOptions o;
  o.reconnect_wait = std::chrono::milliseconds(50);
  o.jetstream_wait = std::chrono::milliseconds(3000);
  return o;
}

}  // namespace swarmsync::test
