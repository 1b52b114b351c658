#pragma once
// The NATS JetStream transport component (`swarmsync::nats`, compiled; cnats): the wiring's
// channels and the core-event broadcast carried between processes.
//
//     #include <swarmsync/transport/nats.hpp>
//     auto conn = swarmsync::nats::connect("nats://127.0.0.1:4222").value();

#include "swarmsync/transport/nats/ack_fence.hpp"
#include "swarmsync/transport/nats/bridged_channel.hpp"
#include "swarmsync/transport/nats/broadcast_bridge.hpp"
#include "swarmsync/transport/nats/codec.hpp"
#include "swarmsync/transport/nats/connection.hpp"
#include "swarmsync/transport/nats/error.hpp"
#include "swarmsync/transport/nats/inbound_bridge.hpp"
#include "swarmsync/transport/nats/jetstream_channel.hpp"
#include "swarmsync/transport/nats/outbound_bridge.hpp"
