#include "remote/state_journals.hpp"

#include <charconv>
#include <chrono>
#include <stdexcept>
#include <nlohmann/json.hpp>
#include <string_view>

#include "model/payload_json.hpp"

namespace core {

namespace {

std::string dotted(std::initializer_list<std::uint64_t> parts, std::string key = {}) {
  for (const auto part : parts) {
    // Appended piece by piece: g++ 12 at -O3 reports a false -Wrestrict on `"." + std::string`.
    if (!key.empty()) key += '.';
    key += std::to_string(part);
  }
  return key;
}

// Each entry through `decode`; one that does not decode is named, counted and skipped.
template <class Decode>
void each_entry(KvBucket& bucket, Decode&& decode) {
  for (const auto& [key, value] : bucket.entries()) {
    try {
      decode(key, nlohmann::json::parse(value));
    } catch (const std::exception& e) {
      bucket.fail("entry " + key + " does not decode: " + e.what());
    }
  }
}

}  // namespace

// ---- Harvester ----

void KvHarvesterJournal::expected(const Job& job, WorkerId worker) {
  bucket_->put(dotted({job.id, job.run, job.placement}), nlohmann::json{{"job", job}, {"worker", worker}}.dump());
}

void KvHarvesterJournal::settled(JobId job, std::uint64_t run, std::uint64_t placement) {
  // Once what the Harvester sent by now (the record, the retry) is published.
  bucket_->drop_after_fence(dotted({job, run, placement}));
}

std::vector<HarvesterJournal::Entry> KvHarvesterJournal::load() {
  std::vector<Entry> entries;
  each_entry(*bucket_, [&](const std::string&, const nlohmann::json& j) {
    entries.push_back({j.at("job").get<Job>(), j.at("worker").get<WorkerId>()});
  });
  return entries;
}

// ---- Scheduler ----

namespace {
constexpr std::string_view credits_key = "credits";
std::string queued_key(const Job& job) { return dotted({job.id, job.run, job.attempt, job.placement}, "job"); }
}  // namespace

void KvSchedulerJournal::queued(const Job& job) { bucket_->put(queued_key(job), nlohmann::json(job).dump()); }

void KvSchedulerJournal::dispatched(const Job& job) { bucket_->drop_after_fence(queued_key(job)); }

void KvSchedulerJournal::credits_raised(unsigned credits) {
  std::lock_guard lock(credits_->mutex);
  ++credits_->raises;  // a lowering asked for before this one is out of date now
  bucket_->put(std::string(credits_key), std::to_string(credits));
}

void KvSchedulerJournal::credits_spent(unsigned credits) {
  std::uint64_t raises = 0;
  std::uint64_t spend = 0;
  {
    std::lock_guard lock(credits_->mutex);
    raises = credits_->raises;
    spend = ++credits_->spends;
  }
  bucket_->after_fence([c = credits_, credits, raises, spend](KvBucket&) {
    std::lock_guard lock(c->mutex);
    // Two lowerings due at once may run in either order: only the later one writes. A raise
    // since wrote a value that already counts these sends.
    if (c->raises != raises || spend <= c->written) return;
    c->written = spend;
    c->bucket->put(std::string(credits_key), std::to_string(credits));
  });
}

SchedulerJournal::Entries KvSchedulerJournal::load() {
  Entries entries;
  each_entry(*bucket_, [&](const std::string& key, const nlohmann::json& j) {
    if (key == credits_key) entries.credits = j.get<unsigned>();
    else entries.jobs.push_back(j.get<Job>());
  });
  return entries;
}

// ---- Hibernator ----

namespace {

std::string held_key(const Job& job) { return dotted({job.id, job.run, job.attempt}); }

// Steady and wall-clock times of now, read together.
struct Clocks {
  std::chrono::steady_clock::time_point steady = std::chrono::steady_clock::now();
  std::chrono::system_clock::time_point wall = std::chrono::system_clock::now();
};

std::int64_t ms_since_epoch(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

void KvHibernatorJournal::held(const HeldJob& held) {
  const Clocks now;
  const auto due = now.wall + std::chrono::duration_cast<std::chrono::system_clock::duration>(held.due - now.steady);
  nlohmann::json j{{"job", held.job}, {"due_ms", ms_since_epoch(due)}};
  if (held.fires_at) j["fires_at_ms"] = ms_since_epoch(*held.fires_at);
  bucket_->put(held_key(held.job), j.dump());
}

void KvHibernatorJournal::released(const Job& job) { bucket_->drop_after_fence(held_key(job)); }

std::vector<HeldJob> KvHibernatorJournal::load() {
  std::vector<HeldJob> out;
  const Clocks now;
  each_entry(*bucket_, [&](const std::string&, const nlohmann::json& j) {
    HeldJob held;
    held.job = j.at("job").get<Job>();
    const std::chrono::system_clock::time_point due{std::chrono::milliseconds(j.at("due_ms").get<std::int64_t>())};
    held.due = now.steady + std::chrono::duration_cast<std::chrono::steady_clock::duration>(due - now.wall);
    if (j.contains("fires_at_ms"))
      held.fires_at = std::chrono::system_clock::time_point{std::chrono::milliseconds(j.at("fires_at_ms").get<std::int64_t>())};
    out.push_back(std::move(held));
  });
  return out;
}

// ---- Dispatcher ----

namespace {
constexpr std::string_view placements_key = "placements";
std::string placed_key(WorkerId worker, const Job& job) {
  return dotted({worker, job.id, job.run, job.placement}, "held");
}
std::string waiting_key(std::uint64_t order) { return dotted({order}, "waiting"); }
}  // namespace

void KvDispatcherJournal::registered(WorkerId worker, unsigned capacity) {
  bucket_->put(dotted({worker}, "worker"), std::to_string(capacity));
}

void KvDispatcherJournal::waiting(std::uint64_t order, const Job& job) {
  bucket_->put(waiting_key(order), nlohmann::json(job).dump());
}

void KvDispatcherJournal::placed(WorkerId worker, const Job& job, std::optional<std::uint64_t> order) {
  bucket_->put(placed_key(worker, job), nlohmann::json(job).dump());
  if (order) bucket_->drop_after_fence(waiting_key(*order));  // once the RunJob is out
}

void KvDispatcherJournal::finished(WorkerId worker, const Job& job) { bucket_->drop(placed_key(worker, job)); }

void KvDispatcherJournal::taken_back(WorkerId worker, const Job& job) {
  bucket_->drop_after_fence(placed_key(worker, job));
}

void KvDispatcherJournal::placements_up_to(std::uint64_t upto) {
  bucket_->put(std::string(placements_key), std::to_string(upto));
  if (!bucket_->flush()) bucket_->fail("the placements reserved up to " + std::to_string(upto) + " are not stored");
}

DispatcherJournal::Entries KvDispatcherJournal::load() {
  Entries entries;
  each_entry(*bucket_, [&](const std::string& key, const nlohmann::json& j) {
    // "held.<worker>.<id>.<run>.<placement>", "waiting.<n>", "worker.<id>", "placements"
    const auto number_after = [&](std::size_t from) {
      std::uint64_t n = 0;
      const auto [end, ec] = std::from_chars(key.data() + from, key.data() + key.size(), n);
      if (ec != std::errc()) throw std::invalid_argument("no number in the key");
      return std::pair(n, static_cast<std::size_t>(end - key.data()));
    };
    if (key == placements_key) {
      entries.placements = j.get<std::uint64_t>();
    } else if (key.starts_with("worker.")) {
      entries.capacities[static_cast<WorkerId>(number_after(7).first)] = j.get<unsigned>();
    } else if (key.starts_with("waiting.")) {
      entries.pending.emplace_back(number_after(8).first, j.get<Job>());
    } else if (key.starts_with("held.")) {
      entries.held.emplace_back(static_cast<WorkerId>(number_after(5).first), j.get<Job>());
    } else {
      throw std::invalid_argument("not a key of the Dispatcher's");
    }
  });
  return entries;
}

}  // namespace core
