#pragma once
// Boots, runs, restarts, hot-swaps and shuts down the services of a modular system, as an
// Erlang/OTP supervisor does, without losing a queued message.
//
//     auto shared = std::make_shared<Shared>();
//     shared->wiring->add_channel(ChannelType::SchedulerToDispatcher).value();
//     swarmsync::Supervisor<Shared> supervisor(ioc.get_executor(), shared);
//     supervisor.add_service({.name = "dispatcher", .main = dispatcher,
//                             .consumes = {ChannelType::SchedulerToDispatcher}}).value();
//     supervisor.add_service({.name = "scheduler", .main = scheduler,
//                             .produces = {ChannelType::SchedulerToDispatcher}}).value();
//     if (auto started = supervisor.start(); !started) {        // checks the wiring first
//       std::cerr << started.error().table();
//       return 1;
//     }
//     supervisor.handle_signals();                               // SIGINT / SIGTERM: shutdown
//     run ioc on its threads; supervisor.finished().get() is the shutdown report.
//
// Services. A service is a name and a coroutine `main(ServiceContext&)`; each call of `main` is
// one instance. Every service runs on its own strand of the executor given (a multi-threaded
// io_context typically). Its channel ends are leases (wiring/service_wiring.hpp): when an instance
// ends, for whatever reason, its ends go back to the wiring with their queues, and the next
// instance takes them again.
//
// Boot. `start()` first checks the declared wiring: every channel has at least one producer and
// exactly one consumer, every declared channel exists, no end is already taken. It logs the
// report's table through the shared logger; a wiring error returns the `BootReport` (table, JSON,
// DOT) and starts nothing. Then every service starts,
// `Startup` is broadcast, and the pulse broadcaster runs (slow ticks also go out as `Tick` core
// events).
//
// Restarts. An instance that throws has failed. `permanent` services are restarted whenever
// their instance ends, `transient` ones only after a failure, `temporary` ones never. Restarts
// wait a backoff (doubling from `backoff.initial` up to `backoff.max`) and are limited: more than
// `intensity.max_restarts` restarts of one service within `intensity.period` shut the whole
// system down in order, with an error naming the service. What a failure keeps and loses: every
// value still queued on the service's channels stays there, on the same leases, for the next
// instance; the one message the failed instance had in hand (taken by `ctx.recv` and not
// finished) is lost, and counted: `ServiceInfo::lost_in_hand` in the snapshot and the shutdown
// report, `ServiceRestarted::lost_in_hand` with the error on the event.
//
// Hot swap. `replace(name, main)` asks the running instance to hand over (it finishes the message
// in hand), and starts `main` on the same leases as soon as it has returned; values sent meanwhile
// wait in the queues. The future tells how long the swap took.
//
// Shutdown. `request_shutdown` (or a signal) broadcasts `Shutdown`, asks every instance to drain
// its queues and return, and cancels those still running after their grace period. The report
// lists, per channel, the values left unhandled: nothing is dropped without being counted.
//
// Life. `state()` watches where the system is (`SystemState`: booting, running, shutting_down
// with the reason, finished): a watch channel, so every watcher sees the latest phase and is
// woken at each change, never lagged out of one as a broadcast receiver can be. It is the latch
// for code outside the services (an exporter, a bridge, the program's main) that must not miss
// the shutdown:
//
//     auto life = supervisor.state();
//     co_await life.wait_for([](const SystemState& s) { return s.phase >= SystemState::shutting_down; });
//
// Decision log. Each decision is written once through the shared logger, as a structured line
// (runtime/log_record.hpp, `SERVICE: EVENT KEY=VALUE ...`) that names the service; none is on the
// path of a message. The events, their levels and fields:
//   started     info   the first instance started: policy
//   failed      warn   an instance threw: error, lost_in_hand (0 or 1)
//   restarting  info   a restart decided: restart (its number), backoff_ms, after (failure|return)
//   gave_up     error  more restarts than the intensity allows, the system shuts down: max_restarts,
//                      period_ms, last_error
//   stopped     info   an instance ended and its policy does not restart it: policy, state
//   swapped     info   a hot swap done: took_ms (from the request, e.g. 0.412), swaps; when no
//                      instance ran: took_ms=0.000 applies=next_start
//   restarted   info   a restart on demand done: took_ms, restarts
// and for the whole system, as service `supervisor`:
//   shutdown       info (warn with an error)  the shutdown begins: reason, error
//   shutdown_done  info (warn if one was cancelled)  it completed: unhandled (the values left in all
//                  channels), left.CHANNEL (log_key of the name) per channel with values left,
//                  cancelled (names, comma-separated) when some ran past their grace
// Instances that end during the shutdown are not logged one by one, unless they failed.
//
// Lifetime and threads. Every member may be called from any thread. The supervisor's work holds
// its own state alive; the io_context must run until `finished()` is ready.
//
// Build. The decisions above are compiled once, in the `swarmsync::runtime` library
// (runtime/detail/supervisor_core.hpp); this template only adapts a `Shared` to them, so that a
// program's translation units do not each compile the whole supervisor.

