// Messages across the deployment: every message Herald creates is indexed
// in its partition's message log, carries its run id and expires; the
// ListMessages filters and cursor walk every partition with no gap or
// duplicate; GetMessageEvents answers recorded and synthesized events;
// UpdateMessageStatus takes provider receipts and refuses the ones that
// would rewrite history, changing nothing; a user's feed keeps its newest N.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "core/keys.h"
#include "feed/feed_store.h"
#include "gtest/gtest.h"
#include "messages/message_list.h"
#include "messages/message_store.h"
#include "runs/step_runner.h"
#include "tests/support/herald_harness.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

using testing::HeraldHarness;

testing::HarnessOptions Workflows() {
  testing::HarnessOptions options;
  // Several channels: in-app (delivered to the feed), email and sms (queued),
  // push (no token: not_sent / missing_channel_data).
  options.workflow_files["everywhere.yaml"] = R"(
key: everywhere
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "{{ data.text }}"}}
  - {ref: email, type: channel, channel_type: email, template: {subject: "hi", markdown: "{{ data.text }}"}}
  - {ref: sms, type: channel, channel_type: sms, template: {text: "{{ data.text }}"}}
  - {ref: push, type: channel, channel_type: push, channel: apns, template: {title: "t", body: "{{ data.text }}"}}
)";
  options.workflow_files["bell.yaml"] = R"(
key: bell
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "{{ data.text }}"}}
)";
  return options;
}

const std::vector<std::string> kUsers = {"alice", "bob", "carol", "dave", "erin", "frank"};

class MessagesTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    harness_ = std::make_unique<HeraldHarness>(endpoint(), Workflows());
    ASSERT_TRUE(harness_->ok());
    for (const std::string& user : kUsers) {
      v1::IdentifyUserRequest request;
      request.mutable_user()->set_id(user);
      request.mutable_user()->set_name(user);
      request.mutable_user()->set_email(user + "@example.com");
      request.mutable_user()->set_phone_number("+15550100");
      v1::User response;
      ASSERT_TRUE(harness_->stub().IdentifyUser(HeraldHarness::Context().get(), request, &response).ok());
    }
  }
  void TearDown() override { harness_.reset(); }

  // Triggers `workflow` for `recipients` and waits until it is fanned out;
  // returns recipient -> run id.
  std::map<std::string, std::string> Trigger(const std::string& workflow, const std::vector<std::string>& recipients,
                                             const std::string& tenant = "") {
    v1::TriggerRequest request;
    request.set_workflow(workflow);
    for (const std::string& r : recipients) request.add_recipients()->set_id(r);
    request.set_tenant(tenant);
    request.set_data_json(R"({"text": "hello"})");
    v1::TriggerResponse response;
    grpc::Status status = harness_->stub().Trigger(HeraldHarness::Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_TRUE(harness_->WaitForIdle());
    std::map<std::string, std::string> runs;
    // A message's run id is the batch id its id derives from: for a run
    // that reaches its channel steps directly, DirectBatchId of the
    // trigger's run id and step 0.
    for (const auto& run : response.runs()) runs[run.recipient()] = run.workflow_run_id();
    return runs;
  }

  grpc::Status List(const v1::ListMessagesRequest& request, v1::ListMessagesResponse* response) {
    return harness_->stub().ListMessages(HeraldHarness::Context().get(), request, response);
  }

  // Every message the filters select, walking every page of `page_size`.
  std::vector<v1::Message> ListAll(v1::ListMessagesRequest request, int page_size = 100, int* pages = nullptr) {
    std::vector<v1::Message> all;
    request.set_page_size(page_size);
    int count = 0;
    do {
      v1::ListMessagesResponse response;
      grpc::Status status = List(request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      for (const auto& message : response.messages()) all.push_back(message);
      request.set_after(response.next_cursor());
      ++count;
    } while (!request.after().empty() && count < 1000);
    if (pages != nullptr) *pages = count;
    return all;
  }

  v1::Message Find(const std::string& recipient, const std::string& channel_type) {
    v1::ListMessagesRequest request;
    request.set_recipient(recipient);
    request.set_channel_type(channel_type);
    std::vector<v1::Message> found = ListAll(request);
    EXPECT_FALSE(found.empty()) << recipient << " " << channel_type;
    return found.empty() ? v1::Message() : found[0];
  }

  grpc::Status Events(const std::string& user, const std::string& id, v1::GetMessageEventsResponse* response) {
    v1::GetMessageEventsRequest request;
    request.set_user_id(user);
    request.set_message_id(id);
    return harness_->stub().GetMessageEvents(HeraldHarness::Context().get(), request, response);
  }

  grpc::Status Receipt(const std::string& user, const std::string& id, const std::string& status,
                       v1::Message* response, const std::string& reason = "") {
    v1::UpdateMessageStatusRequest request;
    request.set_user_id(user);
    request.set_message_id(id);
    request.set_status(status);
    request.set_reason(reason);
    return harness_->stub().UpdateMessageStatus(HeraldHarness::Context().get(), request, response);
  }

  static redis::Reply Run(const redis::Command& command) {
    auto client = Connect();
    auto reply = client->Execute(command);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : redis::Reply();
  }
  static Keys KeysOf(const std::string& user) { return Keys(PartitionOf(user, 4)); }

  std::unique_ptr<HeraldHarness> harness_;
};

std::vector<std::string> Ids(const std::vector<v1::Message>& messages) {
  std::vector<std::string> ids;
  for (const auto& m : messages) ids.push_back(m.id());
  return ids;
}

TEST_F(MessagesTest, EveryMessageIsLoggedWithItsRunItsCreationEventAndARetention) {
  auto runs = Trigger("everywhere", {"alice"});
  ASSERT_EQ(runs.size(), 1u);
  v1::ListMessagesRequest request;
  request.set_recipient("alice");
  std::vector<v1::Message> messages = ListAll(request);
  ASSERT_EQ(messages.size(), 4u);
  std::map<std::string, v1::Message> by_type;
  for (const auto& m : messages) {
    by_type[m.channel_type()] = m;
    EXPECT_EQ(m.workflow_run_id(), runs["alice"]) << m.channel_type();
    EXPECT_EQ(m.workflow(), "everywhere");
    // The message hash expires after the retention (30 days by default);
    // a feed item lives in its user's feed, trimmed by age on insert
    // (FeedCapTest below).
    if (m.channel_type() == "in_app_feed") continue;
    int64_t ttl = Run({"PTTL", KeysOf("alice").Message(m.id())}).integer;
    EXPECT_GT(ttl, 0) << m.channel_type();
    EXPECT_LE(ttl, feed::kDefaultMessageRetentionMs);
  }
  EXPECT_EQ(by_type["in_app_feed"].status(), "delivered");
  EXPECT_EQ(by_type["email"].status(), "queued");
  EXPECT_EQ(by_type["sms"].status(), "queued");
  EXPECT_EQ(by_type["push"].status(), "not_sent");
  EXPECT_EQ(by_type["push"].reason(), "missing_channel_data");
  // One log entry per message in alice's partition, none elsewhere.
  EXPECT_EQ(Run({"XLEN", KeysOf("alice").MessageLog()}).integer, 4);
  for (int p = 0; p < 4; ++p) {
    if (p != KeysOf("alice").partition()) {
      EXPECT_EQ(Run({"XLEN", Keys(p).MessageLog()}).integer, 0);
    }
  }

  // Creation events: recorded for the other channels (their list expires
  // with the message), synthesized for the in-app item (no list).
  for (const auto& [type, event_type] : std::vector<std::pair<std::string, std::string>>{
           {"email", "message.queued"}, {"sms", "message.queued"}, {"push", "message.not_sent"}}) {
    v1::GetMessageEventsResponse events;
    ASSERT_TRUE(Events("alice", by_type[type].id(), &events).ok());
    ASSERT_EQ(events.events_size(), 1) << type;
    EXPECT_EQ(events.events(0).type(), event_type);
    EXPECT_EQ(events.events(0).at_us(), by_type[type].at_us()) << "event times keep their microseconds";
    EXPECT_GT(Run({"PTTL", KeysOf("alice").MessageEvents(by_type[type].id())}).integer, 0) << type;
  }
  EXPECT_EQ(Run({"EXISTS", KeysOf("alice").MessageEvents(by_type["in_app_feed"].id())}).integer, 0);

  // Engagement: marks on the feed item show in GetMessage and its events.
  const std::string item = by_type["in_app_feed"].id();
  harness_->clock().AdvanceMillis(5000);
  v1::MarkFeedItemsRequest mark;
  mark.set_user_id("alice");
  mark.set_action(v1::FEED_ACTION_READ);
  mark.add_ids(item);
  v1::MarkFeedItemsResponse marked;
  ASSERT_TRUE(harness_->stub().MarkFeedItems(HeraldHarness::Context().get(), mark, &marked).ok());
  v1::GetMessageRequest get;
  get.set_user_id("alice");
  get.set_message_id(item);
  v1::Message message;
  ASSERT_TRUE(harness_->stub().GetMessage(HeraldHarness::Context().get(), get, &message).ok());
  EXPECT_EQ(message.engagement_status(), "read");
  EXPECT_GT(message.seen_at_us(), 0);
  EXPECT_EQ(message.read_at_us(), message.seen_at_us());
  EXPECT_EQ(message.archived_at_us(), 0);
  EXPECT_EQ(message.workflow_run_id(), runs["alice"]);
  v1::GetMessageEventsResponse events;
  ASSERT_TRUE(Events("alice", item, &events).ok());
  std::vector<std::string> types;
  for (const auto& e : events.events()) types.push_back(e.type());
  EXPECT_EQ(types, (std::vector<std::string>{"message.delivered", "message.seen", "message.read"}));
  // ListMessages fills engagement too.
  EXPECT_EQ(Find("alice", "in_app_feed").engagement_status(), "read");
}

TEST_F(MessagesTest, FiltersAloneAndCombined) {
  Trigger("everywhere", {"alice", "bob", "carol"}, "acme");
  Trigger("bell", {"alice", "dave", "erin", "frank"});
  auto runs = Trigger("everywhere", {"dave", "frank"});
  const std::vector<v1::Message> all = ListAll(v1::ListMessagesRequest());
  ASSERT_EQ(all.size(), 3u * 4 + 4 + 2u * 4);

  // Each filter alone, and some combined, select exactly the messages of
  // the full list that match.
  struct Case {
    std::string name;
    std::function<void(v1::ListMessagesRequest&)> set;
    std::function<bool(const v1::Message&)> match;
  };
  const std::vector<Case> cases = {
      {"recipient", [](auto& r) { r.set_recipient("alice"); }, [](auto& m) { return m.recipient() == "alice"; }},
      {"workflow", [](auto& r) { r.set_workflow("bell"); }, [](auto& m) { return m.workflow() == "bell"; }},
      {"run", [&](auto& r) { r.set_workflow_run_id(runs["frank"]); },
       [&](auto& m) { return m.workflow_run_id() == runs["frank"]; }},
      {"channel_type", [](auto& r) { r.set_channel_type("sms"); }, [](auto& m) { return m.channel_type() == "sms"; }},
      {"status", [](auto& r) { r.set_status("not_sent"); }, [](auto& m) { return m.status() == "not_sent"; }},
      {"tenant", [](auto& r) { r.set_tenant("acme"); }, [](auto& m) { return m.tenant() == "acme"; }},
      {"recipient+workflow", [](auto& r) { r.set_recipient("alice"); r.set_workflow("everywhere"); },
       [](auto& m) { return m.recipient() == "alice" && m.workflow() == "everywhere"; }},
      {"channel_type+status+tenant",
       [](auto& r) { r.set_channel_type("email"); r.set_status("queued"); r.set_tenant("acme"); },
       [](auto& m) { return m.channel_type() == "email" && m.status() == "queued" && m.tenant() == "acme"; }},
      {"workflow+channel_type", [](auto& r) { r.set_workflow("bell"); r.set_channel_type("email"); },
       [](auto&) { return false; }},
  };
  for (const Case& c : cases) {
    v1::ListMessagesRequest request;
    c.set(request);
    std::vector<v1::Message> expected;
    for (const auto& m : all) {
      if (c.match(m)) expected.push_back(m);
    }
    EXPECT_EQ(Ids(ListAll(request)), Ids(expected)) << c.name;
    EXPECT_EQ(Ids(ListAll(request, 2)), Ids(expected)) << c.name << ", pages of 2";
  }
  v1::ListMessagesRequest run;
  run.set_workflow_run_id(runs["frank"]);
  EXPECT_EQ(ListAll(run).size(), 4u);
}

TEST_F(MessagesTest, PagesWalkEveryPartitionNewestFirstWithNoGapOrDuplicate) {
  for (int round = 0; round < 3; ++round) {
    Trigger("everywhere", kUsers);
    harness_->clock().AdvanceMillis(1000);
  }
  const std::vector<v1::Message> all = ListAll(v1::ListMessagesRequest());
  ASSERT_EQ(all.size(), 3u * kUsers.size() * 4);
  std::set<std::string> partitions;
  for (const auto& m : all) partitions.insert(std::to_string(PartitionOf(m.recipient(), 4)));
  EXPECT_GT(partitions.size(), 1u) << "the users must spread over partitions";
  for (size_t i = 1; i < all.size(); ++i) EXPECT_GE(all[i - 1].at_us(), all[i].at_us()) << "newest first";
  for (int size : {1, 3, 7, 20}) {
    int pages = 0;
    std::vector<v1::Message> walked = ListAll(v1::ListMessagesRequest(), size, &pages);
    EXPECT_EQ(Ids(walked), Ids(all)) << "page size " << size;
    EXPECT_EQ(pages, static_cast<int>((all.size() + size - 1) / size)) << "page size " << size;
    const std::vector<std::string> ids = Ids(walked);
    std::set<std::string> unique(ids.begin(), ids.end());
    EXPECT_EQ(unique.size(), walked.size());
  }
  // Messages created while a reader walks do not shift its pages.
  v1::ListMessagesRequest request;
  request.set_page_size(10);
  v1::ListMessagesResponse first;
  ASSERT_TRUE(List(request, &first).ok());
  Trigger("bell", kUsers);
  std::vector<v1::Message> walked(first.messages().begin(), first.messages().end());
  request.set_after(first.next_cursor());
  std::vector<v1::Message> rest = ListAll(request, 10);
  walked.insert(walked.end(), rest.begin(), rest.end());
  EXPECT_EQ(Ids(walked), Ids(all));
}

TEST_F(MessagesTest, ShortScanBudgetStillWalksEverythingInOrder) {
  for (int round = 0; round < 3; ++round) Trigger("everywhere", kUsers);
  const std::vector<v1::Message> all = ListAll(v1::ListMessagesRequest());
  auto client = Connect();
  // Scanning 2 log entries per partition per call: pages come back short
  // (even empty) with a cursor, and the walk is the same.
  for (const std::string& status : {std::string(), std::string("not_sent")}) {
    v1::ListMessagesRequest request;
    request.set_page_size(5);
    request.set_status(status);
    std::vector<std::string> walked;
    int calls = 0;
    do {
      auto query = messages::ParseListRequest(request, 4);
      ASSERT_TRUE(query.ok()) << query.status();
      auto page = messages::MergeListReplies(*query, client->Pipeline(messages::ListCommands(*query, 2)));
      ASSERT_TRUE(page.ok()) << page.status();
      EXPECT_LE(page->messages_size(), 5);
      for (const auto& m : page->messages()) walked.push_back(m.id());
      request.set_after(page->next_cursor());
    } while (!request.after().empty() && ++calls < 1000);
    std::vector<std::string> expected;
    for (const auto& m : all) {
      if (status.empty() || m.status() == status) expected.push_back(m.id());
    }
    EXPECT_EQ(walked, expected) << "status filter '" << status << "'";
  }
}

TEST_F(MessagesTest, TimeRangeIsInsertedAfterInclusiveBeforeExclusive) {
  const int64_t t0 = harness_->clock().NowMicros();
  Trigger("bell", {"alice", "bob"});
  harness_->clock().AdvanceMillis(10'000);
  const int64_t t1 = harness_->clock().NowMicros();
  Trigger("everywhere", {"carol"});
  harness_->clock().AdvanceMillis(10'000);
  const int64_t t2 = harness_->clock().NowMicros();
  Trigger("bell", {"dave"});
  auto times = [&](int64_t after, int64_t before) {
    v1::ListMessagesRequest request;
    request.set_inserted_after_us(after);
    request.set_inserted_before_us(before);
    std::multiset<int64_t> at;
    for (const auto& m : ListAll(request)) at.insert(m.at_us());
    return at;
  };
  EXPECT_EQ(times(t1, t2), (std::multiset<int64_t>{t1, t1, t1, t1}));
  EXPECT_EQ(times(t0, t1), (std::multiset<int64_t>{t0, t0}));
  EXPECT_EQ(times(t2, 0), (std::multiset<int64_t>{t2}));
  EXPECT_EQ(times(0, t1 + 1).size(), 6u);
}

TEST_F(MessagesTest, RecipientReadsOnlyTheRecipientsPartition) {
  Trigger("everywhere", kUsers);
  v1::ListMessagesRequest request;
  request.set_recipient("erin");
  auto query = messages::ParseListRequest(request, 4);
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(messages::ListCommands(*query).size(), 1u);
  for (const auto& m : ListAll(request, 1)) EXPECT_EQ(m.recipient(), "erin");
  EXPECT_EQ(ListAll(request, 1).size(), 4u);
}

TEST_F(MessagesTest, ExpiredMessagesAreSkipped) {
  Trigger("everywhere", {"alice"});
  v1::ListMessagesRequest request;
  request.set_recipient("alice");
  std::vector<v1::Message> before = ListAll(request);
  ASSERT_EQ(before.size(), 4u);
  Run({"DEL", KeysOf("alice").Message(before[1].id())});
  std::vector<v1::Message> after = ListAll(request);
  EXPECT_EQ(after.size(), 3u);
  for (const auto& m : after) EXPECT_NE(m.id(), before[1].id());
}

TEST_F(MessagesTest, EventsOfAnotherUsersOrAMissingMessageAreNotFound) {
  Trigger("everywhere", {"alice"});
  const std::string email = Find("alice", "email").id();
  v1::GetMessageEventsResponse events;
  grpc::Status status = Events("bob", email, &events);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(status.error_message().find("message_id"), std::string::npos) << status.error_message();
  status = Events("alice", "no-such-message", &events);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(status.error_message().find("message_id"), std::string::npos);
}

TEST_F(MessagesTest, ReceiptsMoveForwardAndRefusalsChangeNothing) {
  Trigger("everywhere", {"alice"});
  const std::string email = Find("alice", "email").id();
  const std::string sms = Find("alice", "sms").id();
  const std::string push = Find("alice", "push").id();
  const std::string item = Find("alice", "in_app_feed").id();
  const Keys keys = KeysOf("alice");
  auto event_count = [&](const std::string& id) { return Run({"LLEN", keys.MessageEvents(id)}).integer; };
  auto hash = [&](const std::string& id) { return Run({"HGETALL", keys.Message(id)}).elements.size(); };

  // queued -> delivered -> bounced (a late bounce).
  v1::Message message;
  ASSERT_TRUE(Receipt("alice", email, "delivered", &message).ok());
  EXPECT_EQ(message.status(), "delivered");
  EXPECT_GT(message.updated_at_us(), 0);
  grpc::Status status = Receipt("alice", email, "bounced", &message, "smtp 550 mailbox unknown");
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(message.status(), "bounced");
  EXPECT_EQ(message.reason(), "smtp 550 mailbox unknown");
  v1::GetMessageEventsResponse events;
  ASSERT_TRUE(Events("alice", email, &events).ok());
  std::vector<std::string> types;
  for (const auto& e : events.events()) types.push_back(e.type());
  EXPECT_EQ(types, (std::vector<std::string>{"message.queued", "message.delivered", "message.bounced"}));
  EXPECT_EQ(events.events(2).reason(), "smtp 550 mailbox unknown");

  // bounced -> delivered is refused and changes nothing.
  const int64_t events_before = event_count(email);
  status = Receipt("alice", email, "delivered", &message);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("status"), std::string::npos) << status.error_message();
  EXPECT_EQ(event_count(email), events_before);
  EXPECT_EQ(Run({"HGET", keys.Message(email), "status"}).str, "bounced");
  // A repeated receipt is harmless: no second event.
  ASSERT_TRUE(Receipt("alice", email, "bounced", &message).ok());
  EXPECT_EQ(event_count(email), events_before);

  // sent (as the delivery service leaves it) -> undelivered.
  Run({"HSET", keys.Message(sms), "status", "sent"});
  ASSERT_TRUE(Receipt("alice", sms, "undelivered", &message, "carrier rejected").ok());
  EXPECT_EQ(message.status(), "undelivered");
  status = Receipt("alice", sms, "delivered", &message);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Run({"HGET", keys.Message(sms), "status"}).str, "undelivered");

  // not_sent and in-app messages take no receipt; nothing changes.
  const size_t push_fields = hash(push);
  status = Receipt("alice", push, "delivered", &message);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Run({"HGET", keys.Message(push), "status"}).str, "not_sent");
  EXPECT_EQ(hash(push), push_fields);
  EXPECT_EQ(event_count(push), 1);
  status = Receipt("alice", item, "delivered", &message);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Run({"EXISTS", keys.MessageEvents(item)}).integer, 0);

  // Another user's message is not found; an unknown status is refused.
  status = Receipt("bob", sms, "delivered", &message);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(status.error_message().find("message_id"), std::string::npos);
  status = Receipt("alice", sms, "opened", &message);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("status"), std::string::npos);
  EXPECT_EQ(Run({"HGET", keys.Message(sms), "status"}).str, "undelivered");
}

