#pragma once
// What a scrape collects, and the text it answers with.
//
//     auto metrics = std::make_shared<swarmsync::observe::Metrics>();
//     metrics->add(std::make_shared<swarmsync::observe::SnapshotCollector>(
//         [&supervisor] { return supervisor.snapshot(); }));          // snapshot_metrics.hpp
//     auto registry = std::make_shared<prometheus::Registry>();     // counters, histograms...
//     metrics->add(registry);
//     std::string text = metrics->exposition();                     // what /metrics serves
//
// Any `prometheus::Collectable` takes part: prometheus-cpp's `Registry` with the metrics made by
// its builders, or a collector that reads its values when collected. The families are written in
// the order their collectables were added, in the Prometheus text format (version 0.0.4, which
// escapes label values).
//
// Thread safety: every member from any thread; a collectable is collected on the thread that
// scrapes, so it must allow that.

#include <memory>
#include <mutex>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <string>
#include <vector>

namespace swarmsync::observe {

/// The content type of `Metrics::exposition`'s text.
inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

/// A set of collectables scraped together.
class Metrics {
 public:
  /// Adds `source`; it is collected at every scrape from now on, and kept alive by this set.
  void add(std::shared_ptr<prometheus::Collectable> source);
  /// The families of every source, in the order added.
  std::vector<prometheus::MetricFamily> collect() const;
  /// `collect()` in the text format.
  std::string exposition() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<prometheus::Collectable>> sources_;
};

}  // namespace swarmsync::observe
