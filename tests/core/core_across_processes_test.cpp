// The Core split across processes over a real nats-server: nodes (`swarmsync-core node`) running
// some of its services, workers in their own processes, and `swarmsync-core run` running the
// rest. Deadlines are hang guards only.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>

#include <chrono>
#include <memory>
#include <regex>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "placement.hpp"
#if SWARMSYNC_CORE_WITH_NATS
#include "remote/core_events.hpp"
#include "remote/kv_bucket.hpp"
#include "remote/nodes.hpp"
#endif
#include "support/http_client.hpp"
#include "support/program.hpp"
#include "transport/nats_server.hpp"

namespace core_across_processes_test {

namespace {

using namespace std::chrono_literals;
using core::ChannelType;
using core::Placement;
using core::Route;

TEST(Placement, AWholeCoreHasEveryChannelInProcess) {
  const Placement whole;
  EXPECT_TRUE(whole.whole());
  for (auto c : core::kServiceChannels) EXPECT_EQ(core::route(c, whole), Route::local) << to_string(c);
  // The door of remote workers always crosses processes.
  EXPECT_EQ(core::route(ChannelType::FromWorkers, whole), Route::inbound);
}

TEST(Placement, TheRunAndANodeSeeEachChannelFromItsTwoSides) {
  Placement run;
  run.elsewhere = {"scheduler", "dispatcher"};
  Placement node;
  node.only = std::set<std::string>{"scheduler", "dispatcher"};
  EXPECT_FALSE(node.whole());
  struct Row {
    ChannelType channel;
    Route at_run, at_node;
  };
  const Row rows[] = {
      {ChannelType::Submissions, Route::local, Route::absent},
      {ChannelType::ToHibernator, Route::local, Route::absent},
      {ChannelType::ToScheduler, Route::outbound, Route::inbound},  // Receiver, Hibernator, Harvester send to it
      {ChannelType::ToDispatcher, Route::absent, Route::local},     // Scheduler and workers are with it
      {ChannelType::ToHarvester, Route::inbound, Route::outbound},
      {ChannelType::HarvesterToArchive, Route::local, Route::absent},
      {ChannelType::FromWorkers, Route::absent, Route::inbound},  // the gateway goes with the Dispatcher
  };
  for (const auto& row : rows) {
    EXPECT_EQ(core::route(row.channel, run), row.at_run) << to_string(row.channel);
    EXPECT_EQ(core::route(row.channel, node), row.at_node) << to_string(row.channel);
  }
  EXPECT_TRUE(node.here("workers"));
  EXPECT_FALSE(node.here("receiver"));
  EXPECT_FALSE(run.here("worker-gateway"));
  EXPECT_TRUE(run.here("submitter"));
}

TEST(Placement, ServicesAreParsedAndBadOnesNamed) {
  auto ok = core::parse_services("Scheduler, dispatcher");
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, (std::set<std::string>{"dispatcher", "scheduler"}));
  struct Case {
    const char* list;
    const char* message;
  };
  const Case cases[] = {
      {"", "--services: an empty name in ''"},
      {"scheduler,", "--services: an empty name in 'scheduler,'"},
      {"receiver", "--services: 'receiver' is not a service a node can run; expected hibernator, scheduler, "
                   "dispatcher, harvester (the receiver, task-archive and logger stay with `run`)"},
      {"harvester,Harvester", "--services: 'harvester' is named twice"},
  };
  for (const auto& c : cases) {
    auto r = core::parse_services(c.list);
    ASSERT_FALSE(r) << c.list;
    EXPECT_NE(r.error().message.find(c.message), std::string::npos) << r.error().message;
  }
}

#if SWARMSYNC_CORE_WITH_NATS

using swarmsync::test::Program;

class CoreAcrossProcesses : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = server.start()) GTEST_SKIP() << *why;
  }
  // A node running `services`, once it says it runs.
  std::unique_ptr<Program> node(const std::string& name, const std::string& services) {
    auto p = std::make_unique<Program>(
        std::vector<std::string>{"node", "--nats", server.url(), "--name", name, "--services", services}, true);
    EXPECT_TRUE(p->wait_for_output("node " + name + ": running")) << p->output();
    return p;
  }
  std::unique_ptr<Program> worker(const std::string& name) {
    return std::make_unique<Program>(std::vector<std::string>{"worker", "--nats", server.url(), "--name", name});
  }
  static void stop(std::unique_ptr<Program>& p, const std::string& says) {
    p->signal(SIGTERM);
    EXPECT_EQ(p->wait(), 0);
    EXPECT_NE(p->output().find(says), std::string::npos) << p->output();
  }
  swarmsync::test::NatsServer server;
};

