// Fairness between tenants (README "Fairness between tenants"), against a
// real Redis: the API writes a tenant above the fair share into the bulk
// lane; a read takes the normal lane first and few bulk entries; reclaim
// works in both lanes; a wait remembers its lane through the claim, an
// object fan-out's pages the lane of their trigger; and
// end to end, a quiet tenant's triggers reach the feed while a noisy
// tenant's bulk backlog is still draining, and every bulk run lands once.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "core/keys.h"
#include "feed/feed_store.h"
#include "gtest/gtest.h"
#include "herald/v1/pipeline.pb.h"
#include "redis/stream_consumer.h"
#include "runs/wait_store.h"
#include "tests/support/eventually.h"
#include "tests/support/herald_harness.h"
#include "tests/support/redis_fixture.h"
#include "tests/support/wait_appends.h"

namespace herald {
namespace {

using testing::Eventually;

constexpr int kPartitions = 4;

constexpr char kDirect[] = R"(
key: direct
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "{{ data.n }}"}}
)";

class FairnessTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    client_ = Connect();
    ASSERT_TRUE(client_);
  }

  int64_t Length(const std::string& stream) {
    auto reply = client_->Execute({"XLEN", stream});
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? reply->integer : -1;
  }

  // Entries of `stream` of every partition.
  int64_t LengthOfAll(const std::string& (Keys::*stream)() const) {
    int64_t total = 0;
    for (int p = 0; p < kPartitions; ++p) total += Length((Keys(p).*stream)());
    return total;
  }

  // In-app feed items of `user`.
  int64_t FeedItems(const std::string& user) {
    auto reply = client_->Execute(feed::CountItemsCommand(Keys(PartitionOf(user, kPartitions)), {user}));
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? reply->integer : -1;
  }

  void AddEntries(const std::string& stream, const std::string& prefix, int count) {
    std::vector<redis::Command> adds;
    for (int i = 0; i < count; ++i) adds.push_back({"XADD", stream, "*", "e", absl::StrCat(prefix, i)});
    for (auto& reply : client_->Pipeline(adds)) ASSERT_TRUE(reply.ok()) << reply.status();
  }

  std::unique_ptr<redis::RedisClient> client_;
};

// --- Reads and reclaim of a consumer with two lanes ------------------------

TEST_F(FairnessTest, AReadTakesTheNormalLaneFirstAndAtMostTheBulkCount) {
  const std::vector<std::string> normal = {Keys(0).Events(), Keys(1).Events()};
  const std::vector<std::string> bulk = {Keys(0).EventsBulk(), Keys(1).EventsBulk()};
  redis::StreamConsumer consumer(*client_, normal, "batcher", "reader", "e", "", bulk);
  ASSERT_TRUE(consumer.EnsureGroups().ok());
  AddEntries(bulk[0], "b0-", 100);
  AddEntries(bulk[1], "b1-", 100);
  AddEntries(normal[1], "n1-", 3);

  auto read = consumer.ReadNew(/*count_per_stream=*/256, /*block_ms=*/0, /*bulk_count_per_stream=*/4);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 3u + 4u + 4u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*read)[i].lane, Lane::kNormal);
    EXPECT_EQ((*read)[i].stream_index, 1u);
    EXPECT_EQ((*read)[i].payload, absl::StrCat("n1-", i));
  }
  std::map<size_t, int> bulk_by_partition;
  for (size_t i = 3; i < read->size(); ++i) {
    const redis::StreamEntry& entry = (*read)[i];
    EXPECT_EQ(entry.lane, Lane::kBulk);
    EXPECT_EQ(entry.payload, absl::StrCat("b", entry.stream_index, "-", bulk_by_partition[entry.stream_index]++));
  }
  EXPECT_EQ(bulk_by_partition, (std::map<size_t, int>{{0, 4}, {1, 4}}));

  // Acks go to the entry's own stream: the lanes stay apart.
  std::vector<const redis::StreamEntry*> all;
  for (const redis::StreamEntry& entry : *read) all.push_back(&entry);
  ASSERT_TRUE(consumer.Ack(all).ok());
  EXPECT_EQ(Length(normal[1]), 0);
  EXPECT_EQ(Length(bulk[0]), 96);
  EXPECT_EQ(Length(bulk[1]), 96);

  // An empty normal lane: a read takes the bulk count, however deep.
  read = consumer.ReadNew(256, 0, 10);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->size(), 20u);
}

