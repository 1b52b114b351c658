// Job files: every field, and a clear error with the line number for each kind of bad input.

#include "model/job_file.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace job_file_test {

namespace {

using namespace core;

TEST(JobFile, ReadsEveryField) {
  std::istringstream in(R"(# a comment, then a blank line

{"name": "report", "priority": 7, "work_ms": 20}
{"delay_ms": 500, "fail_attempts": 2}
{"name": "tick", "cron": "*/5 * * * *"}
{"name": "thrice", "cron": "0 * * * *", "runs": 3}
)");
  auto jobs = read_jobs(in, "jobs.jsonl");
  ASSERT_TRUE(jobs) << jobs.error();
  ASSERT_EQ(jobs->size(), 4u);
  EXPECT_EQ((*jobs)[0].name, "report");
  EXPECT_EQ((*jobs)[0].priority, 7);
  EXPECT_EQ((*jobs)[0].work, std::chrono::milliseconds(20));
  EXPECT_EQ((*jobs)[0].kind(), ScheduleKind::immediate);
  EXPECT_EQ((*jobs)[1].name, "job-4");  // named after its line
  EXPECT_EQ((*jobs)[1].priority, 5);
  EXPECT_EQ((*jobs)[1].kind(), ScheduleKind::delayed);
  EXPECT_EQ((*jobs)[1].fail_attempts, 2u);
  EXPECT_EQ((*jobs)[2].kind(), ScheduleKind::cron);
  EXPECT_EQ((*jobs)[2].cron->text(), "*/5 * * * *");
  EXPECT_FALSE((*jobs)[2].runs);  // recurs for ever
  EXPECT_FALSE((*jobs)[2].finite());
  EXPECT_EQ((*jobs)[3].kind(), ScheduleKind::cron);
  EXPECT_EQ((*jobs)[3].runs, 3u);
  EXPECT_TRUE((*jobs)[3].finite());
  EXPECT_EQ((*jobs)[3].run_count(), 3u);
  EXPECT_TRUE((*jobs)[0].finite());
  EXPECT_EQ((*jobs)[0].run_count(), 1u);
}

TEST(JobFile, BadRunsAreErrorsWithTheirLineNumber) {
  auto error_of = [](const std::string& text) {
    std::istringstream in(text);
    auto jobs = read_jobs(in, "jobs.jsonl");
    return jobs ? std::string("(no error)") : jobs.error().message;
  };
  const std::string ok = "{\"cron\": \"* * * * *\", \"runs\": 2}\n";
  EXPECT_EQ(error_of(ok + "{\"cron\": \"* * * * *\", \"runs\": 0}"), "jobs.jsonl:2: runs must be 1-1000000000, got 0");
  EXPECT_EQ(error_of("{\"cron\": \"* * * * *\", \"runs\": -3}"), "jobs.jsonl:1: runs must be 1-1000000000, got -3");
  EXPECT_EQ(error_of("{\"cron\": \"* * * * *\", \"runs\": 1.5}"),
            "jobs.jsonl:1: runs must be an integer 1-1000000000, got 1.5");
  EXPECT_EQ(error_of("{\"cron\": \"* * * * *\", \"runs\": \"3\"}"),
            "jobs.jsonl:1: runs must be an integer 1-1000000000, got \"3\"");
  EXPECT_EQ(error_of(ok + ok + "{\"runs\": 3}"), "jobs.jsonl:3: runs needs cron: it bounds the firings of a cron job");
  EXPECT_EQ(error_of("{\"delay_ms\": 5, \"runs\": 3}"),
            "jobs.jsonl:1: runs needs cron: it bounds the firings of a cron job");
  EXPECT_EQ(error_of("{\"cron\": \"0 0 30 2 *\", \"runs\": 1}"),
            "jobs.jsonl:1: cron '0 0 30 2 *' never fires: a job with runs would never end");
}

TEST(JobFile, EachBadLineIsAnErrorWithItsLineNumber) {
  auto error_of = [](const std::string& text) {
    std::istringstream in(text);
    auto jobs = read_jobs(in, "jobs.jsonl");
    return jobs ? std::string("(no error)") : jobs.error().message;
  };
  EXPECT_EQ(error_of("{\"name\": \"a\"}\n{\"name\": \n"),
            "jobs.jsonl:2: not valid JSON at column 10: syntax error while parsing value - unexpected end of input; "
            "expected '[', '{', or a literal");
  EXPECT_EQ(error_of("[1, 2]\n"), "jobs.jsonl:1: a job must be a JSON object, got an array of 2 element(s)");
  EXPECT_EQ(error_of("\n{\"priority\": 12}\n"), "jobs.jsonl:2: priority must be 0-9, got 12");
  EXPECT_EQ(error_of("{\"priority\": \"high\"}"), "jobs.jsonl:1: priority must be an integer 0-9, got \"high\"");
  EXPECT_EQ(error_of("{\"delay_ms\": -1}"), "jobs.jsonl:1: delay_ms must be 0-31536000000, got -1");
  EXPECT_EQ(error_of("{\"cron\": \"* * *\"}"),
            "jobs.jsonl:1: invalid cron expression '* * *': expected 5 fields (minute hour day-of-month month "
            "day-of-week), got 3");
  EXPECT_EQ(error_of("{\"cron\": \"* * * * *\", \"delay_ms\": 5}"),
            "jobs.jsonl:1: a job has either delay_ms or cron, not both");
  EXPECT_EQ(error_of("{\"prio\": 1}"), "jobs.jsonl:1: unknown field 'prio'");
  EXPECT_EQ(error_of("{\"name\": \"\"}"), "jobs.jsonl:1: name must be a non-empty string");
}

TEST(JobFile, HostileValuesGetShortErrorsAndNoCrash) {
  auto error_of = [](const std::string& text) {
    std::istringstream in(text);
    auto jobs = read_jobs(in, "jobs.jsonl");
    return jobs ? std::string("(no error)") : jobs.error().message;
  };
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(error_of(deep), "jobs.jsonl:1: not valid JSON for a job: nested deeper than 32 levels at column 33");
  const std::string deep_field = "{\"priority\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_EQ(error_of(deep_field), "jobs.jsonl:1: not valid JSON for a job: nested deeper than 32 levels at column 45");
  EXPECT_EQ(error_of(std::string("{\"name\": \"") + std::string(100, '[') + "\\\"\", \"priority\": 3}"), "(no error)")
      << "brackets inside strings do not nest";
  std::string wide = "{\"priority\": [";
  for (int i = 0; i < 2'000'000; ++i) wide += i ? ",0" : "0";
  wide += "]}";
  const std::string wide_error = error_of(wide);
  EXPECT_EQ(wide_error, "jobs.jsonl:1: priority must be an integer 0-9, got an array of 2000000 element(s)");
  const std::string long_string = "{\"cron\": 1, \"priority\": \"" + std::string(10000, 'x') + "\"}";
  EXPECT_LT(error_of(long_string).size(), 120u) << "a bad value is quoted as a short excerpt";
  EXPECT_EQ(error_of("{\"priority\": 18446744073709551615}"),
            "jobs.jsonl:1: priority must be 0-9, got 18446744073709551615");
  EXPECT_EQ(error_of("{\"priority\": -9223372036854775808}"), "jobs.jsonl:1: priority must be 0-9, got -9223372036854775808");
  EXPECT_EQ(error_of("{\"name\": \"a\", \"name\": \"b\"}"), "jobs.jsonl:1: field 'name' appears twice");
  EXPECT_EQ(error_of("18440955161e918446744073709551615"),
            "jobs.jsonl:1: not valid JSON: number overflow parsing '18440955161e918446744073709551615'");
  EXPECT_EQ(error_of("{\"priority\": 1e400}"), "jobs.jsonl:1: not valid JSON: number overflow parsing '1e400'");
  EXPECT_EQ(error_of("{\"name\": \"a\", \"nested\"x}"),
            "jobs.jsonl:1: not valid JSON at column 23: syntax error while parsing object separator - invalid literal; "
            "last read: '\"nested\"x'; expected ':'");
}

TEST(JobFile, AMissingFileIsAnErrorNamingIt) {
  auto jobs = load_jobs("/nonexistent/jobs.jsonl");
  ASSERT_FALSE(jobs);
  EXPECT_EQ(jobs.error(), "cannot open job file '/nonexistent/jobs.jsonl'");
}

}  // namespace

}  // namespace job_file_test
