#pragma once
// The registry of direct channels between services, keyed by the application's channel names
// (the seed's `ServiceWiring`).
//
//     enum class ChannelType { SchedulerToDispatcher, DispatcherToHarvester };
//     using Payload = std::variant<SchedulerEvent, DispatcherEvent>;
//     swarmsync::ServiceWiring<ChannelType, Payload> wiring;
//     wiring.add_channel(ChannelType::SchedulerToDispatcher).value();
//
//     // in the Scheduler:                      // in the Dispatcher:
//     auto tx = wiring.take_tx(Ch::SchedulerToDispatcher, "scheduler");
//                                              auto rx = wiring.take_rx(Ch::SchedulerToDispatcher, "dispatcher");
//     tx->send(SchedulerEvent{...});           while (auto msg = co_await rx->recv()) { ... }
//
// Ownership. Each end is taken exactly once: `take_tx` and `take_rx` hand it out to one holder,
// and a second take is an error naming the holder. `get_tx` hands out extra senders (many
// producers) without taking anything.
//
// Leases: nothing lost across restarts. A taken end is a lease (`TxLease`, `RxLease`), which is
// the channel end itself while it is held. When the lease is destroyed (the service stops or
// fails), given back early (`give_back()`) or assigned over, the end goes back to the registry,
// queue intact, and the next holder (the next instance of the service) takes it again. The registry keeps a sender of every channel, so senders never see a channel
// close because its consumer is being restarted; a channel ends only when it is removed.
//
// Channels across processes. `add_channel(channel, RemoteEnds{...})` registers a channel whose
// values travel through a transport (swarmsync/transport/): local senders send into `tx`, which
// the transport carries away; if the consumer lives in this process, the transport delivers into
// `rx`, and the consumer acknowledges what it handled (`RxLease::acknowledge`, which the service
// context calls at each `ctx.recv`); if it lives elsewhere, `take_rx` is an error (`elsewhere`).
// The services' code is the same for both: the same calls, the same leases.
//
// Typed keys. Every member that takes a channel also takes a `ChannelKey` (wiring/channel_key.hpp),
// which names the channel and its payload type: a key whose payload is not this wiring's `Payload`
// does not compile. The results, errors and leases are those of the enum form, for the same channel:
//
//     inline constexpr swarmsync::ChannelKey<ChannelType::SchedulerToDispatcher, Payload> to_dispatcher{};
//     wiring.add_channel(to_dispatcher).value();
//     auto rx = wiring.take_rx(to_dispatcher, "dispatcher");   // as take_rx(ChannelType::SchedulerToDispatcher, ...)
//
// Errors are values (`Result<T, WiringError>`) that name the channel, the side and the holder.
// Thread safety: every member may be called from any thread; a mutex guards the registry, which
// is touched at boot and on restarts, never per message.

