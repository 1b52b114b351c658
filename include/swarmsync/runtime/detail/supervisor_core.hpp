#pragma once
// The compiled part of the supervisor: every decision (boot check, restarts, backoff, intensity,
// swaps, shutdown, the decision log, the pulses) made once in src/runtime/supervisor.cpp, for
// every `Supervisor<Shared>`. The template (runtime/supervisor.hpp) only adapts a `Shared` to
// the two interfaces below, so that a user's translation unit compiles a few small functions
// instead of the whole supervisor.
//
//     class System final : public SupervisedSystem { ... };     // over the user's Shared
//     SupervisorCore core(executor, std::make_shared<System>(shared), options);
//     core.add_service({.name = "dispatcher", .main = erased_main, .consumes = {id}}).value();
//     core.start();
//
// The library is compiled with Asio's default configuration: a program that changes it (a
// BOOST_ASIO_* macro that changes a type's layout) must compile the library the same way.

#include "swarmsync/channels/result.hpp"
#include "swarmsync/channels/watch.hpp"
#include "swarmsync/detail/asio_fwd.hpp"
#include "swarmsync/runtime/boot_report.hpp"
#include "swarmsync/runtime/core_event.hpp"
#include "swarmsync/runtime/pulses.hpp"
#include "swarmsync/runtime/snapshot.hpp"
#include "swarmsync/runtime/supervision.hpp"
#include "swarmsync/wiring/service_wiring.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <spdlog/fwd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace swarmsync::detail {

/// One running instance of a service, as the core sees it (the template implements it over a
/// `ServiceContext<Shared>`). The calls marked "strand" are made on the service's strand only.
class SupervisedInstance {
 public:
  virtual ~SupervisedInstance() = default;
  /// Asks the instance to stop: at once, or once its queues are empty (`drain`). Strand.
  virtual void request_stop(bool drain) = 0;
  /// Cancels whatever the instance awaits. Strand.
  virtual void force_cancel() = 0;
  /// The slot its coroutine is spawned with, that `request_stop` and `force_cancel` emit on.
  virtual asio::cancellation_slot cancellation_slot() = 0;
  /// True once a stop was asked (any thread).
  virtual bool stop_requested() const = 0;
  /// True while a message taken from a direct channel is being handled. Strand.
  virtual bool message_in_hand() const = 0;
  /// True once the instance reads the core events (any thread).
  virtual bool reads_core_events() const = 0;
  /// Core events broadcast that its receiver has not received yet (any thread).
  virtual std::uint64_t events_behind() const = 0;
  /// Core events its receiver missed by lagging (any thread).
  virtual std::uint64_t events_missed() const = 0;
};

/// A service's coroutine, over the erased instance. Called once per instance; the function
/// object lives as long as the coroutine it returned runs.
using ErasedMain = std::function<asio::awaitable<void>(SupervisedInstance&)>;

/// A channel as the core names it: a small number the template gives each channel of its
/// `ChannelType` (dense, in order of first sight).
using ChannelId = std::size_t;

/// A service's declaration with its channels as ids (`ServiceSpec` erased).
struct ErasedSpec {
  std::string name = {};
  ErasedMain main = {};
  RestartPolicy restart = RestartPolicy::permanent;
  std::vector<ChannelId> produces = {};
  std::vector<ChannelId> consumes = {};
  std::chrono::milliseconds shutdown_grace{2000};
};

/// What the core needs of the system it supervises (the template implements it over `Shared`).
/// Every call may come from any thread.
class SupervisedSystem {
 public:
  virtual ~SupervisedSystem() = default;
  /// A new instance's context: `name`, restarted `restarts` times before, subscribed to the
  /// core events from now on.
  virtual std::shared_ptr<SupervisedInstance> make_instance(const std::string& name, std::uint64_t restarts) = 0;
  /// The wiring's channels now, in key order, each under its id.
  virtual std::vector<WiredChannelInfo<ChannelId>> wiring() = 0;
  /// The printable name of channel `id` (`name_of` of the application's channel).
  virtual std::string channel_name(ChannelId id) = 0;
  /// Broadcasts a runtime event to every service, if the application's event type holds it.
  virtual void broadcast(CoreEventOf<> event) = 0;
  /// Core events broadcast so far, and missed by lagging receivers so far.
  virtual std::uint64_t events_sent() const = 0;
  virtual std::uint64_t events_lagged() const = 0;
  /// Where the decision log goes.
  virtual spdlog::logger& logger() = 0;
  /// The pulse broadcaster's channels.
  virtual Pulses& pulses() = 0;
};

/// The supervisor itself, for any `Shared` (see runtime/supervisor.hpp for what each call does).
/// A handle: copies share one supervisor, whose work holds its own state alive. Thread-safe.
class SupervisorCore {
 public:
  using SwapFuture = std::future<Result<SwapReport, SupervisorError>>;

  SupervisorCore(asio::any_io_executor executor, std::shared_ptr<SupervisedSystem> system, SupervisorOptions options);

  Result<void, SupervisorError> add_service(ErasedSpec spec);
  BootReport check_wiring() const;
  Result<void, BootReport> start();
  void request_shutdown(std::string reason, std::string error);
  void handle_signals();
  SwapFuture replace(std::string_view name, ErasedMain main);
  SwapFuture restart(std::string_view name);
  Snapshot snapshot() const;
  std::shared_future<ShutdownReport> finished() const;
  watch::Receiver<SystemState> state() const;

 private:
  class State;  // src/runtime/supervisor.cpp
  std::shared_ptr<State> state_;
};

}  // namespace swarmsync::detail
