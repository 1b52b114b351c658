#pragma once
// The JSON form of what travels on the Core's channels, for a transport between processes (the
// NATS JetStream bridges and their `swarmsync::nats::JsonCodec`):
//
//     #include <swarmsync/transport/nats/codec.hpp>
//     #include "model/payload_json.hpp"
//
//     swarmsync::nats::JsonCodec<core::EventPayload> codec;
//     std::string bytes = codec.encode(core::EventPayload(core::Credit{4}));  // {"kind":"Credit","slots":4}
//     auto payload = codec.decode(bytes);              // Result<EventPayload, DecodeError>, never throws
//     if (!payload) log(payload.error().message);      // e.g. "Submit.spec.priority must be 0-9, got 10"
//
//     nlohmann::json j = core::RunJob{job};           // or through nlohmann directly
//     auto run = j.get<core::RunJob>();                // throws PayloadJsonError on a bad shape
//
// The functions are the `to_json`/`from_json` pairs nlohmann::json finds by argument-dependent
// lookup. The shapes (nlohmann::json writes an object's keys in alphabetical order):
//
//   EventPayload  an object with "kind", the alternative's name ("Submit", "Hibernate", "Ready",
//                 "Credit", "Dispatch", "Register", "Heartbeat", "Finished", "Expect", "Forget",
//                 "Outcome", "Archive"), and that alternative's fields:
//                 {"kind":"Hibernate","job":{...},"until_ns":1234567890}
//   JobSpec       the field names of a job line (model/job_file.hpp), every one present, a missing
//                 cron or runs as null: {"cron":"*/5 * * * *","delay_ms":0,"fail_attempts":0,
//                 "name":"tick","priority":5,"runs":3,"work_ms":10}
//   Job           {"attempt":0,"history":["submitted","ready"],"id":7,"placement":0,
//                 "ready_at_ns":...,"run":0,"spec":{...},"submitted_at_ns":...}
//   RunJob        {"job":{...}}
//   Archive       {"kind":"Archive","record":{"attempts":1,"error":"","finished_ns":...,"job":{...},
//                 "ok":true,"started_ns":...,"submitted_ns":...,"worker":2}}
//   CronExpression  its text; JobStatus  its name (`to_string`).
//   CoreEvent     an object with "kind" ("Startup", "Shutdown", "ServiceRestarted", "Tick",
//                 "JobStatusChanged") and the event's fields:
//                 {"attempt":1,"job":7,"kind":"JobStatusChanged","run":0,"status":"done"},
//                 {"kind":"Tick","n":12,"rate":"slow"}
//
// Time points (`std::chrono::steady_clock`) are integer nanoseconds since the steady clock's epoch,
// in fields named with an `_ns` suffix. On Linux the steady clock is CLOCK_MONOTONIC, which every
// process of one machine shares (it counts from boot): a time point from another process of the
// same machine compares with this one's, so latencies stay meaningful there. Across machines the
// epochs differ and such a time point means nothing.
//
// A Register carries the worker's inbox, an in-process channel that cannot cross a process: its
// JSON has the worker id and capacity only, and a decoded Register has no inbox (a sender of a
// channel whose receiver is gone: `inbox.is_closed()` is true, every send fails). Whoever receives
// a remote worker's Register sets its inbox (for example the sending half of a bridge to that
// worker) before handing it on. (Register has no default constructor, its inbox being a sender
// without one; `j.get<core::Register>()` works through the adl_serializer specialisation below.)
//
// Decoding is strict about what it reads and lenient about what it does not: every field listed
// must be present and of its type (an optional one may be null), numbers must be integers within
// range (priority 0-9, runs 1 or more, counts and durations not negative, each within its C++
// type), a cron text must parse, a status name must be one of JobStatus's; fields not listed are
// ignored. A failure throws PayloadJsonError, whose message names the field by its path (e.g.
// "Ready.job.history[2]") and says what was given; JsonCodec turns it into a DecodeError.

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "model/job.hpp"
#include "wiring.hpp"

namespace core {

/// A JSON value that is not the Core type asked for, or a value that has no JSON form. `field()`
/// is the path of the bad field ("Submit.spec.priority", "kind", "job.history[1]"; empty when the
/// whole value is wrong), `problem()` what is wrong with it; `what()` is one sentence: the field
/// (or, when the whole value is wrong, `subject`, such as "a Job") and the problem.
class PayloadJsonError : public std::runtime_error {
 public:
  PayloadJsonError(std::string field, std::string problem, std::string_view subject = {});

  const std::string& field() const noexcept { return field_; }
  const std::string& problem() const noexcept { return problem_; }

