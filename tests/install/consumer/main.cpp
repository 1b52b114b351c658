// The whole library (swarmsync::swarmsync, <swarmsync/swarmsync.hpp>): a complete
// supervised program as a user writes it, its ServiceSpecs filled with designated initializers
// that leave members out (quiet under -Wall -Wextra -Werror).
#include <swarmsync/swarmsync.hpp>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

enum class Ch { Numbers };
constexpr std::string_view to_string(Ch) { return "Numbers"; }

using Shared = swarmsync::SharedResource<swarmsync::CoreEventOf<>, Ch, int>;
using Context = swarmsync::ServiceContext<Shared>;

int main() {
  constexpr int n = 1000;
  auto shared = std::make_shared<Shared>();
  if (!shared->wiring->add_channel(Ch::Numbers)) return 1;
  boost::asio::io_context ioc;
  swarmsync::Supervisor<Shared> supervisor(ioc.get_executor(), shared);
  std::atomic<int> handled{0};
  supervisor
      .add_service({.name = "producer",
                    .main = [](Context& ctx) -> boost::asio::awaitable<void> {
                      auto tx = ctx.shared()->wiring->take_tx(Ch::Numbers, ctx.name()).value();
                      for (int i = 0; i < n; ++i) (void)tx.send(i);
                      co_return;
                    },
                    .restart = swarmsync::RestartPolicy::temporary,
                    .produces = {Ch::Numbers}})
      .value();
  supervisor
      .add_service({.name = "consumer",
                    .main = [&](Context& ctx) -> boost::asio::awaitable<void> {
                      auto rx = ctx.shared()->wiring->take_rx(Ch::Numbers, ctx.name()).value();
                      while (auto value = co_await ctx.recv(rx))
                        if (++handled == n) supervisor.request_shutdown("all handled");
                    },
                    .consumes = {Ch::Numbers}})
      .value();
  if (!supervisor.start()) return 1;
  // The io_context runs on threads of the program's own; finished() is ready after the shutdown.
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&] { ioc.run(); });
  const auto report = supervisor.finished().get();
  for (auto& t : threads) t.join();
  return report.ok() && handled == n ? 0 : 1;
}