TEST_F(FairnessTest, ABlockedReadWakesForEitherLane) {
  const std::vector<std::string> normal = {Keys(0).Batches()};
  const std::vector<std::string> bulk = {Keys(0).BatchesBulk()};
  redis::StreamConsumer consumer(*client_, normal, "fanout", "reader", "e", "", bulk);
  ASSERT_TRUE(consumer.EnsureGroups().ok());
  for (const std::string& stream : {bulk[0], normal[0]}) {
    std::thread writer([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      auto other = Connect();
      EXPECT_TRUE(other->Execute({"XADD", stream, "*", "e", "late"}).ok());
    });
    const auto start = std::chrono::steady_clock::now();
    std::vector<redis::StreamEntry> got;
    // A cluster consumer blocks on one stream at a time, briefly: poll.
    while (got.empty() && std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
      auto read = consumer.ReadNew(256, 2000, 4);
      ASSERT_TRUE(read.ok()) << read.status();
      got = *read;
    }
    writer.join();
    ASSERT_EQ(got.size(), 1u) << stream;
    EXPECT_EQ(got[0].lane, stream == bulk[0] ? Lane::kBulk : Lane::kNormal);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2)) << "woke only at the block's end";
    ASSERT_TRUE(consumer.Ack({&got[0]}).ok());
  }
}

TEST_F(FairnessTest, ReclaimAfterACrashedConsumerWorksInEachLane) {
  const std::vector<std::string> normal = {Keys(0).Events(), Keys(1).Events()};
  const std::vector<std::string> bulk = {Keys(0).EventsBulk(), Keys(1).EventsBulk()};
  AddEntries(normal[0], "n0-", 2);
  AddEntries(bulk[1], "b1-", 3);
  AddEntries(bulk[0], "b0-", 1);
  {
    // Reads, then "crashes": never acks.
    auto crashed_client = Connect();
    redis::StreamConsumer crashed(*crashed_client, normal, "batcher", "crashed", "e", "", bulk);
    ASSERT_TRUE(crashed.EnsureGroups().ok());
    auto read = crashed.ReadNew(256, 0, 16);
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_EQ(read->size(), 6u);
  }
  redis::StreamConsumer peer(*client_, normal, "batcher", "peer", "e", "", bulk);
  ASSERT_TRUE(peer.EnsureGroups().ok());
  std::vector<redis::StreamEntry> reclaimed;
  std::set<std::tuple<Lane, size_t, std::string>> got;
  ASSERT_TRUE(Eventually([&] {
    auto taken = peer.Reclaim(/*min_idle_ms=*/20, 100);
    EXPECT_TRUE(taken.ok()) << taken.status();
    if (!taken.ok()) return false;
    for (redis::StreamEntry& entry : *taken) {
      if (got.insert({entry.lane, entry.stream_index, entry.payload}).second) reclaimed.push_back(std::move(entry));
    }
    return got.size() >= 6;
  }, absl::Seconds(10)));
  EXPECT_EQ(got, (std::set<std::tuple<Lane, size_t, std::string>>{{Lane::kNormal, 0, "n0-0"},
                                                                        {Lane::kNormal, 0, "n0-1"},
                                                                        {Lane::kBulk, 0, "b0-0"},
                                                                        {Lane::kBulk, 1, "b1-0"},
                                                                        {Lane::kBulk, 1, "b1-1"},
                                                                        {Lane::kBulk, 1, "b1-2"}}));
  std::vector<const redis::StreamEntry*> all;
  for (const redis::StreamEntry& entry : reclaimed) all.push_back(&entry);
  ASSERT_TRUE(peer.Ack(all).ok());
  for (const std::string& stream : {normal[0], normal[1], bulk[0], bulk[1]}) {
    EXPECT_EQ(Length(stream), 0) << stream;
    auto pending = client_->Execute({"XPENDING", stream, "batcher"});
    ASSERT_TRUE(pending.ok()) << pending.status();
    EXPECT_EQ(pending->elements[0].integer, 0) << stream;
  }
}

// --- Waits keep their lane through the claim ---------------------------------

