#pragma once
// A broadcast that crosses processes: every process's local broadcast gets what any of them
// publishes, over a core NATS subject.
//
//     using namespace swarmsync::nats;
//     auto conn = connect("nats://127.0.0.1:4222").value();
//     auto remote = bridge_broadcast<CoreEvent>(conn, {.core = "orders", .channel = "events"},
//                                               {.sender = "node-a", .capacity = 16}).value();
//     swarmsync::ServiceChannels<CoreEvent> channels(std::move(remote));   // the same API as local
//     auto events = channels.subscribe_to_core_event();
//     channels.send_event_to_all_services(Startup{});   // every process's subscribers get it
//     // a subscriber that fell behind, here or upstream: ev.error() == RecvError{lagged, n}
//
// Where it travels. On the core NATS subject `swarmsync:broadcast.<core>.<channel>`: outside the
// core's JetStream stream (which captures `<core>.>`, and whose names cannot hold ':'), so the
// server stores nothing. As a local broadcast, it is lossy: a value reaches the processes
// subscribed when it passes, at most once each; whatever must not be missed travels on a
// direct channel.
//
// Publishing. `publish` encodes the value and hands it to cnats, which sends it from its own
// buffer (while disconnected, up to the connection's reconnect buffer): it never waits for a
// receiver or for the server. Each message carries `Swarmsync-From: <identity>` and
// `Swarmsync-Seq: <n>`, the sequence counting this bridge's publishes from 1. A value the codec
// cannot encode, or that cnats refuses (its reconnect buffer full, the connection closed), comes
// back as the very object in a `PublishError` and is counted (`publish_failed()`).
//
// Delivery. The bridge's subscription delivers every message into the local broadcast
// (`local`), the publishing process's own included: local subscribers of every process see the
// values of one sender in the order it published them; values of different senders may
// interleave differently in different processes.
//
// Lagging. A subscriber that falls behind the local ring gets `RecvError{lagged, n}` as with any
// broadcast. A value lost before the ring (cnats's pending limit reached, "slow consumer", in
// this process; the server dropping a slow client; a reconnect) shows as a gap in its sender's
// sequence: the bridge reports it with `Sender::report_missed(gap)` just before the next value
// of that sender, so that every local subscriber gets `RecvError{lagged, gap}` there, the
// exact number of values of that sender it did not get. What cannot be seen: values lost at the
// end of a sender's stream (until it publishes again), and values sent before the first one this
// bridge heard from a sender (it may have subscribed after them). A message without the headers
// (published by another client) is delivered without gap tracking.
//
// Bad messages. A message that does not decode is counted (`undecodable`), reported to
// `on_undecodable` with its subject and the codec's reason, and dropped; so is a value whose copy
// or move throws on its way into the local ring, and subscribers then get `Lagged(1)` in its
// place. Nothing is thrown.
//
// Lifetime. The ends keep the bridge alive through `transport`. When it goes, the subscription
// is closed and the destructor returns after cnats's last call into it. The `Connection` must
// outlive it.
//
// Thread safety. `publish` and the counters may be used from any thread at once; publishes take
// turns (a mutex), so the sequence is the order of the calls. The subscription's handler runs on
// cnats's thread for it, one message at a time.

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "swarmsync/channels/broadcast.hpp"
#include "swarmsync/channels/result.hpp"
#include "swarmsync/transport/nats/codec.hpp"
#include "swarmsync/transport/nats/connection.hpp"
#include "swarmsync/transport/nats/error.hpp"
#include "swarmsync/transport/nats/outbound_bridge.hpp"

namespace swarmsync::nats {

/// Which broadcast of which core. Names as for `ChannelAddress`: letters, digits, `_`, `-`.
struct BroadcastAddress {
  std::string core = {};
  std::string channel = "events";

