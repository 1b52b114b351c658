#include "services/dispatcher.hpp"

#include <algorithm>
#include <utility>

namespace core {

std::size_t DispatcherState::reachable_workers() const noexcept {
  std::size_t n = 0;
  for (const auto& entry : workers_) n += entry.second.reachable ? 1 : 0;
  return n;
}

std::vector<WorkerId> DispatcherState::unreachable_workers() const {
  std::vector<WorkerId> ids;
  for (const auto& [id, w] : workers_)
    if (!w.reachable) ids.push_back(id);
  return ids;
}

unsigned DispatcherState::free_slots() const noexcept {
  unsigned n = 0;
  for (const auto& entry : workers_) n += entry.second.free_slots();
  return n;
}

std::size_t DispatcherState::held_jobs() const noexcept {
  std::size_t n = 0;
  for (const auto& entry : workers_) n += entry.second.held.size();
  return n;
}

std::vector<Job> DispatcherState::pending() const {
  std::vector<Job> out;
  out.reserve(pending_.size());
  for (std::size_t i = 0; i < pending_.size(); ++i) out.push_back(pending_[i].job);
  return out;
}

std::size_t DispatcherState::keep_in(std::shared_ptr<DispatcherJournal> journal) {
  journal_ = std::move(journal);
  if (!journal_) return 0;
  auto kept = journal_->load();
  std::size_t taken = 0;
  std::sort(kept.pending.begin(), kept.pending.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [order, job] : kept.pending) {
    pending_.push_back({std::move(job), order, true});
    arrivals_ = std::max(arrivals_, order);
    ++taken;
  }
  const auto now = Clock::now();
  for (auto& [id, job] : kept.held) {
    auto [it, added] = workers_.try_emplace(id);
    Worker& w = it->second;
    if (added) {
      const auto capacity = kept.capacities.find(id);
      w.capacity = capacity != kept.capacities.end() ? capacity->second : 0;
      w.last_seen = now;  // heard of now: lost if silent for the timeout from here
    }
    placements_ = std::max(placements_, job.placement);
    w.held.push_back(std::move(job));
    ++taken;
  }
  placements_ = std::max(placements_, kept.placements);
  reserved_ = placements_;
  return taken;
}

std::vector<Job> DispatcherState::held() const {
  std::vector<Job> out;
  for (const auto& entry : workers_) out.insert(out.end(), entry.second.held.begin(), entry.second.held.end());
  return out;
}

namespace detail {

// One instance's handling of messages over the state it shares with the others. Each handler
// leaves the state settled: no job pending while a slot is free, and credit sent for every free
// slot beyond the credit the Scheduler holds.
class DispatcherCore {
 public:
  using Clock = DispatcherState::Clock;
  using Worker = DispatcherState::Worker;

  DispatcherCore(Context& ctx, DispatcherState& state, DispatcherOptions options,
                 const mpsc::UnboundedSender<EventPayload>& scheduler,
                 const mpsc::UnboundedSender<EventPayload>& harvester)
      : ctx_(ctx), s_(state), options_(options), scheduler_(scheduler), harvester_(harvester) {}

  void handle(EventPayload& msg, Clock::time_point now) {
    if (auto* d = std::get_if<Dispatch>(&msg)) {
      if (s_.credit_held_ > 0) --s_.credit_held_;
      s_.pending_.push_back({std::move(d->job), ++s_.arrivals_});  // through the queue: placed in FIFO order
      settle();
    } else if (auto* r = std::get_if<Register>(&msg)) {
      on_register(*r, now);
    } else if (auto* h = std::get_if<Heartbeat>(&msg)) {
      auto it = s_.workers_.find(h->worker);
      if (it != s_.workers_.end()) {
        it->second.last_seen = now;
        if (!it->second.reachable) revive(it->first, it->second);
      }
    } else if (auto* f = std::get_if<Finished>(&msg)) {
      on_finished(*f, now);
    } else {
      ctx_.shared()->logger->warn("{}: ignored a message that is not for the Dispatcher", ctx_.name());
    }
    publish();
  }

  // Loses every reachable worker not seen for longer than the heartbeat timeout.
  void check_silence(Clock::time_point now) {
    for (auto& entry : s_.workers_) {
      Worker& w = entry.second;
      if (!w.reachable || now - w.last_seen <= options_.heartbeat_timeout) continue;
      const auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(now - w.last_seen);
      lose(entry.first, w, "silent for " + std::to_string(silent.count()) + " ms");
    }
    publish();
    publish_table();
  }

  // Copies the worker table for watchers (DispatcherState::worker_table).
  void publish_table() {
    std::vector<DispatcherState::WorkerRow> rows;
    rows.reserve(s_.workers_.size());
    for (const auto& [id, w] : s_.workers_) rows.push_back({id, w.capacity, w.held.size(), w.last_seen, w.reachable});
    std::lock_guard lock(s_.table_mutex_);
    s_.table_.swap(rows);
  }

