// The Core with its workers in other processes, over a real nats-server: `swarmsync-core run
// --nats` and `swarmsync-core worker` processes, every job done, and a worker killed with
// SIGKILL mid-run has its jobs run elsewhere. Deadlines are hang guards only.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/program.hpp"
#include "transport/nats_server.hpp"

#if SWARMSYNC_CORE_WITH_NATS

namespace remote_workers_test {

namespace {

using namespace std::chrono_literals;
using swarmsync::test::Program;

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

}  // namespace remote_workers_test
