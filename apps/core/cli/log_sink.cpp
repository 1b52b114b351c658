#include "cli/log_sink.hpp"

#include <spdlog/sinks/base_sink.h>
#include <swarmsync/runtime/log_record.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace core::cli {
namespace {

std::string json_quoted(std::string_view text) {
  std::string q = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': q += "\\\""; break;
      case '\\': q += "\\\\"; break;
      case '\n': q += "\\n"; break;
      case '\t': q += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          q += buf;
        } else {
          q += c;
        }
    }
  }
  return q + "\"";
}

std::string utc_time(spdlog::log_clock::time_point t) {
  const auto since = t.time_since_epoch();
  const std::time_t seconds = std::chrono::duration_cast<std::chrono::seconds>(since).count();
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[96];  // room for any int in each field, so that no output is cut
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  return buf;
}

// The service a message names at its start (`dispatcher: worker 3 lost`), or empty.
std::string_view service_of(std::string_view message) {
  const auto colon = message.find(": ");
  if (colon == std::string_view::npos || colon == 0 || colon > 40) return {};
  const std::string_view name = message.substr(0, colon);
  for (const char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return {};
  return name;
}

class LineSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  LineSink(std::FILE* out, bool owned, LogFormat format, bool clear_line)
      : out_(out), owned_(owned), format_(format), clear_line_(clear_line) {}
  ~LineSink() override {
    if (owned_) std::fclose(out_);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string_view message(msg.payload.data(), msg.payload.size());
    const auto level = spdlog::level::to_string_view(msg.level);
    std::string line;
    if (format_ == LogFormat::json) {
      line = "{\"time\":\"" + utc_time(msg.time) + "\",\"level\":\"" + std::string(level.data(), level.size()) + "\"";
      if (const auto record = swarmsync::parse_log_record(message)) {
        line += ",\"service\":" + json_quoted(record->service) + ",\"event\":" + json_quoted(record->event) +
                ",\"fields\":{";
        for (std::size_t i = 0; i < record->fields.size(); ++i)
          line += (i ? "," : "") + json_quoted(record->fields[i].first) + ":" + json_quoted(record->fields[i].second);
        line += "}";
      } else if (const auto service = service_of(message); !service.empty())
        line += ",\"service\":" + json_quoted(service) + ",\"message\":" + json_quoted(message.substr(service.size() + 2));
      else
        line += ",\"message\":" + json_quoted(message);
      line += "}\n";
    } else {
      std::string lvl(level.data(), level.size());
      lvl.resize(std::max<std::size_t>(lvl.size(), 5), ' ');
      line = utc_time(msg.time) + " " + lvl + " " + std::string(message) + "\n";
    }
    std::lock_guard terminal(terminal_mutex());
    if (clear_line_) std::fputs("\r\033[K", out_);
    std::fwrite(line.data(), 1, line.size(), out_);
  }
  void flush_() override { std::fflush(out_); }

 private:
  std::FILE* out_;
  bool owned_;
  LogFormat format_;
  bool clear_line_;
};

}  // namespace

std::mutex& terminal_mutex() {
  static std::mutex m;
  return m;
}

InputResult<std::shared_ptr<spdlog::logger>> make_logger(const LogOptions& options) {
  std::FILE* out = stderr;
  bool owned = false;
  if (!options.file.empty()) {
    out = std::fopen(options.file.c_str(), "a");
    if (!out)
      return InputResult<std::shared_ptr<spdlog::logger>>(
          boost::system::in_place_error,
          InputError{"--log-file: cannot open '" + options.file + "': " + std::strerror(errno)});
    owned = true;
  }
  const bool clear_line = !owned && options.shares_progress_line;
  auto sink = std::make_shared<LineSink>(out, owned, options.format, clear_line);
  auto logger = std::make_shared<spdlog::logger>("swarmsync-core", std::move(sink));
  logger->set_level(options.level);
  logger->flush_on(spdlog::level::warn);
  return logger;
}

}  // namespace core::cli