runs::WaitAppend Append(const std::string& wait_key, const std::string& run_id, int64_t now_ms, Lane lane) {
  testing::TestAppendOptions options;
  options.lane = lane;
  return testing::MakeTestAppend(wait_key, run_id, now_ms, options);
}

// The run ids of each entry of `stream`.
std::vector<std::set<std::string>> FlushedRuns(redis::RedisClient& client, const std::string& stream) {
  std::vector<std::set<std::string>> batches;
  auto reply = client.Execute({"XRANGE", stream, "-", "+"});
  EXPECT_TRUE(reply.ok()) << reply.status();
  if (!reply.ok()) return batches;
  for (const redis::Reply& entry : reply->elements) {
    v1::internal::BatchEnvelope envelope;
    EXPECT_TRUE(envelope.ParseFromString(entry.elements[1].elements[1].str));
    std::set<std::string>& runs = batches.emplace_back();
    for (const auto& activity : envelope.activities()) runs.insert(activity.run_id());
  }
  return batches;
}

TEST_F(FairnessTest, AWaitFlushesIntoTheLaneItWasOpenedIn) {
  const Keys keys(0);
  const int64_t now = 1'000'000;
  auto run = [&](const runs::WaitAppend& append) {
    auto reply = client_->Execute(runs::AppendCommand(keys, append));
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? reply->str : "";
  };
  EXPECT_EQ(run(Append("bulk-wait", "run-1", now, Lane::kBulk)), "opened");
  // A run of the same wait key from the normal lane joins the open batch:
  // it flushes with it, in the batch's lane.
  EXPECT_EQ(run(Append("bulk-wait", "run-2", now + 1, Lane::kNormal)), "joined");
  EXPECT_EQ(run(Append("normal-wait", "run-3", now, Lane::kNormal)), "opened");
  // A wait of one activity (stored inline) keeps its lane too.
  EXPECT_EQ(run(Append("bulk-single", "run-5", now, Lane::kBulk)), "opened");
  // The leading item goes at once to the lane of the run that opened it.
  runs::WaitAppend leading = Append("leading-wait", "run-4", now, Lane::kBulk);
  leading.flush_leading = true;
  v1::internal::BatchEnvelope first;
  first.set_workflow("w");
  first.add_activities()->set_run_id("run-4");
  leading.leading_batch_blob = first.SerializeAsString();
  EXPECT_EQ(run(leading), "leading");
  EXPECT_EQ(FlushedRuns(*client_, keys.BatchesBulk()), (std::vector<std::set<std::string>>{{"run-4"}}));
  EXPECT_TRUE(FlushedRuns(*client_, keys.Batches()).empty());

  auto claimed = client_->Execute(runs::ClaimCommand(keys, now + 5000, 100));
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  auto result = runs::ParseClaimReply(*claimed);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->claimed, 4);  // the leading wait flushes empty
  std::vector<std::set<std::string>> bulk = FlushedRuns(*client_, keys.BatchesBulk());
  std::sort(bulk.begin(), bulk.end());
  EXPECT_EQ(bulk, (std::vector<std::set<std::string>>{{"run-1", "run-2"}, {"run-4"}, {"run-5"}}));
  EXPECT_EQ(FlushedRuns(*client_, keys.Batches()), (std::vector<std::set<std::string>>{{"run-3"}}));
}

// --- The API writes a tenant above the fair share to the bulk lane --------

