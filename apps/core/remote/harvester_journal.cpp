#include "remote/harvester_journal.hpp"

#include <nats/nats.h>

#include <nlohmann/json.hpp>

#include "model/payload_json.hpp"

namespace core {

namespace sn = swarmsync::nats;

struct KvHarvesterJournal::Store {
  kvStore* kv = nullptr;
  ~Store() {
    if (kv) kvStore_Destroy(kv);
  }
};

namespace {
std::string key_of(JobId job, std::uint64_t run) { return std::to_string(job) + "." + std::to_string(run); }
}  // namespace

swarmsync::Result<std::shared_ptr<KvHarvesterJournal>, sn::NatsError> KvHarvesterJournal::open(
    sn::Connection& conn, const std::string& core, std::shared_ptr<spdlog::logger> logger,
    std::shared_ptr<sn::AckFence> fence) {
  const std::string bucket = "swarmsync_" + core + "_harvester";
  auto store = std::make_unique<Store>();
  natsStatus st = js_KeyValue(&store->kv, conn.jetstream(), bucket.c_str());
  if (st == NATS_NOT_FOUND) {
    kvConfig cfg;
    kvConfig_Init(&cfg);
    cfg.Bucket = bucket.c_str();
    cfg.History = 1;
    cfg.TTL = 24LL * 3600 * 1000 * 1000 * 1000;  // nanoseconds: an entry older than a day is dropped
    cfg.StorageType = js_FileStorage;
    st = js_CreateKeyValue(&store->kv, conn.jetstream(), &cfg);
  }
  if (st != NATS_OK) return sn::NatsError::from_status("open the key-value bucket " + bucket, st);
  return std::shared_ptr<KvHarvesterJournal>(
      new KvHarvesterJournal(std::move(store), bucket, std::move(logger), std::move(fence)));
}

KvHarvesterJournal::KvHarvesterJournal(std::unique_ptr<Store> store, std::string bucket,
                                       std::shared_ptr<spdlog::logger> logger, std::shared_ptr<sn::AckFence> fence)
    : store_(std::move(store)), bucket_(std::move(bucket)), logger_(std::move(logger)), fence_(std::move(fence)) {}

KvHarvesterJournal::~KvHarvesterJournal() = default;

void KvHarvesterJournal::fail(const std::string& what) {
  failures_.fetch_add(1, std::memory_order_relaxed);
  if (logger_) logger_->warn("harvester journal {}: {}", bucket_, what);
}

void KvHarvesterJournal::expected(const Job& job, WorkerId worker) {
  const std::string value = nlohmann::json{{"job", job}, {"worker", worker}}.dump();
  const std::string key = key_of(job.id, job.run);
  std::uint64_t revision = 0;
  if (const natsStatus st = kvStore_Put(&revision, store_->kv, key.c_str(), value.data(), static_cast<int>(value.size()));
      st != NATS_OK)
    fail("keep " + key + ": " + sn::NatsError::from_status("put", st).message);
}

void KvHarvesterJournal::settled(JobId job, std::uint64_t run) {
  std::string key = key_of(job, run);
  if (!fence_) return drop(key);
  // Once what the Harvester sent by now (the record, the retry) is published; on the thread of
  // the bridge that publishes last. A journal gone by then leaves the entry (see above).
  fence_->after_outboxes([weak = weak_from_this(), key = std::move(key)] {
    if (auto self = weak.lock()) self->drop(key);
  });
}

void KvHarvesterJournal::drop(const std::string& key) {
  if (const natsStatus st = kvStore_Delete(store_->kv, key.c_str()); st != NATS_OK)
    fail("drop " + key + ": " + sn::NatsError::from_status("delete", st).message);
}

std::vector<HarvesterJournal::Entry> KvHarvesterJournal::load() {
  std::vector<Entry> entries;
  kvKeysList keys{};
  const natsStatus st = kvStore_Keys(&keys, store_->kv, nullptr);
  if (st == NATS_NOT_FOUND) return entries;  // no key yet
  if (st != NATS_OK) {
    fail("list the keys: " + sn::NatsError::from_status("keys", st).message);
    return entries;
  }
  for (int i = 0; i < keys.Count; ++i) {
    kvEntry* e = nullptr;
    if (kvStore_Get(&e, store_->kv, keys.Keys[i]) != NATS_OK) continue;  // deleted meanwhile
    try {
      const auto j = nlohmann::json::parse(std::string(static_cast<const char*>(kvEntry_Value(e)),
                                                       static_cast<std::size_t>(kvEntry_ValueLen(e))));
      entries.push_back({j.at("job").get<Job>(), j.at("worker").get<WorkerId>()});
    } catch (const std::exception& ex) {
      fail(std::string("entry ") + keys.Keys[i] + " does not decode: " + ex.what());
    }
    kvEntry_Destroy(e);
  }
  kvKeysList_Destroy(&keys);
  return entries;
}

}  // namespace core
