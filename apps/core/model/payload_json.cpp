#include "model/payload_json.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "model/json_excerpt.hpp"

namespace core {
namespace {

using nlohmann::json;

// The names of "kind", in the order of EventPayload's alternatives (as core_app.cpp's summary).
constexpr std::array<std::string_view, 12> kind_names = {"Submit",   "Hibernate", "Ready",     "Credit",
                                                         "Dispatch", "Register",  "Heartbeat", "Finished",
                                                         "Expect",   "Forget",    "Outcome",   "Archive"};
static_assert(kind_names.size() == std::variant_size_v<EventPayload>);

constexpr std::array<JobStatus, 7> statuses = {JobStatus::submitted,  JobStatus::hibernating, JobStatus::ready,
                                               JobStatus::dispatched, JobStatus::retrying,    JobStatus::done,
                                               JobStatus::failed};

template <std::size_t N>
std::string joined(const std::array<std::string_view, N>& names) {
  std::string text;
  for (auto name : names) text += (text.empty() ? "" : ", ") + std::string(name);
  return text;
}

std::string status_names() {
  std::string text;
  for (auto s : statuses) text += (text.empty() ? "" : ", ") + std::string(to_string(s));
  return text;
}

// What an integer field takes, as a noun phrase: "an integer 0-9", "a non-negative integer".
template <class T>
std::string integer_kind(T lo, T hi) {
  if (hi != std::numeric_limits<T>::max()) return "an integer " + std::to_string(lo) + "-" + std::to_string(hi);
  if (lo == std::numeric_limits<T>::min() && std::is_signed_v<T>) return "an integer";
  if (lo == 0) return "a non-negative integer";
  if (lo == 1) return "a positive integer";
  return "an integer of at least " + std::to_string(lo);
}

// The integer `value` (of field `field`) within [lo, hi], or PayloadJsonError.
template <class T>
T integer(const json& value, const std::string& field, T lo, T hi) {
  if (!value.is_number_integer())
    throw PayloadJsonError(field, "must be " + integer_kind(lo, hi) + ", got " + json_excerpt(value));
  const auto check = [&](auto n) {
    if (std::cmp_greater_equal(n, lo) && std::cmp_less_equal(n, hi)) return static_cast<T>(n);
    const std::string given = ", got " + std::to_string(n);
    if (hi != std::numeric_limits<T>::max())
      throw PayloadJsonError(field, "must be " + std::to_string(lo) + "-" + std::to_string(hi) + given);
    if (std::cmp_less(n, lo)) throw PayloadJsonError(field, "must be " + integer_kind(lo, hi) + given);
    throw PayloadJsonError(field, "must be at most " + std::to_string(hi) + given);
  };
  return value.is_number_unsigned() ? check(value.get<std::uint64_t>()) : check(value.get<std::int64_t>());
}

template <class T>
T integer(const json& value, const std::string& field) {
  return integer<T>(value, field, std::numeric_limits<T>::min(), std::numeric_limits<T>::max());
}

json time_ns(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::chrono::steady_clock::time_point time_point_of(std::int64_t ns) {
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::nanoseconds(ns)));
}

// The fields of one JSON object, read with errors that name them.
class Fields {
 public:
  // `what` names the type for the error when `j` is not an object: "a Job".
  Fields(const json& j, const char* what) : j_(j) {
    if (!j.is_object()) throw PayloadJsonError("", "must be a JSON object, got " + json_excerpt(j), what);
  }

  const json& at(const char* key) const {
    const auto it = j_.find(key);
    if (it == j_.end()) throw PayloadJsonError(key, "is missing");
    return *it;
  }

  template <class T>
  T integer(const char* key, T lo = std::numeric_limits<T>::min(), T hi = std::numeric_limits<T>::max()) const {
    return core::integer<T>(at(key), key, lo, hi);
  }

  std::chrono::steady_clock::time_point time(const char* key) const {
    return time_point_of(integer<std::int64_t>(key));
  }

  std::chrono::milliseconds millis(const char* key) const {
    return std::chrono::milliseconds(integer<std::int64_t>(key, 0, std::numeric_limits<std::int64_t>::max()));
  }

  bool boolean(const char* key) const {
    const json& v = at(key);
    if (!v.is_boolean()) throw PayloadJsonError(key, "must be true or false, got " + json_excerpt(v));
    return v.get<bool>();
  }

