#include "remote/kv_bucket.hpp"

#include <nats/nats.h>

#include <charconv>
#include <map>
#include <mutex>

namespace core {

namespace sn = swarmsync::nats;

namespace {
constexpr int kTries = 5;                    // sends of a change the server does not answer
constexpr std::int64_t kAnswerWaitMs = 5000;  // per send
constexpr const char* kSeqHeader = "Swarmsync-Seq";
constexpr const char* kTryHeader = "Swarmsync-Try";

std::uint64_t header_number(natsMsg* msg, const char* name) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, name, &value) != NATS_OK || value == nullptr) return 0;
  std::uint64_t n = 0;
  std::from_chars(value, value + std::char_traits<char>::length(value), n);
  return n;
}
}  // namespace

// What cnats's thread answering the changes uses: kept apart from the bucket, so that it can be
// left alive if answers are still due when the bucket goes.
struct KvBucket::Store {
  kvStore* kv = nullptr;
  jsCtx* js = nullptr;  // a context of its own: its answer handler is this store's
  std::string name;
  std::shared_ptr<spdlog::logger> logger;
  std::shared_ptr<sn::AckFence> fence;
  std::shared_ptr<sn::AckFence::Outbox> outbox;
  std::atomic<std::uint64_t>* failures = nullptr;
  std::mutex mutex;
  std::map<std::string, std::uint64_t, std::less<>> latest;  // key -> its latest change's number
  std::uint64_t changes = 0;

  ~Store() {
    if (js) jsCtx_Destroy(js);
    if (kv) kvStore_Destroy(kv);
  }

  void fail(const std::string& what) {
    failures->fetch_add(1, std::memory_order_relaxed);
    if (logger) logger->warn("key-value bucket {}: {}", name, what);
  }

  // A change answered, or given up: one fewer for the fence to wait for.
  void settle(const std::string& key, std::uint64_t seq) {
    {
      std::lock_guard lock(mutex);
      if (auto it = latest.find(key); it != latest.end() && it->second == seq) latest.erase(it);
    }
    if (outbox) {
      outbox->settle();
      fence->poke();
    }
  }

  static void on_answer(jsCtx* js, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<Store*>(closure);
    const std::string subject = natsMsg_GetSubject(msg);
    const std::string key = subject.substr(std::min(subject.size(), 5 + self->name.size()));  // past "$KV.<name>."
    const std::uint64_t seq = header_number(msg, kSeqHeader);
    if (pa == nullptr && pae != nullptr) {
      const bool unanswered = pae->Err == NATS_TIMEOUT || pae->Err == NATS_NO_RESPONDERS;
      const auto tries = header_number(msg, kTryHeader);
      bool superseded = false;
      {
        std::lock_guard lock(self->mutex);
        auto it = self->latest.find(key);
        superseded = it != self->latest.end() && it->second != seq;
      }
      if (unanswered && !superseded && tries < kTries) {
        const std::string next = std::to_string(tries + 1);
        jsPubOptions o;
        jsPubOptions_Init(&o);
        o.MaxWait = kAnswerWaitMs;
        if (natsMsgHeader_Set(msg, kTryHeader, next.c_str()) == NATS_OK && js_PublishMsgAsync(js, &msg, &o) == NATS_OK)
          return;  // cnats owns it again; its answer comes back here
      }
      if (!superseded)  // a newer change of the key replaces this one: nothing is lost
        self->fail("change of " + key + " not stored: " +
                   sn::NatsError::from_status("publish", pae->Err, pae->ErrCode).message +
                   (pae->ErrText ? std::string(" (") + pae->ErrText + ")" : std::string()));
    }
    self->settle(key, seq);
    natsMsg_Destroy(msg);
  }
};

swarmsync::Result<std::shared_ptr<KvBucket>, sn::NatsError> KvBucket::open(sn::Connection& conn,
                                                                           const std::string& name,
                                                                           std::shared_ptr<spdlog::logger> logger,
                                                                           std::shared_ptr<sn::AckFence> fence,
                                                                           std::chrono::seconds max_age) {
  std::shared_ptr<KvBucket> bucket(new KvBucket(name, std::move(logger), std::move(fence)));
  Store& store = *bucket->store_;
  natsStatus st = js_KeyValue(&store.kv, conn.jetstream(), name.c_str());
  if (st == NATS_NOT_FOUND) {
    kvConfig cfg;
    kvConfig_Init(&cfg);
    cfg.Bucket = name.c_str();
    cfg.History = 1;
    cfg.TTL = std::chrono::duration_cast<std::chrono::nanoseconds>(max_age).count();  // 0: kept
    cfg.StorageType = js_FileStorage;
    st = js_CreateKeyValue(&store.kv, conn.jetstream(), &cfg);
    // Another process created it meanwhile: open that one.
    if (st != NATS_OK) st = js_KeyValue(&store.kv, conn.jetstream(), name.c_str());
  }
  if (st != NATS_OK) return sn::NatsError::from_status("open the key-value bucket " + name, st);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = conn.jetstream_wait().count();
  jo.PublishAsync.MaxPending = 1 << 20;  // changes in flight; a service is not slowed by a cap
  jo.PublishAsync.AckHandler = &Store::on_answer;
  jo.PublishAsync.AckHandlerClosure = &store;
  st = natsConnection_JetStream(&store.js, conn.native(), &jo);
  if (st != NATS_OK) return sn::NatsError::from_status("a JetStream context for " + name, st);
  return bucket;
}