  // Updates the gauges a watcher reads (see DispatcherState::reachable_now).
  void publish() {
    s_.reachable_now.store(s_.reachable_workers(), std::memory_order_relaxed);
    s_.lost_now.store(s_.lost_, std::memory_order_relaxed);
  }

  // Places pending jobs while a slot is free. The free slots left are credited by `credit`.
  void settle() {
    while (!s_.pending_.empty()) {
      auto target = pick();
      if (target == s_.workers_.end()) break;
      if (place(target->first, target->second, s_.pending_.front())) s_.pending_.pop_front();
    }
    // What waits now is kept; a job placed at once never is (the queue is FIFO: from the first
    // one not kept on, none is).
    if (s_.journal_)
      for (std::size_t i = s_.pending_.size(); i > 0 && !s_.pending_[i - 1].kept; --i) {
        auto& waiting = s_.pending_[i - 1];
        s_.journal_->waiting(waiting.order, waiting.job);
        waiting.kept = true;
      }
  }

  // Credits the free slots the Scheduler does not hold credit for (one `Credit` for all of them).
  void credit() {
    const unsigned free = s_.free_slots();
    if (free > s_.credit_held_) {
      scheduler_.send(Credit{free - s_.credit_held_}).value();
      s_.credit_held_ = free;
    }
  }

 private:
  void on_register(Register& r, Clock::time_point now) {
    if (r.inbox.is_closed()) {
      auto inbox = options_.inbox_of ? options_.inbox_of(r.worker) : std::nullopt;
      if (!inbox) {
        ctx_.shared()->logger->error("{}: worker {} registered with no open inbox: not taken", ctx_.name(), r.worker);
        return;
      }
      r.inbox = std::move(*inbox);
    }
    auto [it, added] = s_.workers_.try_emplace(r.worker);
    Worker& w = it->second;
    if (!added && r.resumed) {
      // Heard from again by a new gateway (a node of the Dispatcher killed and started again):
      // it runs what it held.
      ctx_.shared()->logger->info("{}: worker {} is back with {} job(s) it holds", ctx_.name(), r.worker, w.held.size());
    } else if (!added && w.reachable && !w.held.empty()) {
      // The worker started over: what it held will not be reported.
      const std::size_t n = take_back(r.worker, w);
      ctx_.shared()->logger->info("{}: worker {} registered again; {} job(s) sent back to the Scheduler", ctx_.name(),
                                  r.worker, n);
    } else if (!added && !w.reachable) {
      ctx_.shared()->logger->info("{}: worker {} is reachable again", ctx_.name(), r.worker);
    }
    if (s_.journal_ && w.capacity != r.capacity) s_.journal_->registered(r.worker, r.capacity);
    w.capacity = r.capacity;
    w.inbox = std::move(r.inbox);
    if (!r.resumed) w.held.clear();
    w.last_seen = now;
    w.reachable = true;
    settle();
    publish_table();  // a worker (re)registered: watchers see it at once, not at the next check
  }

  void on_finished(const Finished& f, Clock::time_point now) {
    auto it = s_.workers_.find(f.worker);
    if (it == s_.workers_.end() || !it->second.reachable) return;  // its jobs were taken back
    Worker& w = it->second;
    w.last_seen = now;
    for (auto job = w.held.begin(); job != w.held.end(); ++job) {
      if (job->id == f.job && job->run == f.run && job->placement == f.placement) {
        if (s_.journal_) s_.journal_->finished(f.worker, *job);
        w.held.erase(job);
        settle();
        return;
      }
    }
  }

  // The reachable worker with the most free slots, the lowest id on a tie; end() if none has one.
  std::map<WorkerId, Worker>::iterator pick() {
    auto best = s_.workers_.end();
    unsigned most = 0;
    for (auto it = s_.workers_.begin(); it != s_.workers_.end(); ++it) {
      if (const unsigned free = it->second.free_slots(); free > most) {
        most = free;
        best = it;
      }
    }
    return best;
  }

  // Sends the waiting job to `w` (the Harvester hears of it first). A closed inbox loses the
  // worker and places nothing: the job is left waiting as it was. The job moves from the queue to
  // the worker's list; the Harvester and the worker each get a copy.
  bool place(WorkerId id, Worker& w, DispatcherState::Waiting& waiting) {
    Job& job = waiting.job;
    const std::uint64_t placement = s_.placements_ + 1;
    if (s_.journal_ && placement > s_.reserved_) {
      // Stored before the number goes out: a Dispatcher that takes over never gives it again.
      s_.journal_->placements_up_to(placement + kPlacementsReserved);
      s_.reserved_ = placement + kPlacementsReserved;
    }
    if (w.held.size() == w.held.capacity())        // may throw: nothing changed
      w.held.reserve(std::max<std::size_t>(4, 2 * w.held.size()));
    job.history.push_back(JobStatus::dispatched);  // likewise
    const std::uint64_t before = std::exchange(job.placement, placement);
    s_.placements_ = placement;
    // Takes the placement's marks off the job if it is not placed (a closed inbox, a throw).
    auto unmark = [&] {
      job.history.pop_back();
      job.placement = before;
    };
    bool sent = false;
    try {
      harvester_.send(Expect{job, id}).value();
      sent = static_cast<bool>(w.inbox->send(RunJob{job}));
      if (!sent) {
        harvester_.send(Forget{job.id, job.run, id, job.placement}).value();
      } else if (s_.journal_) {
        s_.journal_->placed(id, job, waiting.kept ? std::optional(waiting.order) : std::nullopt);
      }
    } catch (...) {
      unmark();
      throw;
    }
    if (!sent) {
      unmark();
      lose(id, w, "its inbox is closed");
      return false;
    }
    w.held.push_back(std::move(job));  // room reserved above: cannot throw
    return true;
  }

