#include "swarmsync/observe/snapshot_metrics.hpp"

#include <prometheus/text_serializer.h>

#include <array>
#include <chrono>

namespace swarmsync::observe {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, std::string help, MetricType type) {
  return MetricFamily{std::move(name), std::move(help), type, {}};
}

void add(MetricFamily& f, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f.type == MetricType::Counter) m.counter.value = value;
  else m.gauge.value = value;
  f.metric.push_back(std::move(m));
}

constexpr std::array<ServiceState, 6> kStates = {ServiceState::declared, ServiceState::running,
                                                 ServiceState::restarting, ServiceState::stopping,
                                                 ServiceState::stopped, ServiceState::failed};

}  // namespace

std::vector<MetricFamily> metric_families(const Snapshot& snap) {
  auto depth = family("swarmsync_channel_depth", "Values queued in the channel now.", MetricType::Gauge);
  auto sent = family("swarmsync_channel_sent_total", "Values sent into the channel.", MetricType::Counter);
  auto received = family("swarmsync_channel_received_total", "Values taken out of the channel.", MetricType::Counter);
  auto high_water = family("swarmsync_channel_depth_high_water",
                           "The most values queued in the channel at once so far (to within about 32).", MetricType::Gauge);
  auto refused = family("swarmsync_channel_refused_total", "Sends refused by the channel, their values handed back.",
                        MetricType::Counter);
  auto senders = family("swarmsync_channel_senders", "Sender handles of the channel alive now.", MetricType::Gauge);
  auto receivers = family("swarmsync_channel_receivers", "1 while the channel's receiver takes values, else 0.",
                          MetricType::Gauge);
  for (const auto& c : snap.channels) {
    const std::vector<ClientMetric::Label> labels{{"channel", c.name}};
    add(depth, labels, static_cast<double>(c.depth));
    add(sent, labels, static_cast<double>(c.sent));
    add(received, labels, static_cast<double>(c.received));
    add(high_water, labels, static_cast<double>(c.high_water));
    add(refused, labels, static_cast<double>(c.refused));
    add(senders, labels, static_cast<double>(c.senders));
    add(receivers, labels, static_cast<double>(c.receivers));
  }
  auto up = family("swarmsync_service_up", "1 while the service runs, else 0.", MetricType::Gauge);
  auto state = family("swarmsync_service_state", "1 for the state the service is in.", MetricType::Gauge);
  auto restarts = family("swarmsync_service_restarts_total", "Restarts of the service after a failure or a return.",
                         MetricType::Counter);
  auto failures = family("swarmsync_service_failures_total", "Instances of the service that failed.",
                         MetricType::Counter);
  auto swaps = family("swarmsync_service_swaps_total", "Hot swaps of the service.", MetricType::Counter);
  auto lost = family("swarmsync_service_lost_in_hand_total",
                     "Messages an instance of the service had taken and not handled when it failed.",
                     MetricType::Counter);
  auto last_error = family("swarmsync_service_last_error_info", "The last failure of the service, as a label.",
                           MetricType::Gauge);
  auto last_swap = family("swarmsync_service_last_swap_seconds",
                          "How long the service's last hot swap or restart on demand took.", MetricType::Gauge);
  auto behind = family("swarmsync_service_core_events_behind",
                       "Core events broadcast that the service's running instance has not received yet (0 if it reads none).",
                       MetricType::Gauge);
  auto missed = family("swarmsync_service_core_events_missed_total",
                       "Core events the service missed by lagging behind the broadcast.", MetricType::Counter);
  for (const auto& s : snap.services) {
    add(up, {{"service", s.name}}, s.state == ServiceState::running ? 1 : 0);
    for (auto st : kStates) add(state, {{"service", s.name}, {"state", to_string(st)}}, s.state == st ? 1 : 0);
    add(restarts, {{"service", s.name}}, static_cast<double>(s.restarts));
    add(failures, {{"service", s.name}}, static_cast<double>(s.failures));
    add(swaps, {{"service", s.name}}, static_cast<double>(s.swaps));
    add(lost, {{"service", s.name}}, static_cast<double>(s.lost_in_hand));
    if (!s.last_error.empty()) add(last_error, {{"service", s.name}, {"error", s.last_error}}, 1);
    add(last_swap, {{"service", s.name}}, std::chrono::duration<double>(s.last_swap).count());
    add(behind, {{"service", s.name}}, static_cast<double>(s.events_behind));
    add(missed, {{"service", s.name}}, static_cast<double>(s.events_missed));
  }
  auto events_sent = family("swarmsync_core_events_sent_total", "Core events broadcast.", MetricType::Counter);
  add(events_sent, {}, static_cast<double>(snap.events_sent));
  auto events_lagged = family("swarmsync_core_events_lagged_total", "Core events missed by lagging subscribers.",
                              MetricType::Counter);
  add(events_lagged, {}, static_cast<double>(snap.events_lagged));
  std::vector<MetricFamily> out;
  for (auto* f : {&depth, &sent, &received, &high_water, &refused, &senders, &receivers, &up, &state, &restarts,
                  &failures, &swaps, &lost, &last_error, &last_swap, &behind, &missed, &events_sent, &events_lagged})
    out.push_back(std::move(*f));
  return out;
}

void Metrics::add(std::shared_ptr<prometheus::Collectable> source) {
  std::lock_guard lock(mutex_);
  sources_.push_back(std::move(source));
}

std::vector<MetricFamily> Metrics::collect() const {
  std::vector<std::shared_ptr<prometheus::Collectable>> sources;
  {
    std::lock_guard lock(mutex_);
    sources = sources_;
  }
  std::vector<MetricFamily> out;
  for (const auto& source : sources)
    for (auto& f : source->Collect()) out.push_back(std::move(f));
  return out;
}

std::string Metrics::exposition() const { return prometheus::TextSerializer().Serialize(collect()); }

}  // namespace swarmsync::observe
