// The trigger write path through a whole Herald: a TriggerBatch costs one
// events-stream entry per partition, concurrent unary triggers share
// entries, triggers that need a script keep their per-trigger results, a
// failing partition fails exactly the triggers that touch it, and the
// batcher reads every entry form (one event, several, poison) so each run
// lands once.
#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/ids.h"
#include "core/keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "herald/v1/pipeline.pb.h"
#include "runs/event_entry.h"
#include "tests/support/eventually.h"
#include "tests/support/herald_harness.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

constexpr int kPartitions = 4;

testing::HarnessOptions Options(const std::string& roles) {
  testing::HarnessOptions options;
  options.roles = roles;
  options.partitions = kPartitions;
  options.workflow_files["note.yaml"] = R"(
key: note
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "note {{ data.tag }}"}}
)";
  return options;
}

v1::TriggerRequest Note(const std::string& tag, const std::vector<std::string>& recipients) {
  v1::TriggerRequest request;
  request.set_workflow("note");
  request.set_data_json(absl::StrCat(R"({"tag": ")", tag, R"("})"));
  for (const std::string& recipient : recipients) request.add_recipients()->set_id(recipient);
  return request;
}

// A user id living in partition p (the n-th such id).
std::string UserIn(int p, int n) {
  for (int i = 0;; ++i) {
    std::string id = absl::StrCat("user-", i);
    if (PartitionOf(id, kPartitions) == p && n-- == 0) return id;
  }
}

class TriggerWritePathTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    client_ = Connect();
  }

  // Entries of partition p's events stream: the run ids of each one's
  // events (every target of every event).
  std::vector<std::vector<std::string>> Entries(int p) {
    std::vector<std::vector<std::string>> entries;
    auto reply = client_->Execute({"XRANGE", Keys(p).Events(), "-", "+"});
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return entries;
    for (const redis::Reply& entry : reply->elements) {
      const redis::Reply& fields = entry.elements[1];
      std::vector<v1::internal::EventEnvelope> events;
      EXPECT_TRUE(runs::DecodeEventEntry(fields.elements[1].str, fields.elements[0].str == runs::kEventBatchField,
                                         &events)
                      .ok());
      std::vector<std::string> runs;
      for (const auto& event : events) {
        for (const auto& target : event.targets()) runs.push_back(target.run_id());
      }
      entries.push_back(std::move(runs));
    }
    return entries;
  }

  // How many feed items of `user` carry `tag`.
  static int ItemsTagged(testing::HeraldHarness& harness, const std::string& user, const std::string& tag) {
    int n = 0;
    for (const v1::FeedItem& item : harness.AllFeedItems(user)) {
      if (absl::StrContains(item.data_json(), absl::StrCat("\"", tag, "\""))) ++n;
    }
    return n;
  }

  std::unique_ptr<redis::RedisClient> client_;
};

