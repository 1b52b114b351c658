// swarmsync-core: the SwarmSync Core on a generated or loaded workload.
//
//   swarmsync-core run [--count N | --jobs FILE|-] [--workers W] [--duration 90s] [--json] [faults]
//   swarmsync-core wiring [--dot | --json]
//   swarmsync-core --version
//
// Exit status: 0 when no job failed (jobs left by a requested stop, a signal or --duration, are
// counted in the summary, not failures); 1 when the Core failed, a job is unaccounted for, or
// the wiring check failed; 2 for bad input (a flag, a job file); 3 when the run ended and some
// jobs failed after their retries (the summary names them).

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>

#include "cli/log_sink.hpp"
#include "cli/values.hpp"
#include "core_app.hpp"
#include "model/job_file.hpp"
#include "model/workload.hpp"

namespace {

void draw_progress(const core::Progress& p) {
  std::lock_guard terminal(core::cli::terminal_mutex());
  const std::size_t finished = p.done + p.failed;
  const double fraction = p.total ? static_cast<double>(finished) / static_cast<double>(p.total) : 0.0;
  const int width = 40;
  const int filled = static_cast<int>(fraction * width);
  std::fprintf(stderr, "\r[%.*s%*s] %3.0f%%  %zu/%zu done, %zu failed", filled,
               "########################################", width - filled, "", fraction * 100, finished, p.total,
               p.failed);
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
      "failed after their retries.");

  auto* run = app.add_subcommand("run", "run a workload and print a summary");
  std::string count_text = "2000";
  std::string jobs_file;
  core::CoreOptions options;
  std::string duration_text;
  std::string seed_text = std::to_string(options.seed);
  bool json = false;
  double delayed_share = 0.10, failing_share = 0.05, cron_share = 0.0, bounded_cron_share = 0.0;
  unsigned retry_backoff_ms = 10;
  unsigned kill_worker = 0;
  auto* count_opt = run->add_option("--count", count_text, "jobs to generate, 1 to 10000000");
  run->add_option("--jobs", jobs_file, "read the jobs from a JSON-lines file instead ('-': standard input)")
      ->excludes(count_opt);
  run->add_option("--workers", options.workers, "simulated workers")->check(CLI::Range(1, 256));
  run->add_option("--worker-capacity", options.worker_capacity, "jobs a worker runs at once")
      ->check(CLI::Range(1, 1024));
  run->add_option("--failure-rate", options.worker_failure_rate, "chance that an attempt fails on a worker")
      ->check(CLI::Range(0.0, 1.0));
  run->add_option("--max-retries", options.max_retries, "retries of a failed job")->check(CLI::Range(0, 100));
  run->add_option("--retry-backoff", retry_backoff_ms,
                  "milliseconds before the first retry of a job, doubled for each further one (at most 1 s)")
      ->check(CLI::Range(0, 1000));
  run->add_option("--threads", options.threads, "threads running the Core")->check(CLI::Range(1, 64));
  run->add_option("--duration", duration_text,
                  "stop after this long: seconds (90, 1.5) or with a unit (500ms, 90s, 5m, 2h, 1d); needed with "
                  "recurring jobs");
  run->add_option("--delayed-share", delayed_share, "share of generated jobs that are delayed")
      ->check(CLI::Range(0.0, 1.0));
  run->add_option("--cron-share", cron_share, "share of generated jobs that recur every minute")
      ->check(CLI::Range(0.0, 1.0));
  run->add_option("--bounded-cron-share", bounded_cron_share,
                  "share of generated jobs that fire every minute 1 to 3 times, then are done")
      ->check(CLI::Range(0.0, 1.0));
  run->add_option("--cron-speed", options.cron_speed,
                  "cron time runs this many times faster than real time (60: a cron minute lasts a second)")
      ->check(CLI::Range(1.0, 1e6));
  run->add_option("--failing-share", failing_share, "share of generated jobs whose first attempt fails")
      ->check(CLI::Range(0.0, 1.0));
  run->add_option("--seed", seed_text, "seed of the generated workload and workers, 0 to 18446744073709551615");
  run->add_flag("--json", json, "print the summary as JSON");
  run->add_option("--kill-worker", kill_worker, "kill this worker (1..W) a third of the way through")
      ->check(CLI::Range(1, 256));
  run->add_option("--crash-scheduler", options.crash_scheduler, "crash the Scheduler this many times")
      ->check(CLI::Range(0, 1000));
  run->add_flag("--swap-dispatcher", options.swap_dispatcher, "hot-swap the Dispatcher halfway through");
  std::string log_level = "warn", log_format = "text", log_file;
  run->add_option("--log-level", log_level, "the least severe log lines written: trace, debug, info, warn, error, off");
  run->add_option("--log-format", log_format, "text, or json: one object a line");
  run->add_option("--log-file", log_file, "append the log to this file instead of standard error");

  auto* wiring = app.add_subcommand("wiring", "print the boot diagnostics of the Core's wiring");
  bool dot = false, wiring_json = false;
  wiring->add_flag("--dot", dot, "as a Graphviz DOT graph");
  wiring->add_flag("--json", wiring_json, "as JSON");

  // A first word that is no flag must name a subcommand (CLI11 would only say one is required).
  if (argc > 1 && argv[1][0] != '-' && std::string_view(argv[1]) != "run" && std::string_view(argv[1]) != "wiring") {
    std::cerr << "error: unknown subcommand '" << argv[1] << "'; expected run or wiring (see --help)\n";
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
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
  const auto count = core::cli::parse_whole("--count", count_text, 1, 10'000'000);
  if (!count) return bad_input(count.error().message);
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
    return bad_input("--delayed-share, --cron-share and --bounded-cron-share add up to " + std::to_string(shares) +
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
    w.jobs = static_cast<std::size_t>(*count);
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
  if (kill_worker && options.workers < 2)
    return bad_input("--kill-worker " + std::to_string(kill_worker) +
                     " would leave no worker to run the jobs: give --workers 2 or more");
  if (kill_worker) options.kill_worker = kill_worker;
  options.retry_backoff = std::chrono::milliseconds(retry_backoff_ms);
  if (duration) options.duration = *duration;
  const bool progress = !json && isatty(STDERR_FILENO);
  if (progress) options.on_progress = draw_progress;
  log.shares_progress_line = progress;
  auto logger = core::cli::make_logger(log);
  if (!logger) return bad_input(logger.error().message);
  options.logger = *logger;

  const auto summary = core::run_core(std::move(jobs), options);
  if (progress) std::fputc('\n', stderr);
  std::cout << (json ? core::to_json(summary) + "\n" : core::to_text(summary));
  // A run stopped early (a signal, the duration) succeeds too: the jobs not done are accounted for
  // in `left`.
  if (!summary.error.empty() || summary.unaccounted != 0) return 1;
  return summary.failed == 0 ? 0 : 3;
}