// The Core in three processes (the run, the Scheduler with the Dispatcher, the Harvester with the
// Hibernator) and four worker processes: every job is done after its retries, none archived twice.
// Under the sanitizers, which slow every process several times, a fifth of the jobs.
TEST_F(CoreAcrossProcesses, ThreeProcessesAndFourWorkersRunEveryJob) {
#ifdef SWARMSYNC_SANITIZED
  const int count = 2000;
#else
  const int count = 10000;
#endif
  auto a = node("a", "scheduler,dispatcher");
  auto b = node("b", "harvester,hibernator");
  std::vector<std::unique_ptr<Program>> workers;
  for (const char* name : {"w1", "w2", "w3", "w4"}) workers.push_back(worker(name));
  Program run({"run", "--nats", server.url(), "--count", std::to_string(count), "--json"});
  const int status = run.wait(300s);
  const std::string out = run.output();
  ASSERT_EQ(status, 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["submitted"], count);
  EXPECT_EQ(j["done"], count) << out;  // a generated job fails its first attempt only: each is done
  EXPECT_EQ(j["left_total"], 0) << out;
  EXPECT_EQ(j["unaccounted"], 0) << out;
  EXPECT_GT(j["retried"], 0) << "the Harvester's counters come from node b: " << out;
  EXPECT_EQ(j["earlier_runs_records"], 0);
  // A late result, or a second record, is of a job placed again after its worker was found
  // silent (a heartbeat late under load): it ran twice, and is counted once.
  if (j["workers_lost"] == 0) {
    EXPECT_EQ(j["unexpected_results"], 0) << out;
    EXPECT_EQ(j["archived_twice"], 0) << out;
  }
  EXPECT_EQ(j["nats"]["lost"], 0) << out;
  EXPECT_EQ(j["nats"]["undecodable"], 0) << out;
  const auto elsewhere = j["elsewhere"];
  EXPECT_EQ(elsewhere.size(), 4u) << out;
  EXPECT_EQ(elsewhere.value("scheduler", ""), "a");
  EXPECT_EQ(elsewhere.value("dispatcher", ""), "a");
  EXPECT_EQ(elsewhere.value("harvester", ""), "b");
  EXPECT_EQ(elsewhere.value("hibernator", ""), "b");
  for (auto& w : workers) {
    w->signal(SIGTERM);
    EXPECT_EQ(w->wait(), 0);
  }
  stop(a, "node a: stopped");
  stop(b, "node b: stopped");
}

