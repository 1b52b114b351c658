// The swarmsync-core program: bad input gets a clear message and a non-zero exit; the JSON
// summary has its fields; the DOT graph parses; faults asked for are survived.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/wait.h>

namespace {

struct Output {
  int status = -1;
  std::string out;
  std::string err;
};

// Runs the program with `args` (a shell-quoted string) and, if given, `stdin_file` on its input.
Output run(const std::string& args, const std::string& pipe_to = "") {
  const auto err_path = std::filesystem::temp_directory_path() / ("swarmsync-cli-" + std::to_string(::getpid()) + ".err");
  std::string command = std::string(SWARMSYNC_CORE_BIN) + " " + args + " 2>" + err_path.string();
  if (!pipe_to.empty()) command += " | " + pipe_to;
  Output o;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    std::array<char, 4096> buf;
    while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) o.out.append(buf.data(), n);
    const int raw = ::pclose(p);
    o.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  }
  std::ifstream err(err_path);
  o.err.assign(std::istreambuf_iterator<char>(err), {});
  std::filesystem::remove(err_path);
  return o;
}

std::string write_file(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

TEST(CoreCli, AMalformedJobLineNamesItsLine) {
  const auto path = write_file("swarmsync-bad.jsonl", "{\"name\": \"ok\"}\n{\"name\": \n");
  const auto o = run("run --jobs " + path);
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.err.find("swarmsync-bad.jsonl:2: not valid JSON"), std::string::npos) << o.err;
}

TEST(CoreCli, AnInvalidCronExpressionIsNamed) {
  const auto path = write_file("swarmsync-cron.jsonl", "{\"cron\": \"61 * * * *\"}\n");
  const auto o = run("run --jobs " + path + " --duration 1");
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.err.find("swarmsync-cron.jsonl:1: invalid cron expression '61 * * * *': field minute '61': value out "
                       "of range 0-59"),
            std::string::npos)
      << o.err;
}

TEST(CoreCli, AMissingJobFileIsNamed) {
  const auto o = run("run --jobs /nonexistent/jobs.jsonl");
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.err.find("cannot open job file '/nonexistent/jobs.jsonl'"), std::string::npos) << o.err;
}

TEST(CoreCli, AnUnknownFlagIsNamed) {
  const auto o = run("run --bogus");
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.err.find("--bogus"), std::string::npos) << o.err;
}

TEST(CoreCli, RecurringJobsNeedADuration) {
  const auto o = run("run --cron-share 0.5 --count 10");
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.err.find("give --duration"), std::string::npos) << o.err;
}

TEST(CoreCli, TheJsonSummaryHasItsFields) {
  const auto o = run("run --count 300 --json");
  ASSERT_EQ(o.status, 0) << o.err;
  const auto j = nlohmann::json::parse(o.out);
  EXPECT_EQ(j["submitted"], 300);
  EXPECT_EQ(j["done"].get<int>() + j["failed"].get<int>(), 300);
  EXPECT_EQ(j["unaccounted"], 0);
  for (const char* field : {"retried", "jobs_per_second", "seconds", "restarts", "workers_lost", "swaps"})
    EXPECT_TRUE(j.contains(field)) << field;
  EXPECT_GT(j["latency_ns"]["total"]["p99"].get<long long>(), 0);
  EXPECT_GE(j["latency_ns"]["total"]["p99"].get<long long>(), j["latency_ns"]["total"]["p50"].get<long long>());
  EXPECT_EQ(j["stop_reason"], "all jobs done");
}

TEST(CoreCli, FaultsAskedForAreSurvived) {
  const auto o = run("run --count 3000 --json --kill-worker 1 --crash-scheduler 2 --swap-dispatcher");
  ASSERT_EQ(o.status, 0) << o.err << o.out;
  const auto j = nlohmann::json::parse(o.out);
  EXPECT_EQ(j["unaccounted"], 0);
  EXPECT_EQ(j["workers_lost"], 1);
  EXPECT_EQ(j["service_restarts"]["scheduler"], 2);
  EXPECT_EQ(j["swaps"], 1);
}

TEST(CoreCli, TheWiringGraphParsesWithDot) {
  if (std::system("command -v dot >/dev/null 2>&1") != 0) GTEST_SKIP() << "graphviz's dot is not installed";
  const auto o = run("wiring --dot", "dot -Tsvg");
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("<svg"), std::string::npos);
  EXPECT_NE(o.out.find("ToScheduler"), std::string::npos);
}

TEST(CoreCli, TheWiringTableSaysItIsOk) {
  const auto o = run("wiring");
  EXPECT_EQ(o.status, 0);
  EXPECT_NE(o.out.find("wiring ok: 6 channel(s)"), std::string::npos) << o.out;
}

}  // namespace
