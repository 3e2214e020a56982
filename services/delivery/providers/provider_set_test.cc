// ProviderSet routing with fake providers, and MakeProviderSet's errors.
#include "services/delivery/providers/provider_set.h"

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald::delivery {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Marks every message delivered with its channel's name as provider id,
// and remembers what it was given.
class RecordingProvider final : public Provider {
 public:
  explicit RecordingProvider(std::string name) : name_(std::move(name)) {}
  void Deliver(absl::Span<const Delivery* const> deliveries, absl::Span<Result* const> results) override {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < deliveries.size(); ++i) {
      seen_.push_back(deliveries[i]->message_id());
      results[i]->set_outcome(v1::OUTCOME_DELIVERED);
      results[i]->set_status("sent");
      results[i]->set_provider_message_id(name_);
    }
  }
  std::vector<std::string> seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

 private:
  const std::string name_;
  absl::Mutex mu_;
  std::vector<std::string> seen_ ABSL_GUARDED_BY(mu_);
};

ProviderSet::Channel Served(std::string name, std::string type, RecordingProvider** out) {
  ProviderSet::Channel channel;
  channel.config.name = name;
  channel.config.type = type;
  auto provider = std::make_unique<RecordingProvider>(name);
  *out = provider.get();
  channel.provider = std::move(provider);
  return channel;
}

Delivery Message(std::string id, std::string type, std::string channel) {
  Delivery delivery;
  delivery.set_message_id(std::move(id));
  delivery.set_channel_type(type);
  delivery.set_channel(std::move(channel));
  auto* content = delivery.mutable_content();
  if (type == "email") content->mutable_email()->set_to("a@b.test");
  if (type == "sms") content->mutable_sms()->set_to("+1");
  if (type == "push") content->mutable_push();
  return delivery;
}

TEST(ProviderSetTest, RoutesByChannelThenTypeInInputOrder) {
  RecordingProvider *transactional, *marketing, *sms;
  std::vector<ProviderSet::Channel> served;
  served.push_back(Served("transactional", "email", &transactional));
  served.push_back(Served("marketing", "email", &marketing));
  served.push_back(Served("sms", "sms", &sms));
  ProviderSet set(std::move(served), {{"push", "delivery-push:9000"}});

  std::vector<Delivery> batch = {
      Message("m1", "email", "marketing"),  // By name.
      Message("m2", "sms", "sms"),
      Message("m3", "email", "newsletter"),  // Unknown name: first email channel.
      Message("m4", "push", "push"),         // Configured, delivered elsewhere.
      Message("m5", "chat", "slack"),        // Nothing for chat.
      Message("m6", "email", "sms"),         // A name of another type: fallback by type.
  };
  Delivery mismatched = Message("m7", "email", "transactional");
  mismatched.mutable_content()->mutable_sms();  // SMS content for an email channel.
  batch.push_back(mismatched);

  std::vector<Result> results = set.Deliver(batch);
  ASSERT_EQ(results.size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) EXPECT_EQ(results[i].message_id(), batch[i].message_id());
  EXPECT_EQ(results[0].provider_message_id(), "marketing");
  EXPECT_EQ(results[1].provider_message_id(), "sms");
  EXPECT_EQ(results[2].provider_message_id(), "transactional");
  EXPECT_EQ(results[3].outcome(), v1::OUTCOME_FAILED);
  EXPECT_EQ(results[3].reason(), "channel push is delivered by delivery-push:9000, not this process");
  EXPECT_EQ(results[4].outcome(), v1::OUTCOME_FAILED);
  EXPECT_EQ(results[4].status(), "undelivered");
  EXPECT_EQ(results[4].reason(), "no channel configured for chat");
  EXPECT_EQ(results[5].provider_message_id(), "transactional");
  EXPECT_EQ(results[6].outcome(), v1::OUTCOME_FAILED);
  EXPECT_EQ(results[6].reason(), "sms content for channel transactional (email)");
  EXPECT_THAT(transactional->seen(), ElementsAre("m3", "m6"));
  EXPECT_THAT(marketing->seen(), ElementsAre("m1"));
  EXPECT_THAT(sms->seen(), ElementsAre("m2"));
  EXPECT_TRUE(set.Deliver({}).empty());
}

