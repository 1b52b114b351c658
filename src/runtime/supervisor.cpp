// The supervisor's decisions, compiled once for every `Supervisor<Shared>`
// (runtime/detail/supervisor_core.hpp; what each decision is: runtime/supervisor.hpp).

#include "swarmsync/runtime/detail/supervisor_core.hpp"

#include "swarmsync/runtime/log_record.hpp"
#include "swarmsync/runtime/strand.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <spdlog/logger.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

namespace swarmsync::detail {

namespace {

using SwapFuture = SupervisorCore::SwapFuture;


// One declared service and what the supervisor knows of it. Every member has a default, so that
// a designated initializer naming two is quiet under -Wextra.
struct Service {
  ErasedSpec spec;
  asio::any_io_executor strand;
  ServiceInfo info = {};
  std::deque<std::chrono::steady_clock::time_point> recent = {};  // restart times within the period
  std::shared_ptr<SupervisedInstance> current = {};
  std::optional<ErasedMain> swap_to = {};
  bool swap_is_restart = false;  // `swap_to` is the same main, asked for by restart()
  std::chrono::steady_clock::time_point swap_started = {};
  std::promise<Result<SwapReport, SupervisorError>> swap_done = {};
  std::shared_ptr<asio::steady_timer> timer = {};  // backoff, or the grace period at shutdown
};

}  // namespace

class SupervisorCore::State : public std::enable_shared_from_this<SupervisorCore::State> {
 public:
  State(asio::any_io_executor executor, std::shared_ptr<SupervisedSystem> system, SupervisorOptions options)
      : executor_(std::move(executor)),
        strand_(swarmsync::make_strand(executor_)),
        system_(std::move(system)),
        options_(options),
        finished_future_(done_.get_future().share()),
        state_(watch::channel(SystemState{}).first) {}

  Result<void, SupervisorError> add_service(ErasedSpec spec) {
    std::lock_guard lock(mutex_);
    if (started_) return fail("service " + spec.name + ": declared after start");
    if (!spec.main) return fail("service " + spec.name + ": no main coroutine");
    for (const auto& s : services_)
      if (s->spec.name == spec.name) return fail("service " + spec.name + ": declared twice");
    auto service = std::make_unique<Service>(Service{.spec = std::move(spec), .strand = swarmsync::make_strand(executor_)});
    service->info.name = service->spec.name;
    services_.push_back(std::move(service));
    return {};
  }

  BootReport check_wiring() const {
    std::lock_guard lock(mutex_);
    return check_wiring_locked();
  }

  Result<void, BootReport> start() {
    std::vector<Service*> to_start;
    {
      std::lock_guard lock(mutex_);
      BootReport report = check_wiring_locked();
      if (started_) report.errors.push_back("the supervisor was already started");
      if (!report.ok()) {
        system_->logger().error("boot stopped by the wiring check:\n{}", report.table());
        return Result<void, BootReport>(boost::system::in_place_error, std::move(report));
      }
      system_->logger().info("boot:\n{}", report.table());
      started_ = true;
      for (auto& s : services_) to_start.push_back(s.get());
    }
    advance(SystemState{.phase = SystemState::running});
    for (Service* s : to_start) {
      log_decision(spdlog::level::info, s->spec.name, "started", {{"policy", to_string(s->spec.restart)}});
      spawn(*s);
    }
    if (options_.run_pulses) start_pulses();
    broadcast(Startup{});
    return {};
  }

  void handle_signals() {
    asio::dispatch(strand_, [self = this->shared_from_this()] {
      if (self->signals_) return;
      self->signals_.emplace(self->strand_, SIGINT, SIGTERM);
      self->signals_->async_wait([self](boost::system::error_code ec, int signal) {
        if (!ec) self->begin_shutdown("signal " + std::to_string(signal), {});
      });
    });
  }