  std::string string(const char* key) const {
    const json& v = at(key);
    if (!v.is_string()) throw PayloadJsonError(key, "must be a string, got " + json_excerpt(v));
    return v.get<std::string>();
  }

  // A nested object, read by its from_json; its errors are named from here ("job.spec.priority").
  template <class T>
  void object(const char* key, T& out) const {
    const json& v = at(key);
    if (!v.is_object()) throw PayloadJsonError(key, "must be a JSON object, got " + json_excerpt(v));
    try {
      from_json(v, out);
    } catch (const PayloadJsonError& e) {
      throw e.within(key);
    }
  }

 private:
  const json& j_;
};

// The index in `names` of the object's "kind", or an error naming the known kinds.
template <std::size_t N>
std::size_t kind_index(const Fields& f, const std::array<std::string_view, N>& names) {
  const json& kind = f.at("kind");
  const std::string known = "one of " + joined(names);
  if (!kind.is_string()) throw PayloadJsonError("kind", "must be a string, " + known + ", got " + json_excerpt(kind));
  const auto& name = kind.get_ref<const std::string&>();
  for (std::size_t i = 0; i < N; ++i)
    if (name == names[i]) return i;
  throw PayloadJsonError("kind", "must be " + known + ", got " + json_excerpt(kind));
}

mpsc::UnboundedSender<RunJob> no_inbox() {
  auto [tx, rx] = mpsc::unbounded_channel<RunJob>();
  return std::move(tx);  // the receiver goes here: the sender is closed
}

// A Register has no default constructor: read whole, without an inbox.
Register read_register(const json& j) {
  const Fields f(j, "a Register");
  const auto worker = f.integer<WorkerId>("worker");
  const auto capacity = f.integer<unsigned>("capacity");
  const bool resumed = j.contains("resumed") && f.boolean("resumed");  // written only when set
  return Register{worker, capacity, no_inbox(), resumed};
}

template <class Alternative>
Alternative read_alternative(const json& j) {
  if constexpr (std::is_same_v<Alternative, Register>) {
    return read_register(j);
  } else {
    Alternative a;
    from_json(j, a);
    return a;
  }
}

template <std::size_t I = 0>
EventPayload read_payload(std::size_t index, const json& j) {
  if constexpr (I + 1 < std::variant_size_v<EventPayload>) {
    if (index != I) return read_payload<I + 1>(index, j);
  }
  try {
    return EventPayload(std::in_place_index<I>, read_alternative<std::variant_alternative_t<I, EventPayload>>(j));
  } catch (const PayloadJsonError& e) {
    throw e.within(kind_names[I]);
  }
}

}  // namespace

PayloadJsonError::PayloadJsonError(std::string field, std::string problem, std::string_view subject)
    : std::runtime_error(!field.empty()    ? field + " " + problem
                         : subject.empty() ? problem
                                           : std::string(subject) + " " + problem),
      field_(std::move(field)),
      problem_(std::move(problem)) {}

PayloadJsonError PayloadJsonError::within(std::string_view outer) const {
  if (field_.empty()) return PayloadJsonError(std::string(outer), problem_);
  const bool index = field_.front() == '[';
  return PayloadJsonError(std::string(outer) + (index ? "" : ".") + field_, problem_);
}

void to_json(json& j, JobStatus status) { j = to_string(status); }

void from_json(const json& j, JobStatus& status) {
  if (j.is_string()) {
    const auto& name = j.get_ref<const std::string&>();
    for (auto s : statuses)
      if (name == to_string(s)) {
        status = s;
        return;
      }
  }
  throw PayloadJsonError("", "must be one of " + status_names() + ", got " + json_excerpt(j), "a job status");
}

void to_json(json& j, const CronExpression& cron) { j = cron.text(); }

void from_json(const json& j, CronExpression& cron) {
  if (!j.is_string()) throw PayloadJsonError("", "must be a string, got " + json_excerpt(j), "a cron expression");
  auto parsed = CronExpression::parse(j.get_ref<const std::string&>());
  if (!parsed) throw PayloadJsonError("", "does not parse: " + parsed.error().message, "a cron expression");
  cron = std::move(*parsed);
}