TEST_F(TriggerWritePathTest, TriggerBatchWritesOneEntryPerPartitionAndEveryRunLandsOnce) {
  testing::HeraldHarness api(endpoint(), Options("api"));
  ASSERT_TRUE(api.ok());
  std::vector<std::string> users;
  for (int p = 0; p < kPartitions; ++p) {
    for (int n = 0; n < 5; ++n) users.push_back(UserIn(p, n));
  }
  for (const std::string& user : users) ASSERT_TRUE(api.Identify(user, user).ok());

  // 300 triggers, one or two recipients each, over every partition.
  v1::TriggerBatchRequest batch;
  std::map<std::string, std::vector<std::string>> tags_of_user;
  for (int i = 0; i < 300; ++i) {
    std::vector<std::string> recipients = {users[i % users.size()]};
    if (i % 3 == 0) recipients.push_back(users[(i * 7 + 1) % users.size()]);
    if (recipients.size() == 2 && recipients[0] == recipients[1]) recipients.pop_back();
    const std::string tag = absl::StrCat("t", i);
    for (const std::string& recipient : recipients) tags_of_user[recipient].push_back(tag);
    *batch.add_triggers() = Note(tag, recipients);
  }
  v1::TriggerBatchResponse response;
  grpc::Status status = api.stub().TriggerBatch(testing::HeraldHarness::Context().get(), batch, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.results_size(), 300);
  std::multiset<std::string> answered;
  for (const v1::TriggerResult& result : response.results()) {
    ASSERT_EQ(result.code(), 0) << result.error();
    EXPECT_FALSE(result.response().duplicate());
    for (const auto& run : result.response().runs()) answered.insert(run.workflow_run_id());
  }

  std::multiset<std::string> written;
  for (int p = 0; p < kPartitions; ++p) {
    auto entries = Entries(p);
    ASSERT_EQ(entries.size(), 1u) << "partition " << p << ": one XADD per partition per call";
    written.insert(entries[0].begin(), entries[0].end());
  }
  EXPECT_EQ(written, answered);
  EXPECT_EQ(std::set<std::string>(answered.begin(), answered.end()).size(), answered.size());

  testing::HeraldHarness workers(endpoint(), Options("batcher,fanout"));
  ASSERT_TRUE(workers.ok());
  ASSERT_TRUE(workers.WaitForIdle());
  for (const auto& [user, tags] : tags_of_user) {
    EXPECT_EQ(api.AllFeedItems(user).size(), tags.size()) << user;
    for (const std::string& tag : tags) EXPECT_EQ(ItemsTagged(api, user, tag), 1) << user << " " << tag;
  }
}

TEST_F(TriggerWritePathTest, ConcurrentUnaryTriggersShareEntriesAndEveryAcknowledgedRunIsInTheStream) {
  testing::HeraldHarness api(endpoint(), Options("api"));
  ASSERT_TRUE(api.ok());
  constexpr int kCalls = 100;
  struct Call {
    grpc::ClientContext context;
    v1::TriggerRequest request;
    v1::TriggerResponse response;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Call>> calls;
  absl::Mutex mu;
  int finished = 0;
  {
    // Held while the calls arrive: the first write waits in Redis, the
    // others queue behind it.
    testing::PausedWrites pause(*client_);
    ASSERT_TRUE(pause.ok());
    for (int i = 0; i < kCalls; ++i) {
      auto call = std::make_unique<Call>();
      call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      call->request = Note(absl::StrCat("u", i), {absl::StrCat("user-", i)});
      Call* raw = call.get();
      api.stub().async()->Trigger(&raw->context, &raw->request, &raw->response, [raw, &mu, &finished](grpc::Status s) {
        absl::MutexLock lock(&mu);
        raw->status = std::move(s);
        ++finished;
      });
      calls.push_back(std::move(call));
    }
    ASSERT_TRUE(testing::Eventually([&] {
      auto info = client_->Execute({"INFO", "clients"});
      return info.ok() && !absl::StrContains(info->str, "blocked_clients:0");
    })) << "no write reached Redis";
    ASSERT_TRUE(pause.Resume().ok());
  }
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(
                                        +[](int* n) { return *n == kCalls; }, &finished),
                                    absl::Seconds(30)));
  }
  std::multiset<std::string> answered;
  for (const auto& call : calls) {
    ASSERT_TRUE(call->status.ok()) << call->status.error_message();
    ASSERT_EQ(call->response.runs_size(), 1);
    answered.insert(call->response.runs(0).workflow_run_id());
  }
  std::multiset<std::string> written;
  size_t entries = 0;
  for (int p = 0; p < kPartitions; ++p) {
    for (const auto& entry : Entries(p)) {
      ++entries;
      written.insert(entry.begin(), entry.end());
    }
  }
  EXPECT_EQ(written, answered);
  EXPECT_LT(entries, static_cast<size_t>(kCalls)) << "no unary triggers were coalesced";
}

