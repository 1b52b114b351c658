// The runtime component (swarmsync::runtime): the wiring registry, taken and given back.
#include <swarmsync/runtime.hpp>

#include <string_view>
#include <variant>

enum class Ch { Numbers };
constexpr std::string_view to_string(Ch) { return "Numbers"; }

int main() {
  swarmsync::ServiceWiring<Ch, int> wiring;
  if (!wiring.add_channel(Ch::Numbers)) return 1;
  {
    auto tx = wiring.take_tx(Ch::Numbers, "producer").value();
    if (!tx.send(3)) return 1;
  }
  auto rx = wiring.take_rx(Ch::Numbers, "consumer").value();
  auto v = rx.try_recv();
  return v && *v == 3 && wiring.tx_exists(Ch::Numbers) ? 0 : 1;
}