#include "swarmsync/channels/mpsc.hpp"
#include "swarmsync/wiring/channel_key.hpp"
#include "swarmsync/wiring/names.hpp"

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace swarmsync {

/// One end of a wired channel.
enum class ChannelSide { tx, rx };

constexpr std::string_view to_string(ChannelSide side) { return side == ChannelSide::tx ? "tx" : "rx"; }

/// A misuse of the wiring registry, naming the channel, the side and who holds it.
struct WiringError {
  enum Kind {
    unknown_channel,  ///< no channel was added under this name
    already_added,    ///< `add_channel` twice for the same name
    already_taken,    ///< the end is held by `holder`
    in_use,           ///< `remove_if_empty` on a channel with a held end or queued values
    elsewhere,        ///< `take_rx` on a channel whose consumer lives in another process (`holder` says where)
  };
  Kind kind;
  std::string channel;
  ChannelSide side = ChannelSide::tx;
  std::string holder;  ///< for `already_taken` / `in_use`: who holds the end
  std::size_t queued = 0;  ///< for `in_use`: values waiting

  /// A sentence for logs and boot reports.
  std::string message() const {
    switch (kind) {
      case unknown_channel: return "channel " + channel + ": no such channel in the wiring";
      case already_added: return "channel " + channel + ": added twice";
      case already_taken:
        return "channel " + channel + ": " + std::string(to_string(side)) + " already taken by " + holder;
      case in_use:
        return "channel " + channel + ": not removed, " +
               (holder.empty() ? std::to_string(queued) + " value(s) queued" : "held by " + holder);
      case elsewhere:
        return "channel " + channel + ": rx lives in another process (" + holder + ")";
    }
    return "channel " + channel + ": wiring error";
  }
};

[[noreturn]] inline void throw_exception_from_error(const WiringError& e, const boost::source_location&) {
  throw ChannelError("swarmsync: " + e.message());
}

template <class ChannelType, class Payload>
class ServiceWiring;

/// The local ends of a channel whose values travel through a transport, as the transport sets
/// them up (e.g. swarmsync::nats::bridge_channel).
template <class Payload>
struct RemoteEnds {
  mpsc::UnboundedSender<Payload> tx;          ///< local producers send here; the transport carries it away
  std::optional<mpsc::Receiver<Payload>> rx = {};  ///< what the transport delivers, if the consumer is here
  std::string where = {};                     ///< where the ends live, for diagnostics
  /// Everything received from `rx` so far has been handled: the transport may forget it (for
  /// JetStream, acknowledge it). Called on the consumer's thread; may be empty.
  std::function<void()> acknowledge = {};
  std::shared_ptr<void> transport = {};  ///< kept alive as long as the channel is in the wiring
};

namespace detail {

template <class ChannelType, class Payload>
struct WiringState {
  struct Entry {
    mpsc::UnboundedSender<Payload> tx;      // the registry's own sender: the channel stays open
    std::optional<mpsc::Receiver<Payload>> rx;  // empty while leased
    std::string tx_holder;                  // empty when the tx end is not leased
    std::string rx_holder;
    // For a channel through a transport (see RemoteEnds); empty `where`: in-process.
    std::string where;
    bool consumed_here = true;
    std::function<void()> acknowledge;
    std::shared_ptr<void> transport;
  };

  std::mutex mutex;
  std::map<ChannelType, Entry> channels;
};

// Where a lease goes back to: the registry (if it still exists) and the channel's name.
template <class ChannelType, class Payload>
class LeaseHome {
 public:
  using State = WiringState<ChannelType, Payload>;

  LeaseHome(std::weak_ptr<State> state, ChannelType channel) : state_(std::move(state)), channel_(channel) {}
  LeaseHome(LeaseHome&& other) noexcept
      : state_(std::exchange(other.state_, {})), channel_(other.channel_), held_(std::exchange(other.held_, false)) {}
  LeaseHome& operator=(LeaseHome&& other) noexcept {
    state_ = std::exchange(other.state_, {});
    channel_ = other.channel_;
    held_ = std::exchange(other.held_, false);
    return *this;
  }

  ChannelType channel() const noexcept { return channel_; }

  // True until the end was given back (or moved to another lease).
  bool held() const noexcept { return held_; }

  // Runs `put_back(entry)` under the registry's lock, once, if the registry and the channel exist.
  template <class PutBack>
  void give_back(PutBack&& put_back) {
    held_ = false;
    auto state = std::exchange(state_, {}).lock();
    if (!state) return;
    std::lock_guard lock(state->mutex);
    if (auto it = state->channels.find(channel_); it != state->channels.end()) put_back(it->second);
  }

 private:
  std::weak_ptr<State> state_;
  ChannelType channel_;
  bool held_ = true;
};

}  // namespace detail

/// The sending end of a wired channel, held by one service. It is an `mpsc::UnboundedSender`;
/// destroying it, `give_back()` or assigning over it gives the end back to the wiring.
template <class ChannelType, class Payload>
class TxLease : public mpsc::UnboundedSender<Payload> {
 public:
  TxLease(TxLease&&) noexcept = default;
  /// Gives back the end held (as `give_back`), then holds `other`'s. Self-assignment does nothing.
  TxLease& operator=(TxLease&& other) noexcept {
    if (this != &other) {
      give_back();
      static_cast<mpsc::UnboundedSender<Payload>&>(*this) = std::move(static_cast<mpsc::UnboundedSender<Payload>&>(other));
      home_ = std::move(other.home_);
    }
    return *this;
  }
  ~TxLease() { give_back(); }

  /// Gives the end back to the wiring now, so that another holder may take it; the lease then
  /// holds no channel: its sends are refused, the value handed back (`held()` is false). Once
  /// only; later calls do nothing.
  void give_back() noexcept {
    if (!home_.held()) return;
    home_.give_back([](auto& entry) { entry.tx_holder.clear(); });
    auto dropped = std::move(static_cast<mpsc::UnboundedSender<Payload>&>(*this));
  }

  /// True while the lease holds its end (not given back, not moved from).
  bool held() const noexcept { return home_.held(); }

  /// The channel this lease is an end of.
  ChannelType channel() const noexcept { return home_.channel(); }

 private:
  friend class ServiceWiring<ChannelType, Payload>;

  TxLease(mpsc::UnboundedSender<Payload> tx, detail::LeaseHome<ChannelType, Payload> home)
      : mpsc::UnboundedSender<Payload>(std::move(tx)), home_(std::move(home)) {}

  detail::LeaseHome<ChannelType, Payload> home_;
};

/// The receiving end of a wired channel, held by one service. It is an `mpsc::Receiver`;
/// destroying it, `give_back()` or assigning over it puts the receiver, with everything still
/// queued, back in the wiring.
template <class ChannelType, class Payload>
class RxLease : public mpsc::Receiver<Payload> {
 public:
  RxLease(RxLease&&) noexcept = default;
  /// Gives back the end held (as `give_back`), then holds `other`'s. Self-assignment does nothing.
  RxLease& operator=(RxLease&& other) noexcept {
    if (this != &other) {
      give_back();
      static_cast<mpsc::Receiver<Payload>&>(*this) = std::move(static_cast<mpsc::Receiver<Payload>&>(other));
      home_ = std::move(other.home_);
      acknowledge_ = std::move(other.acknowledge_);
    }
    return *this;
  }
  ~RxLease() { give_back(); }

  /// Puts the receiver, with everything still queued, back in the wiring now, so that another
  /// holder may take it. The lease then holds no end (`held()` is false) and may only be
  /// destroyed, assigned to or asked `held()`, as a moved-from receiver. If the wiring is gone,
  /// the receiver is destroyed (the channel ends, as when a wiring-less lease is destroyed).
  /// Once only; later calls do nothing.
  void give_back() noexcept {
    if (!home_.held()) return;
    home_.give_back([this](auto& entry) {
      entry.rx.emplace(std::move(static_cast<mpsc::Receiver<Payload>&>(*this)));
      entry.rx_holder.clear();
    });
    auto dropped = std::move(static_cast<mpsc::Receiver<Payload>&>(*this));
  }

  /// True while the lease holds its end (not given back, not moved from).
  bool held() const noexcept { return home_.held(); }

  /// The channel this lease is an end of.
  ChannelType channel() const noexcept { return home_.channel(); }

  /// For a channel fed by a transport: everything received through this end so far has been
  /// handled, and the transport may forget it (the service context calls this at each `recv`).
  /// Nothing for an in-process channel.
  void acknowledge() const {
    if (acknowledge_) acknowledge_();
  }
  /// True if the channel's values come through a transport that waits for `acknowledge`.
  bool needs_acknowledgement() const noexcept { return static_cast<bool>(acknowledge_); }
  /// The acknowledgement as a function that outlives this lease (empty for an in-process channel).
  std::function<void()> acknowledgement() const { return acknowledge_; }

 private:
  friend class ServiceWiring<ChannelType, Payload>;

  RxLease(mpsc::Receiver<Payload> rx, detail::LeaseHome<ChannelType, Payload> home, std::function<void()> acknowledge)
      : mpsc::Receiver<Payload>(std::move(rx)), home_(std::move(home)), acknowledge_(std::move(acknowledge)) {}

  detail::LeaseHome<ChannelType, Payload> home_;
  std::function<void()> acknowledge_;
};

/// A snapshot of one wired channel, for diagnostics.
template <class ChannelType>
struct WiredChannelInfo {
  ChannelType channel;
  std::string name;
  std::string tx_holder;  ///< empty when the tx end is free
  std::string rx_holder;  ///< empty when the rx end is free
  std::size_t depth = 0;  ///< values queued now
  std::uint64_t sent = 0;      ///< values sent so far
  std::uint64_t received = 0;  ///< values received so far
  std::string where;           ///< "in-process", or where a transport carries the values
  bool consumed_here = true;   ///< false: the consumer lives in another process
  std::size_t high_water = 0;  ///< the most values queued at once so far, to within about a block (32)
  std::uint64_t refused = 0;   ///< sends refused so far (values handed back)
  std::size_t senders = 0;     ///< sender handles alive now, the registry's own included
  bool open = true;            ///< false once the receiver is closed: every send is refused
};

/// The registry `ChannelType -> (tx, rx)` of direct mpsc channels carrying `Payload`.
template <class ChannelType, class Payload>
class ServiceWiring {
 public:
  using Tx = TxLease<ChannelType, Payload>;
  using Rx = RxLease<ChannelType, Payload>;

  ServiceWiring() : state_(std::make_shared<State>()) {}
  ServiceWiring(const ServiceWiring&) = delete;
  ServiceWiring& operator=(const ServiceWiring&) = delete;

  /// Creates an unbounded channel under `channel`. Error `already_added` if the name is taken.
  Result<void, WiringError> add_channel(ChannelType channel) {
    auto [tx, rx] = mpsc::unbounded_channel<Payload>();
    return add_channel(channel, std::move(tx), std::move(rx));
  }

  /// Registers a pair made elsewhere under `channel`. Error `already_added` if the name is taken.
  Result<void, WiringError> add_channel(ChannelType channel, mpsc::UnboundedSender<Payload> tx,
                                        mpsc::Receiver<Payload> rx) {
    std::lock_guard lock(state_->mutex);
    if (state_->channels.contains(channel)) return error(WiringError::already_added, channel);
    state_->channels.emplace(channel, Entry{std::move(tx), std::move(rx), {}, {}, {}, true, {}, {}});
    return {};
  }

  /// Registers a channel whose values travel through a transport (see the header comment).
  /// Error `already_added` if the name is taken.
  Result<void, WiringError> add_channel(ChannelType channel, RemoteEnds<Payload> ends) {
    std::lock_guard lock(state_->mutex);
    if (state_->channels.contains(channel)) return error(WiringError::already_added, channel);
    const bool here = ends.rx.has_value();
    state_->channels.emplace(channel, Entry{std::move(ends.tx), std::move(ends.rx), {}, {},
                                            ends.where.empty() ? std::string("remote") : std::move(ends.where), here,
                                            std::move(ends.acknowledge), std::move(ends.transport)});
    return {};
  }

  /// Takes the sending end for `holder`, exactly once until the lease is given back.
  /// Errors: `unknown_channel`, `already_taken` (naming the holder).
  Result<Tx, WiringError> take_tx(ChannelType channel, std::string_view holder = "unnamed") {
    std::lock_guard lock(state_->mutex);
    auto it = state_->channels.find(channel);
    if (it == state_->channels.end()) return error(WiringError::unknown_channel, channel, ChannelSide::tx);
    if (!it->second.tx_holder.empty())
      return error(WiringError::already_taken, channel, ChannelSide::tx, it->second.tx_holder);
    it->second.tx_holder = holder.empty() ? "unnamed" : std::string(holder);
    return Result<Tx, WiringError>(boost::system::in_place_value, Tx(it->second.tx, {state_, channel}));
  }

  /// Takes the receiving end for `holder`, exactly once until the lease is given back.
  /// Errors: `unknown_channel`, `already_taken` (naming the holder).
  Result<Rx, WiringError> take_rx(ChannelType channel, std::string_view holder = "unnamed") {
    std::lock_guard lock(state_->mutex);
    auto it = state_->channels.find(channel);
    if (it == state_->channels.end()) return error(WiringError::unknown_channel, channel, ChannelSide::rx);
    if (!it->second.consumed_here) return error(WiringError::elsewhere, channel, ChannelSide::rx, it->second.where);
    if (!it->second.rx)
      return error(WiringError::already_taken, channel, ChannelSide::rx, it->second.rx_holder);
    it->second.rx_holder = holder.empty() ? "unnamed" : std::string(holder);
    Rx lease(std::move(*it->second.rx), {state_, channel}, it->second.acknowledge);
    it->second.rx.reset();
    return Result<Rx, WiringError>(boost::system::in_place_value, std::move(lease));
  }

  /// A new sender of `channel`, taken or not (many producers). Error: `unknown_channel`.
  Result<mpsc::UnboundedSender<Payload>, WiringError> get_tx(ChannelType channel) const {
    std::lock_guard lock(state_->mutex);
    auto it = state_->channels.find(channel);
    if (it == state_->channels.end()) return error(WiringError::unknown_channel, channel, ChannelSide::tx);
    return Result<mpsc::UnboundedSender<Payload>, WiringError>(boost::system::in_place_value, it->second.tx);
  }

  /// True if `channel` exists and its sending end is free to take (the seed's name; see
  /// `tx_free`).
  bool tx_exists(ChannelType channel) const { return tx_free(channel); }

  /// True if `channel` exists and its receiving end is free to take (the seed's name: false while
  /// the end is leased, although the channel exists; see `rx_free`).
  bool rx_exists(ChannelType channel) const { return rx_free(channel); }

  /// True if `channel` exists and its sending end is not leased now: `take_tx` would succeed.
  bool tx_free(ChannelType channel) const {
    std::lock_guard lock(state_->mutex);
    auto it = state_->channels.find(channel);
    return it != state_->channels.end() && it->second.tx_holder.empty();
  }

  /// True if `channel` exists, its receiving end is not leased now and lives in this process:
  /// `take_rx` would succeed.
  bool rx_free(ChannelType channel) const {
    std::lock_guard lock(state_->mutex);
    auto it = state_->channels.find(channel);
    return it != state_->channels.end() && it->second.rx.has_value();
  }

  /// Removes `channel` if that loses nothing: neither end is held and no value is queued; returns
  /// true if it was removed. Errors: `unknown_channel`; `in_use` naming the holder or the number
  /// of queued values.
  Result<bool, WiringError> remove_if_empty(ChannelType channel) {
    std::lock_guard lock(state_->mutex);
    auto it = state_->channels.find(channel);
    if (it == state_->channels.end()) return error(WiringError::unknown_channel, channel);
    Entry& e = it->second;
    if (!e.tx_holder.empty()) return error(WiringError::in_use, channel, ChannelSide::tx, e.tx_holder);
    if (e.consumed_here && !e.rx) return error(WiringError::in_use, channel, ChannelSide::rx, e.rx_holder);
    // A channel through a transport has two local queues: what local senders sent and the
    // transport has not carried away yet, and what it delivered and the consumer has not taken.
    const std::size_t delivered = !e.where.empty() && e.rx ? e.rx->len() : 0;
    if (const std::size_t queued = e.tx.len() + delivered) {
      auto err = WiringError{WiringError::in_use, name_of(channel), ChannelSide::rx, {}, queued};
      return Result<bool, WiringError>(boost::system::in_place_error, std::move(err));
    }
    state_->channels.erase(it);
    return Result<bool, WiringError>(boost::system::in_place_value, true);
  }

  /// True if a channel was added under `channel` (whoever holds its ends).
  bool has_channel(ChannelType channel) const {
    std::lock_guard lock(state_->mutex);
    return state_->channels.contains(channel);
  }

  /// Every channel with its holders and depth, in key order.
  std::vector<WiredChannelInfo<ChannelType>> snapshot() const {
    std::lock_guard lock(state_->mutex);
    std::vector<WiredChannelInfo<ChannelType>> out;
    for (const auto& [channel, e] : state_->channels)
      out.push_back({channel, name_of(channel), e.tx_holder, e.rx_holder, e.tx.len(), e.tx.sent_count(),
                     e.tx.received_count(), e.where.empty() ? std::string("in-process") : e.where,
                     e.consumed_here, e.tx.high_water(), e.tx.refused_count(), e.tx.sender_count(),
                     !e.tx.is_closed()});
    return out;
  }

  // The same, with a typed key (see the header comment). Each is the enum form's call for the
  // key's channel: same results, same errors, same leases. A key whose enum is not `ChannelType`
  // or whose payload is not `Payload` does not compile.

  /// As `add_channel(ChannelType)`: creates an unbounded channel under the key's channel.
  template <auto Id, class KeyPayload>
  Result<void, WiringError> add_channel(ChannelKey<Id, KeyPayload> key) {
    return add_channel(channel_of(key));
  }

  /// As `add_channel(ChannelType, tx, rx)`: registers a pair made elsewhere under the key's channel.
  template <auto Id, class KeyPayload>
  Result<void, WiringError> add_channel(ChannelKey<Id, KeyPayload> key, mpsc::UnboundedSender<Payload> tx,
                                        mpsc::Receiver<Payload> rx) {
    return add_channel(channel_of(key), std::move(tx), std::move(rx));
  }

  /// As `add_channel(ChannelType, RemoteEnds)`: a channel through a transport under the key's channel.
  template <auto Id, class KeyPayload>
  Result<void, WiringError> add_channel(ChannelKey<Id, KeyPayload> key, RemoteEnds<Payload> ends) {
    return add_channel(channel_of(key), std::move(ends));
  }

  /// As `take_tx(ChannelType, holder)`: the sending end, exactly once until given back.
  template <auto Id, class KeyPayload>
  Result<Tx, WiringError> take_tx(ChannelKey<Id, KeyPayload> key, std::string_view holder = "unnamed") {
    return take_tx(channel_of(key), holder);
  }

  /// As `take_rx(ChannelType, holder)`: the receiving end, exactly once until given back.
  template <auto Id, class KeyPayload>
  Result<Rx, WiringError> take_rx(ChannelKey<Id, KeyPayload> key, std::string_view holder = "unnamed") {
    return take_rx(channel_of(key), holder);
  }

  /// As `get_tx(ChannelType)`: a new sender of the key's channel, taken or not.
  template <auto Id, class KeyPayload>
  Result<mpsc::UnboundedSender<Payload>, WiringError> get_tx(ChannelKey<Id, KeyPayload> key) const {
    return get_tx(channel_of(key));
  }

  /// As `tx_exists(ChannelType)`: true if the key's channel exists and its sending end is free.
  template <auto Id, class KeyPayload>
  bool tx_exists(ChannelKey<Id, KeyPayload> key) const {
    return tx_exists(channel_of(key));
  }

  /// As `rx_exists(ChannelType)`: true if the key's channel exists and its receiving end is free.
  template <auto Id, class KeyPayload>
  bool rx_exists(ChannelKey<Id, KeyPayload> key) const {
    return rx_exists(channel_of(key));
  }

  /// As `tx_free(ChannelType)`: true if `take_tx(key)` would succeed.
  template <auto Id, class KeyPayload>
  bool tx_free(ChannelKey<Id, KeyPayload> key) const {
    return tx_free(channel_of(key));
  }

  /// As `rx_free(ChannelType)`: true if `take_rx(key)` would succeed.
  template <auto Id, class KeyPayload>
  bool rx_free(ChannelKey<Id, KeyPayload> key) const {
    return rx_free(channel_of(key));
  }

  /// As `remove_if_empty(ChannelType)`: removes the key's channel if that loses nothing.
  template <auto Id, class KeyPayload>
  Result<bool, WiringError> remove_if_empty(ChannelKey<Id, KeyPayload> key) {
    return remove_if_empty(channel_of(key));
  }

  /// As `has_channel(ChannelType)`: true if the key's channel was added (whoever holds its ends).
  template <auto Id, class KeyPayload>
  bool has_channel(ChannelKey<Id, KeyPayload> key) const {
    return has_channel(channel_of(key));
  }

 private:
  using State = detail::WiringState<ChannelType, Payload>;
  using Entry = typename State::Entry;

  // The channel a typed key names, once the compiler checked that the key fits this wiring. (The
  // key overloads above are not constrained on purpose: a key converts to its enum value, so a
  // constrained overload that did not fit would silently fall back to the enum form.)
  template <auto Id, class KeyPayload>
  static constexpr ChannelType channel_of(ChannelKey<Id, KeyPayload>) noexcept {
    using KeyChannel = typename ChannelKey<Id, KeyPayload>::channel_type;
    static_assert(std::is_same_v<KeyChannel, ChannelType>,
                  "swarmsync: wrong channel type: this ChannelKey names a channel of another enum than the "
                  "ServiceWiring's ChannelType");
    static_assert(std::is_same_v<KeyPayload, Payload>,
                  "swarmsync: wrong payload: this ChannelKey's payload type is not the ServiceWiring's Payload");
    if constexpr (std::is_same_v<KeyChannel, ChannelType>) {
      return Id;
    } else {
      return ChannelType{};  // not reached: the first assertion failed
    }
  }

  static WiringError make_error(WiringError::Kind kind, ChannelType channel, ChannelSide side, std::string holder) {
    return WiringError{kind, name_of(channel), side, std::move(holder)};
  }

  struct ErrorValue {
    WiringError e;
    template <class T>
    operator Result<T, WiringError>() && {
      return Result<T, WiringError>(boost::system::in_place_error, std::move(e));
    }
  };

  static ErrorValue error(WiringError::Kind kind, ChannelType channel, ChannelSide side = ChannelSide::tx,
                          std::string holder = {}) {
    return ErrorValue{make_error(kind, channel, side, std::move(holder))};
  }

  std::shared_ptr<State> state_;
};

}  // namespace swarmsync
