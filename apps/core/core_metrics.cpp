#include "core_metrics.hpp"

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
  const auto counts = s.archive->counts();
  const auto finished = counts.jobs_done + counts.jobs_failed;
  std::vector<MetricFamily> out;
  out.push_back(one("swarmsync_core_jobs_submitted_total", "Jobs handed to the Core.", MetricType::Counter,
                    static_cast<double>(s.submitted)));
  auto outcome = one("swarmsync_core_jobs_finished_total", "Jobs done, or failed after their retries.",
                     MetricType::Counter, static_cast<double>(counts.jobs_done), {{"outcome", "done"}});
  outcome.metric.push_back(one("", "", MetricType::Counter, static_cast<double>(counts.jobs_failed),
                               {{"outcome", "failed"}}).metric.front());
  out.push_back(std::move(outcome));
  out.push_back(one("swarmsync_core_jobs_unfinished", "Finite jobs neither done nor failed yet.", MetricType::Gauge,
                    static_cast<double>(s.finite > finished ? s.finite - finished : 0)));
  out.push_back(one("swarmsync_core_jobs_running", "Job runs placed on a worker whose result is awaited.",
                    MetricType::Gauge, static_cast<double>(s.harvester->expected())));
  out.push_back(one("swarmsync_core_retries_total", "Failed attempts sent back for a retry.", MetricType::Counter,
                    static_cast<double>(s.harvester->retried())));
  out.push_back(one("swarmsync_core_late_results_total", "Results nothing expected (a placement taken back).",
                    MetricType::Counter, static_cast<double>(s.harvester->unexpected())));
  out.push_back(one("swarmsync_core_workers_reachable", "Workers heard from within the silence rule.",
                    MetricType::Gauge,
                    static_cast<double>(s.dispatcher->reachable_now.load(std::memory_order_relaxed))));
  out.push_back(one("swarmsync_core_workers_lost_total", "Workers found silent.", MetricType::Counter,
                    static_cast<double>(s.dispatcher->lost_now.load(std::memory_order_relaxed))));
  const auto h = s.archive->histograms();
  MetricFamily latency{"swarmsync_core_latency_seconds", "Latency of each hop of a job without cron.",
                       MetricType::Histogram, {}};
  latency.metric.push_back(histogram(h.to_ready, "submitted_to_ready"));
  latency.metric.push_back(histogram(h.ready_to_started, "ready_to_started"));
  latency.metric.push_back(histogram(h.run, "started_to_finished"));
  out.push_back(std::move(latency));
  return out;
}

}  // namespace core
