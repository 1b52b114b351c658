// The channels component alone (swarmsync::channels): Boost only, no spdlog.
#include <swarmsync/channels.hpp>

int main() {
  auto [tx, rx] = swarmsync::mpsc::unbounded_channel<int>();
  auto [btx, brx] = swarmsync::broadcast::channel<int>(4);
  if (!tx.send(7) || !btx.send(8)) return 1;
  auto v = rx.try_recv();
  auto b = brx.try_recv();
  return v && *v == 7 && b && *b == 8 ? 0 : 1;
}