  SwapFuture replace(std::string_view name, ErasedMain main) {
    std::unique_lock lock(mutex_);
    Service* s = find(name);
    if (!s) return refused("no service named " + std::string(name));
    if (!main) return refused("service " + s->spec.name + ": no main coroutine to swap in");
    if (shutting_down_) return refused("service " + s->spec.name + ": shutting down");
    if (s->swap_to) return refused("service " + s->spec.name + ": a swap is already in progress");
    if (!s->current) {  // not running now (restarting or stopped): the next start uses `main`
      s->spec.main = std::move(main);
      ++s->info.swaps;
      const auto swaps = s->info.swaps;
      lock.unlock();
      log_decision(spdlog::level::info, s->spec.name, "swapped",
                   {{"took_ms", "0.000"}, {"swaps", std::to_string(swaps)}, {"applies", "next_start"}});
      std::promise<Result<SwapReport, SupervisorError>> p;
      p.set_value(SwapReport{s->spec.name, std::chrono::nanoseconds(0)});
      return p.get_future();
    }
    return stop_for(*s, std::move(main), false);
  }

  SwapFuture restart(std::string_view name) {
    std::unique_lock lock(mutex_);
    Service* s = find(name);
    if (!s) return refused("no service named " + std::string(name));
    if (shutting_down_) return refused("service " + s->spec.name + ": shutting down");
    if (s->swap_to) return refused("service " + s->spec.name + ": a swap or restart is already in progress");
    if (!s->current) return refused("service " + s->spec.name + ": not running (" + to_string(s->info.state) + ")");
    return stop_for(*s, s->spec.main, true);
  }

  Snapshot snapshot() const {
    Snapshot snap;
    std::vector<std::shared_ptr<SupervisedInstance>> running;
    {
      std::lock_guard lock(mutex_);
      for (const auto& s : services_) {
        snap.services.push_back(s->info);
        running.push_back(s->current);
      }
    }
    // The running instances' event receivers, read outside the lock: an instance's receiver
    // lives as long as the instance, and its position may be read from any thread.
    for (std::size_t i = 0; i < running.size(); ++i) {
      if (!running[i]) continue;
      if (running[i]->reads_core_events()) snap.services[i].events_behind = running[i]->events_behind();
      snap.services[i].events_missed += running[i]->events_missed();
    }
    for (const auto& c : system_->wiring())
      snap.channels.push_back({c.name, c.depth, c.sent, c.received, c.tx_holder, c.rx_holder, c.high_water,
                               c.refused, c.senders, c.open ? std::size_t{1} : std::size_t{0}, c.where});
    snap.events_sent = system_->events_sent();
    snap.events_lagged = system_->events_lagged();
    return snap;
  }

  void begin_shutdown(std::string reason, std::string error) {
    std::unique_lock lock(mutex_);
    if (shutting_down_) return;
    shutting_down_ = true;
    report_.reason = std::move(reason);
    report_.error = std::move(error);
    const bool was_started = started_;
    std::vector<std::pair<Service*, std::shared_ptr<SupervisedInstance>>> running;
    for (auto& s : services_) {
      cancel_timer(*s);  // a pending restart will not happen
      if (s->swap_to) {
        s->swap_to.reset();
        s->swap_done.set_value(Result<SwapReport, SupervisorError>(
            boost::system::in_place_error, SupervisorError{"service " + s->spec.name + ": shutting down"}));
      }
      if (s->current) {
        s->info.state = ServiceState::stopping;
        running.emplace_back(s.get(), s->current);
      } else if (s->info.state != ServiceState::failed) {
        s->info.state = ServiceState::stopped;
      }
    }
    lock.unlock();
    advance(SystemState{.phase = SystemState::shutting_down, .reason = report_.reason, .error = report_.error});
    {
      std::vector<std::pair<std::string, std::string>> fields{{"reason", report_.reason}};
      if (!report_.error.empty()) fields.emplace_back("error", report_.error);
      log_decision(report_.error.empty() ? spdlog::level::info : spdlog::level::warn, "supervisor", "shutdown",
                   std::move(fields));
    }
    if (was_started) broadcast(Shutdown{report_.reason});
    stop_pulses();
    for (auto& entry : running) {
      Service* s = entry.first;
      asio::dispatch(s->strand, [self = this->shared_from_this(), s, inst = entry.second] {
        inst->request_stop(true);
        self->arm_grace_timer(*s, inst);
      });
    }
    lock.lock();
    maybe_finish(lock);
  }

  std::shared_future<ShutdownReport> finished() const { return finished_future_; }

