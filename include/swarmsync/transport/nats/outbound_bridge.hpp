#pragma once
// The sending end of a channel that crosses processes: values published to a JetStream subject,
// each with a message id, each confirmed by the server.
//
//     using namespace swarmsync::nats;
//     ChannelAddress address{.core = "orders", .channel = "ToDispatcher"};
//     declare_channel(conn, address).value();
//     auto tx = OutboundBridge<Job>::create(conn, address, make_sender_identity("scheduler")).value();
//     if (auto sent = tx.publish(Job{1}); !sent)           // blocks until the PubAck (or gives up)
//       keep(std::move(sent).error().value);             // not confirmed: the very object comes back
//
//     // or forward a local channel, on an executor whose thread may block (publish blocks):
//     asio::co_spawn(own_thread_ctx, tx.forward(rx, [](PublishError<Job>&& e) { keep(std::move(e.value)); }),
//                    asio::detached);
//
// Message ids. Every message carries `Nats-Msg-Id: <identity>-<sequence>`; the sequence counts
// this bridge's publishes from 1 and is never reused (a value that failed and is published again
// gets a new one). The identity must be unique per incarnation of the sender (a restarted
// process must not start again at `<identity>-1`: the server would drop its first messages as
// duplicates within the window, and a running receiver would drop them as already seen);
// `make_sender_identity` appends a random nonce for that.
//
// Resends and deduplication. When no PubAck comes within `ack_timeout` (the server may have
// stored the message and the ack was lost, or it never got it), the very message is sent again
// with the same id, up to `max_tries` in all; failures that come back at once (disconnected with
// a full reconnect buffer, no responders while the server starts) are retried the same way after
// `retry_wait`. Within the stream's duplicate window the server stores a message id once, so a
// resend after a lost ack is not stored twice (the receipt says `duplicate`). A resend later than
// the window is stored again; the inbound bridge then drops it because it remembers the sender
// sequences it delivered (the recent ones; it forgets on restart).
//
// Errors. After the last try, or at once for a refusal by the server, the value comes back whole
// in a `PublishError` (as the local channels do): `unconfirmed` means that it may or may not be
// stored (publishing the value again may deliver it twice, under a new id), `rejected` and
// `encode` that it is not stored. Nothing else is thrown.
//
// Ordering. Publishes of one bridge are serialized (a mutex is held for a whole publish,
// retries included): the stream holds them in the order of the calls, and so the receiver gets
// them in that order. Separate bridges (separate identities) are each in order, interleaved.
//
// Thread safety. `publish` may be called from any threads at once (they take turns). The
// counters may be read at any time. The `Connection` must outlive the bridge. A moved-from
// bridge may only be destroyed or assigned to.

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/assert/source_location.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "swarmsync/channels/mpsc.hpp"
#include "swarmsync/channels/result.hpp"
#include "swarmsync/transport/nats/codec.hpp"
#include "swarmsync/transport/nats/connection.hpp"
#include "swarmsync/transport/nats/error.hpp"
#include "swarmsync/transport/nats/jetstream_channel.hpp"

namespace swarmsync::nats {

/// How hard a publish tries.
struct PublishOptions {
  std::chrono::milliseconds ack_timeout{2000};  ///< wait for the PubAck of one try
  int max_tries = 5;                            ///< tries in all, the first included (>= 1)
  std::chrono::milliseconds retry_wait{100};    ///< pause after a try that failed at once
};

/// A publish the server confirmed.
struct PublishReceipt {
  std::uint64_t sender_sequence = 0;  ///< the `<sequence>` of its message id
  std::uint64_t stream_sequence = 0;  ///< where the stream stored it
  bool duplicate = false;             ///< the server had it already (a resend after a lost ack)
  int tries = 1;                      ///< sends it took
};

/// Why a publish was not confirmed.
enum class PublishErrorKind {
  unconfirmed,  ///< no PubAck after every try: it may or may not be stored
  rejected,     ///< the server refused it (a JetStream error, a closed connection): not stored
  encode,       ///< the codec could not encode the value: not sent
};

/// A publish that was not confirmed; holds the value that was not sent, and why.
template <class T>
struct PublishError {
  T value;
  PublishErrorKind kind;
  NatsError cause;
  std::string message_id;  ///< the id it was sent with (empty for `encode`)
};

template <class T>
[[noreturn]] void throw_exception_from_error(const PublishError<T>& e, const boost::source_location&) {
  throw TransportError("swarmsync::nats: publish failed: " + e.cause.message);
}

/// `base` followed by `.` and 16 random hex digits: an identity unique per incarnation.
std::string make_sender_identity(std::string_view base);

/// What `forward` did once the local channel ended.
struct ForwardReport {
  std::uint64_t published = 0;  ///< values confirmed by the server
  std::uint64_t failed = 0;     ///< values handed to the error callback
};

namespace detail {

struct RawPublishFailure {
  PublishErrorKind kind;
  NatsError cause;
};

// Publishes `data` on `subject` with `msg_id`, resending on timeouts (see the header comment).
// Blocks. `resends` counts the tries after the first.
Result<PublishReceipt, RawPublishFailure> publish_with_retries(Connection& conn, const std::string& subject,
                                                               std::string_view data, const std::string& msg_id,
                                                               const PublishOptions& options,
                                                               std::atomic<std::uint64_t>& resends);

// Identity characters: letters, digits, `.`, `_`, `:`, `-`.
bool valid_identity(std::string_view identity);

}  // namespace detail

/// The sending end of a remote direct channel, for values of `T` encoded by `C`. Move-only.
template <class T, class C = JsonCodec<T>>
requires Codec<C, T>
class OutboundBridge {
 public:
  /// A bridge publishing to `address.subject()` as `identity`. Checks the names (an error if
  /// bad); does not touch the server (declare the channel first, or publishes come back
  /// `unconfirmed`/`rejected`).
  static Result<OutboundBridge, NatsError> create(Connection& conn, const ChannelAddress& address, std::string identity,
                                                  PublishOptions options = {}, C codec = {}) {
    if (auto ok = validate(address); !ok) return std::move(ok).error();
    if (!detail::valid_identity(identity))
      return NatsError::invalid("outbound bridge",
                                "bad sender identity '" + identity + "' (letters, digits, '.', '_', ':' and '-' only)");
    if (options.max_tries < 1) return NatsError::invalid("outbound bridge", "max_tries must be >= 1");
    auto state = std::make_unique<State>(conn, address.subject(), std::move(identity), options, std::move(codec));
    return Result<OutboundBridge, NatsError>(in_place_value, OutboundBridge(std::move(state)));
  }