TEST_F(FairnessTest, TheApiWritesATenantAboveTheFairShareToTheBulkLane) {
  testing::HarnessOptions options;
  options.roles = "api";  // nothing consumes: the streams show where each trigger went
  options.partitions = kPartitions;
  options.workflow_files["direct.yaml"] = kDirect;
  options.customize = [](RuntimeOptions& runtime) { runtime.tenant_fair_share_rate = 50; };
  testing::HeraldHarness herald(endpoint(), options);
  ASSERT_TRUE(herald.ok());
  auto trigger = [&](const std::string& tenant, int n) {
    v1::TriggerRequest request;
    request.set_workflow("direct");
    request.set_tenant(tenant);
    request.add_recipients()->set_id(absl::StrCat(tenant, "-u", n % 7));
    request.set_data_json(absl::StrCat(R"({"n": )", n, "}"));
    v1::TriggerResponse response;
    grpc::Status status = herald.stub().Trigger(testing::HeraldHarness::Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
  };
  // The harness's clock stands still: the estimate after the k-th one-run
  // trigger is k runs/s, so the noisy tenant's 51st trigger is the first
  // above the share of 50. The quiet tenant stays under it.
  for (int n = 0; n < 100; ++n) {
    trigger("noisy", n);
    if (n % 10 == 0) trigger("quiet", n);
  }
  EXPECT_EQ(LengthOfAll(&Keys::EventsBulk), 50);
  EXPECT_EQ(LengthOfAll(&Keys::Events), 50 + 10);
  std::set<std::string> bulk_tenants;
  for (int p = 0; p < kPartitions; ++p) {
    auto entries = client_->Execute({"XRANGE", Keys(p).EventsBulk(), "-", "+"});
    ASSERT_TRUE(entries.ok()) << entries.status();
    for (const redis::Reply& entry : entries->elements) {
      v1::internal::EventEnvelope event;
      ASSERT_TRUE(event.ParseFromString(entry.elements[1].elements[1].str));
      bulk_tenants.insert(event.tenant());
    }
  }
  EXPECT_EQ(bulk_tenants, (std::set<std::string>{"noisy"}));
}

// --- The batcher keeps a run in its trigger's lane --------------------------

TEST_F(FairnessTest, TheBatcherKeepsRunsInTheirTriggersLane) {
  testing::HarnessOptions options;
  options.roles = "batcher";  // no fan-out: the batches streams show the lanes
  options.partitions = kPartitions;
  options.workflow_files["direct.yaml"] = kDirect;
  options.workflow_files["digest.yaml"] = R"(
key: digest
steps:
  - {ref: batch, type: batch, window: 10s}
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "{{ total_activities }}"}}
)";
  testing::HeraldHarness herald(endpoint(), options);
  ASSERT_TRUE(herald.ok());
  auto add_event = [&](const std::string& workflow, const std::string& recipient, Lane lane) {
    v1::internal::EventEnvelope event;
    event.set_workflow(workflow);
    event.set_tenant("t");
    event.set_accepted_at_us(herald.clock().NowMicros());
    auto* target = event.add_targets();
    target->set_recipient(recipient);
    target->set_run_id(DeterministicId({workflow, recipient, LaneName(lane)}));
    const Keys keys(PartitionOf(recipient, kPartitions));
    ASSERT_TRUE(client_->Execute({"XADD", keys.Events(lane), "*", "e", event.SerializeAsString()}).ok());
  };
  add_event("direct", "ann", Lane::kBulk);
  add_event("direct", "bob", Lane::kNormal);
  add_event("digest", "cid", Lane::kBulk);
  add_event("digest", "dan", Lane::kNormal);
  ASSERT_TRUE(Eventually([&] {
    return LengthOfAll(&Keys::BatchesBulk) == 1 && LengthOfAll(&Keys::Batches) == 1 &&
           LengthOfAll(&Keys::Events) == 0 && LengthOfAll(&Keys::EventsBulk) == 0;
  })) << "direct runs: one entry in each lane's batches stream";
  herald.clock().AdvanceMillis(11'000);
  ASSERT_TRUE(Eventually([&] { return LengthOfAll(&Keys::BatchesBulk) == 2 && LengthOfAll(&Keys::Batches) == 2; }))
      << "each digest flushed into its own lane";
  std::set<std::string> bulk_recipients, normal_recipients;
  for (int p = 0; p < kPartitions; ++p) {
    for (auto [stream, out] : {std::pair{Keys(p).BatchesBulk(), &bulk_recipients},
                               std::pair{Keys(p).Batches(), &normal_recipients}}) {
      auto entries = client_->Execute({"XRANGE", stream, "-", "+"});
      ASSERT_TRUE(entries.ok()) << entries.status();
      for (const redis::Reply& entry : entries->elements) {
        v1::internal::BatchEnvelope batch;
        ASSERT_TRUE(batch.ParseFromString(entry.elements[1].elements[1].str));
        for (const auto& target : batch.targets()) out->insert(target.recipient());
      }
    }
  }
  EXPECT_EQ(bulk_recipients, (std::set<std::string>{"ann", "cid"}));
  EXPECT_EQ(normal_recipients, (std::set<std::string>{"bob", "dan"}));
}

