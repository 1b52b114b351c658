// The connection wrapper (connection.hpp): cnats's connection, its JetStream context, and the
// counters fed by cnats's callbacks.

#include "swarmsync/transport/nats/connection.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <utility>

namespace swarmsync::nats {

NatsError NatsError::from_status(std::string_view operation, natsStatus status, int js_code) {
  std::string message(operation);
  message += ": ";
  message += natsStatus_GetText(status);
  natsStatus last = NATS_OK;
  // cnats keeps the last error of the calling thread; it names what went wrong more precisely.
  if (const char* text = nats_GetLastError(&last); text != nullptr && *text != '\0') {
    message += " (";
    message += text;
    message += ")";
  }
  if (js_code != 0) message += " [jetstream error " + std::to_string(js_code) + "]";
  return NatsError{status, js_code, std::move(message)};
}

NatsError NatsError::invalid(std::string_view operation, std::string_view why) {
  std::string message(operation);
  message += ": ";
  message += why;
  return NatsError{NATS_INVALID_ARG, 0, std::move(message)};
}

struct Connection::State {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  std::chrono::milliseconds jetstream_wait{};
  // Metrics only: nothing else is published through these counters, so relaxed increments and
  // loads suffice (each read sees some recent count).
  std::atomic<std::uint64_t> disconnects{0};
  std::atomic<std::uint64_t> reconnects{0};
  // Set by the closed callback, cnats's last callback for this connection (it is posted after the
  // disconnected one on the same callback thread); the destructor waits for it.
  std::mutex mutex;
  std::condition_variable closed_cv;
  bool closed = false;

  static void on_disconnected(natsConnection*, void* closure) {
    static_cast<State*>(closure)->disconnects.fetch_add(1, std::memory_order_relaxed);
  }
  static void on_reconnected(natsConnection*, void* closure) {
    static_cast<State*>(closure)->reconnects.fetch_add(1, std::memory_order_relaxed);
  }
  static void on_closed(natsConnection*, void* closure) {
    auto* self = static_cast<State*>(closure);
    // Notified under the lock: the waiter cannot return (and free this state) before the
    // callback has released the mutex, its last touch of the state.
    std::lock_guard lock(self->mutex);
    self->closed = true;
    self->closed_cv.notify_all();
  }
};

namespace {

struct OptionsGuard {
  natsOptions* opts = nullptr;
  ~OptionsGuard() { natsOptions_Destroy(opts); }
};

}  // namespace

Result<Connection, NatsError> connect(const std::string& url, const ConnectOptions& options) {
  auto state = std::make_unique<Connection::State>();
  state->jetstream_wait = options.jetstream_wait;
  OptionsGuard guard;
  natsStatus s = natsOptions_Create(&guard.opts);
  if (s == NATS_OK) s = natsOptions_SetURL(guard.opts, url.c_str());
  if (s == NATS_OK) s = natsOptions_SetName(guard.opts, options.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(guard.opts, options.connect_timeout.count());
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(guard.opts, true);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(guard.opts, options.max_reconnect);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(guard.opts, options.reconnect_wait.count());
  if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(guard.opts, options.reconnect_buffer_bytes);
  if (s == NATS_OK) s = natsOptions_SetSendAsap(guard.opts, options.send_asap);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(guard.opts, &Connection::State::on_disconnected, state.get());
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(guard.opts, &Connection::State::on_reconnected, state.get());
  if (s == NATS_OK) s = natsOptions_SetClosedCB(guard.opts, &Connection::State::on_closed, state.get());
  if (s != NATS_OK) return NatsError::from_status("connect: options", s);

  s = natsConnection_Connect(&state->nc, guard.opts);
  if (s != NATS_OK) {
    // A failed connect never created a connection: no callback will come.
    return NatsError::from_status("connect " + url, s);
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = options.jetstream_wait.count();
  s = natsConnection_JetStream(&state->js, state->nc, &jo);
  Connection conn(std::move(state));
  if (s != NATS_OK) return NatsError::from_status("connect: jetstream context", s);
  return Result<Connection, NatsError>(in_place_value, std::move(conn));
}

Connection::Connection(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    close();
    state_ = std::move(other.state_);
  }
  return *this;
}
Connection::~Connection() { close(); }

void Connection::close() noexcept {
  if (!state_) return;
  if (state_->js != nullptr) jsCtx_Destroy(state_->js);
  if (state_->nc != nullptr) {
    natsConnection_Close(state_->nc);
    std::unique_lock lock(state_->mutex);
    // A hang guard only: cnats posts the closed callback as part of the close.
    state_->closed_cv.wait_for(lock, std::chrono::seconds(5), [&] { return state_->closed; });
    lock.unlock();
    natsConnection_Destroy(state_->nc);
  }
  state_.reset();
}

natsConnection* Connection::native() const noexcept { return state_ ? state_->nc : nullptr; }
jsCtx* Connection::jetstream() const noexcept { return state_ ? state_->js : nullptr; }
bool Connection::is_connected() const noexcept {
  return state_ && state_->nc != nullptr && natsConnection_Status(state_->nc) == NATS_CONN_STATUS_CONNECTED;
}
std::uint64_t Connection::disconnects() const noexcept {
  return state_ ? state_->disconnects.load(std::memory_order_relaxed) : 0;
}
std::uint64_t Connection::reconnects() const noexcept {
  return state_ ? state_->reconnects.load(std::memory_order_relaxed) : 0;
}
std::chrono::milliseconds Connection::jetstream_wait() const noexcept {
  return state_ ? state_->jetstream_wait : std::chrono::milliseconds(0);
}

natsStatus unsubscribe_settled(natsConnection* nc, natsSubscription* sub, std::chrono::milliseconds wait) noexcept {
  const natsStatus st = natsSubscription_Unsubscribe(sub);
  // Whatever the unsubscribe said, a message for `sub` may be in the reading thread's hands:
  // wait for the round trip. It fails at once on a closed connection, whose reading thread is
  // gone, and after `wait` on a disconnected one, whose thread reads nothing.
  (void)natsConnection_FlushTimeout(nc, std::max<std::int64_t>(1, wait.count()));
  return st;
}

}  // namespace swarmsync::nats
