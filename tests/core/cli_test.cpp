// The swarmsync-core program: bad input gets a clear message and a non-zero exit; the JSON
// summary has its fields; the DOT graph parses; faults asked for are survived; cron jobs with runs
// end the run; SIGINT stops it with every job accounted for.

#include <gtest/gtest.h>
#include <pty.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace cli_test {

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

// Every bad value: exit 2, and a message that names the flag, what was given and what is accepted.
TEST(CoreCli, BadFlagValuesAreNamedWithWhatIsAccepted) {
  struct Case {
    std::string args;
    std::string message;
  };
  const Case cases[] = {
      {"run --duration 1e10", "--duration: '1e10' has an unknown unit 'e10'; give seconds (90, 1.5) or a number"},
      {"run --duration 1e300", "--duration: '1e300' has an unknown unit 'e300'"},
      {"run --duration 9999999999", "--duration: '9999999999' is too long"},
      {"run --duration 400d", "--duration: '400d' is too long"},
      {"run --duration nan", "--duration: 'nan' is not a duration"},
      {"run --duration inf", "--duration: 'inf' is not a duration"},
      {"run --duration 0", "--duration: '0' is not more than 0"},
      {"run --duration=-1", "--duration: '-1' is not a duration"},
      {"run --duration abc", "--duration: 'abc' is not a duration"},
      {"run --duration 5x", "--duration: '5x' has an unknown unit 'x'"},
      {"run --count 1e3", "--count: '1e3' is not a whole number; expected 1 to 10000000"},
      {"run --count 0", "--count: '0' is out of range; expected 1 to 10000000"},
      {"run --count 99999999999999999999999", "--count: '99999999999999999999999' is out of range"},
      {"run --seed=-1", "--seed: '-1' is not a whole number; expected 0 to 18446744073709551615"},
      {"run --seed 99999999999999999999", "--seed: '99999999999999999999' is out of range"},
      {"run --jobs ''", "--jobs: the path is empty"},
      {"run --jobs /tmp", "job file '/tmp' is a directory"},
      {"run --delayed-share 0.6 --cron-share 0.6 --duration 1",
       "--delayed-share, --cron-share and --bounded-cron-share add up to 1.2"},
      {"run --kill-worker 1 --workers 1 --count 50", "--kill-worker 1 would leave no worker to run the jobs"},
      {"run --kill-worker 3 --workers 2", "--kill-worker 3 names no worker (there are 2)"},
      {"bogus", "unknown subcommand 'bogus'; expected run, node, worker or wiring"},
      {"run --threads 1e3", "--threads: '1e3' is not a whole number; expected 1 to 64"},
      {"run --workers abc", "--workers: 'abc' is not a whole number; expected 0 to 256"},
      {"run --workers 0", "--workers 0: no worker would run the jobs; give --workers 1 or more, or --nats"},
      {"run --workers 257", "--workers: '257' is out of range; expected 0 to 256"},
      {"run --worker-capacity 99999999999999999999", "--worker-capacity: '99999999999999999999' is out of range"},
      {"run --max-retries=-1", "--max-retries: '-1' is not a whole number; expected 0 to 100"},
      {"run --retry-backoff 5s", "--retry-backoff: '5s' is not a whole number; expected 0 to 1000"},
      {"run --kill-worker 0", "--kill-worker: '0' is out of range; expected 1 to 256"},
      {"run --crash-scheduler 1001", "--crash-scheduler: '1001' is out of range; expected 0 to 1000"},
      {"run --failure-rate nan", "--failure-rate: 'nan' is not a number; expected a number from 0 to 1"},
      {"run --failure-rate 2", "--failure-rate: '2' is out of range; expected a number from 0 to 1"},
      {"run --delayed-share 1e-1", "--delayed-share: '1e-1' is not a number; expected a number from 0 to 1"},
      {"run --cron-share=-0.5", "--cron-share: '-0.5' is not a number"},
      {"run --cron-speed inf", "--cron-speed: 'inf' is not a number; expected a number from 1 to 1000000"},
      {"run --cron-speed 0.5", "--cron-speed: '0.5' is out of range; expected a number from 1 to 1000000"},
  };
  for (const auto& c : cases) {
    const auto o = run(c.args);
    EXPECT_EQ(o.status, 2) << c.args;
    EXPECT_NE(o.err.find(c.message), std::string::npos) << c.args << "\n" << o.err;
    EXPECT_TRUE(o.out.empty()) << c.args;
  }
}

