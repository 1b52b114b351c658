#pragma once
// The cases over NATS (bench/README.md, "Over NATS"), each against a nats-server -js the case
// starts on a free loopback port with a temporary store and stops at its end:
//
//   nats_1_1, nats_4_1  values through bridged channels (JetStream: a message id each, a PubAck
//                       awaited, a durable pull consumer, an ack after handling), each producer
//                       and the consumer on connections of their own, as separate processes are;
//                       throughput and hop latency (send to receive) p50/p99
//   core_jobs_nats      the Core with its workers over NATS: jobs per second
//
// `plain_cases()` are the same channel cases on a plain cnats publish/subscribe loop (core NATS:
// no store, no acks): the engine's own ceiling on this machine, for the cnats peer.

#include <vector>

#include "bench.hpp"

namespace bench::nats {

/// nats_1_1, nats_4_1, core_jobs_nats through swarmsync's NATS transport.
std::vector<Case> swarmsync_cases();

/// nats_1_1, nats_4_1 on plain cnats publish/subscribe.
std::vector<Case> plain_cases();

}  // namespace bench::nats
