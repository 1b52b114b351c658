// libFuzzer harness: any bytes as a Core message off the network, and as a core event (the
// broadcast between a Core's processes), decoded by the JSON codec the NATS bridges use
// (model/payload_json.hpp). Bytes that decode must encode, and the encoding
// must decode to a message that encodes the same (nothing read is lost or changed by a round
// trip); bytes that do not must give an error with a reason. Nothing may crash, throw or hang.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <swarmsync/transport/nats/codec.hpp>

#include "model/payload_json.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

template <class T>
void round_trip(std::string_view bytes) {
  swarmsync::nats::JsonCodec<T> codec;
  auto value = codec.decode(bytes);
  if (!value) {
    check(!value.error().message.empty());
    return;
  }
  std::string once;
  try {
    once = codec.encode(*value);
  } catch (...) {
    check(false);  // what was read from valid JSON has a JSON form
  }
  auto again = codec.decode(once);
  check(again.has_value());
  check(codec.encode(*again) == once);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  round_trip<core::EventPayload>(bytes);
  round_trip<core::CoreEvent>(bytes);
  return 0;
}