TEST(CoreCli, DurationsTakeUnits) {
  for (const char* d : {"2", "1.5", "1500ms", "2s", "0.05m"}) {
    const auto o = run(std::string("run --count 20 --duration ") + d);
    EXPECT_EQ(o.status, 0) << d << "\n" << o.err;
    EXPECT_NE(o.out.find("20 submitted"), std::string::npos) << d << "\n" << o.out;
  }
}

TEST(CoreCli, JobsFromStandardInput) {
  const auto path = write_file("swarmsync-stdin.jsonl", "{\"name\": \"a\"}\n{\"name\": \"b\"}\n");
  const auto o = run("run --jobs - < " + path);
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("2 submitted"), std::string::npos) << o.out;
  const auto bad = write_file("swarmsync-stdin-bad.jsonl", "{\"name\": 1}\n");
  const auto b = run("run --jobs - < " + bad);
  EXPECT_EQ(b.status, 2);
  EXPECT_NE(b.err.find("stdin:1: name must be a non-empty string"), std::string::npos) << b.err;
}

TEST(CoreCli, VersionAndHelp) {
  const auto v = run("--version");
  EXPECT_EQ(v.status, 0) << v.err;
  EXPECT_EQ(v.out.rfind("0.", 0), 0u) << v.out;
  const auto h = run("run --help");
  EXPECT_EQ(h.status, 0) << h.err;
  for (const char* shown : {"--count N=2000", "--retry-backoff N=10", "--workers N=4", "simulated workers in this process (0 only with --nats), 0 to 256",
                            "--failure-rate X=0 ", "--cron-speed X=1 ", "1 to 1000000", "--duration TIME",
                            "4 stopped with jobs left: no live worker"})
    EXPECT_NE(h.out.find(shown), std::string::npos) << "help lacks " << shown << "\n" << h.out;
}

