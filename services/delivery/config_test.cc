// ParseDeliveryConfig: a full configuration, environment overrides, secrets,
// and one bad input per field, each error naming its field.
#include "services/delivery/config.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald::delivery {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kFull = R"(
channels:
  email:
    type: email
    provider: smtp
    options: {host: 127.0.0.1, port: 2525, tls: starttls, from: "Acme <no-reply@acme.test>"}
    secrets: {password: {env: HERALD_SMTP_PASSWORD}}
    retry: {max_attempts: 3, initial_backoff_ms: 1000, max_backoff_ms: 60000}
    rate_limit: {per_second: 100, burst: 200.5}
    concurrency: 4
    timeout_ms: 2500
    circuit: {failures: 7, open_ms: 1000}
  sms-eu:
    provider: twilio
    options: {account_sid: AC123, from: "+15550001111"}
    service: delivery-sms:9000
  alerts:
    type: webhook
    provider: webhook
)";

absl::StatusOr<DeliveryConfig> Parse(const std::string& yaml, std::map<std::string, std::string> env = {}) {
  return ParseDeliveryConfig(yaml, env);
}

TEST(DeliveryConfigTest, ParsesEveryField) {
  auto config = Parse(kFull, {{"HERALD_SMTP_PASSWORD", "s3cret"}});
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->channels.size(), 3u);
  const ChannelConfig& email = config->channels.at("email");
  EXPECT_EQ(email.name, "email");
  EXPECT_EQ(email.type, "email");
  EXPECT_EQ(email.provider, "smtp");
  EXPECT_EQ(email.options.at("host"), "127.0.0.1");
  EXPECT_EQ(email.options.at("port"), "2525");
  EXPECT_EQ(email.options.at("from"), "Acme <no-reply@acme.test>");
  EXPECT_EQ(email.secrets.at("password"), "s3cret");
  EXPECT_EQ(email.retry.max_attempts, 3);
  EXPECT_EQ(email.retry.initial_backoff_ms, 1000);
  EXPECT_EQ(email.retry.max_backoff_ms, 60000);
  EXPECT_DOUBLE_EQ(email.rate_limit.per_second, 100);
  EXPECT_DOUBLE_EQ(email.rate_limit.burst, 200.5);
  EXPECT_EQ(email.concurrency, 4);
  EXPECT_EQ(email.timeout_ms, 2500);
  EXPECT_EQ(email.circuit.failures, 7);
  EXPECT_EQ(email.circuit.open_ms, 1000);
  // The type follows from the provider when not stated.
  EXPECT_EQ(config->channels.at("sms-eu").type, "sms");
  EXPECT_EQ(config->channels.at("sms-eu").service, "delivery-sms:9000");
  // Defaults.
  const ChannelConfig& alerts = config->channels.at("alerts");
  EXPECT_EQ(alerts.concurrency, 32);
  EXPECT_EQ(alerts.timeout_ms, 10'000);
  EXPECT_EQ(alerts.retry.max_attempts, 8);
  EXPECT_EQ(config->channel_order, (std::vector<std::string>{"email", "sms-eu", "alerts"}));
}

TEST(DeliveryConfigTest, EmptyInputHasNoChannels) {
  for (const char* yaml : {"", "channels:", "# nothing\n"}) {
    auto config = Parse(yaml);
    ASSERT_TRUE(config.ok()) << yaml << ": " << config.status();
    EXPECT_TRUE(config->channels.empty());
  }
}

TEST(DeliveryConfigTest, EnvironmentOverridesOptionsAndFields) {
  auto config = Parse(kFull, {{"HERALD_SMTP_PASSWORD", "x"},
                              {"HERALD_CHANNEL_EMAIL_HOST", "smtp.internal"},
                              {"HERALD_CHANNEL_EMAIL_CONCURRENCY", "9"},
                              {"HERALD_CHANNEL_EMAIL_TIMEOUT_MS", "700"},
                              {"HERALD_CHANNEL_EMAIL_SECRET_PASSWORD", "from-env"},
                              {"HERALD_CHANNEL_SMS_EU_FROM", "+15559990000"},
                              {"HERALD_CHANNEL_OTHER_HOST", "ignored"}});
  ASSERT_TRUE(config.ok()) << config.status();
  const ChannelConfig& email = config->channels.at("email");
  EXPECT_EQ(email.options.at("host"), "smtp.internal");
  EXPECT_EQ(email.options.at("port"), "2525");
  EXPECT_EQ(email.concurrency, 9);
  EXPECT_EQ(email.timeout_ms, 700);
  EXPECT_EQ(email.secrets.at("password"), "from-env");
  // '-' in a channel name is '_' in the variable.
  EXPECT_EQ(config->channels.at("sms-eu").options.at("from"), "+15559990000");
  EXPECT_EQ(config->channels.count("other"), 0u);
}

