// The JSON form of the Core's messages: every EventPayload alternative and RunJob round-trip
// through swarmsync::nats::JsonCodec field by field, a cron job keeps its schedule, and every kind
// of bad input is a DecodeError that names the field and what was given.

#include "model/payload_json.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <swarmsync/transport/nats/codec.hpp>  // header-only: no swarmsync::nats to link

namespace payload_json_test {

namespace {

using namespace core;
using namespace std::chrono;
using nlohmann::json;
using swarmsync::nats::JsonCodec;

steady_clock::time_point ns(std::int64_t n) { return steady_clock::time_point(nanoseconds(n)); }
// A time point as its count, so that a failure prints a number.
std::int64_t count(steady_clock::time_point t) { return duration_cast<nanoseconds>(t.time_since_epoch()).count(); }
std::optional<std::int64_t> count(std::optional<steady_clock::time_point> t) {
  return t ? std::optional(count(*t)) : std::nullopt;
}

// Non-default values in every field (a delay and a cron expression together: the type allows it,
// though a job file does not).
JobSpec full_spec() {
  JobSpec s;
  s.name = "report \"q3\" \xc3\xa9";
  s.priority = 8;
  s.delay = milliseconds(1500);
  s.cron = CronExpression::parse("*/5 9-17 * * MON-FRI").value();
  s.runs = 4;
  s.work = milliseconds(25);
  s.fail_attempts = 2;
  return s;
}

Job full_job() {
  Job j;
  j.id = 0xFFFF'FFFF'FFFF'FFF0ull;  // beyond int64: stays unsigned
  j.run = 3;
  j.spec = full_spec();
  j.attempt = 2;
  j.placement = 99;
  j.submitted_at = ns(1'234'567'890'123);
  j.ready_at = ns(1'234'567'999'999);
  j.history = {JobStatus::submitted, JobStatus::hibernating, JobStatus::ready, JobStatus::dispatched,
               JobStatus::retrying,  JobStatus::done,        JobStatus::failed};
  return j;
}

void expect_same(const JobSpec& a, const JobSpec& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.delay, b.delay);
  ASSERT_EQ(a.cron.has_value(), b.cron.has_value());
  if (a.cron) {
    EXPECT_EQ(a.cron->text(), b.cron->text());
    auto t = system_clock::time_point(sys_days(year(2024) / 2 / 28));
    for (int i = 0; i < 5; ++i) {
      const auto next_a = a.cron->next_after(t), next_b = b.cron->next_after(t);
      ASSERT_TRUE(next_a && next_b);
      EXPECT_EQ(*next_a, *next_b);
      t = *next_a;
    }
  }
  EXPECT_EQ(a.runs, b.runs);
  EXPECT_EQ(a.work, b.work);
  EXPECT_EQ(a.fail_attempts, b.fail_attempts);
}

void expect_same(const Job& a, const Job& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.run, b.run);
  expect_same(a.spec, b.spec);
  EXPECT_EQ(a.attempt, b.attempt);
  EXPECT_EQ(a.placement, b.placement);
  EXPECT_EQ(count(a.submitted_at), count(b.submitted_at));
  EXPECT_EQ(count(a.ready_at), count(b.ready_at));
  EXPECT_EQ(a.history, b.history);
}

