#include "services/logger.hpp"

#include <spdlog/fmt/fmt.h>

#include <optional>
#include <vector>

namespace core {

namespace {

// The batch size that is written without waiting for a tick.
constexpr std::size_t max_buffered = 256;

struct Describe {
  std::optional<std::string> operator()(const swarmsync::Startup&) const { return "startup"; }
  // The supervisor logs its decisions itself (swarmsync/runtime/supervisor.hpp): the shutdown,
  // each restart and swap.
  std::optional<std::string> operator()(const swarmsync::Shutdown&) const { return std::nullopt; }
  std::optional<std::string> operator()(const swarmsync::ServiceRestarted&) const { return std::nullopt; }
  std::optional<std::string> operator()(const swarmsync::Tick& t) const {
    return fmt::format("tick {} #{}", to_string(t.rate), t.n);
  }
  std::optional<std::string> operator()(const JobStatusChanged& j) const {
    return fmt::format("job {} run {}: {} (attempt {})", j.job, j.run, to_string(j.status), j.attempt);
  }
};

asio::awaitable<void> run(Context& ctx, std::shared_ptr<LoggerStats> stats) {
  auto& log = *ctx.shared()->logger;
  auto& events = ctx.core_events();
  auto pulse = ctx.shared()->pulses->subscribe(swarmsync::PulseRate::slow);
  std::vector<std::string> buffer;
  std::optional<std::uint64_t> last_tick;  // the number of the last slow tick that flushed

  auto flush = [&] {
    if (buffer.empty()) return;
    for (const auto& line : buffer) log.info("{}", line);
    log.flush();
    if (stats) {
      stats->lines.fetch_add(buffer.size(), std::memory_order_relaxed);
      stats->flushes.fetch_add(1, std::memory_order_relaxed);
    }
    buffer.clear();
  };
  // True for a slow tick not seen yet (by number).
  auto new_tick = [&](const swarmsync::Tick& t) {
    if (t.rate != swarmsync::PulseRate::slow || last_tick == t.n) return false;
    last_tick = t.n;
    return true;
  };

  for (;;) {
    auto ev = co_await ctx.recv(events);
    bool tick = false;
    if (ev) {
      if (stats) stats->events.fetch_add(1, std::memory_order_relaxed);
      if (auto line = std::visit(Describe{}, *ev)) buffer.push_back(std::move(*line));
      if (auto* t = std::get_if<swarmsync::Tick>(&*ev)) tick = new_tick(*t);
    } else if (ev.error().kind == swarmsync::broadcast::RecvError::lagged) {
      if (stats) stats->missed.fetch_add(ev.error().skipped, std::memory_order_relaxed);
      flush();
      log.info("{}: missed {} core event(s): the Logger fell behind", ctx.name(), ev.error().skipped);
    } else {
      break;  // closed, or this instance must stop
    }
    // Ticks that came on the pulse since the last event (a lag there still means time passed).
    for (;;) {
      auto t = pulse.try_recv();
      if (t) {
        tick = new_tick(*t) || tick;
      } else if (t.error().kind == swarmsync::broadcast::RecvError::lagged) {
        tick = true;
      } else {
        break;
      }
    }
    if (tick || buffer.size() >= max_buffered) flush();
  }
  flush();
}

}  // namespace

std::optional<std::string> describe(const CoreEvent& event) { return std::visit(Describe{}, event); }

Service logger(std::shared_ptr<LoggerStats> stats) {
  // Not a coroutine itself: the coroutine gets its own copy of `stats`.
  return [stats](Context& ctx) { return run(ctx, stats); };
}

}  // namespace core