TEST(CoreCli, FailedJobsAreNamedAndTheExitStatusSaysSo) {
  std::string text = "{\"name\": \"fine\"}\n";
  for (int i = 0; i < 25; ++i) text += "{\"name\": \"doomed-" + std::to_string(i) + "\", \"fail_attempts\": 100}\n";
  const auto path = write_file("swarmsync-failing.jsonl", text);
  const auto o = run("run --jobs " + path + " --max-retries 2 --retry-backoff 0");
  EXPECT_EQ(o.status, 3) << o.err;
  EXPECT_NE(o.out.find("26 submitted, 1 done, 25 failed"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("failed jobs (25):\n  doomed-0: 3 attempt(s), last error: "), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("  doomed-19: 3 attempt(s)"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("  doomed-20:"), std::string::npos) << "only the first 20 in the text\n" << o.out;
  EXPECT_NE(o.out.find("  ... and 5 more (--json lists them all)"), std::string::npos) << o.out;

  const auto j = run("run --jobs " + path + " --max-retries 2 --retry-backoff 0 --json");
  EXPECT_EQ(j.status, 3) << j.err;
  const auto summary = nlohmann::json::parse(j.out);
  ASSERT_EQ(summary["failed_jobs"].size(), 25u);
  EXPECT_EQ(summary["failed_jobs"][24]["name"], "doomed-24");
  EXPECT_EQ(summary["failed_jobs"][24]["attempts"], 3);
  EXPECT_FALSE(summary["failed_jobs"][24]["error"].get<std::string>().empty());

  const auto ok = run("run --count 50");
  EXPECT_EQ(ok.status, 0) << ok.out << ok.err;
  EXPECT_EQ(ok.out.find("failed jobs"), std::string::npos);
}

TEST(CoreCli, WarningsGoToStandardErrorByDefault) {
  const auto path = write_file("swarmsync-never.jsonl", "{\"name\": \"now\"}\n{\"cron\": \"0 0 30 2 *\"}\n");
  const auto o = run("run --jobs " + path + " --duration 1");
  EXPECT_NE(o.err.find(" warning hibernator: cron job 2 has no next firing time within 5 years"), std::string::npos)
      << o.err;
  EXPECT_EQ(o.err.find(" info "), std::string::npos) << "info lines only with --log-level info\n" << o.err;
}

TEST(CoreCli, LogLevelFileAndJsonFormat) {
  const auto log_path = std::filesystem::temp_directory_path() / "swarmsync-core-test.log";
  std::filesystem::remove(log_path);
  const auto o = run("run --count 20 --log-level info --log-format json --log-file " + log_path.string());
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_TRUE(o.err.empty()) << "the log went to the file\n" << o.err;
  std::ifstream in(log_path);
  std::string line;
  int lines = 0, from_logger = 0;
  std::vector<std::string> started;
  std::vector<nlohmann::json> shutdowns, shutdowns_done;
  while (std::getline(in, line)) {
    const auto record = nlohmann::json::parse(line);  // every line is one JSON object
    ++lines;
    EXPECT_TRUE(record.contains("time") && record.contains("level")) << line;
    // A message, or a structured record: a supervisor's decision with its fields.
    EXPECT_NE(record.contains("message"), record.contains("event") && record.contains("fields")) << line;
    if (record.value("message", "").find("startup") != std::string::npos) ++from_logger;
    if (record.value("event", "") == "started") started.push_back(record["service"].get<std::string>());
    if (record.value("service", "") == "supervisor" && record.value("event", "") == "shutdown") shutdowns.push_back(record);
    if (record.value("event", "") == "shutdown_done") shutdowns_done.push_back(record);
  }
  EXPECT_GT(lines, 0);
  EXPECT_GT(from_logger, 0) << "the Logger's core events are in the log";
  std::sort(started.begin(), started.end());
  EXPECT_EQ(started, (std::vector<std::string>{"dispatcher", "harvester", "hibernator", "logger", "receiver",
                                               "scheduler", "submitter", "task-archive", "workers"}));
  ASSERT_EQ(shutdowns.size(), 1u);
  EXPECT_EQ(shutdowns[0]["level"], "info");
  EXPECT_EQ(shutdowns[0]["fields"]["reason"], "all jobs done");
  ASSERT_EQ(shutdowns_done.size(), 1u);
  EXPECT_EQ(shutdowns_done[0]["service"], "supervisor");
  long long left = 0;  // per channel, adding up to the whole
  for (const auto& [key, value] : shutdowns_done[0]["fields"].items())
    if (key.rfind("left.", 0) == 0) left += std::stoll(value.get<std::string>());
  EXPECT_EQ(std::to_string(left), shutdowns_done[0]["fields"]["unhandled"].get<std::string>()) << shutdowns_done[0];
  std::filesystem::remove(log_path);

  const auto bad_level = run("run --count 5 --log-level loud");
  EXPECT_EQ(bad_level.status, 2);
  EXPECT_NE(bad_level.err.find("--log-level: 'loud' is not a level"), std::string::npos) << bad_level.err;
  const auto bad_format = run("run --count 5 --log-format xml");
  EXPECT_EQ(bad_format.status, 2);
  EXPECT_NE(bad_format.err.find("--log-format: 'xml' is not a format"), std::string::npos) << bad_format.err;
  const auto bad_node_format = run("node --nats nats://127.0.0.1:1 --services scheduler --name a --log-format xml");
  EXPECT_EQ(bad_node_format.status, 2);
  EXPECT_NE(bad_node_format.err.find("error: --log-format: 'xml' is not a format; expected text or json"),
            std::string::npos)
      << bad_node_format.err;
  const auto bad_file = run("run --count 5 --log-file /nonexistent/dir/core.log");
  EXPECT_EQ(bad_file.status, 2);
  EXPECT_NE(bad_file.err.find("--log-file: cannot open '/nonexistent/dir/core.log'"), std::string::npos)
      << bad_file.err;
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
  for (const char* field : {"retried", "jobs_per_second", "seconds", "restarts", "workers_lost", "workers_back", "workers_unreachable", "swaps"})
    EXPECT_TRUE(j.contains(field)) << field;
  EXPECT_TRUE(j["nats"].is_null());  // only with --nats
  for (const char* hop : {"submitted_to_ready", "ready_to_started", "started_to_finished", "total"})
    EXPECT_TRUE(j["latency_ns"].contains(hop)) << hop;
  EXPECT_GT(j["latency_ns"]["started_to_finished"]["p50"].get<long long>(), 0);
  EXPECT_GT(j["latency_ns"]["total"]["p99"].get<long long>(), 0);
  EXPECT_TRUE(j["left"].empty());
  EXPECT_GE(j["latency_ns"]["total"]["p99"].get<long long>(), j["latency_ns"]["total"]["p50"].get<long long>());
  EXPECT_EQ(j["stop_reason"], "all jobs done");
}

TEST(CoreCli, FaultsAskedForAreSurvived) {
  const auto o = run("run --count 3000 --json --kill-worker 1 --crash-scheduler 2 --swap-dispatcher");
  ASSERT_EQ(o.status, 0) << o.err << o.out;
  const auto j = nlohmann::json::parse(o.out);
  EXPECT_EQ(j["unaccounted"], 0);
  EXPECT_EQ(j["workers_unreachable"], nlohmann::json::array({1})) << o.out;
  EXPECT_EQ(j["workers_lost"].get<int>() - j["workers_back"].get<int>(), 1) << o.out;
  EXPECT_EQ(j["service_restarts"]["scheduler"], 2);
  EXPECT_EQ(j["swaps"], 1);
}

TEST(CoreCli, CronJobsWithRunsEndTheRunWithoutADuration) {
  const auto o = run("run --count 200 --bounded-cron-share 0.05 --cron-speed 600 --json");
  ASSERT_EQ(o.status, 0) << o.err << o.out;
  const auto j = nlohmann::json::parse(o.out);
  EXPECT_EQ(j["stop_reason"], "all jobs done");
  EXPECT_EQ(j["done"].get<int>() + j["failed"].get<int>(), 200);
  EXPECT_EQ(j["unaccounted"], 0);
}

TEST(CoreCli, BadRunsNameTheirLine) {
  const auto path = write_file("swarmsync-runs.jsonl", "{\"cron\": \"* * * * *\", \"runs\": 2}\n{\"runs\": 2}\n");
  const auto o = run("run --jobs " + path);
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.err.find("swarmsync-runs.jsonl:2: runs needs cron"), std::string::npos) << o.err;
}

// True once process `pid` catches `signal`: its handlers are installed.
bool catches(pid_t pid, int signal) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("SigCgt:", 0) == 0) return (std::stoull(line.substr(7), nullptr, 16) >> (signal - 1)) & 1;
  }
  return false;
}