void expect_same(const Submit& a, const Submit& b) { expect_same(a.spec, b.spec); }
void expect_same(const Hibernate& a, const Hibernate& b) {
  expect_same(a.job, b.job);
  EXPECT_EQ(count(a.until), count(b.until));
}
void expect_same(const Ready& a, const Ready& b) { expect_same(a.job, b.job); }
void expect_same(const Credit& a, const Credit& b) { EXPECT_EQ(a.slots, b.slots); }
void expect_same(const Dispatch& a, const Dispatch& b) { expect_same(a.job, b.job); }
void expect_same(const Register& a, const Register& b) {  // the inbox does not travel
  EXPECT_EQ(a.worker, b.worker);
  EXPECT_EQ(a.capacity, b.capacity);
  EXPECT_EQ(a.resumed, b.resumed);
}
void expect_same(const Heartbeat& a, const Heartbeat& b) {
  EXPECT_EQ(a.worker, b.worker);
  EXPECT_EQ(a.in_flight, b.in_flight);
  EXPECT_EQ(a.capacity, b.capacity);
}
void expect_same(const Finished& a, const Finished& b) {
  EXPECT_EQ(a.worker, b.worker);
  EXPECT_EQ(a.job, b.job);
  EXPECT_EQ(a.run, b.run);
  EXPECT_EQ(a.placement, b.placement);
}
void expect_same(const Expect& a, const Expect& b) {
  expect_same(a.job, b.job);
  EXPECT_EQ(a.worker, b.worker);
}
void expect_same(const Forget& a, const Forget& b) {
  EXPECT_EQ(a.job, b.job);
  EXPECT_EQ(a.run, b.run);
  EXPECT_EQ(a.worker, b.worker);
  EXPECT_EQ(a.placement, b.placement);
}
void expect_same(const Outcome& a, const Outcome& b) {
  EXPECT_EQ(a.job, b.job);
  EXPECT_EQ(a.run, b.run);
  EXPECT_EQ(a.attempt, b.attempt);
  EXPECT_EQ(a.worker, b.worker);
  EXPECT_EQ(a.ok, b.ok);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(count(a.started), count(b.started));
  EXPECT_EQ(count(a.finished), count(b.finished));
  EXPECT_EQ(a.placement, b.placement);
}
void expect_same(const Archive& a, const Archive& b) {
  const ArchiveRecord &x = a.record, &y = b.record;
  expect_same(x.job, y.job);
  EXPECT_EQ(x.ok, y.ok);
  EXPECT_EQ(x.attempts, y.attempts);
  EXPECT_EQ(x.worker, y.worker);
  EXPECT_EQ(x.error, y.error);
  EXPECT_EQ(count(x.submitted), count(y.submitted));
  EXPECT_EQ(count(x.started), count(y.started));
  EXPECT_EQ(count(x.finished), count(y.finished));
}

// `payload` through the codec and back, compared field by field; returns the JSON text.
std::string round_trip(const EventPayload& payload) {
  const JsonCodec<EventPayload> codec;
  const std::string bytes = codec.encode(payload);
  auto back = codec.decode(bytes);
  EXPECT_TRUE(back) << back.error().message << "\n" << bytes;
  if (!back) return bytes;
  EXPECT_EQ(back->index(), payload.index()) << bytes;
  if (back->index() != payload.index()) return bytes;
  std::visit([&](const auto& original) { expect_same(original, std::get<std::decay_t<decltype(original)>>(*back)); },
             payload);
  return bytes;
}

TEST(PayloadJson, EveryAlternativeRoundTrips) {
  auto [inbox, worker_rx] = swarmsync::mpsc::unbounded_channel<RunJob>();
  const std::vector<EventPayload> payloads = {
      Submit{full_spec()},
      Hibernate{full_job(), ns(-5)},  // a time point before the clock's epoch is still a time point
      Ready{full_job()},
      Credit{7},
      Dispatch{full_job()},
      Register{12, 3, inbox},
      Heartbeat{12, 2, 8},
      Finished{12, 0xFFFF'FFFF'FFFF'FFFEull, 5, 77},
      Expect{full_job(), 13},
      Forget{41, 6, 14, 78},
      Outcome{42, 7, 3, 15, false, "disk full \xe2\x9c\x97", ns(1'000'000'001), ns(2'000'000'002), 79},
      Archive{ArchiveRecord{full_job(), false, 4, 16, "gave up", ns(10), ns(20), ns(30)}},
  };
  ASSERT_EQ(payloads.size(), std::variant_size_v<EventPayload>);
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    ASSERT_EQ(payloads[i].index(), i);  // each alternative once
    SCOPED_TRACE(std::string(kind_name(payloads[i])));
    const std::string bytes = round_trip(payloads[i]);
    EXPECT_EQ(json::parse(bytes).at("kind").get<std::string>(), kind_name(payloads[i]));
  }
  // Hibernate without `until`.
  round_trip(Hibernate{full_job(), std::nullopt});
}

