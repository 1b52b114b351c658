#pragma once
// Where swarmsync-core's log goes: one line per record, as text or as JSON, to standard error or
// a file.
//
//     auto logger = core::cli::make_logger({.format = core::cli::LogFormat::json, .file = "core.log"});
//     if (!logger) fail(logger.error().message);      // the file cannot be opened
//
// Text lines read `2026-12-01T18:20:00.123Z warn  hibernator: ...`; a JSON line is one object
// `{"time": ..., "level": ..., "service": ..., "message": ...}` (`service` when the message
// starts with a service's name and a colon, as every service's lines do). A message that is a
// structured record (swarmsync/runtime/log_record.hpp, as the supervisor's decisions are) is
// written `{"time": ..., "level": ..., "service": ..., "event": ..., "fields": {KEY: VALUE, ...}}`
// instead, its fields in order, each value a JSON string; as text it is written as it is. Lines
// written to a terminal that also shows the progress bar first clear the bar's line; the bar is
// drawn again at its next tick. Thread-safe: records come from every service's thread.

#include <spdlog/logger.h>

#include <memory>
#include <mutex>
#include <string>

#include "model/cron.hpp"

namespace core::cli {

enum class LogFormat { text, json };

struct LogOptions {
  spdlog::level::level_enum level = spdlog::level::warn;
  LogFormat format = LogFormat::text;
  std::string file;                   ///< empty: standard error
  bool shares_progress_line = false;  ///< standard error also shows the progress bar
};

/// The logger the Core's services write to, as `options` say.
InputResult<std::shared_ptr<spdlog::logger>> make_logger(const LogOptions& options);

/// Held by whoever writes to standard error, so that log lines and the progress bar never mix.
std::mutex& terminal_mutex();

}  // namespace core::cli