#if SWARMSYNC_CORE_WITH_METRICS
// A node serves its own metrics: its services and channels, and the Core's families of the
// services it runs (the Dispatcher's worker table here), not the run's job counts.
TEST_F(CoreAcrossProcesses, ANodeServesTheMetricsOfItsServices) {
  Program bad({"node", "--nats", server.url(), "--name", "x", "--services", "dispatcher", "--http", "host:1"}, true);
  EXPECT_EQ(bad.wait(30s), 2);
  EXPECT_NE(bad.output().find("error: --http 'host:1' has no IP address"), std::string::npos) << bad.output();
  Program unreachable({"node", "--nats", "nats://127.0.0.1:1", "--services", "dispatcher", "--http", "70000"}, true);
  EXPECT_EQ(unreachable.wait(30s), 2);  // the flag is named before any connection is tried
  EXPECT_NE(unreachable.output().find("error: --http '70000'"), std::string::npos) << unreachable.output();

  auto a = std::make_unique<Program>(std::vector<std::string>{"node", "--nats", server.url(), "--name", "a",
                                                              "--services", "scheduler,dispatcher", "--http",
                                                              "127.0.0.1:0"},
                                     true);
  ASSERT_TRUE(a->wait_for_output("node a: running")) << a->output();
  const std::regex said(R"(node a: metrics at (http://127\.0\.0\.1:[0-9]+)/metrics)");
  std::smatch m;
  const std::string head = a->output();
  ASSERT_TRUE(std::regex_search(head, m, said)) << head;
  const std::string base = m[1];
  auto w = worker("w1");
  Program run({"run", "--nats", server.url(), "--count", "200", "--json"});
  ASSERT_EQ(run.wait(120s), 0) << run.output();
  const auto text = swarmsync::test::http_request(base, "GET", "/metrics");
  EXPECT_EQ(text.rfind("HTTP/1.1 200", 0), 0u) << text;
  EXPECT_NE(text.find("\nswarmsync_service_up{service=\"dispatcher\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nswarmsync_service_up{service=\"scheduler\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nswarmsync_core_workers_reachable 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nswarmsync_core_worker_capacity{worker="), std::string::npos) << text;
  EXPECT_EQ(text.find("swarmsync_core_jobs_submitted_total"), std::string::npos) << "the run's, not the node's";
  EXPECT_EQ(text.find("swarmsync_core_retries_total"), std::string::npos) << "the Harvester runs elsewhere";
  w->signal(SIGTERM);
  EXPECT_EQ(w->wait(), 0);
  stop(a, "node a: stopped");
}
#endif

// Nodes outlive a run. A run stopped early leaves jobs in them, which they finish afterwards; the
// next run numbers its jobs apart and counts only its own (the earlier run's records are dropped
// as such).
TEST_F(CoreAcrossProcesses, NodesServeTheNextRunAndItCountsOnlyItsOwnJobs) {
  auto a = node("a", "scheduler,dispatcher,harvester");
  auto w = worker("w1");
  Program first({"run", "--nats", server.url(), "--count", "1500", "--duration", "300ms", "--json"});
  ASSERT_EQ(first.wait(120s), 0) << first.output();
  const auto j1 = nlohmann::json::parse(first.output());
  EXPECT_EQ(j1["unaccounted"], 0);
  EXPECT_GT(j1["left_total"], 0) << "the first run stopped before its jobs were done";
  EXPECT_EQ(j1["done"].get<int>() + j1["failed"].get<int>() + j1["left_total"].get<int>(), 1500);

  Program second({"run", "--nats", server.url(), "--count", "300", "--json"});
  ASSERT_EQ(second.wait(180s), 0) << second.output();
  const auto j2 = nlohmann::json::parse(second.output());
  EXPECT_EQ(j2["done"], 300) << second.output();
  EXPECT_EQ(j2["unaccounted"], 0);
  EXPECT_EQ(j2["archived_twice"], 0);
  w->signal(SIGTERM);
  EXPECT_EQ(w->wait(), 0);
  stop(a, "node a: stopped");
}

