#pragma once
// Force-included before the README's block wiring_services_4, a NATS block that goes on from the
// "Wiring services" block: that block itself (ChannelType, EventPayload, CoreEvent, Shared), and
// the JSON functions of its payloads and events, which the README does not show.
#include "wiring_services_1.cpp"

#include "payload_json.hpp"
