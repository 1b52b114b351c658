#pragma once
// Waiting for a condition with a hang guard, for tests of things that happen on other threads
// or in other processes (a nats-server, a bridge's thread):
//
//     ASSERT_TRUE(swarmsync::test::eventually([&] { return stats->received.load() == 100; }));
//
// Polls `pred` every few milliseconds until it holds or `guard` has passed; returns its last
// answer. The guard only keeps a broken test from hanging: no assertion depends on the timing.

#include <chrono>
#include <thread>

namespace swarmsync::test {

template <class Pred>
bool eventually(Pred pred, std::chrono::seconds guard = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + guard;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return pred();
}

}  // namespace swarmsync::test