KvBucket::KvBucket(std::string name, std::shared_ptr<spdlog::logger> logger, std::shared_ptr<sn::AckFence> fence)
    : store_(std::make_unique<Store>()),
      name_(std::move(name)),
      logger_(std::move(logger)),
      fence_(std::move(fence)) {
  store_->name = name_;
  store_->logger = logger_;
  store_->fence = fence_;
  store_->failures = &failures_;
  // Relaxed: the fence reads the count on the thread acknowledging a message, after the change
  // it counts was made by the same service's handling (ordered by its executor).
  if (fence_) outbox_ = fence_->add_outbox([given = given_] { return given->load(std::memory_order_relaxed); });
  store_->outbox = outbox_;
}

KvBucket::~KvBucket() {
  if (!store_) return;
  if (store_->js != nullptr && !flush(std::chrono::seconds(5))) {
    // Answers still due would call into the store: it is left to them (a few bytes), with the
    // failure counter it points to copied into it.
    fail("changes still unanswered as the bucket closes");
    static std::atomic<std::uint64_t> orphaned_failures{0};
    store_->failures = &orphaned_failures;
    store_->outbox.reset();
    (void)store_.release();
  }
}

void KvBucket::fail(const std::string& what) {
  failures_.fetch_add(1, std::memory_order_relaxed);
  if (logger_) logger_->warn("key-value bucket {}: {}", name_, what);
}

bool KvBucket::publish(const std::string& key, std::string_view value, bool is_delete) {
  const std::string subject = "$KV." + name_ + "." + key;
  std::uint64_t seq = 0;
  {
    std::lock_guard lock(store_->mutex);
    seq = ++store_->changes;
    store_->latest[key] = seq;
  }
  given_->fetch_add(1, std::memory_order_relaxed);
  natsMsg* msg = nullptr;
  natsStatus st = natsMsg_Create(&msg, subject.c_str(), nullptr, value.data(), static_cast<int>(value.size()));
  const std::string seq_text = std::to_string(seq);
  if (st == NATS_OK) st = natsMsgHeader_Set(msg, kSeqHeader, seq_text.c_str());
  if (st == NATS_OK && is_delete) st = natsMsgHeader_Set(msg, "KV-Operation", "DEL");
  if (st == NATS_OK) {
    jsPubOptions o;
    jsPubOptions_Init(&o);
    o.MaxWait = kAnswerWaitMs;
    st = js_PublishMsgAsync(store_->js, &msg, &o);
  }
  natsMsg_Destroy(msg);  // null once cnats took it
  if (st == NATS_OK) return true;
  fail((is_delete ? "drop " : "keep ") + key + ": " + sn::NatsError::from_status("publish", st).message);
  store_->settle(key, seq);
  return false;
}

bool KvBucket::put(const std::string& key, std::string_view value) { return publish(key, value, false); }

bool KvBucket::drop(const std::string& key) { return publish(key, {}, true); }

bool KvBucket::flush(std::chrono::milliseconds wait) {
  jsPubOptions o;
  jsPubOptions_Init(&o);
  o.MaxWait = std::max<std::int64_t>(1, wait.count());
  return js_PublishAsyncComplete(store_->js, &o) == NATS_OK;
}

void KvBucket::after_fence(std::function<void(KvBucket&)> then) {
  if (!fence_) return then(*this);
  fence_->after_outboxes([weak = weak_from_this(), then = std::move(then)] {
    if (auto self = weak.lock()) then(*self);
  });
}

void KvBucket::drop_after_fence(std::string key) {
  after_fence([key = std::move(key)](KvBucket& bucket) { bucket.drop(key); });
}

std::vector<std::pair<std::string, std::string>> KvBucket::entries() {
  // One pass over the bucket's stream (a watcher delivers each key's latest value, then an
  // empty entry once it has them all), instead of a round trip per key.
  std::vector<std::pair<std::string, std::string>> out;
  kvWatchOptions options;
  kvWatchOptions_Init(&options);
  options.IgnoreDeletes = true;
  kvWatcher* watcher = nullptr;
  if (const natsStatus st = kvStore_WatchAll(&watcher, store_->kv, &options); st != NATS_OK) {
    fail("read the entries: " + sn::NatsError::from_status("watch", st).message);
    return out;
  }
  for (;;) {
    kvEntry* e = nullptr;
    if (const natsStatus st = kvWatcher_Next(&e, watcher, kAnswerWaitMs); st != NATS_OK) {
      fail("read the entries: " + sn::NatsError::from_status("next entry", st).message + " after " +
           std::to_string(out.size()));
      break;
    }
    if (e == nullptr) break;  // every entry stored when the watch began
    out.emplace_back(kvEntry_Key(e), std::string(static_cast<const char*>(kvEntry_Value(e)),
                                                 static_cast<std::size_t>(kvEntry_ValueLen(e))));
    kvEntry_Destroy(e);
  }
  kvWatcher_Destroy(watcher);
  return out;
}

}  // namespace core