TEST_F(FairnessTest, AnObjectFanoutsPagesGoToTheLaneOfItsTrigger) {
  testing::HarnessOptions options;
  options.roles = "api,batcher";  // the expander runs with the batcher; no fan-out
  options.partitions = kPartitions;
  options.object_page_size = 7;
  options.workflow_files["direct.yaml"] = kDirect;
  // The estimate after the tenant's k-th trigger (one run each, the clock
  // stands still) is k runs/s: the first trigger is under the share, the
  // second above.
  options.customize = [](RuntimeOptions& runtime) { runtime.tenant_fair_share_rate = 1.5; };
  testing::HeraldHarness herald(endpoint(), options);
  ASSERT_TRUE(herald.ok());
  constexpr int kMembers = 30;
  v1::SubscriptionsRequest subscribe;
  subscribe.mutable_object()->set_collection("teams");
  subscribe.mutable_object()->set_id("core");
  for (int i = 0; i < kMembers; ++i) {
    ASSERT_TRUE(herald.Identify(absl::StrCat("member-", i), "M").ok());
    subscribe.add_user_ids(absl::StrCat("member-", i));
  }
  v1::SubscriptionsResponse subscribed;
  ASSERT_TRUE(herald.stub().Subscribe(testing::HeraldHarness::Context().get(), subscribe, &subscribed).ok());
  std::vector<std::string> fanouts;
  for (int n = 0; n < 2; ++n) {
    v1::TriggerRequest request;
    request.set_workflow("direct");
    request.set_tenant("acme");
    *request.add_recipients()->mutable_object() = subscribe.object();
    request.set_data_json(absl::StrCat(R"({"n": )", n, "}"));
    v1::TriggerResponse response;
    ASSERT_TRUE(herald.stub().Trigger(testing::HeraldHarness::Context().get(), request, &response).ok());
    ASSERT_EQ(response.fanouts_size(), 1);
    fanouts.push_back(response.fanouts(0).fanout_id());
  }
  for (const std::string& id : fanouts) {
    v1::GetObjectFanoutRequest progress;
    progress.set_fanout_id(id);
    ASSERT_TRUE(Eventually([&] {
      v1::ObjectFanout fanout;
      return herald.stub().GetObjectFanout(testing::HeraldHarness::Context().get(), progress, &fanout).ok() &&
             fanout.status() == "done";
    })) << id;
  }
  // Every member once in each lane's batches: the first fan-out's pages
  // went through the normal lane, the second's through the bulk lane.
  std::map<Lane, std::multiset<std::string>> recipients;
  ASSERT_TRUE(Eventually([&] {
    recipients.clear();
    for (int p = 0; p < kPartitions; ++p) {
      for (Lane lane : {Lane::kNormal, Lane::kBulk}) {
        auto entries = client_->Execute({"XRANGE", Keys(p).Batches(lane), "-", "+"});
        if (!entries.ok()) return false;
        for (const redis::Reply& entry : entries->elements) {
          v1::internal::BatchEnvelope batch;
          if (!batch.ParseFromString(entry.elements[1].elements[1].str)) return false;
          for (const auto& target : batch.targets()) recipients[lane].insert(target.recipient());
        }
      }
    }
    return recipients[Lane::kNormal].size() == kMembers && recipients[Lane::kBulk].size() == kMembers;
  })) << recipients[Lane::kNormal].size() << " normal, " << recipients[Lane::kBulk].size() << " bulk";
  EXPECT_EQ(recipients[Lane::kNormal], recipients[Lane::kBulk]);
  EXPECT_EQ(std::set<std::string>(recipients[Lane::kBulk].begin(), recipients[Lane::kBulk].end()).size(),
            static_cast<size_t>(kMembers));
}

// --- End to end: a bulk backlog does not hold back a quiet tenant ---------