TEST_F(TriggerWritePathTest, MixedBatchKeepsPerTriggerResults) {
  testing::HeraldHarness herald(endpoint(), Options(""));
  ASSERT_TRUE(herald.ok());
  for (const char* user : {"ana", "bob", "dan", "eve"}) ASSERT_TRUE(herald.Identify(user, user).ok());

  v1::TriggerBatchRequest batch;
  *batch.add_triggers() = Note("plain", {"ana"});
  *batch.add_triggers() = Note("keyed", {"bob"});
  batch.mutable_triggers(1)->set_idempotency_key("k1");
  *batch.add_triggers() = Note("inline", {});
  auto* carol = batch.mutable_triggers(2)->add_recipients()->mutable_user();
  carol->set_id("carol");
  carol->set_name("Carol Inline");
  *batch.add_triggers() = Note("unknown", {"ana"});
  batch.mutable_triggers(3)->set_workflow("no-such-workflow");
  *batch.add_triggers() = Note("pair", {"dan", "eve"});
  // The same key with a different request: refused, alone.
  *batch.add_triggers() = Note("keyed-other", {"ana"});
  batch.mutable_triggers(5)->set_idempotency_key("k1");

  auto send = [&](v1::TriggerBatchResponse* response) {
    grpc::Status status = herald.stub().TriggerBatch(testing::HeraldHarness::Context().get(), batch, response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response->results_size(), 6);
  };
  v1::TriggerBatchResponse first;
  send(&first);
  const std::vector<int> codes = {0, 0, 0, static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT), 0,
                                  static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION)};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(first.results(i).code(), codes[i]) << i << ": " << first.results(i).error();
  EXPECT_THAT(first.results(3).error(), ::testing::HasSubstr("triggers[3].workflow"));
  EXPECT_THAT(first.results(5).error(), ::testing::HasSubstr("idempotency_key"));
  EXPECT_FALSE(first.results(5).has_response());
  for (int i : {0, 1, 2, 4}) EXPECT_FALSE(first.results(i).response().duplicate()) << i;
  EXPECT_EQ(first.results(4).response().runs_size(), 2);

  // Again: the keyed trigger is a duplicate of the same run; the others
  // are new runs.
  v1::TriggerBatchResponse second;
  send(&second);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(second.results(i).code(), codes[i]) << i << ": " << second.results(i).error();
  EXPECT_TRUE(second.results(1).response().duplicate());
  EXPECT_EQ(second.results(1).response().runs(0).workflow_run_id(), first.results(1).response().runs(0).workflow_run_id());
  for (int i : {0, 2, 4}) {
    EXPECT_FALSE(second.results(i).response().duplicate()) << i;
    EXPECT_NE(second.results(i).response().runs(0).workflow_run_id(),
              first.results(i).response().runs(0).workflow_run_id())
        << i;
  }

  ASSERT_TRUE(herald.WaitForIdle());
  EXPECT_EQ(ItemsTagged(herald, "ana", "plain"), 2);
  EXPECT_EQ(ItemsTagged(herald, "ana", "unknown"), 0);
  EXPECT_EQ(ItemsTagged(herald, "ana", "keyed-other"), 0);
  EXPECT_EQ(ItemsTagged(herald, "bob", "keyed"), 1);
  EXPECT_EQ(ItemsTagged(herald, "carol", "inline"), 2);
  EXPECT_EQ(ItemsTagged(herald, "dan", "pair"), 2);
  EXPECT_EQ(ItemsTagged(herald, "eve", "pair"), 2);
  v1::GetUserRequest get;
  get.set_id("carol");
  v1::User user;
  ASSERT_TRUE(herald.stub().GetUser(testing::HeraldHarness::Context().get(), get, &user).ok());
  EXPECT_EQ(user.name(), "Carol Inline");
}