// The binary codec carries every alternative as the JSON one does, in fewer bytes; bytes that
// are not MessagePack, or MessagePack of another shape, are errors with the reason.
TEST(PayloadJson, EveryAlternativeRoundTripsAsMessagePack) {
  auto [inbox, worker_rx] = swarmsync::mpsc::unbounded_channel<RunJob>();
  const std::vector<EventPayload> payloads = {
      Submit{full_spec()}, Hibernate{full_job(), ns(-5)}, Ready{full_job()}, Credit{7}, Dispatch{full_job()},
      Register{12, 3, inbox, true}, Heartbeat{12, 2, 8}, Finished{12, 0xFFFF'FFFF'FFFF'FFFEull, 5, 77},
      Expect{full_job(), 13}, Forget{41, 6, 14, 78},
      Outcome{42, 7, 3, 15, false, "disk full \xe2\x9c\x97", ns(1'000'000'001), ns(2'000'000'002), 79},
      Archive{ArchiveRecord{full_job(), false, 4, 16, "gave up", ns(10), ns(20), ns(30)}},
  };
  ASSERT_EQ(payloads.size(), std::variant_size_v<EventPayload>);
  const swarmsync::nats::MsgPackCodec<EventPayload> binary;
  const swarmsync::nats::JsonCodec<EventPayload> text;
  std::size_t binary_bytes = 0, text_bytes = 0;
  for (const auto& payload : payloads) {
    SCOPED_TRACE(std::string(kind_name(payload)));
    const std::string bytes = binary.encode(payload);
    binary_bytes += bytes.size();
    text_bytes += text.encode(payload).size();
    auto back = binary.decode(bytes);
    ASSERT_TRUE(back) << back.error().message;
    ASSERT_EQ(back->index(), payload.index());
    std::visit([&](const auto& original) { expect_same(original, std::get<std::decay_t<decltype(original)>>(*back)); },
               payload);
    EXPECT_FALSE(binary.decode(bytes + "x")) << "trailing bytes";
  }
  EXPECT_LT(binary_bytes, text_bytes);
  auto junk = binary.decode("\xc1");  // 0xc1: never used in MessagePack
  ASSERT_FALSE(junk);
  EXPECT_EQ(junk.error().message, "not valid MessagePack");
  std::string other_shape;
  nlohmann::json::to_msgpack(nlohmann::json{{"kind", "Credit"}, {"slots", "many"}}, other_shape);
  auto wrong = binary.decode(other_shape);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("Credit.slots"), std::string::npos) << wrong.error().message;
}

TEST(PayloadJson, TheShapeIsTheDocumentedOne) {
  const JsonCodec<EventPayload> codec;
  EXPECT_EQ(codec.encode(Credit{4}), R"({"kind":"Credit","slots":4})");
  EXPECT_EQ(codec.encode(Heartbeat{3, 1, 4}), R"({"capacity":4,"in_flight":1,"kind":"Heartbeat","worker":3})");
  auto [inbox, rx] = swarmsync::mpsc::unbounded_channel<RunJob>();
  EXPECT_EQ(codec.encode(Register{3, 2, inbox}), R"({"capacity":2,"kind":"Register","worker":3})");
  // `resumed` (a Register the worker gateway made from a heartbeat) is written only when set.
  EXPECT_EQ(codec.encode(Register{3, 2, inbox, true}), R"({"capacity":2,"kind":"Register","resumed":true,"worker":3})");
  auto resumed = codec.decode(R"({"capacity":2,"kind":"Register","resumed":true,"worker":3})");
  ASSERT_TRUE(resumed) << resumed.error().message;
  EXPECT_TRUE(std::get<Register>(*resumed).resumed);
  EXPECT_FALSE(std::get<Register>(codec.decode(R"({"capacity":2,"kind":"Register","worker":3})").value()).resumed);
  EXPECT_FALSE(codec.decode(R"({"capacity":2,"kind":"Register","resumed":1,"worker":3})"));

  JobSpec spec;
  spec.name = "tick";
  spec.cron = CronExpression::parse("*/5 * * * *").value();
  spec.runs = 3;
  EXPECT_EQ(
      json(spec).dump(),
      R"({"cron":"*/5 * * * *","delay_ms":0,"fail_attempts":0,"name":"tick","priority":5,"runs":3,"work_ms":10})");
  EXPECT_EQ(json(JobSpec{}).at("cron"), nullptr);
  EXPECT_EQ(json(JobSpec{}).at("runs"), nullptr);

  Job job;
  job.id = 7;
  job.submitted_at = ns(1000);
  job.ready_at = ns(2000);
  job.history = {JobStatus::submitted, JobStatus::ready};
  const json j = json::parse(codec.encode(Hibernate{job, ns(3000)}));
  EXPECT_EQ(j.at("until_ns"), 3000);
  EXPECT_EQ(j.at("job").at("submitted_at_ns"), 1000);
  EXPECT_EQ(j.at("job").at("ready_at_ns"), 2000);
  EXPECT_EQ(j.at("job").at("history"), json::parse(R"(["submitted","ready"])"));
  EXPECT_EQ(json::parse(codec.encode(Hibernate{job, std::nullopt})).at("until_ns"), nullptr);
}