  watch::Receiver<SystemState> state() const { return state_.subscribe(); }

 private:
  // Moves the published phase forward to `next`'s; a phase already reached or passed is left
  // as it is (the last instance may end, and the shutdown finish, on another thread before
  // begin_shutdown has published `shutting_down`).
  void advance(SystemState next) {
    (void)state_.send_if_modified([&next](SystemState& now) {
      if (now.phase >= next.phase) return false;
      now = std::move(next);
      return true;
    });
  }

  static Result<void, SupervisorError> fail(std::string why) {
    return Result<void, SupervisorError>(boost::system::in_place_error, SupervisorError{std::move(why)});
  }

  // A swap or restart refused: its future, ready with why.
  static SwapFuture refused(std::string why) {
    std::promise<Result<SwapReport, SupervisorError>> p;
    p.set_value(Result<SwapReport, SupervisorError>(boost::system::in_place_error, SupervisorError{std::move(why)}));
    return p.get_future();
  }

  // Asks `s`'s running instance to stop so that `main` starts in its place (a swap, or with
  // `is_restart` the same main again); the future is ready once it started. Under mutex_.
  SwapFuture stop_for(Service& s, ErasedMain main, bool is_restart) {
    s.swap_to = std::move(main);
    s.swap_is_restart = is_restart;
    s.swap_started = std::chrono::steady_clock::now();
    s.swap_done = {};
    auto future = s.swap_done.get_future();
    asio::dispatch(s.strand, [inst = s.current] { inst->request_stop(false); });
    return future;
  }

  Service* find(std::string_view name) {
    for (auto& s : services_)
      if (s->spec.name == name) return s.get();
    return nullptr;
  }

  BootReport check_wiring_locked() const {
    BootReport report;
    for (const auto& s : services_) report.services.push_back(s->spec.name);
    std::map<ChannelId, std::pair<std::vector<std::string>, std::vector<std::string>>> declared;
    for (const auto& s : services_) {
      for (auto c : s->spec.produces) declared[c].first.push_back(s->spec.name);
      for (auto c : s->spec.consumes) declared[c].second.push_back(s->spec.name);
    }
    const auto wired = system_->wiring();
    for (const auto& c : wired) {
      BootReport::Channel row{c.name, {}, {}, c.tx_holder.empty() ? "free" : "taken by " + c.tx_holder,
                              c.rx_holder.empty() ? "free" : "taken by " + c.rx_holder, c.depth, c.where};
      if (auto it = declared.find(c.channel); it != declared.end()) {
        row.producers = it->second.first;
        row.consumers = it->second.second;
      }
      // A channel through a transport may have its producers, or its consumer, in other
      // processes: only what must be here is checked here.
      const bool remote = c.where != "in-process";
      if (!c.consumed_here) row.rx = "elsewhere";
      if (row.producers.empty() && !remote)
        report.errors.push_back("channel " + c.name + ": no service produces on it");
      if (row.consumers.empty() && c.consumed_here)
        report.errors.push_back("channel " + c.name + ": no service consumes it");
      if (!row.consumers.empty() && !c.consumed_here)
        report.errors.push_back("channel " + c.name + ": consumed by " + row.consumers.front() +
                                " here, but its rx lives in another process (" + c.where + ")");
      if (row.consumers.size() > 1) {
        std::string who;
        for (const auto& n : row.consumers) who += (who.empty() ? "" : " and ") + n;
        report.errors.push_back("channel " + c.name + ": rx taken twice, by " + who +
                                " (one consumer per channel)");
      }
      if (!c.rx_holder.empty())
        report.errors.push_back("channel " + c.name + ": rx already taken by " + c.rx_holder + " before boot");
      if (!c.tx_holder.empty())
        report.errors.push_back("channel " + c.name + ": tx already taken by " + c.tx_holder + " before boot");
      report.channels.push_back(std::move(row));
    }
    for (const auto& entry : declared) {
      const ChannelId channel = entry.first;
      const auto& users = entry.second;
      const bool exists =
          std::any_of(wired.begin(), wired.end(), [&](const auto& c) { return c.channel == channel; });
      if (exists) continue;
      std::string who;
      for (const auto& n : users.first) who += (who.empty() ? "" : ", ") + n;
      for (const auto& n : users.second) who += (who.empty() ? "" : ", ") + n;
      report.errors.push_back("channel " + system_->channel_name(channel) + ": declared by " + who + " but not in the wiring");
    }
    return report;
  }

