#pragma once
// The metrics of a running program over HTTP, served from the program's own io_context (Boost
// Beast): no thread or web server of its own.
//
//     auto metrics = std::make_shared<swarmsync::observe::Metrics>();   // metrics.hpp
//     metrics->add(std::make_shared<swarmsync::observe::SnapshotCollector>(
//         [&supervisor] { return supervisor.snapshot(); }));            // snapshot_metrics.hpp
//     auto at = swarmsync::observe::parse_listen_address("127.0.0.1:9464").value();
//     auto exporter = swarmsync::observe::HttpExporter::start(ioc.get_executor(), at, metrics).value();
//     // curl http://127.0.0.1:9464/metrics
//     exporter->stop();   // or let it go: it stops when destroyed
//
// Routes: `GET /metrics` (and HEAD) answers 200 with the metrics' exposition in the Prometheus
// text format; the `HttpRoutes` given add pages (GET, HEAD) and streams of server-sent events
// (GET: `text/event-stream`, one event every period until the client or the server goes); `GET /`,
// unless a page takes it, a line naming the routes; actions (POST, see `HttpRoutes`); any
// other path 404; another method 405 with `Allow`. The query string (`?...`) is not part of the path. A request head or body
// over 8 KiB is refused with 413, a request that does not parse with 400; a connection idle for
// 30 s is closed. Each connection serves its requests in turn (keep-alive), many connections at
// once; a page is built on the executor's thread that serves its request.
//
// Where it listens: loopback unless told otherwise; `parse_listen_address` takes `PORT`
// (127.0.0.1), `IPv4:PORT` or `[IPv6]:PORT`, IP literals only (no name lookup): binding to
// another interface is the caller's explicit choice.
//
// Thread safety: `start`, `local_endpoint` and `stop` from any thread; the metrics are collected
// on the executor's threads, one scrape per connection at a time.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "swarmsync/channels/result.hpp"
#include "swarmsync/observe/metrics.hpp"

namespace swarmsync::observe {

/// A document served at a path (GET and HEAD); `body` is called for each request.
struct HttpPage {
  std::string content_type = {};
  std::function<std::string()> body = {};
};

/// Server-sent events at a path: `next()` gives each event's data (one line, no newline) every
/// `period`, the first at once.
struct HttpEventStream {
  std::chrono::milliseconds period{500};
  std::function<std::string()> next = {};
};

/// What an action answers: a status and a line of text.
struct HttpAnswer {
  unsigned status = 200;
  std::string body = {};
};

/// An action at a path (POST only), given the request's query string (after `?`, undecoded).
/// Called on the thread that serves the request: it must not block.
struct HttpAction {
  std::function<HttpAnswer(std::string_view query)> run = {};
};

/// What an exporter serves besides `/metrics`, by path. Actions are refused with 401 unless the
/// request carries `Authorization: Bearer <token>` (when `token` is set, as it should be), and
/// with 403 when it comes from another origin (an `Origin` header that is not this server's, or
/// `Sec-Fetch-Site: cross-site`): a page elsewhere cannot make a browser act here.
struct HttpRoutes {
  std::map<std::string, HttpPage, std::less<>> pages = {};
  std::map<std::string, HttpEventStream, std::less<>> streams = {};
  std::map<std::string, HttpAction, std::less<>> actions = {};
  std::string token = {};
};

/// An address to listen at, or why `text` is not one (a sentence naming what was given).
Result<boost::asio::ip::tcp::endpoint, std::string> parse_listen_address(std::string_view text);

/// Serves metrics over HTTP (see above).
class HttpExporter {
 public:
  /// Binds and listens at `at` at once, then accepts on `executor` until stopped. Errors: the
  /// address could not be bound (in use, not an address of this machine, not allowed), as a
  /// sentence naming it.
  static Result<std::shared_ptr<HttpExporter>, std::string> start(boost::asio::any_io_executor executor,
                                                                  const boost::asio::ip::tcp::endpoint& at,
                                                                  std::shared_ptr<const Metrics> metrics,
                                                                  HttpRoutes routes = {});
  ~HttpExporter();
  HttpExporter(const HttpExporter&) = delete;
  HttpExporter& operator=(const HttpExporter&) = delete;

  /// The address it listens at (the port chosen by the system when asked for 0).
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  /// Stops accepting and closes the open connections (idempotent). Returns at once; what is
  /// being written finishes or fails on the executor.
  void stop();

  struct State;  // the acceptor and the connections; see http_exporter.cpp

 private:
  explicit HttpExporter(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace swarmsync::observe
