// swarmsync-core: the SwarmSync Core on a generated or loaded workload.
//
//   swarmsync-core run [--count N | --jobs FILE|-] [--workers W] [--duration 90s] [--json] [faults]
//   swarmsync-core run --nats URL [--workers 0] ...   (with workers in other processes)
//   swarmsync-core node --nats URL --services scheduler,dispatcher [--name N] [--http ADDRESS]   (a part of the Core)
//   swarmsync-core worker --nats URL --name W [--capacity C] [--speed S]
//   swarmsync-core wiring [--dot | --json]
//   swarmsync-core --version
//
// Exit status: 0 when no job failed (jobs left by a requested stop, a signal or --duration, are
// counted in the summary, not failures); 1 when the Core failed, a job is unaccounted for, or
// the wiring check failed; 2 for bad input (a flag, a job file); 3 when the run ended and some
// jobs failed after their retries (the summary names them); 4 when the run stopped because no
// worker was left to run the jobs waiting (they are counted as left).

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <vector>

#include "cli/log_sink.hpp"
#include "cli/progress_line.hpp"
#include "cli/values.hpp"
#include "core_app.hpp"
#include "model/job_file.hpp"
#include "model/workload.hpp"
#include "placement.hpp"
#include "remote/remote_worker.hpp"
#if SWARMSYNC_CORE_WITH_METRICS
#include <swarmsync/observe/http_exporter.hpp>
#endif