TEST(DeliveryConfigTest, LongestChannelNameWinsInTheEnvironment) {
  auto config = Parse(R"(
channels:
  email: {provider: smtp}
  email_eu: {provider: smtp}
)",
                      {{"HERALD_CHANNEL_EMAIL_EU_HOST", "eu.smtp"}, {"HERALD_CHANNEL_EMAIL_HOST", "smtp"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->channels.at("email_eu").options.at("host"), "eu.smtp");
  EXPECT_EQ(config->channels.at("email").options.at("host"), "smtp");
  EXPECT_EQ(config->channels.at("email").options.count("eu_host"), 0u);
}

TEST(DeliveryConfigTest, EnvironmentAloneDeclaresAChannel) {
  auto config = Parse("", {{"HERALD_CHANNEL_PUSH_PROVIDER", "fcm"},
                           {"HERALD_CHANNEL_PUSH_PROJECT_ID", "acme"},
                           {"HERALD_CHANNEL_PUSH_SECRET_ACCESS_TOKEN", "tok"}});
  ASSERT_TRUE(config.ok()) << config.status();
  const ChannelConfig& push = config->channels.at("push");
  EXPECT_EQ(push.type, "push");
  EXPECT_EQ(push.provider, "fcm");
  EXPECT_EQ(push.options.at("project_id"), "acme");
  EXPECT_EQ(push.secrets.at("access_token"), "tok");
}

TEST(DeliveryConfigTest, SecretFromFileLosesOneTrailingNewline) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("herald-secret-" + std::to_string(::getpid()))).string();
  {
    std::ofstream out(path);
    out << "line-one\nline-two\n\n";
  }
  auto config = Parse("channels:\n  hooks:\n    provider: webhook\n    secrets: {signing_secret: {file: " + path + "}}\n");
  std::filesystem::remove(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->channels.at("hooks").secrets.at("signing_secret"), "line-one\nline-two\n");
}

struct BadInput {
  const char* yaml;
  const char* error;  // A substring of the expected error: the field path and why.
};

class DeliveryConfigErrorTest : public ::testing::TestWithParam<BadInput> {};

TEST_P(DeliveryConfigErrorTest, NamesTheField) {
  auto config = Parse(GetParam().yaml, {{"SET_VAR", "hunter2"}});
  ASSERT_FALSE(config.ok()) << GetParam().yaml;
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(GetParam().error));
  EXPECT_THAT(std::string(config.status().message()), Not(HasSubstr("hunter2")));
}