#include "swarmsync/channels/watch.hpp"
#include "swarmsync/detail/asio_fwd.hpp"
#include "swarmsync/runtime/boot_report.hpp"
#include "swarmsync/runtime/core_event.hpp"
#include "swarmsync/runtime/detail/supervisor_core.hpp"
#include "swarmsync/runtime/service_context.hpp"
#include "swarmsync/runtime/snapshot.hpp"
#include "swarmsync/runtime/supervision.hpp"
#include "swarmsync/wiring/names.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace swarmsync {

/// One service, as declared to the supervisor.
template <class Shared>
struct ServiceSpec {
  using Main = std::function<asio::awaitable<void>(ServiceContext<Shared>&)>;
  using ChannelType = typename Shared::channel_type;

  std::string name = {};
  Main main = {};
  RestartPolicy restart = RestartPolicy::permanent;
  std::vector<ChannelType> produces = {};  ///< channels it sends on (for the wiring check)
  std::vector<ChannelType> consumes = {};  ///< channels it receives from
  std::chrono::milliseconds shutdown_grace{2000};
};

/// The supervisor of the services sharing a `Shared` (a `SharedResource`): see the top of this
/// file. A handle: copies share one supervisor. Thread-safe.
template <class Shared>
class Supervisor {
 public:
  using Spec = ServiceSpec<Shared>;
  using Main = typename Spec::Main;
  using ChannelType = typename Shared::channel_type;
  using Event = typename Shared::event_type;

  Supervisor(asio::any_io_executor executor, std::shared_ptr<Shared> shared, SupervisorOptions options = {})
      : system_(std::make_shared<System>(std::move(shared))), core_(std::move(executor), system_, options) {}

  /// Declares a service. Errors: a second service of the same name, a service without `main`,
  /// or a declaration after `start()`.
  Result<void, SupervisorError> add_service(Spec spec) { return core_.add_service(erase(std::move(spec))); }

  /// Checks the declared wiring against the registry; starts nothing.
  BootReport check_wiring() const { return core_.check_wiring(); }

  /// Checks the wiring, then starts every service, the pulses, and broadcasts `Startup`. Returns
  /// the report, starting nothing, if the wiring has errors.
  Result<void, BootReport> start() { return core_.start(); }

  /// Begins an orderly shutdown (idempotent).
  void request_shutdown(std::string reason = "requested") { core_.request_shutdown(std::move(reason), {}); }

  /// Shuts down on SIGINT or SIGTERM.
  void handle_signals() { core_.handle_signals(); }

  /// Swaps the implementation of service `name`; the future tells how long it took, or why not.
  std::future<Result<SwapReport, SupervisorError>> replace(std::string_view name, Main main) {
    return core_.replace(name, erase(std::move(main)));
  }

  /// Restarts service `name` on demand, with the main it runs: its instance is asked to stop as
  /// for a swap (it ends at its next receive; a message it holds is handled first, none is lost
  /// on the way), then the same main starts again. Counted as a restart (and not against the
  /// restart intensity, which is about failures), broadcast as `ServiceRestarted{swapped=false}`.
  /// The future is ready once the new instance started, or with why not: no such service, it does
  /// not run now (restarting, stopped, failed), a swap or restart already in progress, shutting
  /// down. Thread-safe.
  std::future<Result<SwapReport, SupervisorError>> restart(std::string_view name) { return core_.restart(name); }

  /// States, restart counts and channel depths now.
  Snapshot snapshot() const { return core_.snapshot(); }

  /// Ready once the shutdown has completed.
  std::shared_future<ShutdownReport> finished() const { return core_.finished(); }