namespace {

// Set by SIGINT or SIGTERM in `swarmsync-core worker`.
std::atomic<bool> worker_stop{false};
extern "C" void stop_worker(int) { worker_stop.store(true); }

std::string plain_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Redraws the progress line in place on standard error: carriage return, the line (narrower than
// the terminal, so it never wraps), then erase to the end of the line.
void draw_progress(const core::Progress& p) {
  const std::string line = core::cli::progress_line(p, core::cli::terminal_columns(STDERR_FILENO));
  std::lock_guard terminal(core::cli::terminal_mutex());
  std::fprintf(stderr, "\r%s\x1b[K", line.c_str());
  std::fflush(stderr);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"swarmsync-core: the SwarmSync Core, a job-orchestration core on swarmsync"};
  app.option_defaults()->always_capture_default();
  app.set_version_flag("--version", SWARMSYNC_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Exit status: 0 no job failed; 1 the Core failed or a job is unaccounted for; 2 bad input; 3 some jobs "
      "failed after their retries; 4 stopped with jobs left: no live worker.");

  auto* run = app.add_subcommand("run", "run a workload and print a summary");
  core::CoreOptions options;
  std::string jobs_file;
  std::string duration_text;
  std::string seed_text = std::to_string(options.seed);
  bool json = false;
  double delayed_share = 0.10, failing_share = 0.05, cron_share = 0.0, bounded_cron_share = 0.0;
  std::uint64_t count = 2000, retry_backoff_ms = 10, kill_worker = 0, workers = options.workers,
                capacity = options.worker_capacity, retries = options.max_retries, threads = options.threads,
                crashes = 0;
  // Numbers are read as text by CLI11 and parsed here, so that every bad value gets a message
  // naming the flag, what was given and what is accepted (CLI11's own says "Value abc not in range").
  struct WholeFlag {
    std::string text;
    std::uint64_t lo, hi;
    std::uint64_t* value;
    const char* name;
  };
  struct DecimalFlag {
    std::string text;
    double lo, hi;
    double* value;
    const char* name;
  };
  std::vector<std::unique_ptr<WholeFlag>> whole_flags;
  std::vector<std::unique_ptr<DecimalFlag>> decimal_flags;
  auto whole = [&](const char* name, std::uint64_t& value, std::uint64_t lo, std::uint64_t hi,
                   const std::string& what) {
    auto& f = *whole_flags.emplace_back(new WholeFlag{std::to_string(value), lo, hi, &value, name});
    return run->add_option(name, f.text, what + ", " + std::to_string(lo) + " to " + std::to_string(hi))
        ->type_name("N");
  };
  auto decimal = [&](const char* name, double& value, double lo, double hi, const std::string& what) {
    char text[32], range[64];
    std::snprintf(text, sizeof text, "%g", value);
    std::snprintf(range, sizeof range, ", %.15g to %.15g", lo, hi);
    auto& f = *decimal_flags.emplace_back(new DecimalFlag{text, lo, hi, &value, name});
    return run->add_option(name, f.text, what + range)->type_name("X");
  };
  auto* count_opt = whole("--count", count, 1, 10'000'000, "jobs to generate");
  run->add_option("--jobs", jobs_file, "read the jobs from a JSON-lines file instead ('-': standard input)")->type_name("FILE")
      ->excludes(count_opt);
  whole("--workers", workers, 0, 256, "simulated workers in this process (0 only with --nats)");
  whole("--worker-capacity", capacity, 1, 1024, "jobs a worker runs at once");
  decimal("--failure-rate", options.worker_failure_rate, 0, 1, "chance that an attempt fails on a worker");
  whole("--max-retries", retries, 0, 100, "retries of a failed job");
  whole("--retry-backoff", retry_backoff_ms, 0, 1000,
        "milliseconds before the first retry of a job, doubled for each further one (at most 1 s)");
  whole("--threads", threads, 1, 64, "threads running the Core");
  run->add_option("--duration", duration_text,
                  "stop after this long: seconds (90, 1.5) or with a unit (500ms, 90s, 5m, 2h, 1d); needed with "
                  "recurring jobs")
      ->type_name("TIME");
  decimal("--delayed-share", delayed_share, 0, 1, "share of generated jobs that are delayed");
  decimal("--cron-share", cron_share, 0, 1, "share of generated jobs that recur every minute");
  decimal("--bounded-cron-share", bounded_cron_share, 0, 1,
          "share of generated jobs that fire every minute 1 to 3 times, then are done");
  decimal("--cron-speed", options.cron_speed, 1, 1e6,
          "cron time runs this many times faster than real time (60: a cron minute lasts a second)");
  decimal("--failing-share", failing_share, 0, 1, "share of generated jobs whose first attempt fails");
  run->add_option("--seed", seed_text, "seed of the generated workload and workers, 0 to 18446744073709551615")->type_name("N");
  run->add_flag("--json", json, "print the summary as JSON");
  whole("--kill-worker", kill_worker, 1, 256, "kill this worker (at most W, and W at least 2) a third of the way through")
      ->default_str("");
  whole("--crash-scheduler", crashes, 0, 1000,
        "crash the Scheduler exactly this many times, spread over the run");
  run->add_flag("--swap-dispatcher", options.swap_dispatcher, "hot-swap the Dispatcher halfway through");
  std::string log_level = "warn", log_format = "text", log_file;
  run->add_option("--log-level", log_level, "the least severe log lines written: trace, debug, info, warn, error, off")->type_name("LEVEL");
  run->add_option("--log-format", log_format, "text, or json: one object a line")->type_name("FORMAT");
  run->add_option("--log-file", log_file, "append the log to this file instead of standard error")->type_name("FILE");

  std::string nats_url;
  run->add_option("--nats", nats_url,
                  "a NATS server with JetStream for workers in other processes (swarmsync-core worker), "
                  "e.g. nats://127.0.0.1:4222")
      ->type_name("URL");
  run->add_option("--core", options.core_name, "the Core's name on NATS: its stream is SWARMSYNC_<core>")
      ->type_name("NAME");
  run->add_option("--http", options.http,
                  "serve a live dashboard at http://ADDRESS/ and the metrics in the Prometheus text format at "
                  "http://ADDRESS/metrics while the Core runs: PORT (on 127.0.0.1), IPv4:PORT or [IPv6]:PORT; "
                  "another interface than loopback only when named")
      ->type_name("ADDRESS");
  run->add_flag("--control", options.control,
               "with --http: the dashboard offers to restart services, for requests with the token printed at "
               "start");
  std::string ack_wait_text = "30s";
  run->add_option("--ack-wait", ack_wait_text,
                  "with --nats: how long a message taken by a process that died waits before it is delivered "
                  "again (the same in every process of a core)")
      ->type_name("TIME");

  auto* worker = app.add_subcommand("worker", "run a simulated worker in this process for a Core over NATS");
  core::RemoteWorkerOptions remote;
  std::string worker_capacity = "4", worker_speed = "1", worker_failure_rate = "0";
  worker->add_option("--nats", remote.url, "the NATS server of the Core, e.g. nats://127.0.0.1:4222")
      ->type_name("URL")
      ->required();
  worker->add_option("--name", remote.name, "the worker's name (letters, digits, '_', '-'): the same name is the same worker")
      ->type_name("NAME")
      ->required();
  worker->add_option("--core", remote.core, "the Core's name on NATS")->type_name("NAME");
  worker->add_option("--capacity", worker_capacity, "jobs it runs at once, 1 to 1024")->type_name("N");
  worker->add_option("--speed", worker_speed, "a job takes its work divided by this, 0.01 to 100")->type_name("X");
  worker->add_option("--failure-rate", worker_failure_rate, "chance that an attempt fails, 0 to 1")->type_name("X");

  auto* node = app.add_subcommand("node", "run some of the Core's services in this process, for a Core over NATS");
  core::NodeOptions node_options;
  std::string node_services, node_retries = "3", node_backoff = "10", node_threads = "2", node_cron_speed = "1";
  node->add_option("--nats", node_options.nats_url, "the NATS server of the Core, e.g. nats://127.0.0.1:4222")
      ->type_name("URL")
      ->required();
  node->add_option("--services", node_services,
                   "the services this process runs, comma-separated: hibernator, scheduler, dispatcher, harvester")
      ->type_name("LIST")
      ->required();
  node->add_option("--name", node_options.name, "the node's name in the other processes' reports")->type_name("NAME");
  node->add_option("--core", node_options.core_name, "the Core's name on NATS")->type_name("NAME");
  node->add_option("--max-retries", node_retries, "the Harvester's retries of a failed job, 0 to 100")->type_name("N");
  node->add_option("--retry-backoff", node_backoff,
                   "the Harvester's milliseconds before a first retry, doubled for each further one, 0 to 1000")
      ->type_name("N");
  node->add_option("--cron-speed", node_cron_speed, "the Hibernator's cron clock speed, 1 to 1000000")->type_name("X");
  node->add_option("--threads", node_threads, "threads running the services, 1 to 64")->type_name("N");
  std::string node_ack_wait = "30s";
  node->add_option("--ack-wait", node_ack_wait,
                   "how long a message taken by a process that died waits before it is delivered again (the same "
                   "in every process of a core)")
      ->type_name("TIME");
  std::string node_log_level = "warn", node_log_format = "text";
  node->add_option("--log-level", node_log_level, "the least severe log lines written to standard error")
      ->type_name("LEVEL");
  node->add_option("--log-format", node_log_format, "text, or json: one object a line")->type_name("FORMAT");
  node->add_option("--http", node_options.http,
                   "serve the node's metrics at http://ADDRESS/metrics (PORT alone: on 127.0.0.1)")
      ->type_name("ADDRESS");

  auto* wiring = app.add_subcommand("wiring", "print the boot diagnostics of the Core's wiring");
  bool dot = false, wiring_json = false;
  wiring->add_flag("--dot", dot, "as a Graphviz DOT graph");
  wiring->add_flag("--json", wiring_json, "as JSON");

  // A first word that is no flag must name a subcommand (CLI11 would only say one is required).
  if (argc > 1 && argv[1][0] != '-' && std::string_view(argv[1]) != "run" && std::string_view(argv[1]) != "wiring" &&
      std::string_view(argv[1]) != "worker" && std::string_view(argv[1]) != "node") {
    std::cerr << "error: unknown subcommand '" << argv[1] << "'; expected run, node, worker or wiring (see --help)\n";
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (*worker) {
    const auto slots = core::cli::parse_whole("--capacity", worker_capacity, 1, 1024);
    if (!slots) return std::cerr << "error: " << slots.error().message << "\n", 2;
    const auto speed = core::cli::parse_decimal("--speed", worker_speed, 0.01, 100);
    if (!speed) return std::cerr << "error: " << speed.error().message << "\n", 2;
    const auto failure_rate = core::cli::parse_decimal("--failure-rate", worker_failure_rate, 0, 1);
    if (!failure_rate) return std::cerr << "error: " << failure_rate.error().message << "\n", 2;
    remote.capacity = static_cast<unsigned>(*slots);
    remote.speed = *speed;
    remote.failure_rate = *failure_rate;
#if SWARMSYNC_CORE_WITH_NATS
    std::signal(SIGINT, stop_worker);
    std::signal(SIGTERM, stop_worker);
    return core::run_remote_worker(remote, worker_stop, std::cerr) == 0 ? 0 : 1;
#else
    std::cerr << "error: this build has no NATS transport (SWARMSYNC_WITH_NATS=OFF)\n";
    return 1;
#endif
  }

  if (*node) {
    auto services = core::parse_services(node_services);
    if (!services) return std::cerr << "error: " << services.error().message << "\n", 2;
    node_options.services = std::move(*services);
    if (node_options.name.empty() ||
        node_options.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
            std::string::npos)
      return std::cerr << "error: --name '" << node_options.name << "': letters, digits, '_' and '-' only, not empty\n", 2;
    const auto retries_n = core::cli::parse_whole("--max-retries", node_retries, 0, 100);
    if (!retries_n) return std::cerr << "error: " << retries_n.error().message << "\n", 2;
    const auto backoff_n = core::cli::parse_whole("--retry-backoff", node_backoff, 0, 1000);
    if (!backoff_n) return std::cerr << "error: " << backoff_n.error().message << "\n", 2;
    const auto threads_n = core::cli::parse_whole("--threads", node_threads, 1, 64);
    if (!threads_n) return std::cerr << "error: " << threads_n.error().message << "\n", 2;
    const auto speed = core::cli::parse_decimal("--cron-speed", node_cron_speed, 1, 1e6);
    if (!speed) return std::cerr << "error: " << speed.error().message << "\n", 2;
    node_options.max_retries = static_cast<unsigned>(*retries_n);
    node_options.retry_backoff = std::chrono::milliseconds(*backoff_n);
    node_options.threads = static_cast<unsigned>(*threads_n);
    node_options.cron_speed = *speed;
    const auto ack_wait = core::cli::parse_duration("--ack-wait", node_ack_wait);
    if (!ack_wait) return std::cerr << "error: " << ack_wait.error().message << "\n", 2;
    node_options.ack_wait = *ack_wait;
    core::cli::LogOptions node_log;
    node_log.level = spdlog::level::from_str(node_log_level);
    if (node_log.level == spdlog::level::off && node_log_level != "off")
      return std::cerr << "error: --log-level: '" << node_log_level
                       << "' is not a level; expected trace, debug, info, warn, error or off\n",
             2;
    if (node_log_format != "text" && node_log_format != "json")
      return std::cerr << "error: --log-format: '" << node_log_format << "' is not a format; expected text or json\n", 2;
    node_log.format = node_log_format == "json" ? core::cli::LogFormat::json : core::cli::LogFormat::text;
    auto node_logger = core::cli::make_logger(node_log);
    if (!node_logger) return std::cerr << "error: " << node_logger.error().message << "\n", 2;
    node_options.logger = *node_logger;
    if (node->count("--http") && node_options.http.empty())
      return std::cerr << "error: --http: the address is empty\n", 2;
    if (!node_options.http.empty()) {  // checked before anything connects
#if SWARMSYNC_CORE_WITH_METRICS
      if (auto at = swarmsync::observe::parse_listen_address(node_options.http); !at)
        return std::cerr << "error: --http " << at.error() << "\n", 2;
#else
      return std::cerr << "error: --http: this build has no metrics exporter (SWARMSYNC_WITH_METRICS=OFF)\n", 2;
#endif
    }
    return core::run_node(node_options, std::cout, std::cerr);
  }

  if (*wiring) {
    if (dot && wiring_json) {
      std::cerr << "error: --dot and --json are exclusive\n";
      return 2;
    }
    const auto report = core::core_wiring();
    std::cout << (dot ? report.dot() : wiring_json ? report.json() + "\n" : report.table());
    return report.ok() ? 0 : 1;
  }

  auto bad_input = [](const std::string& message) {
    std::cerr << "error: " << message << "\n";
    return 2;
  };
  for (const auto& f : whole_flags) {
    if (!run->count(f->name)) continue;  // the default stands
    const auto value = core::cli::parse_whole(f->name, f->text, f->lo, f->hi);
    if (!value) return bad_input(value.error().message);
    *f->value = *value;
  }
  for (const auto& f : decimal_flags) {
    if (!run->count(f->name)) continue;
    const auto value = core::cli::parse_decimal(f->name, f->text, f->lo, f->hi);
    if (!value) return bad_input(value.error().message);
    *f->value = *value;
  }
  options.workers = static_cast<unsigned>(workers);
  options.local_workers_required = run->count("--workers") > 0;
  options.worker_capacity = static_cast<unsigned>(capacity);
  options.max_retries = static_cast<unsigned>(retries);
  options.threads = static_cast<unsigned>(threads);
  options.crash_scheduler = static_cast<unsigned>(crashes);
  const auto seed = core::cli::parse_whole("--seed", seed_text, 0, std::numeric_limits<std::uint64_t>::max());
  if (!seed) return bad_input(seed.error().message);
  options.seed = *seed;
  std::optional<std::chrono::milliseconds> duration;
  if (!duration_text.empty()) {
    auto parsed = core::cli::parse_duration("--duration", duration_text);
    if (!parsed) return bad_input(parsed.error().message);
    duration = *parsed;
  }
  if (const double shares = delayed_share + cron_share + bounded_cron_share; shares > 1.0 + 1e-9)
    return bad_input("--delayed-share, --cron-share and --bounded-cron-share add up to " + plain_number(shares) +
                     "; their sum must be at most 1");
  if (run->count("--jobs") && jobs_file.empty()) return bad_input("--jobs: the path is empty");
  core::cli::LogOptions log;
  log.level = spdlog::level::from_str(log_level);
  if (log.level == spdlog::level::off && log_level != "off")
    return bad_input("--log-level: '" + log_level + "' is not a level; expected trace, debug, info, warn, error or off");
  if (log_format != "text" && log_format != "json")
    return bad_input("--log-format: '" + log_format + "' is not a format; expected text or json");
  log.format = log_format == "json" ? core::cli::LogFormat::json : core::cli::LogFormat::text;
  if (run->count("--log-file") && log_file.empty()) return bad_input("--log-file: the path is empty");
  log.file = log_file;

  std::vector<core::JobSpec> jobs;
  if (!jobs_file.empty()) {
    std::error_code ec;
    if (jobs_file != "-" && std::filesystem::is_directory(jobs_file, ec))
      return bad_input("job file '" + jobs_file + "' is a directory");
    auto loaded = jobs_file == "-" ? core::read_jobs(std::cin, "stdin") : core::load_jobs(jobs_file);
    if (!loaded) {
      std::cerr << "error: " << loaded.error().message << "\n";
      return 2;
    }
    jobs = std::move(*loaded);
    if (jobs.empty()) {
      std::cerr << "error: job file '" << jobs_file << "' holds no job\n";
      return 2;
    }
  } else {
    core::WorkloadOptions w;
    w.jobs = static_cast<std::size_t>(count);
    w.delayed_share = delayed_share;
    w.cron_share = cron_share;
    w.bounded_cron_share = bounded_cron_share;
    w.failing_share = failing_share;
    w.seed = options.seed;
    jobs = core::generate_workload(w);
  }
  const bool recurring = std::any_of(jobs.begin(), jobs.end(), [](const core::JobSpec& j) { return !j.finite(); });
  if (recurring && !duration) {
    std::cerr << "error: recurring (cron) jobs never end: give --duration, or runs to each cron job\n";
    return 2;
  }
  if (kill_worker > options.workers) {
    std::cerr << "error: --kill-worker " << kill_worker << " names no worker (there are " << options.workers << ")\n";
    return 2;
  }
  if (options.workers == 0 && nats_url.empty())
    return bad_input("--workers 0: no worker would run the jobs; give --workers 1 or more, or --nats for remote ones");
  if (run->count("--ack-wait")) {
    const auto ack_wait = core::cli::parse_duration("--ack-wait", ack_wait_text);
    if (!ack_wait) return bad_input(ack_wait.error().message);
    options.ack_wait = *ack_wait;
  }
  if (!nats_url.empty()) {
    options.nats_url = nats_url;
    // Remote workers may start after the Core: give them time before calling the run stalled.
    options.no_worker_stop = std::chrono::seconds(30);
    // Over the network a heartbeat can wait behind results: a worker is lost after 2 s of silence.
    options.heartbeat_timeout = std::chrono::seconds(2);
  }
  if (run->count("--http") && options.http.empty()) return bad_input("--http: the address is empty");
  if (options.control && options.http.empty()) return bad_input("--control needs --http: it acts through the dashboard");
  if (!options.http.empty()) {
#if SWARMSYNC_CORE_WITH_METRICS
    if (auto at = swarmsync::observe::parse_listen_address(options.http); !at) return bad_input("--http " + at.error());
    options.on_http = [](const std::string& url) {
      std::cerr << "dashboard at " << url << "/, metrics at " << url << "/metrics" << std::endl;
    };
    options.on_control = [](const std::string& token) {
      std::cerr << "control token: " << token << " (the dashboard asks for it)" << std::endl;
    };
#else
    return bad_input("--http: this build has no metrics exporter (SWARMSYNC_WITH_METRICS=OFF)");
#endif
  }
  if (kill_worker && options.workers < 2)
    return bad_input("--kill-worker " + std::to_string(kill_worker) +
                     " would leave no worker to run the jobs: give --workers 2 or more");
  if (kill_worker) options.kill_worker = kill_worker;
  options.retry_backoff = std::chrono::milliseconds(retry_backoff_ms);
  if (duration) options.duration = *duration;
  // The progress line only for a person watching: standard output and standard error both on a
  // terminal, and no JSON asked for.
  const bool progress = !json && isatty(STDOUT_FILENO) && isatty(STDERR_FILENO);
  if (progress) options.on_progress = draw_progress;
  log.shares_progress_line = progress;
  auto logger = core::cli::make_logger(log);
  if (!logger) return bad_input(logger.error().message);
  options.logger = *logger;

  const auto summary = core::run_core(std::move(jobs), options);
  if (progress) std::fputc('\n', stderr);
  if (summary.stop_reason.empty() && !summary.error.empty()) {
    // The run never started (no NATS server, the wiring check failed): no summary to give.
    std::cerr << "error: " << summary.error << "\n";
    return 1;
  }
  std::cout << (json ? core::to_json(summary) + "\n" : core::to_text(summary));
  // A run stopped early (a signal, the duration) succeeds too: the jobs not done are accounted for
  // in `left`.
  if (!summary.error.empty() || summary.unaccounted != 0) return 1;
  if (summary.no_live_worker) return 4;
  return summary.failed == 0 ? 0 : 3;
}
