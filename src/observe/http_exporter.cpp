#include "swarmsync/observe/http_exporter.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <atomic>
#include <charconv>
#include <chrono>
#include <map>
#include <mutex>
#include <sstream>
#include <tuple>

#include "swarmsync/observe/metrics.hpp"

namespace swarmsync::observe {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kLimit = 8 * 1024;             // a request's head or body
constexpr auto kIdle = std::chrono::seconds(30);     // a connection with no request coming

using Response = http::response<http::string_body>;

// The path of a request target, without its query string.
std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

Response answer(const http::request<http::string_body>& req, const Metrics& metrics, const HttpRoutes& routes) {
  Response res;
  res.version(req.version());
  res.keep_alive(req.keep_alive());
  res.set(http::field::server, "swarmsync");
  auto text = [&](http::status status, std::string body, const char* type = "text/plain; charset=utf-8") {
    res.result(status);
    res.set(http::field::content_type, type);
    res.body() = std::move(body);
  };
  if (auto action = routes.actions.find(path_of(req.target())); action != routes.actions.end()) {
    const std::string_view target = req.target();
    const auto q = target.find('?');
    const std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    const auto origin = req[http::field::origin];
    const auto host = req[http::field::host];
    if (req.method() != http::verb::post) {
      text(http::status::method_not_allowed, "only POST\n");
      res.set(http::field::allow, "POST");
    } else if ((!origin.empty() && origin != "http://" + std::string(host)) || req["Sec-Fetch-Site"] == "cross-site") {
      text(http::status::forbidden, "cross-origin requests are refused\n");
    } else if (!routes.token.empty() && req[http::field::authorization] != "Bearer " + routes.token) {
      text(http::status::unauthorized, "the control token is missing or wrong (Authorization: Bearer TOKEN)\n");
      res.set(http::field::www_authenticate, "Bearer");
    } else {
      auto answer = action->second.run(query);
      text(static_cast<http::status>(answer.status), answer.body + "\n");
    }
  } else if (req.method() != http::verb::get && req.method() != http::verb::head) {
    text(http::status::method_not_allowed, "only GET and HEAD\n");
    res.set(http::field::allow, "GET, HEAD");
  } else if (const auto path = path_of(req.target()); path == "/metrics") {
    text(http::status::ok, metrics.exposition(), kExpositionContentType);
  } else if (auto page = routes.pages.find(path); page != routes.pages.end()) {
    text(http::status::ok, page->second.body(), page->second.content_type.c_str());
    res.set(http::field::cache_control, "no-store");
  } else if (path == "/") {
    text(http::status::ok, "swarmsync: the metrics are at /metrics\n");
  } else {
    text(http::status::not_found, "not found: " + std::string(req.target()) + " (the metrics are at /metrics)\n");
  }
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();  // the length stays the GET's
  return res;
}

Response refusal(http::status status, std::string why) {
  Response res{status, 11};
  res.set(http::field::server, "swarmsync");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.keep_alive(false);
  res.body() = std::move(why) + "\n";
  res.prepare_payload();
  return res;
}

}  // namespace

struct HttpExporter::State : std::enable_shared_from_this<State> {
  State(asio::any_io_executor ex, std::shared_ptr<const Metrics> m, HttpRoutes r)
      : executor(ex), acceptor(asio::make_strand(ex)), metrics(std::move(m)), routes(std::move(r)) {}