INSTANTIATE_TEST_SUITE_P(
    BadInputs, DeliveryConfigErrorTest,
    ::testing::Values(
        BadInput{"channels: [a, b", "delivery config: line"},
        BadInput{"channels: [email]", "channels: must be a mapping"},
        BadInput{"chanels: {}", "chanels: unknown field"},
        BadInput{"channels:\n  Email: {provider: smtp}", "channels.Email: channel names are lower-case"},
        BadInput{"channels:\n  email: {provider: smtp, colour: red}", "channels.email.colour: unknown field"},
        BadInput{"channels:\n  email: {type: email}", "channels.email.provider: required"},
        BadInput{"channels:\n  email: {provider: sendmail}", "channels.email.provider: unknown provider \"sendmail\""},
        BadInput{"channels:\n  email: {provider: [smtp]}", "channels.email.provider: must be a string"},
        BadInput{"channels:\n  email: {type: fax, provider: smtp}", "channels.email.type: unknown channel type \"fax\""},
        BadInput{"channels:\n  email: {type: sms, provider: smtp}", "channels.email.provider: provider smtp delivers email, not sms"},
        BadInput{"channels:\n  email: {provider: smtp, options: [a]}", "channels.email.options: must be a mapping"},
        BadInput{"channels:\n  email: {provider: smtp, options: {host: {a: 1}}}",
                 "channels.email.options.host: must be a string, number or boolean"},
        BadInput{"channels:\n  email: {provider: smtp, concurrency: many}", "channels.email.concurrency: must be an integer"},
        BadInput{"channels:\n  email: {provider: smtp, concurrency: 0}", "channels.email.concurrency: must be at least 1"},
        BadInput{"channels:\n  email: {provider: smtp, timeout_ms: -5}", "channels.email.timeout_ms: must be at least 1"},
        BadInput{"channels:\n  email: {provider: smtp, timeout_ms: 1.5}", "channels.email.timeout_ms: must be an integer"},
        BadInput{"channels:\n  email: {provider: smtp, service: {a: b}}", "channels.email.service: must be a string"},
        BadInput{"channels:\n  email: {provider: smtp, retry: 3}", "channels.email.retry: must be a mapping"},
        BadInput{"channels:\n  email: {provider: smtp, retry: {max_attempts: 0}}",
                 "channels.email.retry.max_attempts: must be at least 1"},
        BadInput{"channels:\n  email: {provider: smtp, retry: {initial_backoff_ms: -1}}",
                 "channels.email.retry.initial_backoff_ms: must be at least 0"},
        BadInput{"channels:\n  email: {provider: smtp, retry: {max_backoff_ms: -1}}",
                 "channels.email.retry.max_backoff_ms: must be at least 0"},
        BadInput{"channels:\n  email: {provider: smtp, retry: {initial_backoff_ms: 10, max_backoff_ms: 5}}",
                 "channels.email.retry.max_backoff_ms: must not be less than initial_backoff_ms"},
        BadInput{"channels:\n  email: {provider: smtp, retry: {attempts: 3}}", "channels.email.retry.attempts: unknown field"},
        BadInput{"channels:\n  email: {provider: smtp, rate_limit: {per_second: -1}}",
                 "channels.email.rate_limit.per_second: must not be negative"},
        BadInput{"channels:\n  email: {provider: smtp, rate_limit: {burst: lots}}",
                 "channels.email.rate_limit.burst: must be a number"},
        BadInput{"channels:\n  email: {provider: smtp, rate_limit: {rps: 1}}", "channels.email.rate_limit.rps: unknown field"},
        BadInput{"channels:\n  email: {provider: smtp, circuit: {failures: -1}}",
                 "channels.email.circuit.failures: must be at least 0"},
        BadInput{"channels:\n  email: {provider: smtp, circuit: {open_ms: x}}",
                 "channels.email.circuit.open_ms: must be an integer"},
        BadInput{"channels:\n  email: {provider: smtp, circuit: {half_open: 1}}",
                 "channels.email.circuit.half_open: unknown field"},
        // A literal value in the file is refused, and not echoed back.
        BadInput{"channels:\n  email: {provider: smtp, secrets: {password: hunter2}}",
                 "channels.email.secrets.password: must be {env: VARIABLE} or {file: PATH}"},
        BadInput{"channels:\n  email: {provider: smtp, secrets: {password: {vault: x}}}",
                 "channels.email.secrets.password: must be {env: VARIABLE} or {file: PATH}"},
        BadInput{"channels:\n  email: {provider: smtp, secrets: {password: {file: ''}}}",
                 "channels.email.secrets.password: must be {env: VARIABLE} or {file: PATH}"}));

// A secret this process cannot read is the error of the process that serves
// the channel, not of every process that reads the file (a dispatcher that
// reaches the channel over gRPC does not have its password).
TEST(DeliveryConfigTest, UnavailableSecretsAreKeptAsTheChannelsErrorNamingTheField) {
  auto config = Parse(
      "channels:\n  email: {provider: smtp, secrets: {password: {env: UNSET_VAR}, token: {file: /nonexistent/herald/secret}}}");
  ASSERT_TRUE(config.ok()) << config.status();
  const ChannelConfig& email = config->channels.at("email");
  EXPECT_TRUE(email.secrets.empty());
  EXPECT_EQ(email.unresolved_secrets.at("password"),
            "channels.email.secrets.password: environment variable UNSET_VAR is not set");
  EXPECT_EQ(email.unresolved_secrets.at("token"),
            "channels.email.secrets.token: cannot read file /nonexistent/herald/secret: No such file or directory");
}

TEST(DeliveryConfigTest, BadEnvironmentNumberNamesTheVariable) {
  auto config = Parse("channels:\n  email: {provider: smtp}", {{"HERALD_CHANNEL_EMAIL_CONCURRENCY", "-3"}});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("HERALD_CHANNEL_EMAIL_CONCURRENCY: must be a positive integer"));
}