TEST(CoreCli, SigintStopsTheRunWithEveryJobAccountedFor) {
  // One worker with 2 slots: 5 quick jobs finish; of 6 long ones, 2 run and 4 wait; 5 wait for
  // their delay, a cron job with runs for its next minute.
  std::ostringstream jobs;
  for (int i = 0; i < 5; ++i) jobs << "{\"priority\": 9, \"work_ms\": 1}\n";
  for (int i = 0; i < 6; ++i) jobs << "{\"work_ms\": 60000}\n";
  for (int i = 0; i < 5; ++i) jobs << "{\"delay_ms\": 60000}\n";
  jobs << "{\"cron\": \"0 0 1 1 *\", \"runs\": 2}\n";
  const auto path = write_file("swarmsync-slow.jsonl", jobs.str());
  const std::string command =
      "exec " + std::string(SWARMSYNC_CORE_BIN) + " run --jobs " + path + " --workers 1 --worker-capacity 2 --json";

  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!catches(pid, SIGINT) && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the quick jobs finish
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  std::string text;
  std::array<char, 4096> buf;
  for (ssize_t n; (n = ::read(out[0], buf.data(), buf.size())) > 0;)
    text.append(buf.data(), static_cast<std::size_t>(n));
  ::close(out[0]);
  int raw = 0;
  ASSERT_EQ(::waitpid(pid, &raw, 0), pid);
  ASSERT_TRUE(WIFEXITED(raw)) << "ended by signal " << (WIFSIGNALED(raw) ? WTERMSIG(raw) : 0);
  EXPECT_EQ(WEXITSTATUS(raw), 0) << text;

  const auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["stop_reason"], "signal " + std::to_string(SIGINT));
  EXPECT_EQ(j["submitted"], 17);
  EXPECT_EQ(j["unaccounted"], 0);
  EXPECT_EQ(j["done"], 5);
  int left = 0;
  for (const auto& entry : j["left"].items()) left += entry.value().get<int>();
  EXPECT_EQ(j["done"].get<int>() + j["failed"].get<int>() + left, 17) << text;
  EXPECT_EQ(j["left"]["hibernator"], 6) << text;
  EXPECT_EQ(j["left"]["workers"], 2) << text;
}