TEST(PayloadJson, RunJobRoundTrips) {
  const JsonCodec<RunJob> codec;
  const std::string bytes = codec.encode(RunJob{full_job()});
  EXPECT_TRUE(json::parse(bytes).contains("job")) << bytes;
  auto back = codec.decode(bytes);
  ASSERT_TRUE(back) << back.error().message;
  expect_same(back->job, full_job());
}

TEST(PayloadJson, CronSpecKeepsItsTextAndFiringTimes) {
  JobSpec spec;
  spec.name = "nightly";
  spec.cron = CronExpression::parse("  30 2 */2 * 1 ").value();  // white space kept, dom-or-dow rule
  spec.runs = 1'000'000'000;
  auto back = JsonCodec<EventPayload>{}.decode(JsonCodec<EventPayload>{}.encode(Submit{spec}));
  ASSERT_TRUE(back) << back.error().message;
  const JobSpec& got = std::get<Submit>(*back).spec;
  ASSERT_TRUE(got.cron);
  EXPECT_EQ(got.cron->text(), "  30 2 */2 * 1 ");
  EXPECT_EQ(got.kind(), ScheduleKind::cron);
  EXPECT_EQ(got.run_count(), 1'000'000'000u);
  expect_same(got, spec);  // compares the next five firings too
  // And from a fixed time, against the known answer: `*/2` begins with `*`, so a day matches only
  // if it is both an odd day of the month and a Monday: 2024-01-01 (Mon, 1st), then 2024-01-15.
  const auto from = system_clock::time_point(sys_days(year(2023) / 12 / 31));
  EXPECT_EQ(got.cron->next_after(from), sys_days(year(2024) / 1 / 1) + hours(2) + minutes(30));
  EXPECT_EQ(got.cron->next_after(sys_days(year(2024) / 1 / 2)), sys_days(year(2024) / 1 / 15) + hours(2) + minutes(30));
}

TEST(PayloadJson, RegisterDecodesWithoutAnInbox) {
  auto back = JsonCodec<EventPayload>{}.decode(R"({"kind":"Register","worker":5,"capacity":4})");
  ASSERT_TRUE(back) << back.error().message;
  Register& r = std::get<Register>(*back);
  EXPECT_EQ(r.worker, 5u);
  EXPECT_EQ(r.capacity, 4u);
  EXPECT_TRUE(r.inbox.is_closed());
  EXPECT_FALSE(r.inbox.send(RunJob{}));  // nothing goes anywhere until the receiver sets an inbox

  // Directly through nlohmann too (Register has no default constructor).
  const auto direct = json::parse(R"({"worker":6,"capacity":1})").get<Register>();
  EXPECT_EQ(direct.worker, 6u);
  EXPECT_TRUE(direct.inbox.is_closed());
  // Decoding into a Register that has an inbox replaces it: never one the JSON did not bring.
  auto [tx, rx] = swarmsync::mpsc::unbounded_channel<RunJob>();
  Register existing{1, 1, tx};
  json::parse(R"({"worker":7,"capacity":2})").get_to(existing);
  EXPECT_EQ(existing.worker, 7u);
  EXPECT_TRUE(existing.inbox.is_closed());
  EXPECT_FALSE(tx.is_closed());
}

// The error message of decoding `text` as an EventPayload, or "(decoded)".
std::string error_of(const std::string& text) {
  auto r = JsonCodec<EventPayload>{}.decode(text);
  return r ? std::string("(decoded)") : r.error().message;
}

// A valid Submit with `field` of its spec replaced by `value` (raw JSON text), or removed if empty.
std::string submit_with(const std::string& field, const std::string& value) {
  json j = json::parse(JsonCodec<EventPayload>{}.encode(Submit{full_spec()}));
  if (value.empty())
    j["spec"].erase(field);
  else
    j["spec"][field] = json::parse(value);
  return j.dump();
}

// A valid Ready with `field` of its job replaced by `value` (raw JSON text).
std::string ready_with(const std::string& field, const std::string& value) {
  json j = json::parse(JsonCodec<EventPayload>{}.encode(Ready{full_job()}));
  j["job"][field] = json::parse(value);
  return j.dump();
}

TEST(PayloadJson, DecodeErrorsNameTheFieldAndWhatWasGiven) {
  // The unchanged messages decode: every error below is the one change.
  ASSERT_EQ(error_of(submit_with("priority", "9")), "(decoded)");
  ASSERT_EQ(error_of(ready_with("attempt", "0")), "(decoded)");

  // Unknown kind; no kind; a kind that is not a string.
  EXPECT_EQ(error_of(R"({"kind":"Launch","slots":1})"),
            "kind must be one of Submit, Hibernate, Ready, Credit, Dispatch, Register, Heartbeat, Finished, Expect, "
            "Forget, Outcome, Archive, got \"Launch\"");
  EXPECT_EQ(error_of(R"({"slots":1})"), "kind is missing");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "kind must be a string", error_of(R"({"kind":3})"));

  // A missing field, at the top and nested.
  EXPECT_EQ(error_of(R"({"kind":"Finished","worker":1,"job":2,"run":3})"), "Finished.placement is missing");
  EXPECT_EQ(error_of(submit_with("work_ms", "")), "Submit.spec.work_ms is missing");

  // A field of the wrong type.
  EXPECT_EQ(error_of(R"({"kind":"Heartbeat","worker":1,"in_flight":"3","capacity":1})"),
            "Heartbeat.in_flight must be a non-negative integer, got \"3\"");
  EXPECT_EQ(error_of(submit_with("priority", "7.5")), "Submit.spec.priority must be an integer 0-9, got 7.5");
  EXPECT_EQ(error_of(submit_with("name", "42")), "Submit.spec.name must be a string, got 42");
  EXPECT_EQ(error_of(ready_with("spec", "[1,2]")),
            "Ready.job.spec must be a JSON object, got an array of 2 element(s)");
  EXPECT_EQ(error_of(R"({"kind":"Outcome","job":1,"run":0,"attempt":0,"worker":1,"ok":1,"error":"",)"
                     R"("started_ns":0,"finished_ns":0,"placement":0})"),
            "Outcome.ok must be true or false, got 1");
  EXPECT_EQ(error_of("[1,2,3]"), "an EventPayload must be a JSON object, got an array of 3 element(s)");

  // Out of range: priority 10, negative numbers, a count beyond its type.
  EXPECT_EQ(error_of(submit_with("priority", "10")), "Submit.spec.priority must be 0-9, got 10");
  EXPECT_EQ(error_of(R"({"kind":"Credit","slots":-1})"), "Credit.slots must be a non-negative integer, got -1");
  EXPECT_EQ(error_of(submit_with("delay_ms", "-20")), "Submit.spec.delay_ms must be a non-negative integer, got -20");
  EXPECT_EQ(error_of(submit_with("runs", "0")), "Submit.spec.runs must be a positive integer, got 0");
  EXPECT_EQ(error_of(R"({"kind":"Credit","slots":4294967296})"),
            "Credit.slots must be at most 4294967295, got 4294967296");
  EXPECT_EQ(error_of(ready_with("id", "-7")), "Ready.job.id must be a non-negative integer, got -7");

  // A cron text that does not parse, or is not text.
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "Submit.spec.cron does not parse: invalid cron expression '61 * * * *'",
                      error_of(submit_with("cron", R"("61 * * * *")")));
  EXPECT_EQ(error_of(submit_with("cron", "5")), "Submit.spec.cron must be a cron expression (a string) or null, got 5");

  // An unknown status name in the history, or a history that is not an array.
  EXPECT_EQ(error_of(ready_with("history", R"(["submitted","lost"])")),
            "Ready.job.history[1] must be one of submitted, hibernating, ready, dispatched, retrying, done, failed, "
            "got \"lost\"");
  EXPECT_EQ(error_of(ready_with("history", R"("done")")),
            "Ready.job.history must be an array of job status names, got \"done\"");

  // A time point that is not an integer.
  EXPECT_EQ(error_of(ready_with("ready_at_ns", "1.5e9")), "Ready.job.ready_at_ns must be an integer, got 1500000000.0");

  // Not JSON at all.
  EXPECT_EQ(error_of(R"({"kind":"Credit","slots":)"), "not valid JSON");
  EXPECT_EQ(error_of(""), "not valid JSON");
}

