// The mpsc and ping-pong cases of bench/README.md on Boost.Asio's
// `experimental::concurrent_channel`, on an io_context run by two threads like swarmsync's.
//
// An Asio channel has no "unbounded" mode and no end of stream when its senders are gone: the
// unbounded cases use a buffer of SIZE_MAX values filled with the synchronous `try_send`, and
// each producer ends its stream with a sentinel value.

#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "bench.hpp"
#include "heap_bytes.hpp"
#include "io_pool.hpp"

namespace {

namespace asio = boost::asio;
using bench::Metrics;
using bench::Value;
using Channel = asio::experimental::concurrent_channel<void(boost::system::error_code, Value)>;

constexpr std::uint64_t kMessages = 4'000'000;
constexpr std::size_t kCapacity = 1024;
constexpr std::size_t kUnbounded = std::numeric_limits<std::size_t>::max();
constexpr Value kEnd = std::numeric_limits<Value>::max();  // a producer's last value
constexpr std::uint64_t kProducerYield = 1024;             // the _y1024 cases: a producer yields this often

// Sends `count` values and kEnd, yielding to the executor once every kYield sends (never when 0;
// a template parameter, so that the cases without pay no test per send).
template <std::uint64_t kYield>
asio::awaitable<void> produce(Channel* ch, unsigned id, std::uint64_t count, bool bounded) {
  for (std::uint64_t i = 0; i <= count; ++i) {
    const Value v = i == count ? kEnd : bench::mpsc_value(id, i);
    if (bounded)
      co_await ch->async_send(boost::system::error_code{}, v, asio::use_awaitable);
    else if (!ch->try_send(boost::system::error_code{}, v))
      bench::fail("try_send refused on an unbounded buffer");
    if constexpr (kYield != 0)
      if (i % kYield == kYield - 1) co_await bench::yield();
  }
}

asio::awaitable<void> consume(Channel* ch, unsigned producers, std::uint64_t expected) {
  bench::OrderCheck order(producers);
  for (unsigned ended = 0; ended < producers;) {
    const Value v = co_await ch->async_receive(asio::use_awaitable);
    if (v == kEnd)
      ++ended;
    else
      order.accept(v);
  }
  order.finish(expected);
}

template <std::uint64_t kYield = 0>
Metrics mpsc(double scale, unsigned producers, bool bounded) {
  const std::uint64_t per_producer = bench::scaled(kMessages / producers, scale);
  bench::IoPool pool;
  Channel ch(pool.context(), bounded ? kCapacity : kUnbounded);
  const bench::Stopwatch clock;
  pool.spawn(consume(&ch, producers, per_producer * producers));
  for (unsigned p = 0; p < producers; ++p) pool.spawn(produce<kYield>(&ch, p, per_producer, bounded));
  pool.run();
  return {{"mmsg_per_s", static_cast<double>(per_producer * producers) / clock.seconds() / 1e6}};
}

asio::awaitable<void> ping(Channel* out, Channel* in, std::vector<std::uint64_t>* round_trips) {
  for (Value i = 0; i < round_trips->size(); ++i) {
    const auto start = std::chrono::steady_clock::now();
    co_await out->async_send(boost::system::error_code{}, i, asio::use_awaitable);
    const Value back = co_await in->async_receive(asio::use_awaitable);
    (*round_trips)[i] = static_cast<std::uint64_t>((std::chrono::steady_clock::now() - start).count());
    if (back != i) bench::fail("ping: round " + std::to_string(i) + " came back as " + std::to_string(back));
  }
  co_await out->async_send(boost::system::error_code{}, kEnd, asio::use_awaitable);
}

asio::awaitable<void> pong(Channel* in, Channel* out) {
  for (;;) {
    const Value v = co_await in->async_receive(asio::use_awaitable);
    if (v == kEnd) co_return;
    co_await out->async_send(boost::system::error_code{}, v, asio::use_awaitable);
  }
}

Metrics pingpong(double scale) {
  std::vector<std::uint64_t> round_trips(bench::scaled(200'000, scale, 100));
  bench::IoPool pool;
  Channel to_pong(pool.context(), 1), to_ping(pool.context(), 1);
  const bench::Stopwatch clock;
  pool.spawn(pong(&to_pong, &to_ping));
  pool.spawn(ping(&to_pong, &to_ping, &round_trips));
  pool.run();
  return bench::round_trip_metrics(round_trips, clock.seconds());
}

Metrics memory_mpsc(double scale) {
  const std::uint64_t count = bench::scaled(1'000'000, scale);
  asio::io_context ctx;
  Channel ch(ctx, kUnbounded);
  const std::int64_t before = bench::heap_bytes();
  for (std::uint64_t i = 0; i < count; ++i)
    if (!ch.try_send(boost::system::error_code{}, bench::mpsc_value(0, i))) bench::fail("try_send refused");
  const std::int64_t after = bench::heap_bytes();
  bench::OrderCheck order(1);
  while (ch.try_receive([&](boost::system::error_code, Value v) { order.accept(v); })) {
  }
  order.finish(count);
  return {{"bytes_per_msg", static_cast<double>(after - before) / static_cast<double>(count)}};
}

}  // namespace

int main(int argc, char** argv) {
  return bench::run(argc, argv, "asio",
                    {
                        {"mpsc_1_1", [](double s) { return mpsc(s, 1, false); }},
                        {"mpsc_4_1", [](double s) { return mpsc(s, 4, false); }},
                        {"mpsc_8_1", [](double s) { return mpsc(s, 8, false); }},
                        {"mpsc_16_1", [](double s) { return mpsc(s, 16, false); }},
                        {"mpsc_4_1_y1024", [](double s) { return mpsc<kProducerYield>(s, 4, false); }},
                        {"mpsc_1_1_y1024", [](double s) { return mpsc<kProducerYield>(s, 1, false); }},
                        {"bounded_4_1", [](double s) { return mpsc(s, 4, true); }},
                        {"bounded_16_1", [](double s) { return mpsc(s, 16, true); }},
                        {"pingpong", pingpong},
                        {"memory_mpsc", memory_mpsc},
                    });
}