  asio::any_io_executor executor;
  tcp::acceptor acceptor;  // used on its strand only, once listening
  tcp::endpoint bound;     // set before the first accept
  std::shared_ptr<const Metrics> metrics;
  const HttpRoutes routes;
  // Set by stop(); the event streams end at their next check. Relaxed everywhere: a flag read on
  // its own, nothing else is published through it.
  std::atomic<bool> stopping{false};
  std::mutex mutex;        // guards what follows
  bool stopped = false;
  std::uint64_t next_id = 0;
  std::map<std::uint64_t, std::weak_ptr<beast::tcp_stream>> open;  // each on its own strand

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(executor), asio::as_tuple(asio::use_awaitable));
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (ec) continue;  // a connection that failed before it was accepted
      auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
      std::uint64_t id = 0;
      {
        std::lock_guard lock(mutex);
        if (stopped) co_return;
        id = next_id++;
        open.emplace(id, stream);
      }
      asio::co_spawn(stream->get_executor(), serve(stream, id), asio::detached);
    }
  }

  // Server-sent events until the client goes or the exporter stops: the head, then one event a
  // period. The body has no length: the connection closes at its end.
  asio::awaitable<void> stream_events(beast::tcp_stream& stream, const HttpEventStream& events) {
    static constexpr std::string_view head =
        "HTTP/1.1 200 OK\r\nServer: swarmsync\r\nContent-Type: text/event-stream\r\n"
        "Cache-Control: no-store\r\nConnection: close\r\n\r\n";
    stream.expires_never();
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(head), asio::as_tuple(asio::use_awaitable));
    (void)n;
    asio::steady_timer timer(stream.get_executor());
    while (!ec && !stopping.load(std::memory_order_relaxed)) {
      std::string event = "data: " + events.next() + "\n\n";
      std::tie(ec, n) = co_await asio::async_write(stream, asio::buffer(event), asio::as_tuple(asio::use_awaitable));
      // Waits a period, or less when stopping: the exporter's stop is seen within 250 ms.
      for (auto left = events.period; !ec && left.count() > 0 && !stopping.load(std::memory_order_relaxed);) {
        const auto step = std::min<std::chrono::milliseconds>(left, std::chrono::milliseconds(250));
        timer.expires_after(step);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        left -= step;
      }
    }
  }

  asio::awaitable<void> serve(std::shared_ptr<beast::tcp_stream> stream, std::uint64_t id) {
    auto self = shared_from_this();
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(kLimit);
      parser.body_limit(kLimit);
      stream->expires_after(kIdle);
      auto [ec, n] = co_await http::async_read(*stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      (void)n;
      if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
          ec == asio::error::connection_reset || ec == asio::error::eof)
        break;
      if (ec) {
        const bool too_large = ec == http::error::header_limit || ec == http::error::body_limit;
        auto res = too_large ? refusal(http::status::payload_too_large, "a request of at most 8 KiB")
                             : refusal(http::status::bad_request, "not an HTTP request: " + ec.message());
        stream->expires_after(kIdle);
        co_await http::async_write(*stream, res, asio::as_tuple(asio::use_awaitable));
        break;
      }
      const auto& req = parser.get();
      if (req.method() == http::verb::get) {
        if (auto it = routes.streams.find(path_of(req.target())); it != routes.streams.end()) {
          co_await stream_events(*stream, it->second);
          break;
        }
      }
      auto res = answer(req, *metrics, routes);
      stream->expires_after(kIdle);
      auto [wec, written] = co_await http::async_write(*stream, res, asio::as_tuple(asio::use_awaitable));
      (void)written;
      if (wec || !res.keep_alive()) break;
    }
    beast::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream->socket().close(ignored);
    std::lock_guard lock(mutex);
    open.erase(id);
  }
};

Result<tcp::endpoint, std::string> parse_listen_address(std::string_view text) {
  using R = Result<tcp::endpoint, std::string>;
  const std::string given(text);
  auto bad = [&](const std::string& why) {
    return R(in_place_error, "'" + given + "' " + why + "; expected PORT, IPv4:PORT or [IPv6]:PORT, e.g. 127.0.0.1:9464");
  };
  std::string_view host = "127.0.0.1", port = text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return bad("is not [IPv6]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || err != std::errc() || end != port.data() + port.size() || value > 65535)
    return bad("has no port 0-65535");
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(std::string(host), ec);
  if (ec) return bad("has no IP address ('" + std::string(host) + "': names are not looked up)");
  return tcp::endpoint(address, static_cast<std::uint16_t>(value));
}

Result<std::shared_ptr<HttpExporter>, std::string> HttpExporter::start(asio::any_io_executor executor,
                                                                      const tcp::endpoint& at,
                                                                      std::shared_ptr<const Metrics> metrics,
                                                                      HttpRoutes routes) {
  using R = Result<std::shared_ptr<HttpExporter>, std::string>;
  auto state = std::make_shared<State>(executor, std::move(metrics), std::move(routes));
  boost::system::error_code ec;
  auto where = [&] {
    std::ostringstream out;
    out << at;
    return out.str();
  };
  state->acceptor.open(at.protocol(), ec);
  if (!ec) state->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) state->acceptor.bind(at, ec);
  if (!ec) state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) state->bound = state->acceptor.local_endpoint(ec);
  if (ec) return R(in_place_error, "listen at " + where() + ": " + ec.message());
  asio::co_spawn(state->acceptor.get_executor(), state->accept_loop(), asio::detached);
  return R(in_place_value, std::shared_ptr<HttpExporter>(new HttpExporter(std::move(state))));
}

HttpExporter::~HttpExporter() { stop(); }

tcp::endpoint HttpExporter::local_endpoint() const { return state_->bound; }

void HttpExporter::stop() {
  std::map<std::uint64_t, std::weak_ptr<beast::tcp_stream>> open;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->stopped) return;
    state_->stopped = true;
    state_->stopping.store(true, std::memory_order_relaxed);
    open.swap(state_->open);
  }
  asio::post(state_->acceptor.get_executor(), [state = state_] {
    boost::system::error_code ignored;
    state->acceptor.close(ignored);
  });
  for (auto& [id, weak] : open)
    if (auto stream = weak.lock())
      asio::post(stream->get_executor(), [stream] { stream->cancel(); });
}

}  // namespace swarmsync::observe
