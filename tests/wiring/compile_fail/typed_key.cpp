// Typed channel keys, checked by the compiler: the ctest tests wiring.typed_key_* build this file
// (tests/CMakeLists.txt), never linked nor run.
//
// TYPED_KEY_PAYLOAD and TYPED_KEY_ENUM make the key used below. Left to their defaults the key
// fits the wiring, and every call compiles (wiring.typed_key_right_payload). Given another payload
// or another enum, each call must stop the compilation at the wiring's static_assert, "swarmsync:
// wrong payload: ..." or "swarmsync: wrong channel type: ..." (wiring.typed_key_wrong_*); there
// TYPED_KEY_CALL selects the one call compiled, so that each misuse is tested alone.

#include <swarmsync/wiring/service_wiring.hpp>

#include <string>
#include <string_view>

#define TYPED_KEY_ADD_CHANNEL 1
#define TYPED_KEY_TAKE_TX 2
#define TYPED_KEY_TAKE_RX 3
#define TYPED_KEY_GET_TX 4
#define TYPED_KEY_HAS_CHANNEL 5  // a query: the key would convert to the enum form if not checked

#ifndef TYPED_KEY_PAYLOAD
#define TYPED_KEY_PAYLOAD Job
#endif
#ifndef TYPED_KEY_ENUM
#define TYPED_KEY_ENUM ChannelType
#endif
#ifdef TYPED_KEY_CALL
#define TYPED_KEY_COMPILES(call) (TYPED_KEY_CALL == (call))
#else
#define TYPED_KEY_COMPILES(call) 1
#endif

namespace typed_key {

enum class ChannelType { Jobs };
constexpr std::string_view to_string(ChannelType) { return "Jobs"; }
enum class OtherChannelType { Jobs };
struct Job {
  int id = 0;
};

using Wiring = swarmsync::ServiceWiring<ChannelType, Job>;
inline constexpr swarmsync::ChannelKey<TYPED_KEY_ENUM::Jobs, TYPED_KEY_PAYLOAD> jobs{};

int use(Wiring& wiring) {
  int failures = 0;
#if TYPED_KEY_COMPILES(TYPED_KEY_ADD_CHANNEL)
  failures += wiring.add_channel(jobs) ? 0 : 1;
#endif
#if TYPED_KEY_COMPILES(TYPED_KEY_TAKE_TX)
  auto tx = wiring.take_tx(jobs, "producer");
  failures += tx ? 0 : 1;
#endif
#if TYPED_KEY_COMPILES(TYPED_KEY_TAKE_RX)
  auto rx = wiring.take_rx(jobs, "consumer");
  failures += rx ? 0 : 1;
#endif
#if TYPED_KEY_COMPILES(TYPED_KEY_GET_TX)
  auto sender = wiring.get_tx(jobs);
  failures += sender ? 0 : 1;
#endif
#if TYPED_KEY_COMPILES(TYPED_KEY_HAS_CHANNEL)
  failures += wiring.has_channel(jobs) ? 0 : 1;
#endif
  return failures;
}

}  // namespace typed_key