  /// `swarmsync:broadcast.<core>.<channel>`.
  std::string subject() const { return "swarmsync:broadcast." + core + "." + channel; }
};

/// How a broadcast is bridged.
struct BroadcastOptions {
  std::string sender = "swarmsync";  ///< the base of this process's sender identity (a nonce is added)
  std::size_t capacity = 16;         ///< the local ring (rounded up to a power of two)
  /// cnats's pending limits for the subscription: messages received and not yet delivered into
  /// the local ring. Past them, cnats drops (reported as a lag, see Lagging).
  int pending_messages = 65536;
  int pending_bytes = 64 * 1024 * 1024;
  /// A message that did not decode: its subject and why. On cnats's thread.
  std::function<void(std::string_view subject, std::string_view why)> on_undecodable = {};
};

/// Counters of a broadcast bridge. Metrics only: relaxed, each a count ordered with nothing else.
struct BroadcastStats {
  std::atomic<std::uint64_t> published{0};       ///< handed to cnats
  std::atomic<std::uint64_t> publish_failed{0};  ///< refused by cnats or not encodable
  std::atomic<std::uint64_t> received{0};        ///< delivered into the local ring
  std::atomic<std::uint64_t> missed{0};          ///< values found missing (gaps), reported as lags
  std::atomic<std::uint64_t> undecodable{0};     ///< messages dropped because they did not decode
};

namespace detail {

// The cnats side of a broadcast bridge, typed by nothing: publishes bytes with the sequence
// headers, subscribes, finds gaps, and hands each message's bytes to `deliver` (which returns
// the decoder's reason when they do not decode) after calling `report_missed` for a gap.
class BroadcastLink {
 public:
  struct Handlers {
    std::function<std::optional<std::string>(std::string_view bytes)> deliver;
    std::function<void(std::uint64_t missed)> report_missed;
    std::function<void(std::string_view subject, std::string_view why)> on_undecodable;
  };

  static Result<std::unique_ptr<BroadcastLink>, NatsError> open(Connection& conn, std::string subject,
                                                                std::string identity, const BroadcastOptions& options,
                                                                Handlers handlers);
  BroadcastLink(const BroadcastLink&) = delete;
  BroadcastLink& operator=(const BroadcastLink&) = delete;
  // Closes the subscription; returns once cnats's handler for it has returned for the last time.
  ~BroadcastLink();

  // Publishes `bytes` with the next sequence number (publishes take turns).
  Result<void, NatsError> publish(std::string_view bytes);

  const std::string& subject() const noexcept;
  const std::string& identity() const noexcept;
  // The counters; shared so that they can be read after the link is gone.
  const std::shared_ptr<BroadcastStats>& stats() const noexcept;

  struct State;  // shared with cnats's callbacks; see broadcast_bridge.cpp

 private:
  explicit BroadcastLink(std::unique_ptr<State> state) noexcept;
  std::unique_ptr<State> state_;
};

// The typed bridge: the local ring, the codec and the link.
template <class T, class C>
class BroadcastBridge {
 public:
  BroadcastBridge(broadcast::Sender<T> local, C codec) : local_(std::move(local)), codec_(std::move(codec)) {}
  BroadcastBridge(const BroadcastBridge&) = delete;
  BroadcastBridge& operator=(const BroadcastBridge&) = delete;
  ~BroadcastBridge() { link_.reset(); }  // no delivery outlives the ring's sender or the codec

  void attach(std::unique_ptr<BroadcastLink> link) { link_ = std::move(link); }

  Result<void, PublishError<T>> publish(T value) {
    std::string bytes;
    try {
      bytes = codec_.encode(value);
    } catch (const std::exception& e) {
      link_->stats()->publish_failed.fetch_add(1, std::memory_order_relaxed);
      return PublishError<T>{std::move(value), PublishErrorKind::encode, NatsError::invalid("encode", e.what()), {}};
    }
    if (auto sent = link_->publish(bytes); !sent) {
      link_->stats()->publish_failed.fetch_add(1, std::memory_order_relaxed);
      return PublishError<T>{std::move(value), PublishErrorKind::rejected, std::move(sent).error(), {}};
    }
    link_->stats()->published.fetch_add(1, std::memory_order_relaxed);
    return {};
  }