// A run over two nodes, `a` running `kept` and `b` running `killed`, with two worker processes;
// `b` is killed with SIGKILL mid-run and started again. Every job must be done, whatever `b`
// held: its state is in JetStream (the key-value buckets of remote/state_journals.hpp), what it
// had taken and not acknowledged is delivered again after the AckWait, and what it acknowledged
// had its effects published first (the AckFence).
// `b` is killed once the bucket of each service it runs (`swarmsync_core_<service>`) holds at
// least the entries given with it: the kill comes while it holds state, whatever the pace of
// the run.
struct Holding {
  std::string service;
  std::size_t entries = 1;
};
// With `and_a_worker`, worker w1 is killed with `b` and never comes back (w3 joins instead): what
// it held when `b` died must be taken back by the restarted node.
void run_with_a_node_killed(swarmsync::test::NatsServer& server, int count, const std::string& kept,
                            const std::vector<Holding>& killed, const std::vector<std::string>& killed_flags = {},
                            bool and_a_worker = false) {
  std::string killed_list;
  for (const auto& h : killed) killed_list += (killed_list.empty() ? "" : ",") + h.service;
  const std::vector<std::string> quick = {"--ack-wait", "2s"};  // redelivery of what the dead one held
  auto with = [&](std::vector<std::string> args, bool is_b) {
    args.insert(args.end(), quick.begin(), quick.end());
    if (is_b) args.insert(args.end(), killed_flags.begin(), killed_flags.end());
    return args;
  };
  auto start_node = [&](const std::string& name, const std::string& services) {
    auto p = std::make_unique<Program>(
        with({"node", "--nats", server.url(), "--name", name, "--services", services}, name == "b"), true);
    EXPECT_TRUE(p->wait_for_output("node " + name + ": running")) << p->output();
    return p;
  };
  auto a = start_node("a", kept);
  auto b = start_node("b", killed_list);
  std::vector<std::unique_ptr<Program>> workers;
  for (const char* name : {"w1", "w2"})
    workers.push_back(std::make_unique<Program>(std::vector<std::string>{"worker", "--nats", server.url(), "--name", name}));
  Program run(with({"run", "--nats", server.url(), "--count", std::to_string(count), "--json"}, false));
  {
    auto conn = swarmsync::nats::connect(server.url());
    ASSERT_TRUE(conn) << conn.error().message;
    std::vector<std::shared_ptr<core::KvBucket>> buckets;
    for (const auto& h : killed)
      buckets.push_back(core::KvBucket::open(*conn, "swarmsync_core_" + h.service, nullptr, nullptr).value());
    const auto give_up = std::chrono::steady_clock::now() + 120s;
    auto holding = [&] {
      for (std::size_t i = 0; i < buckets.size(); ++i)
        if (buckets[i]->entries().size() < killed[i].entries) return false;
      return true;
    };
    // The state seen once is what counts: the buckets empty again as the run goes on, so a second
    // look may find less.
    bool held = false;
    while (!(held = holding()) && run.running() && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(held || run.running()) << "the run ended before node b could be killed: " << run.output();
    ASSERT_TRUE(held) << "node b held no state in two minutes";
  }
  b->signal(SIGKILL);
  if (and_a_worker) workers[0]->signal(SIGKILL);
  EXPECT_EQ(b->wait(), -1);
  b = start_node("b", killed_list);
  if (and_a_worker) {
    EXPECT_EQ(workers[0]->wait(), -1);
    workers[0] = std::make_unique<Program>(std::vector<std::string>{"worker", "--nats", server.url(), "--name", "w3"});
  }
  const int status = run.wait(300s);
  const std::string out = run.output();
  ASSERT_EQ(status, 0) << out << "\nnode b: " << b->output();
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["submitted"], count);
  EXPECT_EQ(j["done"], count) << out << "\nnode a: " << a->output() << "\nnode b: " << b->output();
  EXPECT_EQ(j["left_total"], 0) << out;
  EXPECT_EQ(j["unaccounted"], 0) << out;
  EXPECT_EQ(j["nats"]["lost"], 0) << out;
  std::cout << "the restarted node: " << b->output() << "archived twice, dropped: " << j["archived_twice"]
            << ", late results ignored: " << j["unexpected_results"] << "\n";
  for (auto& w : workers) {
    w->signal(SIGTERM);
    EXPECT_EQ(w->wait(), 0);
  }
  for (auto* p : {&a, &b}) {
    (*p)->signal(SIGTERM);
    EXPECT_EQ((*p)->wait(), 0);
    EXPECT_NE((*p)->output().find(": stopped"), std::string::npos) << (*p)->output();
  }
}