TEST_F(FairnessTest, AQuietTenantReachesTheFeedWhileANoisyBacklogDrains) {
  testing::HarnessOptions options;
  options.partitions = kPartitions;
  options.workflow_files["direct.yaml"] = kDirect;
  testing::HeraldHarness herald(endpoint(), options);
  ASSERT_TRUE(herald.ok());

  // The noisy tenant's backlog, written straight into the bulk lane (as
  // the API does above the fair share): 4,000 entries of 10 runs each,
  // 40,000 runs for 400 users, 100 runs each.
  constexpr int kNoisyUsers = 400;
  constexpr int kEntries = 4'000;
  constexpr int kRunsPerEntry = 10;
  auto noisy_user = [](int u) { return absl::StrCat("noisy-", u); };
  // Recipients must be known users (an unknown one is recorded not_sent).
  for (int u = 0; u < kNoisyUsers; ++u) ASSERT_TRUE(herald.Identify(noisy_user(u), "N").ok());
  for (int q = 0; q < 5; ++q) ASSERT_TRUE(herald.Identify(absl::StrCat("quiet-", q), "Q").ok());
  std::map<int, std::vector<redis::Command>> adds;
  for (int e = 0; e < kEntries; ++e) {
    v1::internal::EventEnvelope event;
    event.set_workflow("direct");
    event.set_tenant("noisy");
    event.set_data_json(absl::StrCat(R"({"n": )", e, "}"));
    event.set_accepted_at_us(herald.clock().NowMicros());
    // The ten users of an entry share a partition, as the API groups them.
    const int partition = e % kPartitions;
    int added = 0;
    for (int u = 0; added < kRunsPerEntry; ++u) {
      const int user = (e / kPartitions * 7 + u) % kNoisyUsers;
      if (PartitionOf(noisy_user(user), kPartitions) != partition) continue;
      auto* target = event.add_targets();
      target->set_recipient(noisy_user(user));
      target->set_run_id(DeterministicId({"noisy", std::to_string(e), std::to_string(added)}));
      ++added;
    }
    adds[partition].push_back({"XADD", Keys(partition).EventsBulk(), "*", "e", event.SerializeAsString()});
  }
  std::map<std::string, int64_t> expected;
  for (auto& [partition, commands] : adds) {
    for (const redis::Command& command : commands) {
      v1::internal::EventEnvelope event;
      ASSERT_TRUE(event.ParseFromString(command[4]));
      for (const auto& target : event.targets()) ++expected[target.recipient()];
    }
    for (auto& reply : client_->Pipeline(commands)) ASSERT_TRUE(reply.ok()) << reply.status();
  }
  auto bulk_left = [&] { return LengthOfAll(&Keys::EventsBulk) + LengthOfAll(&Keys::BatchesBulk); };

  // Quiet triggers, one after another, each waited for in the feed.
  double worst_ms = 0;
  for (int q = 0; q < 5; ++q) {
    const std::string user = absl::StrCat("quiet-", q);
    v1::TriggerRequest request;
    request.set_workflow("direct");
    request.set_tenant("quiet");
    request.add_recipients()->set_id(user);
    request.set_data_json(absl::StrCat(R"({"n": )", q, "}"));
    v1::TriggerResponse response;
    const auto sent = std::chrono::steady_clock::now();
    grpc::Status status = herald.stub().Trigger(testing::HeraldHarness::Context().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    // Polled every millisecond: the figure below is the latency.
    bool landed = false;
    while (!landed && std::chrono::steady_clock::now() - sent < std::chrono::seconds(20)) {
      landed = FeedItems(user) == 1;
      if (!landed) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_TRUE(landed) << user << " never reached the feed";
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count();
    worst_ms = std::max(worst_ms, ms);
    const int64_t left = bulk_left();
    // The point: it did not queue behind the backlog ahead of it.
    EXPECT_GT(left, 0) << user << " landed only after the noisy backlog drained (" << ms << " ms)";
    EXPECT_LT(ms, 2000) << user;
    std::cout << user << ": " << ms << " ms to the feed, " << left << " noisy entries still queued" << std::endl;
  }
  std::cout << "slowest quiet trigger: " << worst_ms << " ms" << std::endl;

  // Every noisy run lands, exactly once.
  ASSERT_TRUE(herald.WaitForIdle(absl::Seconds(120)));
  int64_t lost = 0, doubled = 0;
  for (const auto& [user, count] : expected) {
    const int64_t items = FeedItems(user);
    lost += std::max<int64_t>(count - items, 0);
    doubled += std::max<int64_t>(items - count, 0);
  }
  EXPECT_EQ(expected.size(), static_cast<size_t>(kNoisyUsers));
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(doubled, 0);
}

}  // namespace
}  // namespace herald
