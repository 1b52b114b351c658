#pragma once
// The vocabulary of supervision, shared by the supervisor's template (runtime/supervisor.hpp) and
// its compiled part: restart policies and limits, the supervisor's options, errors and reports,
// and the system's phase.
//
//     swarmsync::SupervisorOptions options{.intensity = {.max_restarts = 5, .period = std::chrono::seconds(10)},
//                                          .backoff = {.initial = std::chrono::milliseconds(50)}};
//     swarmsync::Supervisor<Shared> supervisor(ioc.get_executor(), shared, options);
//     const swarmsync::ShutdownReport report = supervisor.finished().get();
//     if (!report.ok()) std::cerr << report.error << '\n';
//
// Plain values: copyable, no thread safety of their own.

#include "swarmsync/channels/error.hpp"
#include "swarmsync/runtime/snapshot.hpp"

#include <boost/assert/source_location.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace swarmsync {

/// When a service is restarted (Erlang/OTP's restart types).
enum class RestartPolicy {
  permanent,  ///< always, whether its instance failed or returned
  transient,  ///< only after a failure
  temporary,  ///< never
};

/// The policy's name, as declared: "permanent", "transient" or "temporary".
constexpr const char* to_string(RestartPolicy p) {
  return p == RestartPolicy::permanent ? "permanent" : p == RestartPolicy::transient ? "transient" : "temporary";
}

/// At most `max_restarts` restarts of one service within `period`.
struct RestartIntensity {
  std::size_t max_restarts = 3;
  std::chrono::milliseconds period{5000};
};

/// The wait before a restart: `initial`, doubled for each recent restart, at most `max`.
struct RestartBackoff {
  std::chrono::milliseconds initial{10};
  std::chrono::milliseconds max{1000};
};

/// A misuse of the supervisor (a service declared twice, a swap of an unknown service...).
struct SupervisorError {
  std::string message = {};
  friend bool operator==(const SupervisorError&, const SupervisorError&) = default;
};

/// What `Result<T, SupervisorError>::value()` throws on an error: `Error`, naming the misuse.
[[noreturn]] inline void throw_exception_from_error(const SupervisorError& e, const boost::source_location&) {
  throw Error("swarmsync: " + e.message);
}

/// How the supervisor behaves.
struct SupervisorOptions {
  RestartIntensity intensity{};
  RestartBackoff backoff{};
  bool run_pulses = true;
};

/// The outcome of a hot swap.
struct SwapReport {
  std::string service = {};
  std::chrono::nanoseconds took{0};  ///< from the request to the new instance's start
};

/// Where a supervised system is in its life (`Supervisor::state()`). The phases only move
/// forward, in this order.
struct SystemState {
  enum Phase {
    booting,        ///< services declared, not started (or the wiring check refused the start)
    running,        ///< started
    shutting_down,  ///< a shutdown began: instances drain their queues
    finished,       ///< every instance ended; `Supervisor::finished()` is ready
  };
  Phase phase = booting;
  std::string reason = {};  ///< from shutting_down on: why (`request_shutdown`'s reason, a signal)
  std::string error = {};   ///< from shutting_down on: the failure that brought it down, if any
};

/// What the shutdown left behind.
struct ShutdownReport {
  struct Unhandled {
    std::string channel;
    std::size_t queued = 0;
  };
  std::string reason;
  std::string error;                   ///< non-empty when a failure brought the system down
  std::vector<Unhandled> unhandled;    ///< per channel, values left in the queue
  std::vector<std::string> cancelled;  ///< services cancelled after their grace period
  std::vector<ServiceInfo> services;

  bool ok() const noexcept { return error.empty(); }
};

}  // namespace swarmsync
