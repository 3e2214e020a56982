// The SMTP provider against a real SMTP server (aiosmtpd) on loopback:
// plain, STARTTLS with a certificate generated for the test, AUTH; the
// message as a mail client parses it; bounces, temporary and permanent
// failures, and a refused connection.

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/delivery/providers/provider_set.h"
#include "services/delivery/providers/testing/test_servers.h"

namespace herald::delivery {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

ChannelConfig SmtpChannel(int port, std::map<std::string, std::string> options,
                          std::map<std::string, std::string> secrets = {}) {
  ChannelConfig channel;
  channel.name = "email";
  channel.type = "email";
  channel.provider = "smtp";
  channel.options = {{"host", "127.0.0.1"},
                     {"port", std::to_string(port)},
                     {"tls", "none"},
                     {"from", "Acme <no-reply@acme.test>"},
                     {"message_id_domain", "mail.acme.test"}};
  for (auto& [key, value] : options) channel.options[key] = value;
  channel.secrets = std::move(secrets);
  channel.timeout_ms = 10'000;
  return channel;
}

Delivery Email(const std::string& id, const std::string& to) {
  Delivery message;
  message.set_message_id(id);
  message.set_channel_type("email");
  auto* email = message.mutable_content()->mutable_email();
  email->set_to(to);
  email->set_subject("Résumé reçu ✓");
  email->set_text("Hello Zoë,\nyour file arrived.");
  email->set_html("<p>Hello Zoë,<br>your file <b>arrived</b>.</p>");
  return message;
}

std::vector<Result> Send(Provider& provider, const std::vector<Delivery>& messages) {
  std::vector<Result> results(messages.size());
  std::vector<const Delivery*> in;
  std::vector<Result*> out;
  for (size_t i = 0; i < messages.size(); ++i) {
    results[i].set_message_id(messages[i].message_id());
    in.push_back(&messages[i]);
    out.push_back(&results[i]);
  }
  provider.Deliver(in, out);
  return results;
}

std::unique_ptr<Provider> Make(const ChannelConfig& channel) {
  auto provider = MakeProvider(channel, SystemClock::Get());
  EXPECT_TRUE(provider.ok()) << provider.status();
  return provider.ok() ? std::move(*provider) : nullptr;
}

TEST(SmtpTest, PlainDeliveryAsAMailClientReadsIt) {
  auto server = testing::SmtpTestServer::Start({});
  ASSERT_TRUE(server.ok()) << server.status();
  auto provider = Make(SmtpChannel((*server)->port(), {{"reply_to", "Support <help@acme.test>"}}));
  Delivery overridden = Email("msg_2", "bob@example.test");
  overridden.mutable_content()->mutable_email()->set_from("Billing <billing@acme.test>");
  overridden.mutable_content()->mutable_email()->set_reply_to("desk@acme.test");
  std::vector<Result> results =
      Send(*provider, {Email("msg_1", "Zoë Ünal <zoe@example.test>"), overridden, Email("msg_3", "carol@example.test")});
  for (const Result& result : results) {
    EXPECT_EQ(result.outcome(), v1::OUTCOME_DELIVERED) << result.reason();
    EXPECT_EQ(result.status(), "sent");
    EXPECT_EQ(result.provider_status(), "smtp 250");
    EXPECT_THAT(result.provider_response(), HasSubstr("queued as"));
  }
  std::vector<Json> messages = (*server)->Messages();
  ASSERT_EQ(messages.size(), 3u);
  // Concurrent transactions: find each message by its recipient.
  std::map<std::string, Json> by_recipient;
  for (const Json& message : messages) by_recipient[message["rcpt_tos"][0].get<std::string>()] = message;
  const Json& zoe = by_recipient.at("zoe@example.test");
  EXPECT_EQ(zoe["mail_from"], "no-reply@acme.test");
  const Json& headers = zoe["parsed"]["headers"];
  EXPECT_EQ(headers["From"], "Acme <no-reply@acme.test>");
  EXPECT_EQ(headers["To"], "Zoë Ünal <zoe@example.test>");
  EXPECT_EQ(headers["Subject"], "Résumé reçu ✓");
  EXPECT_EQ(headers["Message-ID"], "<msg_1@mail.acme.test>");
  EXPECT_EQ(headers["Reply-To"], "Support <help@acme.test>");
  EXPECT_EQ(headers["MIME-Version"], "1.0");
  EXPECT_TRUE(headers.contains("Date"));
  EXPECT_EQ(zoe["parsed"]["content_type"], "multipart/alternative");
  EXPECT_EQ(zoe["parsed"]["parts"]["text/plain"], "Hello Zoë,\nyour file arrived.");
  EXPECT_EQ(zoe["parsed"]["parts"]["text/html"], "<p>Hello Zoë,<br>your file <b>arrived</b>.</p>");
  EXPECT_EQ(zoe["parsed"]["defects"], 0);
  EXPECT_FALSE(zoe["tls"].get<bool>());

  const Json& bob = by_recipient.at("bob@example.test");
  EXPECT_EQ(bob["mail_from"], "billing@acme.test");
  EXPECT_EQ(bob["parsed"]["headers"]["From"], "Billing <billing@acme.test>");
  EXPECT_EQ(bob["parsed"]["headers"]["Reply-To"], "desk@acme.test");
}

TEST(SmtpTest, BouncesTemporaryAndPermanentFailures) {
  auto server = testing::SmtpTestServer::Start({});
  ASSERT_TRUE(server.ok()) << server.status();
  auto provider = Make(SmtpChannel((*server)->port(), {}));
  std::vector<Result> results =
      Send(*provider, {Email("b1", "unknown-user@example.test"), Email("b2", "tempfail@example.test"),
                       Email("b3", "reject@example.test"), Email("b4", "fine@example.test"),
                       Email("b5", "not-an-address")});
  EXPECT_EQ(results[0].outcome(), v1::OUTCOME_FAILED);
  EXPECT_EQ(results[0].status(), "bounced");
  EXPECT_EQ(results[0].provider_status(), "smtp 550");
  EXPECT_THAT(results[0].reason(), HasSubstr("smtp 550 5.1.1"));
  EXPECT_EQ(results[1].outcome(), v1::OUTCOME_RETRY);
  EXPECT_EQ(results[1].provider_status(), "smtp 451");
  EXPECT_EQ(results[2].outcome(), v1::OUTCOME_FAILED);
  EXPECT_EQ(results[2].status(), "undelivered");
  EXPECT_THAT(results[2].reason(), HasSubstr("554 5.7.1"));
  EXPECT_EQ(results[3].outcome(), v1::OUTCOME_DELIVERED) << results[3].reason();
  EXPECT_EQ(results[4].outcome(), v1::OUTCOME_FAILED);
  EXPECT_EQ(results[4].reason(), "to: not an email address");
  EXPECT_EQ((*server)->Messages().size(), 1u);
}

class SmtpTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir();
    auto cert = testing::MakeTestCertificate(dir_);
    ASSERT_TRUE(cert.ok()) << cert.status();
    cert_ = *cert;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string dir_;
  testing::TestCertificate cert_;
};