  /// Publishes `value` and waits for the server's PubAck (resending on timeouts, see the header
  /// comment). Blocks the calling thread for up to `max_tries * ack_timeout` (plus retry waits).
  /// On failure the very value comes back in the error.
  Result<PublishReceipt, PublishError<T>> publish(T value) {
    State& s = *state_;
    std::lock_guard lock(s.mutex);  // one publish at a time: the stream's order is the calls' order
    std::string bytes;
    try {
      bytes = s.codec.encode(value);
    } catch (const std::exception& e) {
      s.failed.fetch_add(1, std::memory_order_relaxed);
      return PublishError<T>{std::move(value), PublishErrorKind::encode, NatsError::invalid("encode", e.what()),
                             std::string()};
    }
    const std::uint64_t seq = s.next_sequence++;
    std::string id = s.identity + "-" + std::to_string(seq);
    auto sent = detail::publish_with_retries(s.conn, s.subject, bytes, id, s.options, s.resends);
    if (!sent) {
      s.failed.fetch_add(1, std::memory_order_relaxed);
      auto failure = std::move(sent).error();
      return PublishError<T>{std::move(value), failure.kind, std::move(failure.cause), std::move(id)};
    }
    s.published.fetch_add(1, std::memory_order_relaxed);
    PublishReceipt receipt = *sent;
    receipt.sender_sequence = seq;
    return receipt;
  }

  /// Publishes every value received from `rx`, in order, until every sender of `rx` is gone;
  /// a value that is not confirmed goes to `on_error` (with the value) and the loop goes on.
  /// Each publish blocks the executor's thread: run this on an executor of its own.
  boost::asio::awaitable<ForwardReport> forward(mpsc::Receiver<T>& rx,
                                                std::function<void(PublishError<T>&&)> on_error) {
    ForwardReport report;
    while (auto value = co_await rx.recv()) {
      auto sent = publish(std::move(*value));
      if (sent) {
        ++report.published;
      } else {
        ++report.failed;
        if (on_error) on_error(std::move(sent).error());
      }
    }
    co_return report;
  }

  /// This bridge's sender identity.
  const std::string& identity() const noexcept { return state_->identity; }
  /// The subject it publishes to.
  const std::string& subject() const noexcept { return state_->subject; }
  /// Publishes confirmed by the server.
  std::uint64_t published() const noexcept { return state_->published.load(std::memory_order_relaxed); }
  /// Publishes that came back as errors.
  std::uint64_t failed() const noexcept { return state_->failed.load(std::memory_order_relaxed); }
  /// Sends after the first try of a publish (resends with the same id).
  std::uint64_t resends() const noexcept { return state_->resends.load(std::memory_order_relaxed); }

 private:
  struct State {
    State(Connection& c, std::string subj, std::string id, PublishOptions o, C cod)
        : conn(c), subject(std::move(subj)), identity(std::move(id)), options(o), codec(std::move(cod)) {}
    Connection& conn;
    const std::string subject;
    const std::string identity;
    const PublishOptions options;
    C codec;
    std::mutex mutex;  // serializes publishes; guards next_sequence
    std::uint64_t next_sequence = 1;
    // Metrics only, published nowhere else: relaxed increments and loads (each read sees some
    // recent count; a test that needs an exact count reads it after the publishes returned).
    std::atomic<std::uint64_t> published{0};
    std::atomic<std::uint64_t> failed{0};
    std::atomic<std::uint64_t> resends{0};
  };

  explicit OutboundBridge(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}

  std::unique_ptr<State> state_;
};

}  // namespace swarmsync::nats