  // Sends each job `w` holds back to the Scheduler and has the Harvester forget it.
  std::size_t take_back(WorkerId id, Worker& w) {
    auto jobs = std::exchange(w.held, {});
    for (auto& job : jobs) {
      harvester_.send(Forget{job.id, job.run, id, job.placement}).value();
      job.history.push_back(JobStatus::ready);
      scheduler_.send(Ready{job}).value();
      if (s_.journal_) s_.journal_->taken_back(id, job);  // after the send: the journal fences it
    }
    return jobs.size();
  }

  // A lost worker's inbox is kept (nothing is placed on an unreachable worker): if it was only
  // late (its heartbeats held up on the way, as over a busy network), its next heartbeat makes
  // it reachable again. The jobs taken back from it stay taken back; what it reports of them is
  // of an earlier placement and frees nothing.
  void lose(WorkerId id, Worker& w, const std::string& why) {
    w.reachable = false;
    const std::size_t n = take_back(id, w);
    ++s_.lost_;
    ctx_.shared()->logger->warn("{}: worker {} lost ({}); {} job(s) sent back to the Scheduler", ctx_.name(), id, why,
                                n);
  }

  // A heartbeat from a lost worker: reachable again if its inbox is still open, with all its
  // capacity (it is told nothing of the jobs taken back; those it still runs delay the new ones).
  void revive(WorkerId id, Worker& w) {
    if (!w.inbox || w.inbox->is_closed()) return;
    w.reachable = true;
    ++s_.revived_;
    ctx_.shared()->logger->warn("{}: worker {} heard from again after it was lost; reachable again", ctx_.name(), id);
    settle();
  }

  // Placement numbers stored ahead in the journal at a time (one blocking store per so many).
  static constexpr std::uint64_t kPlacementsReserved = 1024;

  Context& ctx_;
  DispatcherState& s_;
  DispatcherOptions options_;
  const mpsc::UnboundedSender<EventPayload>& scheduler_;
  const mpsc::UnboundedSender<EventPayload>& harvester_;
};

}  // namespace detail

namespace {

// The most messages the Dispatcher handles before it credits the slots they freed.
constexpr unsigned kCreditEvery = 32;

asio::awaitable<void> run(Context& ctx, std::shared_ptr<DispatcherState> state, DispatcherOptions options,
                          FaultHook fault) {
  using Clock = DispatcherState::Clock;
  auto& wiring = *ctx.shared()->wiring;
  auto inbox = wiring.take_rx(ChannelType::ToDispatcher, ctx.name()).value();
  // ToScheduler is the Scheduler's inbox with several producers: the Receiver takes its tx, the
  // others add senders. The Dispatcher feeds ToHarvester first (workers add senders).
  auto scheduler = wiring.get_tx(ChannelType::ToScheduler).value();
  auto harvester = wiring.take_tx(ChannelType::ToHarvester, ctx.name()).value();
  detail::DispatcherCore core(ctx, *state, options, scheduler, harvester);

  core.settle();
  core.credit();
  auto next_check = Clock::now();  // a new instance checks once its inbox is drained
  unsigned uncredited = 0;         // messages handled since the last `credit`
  for (;;) {
    auto msg = co_await ctx.recv_until(inbox, next_check);
    const auto now = Clock::now();  // one reading a message: when it came, and for the check
    if (msg) {
      if (fault) fault(*msg);
      core.handle(*msg, now);
    } else if (msg.error() == mpsc::RecvTimeoutError::disconnected) {
      break;
    }
    // Credit goes out once the inbox is drained (the slots freed by a burst of `Finished` in one
    // `Credit`, and the Scheduler woken once for them), and at least every kCreditEvery messages.
    if (++uncredited >= kCreditEvery || inbox.is_empty()) {
      core.credit();
      uncredited = 0;
    }
    // Messages already queued are handled first (a restarted instance finds the heartbeats sent
    // while it was down), unless that would delay the check by a whole timeout.
    if (now >= next_check && (inbox.is_empty() || now >= next_check + options.heartbeat_timeout)) {
      core.check_silence(now);
      next_check = now + options.check_every;
    }
  }
}

}  // namespace

Service dispatcher(std::shared_ptr<DispatcherState> state, DispatcherOptions options, FaultHook fault) {
  // Not a coroutine itself: the coroutine gets its own copies of `state`, `options` and `fault`.
  return [state, options, fault](Context& ctx) { return run(ctx, state, options, fault); };
}

}  // namespace core
