#pragma once
// The Logger: writes the core events as lines through the shared logger (info level), one line
// per event, except the supervisor's decisions (`Shutdown`, `ServiceRestarted`): the supervisor
// logs those itself, each once, in the process that made it (a node's restarts in the node's log).
//
// Lines are buffered and written in batches: on each slow tick, when 256 lines are waiting, and
// when the instance stops (at shutdown it first takes every event still queued for it). An
// instance waits on the core events only; the slow pulse is read without waiting after each event,
// so a pulse tick is observed at the next event. Under the supervisor every slow tick is also
// broadcast as a `Tick` core event, which wakes the Logger at each slow period even when nothing
// else happens; a tick heard on both (same number) flushes once.
//
// A lag on the core events (the broadcast overwrote events before the Logger read them) is
// counted and logged as one line at info level, as the events themselves (a log that shows only
// warnings misses nothing it would show), after the lines buffered before it.
//
// In: the core events (`ctx.core_events()`), the slow pulse. Out: the shared logger.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "wiring.hpp"

namespace core {

/// What the Logger did, kept across restarts. May be read from any thread.
struct LoggerStats {
  std::atomic<std::uint64_t> events{0};   ///< core events received
  std::atomic<std::uint64_t> lines{0};    ///< lines written (events, not lag warnings)
  std::atomic<std::uint64_t> missed{0};   ///< core events lost to lag
  std::atomic<std::uint64_t> flushes{0};  ///< batches written (each holds at least one line)
};

/// One line describing `event`, as the Logger writes it; nullopt for the events it does not write
/// (the supervisor's decisions, logged by the supervisor).
std::optional<std::string> describe(const CoreEvent& event);

/// The Logger service; `stats` may be null.
Service logger(std::shared_ptr<LoggerStats> stats);

}  // namespace core
