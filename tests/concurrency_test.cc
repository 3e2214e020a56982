// 8 concurrent clients x 1,000 triggers over 50 recipients: the exact set
// of feed items and activity totals, nothing lost, nothing doubled.
#include <grpcpp/grpcpp.h>

#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/herald_harness.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

constexpr int kClients = 8;
constexpr int kTriggersPerClient = 1000;
constexpr int kRecipients = 50;

class ConcurrencyTest : public testing::RedisTest {};

TEST_F(ConcurrencyTest, EveryTriggerLandsExactlyOnce) {
  testing::HarnessOptions options;
  options.workflow_files["direct.yaml"] = R"(
key: direct
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "{{ data.client }}/{{ data.i }}"}}
)";
  options.workflow_files["digest.yaml"] = R"(
key: digest
steps:
  - {ref: batch, type: batch, window: 60s, batch_key: "{{ data.client }}"}
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "{{ total_activities }} from {{ data.client }}"}}
)";
  testing::HeraldHarness harness(endpoint(), options);
  ASSERT_TRUE(harness.ok());
  for (int r = 0; r < kRecipients; ++r) ASSERT_TRUE(harness.Identify(absl::StrCat("u", r), "U").ok());

  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", harness.grpc_port()),
                                         grpc::InsecureChannelCredentials());
      auto stub = v1::Herald::NewStub(channel);
      for (int i = 0; i < kTriggersPerClient; ++i) {
        for (const char* workflow : {"direct", "digest"}) {
          v1::TriggerRequest request;
          request.set_workflow(workflow);
          request.add_recipients()->set_id(absl::StrCat("u", i % kRecipients));
          request.set_actor(absl::StrCat("actor", c));
          request.set_data_json(absl::StrCat(R"({"client": )", c, R"(, "i": )", i, "}"));
          v1::TriggerResponse response;
          if (!stub->Trigger(testing::HeraldHarness::Context().get(), request, &response).ok()) ++failures;
        }
      }
    });
  }
  for (auto& client : clients) client.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_TRUE(harness.WaitForIdle(absl::Seconds(120)));
  harness.clock().AdvanceMillis(61'000);
  ASSERT_TRUE(harness.WaitForIdle(absl::Seconds(120)));

  std::multiset<std::pair<int, int>> direct_seen;
  int64_t digest_total = 0;
  for (int r = 0; r < kRecipients; ++r) {
    std::map<int, int64_t> digest_by_client;
    for (const auto& item : harness.AllFeedItems(absl::StrCat("u", r))) {
      auto data = nlohmann::json::parse(item.data_json());
      int client = data["client"].get<int>();
      if (item.workflow() == "direct") {
        int i = data["i"].get<int>();
        EXPECT_EQ(i % kRecipients, r);
        EXPECT_EQ(item.blocks(0).markdown(), absl::StrCat(client, "/", i));
        direct_seen.insert({client, i});
      } else {
        EXPECT_EQ(digest_by_client.count(client), 0u) << "two digests for u" << r << " client " << client;
        digest_by_client[client] = item.total_activities();
        digest_total += item.total_activities();
      }
    }
    ASSERT_EQ(digest_by_client.size(), static_cast<size_t>(kClients)) << "u" << r;
    for (const auto& [client, total] : digest_by_client) {
      EXPECT_EQ(total, kTriggersPerClient / kRecipients) << "u" << r << " client " << client;
    }
  }
  EXPECT_EQ(direct_seen.size(), static_cast<size_t>(kClients * kTriggersPerClient));
  std::set<std::pair<int, int>> unique(direct_seen.begin(), direct_seen.end());
  EXPECT_EQ(unique.size(), direct_seen.size()) << "doubled items";
  EXPECT_EQ(digest_total, kClients * kTriggersPerClient);
}

}  // namespace
}  // namespace herald
