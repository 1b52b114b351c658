#pragma once
// Errors of the NATS JetStream transport, as values.
//
//     auto conn = swarmsync::nats::connect("nats://127.0.0.1:4222");
//     if (!conn) log(conn.error().message);        // "connect: No server available (...)"
//
// Like the rest of swarmsync, the transport returns failures as `swarmsync::Result<T, E>` and
// throws nothing across its API (see channels/error.hpp). `NatsError` carries cnats's status, the
// JetStream error code when the server sent one, and a message that names the operation; calling
// `.value()` on a failed result throws `swarmsync::nats::TransportError`.

#include <nats/nats.h>

#include <boost/assert/source_location.hpp>
#include <string>
#include <string_view>

#include "swarmsync/channels/error.hpp"

namespace swarmsync::nats {

/// Thrown by `Result::value()` when a transport operation's result holds an error.
class TransportError : public swarmsync::Error {
 public:
  using swarmsync::Error::Error;
};

/// A failed cnats or JetStream operation. Copyable value; no thread affinity.
struct NatsError {
  natsStatus status = NATS_ERR;  ///< cnats's status (`NATS_TIMEOUT`, `NATS_NO_SERVER_AVAILABLE`, ...)
  int js_code = 0;               ///< JetStream error code (`jsErrCode`), 0 if the server sent none
  std::string message;           ///< "<operation>: <status text> (<cnats's last error>)"

  /// An error for `operation` from `status`, with cnats's thread-local last error text.
  static NatsError from_status(std::string_view operation, natsStatus status, int js_code = 0);
  /// An error found before calling cnats (a bad name, a bad option).
  static NatsError invalid(std::string_view operation, std::string_view why);
};

[[noreturn]] inline void throw_exception_from_error(const NatsError& e, const boost::source_location&) {
  throw TransportError("swarmsync::nats: " + e.message);
}

}  // namespace swarmsync::nats
