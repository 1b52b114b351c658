#pragma once
// What the channels' race tests share: a check that the values 0, 1, 2... of one producer arrive
// each exactly once and in order (`InOrder`), and a producer thread that sends them at a pace of
// the test's choosing (`PacedProducer`).
//
//     InOrder t;
//     PacedProducer producer(std::move(tx), total, MyPace(seed, t.next));   // starts sending
//     ... the consumer calls t.see(value) for each value received ...
//     EXPECT_TRUE(producer.join());
//     t.expect_all(total);
//
// A pace is any object with `void after(std::uint64_t i)`, called on the producer's thread after
// value `i` is sent; it may read `InOrder::next` to wait for the consumer.

#include <swarmsync/channels/mpsc.hpp>

#include "support/async.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

namespace swarmsync::test {

/// Checks that the values 0, 1, 2... of one producer arrive each exactly once, in order. The
/// consumer's side (`see`, the counters) belongs to one thread at a time; `next` may be read
/// from any thread.
struct InOrder {
  std::uint64_t expected = 0;
  std::uint64_t received = 0;
  std::uint64_t lost = 0;            // values skipped over
  std::uint64_t duplicated = 0;      // values seen again (or out of order)
  std::uint64_t timeouts = 0;        // races a timer or a deadline won (for the tests that count them)
  std::uint64_t early_timeouts = 0;  // timed out before the deadline
  std::uint64_t other_errors = 0;
  std::string first_error;
  // `expected`, published for the producer's pace (release: a pace that reads it with acquire
  // sees the values before it received).
  std::atomic<std::uint64_t> next{0};

  void see(std::uint64_t v) {
    ++received;
    if (v > expected) {
      lost += v - expected;
      note("lost " + std::to_string(expected) + ".." + std::to_string(v - 1));
    } else if (v < expected) {
      ++duplicated;
      note("got " + std::to_string(v) + " again (expected " + std::to_string(expected) + ")");
      return;
    }
    expected = v + 1;
    next.store(expected, std::memory_order_release);
  }

  void note(std::string what) {
    if (first_error.empty()) first_error = std::move(what);
  }

  void expect_all(std::uint64_t total) {
    if (expected < total) note("never received " + std::to_string(expected) + ".." + std::to_string(total - 1));
    EXPECT_EQ(lost, 0u) << first_error;
    EXPECT_EQ(duplicated, 0u) << first_error;
    EXPECT_EQ(other_errors, 0u) << first_error;
    EXPECT_EQ(received, total) << first_error;
    EXPECT_EQ(expected, total) << first_error;
  }
};

/// Sends 0, 1, ... total-1 through `tx`, calling `pace.after(i)` after each; throws if a send is
/// refused.
template <class Tx, class Pace>
void send_paced(Tx& tx, std::uint64_t total, Pace& pace) {
  for (std::uint64_t i = 0; i < total; ++i) {
    tx.send(i).value();
    pace.after(i);
  }
}

/// The same for a bounded sender, which sends with `co_await`: on an io_context of this thread's
/// own (the pace blocks that one only).
template <class Pace>
void send_paced(mpsc::Sender<std::uint64_t>& tx, std::uint64_t total, Pace& pace) {
  run_sync([&]() -> asio::awaitable<void> {
    for (std::uint64_t i = 0; i < total; ++i) {
      auto sent = co_await tx.send(i);  // named: g++ 12 cannot type `(co_await ...)` in a template
      sent.value();
      pace.after(i);
    }
  }());
}

/// Sends 0, 1, ... total-1 through `tx` from a thread of its own, at `pace`, then runs `last` on
/// the sender and drops it, which ends the channel. `join()` waits for the thread and says
/// whether every send was accepted.
template <class Tx>
class PacedProducer {
 public:
  template <class Pace>
  PacedProducer(Tx tx, std::uint64_t total, Pace pace, std::type_identity_t<std::function<void(Tx&)>> last = {})
      : thread_([this, total, pace = std::move(pace), tx = std::move(tx), last = std::move(last)]() mutable {
          try {
            send_paced(tx, total, pace);
          } catch (...) {
            failed_ = true;
          }
          if (last) last(tx);
          auto gone = std::move(tx);
        }) {}

  bool join() {
    thread_.join();
    return !failed_.load();
  }

 private:
  std::atomic<bool> failed_{false};
  std::thread thread_;  // last: it starts once the members it uses exist
};

}  // namespace swarmsync::test