TEST(PayloadJson, RunJobDecodeErrorsNameTheField) {
  json j = json(RunJob{full_job()});
  j["job"]["spec"]["priority"] = 10;
  auto r = JsonCodec<RunJob>{}.decode(j.dump());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "job.spec.priority must be 0-9, got 10");
}

TEST(PayloadJson, EncodingRefusesWhatCouldNotBeDecoded) {
  JobSpec spec;
  spec.priority = 12;
  EXPECT_THROW((void)json(Submit{spec}), PayloadJsonError);
  spec.priority = 5;
  spec.work = milliseconds(-1);
  EXPECT_THROW((void)json(Submit{spec}), PayloadJsonError);
  spec.work = milliseconds(1);
  spec.cron = CronExpression::parse("@hourly").value();
  spec.runs = 0;
  EXPECT_THROW((void)json(Submit{spec}), PayloadJsonError);
  spec.runs = 1;
  EXPECT_NO_THROW((void)json(Submit{spec}));
}

// The core events, as the processes of a split Core broadcast them (remote/core_events.hpp).
TEST(PayloadJson, EveryCoreEventRoundTrips) {
  JsonCodec<CoreEvent> codec;
  swarmsync::ServiceRestarted restarted;
  restarted.service = "scheduler";
  restarted.restarts = 3;
  restarted.swapped = true;
  restarted.error = "boom \"quoted\"";
  restarted.lost_in_hand = 1;
  const CoreEvent events[] = {
      swarmsync::Startup{},
      swarmsync::Shutdown{"signal 2"},
      restarted,
      swarmsync::Tick{swarmsync::PulseRate::medium, 42},
      JobStatusChanged{(JobId{1} << 40) + 7, 2, JobStatus::retrying, 3},
  };
  for (const auto& event : events) {
    const auto bytes = codec.encode(event);
    auto back = codec.decode(bytes);
    ASSERT_TRUE(back) << bytes << ": " << back.error().message;
    ASSERT_EQ(back->index(), event.index()) << bytes;
    EXPECT_EQ(codec.encode(*back), bytes);
  }
  auto r = codec.decode(codec.encode(restarted));
  const auto& got = std::get<swarmsync::ServiceRestarted>(*r);
  EXPECT_EQ(got.service, "scheduler");
  EXPECT_EQ(got.restarts, 3u);
  EXPECT_TRUE(got.swapped);
  EXPECT_EQ(got.error, "boom \"quoted\"");
  EXPECT_EQ(got.lost_in_hand, 1u);
  auto s = codec.decode(codec.encode(events[4]));
  const auto& status = std::get<JobStatusChanged>(*s);
  EXPECT_EQ(status.job, (JobId{1} << 40) + 7);
  EXPECT_EQ(status.run, 2u);
  EXPECT_EQ(status.status, JobStatus::retrying);
  EXPECT_EQ(status.attempt, 3u);
  EXPECT_EQ(codec.encode(events[4]), R"({"attempt":3,"job":1099511627783,"kind":"JobStatusChanged","run":2,"status":"retrying"})");
  EXPECT_EQ(codec.encode(events[3]), R"({"kind":"Tick","n":42,"rate":"medium"})");
}

