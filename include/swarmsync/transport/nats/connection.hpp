#pragma once
// A connection to a NATS server with its JetStream context, owned (RAII).
//
//     swarmsync::nats::ConnectOptions options;
//     options.reconnect_wait = std::chrono::milliseconds(100);
//     auto conn = swarmsync::nats::connect("nats://127.0.0.1:4222", options);
//     if (!conn) return fail(conn.error().message);       // no server: an error value, no throw
//     publish_through(*conn);                             // the bridges borrow the connection
//     metrics.gauge("nats.reconnects", conn->reconnects());
//
// Reconnecting. The connection reconnects by itself when the server goes away (forever by
// default, `max_reconnect`), every `reconnect_wait`. While it is disconnected, cnats buffers what
// is published (up to `reconnect_buffer_bytes`) and sends it once reconnected; a publish beyond
// the buffer fails at once (the outbound bridge retries it, see outbound_bridge.hpp). Every
// disconnection and every reconnection is counted (`disconnects()`, `reconnects()`), from cnats's
// callback thread.
//
// Closing. The destructor closes the connection (what is buffered and not flushed is dropped)
// and returns once cnats has run its last callback for it, so that no callback outlives the
// object. Every bridge that borrows the connection must be destroyed before it.
//
// Thread safety. A `Connection` may be used from any number of threads at once (cnats's
// connection and JetStream context are thread-safe); moving or destroying it must not race with
// any use. Counters may be read at any time from any thread.

#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "swarmsync/channels/result.hpp"
#include "swarmsync/transport/nats/error.hpp"

namespace swarmsync::nats {

/// How to connect and reconnect. Plain value.
struct ConnectOptions {
  std::string name = "swarmsync";                   ///< client name shown by the server
  std::chrono::milliseconds connect_timeout{2000};  ///< per attempt of the first connect
  int max_reconnect = -1;                           ///< reconnect attempts per outage; -1: forever
  std::chrono::milliseconds reconnect_wait{250};    ///< pause between attempts to one server
  int reconnect_buffer_bytes = 8 * 1024 * 1024;     ///< what may be buffered while disconnected
  std::chrono::milliseconds jetstream_wait{5000};   ///< default wait for JetStream API replies
  /// Write each publish (a pull request, an ack) to the socket at once instead of leaving it to
  /// cnats's flusher thread, which sends buffered data after a short wait: the bridges' traffic
  /// is request and reply, one message waiting for the other. Off, cnats batches writes.
  bool send_asap = true;
};

/// An open connection and its JetStream context. Move-only.
class Connection {
 public:
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  /// Closes the connection; returns after cnats's last callback for it (at most a few seconds).
  ~Connection();

  /// cnats's connection, for what this wrapper does not cover. Owned by this object.
  natsConnection* native() const noexcept;
  /// cnats's JetStream context on it. Owned by this object.
  jsCtx* jetstream() const noexcept;
  /// True while connected (not while reconnecting or closed).
  bool is_connected() const noexcept;
  /// Times the connection was lost since it opened (a close counts too).
  std::uint64_t disconnects() const noexcept;
  /// Times it was re-established after a loss.
  std::uint64_t reconnects() const noexcept;
  /// The wait for JetStream API replies this connection was opened with.
  std::chrono::milliseconds jetstream_wait() const noexcept;

  struct State;  // shared with cnats's callbacks; see connection.cpp

 private:
  friend Result<Connection, NatsError> connect(const std::string& url, const ConnectOptions& options);
  explicit Connection(std::unique_ptr<State> state) noexcept;
  void close() noexcept;

  std::unique_ptr<State> state_;
};

/// Connects to `url` (e.g. "nats://127.0.0.1:4222") and opens a JetStream context on it. Blocks
/// for at most about `options.connect_timeout`. A server that cannot be reached, refused
/// options, or a failed JetStream context come back as a `NatsError`; nothing is thrown.
Result<Connection, NatsError> connect(const std::string& url, const ConnectOptions& options = {});

/// Unsubscribes `sub` from `nc` and returns once cnats's reading thread can no longer be handing
/// a message to it, so that the caller may destroy it. cnats 3.4 (Debian 12's) looks a
/// subscription up for an arriving message without taking a reference on it (fixed in cnats 3.6,
/// nats.c issue 637): a subscription destroyed while a message for it is being read is freed
/// under that thread, which then locks freed memory. Unsubscribing takes it out of the
/// connection's table; a PING answered by the server, its PONG read by that same thread after
/// every earlier message, then proves the thread is past it. Waits at most `wait` for the PONG (a
/// disconnected connection reads nothing meanwhile). Returns the unsubscribe's status;
/// NATS_INVALID_SUBSCRIPTION when it was closed already (by the connection closing). Blocking:
/// never call it from a cnats callback.
natsStatus unsubscribe_settled(natsConnection* nc, natsSubscription* sub,
                               std::chrono::milliseconds wait = std::chrono::seconds(5)) noexcept;

}  // namespace swarmsync::nats
