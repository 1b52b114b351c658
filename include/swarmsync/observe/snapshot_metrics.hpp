#pragma once
// A running system in the Prometheus text format: the services and channels of a supervisor's
// snapshot, read when scraped.
//
//     auto metrics = std::make_shared<swarmsync::observe::Metrics>();   // metrics.hpp
//     metrics->add(std::make_shared<swarmsync::observe::SnapshotCollector>(
//         [&supervisor] { return supervisor.snapshot(); }));
//     std::string text = metrics->exposition();                        // what /metrics serves
//
// The families (prefix `swarmsync_`, counters ending in `_total`, as Prometheus names them):
//
//   swarmsync_channel_depth{channel}                 gauge    values queued now
//   swarmsync_channel_sent_total{channel}            counter  values sent into it
//   swarmsync_channel_received_total{channel}        counter  values taken out of it
//   swarmsync_channel_depth_high_water{channel}      gauge    the most values queued at once, to within about a block (32)
//   swarmsync_channel_refused_total{channel}         counter  sends refused, their values handed back
//   swarmsync_channel_senders{channel}               gauge    sender handles alive (the wiring's own included)
//   swarmsync_channel_receivers{channel}             gauge    1 while its receiver takes values, else 0
//   swarmsync_service_up{service}                    gauge    1 while running, else 0
//   swarmsync_service_state{service,state}           gauge    1 for the state it is in, one series a state
//   swarmsync_service_restarts_total{service}        counter  restarts after a failure or a return
//   swarmsync_service_failures_total{service}        counter  instances that failed
//   swarmsync_service_swaps_total{service}           counter  hot swaps
//   swarmsync_service_lost_in_hand_total{service}    counter  messages an instance held when it failed
//   swarmsync_service_last_error_info{service,error} gauge    1, the last failure's message (services that failed)
//   swarmsync_service_last_swap_seconds{service}     gauge    how long its last hot swap or restart on demand took
//   swarmsync_service_core_events_behind{service}    gauge    core events its running instance has not received yet
//   swarmsync_service_core_events_missed_total{service} counter core events it missed by lagging
//   swarmsync_core_events_sent_total                 counter  core events broadcast
//   swarmsync_core_events_lagged_total               counter  core events missed by lagging subscribers
//
// Cost: nothing on the channels' paths. The collector calls its source (the supervisor's
// snapshot: a lock taken to copy the services, each channel's own counters read) once a scrape.
// Thread safety: `Collect` may run on any thread, as the source allows (`Supervisor::snapshot`
// does from any thread).

#include <functional>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <vector>

#include "swarmsync/observe/metrics.hpp"
#include "swarmsync/runtime/snapshot.hpp"

namespace swarmsync::observe {

/// The metric families of `snap` (see above), in that order.
std::vector<prometheus::MetricFamily> metric_families(const Snapshot& snap);

/// A Prometheus collectable that reads a snapshot at each scrape.
class SnapshotCollector : public prometheus::Collectable {
 public:
  explicit SnapshotCollector(std::function<Snapshot()> source) : source_(std::move(source)) {}
  std::vector<prometheus::MetricFamily> Collect() const override { return metric_families(source_()); }

 private:
  std::function<Snapshot()> source_;
};

}  // namespace swarmsync::observe
