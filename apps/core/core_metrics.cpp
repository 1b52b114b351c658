#include "core_metrics.hpp"

#include <chrono>

namespace core {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily one(std::string name, std::string help, MetricType type, double value,
                 std::vector<ClientMetric::Label> labels = {}) {
  MetricFamily f{std::move(name), std::move(help), type, {}};
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter) m.counter.value = value;
  else m.gauge.value = value;
  f.metric.push_back(std::move(m));
  return f;
}

ClientMetric histogram(const TaskArchiveStore::Histogram& h, const char* hop) {
  ClientMetric m;
  m.label = {{"hop", hop}};
  m.histogram.sample_count = h.count;
  m.histogram.sample_sum = h.sum_seconds;
  for (std::size_t i = 0; i < h.bounds.size(); ++i) m.histogram.bucket.push_back({h.at_most[i], h.bounds[i]});
  m.histogram.bucket.push_back({h.count, std::numeric_limits<double>::infinity()});
  return m;
}

}  // namespace

std::vector<MetricFamily> CoreCollector::Collect() const {
  const auto& s = sources_;
  std::vector<MetricFamily> out;
  if (s.whole_run) {
    out.push_back(one("swarmsync_core_jobs_submitted_total", "Jobs handed to the Core.", MetricType::Counter,
                      static_cast<double>(s.submitted)));
  }
  if (s.archive) {
    const auto counts = s.archive->counts();
    auto outcome = one("swarmsync_core_jobs_finished_total", "Jobs done, or failed after their retries.",
                       MetricType::Counter, static_cast<double>(counts.jobs_done), {{"outcome", "done"}});
    outcome.metric.push_back(one("", "", MetricType::Counter, static_cast<double>(counts.jobs_failed),
                                 {{"outcome", "failed"}}).metric.front());
    out.push_back(std::move(outcome));
    if (s.whole_run) {
      const auto finished = counts.jobs_done + counts.jobs_failed;
      out.push_back(one("swarmsync_core_jobs_unfinished", "Finite jobs neither done nor failed yet.", MetricType::Gauge,
                        static_cast<double>(s.finite > finished ? s.finite - finished : 0)));
    }
  }
  if (s.harvester) {
    out.push_back(one("swarmsync_core_jobs_running", "Job runs placed on a worker whose result is awaited.",
                      MetricType::Gauge, static_cast<double>(s.harvester->expected())));
    out.push_back(one("swarmsync_core_retries_total", "Failed attempts sent back for a retry.", MetricType::Counter,
                      static_cast<double>(s.harvester->retried())));
    out.push_back(one("swarmsync_core_late_results_total", "Results nothing expected (a placement taken back).",
                      MetricType::Counter, static_cast<double>(s.harvester->unexpected())));
  }
  if (s.dispatcher) {
    out.push_back(one("swarmsync_core_workers_reachable", "Workers heard from within the silence rule.",
                      MetricType::Gauge,
                      static_cast<double>(s.dispatcher->reachable_now.load(std::memory_order_relaxed))));
    out.push_back(one("swarmsync_core_workers_lost_total", "Workers found silent.", MetricType::Counter,
                      static_cast<double>(s.dispatcher->lost_now.load(std::memory_order_relaxed))));
    // The worker table, one series a worker; the last heartbeat as a Unix time, as Prometheus
    // writes times (the steady clock's age of it, taken from now).
    MetricFamily capacity{"swarmsync_core_worker_capacity", "Job slots the worker registered.", MetricType::Gauge, {}};
    MetricFamily load{"swarmsync_core_worker_load", "Jobs placed on the worker and not finished.", MetricType::Gauge,
                      {}};
    MetricFamily heard{"swarmsync_core_worker_last_heartbeat_timestamp_seconds",
                       "When the worker was last heard from, in seconds since the Unix epoch.", MetricType::Gauge, {}};
    MetricFamily reachable{"swarmsync_core_worker_reachable", "1 while the worker is reachable, else 0.",
                           MetricType::Gauge, {}};
    const auto steady_now = std::chrono::steady_clock::now();
    const auto wall_now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    for (const auto& w : s.dispatcher->worker_table()) {
      const std::vector<ClientMetric::Label> labels{{"worker", std::to_string(w.id)}};
      capacity.metric.push_back(one("", "", MetricType::Gauge, w.capacity, labels).metric.front());
      load.metric.push_back(one("", "", MetricType::Gauge, static_cast<double>(w.load), labels).metric.front());
      heard.metric.push_back(one("", "", MetricType::Gauge,
                                 wall_now - std::chrono::duration<double>(steady_now - w.last_seen).count(), labels)
                                 .metric.front());
      reachable.metric.push_back(one("", "", MetricType::Gauge, w.reachable ? 1 : 0, labels).metric.front());
    }
    for (auto* f : {&capacity, &load, &heard, &reachable}) out.push_back(std::move(*f));
  }
  if (s.archive) {
    const auto h = s.archive->histograms();
    MetricFamily latency{"swarmsync_core_latency_seconds", "Latency of each hop of a job without cron.",
                         MetricType::Histogram, {}};
    latency.metric.push_back(histogram(h.to_ready, "submitted_to_ready"));
    latency.metric.push_back(histogram(h.ready_to_started, "ready_to_started"));
    latency.metric.push_back(histogram(h.run, "started_to_finished"));
    out.push_back(std::move(latency));
  }
  return out;
}

}  // namespace core