TEST_F(SmtpTlsTest, StartTlsWithTheTestCertificate) {
  auto server = testing::SmtpTestServer::Start({cert_.cert_file, cert_.key_file, /*require_starttls=*/true, ""});
  ASSERT_TRUE(server.ok()) << server.status();
  auto trusted = Make(SmtpChannel((*server)->port(), {{"tls", "starttls"}, {"ca_file", cert_.cert_file}}));
  Result sent = Send(*trusted, {Email("t1", "zoe@example.test")})[0];
  EXPECT_EQ(sent.outcome(), v1::OUTCOME_DELIVERED) << sent.reason();
  ASSERT_EQ((*server)->Messages().size(), 1u);
  EXPECT_TRUE((*server)->Messages()[0]["tls"].get<bool>());

  // Verification is on by default: the system CAs do not know this cert.
  auto untrusted = Make(SmtpChannel((*server)->port(), {{"tls", "starttls"}}));
  Result refused = Send(*untrusted, {Email("t2", "zoe@example.test")})[0];
  EXPECT_EQ(refused.outcome(), v1::OUTCOME_RETRY);
  EXPECT_EQ(refused.provider_status(), "tls");
  EXPECT_EQ((*server)->Messages().size(), 1u);
}

TEST_F(SmtpTlsTest, AuthOverStartTls) {
  auto server =
      testing::SmtpTestServer::Start({cert_.cert_file, cert_.key_file, /*require_starttls=*/true, "herald:pa55word"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto good = Make(SmtpChannel((*server)->port(),
                               {{"tls", "starttls"}, {"ca_file", cert_.cert_file}, {"username", "herald"}},
                               {{"password", "pa55word"}}));
  Result sent = Send(*good, {Email("a1", "zoe@example.test")})[0];
  EXPECT_EQ(sent.outcome(), v1::OUTCOME_DELIVERED) << sent.reason();
  ASSERT_EQ((*server)->Messages().size(), 1u);
  EXPECT_EQ((*server)->Messages()[0]["login"], "herald");

  auto bad = Make(SmtpChannel((*server)->port(),
                              {{"tls", "starttls"}, {"ca_file", cert_.cert_file}, {"username", "herald"}},
                              {{"password", "wrong-password"}}));
  Result refused = Send(*bad, {Email("a2", "zoe@example.test")})[0];
  EXPECT_EQ(refused.outcome(), v1::OUTCOME_RETRY);
  EXPECT_THAT(refused.reason(), HasSubstr("smtp authentication refused"));
  EXPECT_THAT(refused.DebugString(), Not(HasSubstr("wrong-password")));

  // Without credentials the server refuses the mail itself.
  auto anonymous = Make(SmtpChannel((*server)->port(), {{"tls", "starttls"}, {"ca_file", cert_.cert_file}}));
  Result anonymous_result = Send(*anonymous, {Email("a3", "zoe@example.test")})[0];
  EXPECT_NE(anonymous_result.outcome(), v1::OUTCOME_DELIVERED);
  EXPECT_EQ((*server)->Messages().size(), 1u);
}

TEST(SmtpTest, RefusedConnectionIsRetry) {
  const int port = testing::ClosedLoopbackPort();
  ASSERT_NE(port, 0);
  auto provider = Make(SmtpChannel(port, {}));
  Result result = Send(*provider, {Email("r1", "zoe@example.test")})[0];
  EXPECT_EQ(result.outcome(), v1::OUTCOME_RETRY);
  EXPECT_EQ(result.provider_status(), "connect");
}

}  // namespace
}  // namespace herald::delivery
