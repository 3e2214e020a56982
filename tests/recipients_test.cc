// Recipients end to end: bulk identify, channel data, objects and their
// subscriptions with paged fan-out, tenants (branding and default
// preferences in templates and decisions), email/sms/push/chat content,
// and user delete/merge leaving no key of the removed user behind.
#include <grpcpp/grpcpp.h>

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "core/keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/herald_harness.h"
#include "tests/support/redis_fixture.h"
#include "tests/support/stored_messages.h"

namespace herald {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using Context = testing::HeraldHarness;

testing::HarnessOptions Workflows() {
  testing::HarnessOptions options;
  options.object_page_size = 7;  // many pages from a few dozen subscribers
  options.workflow_files["update.yaml"] = R"(
key: update
categories: [projects]
steps:
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template:
      markdown: "{{ data.title }} for {{ recipient.name }}{% if tenant.name %} at {{ tenant.name }} ({{ tenant.settings.branding.primary_color }}){% endif %}"
)";
  options.workflow_files["everywhere.yaml"] = R"(
key: everywhere
steps:
  - ref: email
    type: channel
    channel_type: email
    template:
      subject: "{{ actor.name }} commented on {{ data.post }}"
      markdown: "Hi {{ recipient.name }}, **{{ actor.name }}** wrote: {{ data.text }}"
  - ref: sms
    type: channel
    channel_type: sms
    template: {text: "{{ actor.name }}: {{ data.text | truncate: 20 }}"}
  - ref: push
    type: channel
    channel_type: push
    channel: apns
    template:
      title: "New comment"
      body: "{{ data.text }}"
      data: {post_id: "{{ data.post_id }}"}
  - ref: chat
    type: channel
    channel_type: chat
    channel: slack
    template:
      text: "{{ actor.name }} commented"
      blocks: '[{"type": "section", "text": {"type": "mrkdwn", "text": {{ data.text | json }}}}]'
)";
  options.workflow_files["badchat.yaml"] = R"(
key: badchat
steps:
  - ref: chat
    type: channel
    channel_type: chat
    channel: slack
    template: {text: "x", blocks: "not json {{ data.text }}"}
)";
  return options;
}

class RecipientsTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    harness_ = std::make_unique<testing::HeraldHarness>(endpoint(), Workflows());
    ASSERT_TRUE(harness_->ok());
  }
  void TearDown() override { harness_.reset(); }
  v1::Herald::Stub& stub() { return harness_->stub(); }

  v1::TriggerResponse Trigger(const std::string& workflow, std::vector<std::string> users,
                              std::vector<std::pair<std::string, std::string>> objects, const std::string& data,
                              const std::string& tenant = "", const std::string& actor = "") {
    v1::TriggerRequest request;
    request.set_workflow(workflow);
    for (const std::string& id : users) request.add_recipients()->set_id(id);
    for (const auto& [collection, id] : objects) {
      request.add_recipients()->mutable_object()->set_collection(collection);
      request.mutable_recipients(request.recipients_size() - 1)->mutable_object()->set_id(id);
    }
    request.set_data_json(data);
    request.set_tenant(tenant);
    request.set_actor(actor);
    v1::TriggerResponse response;
    grpc::Status status = stub().Trigger(Context::Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  void BulkIdentify(const std::vector<std::string>& ids) {
    v1::BulkIdentifyUsersRequest request;
    for (const std::string& id : ids) {
      v1::InlineUser* user = request.add_users();
      user->set_id(id);
      user->set_name(absl::StrCat("User ", id));
    }
    v1::BulkIdentifyUsersResponse response;
    grpc::Status status = stub().BulkIdentifyUsers(Context::Context().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response.users_size(), static_cast<int>(ids.size()));
  }

  v1::SubscriptionsResponse Subscribe(const std::string& collection, const std::string& id,
                                      const std::vector<std::string>& users, bool subscribe = true) {
    v1::SubscriptionsRequest request;
    request.mutable_object()->set_collection(collection);
    request.mutable_object()->set_id(id);
    for (const std::string& user : users) request.add_user_ids(user);
    v1::SubscriptionsResponse response;
    grpc::Status status = subscribe ? stub().Subscribe(Context::Context().get(), request, &response)
                                    : stub().Unsubscribe(Context::Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  void SetChannelData(const std::string& user, const std::string& channel, const std::string& data) {
    v1::SetChannelDataRequest request;
    request.set_user_id(user);
    request.set_channel(channel);
    request.set_data_json(data);
    v1::ChannelData response;
    grpc::Status status = stub().SetChannelData(Context::Context().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // Keys holding state (the role's streams exist from the start).
  static std::vector<std::string> StateKeys() {
    std::vector<std::string> keys;
    for (const std::string& key : AllKeys()) {
      // The stage streams (both lanes) exist as soon as their consumer groups do.
      if (absl::EndsWith(key, ":events") || absl::EndsWith(key, ":batches") || absl::EndsWith(key, ":expansions") ||
          absl::EndsWith(key, ":events:bulk") || absl::EndsWith(key, ":batches:bulk")) {
        continue;
      }
      keys.push_back(key);
    }
    return keys;
  }

  // Every message record of `user` by message id (status, reason, rule).
  std::map<std::string, std::vector<std::string>> MessagesOf(const std::string& user) {
    std::map<std::string, std::vector<std::string>> out;
    auto client = Connect();
    for (auto& [id, f] : testing::StoredMessagesOf(*client, AllKeys(), user)) {
      out[id] = {f["status"], f["reason"], f["rule"], f["channel_type"]};
    }
    return out;
  }

  // Keys that still name `user`, and message hashes still addressed to them.
  std::vector<std::string> Leftovers(const std::string& user) {
    std::vector<std::string> left;
    auto client = Connect();
    for (const std::string& key : AllKeys()) {
      if (absl::EndsWith(key, absl::StrCat(":", user)) || key.find(absl::StrCat(":", user, ":")) != std::string::npos) {
        left.push_back(key);
      }
      if (key.find(":msg:") != std::string::npos) {
        auto recipient = client->Execute({"HGET", key, "recipient"});
        if (recipient.ok() && recipient->str == user) left.push_back(key);
      }
      if (key.find(":subs:") != std::string::npos) {
        auto score = client->Execute({"ZSCORE", key, user});
        if (score.ok() && !score->is_nil()) left.push_back(absl::StrCat(key, " has ", user));
      }
    }
    return left;
  }

  std::unique_ptr<testing::HeraldHarness> harness_;
};

TEST_F(RecipientsTest, BulkIdentifyChecksEveryUserBeforeWritingAny) {
  v1::BulkIdentifyUsersRequest request;
  for (int i = 0; i < 5; ++i) request.add_users()->set_id(absl::StrCat("u", i));
  request.mutable_users(3)->set_email("not-an-email");
  v1::BulkIdentifyUsersResponse response;
  grpc::Status status = stub().BulkIdentifyUsers(Context::Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("users[3].email"));
  EXPECT_THAT(StateKeys(), ::testing::IsEmpty());

  request.Clear();
  for (int i = 0; i < 1001; ++i) request.add_users()->set_id(absl::StrCat("u", i));
  status = stub().BulkIdentifyUsers(Context::Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("users: at most 1000"));

  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back(absl::StrCat("u", i));
  BulkIdentify(ids);
  v1::GetUserRequest get;
  get.set_id("u999");
  v1::User user;
  ASSERT_TRUE(stub().GetUser(Context::Context().get(), get, &user).ok());
  EXPECT_EQ(user.name(), "User u999");
}

TEST_F(RecipientsTest, ChannelDataIsValidatedStoredAndRemoved) {
  v1::SetChannelDataRequest bad;
  bad.set_user_id("ana");
  bad.set_channel("apns");
  bad.set_data_json(R"({"tokens": ["t1", 7]})");
  v1::ChannelData stored;
  grpc::Status status = stub().SetChannelData(Context::Context().get(), bad, &stored);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("data_json.tokens[1]"));
  bad.set_channel("slack");
  bad.set_data_json(R"({"connections": [{"incoming_webhook": {"url": "ftp://x"}}]})");
  status = stub().SetChannelData(Context::Context().get(), bad, &stored);
  EXPECT_THAT(status.error_message(), HasSubstr("data_json.connections[0].incoming_webhook.url"));
  EXPECT_THAT(StateKeys(), ::testing::IsEmpty());

  SetChannelData("ana", "apns", R"({"tokens": ["t1", "t2"]})");
  v1::ChannelDataRequest get;
  get.set_user_id("ana");
  get.set_channel("apns");
  ASSERT_TRUE(stub().GetChannelData(Context::Context().get(), get, &stored).ok());
  EXPECT_EQ(stored.data_json(), R"({"tokens":["t1","t2"]})");
  v1::UnsetChannelDataResponse unset;
  ASSERT_TRUE(stub().UnsetChannelData(Context::Context().get(), get, &unset).ok());
  EXPECT_TRUE(unset.existed());
  status = stub().GetChannelData(Context::Context().get(), get, &stored);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(RecipientsTest, ObjectTriggerFansOutInPagesToEverySubscriberExactlyOnce) {
  v1::IdentifyObjectRequest identify;
  identify.mutable_object()->set_collection("projects");
  identify.mutable_object()->set_id("p1");
  identify.set_name("Launch");
  v1::Object object;
  ASSERT_TRUE(stub().IdentifyObject(Context::Context().get(), identify, &object).ok());
  identify.mutable_object()->set_collection("bad/collection");
  grpc::Status status = stub().IdentifyObject(Context::Context().get(), identify, &object);
  EXPECT_THAT(status.error_message(), HasSubstr("object.collection"));

  std::vector<std::string> subscribers;
  for (int i = 0; i < 40; ++i) subscribers.push_back(absl::StrCat("s", i));
  BulkIdentify(subscribers);
  BulkIdentify({"outsider"});
  EXPECT_EQ(Subscribe("projects", "p1", subscribers).subscriber_count(), 40);
  EXPECT_EQ(Subscribe("projects", "p1", {"s0", "s1"}).changed(), 0);  // already subscribed
  EXPECT_EQ(Subscribe("projects", "p1", {"s39"}, /*subscribe=*/false).subscriber_count(), 39);

  // Pages of the subscriber list follow each other without overlap.
  std::set<std::string> listed;
  std::string after;
  int pages = 0;
  do {
    v1::ListSubscribersRequest list;
    list.mutable_object()->set_collection("projects");
    list.mutable_object()->set_id("p1");
    list.set_page_size(10);
    list.set_after(after);
    v1::ListSubscribersResponse page;
    ASSERT_TRUE(stub().ListSubscribers(Context::Context().get(), list, &page).ok());
    for (const std::string& id : page.user_ids()) EXPECT_TRUE(listed.insert(id).second) << id;
    after = page.next_cursor();
    ++pages;
  } while (!after.empty() && pages < 10);
  EXPECT_EQ(listed.size(), 39u);
  EXPECT_EQ(pages, 4);

  // s0 is also named directly: still one message.
  auto response = Trigger("update", {"s0"}, {{"projects", "p1"}}, R"({"title": "Kickoff"})");
  ASSERT_EQ(response.fanouts_size(), 1);
  ASSERT_TRUE(harness_->WaitForIdle());
  v1::GetObjectFanoutRequest progress;
  progress.set_fanout_id(response.fanouts(0).fanout_id());
  v1::ObjectFanout fanout;
  ASSERT_TRUE(stub().GetObjectFanout(Context::Context().get(), progress, &fanout).ok());
  EXPECT_EQ(fanout.status(), "done");
  EXPECT_EQ(fanout.recipients(), 39);
  EXPECT_EQ(fanout.pages(), 6);  // 39 subscribers in pages of 7
  EXPECT_EQ(fanout.workflow(), "update");
  EXPECT_GT(fanout.finished_at_ms(), 0);
  for (int i = 0; i < 39; ++i) {
    auto items = harness_->AllFeedItems(absl::StrCat("s", i));
    ASSERT_EQ(items.size(), 1u) << "s" << i;
    EXPECT_EQ(items[0].blocks(0).markdown(), absl::StrCat("Kickoff for User s", i));
  }
  EXPECT_TRUE(harness_->AllFeedItems("s39").empty());
  EXPECT_TRUE(harness_->AllFeedItems("outsider").empty());

  progress.set_fanout_id("nonsense");
  status = stub().GetObjectFanout(Context::Context().get(), progress, &fanout);
  EXPECT_THAT(status.error_message(), HasSubstr("fanout_id"));

  // Deleting the object unsubscribes everyone, user side included.
  v1::ObjectRequest remove;
  remove.mutable_object()->set_collection("projects");
  remove.mutable_object()->set_id("p1");
  v1::DeleteObjectResponse removed;
  ASSERT_TRUE(stub().DeleteObject(Context::Context().get(), remove, &removed).ok());
  EXPECT_EQ(removed.unsubscribed(), 39);
  for (const std::string& key : AllKeys()) {
    EXPECT_EQ(key.find("usubs:"), std::string::npos) << key;
    EXPECT_EQ(key.find("projects/p1"), std::string::npos) << key;
  }
}

TEST_F(RecipientsTest, TenantsBrandTemplatesAndTheirDefaultPreferencesDecide) {
  v1::IdentifyTenantRequest tenant;
  tenant.set_id("acme");
  tenant.set_name("Acme");
  tenant.set_settings_json(R"({"branding": {"primary_color": "#zz0000"}})");
  v1::Tenant stored;
  grpc::Status status = stub().IdentifyTenant(Context::Context().get(), tenant, &stored);
  EXPECT_THAT(status.error_message(), HasSubstr("settings_json.branding.primary_color"));
  tenant.set_settings_json(R"({"preference_set": {"workflows": {"update": "yes"}}})");
  status = stub().IdentifyTenant(Context::Context().get(), tenant, &stored);
  EXPECT_THAT(status.error_message(), HasSubstr("settings_json.preference_set.workflows.update"));
  EXPECT_THAT(StateKeys(), ::testing::IsEmpty());

  tenant.set_settings_json(R"({"branding": {"primary_color": "#FF5500", "logo_url": "https://acme.test/logo.png"}})");
  ASSERT_TRUE(stub().IdentifyTenant(Context::Context().get(), tenant, &stored).ok());
  EXPECT_EQ(stored.name(), "Acme");
  tenant.set_id("quiet");
  tenant.set_name("Quiet Inc");
  tenant.set_settings_json(R"({"preference_set": {"categories": {"projects": false}}})");
  ASSERT_TRUE(stub().IdentifyTenant(Context::Context().get(), tenant, &stored).ok());
  EXPECT_EQ(nlohmann::json::parse(stored.settings_json())["preference_set"]["categories"]["projects"], false);

  BulkIdentify({"ana"});
  Trigger("update", {"ana"}, {}, R"({"title": "Report"})", "acme");
  Trigger("update", {"ana"}, {}, R"({"title": "Muted"})", "quiet");
  Trigger("update", {"ana"}, {}, R"({"title": "Personal"})");
  ASSERT_TRUE(harness_->WaitForIdle());
  auto items = harness_->AllFeedItems("ana");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[1].blocks(0).markdown(), "Report for User ana at Acme (#FF5500)");

  // The tenant scopes the feed: its items, its counts, its bulk actions.
  v1::ListFeedRequest list;
  list.set_user_id("ana");
  list.set_tenant("acme");
  v1::ListFeedResponse page;
  ASSERT_TRUE(stub().ListFeed(Context::Context().get(), list, &page).ok());
  ASSERT_EQ(page.items_size(), 1);
  EXPECT_EQ(page.items(0).tenant(), "acme");
  EXPECT_EQ(page.metadata().unread_count(), 1);
  v1::MarkFeedItemsRequest mark;
  mark.set_user_id("ana");
  mark.set_tenant("acme");
  mark.set_action(v1::FEED_ACTION_READ);
  mark.add_ids(items[0].id());  // the personal item is not in acme's feed
  v1::MarkFeedItemsResponse marked;
  EXPECT_EQ(stub().MarkFeedItems(Context::Context().get(), mark, &marked).error_code(), grpc::StatusCode::NOT_FOUND);
  mark.clear_ids();
  mark.set_all(true);
  ASSERT_TRUE(stub().MarkFeedItems(Context::Context().get(), mark, &marked).ok());
  EXPECT_EQ(marked.changed(), 1);
  EXPECT_EQ(marked.metadata().unread_count(), 0);
  list.clear_tenant();
  ASSERT_TRUE(stub().ListFeed(Context::Context().get(), list, &page).ok());
  EXPECT_EQ(page.metadata().unread_count(), 1);  // the personal one
  EXPECT_EQ(page.metadata().total_count(), 2);
  std::vector<std::string> reasons;
  for (const auto& [id, fields] : MessagesOf("ana")) reasons.push_back(absl::StrCat(fields[0], "/", fields[1], "/", fields[2]));
  EXPECT_THAT(reasons,
              UnorderedElementsAre("delivered//", "delivered//", "not_sent/preference/tenant:categories.projects"));
}

TEST_F(RecipientsTest, EmailSmsPushAndChatAreRenderedForTheirChannelAndQueued) {
  v1::IdentifyUserRequest identify;
  identify.mutable_user()->set_id("ana");
  identify.mutable_user()->set_name("Ana");
  identify.mutable_user()->set_email("ana@example.test");
  identify.mutable_user()->set_phone_number("+15550100");
  v1::User user;
  ASSERT_TRUE(stub().IdentifyUser(Context::Context().get(), identify, &user).ok());
  identify.mutable_user()->set_id("bo");
  identify.mutable_user()->set_name("Bo");
  identify.mutable_user()->clear_phone_number();
  ASSERT_TRUE(stub().IdentifyUser(Context::Context().get(), identify, &user).ok());
  SetChannelData("ana", "apns", R"({"tokens": ["tok-1"]})");
  SetChannelData("ana", "slack", R"({"connections": [{"incoming_webhook": {"url": "https://hooks.test/x"}}]})");

  Trigger("everywhere", {"ana", "bo"}, {}, R"({"post": "Plan", "post_id": "p9", "text": "Looks \"good\" to me, ship it"})",
          "", "bo");
  Trigger("badchat", {"ana"}, {}, R"({"text": "x"})");
  ASSERT_TRUE(harness_->WaitForIdle());

  std::map<std::string, v1::Message> by_type;
  for (const auto& [id, fields] : MessagesOf("ana")) {
    v1::GetMessageRequest get;
    get.set_user_id("ana");
    get.set_message_id(id);
    v1::Message message;
    ASSERT_TRUE(stub().GetMessage(Context::Context().get(), get, &message).ok());
    by_type[absl::StrCat(message.workflow(), ":", message.channel_type())] = message;
  }
  ASSERT_EQ(by_type.size(), 5u);
  const v1::Message& email = by_type["everywhere:email"];
  EXPECT_EQ(email.status(), "queued");
  EXPECT_EQ(email.content().email().to(), "ana@example.test");
  EXPECT_EQ(email.content().email().subject(), "Bo commented on Plan");
  EXPECT_EQ(email.content().email().html(),
            "<p>Hi Ana, <strong>Bo</strong> wrote: Looks &quot;good&quot; to me, ship it</p>\n");
  EXPECT_EQ(email.content().email().text(), "Hi Ana, **Bo** wrote: Looks \"good\" to me, ship it");
  EXPECT_EQ(by_type["everywhere:sms"].content().sms().to(), "+15550100");
  EXPECT_EQ(by_type["everywhere:sms"].content().sms().text(), "Bo: Looks \"good\" to m...");
  const v1::PushContent& push = by_type["everywhere:push"].content().push();
  EXPECT_THAT(push.tokens(), ElementsAre("tok-1"));
  EXPECT_EQ(push.title(), "New comment");
  EXPECT_EQ(push.data().at("post_id"), "p9");
  const v1::ChatContent& chat = by_type["everywhere:chat"].content().chat();
  EXPECT_EQ(chat.text(), "Bo commented");
  EXPECT_EQ(nlohmann::json::parse(chat.blocks_json())[0]["text"]["text"], "Looks \"good\" to me, ship it");
  EXPECT_EQ(chat.channel_data_json(), "") << "a chat connection's webhook URL is a credential";
  EXPECT_EQ(by_type["badchat:chat"].status(), "undelivered");
  EXPECT_THAT(by_type["badchat:chat"].reason(), HasSubstr("template_error: template.blocks: did not render to a JSON array"));

  // Bo has an email only: the rest is recorded, naming what is missing.
  std::set<std::string> bo;
  for (const auto& [id, fields] : MessagesOf("bo")) bo.insert(absl::StrCat(fields[3], " ", fields[0], "/", fields[1], "/", fields[2]));
  EXPECT_THAT(bo, UnorderedElementsAre("email queued//", "sms not_sent/missing_channel_data/recipient.phone_number",
                                       "push not_sent/missing_channel_data/channel_data.apns.tokens",
                                       "chat not_sent/missing_channel_data/channel_data.slack.connections"));
  // Queued messages are handed to the delivery services exactly once each.
  auto client = Connect();
  int64_t queued = 0;
  for (int p = 0; p < 4; ++p) queued += client->Execute({"XLEN", Keys(p).Deliveries()})->integer;
  EXPECT_EQ(queued, 5);

  // Someone else's message is not found.
  v1::GetMessageRequest get;
  get.set_user_id("bo");
  get.set_message_id(email.id());
  v1::Message message;
  EXPECT_EQ(stub().GetMessage(Context::Context().get(), get, &message).error_code(), grpc::StatusCode::NOT_FOUND);
}

// Gives `user` something of every kind: profile, preferences (own and per
// tenant), channel data, subscriptions, feed items (one read, one
// archived) and a not_sent record.
void Populate(v1::Herald::Stub& stub, const std::string& user) {
  v1::IdentifyUserRequest identify;
  identify.mutable_user()->set_id(user);
  identify.mutable_user()->set_name(absl::StrCat("Name ", user));
  identify.mutable_user()->set_properties_json(absl::StrCat(R"({"plan": "pro", "from": ")", user, R"("})"));
  v1::User out;
  ASSERT_TRUE(stub.IdentifyUser(Context::Context().get(), identify, &out).ok());
  v1::SetPreferencesRequest preferences;
  preferences.set_user_id(user);
  preferences.set_tenant("muted");
  preferences.set_preferences_json(R"({"workflows": {"update": false}})");
  v1::Preferences stored;
  ASSERT_TRUE(stub.SetPreferences(Context::Context().get(), preferences, &stored).ok());
  preferences.clear_tenant();
  preferences.set_preferences_json(R"({"channel_types": {"email": false}})");
  ASSERT_TRUE(stub.SetPreferences(Context::Context().get(), preferences, &stored).ok());
}

TEST_F(RecipientsTest, DeleteAndMergeLeaveNoKeyOfTheRemovedUser) {
  // Ids chosen so that the pairs land in the same and in different
  // partitions.
  std::vector<std::string> ids;
  for (int i = 0; ids.size() < 4 && i < 1000; ++i) {
    std::string id = absl::StrCat("m", i);
    if (ids.empty() || (ids.size() == 1 && PartitionOf(id, 4) == PartitionOf(ids[0], 4)) ||
        (ids.size() == 2 && PartitionOf(id, 4) != PartitionOf(ids[0], 4)) ||
        (ids.size() == 3 && PartitionOf(id, 4) != PartitionOf(ids[2], 4))) {
      ids.push_back(id);
    }
  }
  ASSERT_EQ(ids.size(), 4u);
  v1::IdentifyObjectRequest object;
  object.mutable_object()->set_collection("projects");
  object.mutable_object()->set_id("p2");
  v1::Object stored;
  ASSERT_TRUE(stub().IdentifyObject(Context::Context().get(), object, &stored).ok());
  for (const std::string& id : ids) {
    Populate(stub(), id);
    SetChannelData(id, "apns", absl::StrCat(R"({"tokens": ["token-)", id, R"("]})"));
  }
  Subscribe("projects", "p2", ids);
  // One of them in a tenant: its tenant-scoped feed sets must move and go too.
  for (int n = 0; n < 3; ++n) {
    Trigger("update", {}, {{"projects", "p2"}}, absl::StrCat(R"({"title": "T)", n, R"("})"), n == 2 ? "acme" : "");
  }
  Trigger("update", ids, {}, R"({"title": "muted"})", "muted");  // not_sent records
  ASSERT_TRUE(harness_->WaitForIdle());
  for (const std::string& id : ids) {
    auto items = harness_->AllFeedItems(id);
    if (items.size() != 3u) for (auto& [m, f] : MessagesOf(id)) ADD_FAILURE() << m << " " << f[0] << "/" << f[1] << "/" << f[2];
    ASSERT_EQ(items.size(), 3u) << id;
    v1::MarkFeedItemsRequest mark;
    mark.set_user_id(id);
    mark.set_action(v1::FEED_ACTION_READ);
    mark.add_ids(items[0].id());
    v1::MarkFeedItemsResponse marked;
    ASSERT_TRUE(stub().MarkFeedItems(Context::Context().get(), mark, &marked).ok());
    mark.set_action(v1::FEED_ACTION_ARCHIVED);
    mark.set_ids(0, items[1].id());
    ASSERT_TRUE(stub().MarkFeedItems(Context::Context().get(), mark, &marked).ok());
    ASSERT_EQ(MessagesOf(id).size(), 4u) << id;
  }

  // Delete: nothing of the user remains, anywhere.
  for (const std::string& id : ids) EXPECT_GT(Leftovers(id).size(), 10u) << id;  // the check sees them
  v1::DeleteUserRequest remove;
  remove.set_id(ids[3]);
  v1::DeleteUserResponse removed;
  ASSERT_TRUE(stub().DeleteUser(Context::Context().get(), remove, &removed).ok());
  EXPECT_GT(removed.deleted_keys(), 0);
  EXPECT_THAT(Leftovers(ids[3]), ::testing::IsEmpty());
  ASSERT_TRUE(stub().DeleteUser(Context::Context().get(), remove, &removed).ok());  // repeatable
  EXPECT_EQ(removed.deleted_keys(), 0);

  // Merge, same partition (m-a into m-b) and across partitions.
  for (auto [into, from] : {std::pair{ids[0], ids[1]}, std::pair{ids[2], ids[0]}}) {
    v1::MergeUsersRequest merge;
    merge.set_user_id(into);
    merge.set_from_user_id(from);
    v1::User merged;
    grpc::Status status = stub().MergeUsers(Context::Context().get(), merge, &merged);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(merged.name(), absl::StrCat("Name ", into));  // the target keeps its own fields
    EXPECT_EQ(nlohmann::json::parse(merged.properties_json())["from"], into);
    EXPECT_THAT(Leftovers(from), ::testing::IsEmpty()) << from << " into " << into;
  }
  // ids[2] now holds everything of ids[0], ids[1] and its own.
  const std::string& survivor = ids[2];
  auto items = harness_->AllFeedItems(survivor);
  EXPECT_EQ(items.size(), 6u);  // 3 users x (3 items - 1 archived)
  int read = 0;
  for (const auto& item : items) read += item.read_at_ms() > 0;
  EXPECT_EQ(read, 3);
  v1::ListFeedRequest archived;
  archived.set_user_id(survivor);
  archived.set_status(v1::FEED_STATUS_FILTER_ARCHIVED);
  v1::ListFeedResponse page;
  ASSERT_TRUE(stub().ListFeed(Context::Context().get(), archived, &page).ok());
  EXPECT_EQ(page.items_size(), 3);
  EXPECT_EQ(page.metadata().unread_count(), 3);
  EXPECT_EQ(MessagesOf(survivor).size(), 12u);
  archived.set_tenant("acme");
  archived.clear_status();
  ASSERT_TRUE(stub().ListFeed(Context::Context().get(), archived, &page).ok());
  EXPECT_EQ(page.metadata().total_count() + 0, page.items_size());
  int in_acme = 0;
  for (const auto& item : items) in_acme += item.tenant() == "acme";
  EXPECT_EQ(page.items_size(), in_acme);
  v1::ChannelDataRequest channel;
  channel.set_user_id(survivor);
  channel.set_channel("apns");
  v1::ChannelData data;
  ASSERT_TRUE(stub().GetChannelData(Context::Context().get(), channel, &data).ok());
  EXPECT_EQ(nlohmann::json::parse(data.data_json())["tokens"],
            nlohmann::json({"token-" + ids[2], "token-" + ids[0], "token-" + ids[1]}));
  v1::ListSubscribersRequest list;
  list.mutable_object()->set_collection("projects");
  list.mutable_object()->set_id("p2");
  v1::ListSubscribersResponse subscribers;
  ASSERT_TRUE(stub().ListSubscribers(Context::Context().get(), list, &subscribers).ok());
  EXPECT_THAT(subscribers.user_ids(), ElementsAre(survivor));

  v1::MergeUsersRequest merge;
  merge.set_user_id(survivor);
  merge.set_from_user_id("ghost");
  v1::User merged;
  EXPECT_EQ(stub().MergeUsers(Context::Context().get(), merge, &merged).error_code(), grpc::StatusCode::NOT_FOUND);
  merge.set_from_user_id(survivor);
  grpc::Status status = stub().MergeUsers(Context::Context().get(), merge, &merged);
  EXPECT_THAT(status.error_message(), HasSubstr("from_user_id"));
}

}  // namespace
}  // namespace herald