#ifdef SWARMSYNC_SANITIZED
constexpr int kKilledNodeJobs = 1000;
#else
constexpr int kKilledNodeJobs = 3000;
#endif

// The Harvester and the Hibernator in the node killed: the expectations and the held jobs (every
// generated job fails once, and its retry waits half a second in the Hibernator) are taken on by
// the next node.
TEST_F(CoreAcrossProcesses, ANodeOfHarvesterAndHibernatorKilledAndRestartedLosesNoJob) {
  run_with_a_node_killed(server, kKilledNodeJobs, "scheduler,dispatcher", {{"harvester"}, {"hibernator"}},
                         {"--retry-backoff", "500"});
}

// The Scheduler in the node killed: its queue and its credits are taken on by the next node (a
// Scheduler that lost its credits would wait for ever: the Dispatcher granted them already),
// killed while it holds a hundred jobs or more. The Scheduler runs apart from the Dispatcher here:
// the remote workers' Registers cross processes, and their inboxes are the gateway's.
TEST_F(CoreAcrossProcesses, TheSchedulersNodeKilledAndRestartedLosesNoJob) {
  run_with_a_node_killed(server, kKilledNodeJobs, "dispatcher,harvester,hibernator", {{"scheduler", 100}});
}

// The Dispatcher in the node killed, and one worker with it: the jobs waiting for a slot and which
// worker holds what are taken on by the next node; the dead worker, never heard from again, is
// lost after the heartbeat timeout and its jobs run elsewhere (without the journal they were
// never placed again, and the run never ended). Killed once it holds three jobs or more (two
// entries of the workers' capacities and the placements reserved besides).
TEST_F(CoreAcrossProcesses, TheDispatchersNodeKilledWithAWorkerLosesNoJob) {
  run_with_a_node_killed(server, kKilledNodeJobs, "scheduler,harvester,hibernator", {{"dispatcher", 6}}, {}, true);
}

// Discovery waits for every process the core's roster lists: one that answers late (a busy
// machine) is found, where the short window alone would take it for none and run its services a
// second time.
TEST_F(CoreAcrossProcesses, AListedProcessThatAnswersLateIsWaitedFor) {
  auto conn = swarmsync::nats::connect(server.url());
  ASSERT_TRUE(conn) << conn.error().message;
  const core::NodeInfo slow{"slow", "node", {"harvester"}, {}};
  auto responder = core::NodeResponder::start(*conn, "core", [&] {
    std::this_thread::sleep_for(800ms);
    return core::to_json(slow);
  });
  ASSERT_TRUE(responder) << responder.error().message;
  auto roster = core::NodeRoster::open(*conn, "core", nullptr);
  ASSERT_TRUE(roster) << roster.error().message;
  auto entry = roster->enter(slow);
  ASSERT_TRUE(entry.stored());
  EXPECT_EQ(roster->listed(), std::set<std::string>{"node.slow"});

  auto window_only = core::ask_nodes(*conn, "core", 200ms);
  ASSERT_TRUE(window_only);
  EXPECT_TRUE(window_only->empty()) << "answered within the window: the test shows nothing";

  const auto asked = std::chrono::steady_clock::now();
  auto found = core::discover_nodes(*conn, "core", *roster, 200ms, 10s);
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_EQ(found->answers.size(), 1u);
  EXPECT_EQ(found->answers[0].name, "slow");
  EXPECT_EQ(found->answers[0].services, std::vector<std::string>{"harvester"});
  EXPECT_TRUE(found->silent.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 9s) << "it returns once every listed process answered";
  {
    auto moved = std::move(entry);  // a moved entry leaves once, when its last owner goes
    EXPECT_FALSE(entry.stored());
    auto& same = moved;
    moved = std::move(same);  // self-move: still entered
    EXPECT_TRUE(moved.stored());
    EXPECT_EQ(roster->listed(), std::set<std::string>{"node.slow"});
  }
  EXPECT_TRUE(roster->listed().empty());
}