TEST_F(MessagesTest, BadInputNamesTheField) {
  auto list_error = [&](std::function<void(v1::ListMessagesRequest&)> set) {
    v1::ListMessagesRequest request;
    set(request);
    v1::ListMessagesResponse response;
    grpc::Status status = List(request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    return status.error_message();
  };
  EXPECT_EQ(list_error([](auto& r) { r.set_page_size(101); }).rfind("page_size:", 0), 0u);
  EXPECT_EQ(list_error([](auto& r) { r.set_page_size(-1); }).rfind("page_size:", 0), 0u);
  EXPECT_EQ(list_error([](auto& r) { r.set_after("not-a-cursor"); }).rfind("after:", 0), 0u);
  EXPECT_EQ(list_error([](auto& r) { r.set_after(messages::EncodeListCursor({"", ""})); }).rfind("after:", 0), 0u)
      << "a cursor of another partition count";
  EXPECT_EQ(list_error([](auto& r) { r.set_after(messages::EncodeListCursor({"0-0", "0-0", "0-0", "0-0"})); })
                .rfind("after:", 0),
            0u)
      << "a crafted position no page ends on";
  EXPECT_EQ(list_error([](auto& r) { r.set_status("opened"); }).rfind("status:", 0), 0u);
  EXPECT_EQ(list_error([](auto& r) { r.set_channel_type("fax"); }).rfind("channel_type:", 0), 0u);
  EXPECT_EQ(list_error([](auto& r) { r.set_recipient(std::string(1, '\x01')); }).rfind("recipient:", 0), 0u);
  EXPECT_EQ(list_error([](auto& r) { r.set_inserted_after_us(-5); }).rfind("inserted_after_us:", 0), 0u);
  EXPECT_EQ(list_error([](auto& r) {
              r.set_inserted_after_us(10);
              r.set_inserted_before_us(10);
            }).rfind("inserted_before_us:", 0),
            0u);
  v1::GetMessageEventsResponse events;
  grpc::Status status = Events("alice", "", &events);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().rfind("message_id:", 0), 0u) << status.error_message();
  status = Events("", "m", &events);
  EXPECT_EQ(status.error_message().rfind("user_id:", 0), 0u) << status.error_message();
  v1::Message message;
  status = Receipt("alice", "m", "", &message);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().rfind("status:", 0), 0u) << status.error_message();
  status = Receipt("alice", "m", "delivered", &message, std::string(2000, 'r'));
  EXPECT_EQ(status.error_message().rfind("reason:", 0), 0u) << status.error_message();
  EXPECT_TRUE(AllKeys().empty() || ListAll(v1::ListMessagesRequest()).empty()) << "bad input wrote nothing";
}

