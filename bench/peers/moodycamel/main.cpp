// The unbounded mpsc cases of bench/README.md on moodycamel's ConcurrentQueue: the ceiling of a
// lock-free queue with no asynchronous wake-up. Every producer and the consumer is its own thread
// (producers with a ProducerToken, the consumer with a ConsumerToken); the consumer spins on
// `try_dequeue` (or `try_dequeue_bulk` for the batch case) until it has every value. No runtime to
// yield to, so no `mpsc_4_1_y1024`; no bounded or broadcast cases.

#include <concurrentqueue/concurrentqueue.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "bench.hpp"
#include "heap_bytes.hpp"

namespace {

using bench::Metrics;
using bench::Value;
// Default traits, with its blocks allocated where heap_bytes() sees them.
struct Traits : moodycamel::ConcurrentQueueDefaultTraits {
  static void* malloc(std::size_t n) { return bench::counted_malloc(n); }
  static void free(void* p) { bench::counted_free(p); }
};
template <class T>
using Queue = moodycamel::ConcurrentQueue<T, Traits>;

constexpr std::uint64_t kMessages = 4'000'000;
constexpr std::size_t kBatch = 256;

// The mpsc cases: `producers` threads share kMessages items of type T (a Value, or a Payload64
// carrying one), the consumer checks them all.
template <class T = Value>
Metrics mpsc(double scale, unsigned producers, std::size_t batch) {
  const std::uint64_t per_producer = bench::scaled(kMessages / producers, scale);
  const std::uint64_t total = per_producer * producers;
  Queue<T> queue;
  bench::OrderCheck order(producers);
  const bench::Stopwatch clock;
  std::vector<std::thread> threads;
  for (unsigned p = 0; p < producers; ++p)
    threads.emplace_back([&queue, p, per_producer] {
      moodycamel::ProducerToken token(queue);
      for (std::uint64_t i = 0; i < per_producer; ++i)
        if (!queue.enqueue(token, bench::mpsc_item<T>(bench::mpsc_value(p, i)))) bench::fail("enqueue failed");
    });
  moodycamel::ConsumerToken token(queue);
  if (batch == 0) {
    T v;
    while (order.received() < total)
      if (queue.try_dequeue(token, v)) order.accept(v);
  } else {
    std::vector<T> buffer(batch);
    while (order.received() < total) {
      const std::size_t n = queue.try_dequeue_bulk(token, buffer.begin(), batch);
      for (std::size_t i = 0; i < n; ++i) order.accept(buffer[i]);
    }
  }
  for (auto& t : threads) t.join();
  order.finish(total);
  return {{"mmsg_per_s", static_cast<double>(total) / clock.seconds() / 1e6}};
}

Metrics memory_mpsc(double scale) {
  const std::uint64_t count = bench::scaled(1'000'000, scale);
  Queue<Value> queue;
  moodycamel::ProducerToken producer(queue);
  const std::int64_t before = bench::heap_bytes();
  for (std::uint64_t i = 0; i < count; ++i)
    if (!queue.enqueue(producer, bench::mpsc_value(0, i))) bench::fail("enqueue failed");
  const std::int64_t after = bench::heap_bytes();
  bench::OrderCheck order(1);
  Value v;
  while (queue.try_dequeue(v)) order.accept(v);
  order.finish(count);
  return {{"bytes_per_msg", static_cast<double>(after - before) / static_cast<double>(count)}};
}

}  // namespace

int main(int argc, char** argv) {
  return bench::run(argc, argv, "moodycamel",
                    {
                        {"mpsc_1_1", [](double s) { return mpsc(s, 1, 0); }},
                        {"mpsc_4_1", [](double s) { return mpsc(s, 4, 0); }},
                        {"mpsc_8_1", [](double s) { return mpsc(s, 8, 0); }},
                        {"mpsc_16_1", [](double s) { return mpsc(s, 16, 0); }},
                        {"mpsc_4_1_batch", [](double s) { return mpsc(s, 4, kBatch); }},
                        {"mpsc_1_1_p64", [](double s) { return mpsc<bench::Payload64>(s, 1, 0); }},
                        {"memory_mpsc", memory_mpsc},
                    });
}
