// Built against an installed swarmsync with its NATS transport: swarmsync::nats links, with cnats
// found by the package. Needs no server: it checks channel names and a sender identity.
#include <swarmsync/transport/nats/jetstream_channel.hpp>
#include <swarmsync/transport/nats/outbound_bridge.hpp>

int main() {
  namespace sn = swarmsync::nats;
  if (!sn::validate(sn::ChannelAddress{.core = "orders", .channel = "ToDispatcher"})) return 1;
  if (sn::validate(sn::ChannelAddress{.core = "bad name", .channel = "ToDispatcher"})) return 1;
  return sn::make_sender_identity("consumer").rfind("consumer.", 0) == 0 ? 0 : 1;
}