// The feed cap, on the store: a user's feed keeps its newest N items and
// none older than the retention; the others leave every set (whole feed and
// tenant feed, so counts stay exact) and their record is deleted.
class FeedCapTest : public testing::RedisTest {};

feed::NewItem Item(const std::string& id, const std::string& tenant) {
  feed::NewItem item;
  item.item.set_id(id);
  item.item.set_workflow("bell");
  item.item.set_tenant(tenant);
  item.recipient = "u";
  item.channel = "in_app";
  item.inserted_at_us = 1;
  item.workflow_run_id = "run-" + id;
  return item;
}

TEST_F(FeedCapTest, InsertingBeyondTheCapRemovesTheOldestEntirely) {
  const Keys keys(PartitionOf("u", 4));
  auto client = Connect();
  auto run = [&](const redis::Command& command) {
    auto reply = client->Execute(command);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : redis::Reply();
  };
  const feed::InsertOptions options{/*message_retention_ms=*/60'000, /*max_items=*/3};
  run(feed::InsertManyCommand(keys, {Item("a", "t"), Item("b", ""), Item("c", "t")}, options));
  // a: read and archived, b: read, c: untouched.
  v1::MarkFeedItemsRequest mark;
  mark.set_user_id("u");
  mark.set_action(v1::FEED_ACTION_READ);
  mark.add_ids("a");
  mark.add_ids("b");
  run(*feed::MarkCommand(keys, mark, 1000));
  mark.set_action(v1::FEED_ACTION_ARCHIVED);
  mark.clear_ids();
  mark.add_ids("a");
  run(*feed::MarkCommand(keys, mark, 2000));
  EXPECT_EQ(run({"ZCARD", keys.FeedSet("u", "archived")}).integer, 1);

  // Two more: a (archived) and b (read) are the oldest and go.
  redis::Reply inserted = run(feed::InsertManyCommand(keys, {Item("d", "t"), Item("e", "")}, options));
  ASSERT_EQ(inserted.elements.size(), 2u);
  EXPECT_EQ(inserted.elements[0].integer, 4);
  EXPECT_EQ(inserted.elements[1].integer, 5);
  // What the feed answers, per filter and scope (ids, newest first).
  auto ids = [&](v1::FeedStatusFilter filter, const std::string& tenant) {
    v1::ListFeedRequest list;
    list.set_user_id("u");
    list.set_status(filter);
    list.set_tenant(tenant);
    auto page = feed::ParseListReply(list, run(*feed::ListCommand(keys, list)));
    std::vector<std::string> out;
    if (page.ok()) {
      for (const auto& item : page->items()) out.push_back(item.id());
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids(v1::FEED_STATUS_FILTER_UNSPECIFIED, ""), (V{"e", "d", "c"}));
  EXPECT_EQ(ids(v1::FEED_STATUS_FILTER_UNSEEN, ""), (V{"e", "d", "c"}));
  EXPECT_EQ(ids(v1::FEED_STATUS_FILTER_UNREAD, ""), (V{"e", "d", "c"}));
  EXPECT_EQ(ids(v1::FEED_STATUS_FILTER_READ, ""), V{});
  EXPECT_EQ(ids(v1::FEED_STATUS_FILTER_ARCHIVED, ""), V{});
  EXPECT_EQ(ids(v1::FEED_STATUS_FILTER_UNSPECIFIED, "t"), (V{"d", "c"}));
  EXPECT_EQ(ids(v1::FEED_STATUS_FILTER_UNREAD, "t"), (V{"d", "c"}));
  EXPECT_EQ(ids(v1::FEED_STATUS_FILTER_ARCHIVED, "t"), V{});
  // Nothing of a and b is left in Redis: no record, no state, no set entry.
  for (const char* gone : {"a", "b"}) {
    EXPECT_EQ(run({"HEXISTS", keys.FeedSet("u", "items"), gone}).integer, 0) << gone;
    EXPECT_EQ(run({"HEXISTS", keys.FeedSet("u", "state"), gone}).integer, 0) << gone;
    for (const char* set : {"index", "archived", "seen_x", "unseen_x", "read_x", "unread_x"}) {
      EXPECT_EQ(run({"ZSCORE", keys.FeedSet("u", set), gone}).type, redis::Reply::Type::kNil) << gone << " " << set;
      EXPECT_EQ(run({"ZSCORE", keys.TenantFeedSet("t", "u", set), gone}).type, redis::Reply::Type::kNil) << gone;
    }
  }
  for (const char* kept : {"c", "d", "e"}) {
    auto message = run(messages::GetMessageCommand(keys, "u", kept));
    EXPECT_EQ(messages::MessageFromFields(kept, message.elements).workflow_run_id(), std::string("run-") + kept);
  }
  // Every insert was logged (one log entry per insert call, listing its
  // items); ListMessages answers the items still in the feed, newest first.
  EXPECT_EQ(run({"XLEN", keys.MessageLog()}).integer, 2);
  v1::ListMessagesRequest logged;
  auto query = messages::ParseListRequest(logged, 4);
  ASSERT_TRUE(query.ok());
  auto listed = messages::MergeListReplies(*query, client->Pipeline(messages::ListCommands(*query)));
  ASSERT_TRUE(listed.ok()) << listed.status();
  std::vector<std::string> listed_ids;
  for (const auto& m : listed->messages()) listed_ids.push_back(m.id());
  EXPECT_EQ(listed_ids, (V{"e", "d", "c"}));
  // The feed's counts are what ListFeed answers.
  v1::ListFeedRequest list;
  list.set_user_id("u");
  auto page = feed::ParseListReply(list, run(*feed::ListCommand(keys, list)));
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->metadata().total_count(), 3);
  EXPECT_EQ(page->metadata().unread_count(), 3);
  EXPECT_EQ(page->metadata().unseen_count(), 3);
  // A replay of a kept item writes nothing.
  redis::Reply again = run(feed::InsertManyCommand(keys, {Item("e", "")}, options));
  EXPECT_EQ(again.elements[0].integer, 0);
  // Older than the retention: gone at the next insert.
  const feed::InsertOptions short_retention{/*message_retention_ms=*/1, /*max_items=*/3};
  feed::NewItem late = Item("f", "");
  late.inserted_at_us += 10'000;
  run(feed::InsertManyCommand(keys, {late}, short_retention));
  EXPECT_EQ(ids(v1::FEED_STATUS_FILTER_UNSPECIFIED, ""), (V{"f"}));
  EXPECT_EQ(ids(v1::FEED_STATUS_FILTER_UNSPECIFIED, "t"), V{});
}

}  // namespace
}  // namespace herald
