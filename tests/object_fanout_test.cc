// An object fan-out, at a size that runs in seconds: every subscriber gets
// exactly one feed item, the progress record ends done with every recipient
// and page counted, and a trigger sent while the fan-out runs is delivered
// before the fan-out has delivered to everyone (not queued behind it).
// Time and memory at 100,000 subscribers: bench/object_fanout.cc.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "core/keys.h"
#include "feed/feed_store.h"
#include "gtest/gtest.h"
#include "tests/support/herald_harness.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

constexpr int kSubscribers = 2'000;
constexpr int kPageSize = 100;
constexpr int kPerCall = 1'000;
constexpr int kPartitions = 4;

std::string Member(int i) { return absl::StrCat("member-", i); }

class ObjectFanoutTest : public testing::RedisTest {
 protected:
  // Feed items of member-0 .. member-(kSubscribers-1), one ZCARD each, and
  // how many members do not have exactly one.
  struct Delivered {
    int64_t items = 0;
    int64_t not_one = 0;
  };
  static Delivered CountDelivered(redis::RedisClient& client) {
    std::vector<redis::Command> counts;
    for (int i = 0; i < kSubscribers; ++i) {
      const Keys keys(PartitionOf(Member(i), kPartitions));
      counts.push_back(feed::CountItemsCommand(keys, {Member(i)}));
    }
    Delivered delivered;
    for (auto& count : client.Pipeline(counts)) {
      EXPECT_TRUE(count.ok()) << count.status();
      if (!count.ok()) continue;
      delivered.items += count->integer;
      delivered.not_one += count->integer != 1;
    }
    return delivered;
  }
};

TEST_F(ObjectFanoutTest, EverySubscriberGetsOneItemAndOtherTriggersDoNotWait) {
  testing::HarnessOptions options;
  options.partitions = kPartitions;
  options.object_page_size = kPageSize;
  options.workflow_files["announce.yaml"] = R"(
key: announce
steps:
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template: {markdown: "{{ data.text }}, {{ recipient.name }}"}
)";
  testing::HeraldHarness harness(endpoint(), options);
  ASSERT_TRUE(harness.ok());
  auto& stub = harness.stub();

  for (int first = 0; first < kSubscribers; first += kPerCall) {
    v1::BulkIdentifyUsersRequest identify;
    v1::SubscriptionsRequest subscribe;
    subscribe.mutable_object()->set_collection("channels");
    subscribe.mutable_object()->set_id("general");
    for (int i = first; i < first + kPerCall; ++i) {
      v1::InlineUser* user = identify.add_users();
      user->set_id(Member(i));
      user->set_name(absl::StrCat("M", i));
      subscribe.add_user_ids(Member(i));
    }
    v1::BulkIdentifyUsersResponse identified;
    ASSERT_TRUE(stub.BulkIdentifyUsers(testing::HeraldHarness::Context().get(), identify, &identified).ok());
    v1::SubscriptionsResponse subscribed;
    ASSERT_TRUE(stub.Subscribe(testing::HeraldHarness::Context().get(), subscribe, &subscribed).ok());
    ASSERT_EQ(subscribed.subscriber_count(), first + kPerCall);
  }
  ASSERT_TRUE(harness.Identify("zed", "Zed").ok());

  v1::TriggerRequest trigger;
  trigger.set_workflow("announce");
  trigger.add_recipients()->mutable_object()->set_collection("channels");
  trigger.mutable_recipients(0)->mutable_object()->set_id("general");
  trigger.set_data_json(R"({"text": "Maintenance tonight"})");
  v1::TriggerResponse response;
  ASSERT_TRUE(stub.Trigger(testing::HeraldHarness::Context().get(), trigger, &response).ok());
  ASSERT_EQ(response.fanouts_size(), 1);

  // Right behind it, a trigger for one user. The expander hands pages on
  // only while the pipeline's backlog is small, so this one is queued
  // behind at most a few pages, not behind all 20.
  v1::TriggerRequest other;
  other.set_workflow("announce");
  other.add_recipients()->set_id("zed");
  other.set_data_json(R"({"text": "Your export is ready"})");
  v1::TriggerResponse other_response;
  ASSERT_TRUE(stub.Trigger(testing::HeraldHarness::Context().get(), other, &other_response).ok());
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::vector<v1::FeedItem> zed_items;
  while (zed_items.empty() && std::chrono::steady_clock::now() < give_up) {
    zed_items = harness.AllFeedItems("zed");
    if (zed_items.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Counted after zed's item was seen, and deliveries only grow: fewer
  // than all here means fewer than all when zed's item arrived.
  auto client = Connect();
  Delivered when_other_arrived = CountDelivered(*client);
  v1::GetObjectFanoutRequest progress;
  progress.set_fanout_id(response.fanouts(0).fanout_id());
  v1::ObjectFanout fanout;
  ASSERT_TRUE(stub.GetObjectFanout(testing::HeraldHarness::Context().get(), progress, &fanout).ok());
  ASSERT_EQ(zed_items.size(), 1u);
  EXPECT_EQ(zed_items[0].blocks(0).markdown(), "Your export is ready, Zed");
  EXPECT_LT(when_other_arrived.items, kSubscribers)
      << "the other trigger was delivered only after the fan-out reached every subscriber (fan-out "
      << fanout.status() << ", " << fanout.recipients() << " recipients handed on)";

  give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < give_up) {
    ASSERT_TRUE(stub.GetObjectFanout(testing::HeraldHarness::Context().get(), progress, &fanout).ok());
    if (fanout.status() == "done") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(fanout.status(), "done");
  ASSERT_TRUE(harness.WaitForIdle(absl::Seconds(60)));
  EXPECT_EQ(fanout.recipients(), kSubscribers);
  EXPECT_EQ(fanout.pages(), kSubscribers / kPageSize + 1);  // the last page comes back empty
  EXPECT_GT(fanout.finished_at_ms(), 0);

  // Exactly one feed item per subscriber, and zed still has one.
  Delivered delivered = CountDelivered(*client);
  EXPECT_EQ(delivered.items, kSubscribers);
  EXPECT_EQ(delivered.not_one, 0);
  EXPECT_EQ(harness.AllFeedItems("zed").size(), 1u);
  auto items = harness.AllFeedItems(Member(kSubscribers - 1));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].blocks(0).markdown(), absl::StrCat("Maintenance tonight, M", kSubscribers - 1));
}

}  // namespace
}  // namespace herald