// A listed process that does not answer (killed: its entry outlived it) is named silent; a node
// killed with SIGKILL is taken as gone by the next run, which warns, drops its entry and runs its
// services itself.
TEST_F(CoreAcrossProcesses, AListedProcessThatIsGoneIsNamedAndItsServicesRunElsewhere) {
  auto conn = swarmsync::nats::connect(server.url());
  ASSERT_TRUE(conn) << conn.error().message;
  auto roster = core::NodeRoster::open(*conn, "core", nullptr);
  ASSERT_TRUE(roster) << roster.error().message;
  {
    auto ghost = roster->enter(core::NodeInfo{"ghost", "node", {"scheduler"}, {}});
    ASSERT_TRUE(ghost.stored());
    auto found = core::discover_nodes(*conn, "core", *roster, 100ms, 500ms);
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_TRUE(found->answers.empty());
    EXPECT_EQ(found->silent, std::vector<std::string>{"node.ghost"});
  }
  EXPECT_TRUE(roster->listed().empty());

  auto a = node("a", "harvester");
  EXPECT_EQ(roster->listed(), std::set<std::string>{"node.a"}) << "a node enters the roster once it answers";
  a->signal(SIGKILL);
  EXPECT_EQ(a->wait(), -1);
  auto w = worker("w1");
  Program run({"run", "--nats", server.url(), "--count", "50", "--json"}, true);
  ASSERT_EQ(run.wait(120s), 0) << run.output();
  const std::string out = run.output();
  EXPECT_NE(out.find("core: node.a is in the roster swarmsync_core_nodes but did not answer"), std::string::npos)
      << out;
  EXPECT_NE(out.find("\"done\":50"), std::string::npos) << out;
  EXPECT_NE(out.find("\"elsewhere\":{}"), std::string::npos) << "the harvester ran in the run: " << out;
  EXPECT_TRUE(roster->listed().empty()) << "the run left, and node a's entry was dropped";
  w->signal(SIGTERM);
  EXPECT_EQ(w->wait(), 0);
}

// The core events cross processes: the Harvester in node a broadcasts each job's status, and the
// Logger of the run (which stays with `run`) writes them. The run's wiring names node a.
TEST_F(CoreAcrossProcesses, TheCoreEventsOfANodeReachTheLoggerOfTheRun) {
  auto a = node("a", "harvester");
  auto w = worker("w1");
  Program run({"run", "--nats", server.url(), "--count", "20", "--log-level", "info"}, true);
  ASSERT_EQ(run.wait(120s), 0) << run.output();
  const std::string out = run.output();
  EXPECT_NE(out.find(": done (attempt "), std::string::npos) << "no JobStatusChanged reached the run's Logger: " << out;
  EXPECT_NE(out.find("harvester (node a)"), std::string::npos) << out;
  // The run's boot report, at info, names the node that consumes what it sends there.
  EXPECT_NE(out.find("nats subject core.ToHarvester, consumed by the harvester in node a"), std::string::npos) << out;
  w->signal(SIGTERM);
  EXPECT_EQ(w->wait(), 0);
  stop(a, "node a: stopped");
}