DeliveryConfig Config(const std::string& yaml, std::map<std::string, std::string> env = {}) {
  auto config = ParseDeliveryConfig(yaml, env);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : DeliveryConfig{};
}

TEST(MakeProviderSetTest, ProviderOptionErrorsNameTheField) {
  struct Case {
    std::string yaml;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {"channels:\n  email: {provider: smtp}", "channels.email.options.host: required by provider smtp"},
           {"channels:\n  email: {provider: smtp, options: {host: h, port: 70000}}",
            "channels.email.options.port: must be an integer from 1 to 65535"},
           {"channels:\n  email: {provider: smtp, options: {host: h, tls: ssl}}",
            "channels.email.options.tls: must be one of none, starttls, implicit"},
           {"channels:\n  email: {provider: smtp, options: {host: h, username: u}}",
            "channels.email.secrets.password: required by provider smtp"},
           {"channels:\n  email: {provider: smtp, options: {host: h, from: nobody}}",
            "channels.email.options.from: not an email address"},
           {"channels:\n  sms: {provider: twilio, options: {from: '+1'}}",
            "channels.sms.options.account_sid: required by provider twilio"},
           {"channels:\n  push: {provider: fcm, options: {project_id: p}}",
            "channels.push.secrets.access_token: required by provider fcm"},
           {"channels:\n  ios: {provider: apns, options: {topic: t, http2_prior_knowledge: maybe}}",
            "channels.ios.options.http2_prior_knowledge: must be true or false"},
           {"channels:\n  chat: {provider: slack_api, options: {base_url: 'slack.com'}}",
            "channels.chat.options.base_url: must be an http:// or https:// URL"},
           {"channels:\n  hooks: {provider: webhook, options: {insecure_skip_verify: yes}}",
            "channels.hooks.options.insecure_skip_verify: must be true or false"},
       }) {
    auto set = MakeProviderSet(Config(c.yaml), {});
    ASSERT_FALSE(set.ok()) << c.yaml;
    EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(set.status().message()), HasSubstr(c.error)) << c.yaml;
  }
}

TEST(MakeProviderSetTest, OnlyChannelsAndRemoteServices) {
  const DeliveryConfig config = Config(R"(
channels:
  hooks: {provider: webhook}
  sms:
    provider: twilio
    options: {account_sid: AC1, from: '+1'}
    secrets: {auth_token: {env: TOKEN}}
    service: delivery-sms:9000
)",
                                       {{"TOKEN", "t"}});
  auto unknown = MakeProviderSet(config, {"email"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(), "channel email is not configured");

  // Default: in-process channels only; sms belongs to its service.
  auto local = MakeProviderSet(config, {});
  ASSERT_TRUE(local.ok()) << local.status();
  Delivery sms = Message("m1", "sms", "sms");
  EXPECT_EQ((*local)->Deliver({sms})[0].reason(), "channel sms is delivered by delivery-sms:9000, not this process");
  // The sms service's own process serves it.
  auto remote = MakeProviderSet(config, {"sms"});
  ASSERT_TRUE(remote.ok()) << remote.status();
  Delivery hook = Message("m2", "webhook", "hooks");
  hook.mutable_content()->mutable_webhook();
  EXPECT_THAT((*remote)->Deliver({hook})[0].reason(), HasSubstr("delivered by another process"));
}

}  // namespace
}  // namespace herald::delivery

namespace herald::delivery {
namespace {

// A channel whose secret this process cannot read fails where it is served,
// naming the field; a process serving only other channels starts.
TEST(MakeProviderSetTest, AnUnreadableSecretFailsOnlyTheChannelThatNeedsIt) {
  auto config = ParseDeliveryConfig(R"(
channels:
  email: {provider: smtp, options: {host: 127.0.0.1}, secrets: {password: {env: HERALD_TEST_UNSET}}}
  hooks: {provider: webhook, options: {url: "http://127.0.0.1:9/hook"}}
)", {});
  ASSERT_TRUE(config.ok()) << config.status();
  auto everything = MakeProviderSet(*config, {});
  ASSERT_FALSE(everything.ok());
  EXPECT_EQ(everything.status().message(),
            "channels.email.secrets.password: environment variable HERALD_TEST_UNSET is not set");
  EXPECT_TRUE(MakeProviderSet(*config, {"hooks"}).ok());
}

}  // namespace
}  // namespace herald::delivery
