#pragma once
// What the C++ benchmark programs share: the command line of bench/README.md's protocol, the
// result line, timing, percentiles and the per-producer order check.
//
//     int main(int argc, char** argv) {
//       return bench::run(argc, argv, "asio", {{"mpsc_1_1", [](double scale) {
//         ... run, bench::fail("...") on a failed check ...
//         return bench::Metrics{{"mmsg_per_s", rate}};
//       }}});
//     }

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace bench {

using Value = std::uint64_t;

/// Named figures of one run, printed in this order.
using Metrics = std::vector<std::pair<std::string, double>>;

/// One case: runs once at the given scale of its counts and returns its figures.
struct Case {
  std::string name;
  std::function<Metrics(double scale)> run;
};

/// A failed check: the program reports it on stderr and exits with 1.
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail(const std::string& what) { throw Failure(what); }

/// `count` times `scale`, at least `floor`.
inline std::uint64_t scaled(std::uint64_t count, double scale, std::uint64_t floor = 64) {
  return std::max<std::uint64_t>(floor, static_cast<std::uint64_t>(static_cast<double>(count) * scale));
}

/// Seconds since construction, on the steady clock.
class Stopwatch {
 public:
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

/// The value at fraction `p` (0..1) of `samples` once sorted: index floor(p * (n - 1)).
inline double percentile(std::vector<std::uint64_t>& samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  return static_cast<double>(samples[static_cast<std::size_t>(p * static_cast<double>(samples.size() - 1))]);
}

/// The ping-pong figures: p50 and p99 of the round trips, in ns, and round trips per second.
inline Metrics round_trip_metrics(std::vector<std::uint64_t>& round_trips_ns, double seconds) {
  const double rate = static_cast<double>(round_trips_ns.size()) / seconds;
  return {{"rt_p50_ns", percentile(round_trips_ns, 0.50)},
          {"rt_p99_ns", percentile(round_trips_ns, 0.99)},
          {"round_trips_per_s", rate}};
}

// An mpsc value: producer id in the top byte, that producer's sequence number below.
constexpr int kProducerShift = 56;
constexpr Value kSeqMask = (Value{1} << kProducerShift) - 1;

constexpr Value mpsc_value(unsigned producer, std::uint64_t seq) { return Value{producer} << kProducerShift | seq; }

/// The 64-byte payload of `mpsc_1_1_p64`: the mpsc value in the first word, copies of it in the
/// other seven (the receiver checks them).
struct Payload64 {
  std::array<Value, 8> words{};
};

/// An mpsc item of type T (Value or Payload64) carrying the value `v`.
template <class T>
T mpsc_item(Value v) {
  if constexpr (std::is_same_v<T, Payload64>) {
    Payload64 p;
    p.words.fill(v);
    return p;
  } else {
    return v;
  }
}

/// Checks FIFO order per producer and counts the values; `finish` fails unless every one of
/// `expected` values arrived exactly once in order. Not thread-safe: one consumer.
class OrderCheck {
 public:
  explicit OrderCheck(unsigned producers) : next_(producers, 0) {}

  void accept(Value v) {
    const Value id = v >> kProducerShift;
    if (id >= next_.size()) fail("value from unknown producer " + std::to_string(id));
    if ((v & kSeqMask) != next_[id])
      fail("producer " + std::to_string(id) + ": expected seq " + std::to_string(next_[id]) + ", got " +
           std::to_string(v & kSeqMask));
    ++next_[id];
    ++received_;
  }

  /// A 64-byte payload: its words must all be copies of the first, which is the value.
  void accept(const Payload64& p) {
    for (const Value w : p.words)
      if (w != p.words[0]) fail("payload of value " + std::to_string(p.words[0]) + " has a word " + std::to_string(w));
    accept(p.words[0]);
  }

  std::uint64_t received() const noexcept { return received_; }

  void finish(std::uint64_t expected) const {
    if (received_ != expected)
      fail("received " + std::to_string(received_) + " of " + std::to_string(expected) + " values");
  }

 private:
  std::vector<Value> next_;
  std::uint64_t received_ = 0;
};

/// The protocol's main: `PROGRAM --list` or `PROGRAM CASE [--scale F]`. Exit 0 with one result
/// line on stdout, 1 on a failed check, 2 on a bad command line.
inline int run(int argc, char** argv, std::string_view impl, const std::vector<Case>& cases) {
  const auto usage = [&](const std::string& what) {
    std::fprintf(stderr, "%s\nusage: %s --list | CASE [--scale F]\n", what.c_str(), argv[0]);
    return 2;
  };
  if (argc == 2 && std::string_view(argv[1]) == "--list") {
    for (const Case& c : cases) std::printf("%s\n", c.name.c_str());
    return 0;
  }
  if (argc != 2 && argc != 4) return usage("expected a case name");
  double scale = 1.0;
  if (argc == 4) {
    if (std::string_view(argv[2]) != "--scale") return usage(std::string("unknown option: ") + argv[2]);
    char* end = nullptr;
    scale = std::strtod(argv[3], &end);
    if (end == argv[3] || *end != '\0' || !(scale > 0) || scale > 100)
      return usage(std::string("--scale needs a number in (0, 100], not: ") + argv[3]);
  }
  const auto it = std::find_if(cases.begin(), cases.end(), [&](const Case& c) { return c.name == argv[1]; });
  if (it == cases.end()) return usage(std::string("unknown case: ") + argv[1]);
  try {
    const Metrics metrics = it->run(scale);
    std::printf("{\"impl\":\"%.*s\",\"case\":\"%s\",\"metrics\":{", static_cast<int>(impl.size()), impl.data(),
                it->name.c_str());
    for (std::size_t i = 0; i < metrics.size(); ++i)
      std::printf("%s\"%s\":%.3f", i ? "," : "", metrics[i].first.c_str(), metrics[i].second);
    std::printf("}}\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%.*s %s: %s\n", static_cast<int>(impl.size()), impl.data(), it->name.c_str(), e.what());
    return 1;
  }
}

}  // namespace bench
