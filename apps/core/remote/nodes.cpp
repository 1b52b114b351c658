#include "remote/nodes.hpp"

#include <nats/nats.h>

#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>

namespace core {

namespace sn = swarmsync::nats;

namespace {
std::string subject_of(const std::string& core) { return "swarmsync:nodes." + core; }
}  // namespace

struct NodeResponder::State {
  natsConnection* nc = nullptr;
  natsSubscription* sub = nullptr;
  std::function<std::string()> describe;
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;

  static void on_request(natsConnection* nc, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<State*>(closure);
    if (const char* reply = natsMsg_GetReply(msg); reply && *reply) {
      std::string answer;
      try {
        answer = self->describe();
      } catch (...) {
        answer = "{}";  // skipped by the asker, which counts it
      }
      natsConnection_Publish(nc, reply, answer.data(), static_cast<int>(answer.size()));
    }
    natsMsg_Destroy(msg);
  }
  static void on_complete(void* closure) {
    auto* self = static_cast<State*>(closure);
    std::lock_guard lock(self->mutex);
    self->done = true;
    self->cv.notify_all();
  }
};

swarmsync::Result<NodeResponder, sn::NatsError> NodeResponder::start(sn::Connection& conn, const std::string& core,
                                                                     std::function<std::string()> describe) {
  auto state = std::make_unique<State>();
  state->nc = conn.native();
  state->describe = std::move(describe);
  const std::string subject = subject_of(core);
  natsStatus st = natsConnection_Subscribe(&state->sub, conn.native(), subject.c_str(), &State::on_request, state.get());
  if (st == NATS_OK) st = natsSubscription_SetOnCompleteCB(state->sub, &State::on_complete, state.get());
  if (st == NATS_OK) st = natsConnection_FlushTimeout(conn.native(), 5000);
  if (st != NATS_OK) {
    if (state->sub) {
      sn::unsubscribe_settled(state->nc, state->sub);
      natsSubscription_Destroy(state->sub);
    }
    return sn::NatsError::from_status("subscribe to " + subject, st);
  }
  return NodeResponder(std::move(state));
}

NodeResponder::NodeResponder(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}
NodeResponder::NodeResponder(NodeResponder&&) noexcept = default;

NodeResponder::~NodeResponder() {
  if (!state_) return;
  if (sn::unsubscribe_settled(state_->nc, state_->sub) == NATS_OK) {
    std::unique_lock lock(state_->mutex);
    state_->cv.wait(lock, [&] { return state_->done; });
  } else {
    // The connection is closed: cnats ran the completion callback already, or never will.
    std::unique_lock lock(state_->mutex);
    state_->cv.wait_for(lock, std::chrono::seconds(2), [&] { return state_->done; });
  }
  natsSubscription_Destroy(state_->sub);
}

swarmsync::Result<std::vector<NodeInfo>, sn::NatsError> ask_nodes(sn::Connection& conn, const std::string& core,
                                                                  std::chrono::milliseconds wait, std::size_t enough) {
  natsInbox* inbox = nullptr;
  natsSubscription* sub = nullptr;
  const std::string subject = subject_of(core);
  natsStatus st = natsInbox_Create(&inbox);
  if (st == NATS_OK) st = natsConnection_SubscribeSync(&sub, conn.native(), inbox);
  if (st == NATS_OK) st = natsConnection_PublishRequestString(conn.native(), subject.c_str(), inbox, "?");
  if (st == NATS_OK) st = natsConnection_Flush(conn.native());
  std::vector<NodeInfo> nodes;
  if (st == NATS_OK) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (nodes.size() < enough) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      natsMsg* msg = nullptr;
      if (natsSubscription_NextMsg(&msg, sub, left.count()) != NATS_OK) break;  // timed out
      try {
        const auto j = nlohmann::json::parse(std::string(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)));
        NodeInfo info;
        info.name = j.at("name").get<std::string>();
        info.kind = j.at("kind").get<std::string>();
        info.services = j.at("services").get<std::vector<std::string>>();
        if (j.contains("counters")) info.counters = j.at("counters").get<std::map<std::string, std::uint64_t>>();
        nodes.push_back(std::move(info));
      } catch (const std::exception&) {
        // Not an answer of ours: skipped.
      }
      natsMsg_Destroy(msg);
    }
  }
  const natsStatus failed = st;
  if (sub) {
    // An answer may still be arriving (from a node past `enough`, or late).
    sn::unsubscribe_settled(conn.native(), sub);
    natsSubscription_Destroy(sub);
  }
  natsInbox_Destroy(inbox);
  if (failed != NATS_OK) return sn::NatsError::from_status("ask the nodes on " + subject, failed);
  return nodes;
}

std::string to_json(const NodeInfo& info) {
  nlohmann::json j{{"name", info.name}, {"kind", info.kind}, {"services", info.services}, {"counters", info.counters}};
  return j.dump();
}

}  // namespace core
