// Throughput of the channels. Each iteration builds the channels, spawns the coroutines on a fresh
// io_context, and runs it on two threads until every coroutine has finished (the senders are
// dropped, the channels end, the io_context runs out of work). Every value is checked, or the case
// fails with SkipWithError: mpsc values arrive once each and in order per producer; a broadcast
// receiver gets every value in order except those a lag reported as skipped.
//
//   swarmsync-bench [--benchmark_filter=REGEX] [other Google Benchmark flags]

#include <swarmsync/channels/broadcast.hpp>
#include <swarmsync/channels/mpsc.hpp>

#include <benchmark/benchmark.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

namespace asio = swarmsync::asio;
using Value = std::uint64_t;

constexpr std::uint64_t kMessages = 1'000'000;  // per iteration, all producers together
constexpr std::uint64_t kRoundTrips = 100'000;  // per ping-pong iteration
constexpr std::size_t kCapacity = 1024;         // bounded mpsc and broadcast
constexpr std::size_t kBatch = 256;             // recv_many limit
constexpr unsigned kBroadcastReceivers = 4;
constexpr std::uint64_t kYieldEvery = 64;  // broadcast sender yields to the executor this often

// An mpsc value: producer id in the top byte, that producer's sequence number below.
constexpr int kProducerShift = 56;
constexpr Value kSeqMask = (Value{1} << kProducerShift) - 1;

// One io_context run by two threads. Keeps the first failure of any coroutine (an exception or a
// failed check) for SkipWithError.
class Harness {
 public:
  void spawn(asio::awaitable<void> task) {
    asio::co_spawn(ctx_, std::move(task), [this](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        fail(std::string("exception: ") + ex.what());
      } catch (...) {
        fail("unknown exception");
      }
    });
  }

  void fail(std::string what) {
    std::lock_guard lock(mutex_);
    if (error_.empty()) error_ = std::move(what);
  }

  // Returns when the io_context has run out of work.
  void run() {
    std::thread other([this] { ctx_.run(); });
    ctx_.run();
    other.join();
  }

  // False (and the benchmark marked failed) if anything failed.
  bool report(benchmark::State& state) {
    std::lock_guard lock(mutex_);
    if (error_.empty()) return true;
    state.SkipWithError(error_.c_str());
    return false;
  }

 private:
  asio::io_context ctx_;
  std::mutex mutex_;
  std::string error_;
};

// FIFO per producer: producer p sends p << kProducerShift | seq for seq = 0, 1, ...
class OrderCheck {
 public:
  explicit OrderCheck(unsigned producers) : next_(producers, 0) {}

  void accept(Value v) {
    const Value id = v >> kProducerShift;
    const Value seq = v & kSeqMask;
    if (id >= next_.size()) {
      note("value from unknown producer " + std::to_string(id));
      return;
    }
    if (seq != next_[id]) {
      note("producer " + std::to_string(id) + ": expected seq " + std::to_string(next_[id]) + ", got " +
           std::to_string(seq));
      next_[id] = seq;
    }
    ++next_[id];
  }

  const std::string& error() const noexcept { return error_; }

 private:
  void note(std::string what) {
    if (error_.empty()) error_ = std::move(what);
  }

  std::vector<Value> next_;
  std::string error_;
};

asio::awaitable<void> produce_unbounded(swarmsync::mpsc::UnboundedSender<Value> tx, unsigned id,
                                        std::uint64_t count, Harness* h) {
  const Value base = Value{id} << kProducerShift;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (!tx.send(base | i)) {
      h->fail("unbounded send refused");
      co_return;
    }
  }
  co_return;
}

asio::awaitable<void> produce_bounded(swarmsync::mpsc::Sender<Value> tx, unsigned id, std::uint64_t count,
                                      Harness* h) {
  const Value base = Value{id} << kProducerShift;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (!co_await tx.send(base | i)) {
      h->fail("bounded send refused");
      co_return;
    }
  }
}

// Receives until the channel ends (`batch` 0: recv(), else recv_many(batch)), then checks that
// all `expected` values arrived.
asio::awaitable<void> consume(swarmsync::mpsc::Receiver<Value> rx, unsigned producers, std::uint64_t expected,
                              std::size_t batch, Harness* h) {
  OrderCheck order(producers);
  std::uint64_t received = 0;
  if (batch == 0) {
    while (auto v = co_await rx.recv()) {
      order.accept(*v);
      ++received;
    }
  } else {
    std::vector<Value> buffer;
    buffer.reserve(batch);
    while (co_await rx.recv_many(buffer, batch) != 0) {
      for (const Value v : buffer) order.accept(v);
      received += buffer.size();
      buffer.clear();
    }
  }
  if (!order.error().empty()) h->fail("order: " + order.error());
  if (received != expected)
    h->fail("received " + std::to_string(received) + " of " + std::to_string(expected) + " values");
}

enum class MpscKind { unbounded, unbounded_batch, bounded };

// range(0) producers -> 1 consumer, kMessages values per iteration.
void run_mpsc(benchmark::State& state, MpscKind kind) {
  const auto producers = static_cast<unsigned>(state.range(0));
  const std::uint64_t per_producer = kMessages / producers;
  const std::uint64_t total = per_producer * producers;
  for (auto _ : state) {
    Harness h;
    if (kind == MpscKind::bounded) {
      auto [tx, rx] = swarmsync::mpsc::channel<Value>(kCapacity);
      h.spawn(consume(std::move(rx), producers, total, 0, &h));
      for (unsigned p = 0; p < producers; ++p) h.spawn(produce_bounded(tx, p, per_producer, &h));
    } else {
      auto [tx, rx] = swarmsync::mpsc::unbounded_channel<Value>();
      const std::size_t batch = kind == MpscKind::unbounded_batch ? kBatch : 0;
      h.spawn(consume(std::move(rx), producers, total, batch, &h));
      for (unsigned p = 0; p < producers; ++p) h.spawn(produce_unbounded(tx, p, per_producer, &h));
    }
    // The original sender is gone: the channel ends when the producers finish.
    h.run();
    if (!h.report(state)) break;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * total));
}

