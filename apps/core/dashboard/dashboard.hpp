#pragma once
// The Core's live dashboard, served beside /metrics by `swarmsync-core run --http`:
//
//     auto routes = core::dashboard_routes(sources, supervisor.check_wiring().dot());
//     auto exporter = swarmsync::observe::HttpExporter::start(executor, at, metrics, std::move(routes));
//     // open http://127.0.0.1:9464/ in a browser
//
//   /             the page (dashboard/page.html, built into the program: no CDN, nothing fetched
//                 from elsewhere)
//   /wiring.svg   the graph of services and channels, from the boot report's DOT through
//                 graphviz's `dot` (404 where it is not installed; the page says so)
//   /api/state    the state below, as one JSON object
//   /events       the same state as server-sent events, twice a second
//   /api/restart  POST ?service=NAME, with `--control` only: restarts a service (the page shows a
//                 button per service and asks for the token the run printed)
//   /api/swap     POST ?service=NAME, with `--control` only: hot-swaps a new instance of the
//                 service's code in (the page shows a button beside restart)
//
// The state: {"services":[{"name","state","restarts","failures","swaps","last_error",
// "last_swap_ms","events_behind","events_missed"}],
// "channels":[{"name","depth","high_water","sent","received","refused"}], "jobs":{"submitted","done","failed",
// "unfinished","running","retries","workers_reachable","runs"} (runs: every run finished, a cron
// job's firings each), "workers":[{"id","capacity","load","heard_ms_ago","reachable"}] (the
// Dispatcher's table, as of its last silence check), "latency":[{"hop","p50","p99","count"}],
// "log":["..."], "stopping":false, "control":false}. Latencies are in seconds, each the upper bound of the
// histogram bucket (core_metrics.hpp) that holds the percentile: an estimate that costs the same
// with a million jobs as with ten. The page computes rates from successive events.
//
// Thread safety: every route may be served on any thread (the sources' own guarantees).

#include <functional>
#include <memory>
#include <optional>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <string>
#include <swarmsync/observe/http_exporter.hpp>
#include <swarmsync/runtime/snapshot.hpp>

#include "core_metrics.hpp"

namespace core {

/// What the dashboard reads.
struct DashboardSources {
  std::function<swarmsync::Snapshot()> snapshot;
  CoreMetricsSources core;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> log;  ///< the last log lines; null: none
  std::function<bool()> stopping;                          ///< true once the run shuts down; null: never
  /// Set: the control is on, and restarts `service`; an answer says whether it was started.
  std::function<swarmsync::observe::HttpAnswer(const std::string& service)> restart;
  /// Set: the control is on, and swaps a new instance of `service` in; an answer as `restart`'s.
  std::function<swarmsync::observe::HttpAnswer(const std::string& service)> swap;
};

/// The state the page shows, as one JSON object (see above).
std::string dashboard_state_json(const DashboardSources& sources);

/// The percentile `p` (0-1) of `h`, as the upper bound of the bucket that holds it; 0 when empty,
/// the last bound when it lies beyond it.
double histogram_percentile(const TaskArchiveStore::Histogram& h, double p);

/// `dot -Tsvg` of `dot_text`, or nothing if graphviz's `dot` could not make it.
std::optional<std::string> render_svg(const std::string& dot_text);

/// The routes above. `wiring_dot` is rendered once, here. With `sources.restart` (`sources.swap`)
/// and a `token`, also `POST /api/restart?service=NAME` (`/api/swap`), with
/// swarmsync/observe/http_exporter.hpp's rules for actions: 401 without the token, 403 from
/// another origin; 400 without a service named.
swarmsync::observe::HttpRoutes dashboard_routes(DashboardSources sources, const std::string& wiring_dot,
                                                std::string token = {});

/// The page's HTML (dashboard/page.html).
extern const char* const kDashboardPage;

}  // namespace core