  void broadcast(CoreEventOf<> event) { system_->broadcast(std::move(event)); }

  // Starts a new instance of `s` (its spec's `main`) on its strand.
  void spawn(Service& s) {
    std::shared_ptr<SupervisedInstance> inst;
    ErasedMain main;
    {
      std::lock_guard lock(mutex_);
      inst = system_->make_instance(s.spec.name, s.info.restarts);
      s.current = inst;
      s.info.state = ServiceState::running;
      main = s.spec.main;
    }
    auto self = this->shared_from_this();
    asio::post(s.strand, [self, svc = &s, inst, main = std::move(main)]() mutable {
      asio::co_spawn(
          svc->strand, [inst, main = std::move(main)]() -> asio::awaitable<void> { co_await main(*inst); },
          asio::bind_cancellation_slot(inst->cancellation_slot(), [self, svc, inst](std::exception_ptr e) {
            self->on_exit(*svc, inst, e);
          }));
    });
  }

  // An instance of `s` returned or threw; runs on the service's strand.
  void on_exit(Service& s, const std::shared_ptr<SupervisedInstance>& inst, std::exception_ptr e) {
    std::string error;
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const boost::system::system_error& x) {
        if (!(x.code() == asio::error::operation_aborted && inst->stop_requested())) error = x.what();
      } catch (const std::exception& x) {
        error = x.what();
      } catch (...) {
        error = "unknown exception";
      }
    }
    // A message the instance had taken out of a channel and not finished is gone with it.
    const std::uint64_t lost = e && inst->message_in_hand() ? 1 : 0;
    if (!error.empty())
      log_decision(spdlog::level::warn, s.spec.name, "failed", {{"error", error}, {"lost_in_hand", std::to_string(lost)}});
    std::unique_lock lock(mutex_);
    if (s.current == inst) s.current.reset();
    if (!error.empty()) {
      ++s.info.failures;
      s.info.last_error = error;
    }
    s.info.lost_in_hand += lost;
    s.info.events_missed += inst->events_missed();
    if (shutting_down_) {
      s.info.state = error.empty() ? ServiceState::stopped : ServiceState::failed;
      cancel_timer(s);
      maybe_finish(lock);
      return;
    }
    if (s.swap_to) {
      s.spec.main = std::move(*s.swap_to);
      s.swap_to.reset();
      const bool swapped = !s.swap_is_restart;
      ++(swapped ? s.info.swaps : s.info.restarts);
      const auto took = std::chrono::steady_clock::now() - s.swap_started;
      s.info.last_swap = std::chrono::duration_cast<std::chrono::nanoseconds>(took);
      auto done = std::move(s.swap_done);
      const auto restarts = s.info.restarts;
      const auto swaps = s.info.swaps;
      lock.unlock();
      log_decision(spdlog::level::info, s.spec.name, swapped ? "swapped" : "restarted",
                   {{"took_ms", millis(took)}, {swapped ? "swaps" : "restarts", std::to_string(swapped ? swaps : restarts)}});
      spawn(s);
      done.set_value(SwapReport{s.spec.name, std::chrono::duration_cast<std::chrono::nanoseconds>(took)});
      broadcast(ServiceRestarted{s.spec.name, restarts, swapped});
      return;
    }
    const bool failed = !error.empty();
    const bool restart = s.spec.restart == RestartPolicy::permanent ||
                         (s.spec.restart == RestartPolicy::transient && failed);
    if (!restart) {
      s.info.state = failed ? ServiceState::failed : ServiceState::stopped;
      lock.unlock();
      log_decision(spdlog::level::info, s.spec.name, "stopped",
                   {{"policy", to_string(s.spec.restart)}, {"state", failed ? "failed" : "stopped"}});
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    s.recent.push_back(now);
    while (!s.recent.empty() && now - s.recent.front() > options_.intensity.period) s.recent.pop_front();
    if (s.recent.size() > options_.intensity.max_restarts) {
      s.info.state = ServiceState::failed;
      std::string why = "service " + s.spec.name + " exceeded its restart intensity (" +
                        std::to_string(options_.intensity.max_restarts) + " restarts in " +
                        std::to_string(options_.intensity.period.count()) + " ms)";
      if (!s.info.last_error.empty()) why += "; last error: " + s.info.last_error;
      const std::string last_error = s.info.last_error;
      lock.unlock();
      log_decision(spdlog::level::err, s.spec.name, "gave_up",
                   {{"max_restarts", std::to_string(options_.intensity.max_restarts)},
                    {"period_ms", std::to_string(options_.intensity.period.count())},
                    {"last_error", last_error}});
      begin_shutdown("restart intensity exceeded", std::move(why));
      return;
    }
    ++s.info.restarts;
    s.info.state = ServiceState::restarting;
    auto delay = options_.backoff.initial;
    for (std::size_t i = 1; i < s.recent.size() && delay < options_.backoff.max; ++i) delay *= 2;
    delay = std::min(delay, options_.backoff.max);
    const auto restarts = s.info.restarts;
    auto log_restarting = [&] {
      log_decision(spdlog::level::info, s.spec.name, "restarting",
                   {{"restart", std::to_string(restarts)},
                    {"backoff_ms", std::to_string(delay.count())},
                    {"after", failed ? "failure" : "return"}});
    };
    if (delay.count() == 0) {
      lock.unlock();
      log_restarting();
      spawn(s);
    } else {
      s.timer = std::make_shared<asio::steady_timer>(s.strand, delay);
      lock.unlock();
      log_restarting();
      s.timer->async_wait([self = this->shared_from_this(), svc = &s](boost::system::error_code ec) {
        if (ec) return;
        {
          std::lock_guard relock(self->mutex_);
          if (self->shutting_down_) return;
        }
        self->spawn(*svc);
      });
    }
    broadcast(ServiceRestarted{s.spec.name, restarts, false, std::move(error), lost});
  }

