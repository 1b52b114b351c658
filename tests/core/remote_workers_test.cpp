// The Core with its workers in other processes, over a real nats-server: `swarmsync-core run
// --nats` and `swarmsync-core worker` processes, every job done, and a worker killed with
// SIGKILL mid-run has its jobs run elsewhere. Deadlines are hang guards only.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "transport/nats_server.hpp"

#if SWARMSYNC_CORE_WITH_NATS

namespace {

using namespace std::chrono_literals;

// A child process running swarmsync-core with `args`; its standard output is kept (and its
// standard error with it, with `with_errors`).
class Program {
 public:
  explicit Program(std::vector<std::string> args, bool with_errors = false) {
    args.insert(args.begin(), SWARMSYNC_CORE_BIN);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (::pipe(out) != 0) return;
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(out[1], STDOUT_FILENO);
      if (with_errors) ::dup2(out[1], STDERR_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
    ::fcntl(out_, F_SETFL, ::fcntl(out_, F_GETFL) | O_NONBLOCK);  // read while it runs: a full pipe would stall it
  }
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;
  ~Program() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }

  void signal(int sig) { ::kill(pid_, sig); }

  // Waits for the end; returns its exit status, -1 if killed by a signal. After `guard` it is
  // sent SIGINT (a run then prints its summary, where each job was left), after 10 s more SIGKILL.
  int wait(std::chrono::seconds guard = 120s) {
    auto deadline = std::chrono::steady_clock::now() + guard;
    int status = 0;
    int sent = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, sent++ == 0 ? SIGINT : SIGKILL);
        deadline = std::chrono::steady_clock::now() + 10s;
      }
      drain();
      std::this_thread::sleep_for(10ms);
    }
    if (sent > 0) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Everything it wrote to standard output (call after `wait`).
  std::string output() {
    drain();
    return text_;
  }

 private:
  void drain() {
    std::array<char, 4096> buf;
    for (ssize_t n; (n = ::read(out_, buf.data(), buf.size())) > 0;) text_.append(buf.data(), static_cast<std::size_t>(n));
  }

  pid_t pid_ = -1;
  int out_ = -1;
  std::string text_;
};

class CoreOverNats : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = server.start()) GTEST_SKIP() << *why;
  }
  std::unique_ptr<Program> worker(const std::string& name, const std::string& capacity = "4") {
    return std::make_unique<Program>(
        std::vector<std::string>{"worker", "--nats", server.url(), "--name", name, "--capacity", capacity});
  }
  swarmsync::test::NatsServer server;
};

TEST_F(CoreOverNats, TheCoreRunsItsJobsOnWorkersInOtherProcesses) {
  std::vector<std::unique_ptr<Program>> workers;
  for (const char* name : {"w1", "w2", "w3"}) workers.push_back(worker(name));
  Program core({"run", "--nats", server.url(), "--workers", "0", "--count", "2000", "--json"});
  const int status = core.wait();
  const std::string out = core.output();
  ASSERT_EQ(status, 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["submitted"], 2000);
  EXPECT_EQ(j["done"], 2000);
  EXPECT_EQ(j["unaccounted"], 0);
  EXPECT_EQ(j["workers_lost"], 0);
  EXPECT_EQ(j["unexpected_results"], 0);  // no job ran twice in effect
  EXPECT_EQ(j["nats"]["lost"], 0);
  EXPECT_EQ(j["nats"]["undecodable"], 0);
  for (auto& w : workers) {
    w->signal(SIGTERM);
    EXPECT_EQ(w->wait(), 0);  // a worker stops cleanly on SIGTERM
  }
}

// A worker registers once, with the run under way when it starts; the next run of the same core
// never gets that registration, and takes the worker on from its heartbeat (which carries its
// capacity) instead of stopping with no live worker.
TEST_F(CoreOverNats, AWorkerThatOutlivesARunServesTheNext) {
  auto w = worker("stays", "4");
  for (int run = 0; run < 2; ++run) {
    Program core({"run", "--nats", server.url(), "--workers", "0", "--count", "300", "--json"});
    const int status = core.wait(60s);
    const std::string out = core.output();
    ASSERT_EQ(status, 0) << "run " << run << ": " << out;
    const auto j = nlohmann::json::parse(out);
    EXPECT_EQ(j["done"], 300) << "run " << run;
    EXPECT_EQ(j["unaccounted"], 0) << "run " << run;
    EXPECT_FALSE(j["no_live_worker"].get<bool>()) << "run " << run;
  }
  w->signal(SIGTERM);
  EXPECT_EQ(w->wait(), 0);
}