TEST(PayloadJson, CoreEventDecodeErrorsNameTheField) {
  auto error_of_event = [](const std::string& text) -> std::string {
    auto r = JsonCodec<CoreEvent>{}.decode(text);
    return r ? "(decoded)" : r.error().message;
  };
  EXPECT_EQ(error_of_event(R"({"kind":"Startup"})"), "(decoded)");
  EXPECT_EQ(error_of_event(R"({"kind":"Launch"})"),
            "kind must be one of Startup, Shutdown, ServiceRestarted, Tick, JobStatusChanged, got \"Launch\"");
  EXPECT_EQ(error_of_event(R"({"kind":"Shutdown"})"), "Shutdown.reason is missing");
  EXPECT_EQ(error_of_event(R"({"kind":"Tick","rate":"hourly","n":1})"),
            "Tick.rate must be \"slow\", \"medium\" or \"fast\", got \"hourly\"");
  EXPECT_EQ(error_of_event(R"({"kind":"Tick","rate":"slow","n":-1})"), "Tick.n must be a non-negative integer, got -1");
  EXPECT_EQ(error_of_event(R"({"kind":"JobStatusChanged","job":1,"run":0,"status":"lost","attempt":0})"),
            "JobStatusChanged.status must be one of submitted, hibernating, ready, dispatched, retrying, done, failed, "
            "got \"lost\"");
  EXPECT_EQ(error_of_event(R"({"kind":"ServiceRestarted","service":"s","restarts":1,"swapped":"no","error":"",)"
                           R"("lost_in_hand":0})"),
            "ServiceRestarted.swapped must be true or false, got \"no\"");
  EXPECT_EQ(error_of_event("7"), "a core event must be a JSON object, got 7");
}

}  // namespace

}  // namespace payload_json_test
