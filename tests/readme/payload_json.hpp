#pragma once
// The JSON of the README's payloads and core events, which the NATS codec needs
// (`to_json`/`from_json` found by argument-dependent lookup, transport/nats/codec.hpp): the
// application's own functions, declared as it declares them. The README's NATS blocks are
// compiled, not linked, so they need no definition.

#include <nlohmann/json.hpp>

void to_json(nlohmann::json& j, const EventPayload& payload);
void from_json(const nlohmann::json& j, EventPayload& payload);
void to_json(nlohmann::json& j, const CoreEvent& event);
void from_json(const nlohmann::json& j, CoreEvent& event);
