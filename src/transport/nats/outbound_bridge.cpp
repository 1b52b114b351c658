// The publishing loop of the outbound bridge (outbound_bridge.hpp): one message, resent with the
// same id until the server confirms it or the tries run out.

#include "swarmsync/transport/nats/outbound_bridge.hpp"

#include <cstdio>
#include <random>
#include <thread>

namespace swarmsync::nats {

std::string make_sender_identity(std::string_view base) {
  std::random_device rd;
  const std::uint64_t nonce = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(nonce));
  std::string id(base);
  id += '.';
  id += hex;
  return id;
}

namespace detail {

bool valid_identity(std::string_view identity) {
  if (identity.empty()) return false;
  for (char c : identity) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

namespace {

// A failure that another try may cure: no PubAck in time, or the connection is between servers
// (buffer full, not connected yet, nobody answering while the server starts).
bool retryable(natsStatus s, jsErrCode jerr) {
  if (jerr != 0) return false;  // the server answered with a JetStream error: it refused
  switch (s) {
    case NATS_TIMEOUT:
    case NATS_NO_RESPONDERS:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_INSUFFICIENT_BUFFER:
    case NATS_NOT_YET_CONNECTED:
    case NATS_IO_ERROR:
    case NATS_STALE_CONNECTION:
      return true;
    default:
      return false;
  }
}

}  // namespace

Result<PublishReceipt, RawPublishFailure> publish_with_retries(Connection& conn, const std::string& subject,
                                                               std::string_view data, const std::string& msg_id,
                                                               const PublishOptions& options,
                                                               std::atomic<std::uint64_t>& resends) {
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = msg_id.c_str();
  po.MaxWait = options.ack_timeout.count();
  NatsError last{};
  // Whether an earlier try may have reached the server (no answer in time, or sent from the
  // reconnect buffer): then a later refusal does not prove that the message is not stored.
  bool maybe_stored = false;
  for (int attempt = 1; attempt <= options.max_tries; ++attempt) {
    if (attempt > 1) resends.fetch_add(1, std::memory_order_relaxed);  // metrics only
    jsPubAck* ack = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const natsStatus s =
        js_Publish(&ack, conn.jetstream(), subject.c_str(), data.data(), static_cast<int>(data.size()), &po, &jerr);
    if (s == NATS_OK) {
      PublishReceipt receipt;
      receipt.stream_sequence = ack->Sequence;
      receipt.duplicate = ack->Duplicate;
      receipt.tries = attempt;
      jsPubAck_Destroy(ack);
      return receipt;
    }
    jsPubAck_Destroy(ack);
    last = NatsError::from_status("publish " + msg_id + " on " + subject, s, jerr);
    if (!retryable(s, jerr))
      return RawPublishFailure{maybe_stored ? PublishErrorKind::unconfirmed : PublishErrorKind::rejected,
                               std::move(last)};
    if (s == NATS_TIMEOUT || s == NATS_CONNECTION_DISCONNECTED) maybe_stored = true;
    // A timeout already waited; a failure that came back at once waits before the next try.
    if (s != NATS_TIMEOUT && attempt < options.max_tries) std::this_thread::sleep_for(options.retry_wait);
  }
  last.message += " (after " + std::to_string(options.max_tries) + " tries)";
  return RawPublishFailure{PublishErrorKind::unconfirmed, std::move(last)};
}

}  // namespace detail
}  // namespace swarmsync::nats
