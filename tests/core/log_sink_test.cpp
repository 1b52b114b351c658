// The Core's log sink: a structured record as a JSON object with its event and fields; a plain
// message as before; as text, a record as it is written.

#include "cli/log_sink.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <swarmsync/runtime/log_record.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace log_sink_test {

namespace {

using nlohmann::ordered_json;

// Writes each (level, message) through a logger made by make_logger in `format`, to a file; returns
// the file's lines.
std::vector<std::string> log_lines(core::cli::LogFormat format,
                                   const std::vector<std::pair<spdlog::level::level_enum, std::string>>& messages) {
  const auto path =
      std::filesystem::temp_directory_path() / ("swarmsync-log-sink-" + std::to_string(::getpid()) + ".log");
  std::filesystem::remove(path);
  {
    auto logger = core::cli::make_logger({.level = spdlog::level::info, .format = format, .file = path.string()});
    EXPECT_TRUE(logger);
    if (!logger) return {};
    for (const auto& [level, message] : messages) (*logger)->log(level, "{}", message);
    (*logger)->flush();
  }
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::filesystem::remove(path);
  return lines;
}

const swarmsync::LogRecord failed{
    "scheduler", "failed", {{"error", "bad \"input\"\nat line 2\\3"}, {"lost_in_hand", "1"}, {"note", "ünï ✓"}}};

TEST(LogSink, AStructuredRecordIsAJsonObjectWithItsEventAndFields) {
  const auto lines = log_lines(core::cli::LogFormat::json,
                               {{spdlog::level::warn, swarmsync::format_log_record(failed)},
                                {spdlog::level::info, "supervisor: shutdown_done unhandled=12 left.to_scheduler=12"}});
  ASSERT_EQ(lines.size(), 2u);
  auto j = ordered_json::parse(lines[0]);
  std::vector<std::string> keys;
  for (const auto& item : j.items()) keys.push_back(item.key());
  ASSERT_EQ(keys, (std::vector<std::string>{"time", "level", "service", "event", "fields"})) << lines[0];
  EXPECT_EQ(j["level"], "warning");
  EXPECT_EQ(j["service"], "scheduler");
  EXPECT_EQ(j["event"], "failed");
  EXPECT_EQ(j["fields"], ordered_json::parse(R"({"error":"bad \"input\"\nat line 2\\3","lost_in_hand":"1","note":"ünï ✓"})"))
      << lines[0];
  EXPECT_FALSE(j.contains("message"));

  auto done = ordered_json::parse(lines[1]);
  EXPECT_EQ(done["service"], "supervisor");
  EXPECT_EQ(done["event"], "shutdown_done");
  EXPECT_EQ(done["fields"].dump(), R"({"unhandled":"12","left.to_scheduler":"12"})");  // in order, as strings
}

// Only a line that parses as a record is written as one: a plain message, and a malformed record,
// keep the shape they had, beside a record.
TEST(LogSink, OnlyARecordIsWrittenAsOne) {
  const auto lines = log_lines(core::cli::LogFormat::json, {{spdlog::level::warn, "dispatcher: worker 3 lost (silent)"},
                                                            {spdlog::level::info, "startup"},
                                                            {spdlog::level::info, "scheduler: failed error="},
                                                            {spdlog::level::info, "scheduler: started policy=permanent"}});
  ASSERT_EQ(lines.size(), 4u);
  auto lost = ordered_json::parse(lines[0]);
  EXPECT_EQ(lost["service"], "dispatcher");
  EXPECT_EQ(lost["message"], "worker 3 lost (silent)");
  EXPECT_FALSE(lost.contains("event"));
  auto startup = ordered_json::parse(lines[1]);
  EXPECT_EQ(startup["message"], "startup");
  EXPECT_FALSE(startup.contains("service"));
  auto malformed = ordered_json::parse(lines[2]);  // an empty value is written quoted: not a record
  EXPECT_EQ(malformed["service"], "scheduler");
  EXPECT_EQ(malformed["message"], "failed error=");
  EXPECT_FALSE(malformed.contains("fields"));
  auto started = ordered_json::parse(lines[3]);
  EXPECT_EQ(started["event"], "started") << lines[3];
  EXPECT_EQ(started["fields"], ordered_json::parse(R"({"policy":"permanent"})")) << lines[3];
  EXPECT_FALSE(started.contains("message")) << lines[3];

  // As text, a record is the message as it is.
  const auto text = log_lines(core::cli::LogFormat::text, {{spdlog::level::warn, swarmsync::format_log_record(failed)}});
  ASSERT_EQ(text.size(), 1u);
  EXPECT_EQ(text[0].substr(text[0].find(' ')), " warning " + swarmsync::format_log_record(failed)) << text[0];
}

}  // namespace

}  // namespace log_sink_test