  // Cancels the service's backoff or grace timer, on the service's strand. Lock held.
  static void cancel_timer(Service& s) {
    if (auto timer = s.timer) asio::dispatch(s.strand, [timer] { timer->cancel(); });
  }

  // Cancels `inst` if it still runs after its grace period. On the service's strand.
  void arm_grace_timer(Service& s, const std::shared_ptr<SupervisedInstance>& inst) {
    auto timer = std::make_shared<asio::steady_timer>(s.strand, s.spec.shutdown_grace);
    {
      std::lock_guard lock(mutex_);
      s.timer = timer;
    }
    timer->async_wait([self = this->shared_from_this(), svc = &s, inst](boost::system::error_code ec) {
      if (ec) return;
      {
        std::lock_guard lock(self->mutex_);
        if (svc->current != inst) return;
        self->report_.cancelled.push_back(svc->spec.name);
      }
      inst->force_cancel();  // on the service's strand: the timer runs there
    });
  }

  // Completes the shutdown once no instance runs. Called with the lock held.
  void maybe_finish(std::unique_lock<std::mutex>& lock) {
    if (!shutting_down_ || finished_) return;
    for (const auto& s : services_)
      if (s->current) return;
    finished_ = true;
    for (const auto& s : services_) {
      cancel_timer(*s);
      report_.services.push_back(s->info);
    }
    ShutdownReport report = report_;
    lock.unlock();
    for (const auto& c : system_->wiring())
      if (c.depth) report.unhandled.push_back({c.name, c.depth});
    log_shutdown_done(report);
    asio::dispatch(strand_, [self = this->shared_from_this()] {
      if (self->signals_) self->signals_->cancel();
    });
    SystemState last{.phase = SystemState::finished, .reason = report.reason, .error = report.error};
    done_.set_value(std::move(report));
    advance(std::move(last));
    lock.lock();
  }

  // Writes one line of the decision log (header comment), unless the logger drops its level.
  void log_decision(spdlog::level::level_enum level, const std::string& service, const char* event,
                    std::vector<std::pair<std::string, std::string>> fields) const {
    auto& logger = system_->logger();
    if (!logger.should_log(level)) return;
    logger.log(level, "{}", format_log_record(LogRecord{service, event, std::move(fields)}));
  }