// Two processes' core events (remote/core_events.hpp): the events of a job or a service reach the
// other process, those of a process's own life (startup, shutdown, ticks) stay in it.
TEST_F(CoreAcrossProcesses, CoreEventsOfJobsAndServicesCrossAndThoseOfAProcessStay) {
  auto conn_a = swarmsync::nats::connect(server.url());
  auto conn_b = swarmsync::nats::connect(server.url());
  ASSERT_TRUE(conn_a && conn_b);
  auto troubles = std::make_shared<core::BridgeTroubles>();
  auto a = core::bridge_core_events(*conn_a, "core", "a", nullptr, troubles);
  auto b = core::bridge_core_events(*conn_b, "core", "b", nullptr, troubles);
  ASSERT_TRUE(a && b);
  swarmsync::ServiceChannels<core::CoreEvent> at_a(std::move(*a)), at_b(std::move(*b));
  auto heard_at_a = at_a.subscribe_to_core_event();
  auto heard_at_b = at_b.subscribe_to_core_event();
  at_a.send_event_to_all_services(swarmsync::Startup{});
  at_a.send_event_to_all_services(swarmsync::Tick{swarmsync::PulseRate::slow, 1});
  at_a.send_event_to_all_services(swarmsync::ServiceRestarted{"scheduler", 1, false, "boom", 0});
  at_a.send_event_to_all_services(core::JobStatusChanged{7, 0, core::JobStatus::done, 1});
  at_a.send_event_to_all_services(swarmsync::Shutdown{"asked to stop"});
  // Process a hears all five, in order; process b the two that cross, in order.
  std::vector<std::size_t> kinds_at_a, kinds_at_b;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while ((kinds_at_a.size() < 5 || kinds_at_b.size() < 2) && std::chrono::steady_clock::now() < deadline) {
    if (auto e = heard_at_a.try_recv()) kinds_at_a.push_back(e->index());
    else if (auto f = heard_at_b.try_recv()) kinds_at_b.push_back(f->index());
    else std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(kinds_at_a.size(), 5u);
  EXPECT_EQ(kinds_at_b, (std::vector<std::size_t>{2, 4})) << "ServiceRestarted, JobStatusChanged";
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(heard_at_b.try_recv()) << "a process's own events reached another";
  EXPECT_EQ(troubles->undecodable.load(), 0u);
  EXPECT_EQ(troubles->lost.load(), 0u);
}

// A service runs in one process of a core: a second node, or a run asked for what only the
// service's own process can do, is refused with a message naming both.
TEST_F(CoreAcrossProcesses, ConflictsAndFaultsOfServicesElsewhereAreRefused) {
  auto a = node("a", "scheduler,dispatcher");
  struct Case {
    std::vector<std::string> args;
    int status;
    std::string message;
  };
  const std::string url = server.url();
  const Case cases[] = {
      {{"node", "--nats", url, "--name", "b", "--services", "hibernator,scheduler"}, 2,
       "error: node b: the scheduler of core 'core' already runs in node a"},
      {{"node", "--nats", url, "--name", "a", "--services", "harvester"}, 2,
       "error: node a: another node of core 'core' is named a; give another --name"},
      {{"node", "--nats", url, "--services", "receiver"}, 2, "error: --services: 'receiver' is not a service"},
      {{"node", "--nats", url, "--name", "a b", "--services", "harvester"}, 2, "error: --name 'a b'"},
      {{"node", "--nats", url, "--services", "harvester", "--max-retries", "101"}, 2,
       "error: --max-retries: '101' is out of range"},
      {{"node", "--nats", "nats://127.0.0.1:1", "--services", "harvester"}, 1,
       "error: node node: --nats nats://127.0.0.1:1: connect nats://127.0.0.1:1: No server available"},
      {{"node", "--nats", url}, 2, "--services is required"},
      {{"run", "--nats", url, "--workers", "2", "--count", "10"}, 1,
       "error: --workers 2: the dispatcher runs in node a; workers join it as `swarmsync-core worker` processes"},
      {{"run", "--nats", url, "--crash-scheduler", "1", "--count", "10"}, 1,
       "error: --crash-scheduler: the scheduler runs in node a, not here"},
      {{"run", "--nats", url, "--swap-dispatcher", "--count", "10"}, 1,
       "error: --swap-dispatcher: the dispatcher runs in node a, not here"},
  };
  for (const auto& c : cases) {
    Program p(c.args, true);
    EXPECT_EQ(p.wait(60s), c.status) << c.args[0] << " " << c.args.back();
    const auto text = p.output();
    EXPECT_NE(text.find(c.message), std::string::npos) << text;
    EXPECT_EQ(text.find("jobs: "), std::string::npos) << "a summary of a run that never started: " << text;
  }
  stop(a, "node a: stopped");
}

#endif

}  // namespace

}  // namespace core_across_processes_test