TEST_F(CoreOverNats, AWorkerKilledMidRunHasItsJobsRunElsewhere) {
  auto doomed = worker("doomed", "8");
  auto survivor = worker("survivor");
  std::vector<std::string> args{"run", "--nats", server.url(), "--workers", "0", "--count", "6000", "--json"};
  Program core(args);
  std::this_thread::sleep_for(400ms);  // the run is under way (it takes seconds)
  doomed->signal(SIGKILL);
  EXPECT_EQ(doomed->wait(), -1);
  const int status = core.wait();
  const std::string out = core.output();
  ASSERT_EQ(status, 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["done"], 6000);
  EXPECT_EQ(j["unaccounted"], 0);
  EXPECT_GE(j["workers_lost"], 1) << out;  // more if a heartbeat of the survivor came late (it is then back)
  EXPECT_EQ(j["workers_unreachable"].size(), 1u) << out;  // the doomed one, for good
  survivor->signal(SIGTERM);
  EXPECT_EQ(survivor->wait(), 0);
}

// nats-server killed with SIGKILL mid-run and started again on the same port and store: the Core
// and its workers reconnect, what the server had acknowledged is still in the stream, and what
// was sent during the outage is published again: every job is done, none is left.
TEST_F(CoreOverNats, TheServerKilledAndRestartedMidRunLosesNoJob) {
  std::vector<std::unique_ptr<Program>> workers;
  for (const char* name : {"w1", "w2"}) workers.push_back(worker(name));
  Program core({"run", "--nats", server.url(), "--workers", "0", "--count", "3000", "--json"});
  std::this_thread::sleep_for(700ms);  // the run is under way (it takes seconds)
  server.kill9();
  std::this_thread::sleep_for(300ms);
  ASSERT_FALSE(server.restart()) << "nats-server did not start again";
  const int status = core.wait();
  const std::string out = core.output();
  ASSERT_EQ(status, 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["submitted"], 3000);
  EXPECT_EQ(j["done"], 3000) << out;
  EXPECT_EQ(j["left_total"], 0);
  EXPECT_EQ(j["unaccounted"], 0);
  EXPECT_GE(j["nats"]["disconnects"], 1) << out;  // the outage is in the summary
  EXPECT_GE(j["nats"]["reconnects"], 1) << out;
  EXPECT_EQ(j["nats"]["lost"], 0) << out;
  for (auto& w : workers) {
    w->signal(SIGTERM);
    EXPECT_EQ(w->wait(), 0);
  }
}

TEST_F(CoreOverNats, BadWorkerFlagsAreNamed) {
  struct Case {
    std::vector<std::string> args;
    int status;
    std::string message;
  };
  const Case cases[] = {
      {{"worker", "--nats", "nats://127.0.0.1:1", "--name", "w"}, 1,
       "error: --nats nats://127.0.0.1:1: connect nats://127.0.0.1:1: No server available"},
      {{"worker", "--nats", server.url(), "--name", "a b"}, 1,
       "error: --name 'a b': letters, digits, '_' and '-' only, not empty"},
      {{"worker", "--nats", server.url(), "--name", "w", "--speed", "0"}, 2,
       "error: --speed: '0' is out of range; expected a number from 0.01 to 100"},
      {{"worker", "--name", "w"}, 2, "--nats is required"},
      {{"run", "--workers", "0"}, 2, "error: --workers 0: no worker would run the jobs"},
      {{"run", "--nats", "nats://127.0.0.1:1", "--workers", "0"}, 1,
       "error: --nats nats://127.0.0.1:1: connect nats://127.0.0.1:1: No server available"},
  };
  for (const auto& c : cases) {
    Program p(c.args, true);
    EXPECT_EQ(p.wait(), c.status) << c.args[0] << " " << c.args.back();
    const auto text = p.output();
    EXPECT_NE(text.find(c.message), std::string::npos) << text;
    EXPECT_EQ(text.find("jobs: "), std::string::npos) << "a summary of a run that never started: " << text;
  }
}

}  // namespace

#endif