void to_json(json& j, const JobSpec& spec) {
  if (spec.priority < JobSpec::min_priority || spec.priority > JobSpec::max_priority)
    throw PayloadJsonError("priority", "must be 0-9, got " + std::to_string(spec.priority));
  if (spec.delay.count() < 0)
    throw PayloadJsonError("delay_ms", "must not be negative, got " + std::to_string(spec.delay.count()));
  if (spec.work.count() < 0)
    throw PayloadJsonError("work_ms", "must not be negative, got " + std::to_string(spec.work.count()));
  if (spec.runs && *spec.runs == 0) throw PayloadJsonError("runs", "must be a positive integer or null, got 0");
  j = json::object();
  j["name"] = spec.name;
  j["priority"] = spec.priority;
  j["delay_ms"] = spec.delay.count();
  j["cron"] = spec.cron ? json(*spec.cron) : json(nullptr);
  j["runs"] = spec.runs ? json(*spec.runs) : json(nullptr);
  j["work_ms"] = spec.work.count();
  j["fail_attempts"] = spec.fail_attempts;
}

void from_json(const json& j, JobSpec& spec) {
  const Fields f(j, "a JobSpec");
  JobSpec s;
  s.name = f.string("name");
  s.priority = f.integer<int>("priority", JobSpec::min_priority, JobSpec::max_priority);
  s.delay = f.millis("delay_ms");
  if (const json& cron = f.at("cron"); !cron.is_null()) {
    if (!cron.is_string())
      throw PayloadJsonError("cron", "must be a cron expression (a string) or null, got " + json_excerpt(cron));
    try {
      s.cron = cron.get<CronExpression>();
    } catch (const PayloadJsonError& e) {
      throw e.within("cron");
    }
  }
  if (const json& runs = f.at("runs"); !runs.is_null()) {
    if (!runs.is_number_integer())
      throw PayloadJsonError("runs", "must be a positive integer or null, got " + json_excerpt(runs));
    s.runs = integer<unsigned>(runs, "runs", 1, std::numeric_limits<unsigned>::max());
  }
  s.work = f.millis("work_ms");
  s.fail_attempts = f.integer<unsigned>("fail_attempts");
  spec = std::move(s);
}

void to_json(json& j, const Job& job) {
  j = json::object();
  j["id"] = job.id;
  j["run"] = job.run;
  j["spec"] = job.spec;
  j["attempt"] = job.attempt;
  j["placement"] = job.placement;
  j["submitted_at_ns"] = time_ns(job.submitted_at);
  j["ready_at_ns"] = time_ns(job.ready_at);
  json history = json::array();
  for (auto s : job.history) history.push_back(s);
  j["history"] = std::move(history);
}

void from_json(const json& j, Job& job) {
  const Fields f(j, "a Job");
  Job out;
  out.id = f.integer<JobId>("id");
  out.run = f.integer<std::uint64_t>("run");
  f.object("spec", out.spec);
  out.attempt = f.integer<unsigned>("attempt");
  out.placement = f.integer<std::uint64_t>("placement");
  out.submitted_at = f.time("submitted_at_ns");
  out.ready_at = f.time("ready_at_ns");
  const json& history = f.at("history");
  if (!history.is_array())
    throw PayloadJsonError("history", "must be an array of job status names, got " + json_excerpt(history));
  out.history.reserve(history.size());
  for (std::size_t i = 0; i < history.size(); ++i) {
    try {
      out.history.push_back(history[i].get<JobStatus>());
    } catch (const PayloadJsonError& e) {
      throw e.within("history[" + std::to_string(i) + "]");
    }
  }
  job = std::move(out);
}

void to_json(json& j, const RunJob& run) { j = {{"job", run.job}}; }
void from_json(const json& j, RunJob& run) { Fields(j, "a RunJob").object("job", run.job); }

void to_json(json& j, const Submit& m) { j = {{"spec", m.spec}}; }
void from_json(const json& j, Submit& m) { Fields(j, "a Submit").object("spec", m.spec); }

void to_json(json& j, const Hibernate& m) {
  j = json::object();
  j["job"] = m.job;
  j["until_ns"] = m.until ? time_ns(*m.until) : json(nullptr);
}

void from_json(const json& j, Hibernate& m) {
  const Fields f(j, "a Hibernate");
  Hibernate out;
  f.object("job", out.job);
  if (const json& until = f.at("until_ns"); !until.is_null()) {
    if (!until.is_number_integer())
      throw PayloadJsonError("until_ns", "must be an integer (nanoseconds) or null, got " + json_excerpt(until));
    out.until = time_point_of(integer<std::int64_t>(until, "until_ns"));
  }
  m = std::move(out);
}