TEST(DeliveryConfigTest, SecretValuesNeverAppearInErrors) {
  // The secret resolves, a later field fails: the error carries no value.
  auto config = Parse("channels:\n  email: {provider: smtp, secrets: {password: {env: SET_VAR}}, concurrency: -1}",
                      {{"SET_VAR", "hunter2"}});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()), Not(HasSubstr("hunter2")));
}

TEST(DeliveryConfigTest, FindByNameThenFirstOfType) {
  auto config = Parse(R"(
channels:
  transactional: {provider: smtp}
  marketing: {provider: smtp}
  sms: {provider: twilio}
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->Find("marketing", "email")->name, "marketing");
  // Not configured: the first email channel in the file's order (not the
  // alphabetical "marketing").
  EXPECT_EQ(config->Find("newsletter", "email")->name, "transactional");
  // A name of another type does not capture the message.
  EXPECT_EQ(config->Find("sms", "email")->name, "transactional");
  EXPECT_EQ(config->Find("sms", "")->name, "sms");
  EXPECT_EQ(config->Find("push", "push"), nullptr);
}

TEST(DeliveryConfigTest, EventWebhookFromTheFileIsAWebhookWithItsOwnPolicy) {
  auto config = ParseDeliveryConfig(R"(
event_webhook:
  options: {url: "https://hooks.acme.test/herald"}
  secrets: {signing_secret: {env: HOOK_SECRET}}
  retry: {max_attempts: 3}
)",
                                    {{"HOOK_SECRET", "s3cret"}});
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(config->event_webhook.has_value());
  EXPECT_EQ(config->event_webhook->provider, "webhook");
  EXPECT_EQ(config->event_webhook->type, "webhook");
  EXPECT_EQ(config->event_webhook->options.at("url"), "https://hooks.acme.test/herald");
  EXPECT_EQ(config->event_webhook->secrets.at("signing_secret"), "s3cret");
  EXPECT_EQ(config->event_webhook->retry.max_attempts, 3);
  EXPECT_TRUE(config->channels.empty());  // not a channel steps could route to
}

TEST(DeliveryConfigTest, EventWebhookFromTheEnvironmentAlone) {
  auto config = ParseDeliveryConfig("", {{"HERALD_EVENT_WEBHOOK_URL", "http://127.0.0.1:9/events"},
                                         {"HERALD_EVENT_WEBHOOK_SECRET", "k"}});
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(config->event_webhook.has_value());
  EXPECT_EQ(config->event_webhook->options.at("url"), "http://127.0.0.1:9/events");
  EXPECT_EQ(config->event_webhook->secrets.at("signing_secret"), "k");
  EXPECT_FALSE(ParseDeliveryConfig("", {})->event_webhook.has_value());
}

TEST(DeliveryConfigTest, EventWebhookErrorsNameTheField) {
  auto no_url = ParseDeliveryConfig("event_webhook: {retry: {max_attempts: 2}}", {});
  EXPECT_THAT(no_url.status().message(), HasSubstr("event_webhook.options.url: required"));
  auto provider = ParseDeliveryConfig("event_webhook: {provider: smtp, options: {url: http://x}}", {});
  EXPECT_THAT(provider.status().message(), HasSubstr("event_webhook.provider: must be webhook"));
  auto retry = ParseDeliveryConfig("event_webhook: {options: {url: http://x}, retry: {max_attempts: 0}}", {});
  EXPECT_THAT(retry.status().message(), HasSubstr("event_webhook.retry.max_attempts"));
}

TEST(DeliveryConfigTest, LoadReadsTheFileAndTheProcessEnvironment) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("herald-delivery-" + std::to_string(::getpid()) + ".yaml")).string();
  {
    std::ofstream out(path);
    out << "channels:\n  hooks: {provider: webhook, options: {url: 'http://a.test/'}}\n";
  }
  ::setenv("HERALD_CHANNEL_HOOKS_URL", "http://b.test/", 1);
  auto config = LoadDeliveryConfig(path);
  ::unsetenv("HERALD_CHANNEL_HOOKS_URL");
  std::filesystem::remove(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->channels.at("hooks").options.at("url"), "http://b.test/");

  auto missing = LoadDeliveryConfig("/nonexistent/herald.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("/nonexistent/herald.yaml"));
}

}  // namespace
}  // namespace herald::delivery
