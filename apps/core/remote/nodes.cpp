#include "remote/nodes.hpp"

#include "remote/kv_bucket.hpp"

#include <nats/nats.h>

#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>

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

std::string roster_key(const NodeInfo& info) { return info.kind + "." + info.name; }

swarmsync::Result<std::vector<NodeInfo>, sn::NatsError> ask_nodes(sn::Connection& conn, const std::string& core,
                                                                  std::chrono::milliseconds wait,
                                                                  const std::set<std::string>& expected,
                                                                  std::chrono::milliseconds expected_wait) {
  natsInbox* inbox = nullptr;
  natsSubscription* sub = nullptr;
  const std::string subject = subject_of(core);
  natsStatus st = natsInbox_Create(&inbox);
  if (st == NATS_OK) st = natsConnection_SubscribeSync(&sub, conn.native(), inbox);
  if (st == NATS_OK) st = natsConnection_PublishRequestString(conn.native(), subject.c_str(), inbox, "?");
  if (st == NATS_OK) st = natsConnection_Flush(conn.native());
  std::vector<NodeInfo> nodes;
  if (st == NATS_OK) {
    const auto start = std::chrono::steady_clock::now();
    const auto short_deadline = start + wait;
    const auto long_deadline = start + std::max(wait, expected_wait);
    std::set<std::string> missing = expected;
    for (;;) {
      const auto now = std::chrono::steady_clock::now();
      const bool short_over = now >= short_deadline;
      if (short_over && (missing.empty() || now >= long_deadline)) break;
      const auto deadline = short_over ? long_deadline : short_deadline;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
      natsMsg* msg = nullptr;
      if (natsSubscription_NextMsg(&msg, sub, std::max<std::int64_t>(1, left.count())) != NATS_OK) continue;  // timed out
      try {
        const auto j = nlohmann::json::parse(std::string(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)));
        NodeInfo info;
        info.name = j.at("name").get<std::string>();
        info.kind = j.at("kind").get<std::string>();
        info.services = j.at("services").get<std::vector<std::string>>();
        if (j.contains("counters")) info.counters = j.at("counters").get<std::map<std::string, std::uint64_t>>();
        missing.erase(roster_key(info));
        nodes.push_back(std::move(info));
      } catch (const std::exception&) {
        // Not an answer of ours: skipped.
      }
      natsMsg_Destroy(msg);
    }
  }
  const natsStatus failed = st;
  if (sub) {
    // An answer may still be arriving (from a node not waited for, or late).
    sn::unsubscribe_settled(conn.native(), sub);
    natsSubscription_Destroy(sub);
  }
  natsInbox_Destroy(inbox);
  if (failed != NATS_OK) return sn::NatsError::from_status("ask the nodes on " + subject, failed);
  return nodes;
}

swarmsync::Result<NodeRoster, sn::NatsError> NodeRoster::open(sn::Connection& conn, const std::string& core,
                                                              std::shared_ptr<spdlog::logger> logger) {
  // Kept without an age limit: an entry stays as long as its process runs, however long.
  auto bucket = KvBucket::open(conn, "swarmsync_" + core + "_nodes", std::move(logger), nullptr, {});
  if (!bucket) return std::move(bucket).error();
  return NodeRoster(std::move(*bucket));
}

NodeRoster::Entry NodeRoster::enter(const NodeInfo& self) {
  Entry entry;
  entry.bucket_ = bucket_;
  entry.key_ = roster_key(self);
  entry.stored_ = bucket_->put(entry.key_, to_json(self)) && bucket_->flush();
  return entry;
}

NodeRoster::Entry& NodeRoster::Entry::operator=(Entry&& other) noexcept {
  if (this != &other) {
    leave();
    bucket_ = std::move(other.bucket_);
    key_ = std::move(other.key_);
    stored_ = std::exchange(other.stored_, false);
  }
  return *this;
}

void NodeRoster::Entry::leave() {
  if (!bucket_) return;
  (void)bucket_->drop(key_);
  (void)bucket_->flush();
  bucket_.reset();
  stored_ = false;
}

bool NodeRoster::drop(const std::string& key) { return bucket_->drop(key) && bucket_->flush(); }

std::set<std::string> NodeRoster::listed() {
  std::set<std::string> keys;
  for (auto& [key, value] : bucket_->entries()) keys.insert(key);
  return keys;
}

const std::string& NodeRoster::bucket() const { return bucket_->name(); }

swarmsync::Result<Discovery, sn::NatsError> discover_nodes(sn::Connection& conn, const std::string& core,
                                                          NodeRoster& roster, std::chrono::milliseconds wait,
                                                          std::chrono::milliseconds listed_wait) {
  const auto listed = roster.listed();
  auto answers = ask_nodes(conn, core, wait, listed, listed_wait);
  if (!answers) return std::move(answers).error();
  Discovery found;
  std::set<std::string> heard;
  for (const auto& info : *answers) heard.insert(roster_key(info));
  for (const auto& key : listed)
    if (!heard.count(key)) found.silent.push_back(key);
  found.answers = std::move(*answers);
  return found;
}

std::string to_json(const NodeInfo& info) {
  nlohmann::json j{{"name", info.name}, {"kind", info.kind}, {"services", info.services}, {"counters", info.counters}};
  return j.dump();
}

}  // namespace core
