// Built against an installed swarmsync: the package exports its target and its dependencies.
#include <swarmsync/swarmsync.hpp>

int main() {
  auto [tx, rx] = swarmsync::mpsc::unbounded_channel<int>();
  if (!tx.send(7)) return 1;
  auto v = rx.try_recv();
  return v && *v == 7 ? 0 : 1;
}