TEST_F(TriggerWritePathTest, AFailingPartitionFailsExactlyTheTriggersThatTouchIt) {
  testing::HeraldHarness api(endpoint(), Options("api"));
  ASSERT_TRUE(api.ok());
  const std::string ok_user = UserIn(0, 0);
  const std::string broken_user = UserIn(2, 0);
  // Partition 2's events stream is not a stream: its XADD fails.
  ASSERT_TRUE(client_->Execute({"SET", Keys(2).Events(), "not a stream"}).ok());

  v1::TriggerBatchRequest batch;
  *batch.add_triggers() = Note("ok", {ok_user});
  *batch.add_triggers() = Note("broken", {broken_user});
  *batch.add_triggers() = Note("both", {ok_user, broken_user});
  v1::TriggerBatchResponse response;
  grpc::Status status = api.stub().TriggerBatch(testing::HeraldHarness::Context().get(), batch, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.results_size(), 3);
  EXPECT_EQ(response.results(0).code(), 0) << response.results(0).error();
  EXPECT_NE(response.results(1).code(), 0);
  EXPECT_NE(response.results(2).code(), 0);
  EXPECT_FALSE(response.results(1).has_response());

  v1::TriggerResponse unary;
  EXPECT_FALSE(api.stub().Trigger(testing::HeraldHarness::Context().get(), Note("u-broken", {broken_user}), &unary).ok());
  v1::TriggerResponse unary_ok;
  status = api.stub().Trigger(testing::HeraldHarness::Context().get(), Note("u-ok", {ok_user}), &unary_ok);
  ASSERT_TRUE(status.ok()) << status.error_message();

  // What was answered OK is in partition 0's stream; the trigger that also
  // touched partition 2 may have written its partition-0 half (the caller
  // retries), nothing else is there.
  std::set<std::string> written;
  for (const auto& entry : Entries(0)) written.insert(entry.begin(), entry.end());
  EXPECT_TRUE(written.count(response.results(0).response().runs(0).workflow_run_id()));
  EXPECT_TRUE(written.count(unary_ok.runs(0).workflow_run_id()));
  EXPECT_LE(written.size(), 3u);
}

TEST_F(TriggerWritePathTest, BatcherReadsSingleBatchedAndPoisonEntries) {
  testing::HeraldHarness herald(endpoint(), Options(""));
  ASSERT_TRUE(herald.ok());
  const int p = 1;
  const std::string ana = UserIn(p, 0);
  const std::string bob = UserIn(p, 1);
  const std::string cy = UserIn(p, 2);
  for (const std::string& user : {ana, bob, cy}) ASSERT_TRUE(herald.Identify(user, user).ok());
  auto event = [](const std::string& tag, const std::vector<std::string>& recipients) {
    v1::internal::EventEnvelope envelope;
    envelope.set_workflow("note");
    envelope.set_data_json(absl::StrCat(R"({"tag": ")", tag, R"("})"));
    envelope.set_accepted_at_us(1);
    for (const std::string& recipient : recipients) {
      auto* target = envelope.add_targets();
      target->set_recipient(recipient);
      target->set_run_id(DeterministicId({tag, recipient}));
    }
    return envelope.SerializeAsString();
  };
  // An entry as every API wrote it before the group commit...
  ASSERT_TRUE(client_->Execute({"XADD", Keys(p).Events(), "*", "e", event("old", {ana})}).ok());
  // ...poison in the new field (acked and dropped, not retried forever)...
  ASSERT_TRUE(client_->Execute({"XADD", Keys(p).Events(), "*", "b", "\x0a\x40short"}).ok());
  // ...and a group-commit entry of three events.
  runs::EventEntryBuilder builder;
  builder.Add(event("new1", {bob}));
  builder.Add(event("new2", {ana, cy}));
  builder.Add(event("new3", {bob}));
  ASSERT_TRUE(client_->Execute(builder.TakeXadd(Keys(p).Events())).ok());

  ASSERT_TRUE(herald.WaitForIdle());
  EXPECT_EQ(ItemsTagged(herald, ana, "old"), 1);
  EXPECT_EQ(ItemsTagged(herald, bob, "new1"), 1);
  EXPECT_EQ(ItemsTagged(herald, ana, "new2"), 1);
  EXPECT_EQ(ItemsTagged(herald, cy, "new2"), 1);
  EXPECT_EQ(ItemsTagged(herald, bob, "new3"), 1);
  // Every entry, the poison too, was acked.
  auto pending = client_->Execute({"XPENDING", Keys(p).Events(), std::string(kBatcherGroup)});
  ASSERT_TRUE(pending.ok()) << pending.status();
  ASSERT_FALSE(pending->elements.empty());
  EXPECT_EQ(pending->elements[0].integer, 0);
}

}  // namespace
}  // namespace herald
