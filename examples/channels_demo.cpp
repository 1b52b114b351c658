// Both channel kinds at work: a producer feeds jobs to a worker through an mpsc pipe, while a
// broadcast carries the core events (startup, ticks, job done, shutdown) to every service.
//
//   swarmsync-channels-demo [--jobs N] [--workers N]

#include <swarmsync/channels.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

namespace {

using namespace swarmsync;

struct Startup {};
struct Tick {
  std::uint64_t n;
};
struct JobDone {
  std::uint64_t job;
  unsigned worker;
};
struct Shutdown {};
using CoreEvent = std::variant<Startup, Tick, JobDone, Shutdown>;

struct Job {
  std::uint64_t id;
  std::uint64_t work;
};

struct Options {
  std::uint64_t jobs = 100'000;
  unsigned workers = 4;
};

bool parse_number(std::string_view text, std::uint64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// Returns false (after printing why) on a bad command line.
bool parse(int argc, char** argv, Options& opt) {
  for (int i = 1; i < argc; i += 2) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf("usage: swarmsync-channels-demo [--jobs N] [--workers N]\n");
      std::exit(0);
    }
    if (arg != "--jobs" && arg != "--workers") {
      std::fprintf(stderr, "error: unknown option '%s' (try --help)\n", argv[i]);
      return false;
    }
    std::uint64_t n = 0;
    if (i + 1 >= argc || !parse_number(argv[i + 1], n) || n == 0 || (arg == "--workers" && n > 256)) {
      std::fprintf(stderr, "error: %s needs a positive number%s\n", argv[i], arg == "--workers" ? " up to 256" : "");
      return false;
    }
    if (arg == "--jobs")
      opt.jobs = n;
    else
      opt.workers = static_cast<unsigned>(n);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!parse(argc, argv, opt)) return 2;

  asio::io_context ioc;
  auto [events, logger_events] = broadcast::channel<CoreEvent>(1024);
  auto [jobs_tx, jobs_rx] = mpsc::channel<Job>(256);
  std::vector<mpsc::UnboundedSender<Job>> worker_pipes;
  std::atomic<std::uint64_t> done{0};
  std::uint64_t checksum = 0;

  // Logger: listens to every core event.
  asio::co_spawn(asio::make_strand(ioc), [rx = std::move(logger_events), &opt]() mutable -> asio::awaitable<void> {
    std::uint64_t finished = 0, lagged = 0, ticks = 0;
    for (;;) {
      auto ev = co_await rx.recv();
      if (!ev) {
        if (ev.error().kind == broadcast::RecvError::lagged) {
          lagged += ev.error().skipped;
          continue;
        }
        break;  // closed
      }
      if (std::holds_alternative<Startup>(*ev)) std::printf("logger: startup, %llu jobs\n", (unsigned long long)opt.jobs);
      if (std::holds_alternative<Tick>(*ev)) ++ticks;
      if (std::holds_alternative<JobDone>(*ev)) ++finished;
      if (std::holds_alternative<Shutdown>(*ev)) std::printf("logger: shutdown\n");
    }
    std::printf("logger: saw %llu job-done events, %llu ticks, missed %llu (lagged)\n", (unsigned long long)finished,
                (unsigned long long)ticks, (unsigned long long)lagged);
  }, asio::detached);

  // Workers: each owns an unbounded pipe, reports each job on the broadcast.
  for (unsigned w = 0; w < opt.workers; ++w) {
    auto [tx, rx] = mpsc::unbounded_channel<Job>();
    worker_pipes.push_back(std::move(tx));
    asio::co_spawn(asio::make_strand(ioc), [w, rx = std::move(rx), ev = events, &done]() mutable -> asio::awaitable<void> {
      while (auto job = co_await rx.recv()) {
        std::uint64_t x = job->work;
        for (int i = 0; i < 50; ++i) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        (void)ev.send(JobDone{job->id, w});
        done.fetch_add(1, std::memory_order_relaxed);
      }
    }, asio::detached);
  }

  // Dispatcher: takes jobs from the bounded pipe and hands them to workers round-robin.
  asio::co_spawn(asio::make_strand(ioc),
                 [rx = std::move(jobs_rx), pipes = std::move(worker_pipes)]() mutable -> asio::awaitable<void> {
                   std::vector<Job> batch;
                   std::size_t next = 0;
                   while (co_await rx.recv_many(batch, 64)) {
                     for (auto& job : batch) pipes[next++ % pipes.size()].send(job).value();
                     batch.clear();
                   }
                 }, asio::detached);

  // Producer: submits every job (waiting when the dispatcher falls behind) and ticks.
  const auto start = std::chrono::steady_clock::now();
  asio::co_spawn(asio::make_strand(ioc), [tx = std::move(jobs_tx), ev = std::move(events), &opt,
                                          &checksum]() mutable -> asio::awaitable<void> {
    (void)ev.send(Startup{});
    for (std::uint64_t id = 0; id < opt.jobs; ++id) {
      checksum += id;
      (co_await tx.send(Job{id, id * 31})).value();
      if (id % 1000 == 0) (void)ev.send(Tick{id / 1000});
    }
    { auto close = std::move(tx); }  // the dispatcher ends once the pipe drains
    (void)ev.send(Shutdown{});
  }, asio::detached);

  std::vector<std::thread> threads;
  threads.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : threads) t.join();

  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double rate = secs > 0 ? static_cast<double>(done.load()) / secs : 0.0;
  std::printf("done: %llu of %llu jobs on %u workers in %.3f s (%.0f jobs/s)\n",
              (unsigned long long)done.load(), (unsigned long long)opt.jobs, opt.workers, secs, rate);
  return done.load() == opt.jobs ? 0 : 1;
}