  // On cnats's thread: one message into the local ring, or why not. Nothing may be thrown into
  // cnats (C code): a value whose copy or move throws on the way into the ring is lost here, and
  // every subscriber is told so in its place.
  std::optional<std::string> deliver(std::string_view bytes) {
    try {
      auto value = codec_.decode(bytes);
      if (!value) return std::move(value).error().message;
      (void)local_.send(std::move(*value));  // nobody subscribed here: nobody to tell
      return std::nullopt;
    } catch (const std::exception& e) {
      (void)local_.report_missed(1);
      return std::string("the value could not be stored: ") + e.what();
    }
  }

  void report_missed(std::uint64_t n) { (void)local_.report_missed(n); }

  BroadcastLink& link() noexcept { return *link_; }
  const broadcast::Sender<T>& local() const noexcept { return local_; }

 private:
  broadcast::Sender<T> local_;
  C codec_;
  std::unique_ptr<BroadcastLink> link_;
};

}  // namespace detail

/// The ends of a bridged broadcast, as `ServiceChannels` takes them (the wiring's
/// `RemoteBroadcast<T>` has the same members), with the bridge's counters.
template <class T>
struct BridgedBroadcast {
  broadcast::Sender<T> local;                 ///< the local ring: subscribe here
  /// To every process; a value refused (not encodable, cnats's buffer full) comes back, counted.
  std::function<std::optional<T>(T&&)> publish;
  std::string where;                          ///< "nats subject ..."
  std::shared_ptr<void> transport;            ///< the bridge: alive as long as this is held
  std::shared_ptr<const BroadcastStats> stats;  ///< its counters, readable after the bridge is gone

  /// Converts to any struct with the first four members (the wiring's RemoteBroadcast).
  template <class Ends>
  requires requires(broadcast::Sender<T> l, std::function<std::optional<T>(T&&)> p, std::string w,
                    std::shared_ptr<void> t) { Ends{std::move(l), std::move(p), std::move(w), std::move(t)}; }
  operator Ends() && {
    return Ends{std::move(local), std::move(publish), std::move(where), std::move(transport)};
  }
};

/// Bridges the broadcast `address`: subscribes (the server knows of the subscription when this
/// returns) and returns the local ends. Errors: bad names, the server unreachable or refusing.
template <class T, class C = JsonCodec<T>>
requires Codec<C, T>
Result<BridgedBroadcast<T>, NatsError> bridge_broadcast(Connection& conn, const BroadcastAddress& address,
                                                        BroadcastOptions options = {}, C codec = {}) {
  if (auto ok = validate(ChannelAddress{address.core, address.channel}); !ok) return std::move(ok).error();
  if (options.capacity == 0) return NatsError::invalid("broadcast bridge", "capacity must be > 0");
  auto [local, first_rx] = broadcast::channel<T>(options.capacity);
  auto bridge = std::make_shared<detail::BroadcastBridge<T, C>>(local, std::move(codec));
  detail::BroadcastLink::Handlers handlers;
  detail::BroadcastBridge<T, C>* raw = bridge.get();  // the link is destroyed before the bridge
  handlers.deliver = [raw](std::string_view bytes) { return raw->deliver(bytes); };
  handlers.report_missed = [raw](std::uint64_t n) { raw->report_missed(n); };
  handlers.on_undecodable = std::move(options.on_undecodable);
  auto link = detail::BroadcastLink::open(conn, address.subject(), make_sender_identity(options.sender), options,
                                          std::move(handlers));
  if (!link) return std::move(link).error();
  bridge->attach(std::move(*link));
  BridgedBroadcast<T> ends{std::move(local), {}, "nats subject " + address.subject(), {}, bridge->link().stats()};
  ends.publish = [weak = std::weak_ptr<detail::BroadcastBridge<T, C>>(bridge)](T&& value) -> std::optional<T> {
    auto b = weak.lock();
    if (!b) return std::optional<T>(std::move(value));
    auto sent = b->publish(std::move(value));
    if (sent) return std::nullopt;
    return std::optional<T>(std::move(std::move(sent).error().value));
  };
  ends.transport = std::move(bridge);
  return Result<BridgedBroadcast<T>, NatsError>(in_place_value, std::move(ends));
}

}  // namespace swarmsync::nats
