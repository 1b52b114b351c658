// Stream and consumer declaration (jetstream_channel.hpp).

#include "swarmsync/transport/nats/jetstream_channel.hpp"

#include <chrono>
#include <string>
#include <thread>

namespace swarmsync::nats {
namespace {

bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::int64_t nanos(std::chrono::milliseconds d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

jsOptions api_options(const Connection& conn) {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = conn.jetstream_wait().count();
  return jo;
}

}  // namespace

Result<void, NatsError> validate(const ChannelAddress& address) {
  if (!valid_name(address.core))
    return NatsError::invalid("channel address",
                              "bad core name '" + address.core + "' (letters, digits, _ and - only)");
  if (!valid_name(address.channel))
    return NatsError::invalid("channel address",
                              "bad channel name '" + address.channel + "' (letters, digits, _ and - only)");
  return {};
}

Result<void, NatsError> ensure_stream(Connection& conn, std::string_view core_name, const StreamOptions& options) {
  const std::string core(core_name);
  if (!valid_name(core)) return NatsError::invalid("ensure_stream", "bad core name '" + core + "'");
  if (options.duplicate_window <= std::chrono::milliseconds(0))
    return NatsError::invalid("ensure_stream", "the duplicate window must be positive");
  const std::string name = "SWARMSYNC_" + core;
  const std::string subjects = core + ".>";
  const char* subject_list[] = {subjects.c_str()};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name.c_str();
  cfg.Subjects = subject_list;
  cfg.SubjectsLen = 1;
  cfg.Retention = js_WorkQueuePolicy;
  cfg.Storage = options.memory_storage ? js_MemoryStorage : js_FileStorage;
  cfg.Duplicates = nanos(options.duplicate_window);
  jsOptions jo = api_options(conn);
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = NATS_OK;
  // Two processes declaring the stream at once: the server may answer the second create with
  // "subjects overlap" while the first is being made, rather than "name in use". A create again
  // then finds the stream (identical: fine; other settings: name in use, updated below); an
  // overlap that stays is a stream of another name on these subjects, and an error.
  for (int attempt = 0; attempt < 3; ++attempt) {
    jerr = static_cast<jsErrCode>(0);
    s = js_AddStream(&si, conn.jetstream(), &cfg, &jo, &jerr);
    jsStreamInfo_Destroy(si);
    si = nullptr;
    if (jerr != JSStreamSubjectOverlapErr) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (s == NATS_OK) return {};
  if (jerr != JSStreamNameExistErr) return NatsError::from_status("ensure_stream " + name, s, jerr);
  // It exists with other settings: bring them to these.
  jerr = static_cast<jsErrCode>(0);
  s = js_UpdateStream(&si, conn.jetstream(), &cfg, &jo, &jerr);
  jsStreamInfo_Destroy(si);
  if (s != NATS_OK) return NatsError::from_status("ensure_stream: update " + name, s, jerr);
  return {};
}

Result<void, NatsError> ensure_consumer(Connection& conn, const ChannelAddress& address,
                                        const ConsumerOptions& options, ChannelSide side) {
  if (auto ok = validate(address); !ok) return ok;
  if (options.ack_wait <= std::chrono::milliseconds(0))
    return NatsError::invalid("ensure_consumer", "ack_wait must be positive");
  const std::string stream = address.stream();
  const std::string durable = address.durable();
  const std::string subject = address.subject();
  jsConsumerConfig cfg;
  jsConsumerConfig_Init(&cfg);
  cfg.Durable = durable.c_str();
  cfg.FilterSubject = subject.c_str();
  cfg.AckPolicy = js_AckExplicit;
  cfg.DeliverPolicy = js_DeliverAll;
  cfg.AckWait = nanos(options.ack_wait);
  cfg.MaxAckPending =
      options.capacity > 0 ? static_cast<std::int64_t>(options.capacity) : options.unbounded_max_ack_pending;
  jsOptions jo = api_options(conn);
  jsConsumerInfo* ci = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (side == ChannelSide::producer) {
    // The settings are the consuming side's: a producer creates the consumer only if it is
    // missing (the server's create would update one that exists with other settings).
    const natsStatus exists = js_GetConsumerInfo(&ci, conn.jetstream(), stream.c_str(), durable.c_str(), &jo, &jerr);
    jsConsumerInfo_Destroy(ci);
    ci = nullptr;
    if (exists == NATS_OK) return {};
    if (exists != NATS_NOT_FOUND) return NatsError::from_status("ensure_consumer: look up " + durable, exists, jerr);
    jerr = static_cast<jsErrCode>(0);
  }
  natsStatus s = js_AddConsumer(&ci, conn.jetstream(), stream.c_str(), &cfg, &jo, &jerr);
  jsConsumerInfo_Destroy(ci);
  ci = nullptr;
  if (s == NATS_OK) return {};
  if (jerr == 0) return NatsError::from_status("ensure_consumer " + durable, s, jerr);
  // Most likely it exists with other settings (or another producer created it meanwhile).
  if (side == ChannelSide::producer) {
    jerr = static_cast<jsErrCode>(0);
    const natsStatus exists = js_GetConsumerInfo(&ci, conn.jetstream(), stream.c_str(), durable.c_str(), &jo, &jerr);
    jsConsumerInfo_Destroy(ci);
    if (exists == NATS_OK) return {};
    return NatsError::from_status("ensure_consumer " + durable, s, jerr);
  }
  // Bring them to these.
  const NatsError first = NatsError::from_status("ensure_consumer " + durable, s, jerr);
  jerr = static_cast<jsErrCode>(0);
  s = js_UpdateConsumer(&ci, conn.jetstream(), stream.c_str(), &cfg, &jo, &jerr);
  jsConsumerInfo_Destroy(ci);
  if (s != NATS_OK) {
    NatsError e = NatsError::from_status("ensure_consumer: update " + durable, s, jerr);
    e.message += "; after " + first.message;
    return e;
  }
  return {};
}

Result<void, NatsError> declare_channel(Connection& conn, const ChannelAddress& address, const StreamOptions& stream,
                                        const ConsumerOptions& consumer, ChannelSide side) {
  if (auto ok = validate(address); !ok) return ok;
  if (auto ok = ensure_stream(conn, address.core, stream); !ok) return ok;
  return ensure_consumer(conn, address, consumer, side);
}

Result<ConsumerState, NatsError> consumer_state(Connection& conn, const ChannelAddress& address) {
  if (auto ok = validate(address); !ok) return std::move(ok).error();
  const std::string stream = address.stream();
  const std::string durable = address.durable();
  jsOptions jo = api_options(conn);
  jsConsumerInfo* ci = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetConsumerInfo(&ci, conn.jetstream(), stream.c_str(), durable.c_str(), &jo, &jerr);
  if (s != NATS_OK) return NatsError::from_status("consumer_state " + durable, s, jerr);
  ConsumerState state{ci->NumPending, ci->NumAckPending, static_cast<std::uint64_t>(ci->NumRedelivered),
                      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::nanoseconds(ci->Config->AckWait)),
                      ci->Config->MaxAckPending};
  jsConsumerInfo_Destroy(ci);
  return state;
}

Result<std::uint64_t, NatsError> stream_message_count(Connection& conn, std::string_view core) {
  const std::string name = "SWARMSYNC_" + std::string(core);
  jsOptions jo = api_options(conn);
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, conn.jetstream(), name.c_str(), &jo, &jerr);
  if (s != NATS_OK) return NatsError::from_status("stream_message_count " + name, s, jerr);
  const std::uint64_t msgs = si->State.Msgs;
  jsStreamInfo_Destroy(si);
  return Result<std::uint64_t, NatsError>(in_place_value, msgs);
}

}  // namespace swarmsync::nats