void to_json(json& j, const Ready& m) { j = {{"job", m.job}}; }
void from_json(const json& j, Ready& m) { Fields(j, "a Ready").object("job", m.job); }

void to_json(json& j, const Credit& m) { j = {{"slots", m.slots}}; }
void from_json(const json& j, Credit& m) { m.slots = Fields(j, "a Credit").integer<unsigned>("slots"); }

void to_json(json& j, const Dispatch& m) { j = {{"job", m.job}}; }
void from_json(const json& j, Dispatch& m) { Fields(j, "a Dispatch").object("job", m.job); }

void to_json(json& j, const Register& m) {
  j = json::object();
  j["worker"] = m.worker;
  j["capacity"] = m.capacity;
  if (m.resumed) j["resumed"] = true;
}

void from_json(const json& j, Register& m) { m = read_register(j); }

void to_json(json& j, const Heartbeat& m) {
  j = json::object();
  j["worker"] = m.worker;
  j["in_flight"] = m.in_flight;
  j["capacity"] = m.capacity;
}

void from_json(const json& j, Heartbeat& m) {
  const Fields f(j, "a Heartbeat");
  Heartbeat out;
  out.worker = f.integer<WorkerId>("worker");
  out.in_flight = f.integer<unsigned>("in_flight");
  out.capacity = f.integer<unsigned>("capacity");
  m = out;
}

void to_json(json& j, const Finished& m) {
  j = json::object();
  j["worker"] = m.worker;
  j["job"] = m.job;
  j["run"] = m.run;
  j["placement"] = m.placement;
}

void from_json(const json& j, Finished& m) {
  const Fields f(j, "a Finished");
  Finished out;
  out.worker = f.integer<WorkerId>("worker");
  out.job = f.integer<JobId>("job");
  out.run = f.integer<std::uint64_t>("run");
  out.placement = f.integer<std::uint64_t>("placement");
  m = out;
}

void to_json(json& j, const Expect& m) {
  j = json::object();
  j["job"] = m.job;
  j["worker"] = m.worker;
}

void from_json(const json& j, Expect& m) {
  const Fields f(j, "an Expect");
  Expect out;
  f.object("job", out.job);
  out.worker = f.integer<WorkerId>("worker");
  m = std::move(out);
}

void to_json(json& j, const Forget& m) {
  j = json::object();
  j["job"] = m.job;
  j["run"] = m.run;
  j["worker"] = m.worker;
  j["placement"] = m.placement;
}

void from_json(const json& j, Forget& m) {
  const Fields f(j, "a Forget");
  Forget out;
  out.job = f.integer<JobId>("job");
  out.run = f.integer<std::uint64_t>("run");
  out.worker = f.integer<WorkerId>("worker");
  out.placement = f.integer<std::uint64_t>("placement");
  m = out;
}

void to_json(json& j, const Outcome& m) {
  j = json::object();
  j["job"] = m.job;
  j["run"] = m.run;
  j["attempt"] = m.attempt;
  j["worker"] = m.worker;
  j["ok"] = m.ok;
  j["error"] = m.error;
  j["started_ns"] = time_ns(m.started);
  j["finished_ns"] = time_ns(m.finished);
  j["placement"] = m.placement;
}

void from_json(const json& j, Outcome& m) {
  const Fields f(j, "an Outcome");
  Outcome out;
  out.job = f.integer<JobId>("job");
  out.run = f.integer<std::uint64_t>("run");
  out.attempt = f.integer<unsigned>("attempt");
  out.worker = f.integer<WorkerId>("worker");
  out.ok = f.boolean("ok");
  out.error = f.string("error");
  out.started = f.time("started_ns");
  out.finished = f.time("finished_ns");
  out.placement = f.integer<std::uint64_t>("placement");
  m = std::move(out);
}

void to_json(json& j, const ArchiveRecord& m) {
  j = json::object();
  j["job"] = m.job;
  j["ok"] = m.ok;
  j["attempts"] = m.attempts;
  j["worker"] = m.worker;
  j["error"] = m.error;
  j["submitted_ns"] = time_ns(m.submitted);
  j["started_ns"] = time_ns(m.started);
  j["finished_ns"] = time_ns(m.finished);
}

