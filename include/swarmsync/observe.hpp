#pragma once
// The metrics component (`swarmsync::observe`, compiled; prometheus-cpp): a system's metrics in
// the Prometheus text format and an HTTP exporter on the program's own io_context.
//
//     #include <swarmsync/observe.hpp>
//     auto metrics = std::make_shared<swarmsync::observe::Metrics>();

#include "swarmsync/observe/http_exporter.hpp"
#include "swarmsync/observe/metrics.hpp"
#include "swarmsync/observe/snapshot_metrics.hpp"