  // `d` in milliseconds with three decimals ("0.412").
  static std::string millis(std::chrono::nanoseconds d) {
    char text[64];
    std::snprintf(text, sizeof text, "%.3f", std::chrono::duration<double, std::milli>(d).count());
    return text;
  }

  // The last line of the decision log: what the shutdown left.
  void log_shutdown_done(const ShutdownReport& report) const {
    std::size_t total = 0;
    for (const auto& u : report.unhandled) total += u.queued;
    std::vector<std::pair<std::string, std::string>> fields{{"unhandled", std::to_string(total)}};
    for (const auto& u : report.unhandled) fields.emplace_back("left." + log_key(u.channel), std::to_string(u.queued));
    std::string cancelled;
    for (const auto& name : report.cancelled) cancelled += (cancelled.empty() ? "" : ",") + name;
    if (!cancelled.empty()) fields.emplace_back("cancelled", cancelled);
    log_decision(cancelled.empty() ? spdlog::level::info : spdlog::level::warn, "supervisor", "shutdown_done",
                 std::move(fields));
  }

  void start_pulses() {
    for (PulseRate rate : {PulseRate::slow, PulseRate::medium, PulseRate::fast}) {
      asio::co_spawn(strand_, pulse(this->shared_from_this(), rate),
                     asio::bind_cancellation_slot(pulse_stop_[static_cast<int>(rate)].slot(), asio::detached));
    }
  }

  void stop_pulses() {
    asio::dispatch(strand_, [self = this->shared_from_this()] {
      self->pulses_stopped_ = true;
      for (auto& signal : self->pulse_stop_) signal.emit(asio::cancellation_type::terminal);
    });
  }

  static asio::awaitable<void> pulse(std::shared_ptr<State> self, PulseRate rate) {
    asio::steady_timer timer(self->strand_);
    for (std::uint64_t n = 1; !self->pulses_stopped_; ++n) {
      timer.expires_after(self->system_->pulses().period(rate));
      co_await timer.async_wait(asio::use_awaitable);
      (void)self->system_->pulses().sender(rate).send(Tick{rate, n});
      if (rate == PulseRate::slow) self->broadcast(Tick{rate, n});
    }
  }

  asio::any_io_executor executor_;
  asio::any_io_executor strand_;  // signals and pulses
  std::shared_ptr<SupervisedSystem> system_;
  SupervisorOptions options_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Service>> services_;
  bool started_ = false;
  bool shutting_down_ = false;
  bool finished_ = false;
  ShutdownReport report_;
  std::promise<ShutdownReport> done_;
  std::shared_future<ShutdownReport> finished_future_;
  // The system's phase, moved only forward (see `advance`).
  watch::Sender<SystemState> state_;
  std::optional<asio::signal_set> signals_;         // strand_ only
  asio::cancellation_signal pulse_stop_[3];         // strand_ only
  bool pulses_stopped_ = false;                     // strand_ only
};

SupervisorCore::SupervisorCore(asio::any_io_executor executor, std::shared_ptr<SupervisedSystem> system,
                               SupervisorOptions options)
    : state_(std::make_shared<State>(std::move(executor), std::move(system), options)) {}

Result<void, SupervisorError> SupervisorCore::add_service(ErasedSpec spec) { return state_->add_service(std::move(spec)); }
BootReport SupervisorCore::check_wiring() const { return state_->check_wiring(); }
Result<void, BootReport> SupervisorCore::start() { return state_->start(); }
void SupervisorCore::request_shutdown(std::string reason, std::string error) {
  state_->begin_shutdown(std::move(reason), std::move(error));
}
void SupervisorCore::handle_signals() { state_->handle_signals(); }
SwapFuture SupervisorCore::replace(std::string_view name, ErasedMain main) { return state_->replace(name, std::move(main)); }
SwapFuture SupervisorCore::restart(std::string_view name) { return state_->restart(name); }
Snapshot SupervisorCore::snapshot() const { return state_->snapshot(); }
std::shared_future<ShutdownReport> SupervisorCore::finished() const { return state_->finished(); }
watch::Receiver<SystemState> SupervisorCore::state() const { return state_->state(); }

}  // namespace swarmsync::detail
