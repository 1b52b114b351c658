// AckFence alone (acknowledgements held until outboxes settle), and over a real nats-server: a
// message handled by sending on another bridged channel is acknowledged only once that send is
// published, and at once without a fence.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <swarmsync/transport/nats/ack_fence.hpp>
#include <swarmsync/transport/nats/bridged_channel.hpp>
#include <thread>
#include <vector>

#include "support/eventually.hpp"
#include "transport/nats_server.hpp"

namespace ack_fence_test {

namespace {

using namespace std::chrono_literals;
namespace sn = swarmsync::nats;
using swarmsync::test::eventually;

TEST(AckFence, AnAcknowledgementWithNothingUnpublishedRunsAtOnce) {
  sn::AckFence fence;
  std::uint64_t given = 0;
  auto outbox = fence.add_outbox([&] { return given; });
  int acks = 0;
  fence.after_outboxes([&] { ++acks; });
  EXPECT_EQ(acks, 1);
  given = 1;
  outbox->settle();
  fence.after_outboxes([&] { ++acks; });
  EXPECT_EQ(acks, 2);
  EXPECT_EQ(fence.waiting(), 0u);
}

TEST(AckFence, AnAcknowledgementWaitsForWhatWasGivenBeforeItAndNoMore) {
  sn::AckFence fence;
  std::uint64_t a_given = 2, b_given = 0;
  auto a = fence.add_outbox([&] { return a_given; });
  auto b = fence.add_outbox([&] { return b_given; });
  std::vector<int> acks;
  fence.after_outboxes([&] { acks.push_back(1); });  // waits for a's 2
  b_given = 1;
  fence.after_outboxes([&] { acks.push_back(2); });  // waits for a's 2 and b's 1
  a_given = 5;                                       // given later: no acknowledgement above waits for it
  EXPECT_TRUE(acks.empty());
  EXPECT_EQ(fence.waiting(), 2u);
  a->settle();
  fence.poke();
  EXPECT_TRUE(acks.empty());
  b->settle();  // the second's b part is done; it still waits behind the first
  fence.poke();
  EXPECT_TRUE(acks.empty());
  a->settle();
  fence.poke();
  EXPECT_EQ(acks, (std::vector<int>{1, 2}));
  EXPECT_EQ(fence.waiting(), 0u);
}

TEST(AckFence, AnOutboxThatIsGoneHoldsNothingBack) {
  sn::AckFence fence;
  auto outbox = fence.add_outbox([] { return std::uint64_t{3}; });
  int acks = 0;
  fence.after_outboxes([&] { ++acks; });
  EXPECT_EQ(acks, 0);
  outbox.reset();  // its channel went: what it had is published or counted lost
  fence.poke();
  EXPECT_EQ(acks, 1);
}

// A codec whose encode waits until the gate opens: a publish held up on the bridge's thread.
struct Gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  void release() {
    std::lock_guard lock(mutex);
    open = true;
    cv.notify_all();
  }
};
struct GatedCodec {
  std::shared_ptr<Gate> gate;
  std::string encode(const std::uint64_t& v) const {
    std::unique_lock lock(gate->mutex);
    gate->cv.wait(lock, [&] { return gate->open; });
    return std::to_string(v);
  }
  swarmsync::Result<std::uint64_t, sn::DecodeError> decode(std::string_view bytes) const {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(bytes.data(), bytes.data() + bytes.size(), v);
    if (ec != std::errc() || end != bytes.data() + bytes.size()) return sn::DecodeError{"not a number"};
    return v;
  }
};

class AckFenceOverNats : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = server.start()) GTEST_SKIP() << *why;
    conn.emplace(sn::connect(server.url()).value());
  }

  // Receives one value on In and handles it by sending it on Out, whose publish waits for the
  // gate; acknowledges In. Returns In's unacknowledged count while the publish waits, then the
  // count once the gate opened.
  std::pair<std::int64_t, std::int64_t> handle_one(std::shared_ptr<sn::AckFence> fence) {
    const sn::ChannelAddress in{.core = "fencetest", .channel = "In"};
    const sn::ChannelAddress out{.core = "fencetest", .channel = "Out"};
    auto gate = std::make_shared<Gate>();
    sn::BridgeOptions in_options;
    in_options.consume_here = true;
    in_options.inbound.fetch_timeout = 100ms;
    in_options.fence = fence;
    sn::BridgeOptions out_options;
    out_options.fence = fence;
    auto in_ends = sn::bridge_channel<std::uint64_t>(*conn, in, in_options).value();
    auto out_ends = sn::bridge_channel<std::uint64_t>(*conn, out, out_options, GatedCodec{gate}).value();
    in_ends.tx.send(7).value();
    std::optional<std::uint64_t> got;
    eventually([&] {
      if (auto v = in_ends.rx->try_recv()) got = *v;
      return got.has_value();
    });
    EXPECT_EQ(got, 7u);
    out_ends.tx.send(*got * 2).value();  // its publish waits for the gate
    in_ends.acknowledge();
    std::int64_t while_held = -1;
    // Given time to reach the server (it does within milliseconds when nothing holds it back).
    eventually(
        [&] {
          auto state = sn::consumer_state(*conn, in);
          if (state) while_held = state->num_ack_pending;
          return state && state->num_ack_pending == 0;
        },
        1s);
    gate->release();
    std::int64_t after = -1;
    eventually([&] {
      auto state = sn::consumer_state(*conn, in);
      if (state) after = state->num_ack_pending;
      return after == 0;
    });
    return {while_held, after};
  }

  swarmsync::test::NatsServer server;
  std::optional<sn::Connection> conn;
};

TEST_F(AckFenceOverNats, AMessageIsAcknowledgedOnlyOnceWhatItsHandlingSentIsPublished) {
  const auto [while_held, after] = handle_one(std::make_shared<sn::AckFence>());
  EXPECT_EQ(while_held, 1) << "acknowledged while what it caused was still unpublished";
  EXPECT_EQ(after, 0);
}

TEST_F(AckFenceOverNats, WithoutAFenceTheAcknowledgementGoesAtOnce) {
  const auto [while_held, after] = handle_one(nullptr);
  EXPECT_EQ(while_held, 0);
  EXPECT_EQ(after, 0);
}

}  // namespace

}  // namespace ack_fence_test
