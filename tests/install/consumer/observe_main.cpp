// Built against an installed swarmsync with its metrics exporter: a snapshot in the Prometheus
// text format.
#include <swarmsync/observe/snapshot_metrics.hpp>

int main() {
  swarmsync::observe::Metrics metrics;
  swarmsync::Snapshot snap;
  snap.channels.push_back({"Jobs", 2, 5, 3, "", ""});
  metrics.add(std::make_shared<swarmsync::observe::SnapshotCollector>([snap] { return snap; }));
  const auto text = metrics.exposition();
  return text.find("swarmsync_channel_depth{channel=\"Jobs\"} 2") != std::string::npos ? 0 : 1;
}