  /// The same error seen from the enclosing value: its field becomes `outer.field`.
  PayloadJsonError within(std::string_view outer) const;

 private:
  std::string field_;
  std::string problem_;
};

/// Its name (`to_string`). Decoding takes exactly those names.
void to_json(nlohmann::json& j, JobStatus status);
void from_json(const nlohmann::json& j, JobStatus& status);

/// Its text (`text()`). Decoding parses the text; one that does not parse is an error.
void to_json(nlohmann::json& j, const CronExpression& cron);
void from_json(const nlohmann::json& j, CronExpression& cron);

/// Encoding throws PayloadJsonError for a spec outside the ranges decoding takes (priority outside
/// 0-9, a negative delay or work, runs of 0), so that whatever encodes decodes to an equal spec.
void to_json(nlohmann::json& j, const JobSpec& spec);
void from_json(const nlohmann::json& j, JobSpec& spec);

/// Every field; `history` as an array of status names. Decoding gives back an equal Job.
void to_json(nlohmann::json& j, const Job& job);
void from_json(const nlohmann::json& j, Job& job);

/// What a worker is told to do: {"job": ...}.
void to_json(nlohmann::json& j, const RunJob& run);
void from_json(const nlohmann::json& j, RunJob& run);

/// Each alternative of EventPayload on its own: its fields, without "kind". Decoding gives back an
/// equal value (a Register without its inbox, see above).
void to_json(nlohmann::json& j, const Submit& m);
void from_json(const nlohmann::json& j, Submit& m);
void to_json(nlohmann::json& j, const Hibernate& m);  ///< "until_ns": null when not set
void from_json(const nlohmann::json& j, Hibernate& m);
void to_json(nlohmann::json& j, const Ready& m);
void from_json(const nlohmann::json& j, Ready& m);
void to_json(nlohmann::json& j, const Credit& m);
void from_json(const nlohmann::json& j, Credit& m);
void to_json(nlohmann::json& j, const Dispatch& m);
void from_json(const nlohmann::json& j, Dispatch& m);
/// The worker id and capacity only. Decoding sets both and replaces `inbox` by a closed sender:
/// never an inbox the JSON did not bring.
void to_json(nlohmann::json& j, const Register& m);
void from_json(const nlohmann::json& j, Register& m);
void to_json(nlohmann::json& j, const Heartbeat& m);
void from_json(const nlohmann::json& j, Heartbeat& m);
void to_json(nlohmann::json& j, const Finished& m);
void from_json(const nlohmann::json& j, Finished& m);
void to_json(nlohmann::json& j, const Expect& m);
void from_json(const nlohmann::json& j, Expect& m);
void to_json(nlohmann::json& j, const Forget& m);
void from_json(const nlohmann::json& j, Forget& m);
void to_json(nlohmann::json& j, const Outcome& m);  ///< "started_ns", "finished_ns"
void from_json(const nlohmann::json& j, Outcome& m);
void to_json(nlohmann::json& j, const ArchiveRecord& m);  ///< "submitted_ns", "started_ns", "finished_ns"
void from_json(const nlohmann::json& j, ArchiveRecord& m);
void to_json(nlohmann::json& j, const Archive& m);
void from_json(const nlohmann::json& j, Archive& m);

/// The alternative's fields and "kind", its name. Decoding reads "kind" first: an unknown kind is
/// an error listing the known ones; an error in the alternative's fields is named after the kind
/// ("Credit.slots must be a non-negative integer, got -1").
void to_json(nlohmann::json& j, const EventPayload& payload);
void from_json(const nlohmann::json& j, EventPayload& payload);

/// The name "kind" has for `payload`'s alternative ("Submit", ...).
std::string_view kind_name(const EventPayload& payload) noexcept;

/// A core event (the runtime's and the Core's, wiring.hpp's `CoreEvent`): its fields and "kind".
/// Decoding is as for EventPayload ("ServiceRestarted.restarts must be ..."); a Tick's "rate" is
/// "slow", "medium" or "fast".
void to_json(nlohmann::json& j, const CoreEvent& event);
void from_json(const nlohmann::json& j, CoreEvent& event);

}  // namespace core

NLOHMANN_JSON_NAMESPACE_BEGIN
/// Register cannot be default-constructed (its inbox cannot): this lets `j.get<core::Register>()`
/// build one, without an inbox. Encoding and `get_to` are core's functions.
template <>
struct adl_serializer<core::Register> {
  static void to_json(json& j, const core::Register& m) { core::to_json(j, m); }
  static void from_json(const json& j, core::Register& m) { core::from_json(j, m); }
  static core::Register from_json(const json& j);
};
NLOHMANN_JSON_NAMESPACE_END
