// Structured log lines: the text format_log_record writes, its round trip through
// parse_log_record with hostile values, and the lines parse refuses (plain messages, malformed or
// non-canonical records).

#include <swarmsync/runtime/log_record.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace log_record_test {

namespace {

using swarmsync::format_log_record;
using swarmsync::is_valid_log_record;
using swarmsync::log_key;
using swarmsync::LogRecord;
using swarmsync::parse_log_record;

TEST(LogRecord, FormatsServiceEventAndFieldsInOrder) {
  EXPECT_EQ(format_log_record({"scheduler", "failed", {{"error", "disk on fire"}, {"lost_in_hand", "1"}}}),
            "scheduler: failed error=\"disk on fire\" lost_in_hand=1");
  EXPECT_EQ(format_log_record({"supervisor", "shutdown_done", {{"unhandled", "12"}, {"left.to_scheduler", "12"}}}),
            "supervisor: shutdown_done unhandled=12 left.to_scheduler=12");
  EXPECT_EQ(format_log_record({"task-archive", "started", {}}), "task-archive: started");
  EXPECT_EQ(format_log_record({"d", "swapped", {{"took_ms", "0.412"}, {"z", "b"}, {"a", "c"}}}),
            "d: swapped took_ms=0.412 z=b a=c");
}

TEST(LogRecord, QuotesAndEscapesOnlyWhatNeedsIt) {
  auto value_of = [](const std::string& v) {
    const std::string line = format_log_record({"s", "e", {{"k", v}}});
    return line.substr(std::string("s: e k=").size());
  };
  EXPECT_EQ(value_of("plain"), "plain");
  EXPECT_EQ(value_of("a,b:c/d"), "a,b:c/d");
  EXPECT_EQ(value_of("héllo→✓"), "héllo→✓");  // UTF-8 as it is
  EXPECT_EQ(value_of(""), "\"\"");
  EXPECT_EQ(value_of("two words"), "\"two words\"");
  EXPECT_EQ(value_of("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(value_of("C:\\dir"), "\"C:\\\\dir\"");
  EXPECT_EQ(value_of("a=b"), "\"a=b\"");
  EXPECT_EQ(value_of("line\nnext"), "\"line\\nnext\"");
  EXPECT_EQ(value_of("cr\rtab\t"), "\"cr\\rtab\\t\"");
  EXPECT_EQ(value_of(std::string("nul\0bell\x07" "del\x7f", 13)), "\"nul\\x00bell\\x07del\\x7f\"");
}

TEST(LogRecord, RoundTripsHostileValues) {
  const std::vector<std::string> values = {
      "",
      " ",
      "\"",
      "\\",
      "=",
      "\\\"",
      "\"\\\"\\",
      "a=b=c",
      "key=\"value\" other=1",
      "ends with backslash\\",
      "\\n is not a newline",
      "line one\nline two\r\n",
      "\ttabbed",
      std::string("\0", 1),
      std::string("\x01\x1f\x7f", 3),
      "ünïcödé ✓ 日本語 🙂",
      "\xff\xfe not UTF-8",
      "x\\x41",
      "scheduler: failed error=x",
      std::string(5000, 'v'),
  };
  for (const auto& v : values) {
    const LogRecord r{"svc-1_A", "some_event", {{"k", v}, {"a.b_c9", v + v}, {"_", "plain"}}};
    ASSERT_TRUE(is_valid_log_record(r));
    const std::string line = format_log_record(r);
    for (const char c : line)
      EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f) << "a control character in " << line;
    const auto back = parse_log_record(line);
    ASSERT_TRUE(back) << line;
    EXPECT_EQ(*back, r) << line;
  }
  const LogRecord longest{std::string(40, 'n'), "e", {}};
  EXPECT_EQ(parse_log_record(format_log_record(longest)), longest);
}

TEST(LogRecord, PlainMessagesAreNotRecords) {
  for (const char* line : {
           "dispatcher: worker 3 lost (silent); 2 job(s) sent back to the Scheduler",
           "hibernator: cron job 2 has no next firing time within 5 years",
           "core: no live worker; 4 job(s) wait to run",
           "boot:\nchannel ...",
           "startup",
           "tick slow #4",
           "job 7 run 1: retrying (attempt 2)",
           "",
       })
    EXPECT_EQ(parse_log_record(line), std::nullopt) << line;
}

TEST(LogRecord, ParseRefusesWhatFormatDoesNotWrite) {
  for (const std::string& line : std::vector<std::string>{
           ": started",                              // no service
           "a b: started",                           // a space in the service
           "svc.x: started",                         // '.' in the service
           std::string(41, 's') + ": started",       // service too long
           "svc:started",                            // no space after the colon
           "svc:  started",                          // two spaces
           "svc: ",                                  // no event
           "svc: Started",                           // upper case in the event
           "svc: start9",                            // a digit in the event
           "svc: started ",                          // trailing space
           "svc: started  k=v",                      // two spaces between fields
           "svc: started k",                         // no '='
           "svc: started =v",                        // no key
           "svc: started K=v",                       // upper case key
           "svc: started 9k=v",                      // key starting with a digit
           "svc: started k-x=v",                     // '-' in a key
           "svc: started k=",                        // an empty value written bare
           "svc: started k=a=b",                     // '=' in a bare value
           "svc: started k=a\"b",                    // '"' in a bare value
           "svc: started k=a\\b",                    // '\' in a bare value
           "svc: started k=a\tb",                    // a control character in a bare value
           "svc: started k=\"v\"",                   // quoted without need
           "svc: started k=\"a b",                   // no closing quote
           "svc: started k=\"a b\"x",                // text after the closing quote
           "svc: started k=\"a b\"\"",               // a quote after the closing one
           "svc: started k=\"a\\qb\"",               // an unknown escape
           "svc: started k=\"a \\",                  // an escape at the end
           "svc: started k=\"a\nb\"",                // a raw newline inside quotes
           "svc: started k=\"\\x0a\"",               // \x for a character with a letter escape
           "svc: started k=\"\\x41\"",               // \x for a printable character
           "svc: started k=\"\\x1F\"",               // upper-case hex
           "svc: started k=\"\\x1\"",                // one hex digit
           "svc: started k=1 k=2",                   // a key twice
           "svc: started k=1\n",                     // a newline at the end
       })
    EXPECT_EQ(parse_log_record(line), std::nullopt) << line;
}

TEST(LogRecord, InvalidRecordsAreFormattedButDoNotParseBack) {
  const std::vector<LogRecord> invalid = {
      {"", "e", {}},
      {"two words", "e", {}},
      {std::string(41, 's'), "e", {}},
      {"s", "", {}},
      {"s", "Event", {}},
      {"s", "e", {{"", "v"}}},
      {"s", "e", {{"Key", "v"}}},
      {"s", "e", {{"k", "1"}, {"k", "2"}}},
  };
  for (const auto& r : invalid) {
    EXPECT_FALSE(is_valid_log_record(r)) << format_log_record(r);
    EXPECT_NE(parse_log_record(format_log_record(r)), r) << format_log_record(r);
  }
}

TEST(LogRecord, KeysMadeOfNames) {
  EXPECT_EQ(log_key("ToScheduler"), "to_scheduler");
  EXPECT_EQ(log_key("HarvesterToArchive"), "harvester_to_archive");
  EXPECT_EQ(log_key("Numbers"), "numbers");
  EXPECT_EQ(log_key("scheduler_to_dispatcher"), "scheduler_to_dispatcher");
  EXPECT_EQ(log_key("jobs via NATS"), "jobs_via_nats");
  EXPECT_EQ(log_key("3d"), "_3d");
  EXPECT_EQ(log_key(""), "_");
  for (const char* name : {"ToScheduler", "jobs via NATS", "3d", "", "é=\"x\""})
    EXPECT_TRUE(is_valid_log_record({"s", "e", {{log_key(name), "v"}}})) << name;
}

}  // namespace

}  // namespace log_record_test