  /// A watcher of the system's phase (see `SystemState`): `borrow()` reads it now, `changed()`
  /// waits for the next phase, `wait_for(pred)` for a phase of interest. It ends (`changed()`
  /// reports `closed`) when the supervisor is gone, after `finished`. Thread-safe; any number
  /// of watchers.
  watch::Receiver<SystemState> state() const { return core_.state(); }

 private:
  // An instance: its context, seen by the compiled core through `SupervisedInstance`.
  class Instance final : public detail::SupervisedInstance {
   public:
    Instance(std::string name, std::uint64_t restarts, std::shared_ptr<Shared> shared)
        : ctx(std::move(name), restarts, std::move(shared)) {}
    void request_stop(bool drain) override { ctx.request_stop(drain); }
    void force_cancel() override { ctx.force_cancel(); }
    asio::cancellation_slot cancellation_slot() override { return ctx.cancel_.slot(); }
    bool stop_requested() const override { return ctx.stop_requested(); }
    bool message_in_hand() const override { return ctx.message_in_hand(); }
    bool reads_core_events() const override { return ctx.reads_core_events(); }
    std::uint64_t events_behind() const override { return ctx.core_events_for_monitor().len(); }
    std::uint64_t events_missed() const override { return ctx.core_events_for_monitor().missed_count(); }
    ServiceContext<Shared> ctx;
  };

  // The shared resource, seen by the compiled core through `SupervisedSystem`. Channels get ids
  // in order of first sight; the table only grows.
  class System final : public detail::SupervisedSystem {
   public:
    explicit System(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

    std::shared_ptr<detail::SupervisedInstance> make_instance(const std::string& name, std::uint64_t restarts) override {
      return std::make_shared<Instance>(name, restarts, shared_);
    }
    std::vector<WiredChannelInfo<detail::ChannelId>> wiring() override {
      std::vector<WiredChannelInfo<detail::ChannelId>> out;
      for (auto& c : shared_->wiring->snapshot())
        out.push_back({id(c.channel), std::move(c.name), std::move(c.tx_holder), std::move(c.rx_holder), c.depth, c.sent,
                       c.received, std::move(c.where), c.consumed_here, c.high_water, c.refused, c.senders, c.open});
      return out;
    }
    std::string channel_name(detail::ChannelId channel) override {
      std::lock_guard lock(mutex_);
      return name_of(by_id_.at(channel));
    }
    void broadcast(CoreEventOf<> event) override {
      std::visit(
          [this](auto& e) {
            using E = std::decay_t<decltype(e)>;
            if constexpr (std::is_constructible_v<Event, E>)
              shared_->channels->send_event_to_all_services(Event(std::move(e)));
          },
          event);
    }
    std::uint64_t events_sent() const override { return shared_->channels->sent_count(); }
    std::uint64_t events_lagged() const override { return shared_->channels->lagged_count(); }
    spdlog::logger& logger() override { return *shared_->logger; }
    Pulses& pulses() override { return *shared_->pulses; }

    // The id of `channel`, given at its first sight.
    detail::ChannelId id(const ChannelType& channel) {
      std::lock_guard lock(mutex_);
      auto [it, added] = ids_.try_emplace(channel, by_id_.size());
      if (added) by_id_.push_back(channel);
      return it->second;
    }

   private:
    std::shared_ptr<Shared> shared_;
    std::mutex mutex_;
    std::map<ChannelType, detail::ChannelId> ids_;
    std::vector<ChannelType> by_id_;
  };

  // The user's main, over the erased instance: it calls `main` with the instance's context. The
  // returned function object holds `main`, and lives as long as the coroutine it started.
  static detail::ErasedMain erase(Main main) {
    if (!main) return {};
    return [main = std::move(main)](detail::SupervisedInstance& instance) {
      return main(static_cast<Instance&>(instance).ctx);
    };
  }

  detail::ErasedSpec erase(Spec spec) {
    detail::ErasedSpec out{.name = std::move(spec.name), .main = erase(std::move(spec.main)), .restart = spec.restart,
                           .shutdown_grace = spec.shutdown_grace};
    for (const auto& c : spec.produces) out.produces.push_back(system_->id(c));
    for (const auto& c : spec.consumes) out.consumes.push_back(system_->id(c));
    return out;
  }

  std::shared_ptr<System> system_;
  detail::SupervisorCore core_;
};

}  // namespace swarmsync
