#include "workers/simulated_worker.hpp"

#include <swarmsync/runtime/strand.hpp>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>
#include <string>
#include <utility>

#include "model/ring_queue.hpp"

namespace core {

namespace {

using Clock = std::chrono::steady_clock;
using Strand = asio::any_io_executor;  // a strand (swarmsync::make_strand)

// What the worker and its running jobs share; touched only on the worker's strand.
struct WorkerState {
  WorkerState(std::shared_ptr<Shared> s, WorkerOptions o, std::shared_ptr<WorkerControl> c, Strand st)
      : shared(std::move(s)),
        options(o),
        control(std::move(c)),
        strand(std::move(st)),
        dispatcher(shared->wiring->get_tx(ChannelType::ToDispatcher).value()),
        harvester(shared->wiring->get_tx(ChannelType::ToHarvester).value()),
        rng(options.seed) {}

  // True while results of jobs started in `in_session` are to be sent.
  bool reporting(std::uint64_t in_session) const noexcept {
    return in_session == session && !control->is_silent() && !control->is_killed();
  }

  std::shared_ptr<Shared> shared;
  WorkerOptions options;
  std::shared_ptr<WorkerControl> control;
  Strand strand;
  mpsc::UnboundedSender<EventPayload> dispatcher;
  mpsc::UnboundedSender<EventPayload> harvester;
  std::mt19937_64 rng;
  std::uint64_t session = 0;  // one per registration
  unsigned running = 0;       // jobs of this session running
  unsigned running_all = 0;   // jobs running, of any session
  RingQueue<Job> waiting;     // jobs of this session beyond capacity
};

void start_waiting(const std::shared_ptr<WorkerState>& w);

// One run of a job on the worker: what its report names, and how it ends.
struct Run {
  JobId id = 0;
  std::uint64_t run = 0;
  unsigned attempt = 0;
  std::uint64_t placement = 0;
  std::uint64_t session = 0;  // the registration it came by
  Clock::time_point started{};
  bool ok = true;
  std::string error;
};

// Ends `r`: reports it, if the worker is still connected through the session it came by, and
// starts the next waiting job.
void finish(const std::shared_ptr<WorkerState>& w, Run& r) {
  const auto finished = Clock::now();
  w->control->count_job();
  --w->running_all;
  if (r.session == w->session) --w->running;
  if (w->reporting(r.session)) {
    const WorkerId id = w->options.id;
    (void)w->harvester.send(Outcome{r.id, r.run, r.attempt, id, r.ok, std::move(r.error), r.started, finished, r.placement});
    (void)w->dispatcher.send(Finished{id, r.id, r.run, r.placement});
  }
  start_waiting(w);
}

asio::awaitable<void> finish_after(std::shared_ptr<WorkerState> w, Run r, Clock::duration work) {
  asio::steady_timer timer(w->strand);
  timer.expires_after(work);
  co_await timer.async_wait(asio::use_awaitable);
  finish(w, r);
}

// Runs `job` (on the worker's strand).
void start(const std::shared_ptr<WorkerState>& w, const Job& job) {
  Run r{job.id, job.run, job.attempt, job.placement, w->session, Clock::now()};
  if (job.attempt < job.spec.fail_attempts) {
    r.ok = false;
    r.error = "simulated failure on attempt " + std::to_string(job.attempt);
  } else if (w->options.failure_rate > 0.0 &&
             std::bernoulli_distribution(std::min(w->options.failure_rate, 1.0))(w->rng)) {
    r.ok = false;
    r.error = "simulated random failure";
  }
  const double speed = w->options.speed > 0.0 ? w->options.speed : 1.0;
  if (const auto work = std::chrono::duration_cast<Clock::duration>(job.spec.work / speed); work > Clock::duration::zero()) {
    asio::co_spawn(w->strand, finish_after(w, std::move(r), work), asio::detached);
    return;
  }
  // A job of no work is done at once, after a turn of the strand (finishing inline would run
  // start_waiting inside itself). No timer: a zero timer is the reactor's earliest, so arming it
  // and seeing it expire cost two timerfd updates and a wake-up of the thread in epoll. No
  // coroutine either: a plain handler of the run's few numbers.
  asio::post(w->strand, [w, r = std::move(r)]() mutable { finish(w, r); });
}

// Starts waiting jobs of the current session while there is room.
void start_waiting(const std::shared_ptr<WorkerState>& w) {
  while (w->running < w->options.capacity && !w->waiting.empty()) {
    ++w->running;
    ++w->running_all;
    start(w, w->waiting.front());
    w->waiting.pop_front();
  }
}

asio::awaitable<void> sleep_for(const std::shared_ptr<WorkerState>& w, Clock::duration d) {
  asio::steady_timer timer(w->strand);
  timer.expires_after(d);
  co_await timer.async_wait(asio::use_awaitable);
}

// One session per registration, until killed or left without work.
asio::awaitable<void> work(std::shared_ptr<WorkerState> w) {
  WorkerControl& control = *w->control;
  const WorkerOptions& o = w->options;
  for (;;) {
    if (control.is_killed()) co_return;
    auto channel = o.make_inbox ? o.make_inbox() : mpsc::unbounded_channel<RunJob>();
    mpsc::Receiver<RunJob> inbox = std::move(channel.second);
    ++w->session;
    w->running = 0;
    w->waiting.clear();
    if (!w->dispatcher.send(Register{o.id, o.capacity, std::move(channel.first)})) co_return;
    control.count_registration();

    auto next_beat = Clock::now() + o.heartbeat;
    for (;;) {
      auto msg = co_await inbox.recv_until(next_beat);
      if (control.is_killed()) co_return;
      if (control.is_silent()) break;
      if (msg) {
        w->waiting.push_back(std::move(msg->job));
        start_waiting(w);
      } else if (msg.error() == mpsc::RecvTimeoutError::disconnected) {
        if (w->running_all == 0) co_return;  // nobody can send it work, and none is left
        co_await sleep_for(w, next_beat - Clock::now());
      }
      if (const auto now = Clock::now(); now >= next_beat) {
        (void)w->dispatcher.send(Heartbeat{o.id, w->running, o.capacity});
        next_beat = now + o.heartbeat;
      }
    }
    // Silent: the inbox is left unread and is closed when the next session starts.
    while (control.is_silent() && !control.is_killed()) co_await sleep_for(w, o.heartbeat);
  }
}

}  // namespace

asio::awaitable<void> run_worker(std::shared_ptr<Shared> shared, WorkerOptions options,
                                 std::shared_ptr<WorkerControl> control) {
  Strand strand = swarmsync::make_strand(co_await asio::this_coro::executor);
  auto w = std::make_shared<WorkerState>(std::move(shared), options, std::move(control), strand);
  co_await asio::co_spawn(strand, work(std::move(w)), asio::use_awaitable);
}

}  // namespace core
