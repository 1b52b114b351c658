#pragma once
// A blocking HTTP/1.1 client for tests: one request on a connection of its own, the whole
// response (status line, headers, body) as text.
//
//     auto r = swarmsync::test::http_request("http://127.0.0.1:9464", "GET", "/metrics");
//     EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u);

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <regex>
#include <string>

namespace swarmsync::test {

/// Sends `method path` to `base` (http://IPv4:PORT, a path after it is ignored) with the extra
/// header lines `headers` (each ending in \r\n); returns the response, or "connect: ..." /
/// "bad url: ..." when there is none.
inline std::string http_request(const std::string& base, const std::string& method, const std::string& path,
                                const std::string& headers = {}) {
  const std::regex parts(R"(http://([0-9.]+):([0-9]+)(/.*)?)");
  std::smatch m;
  if (!std::regex_match(base, m, parts)) return "bad url: " + base;
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket socket(ioc);
  boost::system::error_code ec;
  socket.connect({boost::asio::ip::make_address(m[1].str()), static_cast<unsigned short>(std::stoi(m[2]))}, ec);
  if (ec) return "connect: " + ec.message();
  const std::string request = method + " " + path + " HTTP/1.1\r\nHost: test\r\n" + headers +
                              (method == "POST" ? "Content-Length: 0\r\n" : "") + "Connection: close\r\n\r\n";
  boost::asio::write(socket, boost::asio::buffer(request), ec);
  std::string response;
  boost::asio::read(socket, boost::asio::dynamic_buffer(response), ec);
  return response;
}

}  // namespace swarmsync::test