void from_json(const json& j, ArchiveRecord& m) {
  const Fields f(j, "an ArchiveRecord");
  ArchiveRecord out;
  f.object("job", out.job);
  out.ok = f.boolean("ok");
  out.attempts = f.integer<unsigned>("attempts");
  out.worker = f.integer<WorkerId>("worker");
  out.error = f.string("error");
  out.submitted = f.time("submitted_ns");
  out.started = f.time("started_ns");
  out.finished = f.time("finished_ns");
  m = std::move(out);
}

void to_json(json& j, const Archive& m) { j = {{"record", m.record}}; }
void from_json(const json& j, Archive& m) { Fields(j, "an Archive").object("record", m.record); }

void to_json(json& j, const EventPayload& payload) {
  std::visit([&](const auto& alternative) { j = alternative; }, payload);
  j["kind"] = kind_name(payload);
}

void from_json(const json& j, EventPayload& payload) {
  payload = read_payload(kind_index(Fields(j, "an EventPayload"), kind_names), j);
}

std::string_view kind_name(const EventPayload& payload) noexcept { return kind_names[payload.index()]; }

namespace {

// The names of a core event's "kind", in the order of CoreEvent's alternatives.
constexpr std::array<std::string_view, 5> event_kind_names = {"Startup", "Shutdown", "ServiceRestarted", "Tick",
                                                              "JobStatusChanged"};
static_assert(event_kind_names.size() == std::variant_size_v<CoreEvent>);

struct EventFields {
  json& j;
  void operator()(const swarmsync::Startup&) const { j = json::object(); }
  void operator()(const swarmsync::Shutdown& e) const { j = {{"reason", e.reason}}; }
  void operator()(const swarmsync::ServiceRestarted& e) const {
    j = {{"service", e.service},   {"restarts", e.restarts}, {"swapped", e.swapped},
         {"error", e.error},       {"lost_in_hand", e.lost_in_hand}};
  }
  void operator()(const swarmsync::Tick& e) const { j = {{"rate", to_string(e.rate)}, {"n", e.n}}; }
  void operator()(const JobStatusChanged& e) const {
    j = {{"job", e.job}, {"run", e.run}, {"status", e.status}, {"attempt", e.attempt}};
  }
};

CoreEvent read_event(std::size_t index, const json& j) {
  const Fields f(j, "a core event");
  switch (index) {
    case 0:
      return swarmsync::Startup{};
    case 1:
      return swarmsync::Shutdown{f.string("reason")};
    case 2: {
      swarmsync::ServiceRestarted e;
      e.service = f.string("service");
      e.restarts = f.integer<std::uint64_t>("restarts");
      e.swapped = f.boolean("swapped");
      e.error = f.string("error");
      e.lost_in_hand = f.integer<std::uint64_t>("lost_in_hand");
      return e;
    }
    case 3: {
      swarmsync::Tick e;
      const auto rate = f.string("rate");
      if (rate == "slow") e.rate = swarmsync::PulseRate::slow;
      else if (rate == "medium") e.rate = swarmsync::PulseRate::medium;
      else if (rate == "fast") e.rate = swarmsync::PulseRate::fast;
      else throw PayloadJsonError("rate", "must be \"slow\", \"medium\" or \"fast\", got " + json_excerpt(f.at("rate")));
      e.n = f.integer<std::uint64_t>("n");
      return e;
    }
    default: {
      JobStatusChanged e;
      e.job = f.integer<JobId>("job");
      e.run = f.integer<std::uint64_t>("run");
      try {
        from_json(f.at("status"), e.status);
      } catch (const PayloadJsonError& bad) {
        throw bad.within("status");
      }
      e.attempt = f.integer<unsigned>("attempt");
      return e;
    }
  }
}

}  // namespace

void to_json(json& j, const CoreEvent& event) {
  std::visit(EventFields{j}, event);
  j["kind"] = event_kind_names[event.index()];
}

void from_json(const json& j, CoreEvent& event) {
  const std::size_t i = kind_index(Fields(j, "a core event"), event_kind_names);
  try {
    event = read_event(i, j);
  } catch (const PayloadJsonError& e) {
    throw e.within(event_kind_names[i]);
  }
}

}  // namespace core

NLOHMANN_JSON_NAMESPACE_BEGIN
core::Register adl_serializer<core::Register>::from_json(const json& j) { return core::read_register(j); }
NLOHMANN_JSON_NAMESPACE_END