// Runs the program with `args` on a terminal `columns` wide (standard output and error both on
// it), and returns everything it wrote there.
std::string run_on_terminal(const std::string& args, unsigned short columns) {
  winsize size{};
  size.ws_row = 24;
  size.ws_col = columns;
  int master = -1;
  const std::string command = "exec " + std::string(SWARMSYNC_CORE_BIN) + " " + args;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, &size);
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  if (pid < 0) return "forkpty failed";
  std::string text;
  std::array<char, 4096> buf;
  for (ssize_t n; (n = ::read(master, buf.data(), buf.size())) > 0;) text.append(buf.data(), static_cast<std::size_t>(n));
  ::close(master);  // read ends with EIO once the program is gone
  ::waitpid(pid, nullptr, 0);
  return text;
}

// The progress line's redraws, in the order drawn: what the terminal showed before the summary.
std::vector<std::string> redraws(const std::string& screen) {
  std::vector<std::string> lines;
  const std::string before = screen.substr(0, screen.find("jobs: "));
  std::size_t at = 0;
  while (at < before.size()) {
    const std::size_t next = std::min(before.find('\r', at), before.size());
    std::string line = before.substr(at, next - at);
    if (const auto erase = line.find("\x1b[K"); erase != std::string::npos) line.erase(erase);
    if (!line.empty() && line != "\n") lines.push_back(line);
    at = next + 1;
  }
  return lines;
}

TEST(CoreCli, TheProgressLineFitsTheTerminalAndRedrawsInPlace) {
  const std::string args =
      "run --count 400 --cron-share 0.3 --bounded-cron-share 0.2 --cron-speed 600 --duration 1.2 --log-level error";
  for (unsigned short columns : {50, 160}) {
    const auto screen = run_on_terminal(args, columns);
    ASSERT_NE(screen.find("jobs: 400 submitted"), std::string::npos) << screen;
    const auto lines = redraws(screen);
    ASSERT_GE(lines.size(), 5u) << screen;
    for (const auto& line : lines) {
      EXPECT_LT(line.size(), columns) << "'" << line << "'";
      EXPECT_EQ(line.find('\n'), std::string::npos) << "a redraw on a new line: '" << line << "'";
      EXPECT_NE(line.find("% "), std::string::npos) << line;
      EXPECT_NE(line.find(" failed"), std::string::npos) << line;
    }
    // One line break only, after the last redraw.
    const std::string before = screen.substr(0, screen.find("jobs: "));
    EXPECT_EQ(std::count(before.begin(), before.end(), '\n'), 1) << before;
    if (columns == 50) {
      EXPECT_NE(lines.back().find("s/1.2s"), std::string::npos) << lines.back();  // the time, short
    }
    if (columns == 160) {
      EXPECT_NE(lines.back().find(" left | "), std::string::npos) << lines.back();  // time left of --duration
      EXPECT_NE(lines.back().find(" recurring: "), std::string::npos) << lines.back();
    }
  }
}

TEST(CoreCli, NoProgressLineWhenOutputIsNotATerminal) {
  const auto o = run("run --count 300");
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.err.find('\r'), std::string::npos) << o.err;
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

}  // namespace cli_test
