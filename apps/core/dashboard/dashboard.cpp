#include "dashboard/dashboard.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <cmath>
#include <random>

namespace core {

double histogram_percentile(const TaskArchiveStore::Histogram& h, double p) {
  if (h.count == 0) return 0;
  const auto rank = static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(h.count)));
  for (std::size_t i = 0; i < h.bounds.size(); ++i)
    if (h.at_most[i] >= std::max<std::uint64_t>(rank, 1)) return h.bounds[i];
  return h.bounds.back();
}

std::string dashboard_state_json(const DashboardSources& sources) {
  using nlohmann::json;
  const auto snap = sources.snapshot();
  json services = json::array(), channels = json::array();
  for (const auto& s : snap.services)
    services.push_back({{"name", s.name},
                        {"state", to_string(s.state)},
                        {"restarts", s.restarts},
                        {"failures", s.failures},
                        {"swaps", s.swaps},
                        {"last_error", s.last_error},
                        {"last_swap_ms", std::chrono::duration<double, std::milli>(s.last_swap).count()},
                        {"events_behind", s.events_behind},
                        {"events_missed", s.events_missed}});
  for (const auto& c : snap.channels)
    channels.push_back({{"name", c.name},
                        {"depth", c.depth},
                        {"high_water", c.high_water},
                        {"sent", c.sent},
                        {"received", c.received},
                        {"refused", c.refused}});
  const auto& core = sources.core;
  const auto counts = core.archive->counts();
  const auto finished = counts.jobs_done + counts.jobs_failed;
  json jobs{{"submitted", core.submitted},
            {"done", counts.jobs_done},
            {"failed", counts.jobs_failed},
            {"unfinished", core.finite > finished ? core.finite - finished : 0},
            {"running", core.harvester->expected()},
            {"retries", core.harvester->retried()},
            {"workers_reachable", core.dispatcher->reachable_now.load(std::memory_order_relaxed)},
            {"runs", counts.finite_runs + counts.recurring_runs_done + counts.recurring_runs_failed}};
  json workers = json::array();
  const auto now = std::chrono::steady_clock::now();
  for (const auto& w : core.dispatcher->worker_table())
    workers.push_back({{"id", w.id},
                       {"capacity", w.capacity},
                       {"load", w.load},
                       {"heard_ms_ago", std::chrono::duration<double, std::milli>(now - w.last_seen).count()},
                       {"reachable", w.reachable}});
  const auto h = core.archive->histograms();
  json latency = json::array();
  for (const auto& [hop, hist] : {std::pair{"submitted -> ready", &h.to_ready},
                                  std::pair{"ready -> started", &h.ready_to_started},
                                  std::pair{"started -> finished", &h.run}})
    latency.push_back({{"hop", hop},
                       {"p50", histogram_percentile(*hist, 0.50)},
                       {"p99", histogram_percentile(*hist, 0.99)},
                       {"count", hist->count}});
  json log = json::array();
  if (sources.log)
    for (auto& line : sources.log->last_formatted(50)) {
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      log.push_back(std::move(line));
    }
  json state{{"services", std::move(services)}, {"channels", std::move(channels)}, {"jobs", std::move(jobs)},
             {"workers", std::move(workers)},
             {"latency", std::move(latency)},   {"log", std::move(log)},
             {"stopping", sources.stopping ? sources.stopping() : false},
             {"control", static_cast<bool>(sources.restart) || static_cast<bool>(sources.swap)}};
  return state.dump(-1, ' ', false, json::error_handler_t::replace);  // a log line need not be UTF-8
}

std::optional<std::string> render_svg(const std::string& dot_text) {
  // The DOT through a file of our own: popen gives one direction only.
  std::random_device entropy;
  const auto path = std::filesystem::temp_directory_path() /
                    ("swarmsync-wiring-" + std::to_string(::getpid()) + "-" + std::to_string(entropy()) + ".dot");
  {
    std::ofstream out(path);
    out << dot_text;
    if (!out) return std::nullopt;
  }
  std::string svg;
  const std::string command = "dot -Tsvg '" + path.string() + "' 2>/dev/null";
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) svg.append(buf, n);
    if (::pclose(p) != 0) svg.clear();
  }
  std::error_code ignored;
  std::filesystem::remove(path, ignored);
  // From the <svg> element on: the XML prolog and doctype do not belong inside a page.
  const auto at = svg.find("<svg");
  if (at == std::string::npos) return std::nullopt;
  return svg.substr(at);
}

swarmsync::observe::HttpRoutes dashboard_routes(DashboardSources sources, const std::string& wiring_dot,
                                                std::string token) {
  swarmsync::observe::HttpRoutes routes;
  // POST /api/<verb>?service=NAME, the only parameter; names are letters, digits, '-' and '_'
  // (no decoding needed).
  auto action = [](std::string verb, std::function<swarmsync::observe::HttpAnswer(const std::string&)> act) {
    return swarmsync::observe::HttpAction{[verb = std::move(verb), act = std::move(act)](std::string_view query) {
      constexpr std::string_view key = "service=";
      if (query.substr(0, key.size()) != key || query.size() == key.size())
        return swarmsync::observe::HttpAnswer{400, "name the service: /api/" + verb + "?service=NAME"};
      return act(std::string(query.substr(key.size())));
    }};
  };
  if (sources.restart || sources.swap) routes.token = std::move(token);
  if (sources.restart) routes.actions["/api/restart"] = action("restart", sources.restart);
  if (sources.swap) routes.actions["/api/swap"] = action("swap", sources.swap);
  auto shared = std::make_shared<DashboardSources>(std::move(sources));
  routes.pages["/"] = {"text/html; charset=utf-8", [] { return std::string(kDashboardPage); }};
  if (auto svg = render_svg(wiring_dot))
    routes.pages["/wiring.svg"] = {"image/svg+xml", [svg = std::move(*svg)] { return svg; }};
  routes.pages["/api/state"] = {"application/json", [shared] { return dashboard_state_json(*shared); }};
  routes.streams["/events"] = {std::chrono::milliseconds(500), [shared] { return dashboard_state_json(*shared); }};
  return routes;
}

}  // namespace core