void BM_MpscUnbounded(benchmark::State& state) { run_mpsc(state, MpscKind::unbounded); }
void BM_MpscUnboundedBatch(benchmark::State& state) { run_mpsc(state, MpscKind::unbounded_batch); }
void BM_MpscBounded(benchmark::State& state) { run_mpsc(state, MpscKind::bounded); }

struct BroadcastTally {
  std::uint64_t lags = 0;     // lagged errors
  std::uint64_t skipped = 0;  // values missed through them
};

asio::awaitable<void> broadcast_send(swarmsync::broadcast::Sender<Value> tx, std::uint64_t count, Harness* h) {
  for (Value i = 0; i < count; ++i) {
    if (!tx.send(i)) {
      h->fail("broadcast send found no receiver");
      co_return;
    }
    if (i % kYieldEvery == kYieldEvery - 1)
      co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  }
}

// Value i is sent at position i, so every value received must be exactly the next one expected,
// a lag moving the expectation on by the number skipped.
asio::awaitable<void> broadcast_receive(swarmsync::broadcast::Receiver<Value> rx, std::uint64_t sent,
                                        BroadcastTally* tally, Harness* h) {
  using swarmsync::broadcast::RecvError;
  Value next = 0;
  for (;;) {
    auto r = co_await rx.recv();
    if (r) {
      if (*r != next) {
        h->fail("broadcast: expected " + std::to_string(next) + ", got " + std::to_string(*r));
        next = *r;
      }
      ++next;
    } else if (r.error().kind == RecvError::lagged) {
      ++tally->lags;
      tally->skipped += r.error().skipped;
      next += r.error().skipped;
    } else if (r.error().kind == RecvError::closed) {
      break;
    } else {
      h->fail("broadcast: unexpected error kind " + std::to_string(static_cast<int>(r.error().kind)));
      co_return;
    }
  }
  if (next != sent)
    h->fail("broadcast: receiver accounted for " + std::to_string(next) + " of " + std::to_string(sent) +
            " values");
}

// 1 sender -> kBroadcastReceivers, kMessages values per iteration; items are deliveries.
void BM_Broadcast(benchmark::State& state) {
  std::uint64_t lags = 0;
  std::uint64_t skipped = 0;
  for (auto _ : state) {
    Harness h;
    std::vector<BroadcastTally> tallies(kBroadcastReceivers);
    {
      auto [tx, first] = swarmsync::broadcast::channel<Value>(kCapacity);
      h.spawn(broadcast_receive(std::move(first), kMessages, &tallies[0], &h));
      for (unsigned r = 1; r < kBroadcastReceivers; ++r)
        h.spawn(broadcast_receive(tx.subscribe(), kMessages, &tallies[r], &h));
      h.spawn(broadcast_send(std::move(tx), kMessages, &h));
    }
    h.run();
    for (const auto& t : tallies) {
      lags += t.lags;
      skipped += t.skipped;
    }
    if (!h.report(state)) break;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kMessages * kBroadcastReceivers));
  state.counters["lagged"] = benchmark::Counter(static_cast<double>(lags), benchmark::Counter::kAvgIterations);
  state.counters["skipped"] = benchmark::Counter(static_cast<double>(skipped), benchmark::Counter::kAvgIterations);
}

asio::awaitable<void> ping(swarmsync::mpsc::UnboundedSender<Value> tx, swarmsync::mpsc::Receiver<Value> rx,
                           std::uint64_t rounds, Harness* h) {
  for (Value i = 0; i < rounds; ++i) {
    if (!tx.send(i)) {
      h->fail("ping: send refused");
      co_return;
    }
    const auto back = co_await rx.recv();
    if (!back || *back != i) {
      h->fail("ping: round " + std::to_string(i) + " came back " + (back ? std::to_string(*back) : "empty"));
      co_return;
    }
  }
}

asio::awaitable<void> pong(swarmsync::mpsc::Receiver<Value> rx, swarmsync::mpsc::UnboundedSender<Value> tx,
                           Harness* h) {
  while (auto v = co_await rx.recv()) {
    if (!tx.send(*v)) {
      h->fail("pong: send refused");
      co_return;
    }
  }
}

// Two coroutines bouncing one value over two unbounded channels; items are round trips.
void BM_PingPong(benchmark::State& state) {
  for (auto _ : state) {
    Harness h;
    {
      auto [to_pong, pong_rx] = swarmsync::mpsc::unbounded_channel<Value>();
      auto [to_ping, ping_rx] = swarmsync::mpsc::unbounded_channel<Value>();
      h.spawn(pong(std::move(pong_rx), std::move(to_ping), &h));
      h.spawn(ping(std::move(to_pong), std::move(ping_rx), kRoundTrips, &h));
    }
    h.run();
    if (!h.report(state)) break;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kRoundTrips));
}

}  // namespace

BENCHMARK(BM_MpscUnbounded)->ArgName("producers")->Arg(1)->Arg(4)->Iterations(5)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MpscUnboundedBatch)->ArgName("producers")->Arg(4)->Iterations(5)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MpscBounded)->ArgName("producers")->Arg(4)->Iterations(5)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Broadcast)->Iterations(5)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PingPong)->Iterations(5)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
