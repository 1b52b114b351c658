#pragma once
// A typed channel key: a channel's name in the wiring together with the type of the values it
// carries, so that using it on a wiring of another payload (taking an end, adding the channel) is
// a compile error.
//
//     enum class ChannelType { SchedulerToDispatcher, DispatcherToHarvester };
//     using EventPayload = std::variant<SchedulerEvent, DispatcherEvent>;
//     inline constexpr swarmsync::ChannelKey<ChannelType::SchedulerToDispatcher, EventPayload> to_dispatcher{};
//
//     swarmsync::ServiceWiring<ChannelType, EventPayload> wiring;
//     wiring.add_channel(to_dispatcher).value();
//     auto tx = wiring.take_tx(to_dispatcher, "scheduler").value();   // TxLease<ChannelType, EventPayload>
//     auto rx = wiring.take_rx(to_dispatcher, "dispatcher").value();  // RxLease<ChannelType, EventPayload>
//
//     swarmsync::ServiceWiring<ChannelType, SchedulerEvent> other;
//     other.take_rx(to_dispatcher, "dispatcher");  // does not compile: "swarmsync: wrong payload: ..."
//
// A `ServiceWiring<ChannelType, Payload>` carries one payload type on all of its channels (an
// application with several kinds of values makes it a `std::variant`); a key fits a wiring when
// its enum is the wiring's `ChannelType` and its payload is exactly the wiring's `Payload`. Every
// member of the wiring that takes a channel also takes a key, with the same results, errors and
// leases; a key that does not fit stops the compilation at a `static_assert` naming the mismatch.
//
// A key is its enum value, nothing more: the typed and enum forms name the same channel (an end
// taken through one is taken for the other), and a key converts to its enum value, so it goes
// wherever the enum does: a `ServiceSpec`'s `produces` and `consumes`, a comparison with a
// lease's `channel()`. Keys are empty literal types, meant to be declared once next to the enum
// as `inline constexpr` variables.

namespace swarmsync {

/// The channel `Channel` (a value of the application's channel enum) of a wiring whose payload is
/// `Payload`.
template <auto Channel, class Payload>
struct ChannelKey {
  using channel_type = decltype(Channel);  ///< the wiring's channel enum
  using payload_type = Payload;            ///< what the channel carries

  /// The channel this key names.
  static constexpr channel_type channel = Channel;

  /// The channel this key names, as the enum form: the same channel in the wiring.
  constexpr operator channel_type() const noexcept { return Channel; }
};

}  // namespace swarmsync
