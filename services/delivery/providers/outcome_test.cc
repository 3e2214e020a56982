// The shared outcome mapping (HTTP and SMTP), Retry-After, multi-target
// results and scrubbing, as tables without any server.
#include "services/delivery/providers/outcome.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/delivery/providers/smtp_outcome.h"

namespace herald::delivery {
namespace {

using ::herald::delivery::v1::Outcome;
using ::herald::delivery::v1::OUTCOME_DELIVERED;
using ::herald::delivery::v1::OUTCOME_FAILED;
using ::herald::delivery::v1::OUTCOME_RETRY;
using ::testing::HasSubstr;

constexpr int64_t kNowMs = 1'700'000'000'000;  // 2023-11-14T22:13:20Z

HttpResponse Answer(long status, std::string body = "", std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.headers = std::move(headers);
  response.latency_us = 1234;
  return response;
}

HttpResponse Broken(TransportError error, std::string detail) {
  HttpResponse response;
  response.error = error;
  response.error_detail = std::move(detail);
  return response;
}

struct HttpCase {
  const char* name;
  HttpResponse response;
  Outcome outcome;
  const char* status;
  const char* provider_status;
  const char* reason;  // Substring; "" = reason must be empty.
  int64_t retry_after_ms;
};

class HttpOutcomeTest : public ::testing::TestWithParam<HttpCase> {};

TEST_P(HttpOutcomeTest, Maps) {
  const HttpCase& c = GetParam();
  Result result;
  MapHttpResponse(c.response, kNowMs, result);
  EXPECT_EQ(result.outcome(), c.outcome);
  EXPECT_EQ(result.status(), c.status);
  EXPECT_EQ(result.provider_status(), c.provider_status);
  if (std::string(c.reason).empty()) {
    EXPECT_EQ(result.reason(), "");
  } else {
    EXPECT_THAT(result.reason(), HasSubstr(c.reason));
  }
  EXPECT_EQ(result.retry_after_ms(), c.retry_after_ms);
}

INSTANTIATE_TEST_SUITE_P(
    Table, HttpOutcomeTest,
    ::testing::Values(
        HttpCase{"ok", Answer(200, "{}"), OUTCOME_DELIVERED, "sent", "http 200", "", 0},
        HttpCase{"created", Answer(201), OUTCOME_DELIVERED, "sent", "http 201", "", 0},
        HttpCase{"rate_limited_seconds", Answer(429, "slow down", {{"retry-after", "7"}}), OUTCOME_RETRY, "",
                 "http 429", "http 429: slow down", 7000},
        HttpCase{"rate_limited_date", Answer(429, "", {{"retry-after", "Tue, 14 Nov 2023 22:13:50 GMT"}}),
                 OUTCOME_RETRY, "", "http 429", "http 429", 30000},
        HttpCase{"rate_limited_past_date", Answer(429, "", {{"retry-after", "Tue, 14 Nov 2023 22:00:00 GMT"}}),
                 OUTCOME_RETRY, "", "http 429", "http 429", 0},
        HttpCase{"server_error", Answer(500, "boom"), OUTCOME_RETRY, "", "http 500", "http 500: boom", 0},
        HttpCase{"unavailable_retry_after", Answer(503, "", {{"retry-after", "120"}}), OUTCOME_RETRY, "",
                 "http 503", "http 503", 120000},
        HttpCase{"bad_request", Answer(400, "{\"error\":\n  \"invalid number\"}"), OUTCOME_FAILED, "undelivered",
                 "http 400", "http 400: {\"error\": \"invalid number\"}", 0},
        HttpCase{"not_found", Answer(404), OUTCOME_FAILED, "undelivered", "http 404", "http 404", 0},
        HttpCase{"redirect", Answer(302, "", {{"location", "http://elsewhere.test/"}}), OUTCOME_FAILED,
                 "undelivered", "http 302", "http 302", 0},
        HttpCase{"timeout", Broken(TransportError::kTimeout, "Operation timed out"), OUTCOME_RETRY, "", "timeout",
                 "timeout", 0},
        HttpCase{"refused", Broken(TransportError::kConnect, "Failed to connect to 127.0.0.1 port 1"), OUTCOME_RETRY,
                 "", "connect", "connect: Failed to connect", 0},
        HttpCase{"tls", Broken(TransportError::kTls, "SSL certificate problem"), OUTCOME_RETRY, "", "tls",
                 "tls: SSL certificate problem", 0},
        HttpCase{"invalid_url", Broken(TransportError::kInvalidUrl, "URL rejected"), OUTCOME_FAILED, "undelivered",
                 "invalid url", "invalid url", 0}),
    [](const ::testing::TestParamInfo<HttpCase>& info) { return info.param.name; });

TEST(HttpOutcomeTest, ProviderResponseIsBoundedValidUtf8) {
  std::string body(600, 'a');
  body[509] = '\xC3';  // A two-byte sequence cut by the bound...
  body[510] = '\xA9';
  body[100] = '\xFF';  // ...and a byte that is never UTF-8.
  Result result;
  MapHttpResponse(Answer(400, body), kNowMs, result);
  EXPECT_LE(result.provider_response().size(), kMaxProviderResponseBytes);
  EXPECT_EQ(result.provider_response()[100], '?');
  EXPECT_LE(result.reason().size(), kMaxReasonBodyBytes + 20);
  EXPECT_EQ(result.latency_us(), 1234);
}

TEST(RetryAfterTest, SecondsDatesAndGarbage) {
  EXPECT_EQ(RetryAfterMs("", kNowMs), 0);
  EXPECT_EQ(RetryAfterMs(" 3 ", kNowMs), 3000);
  EXPECT_EQ(RetryAfterMs("soon", kNowMs), 0);
  EXPECT_EQ(RetryAfterMs("-5", kNowMs), 0);
  EXPECT_EQ(RetryAfterMs("99999999999999999999999", kNowMs), 24 * 3600 * 1000LL);
  EXPECT_EQ(RetryAfterMs("Tuesday, 14-Nov-23 22:14:20 GMT", kNowMs), 60'000);  // RFC 850.
}

Result Target(Outcome outcome, std::string reason, int64_t retry_after_ms = 0, int64_t latency_us = 10) {
  Result result;
  result.set_outcome(outcome);
  result.set_status(outcome == OUTCOME_DELIVERED ? "sent" : outcome == OUTCOME_FAILED ? "undelivered" : "");
  result.set_reason(std::move(reason));
  result.set_retry_after_ms(retry_after_ms);
  result.set_latency_us(latency_us);
  result.set_provider_message_id(outcome == OUTCOME_DELIVERED ? "id-1" : "");
  return result;
}

TEST(CombineTargetResultsTest, AnyDeliveredWins) {
  Result combined = CombineTargetResults({Target(OUTCOME_FAILED, "http 410: Unregistered", 0, 50),
                                          Target(OUTCOME_DELIVERED, "", 0, 20)});
  EXPECT_EQ(combined.outcome(), OUTCOME_DELIVERED);
  EXPECT_EQ(combined.provider_message_id(), "id-1");
  EXPECT_EQ(combined.reason(), "delivered to 1 of 2 targets; target 1: http 410: Unregistered");
  EXPECT_EQ(combined.latency_us(), 50);
}

TEST(CombineTargetResultsTest, RetryBeforeFailedWithLongestWait) {
  Result combined = CombineTargetResults({Target(OUTCOME_FAILED, "http 400"), Target(OUTCOME_RETRY, "http 429", 1000),
                                          Target(OUTCOME_RETRY, "http 503", 5000)});
  EXPECT_EQ(combined.outcome(), OUTCOME_RETRY);
  EXPECT_EQ(combined.retry_after_ms(), 5000);
  EXPECT_EQ(combined.reason(), "2 of 3 targets to retry; target 3: http 503");
}

TEST(CombineTargetResultsTest, AllFailed) {
  Result combined = CombineTargetResults({Target(OUTCOME_FAILED, "http 410"), Target(OUTCOME_FAILED, "http 400")});
  EXPECT_EQ(combined.outcome(), OUTCOME_FAILED);
  EXPECT_EQ(combined.status(), "undelivered");
  EXPECT_EQ(combined.reason(), "all 2 targets failed; target 1: http 410");
  // One target: its result unchanged.
  EXPECT_EQ(CombineTargetResults({Target(OUTCOME_FAILED, "http 410")}).reason(), "http 410");
}

TEST(RedactSecretsTest, ScrubsEveryTextField) {
  Result result;
  result.set_reason("http 401: bad token xoxb-123");
  result.set_provider_response("{\"echo\": \"Bearer xoxb-123\"}");
  RedactSecrets({"", "xoxb-123"}, result);
  EXPECT_EQ(result.reason(), "http 401: bad token [redacted]");
  EXPECT_EQ(result.provider_response(), "{\"echo\": \"Bearer [redacted]\"}");
}

struct SmtpCase {
  const char* name;
  SmtpExchange exchange;
  Outcome outcome;
  const char* status;
  const char* provider_status;
  const char* reason;
};

class SmtpOutcomeTest : public ::testing::TestWithParam<SmtpCase> {};

TEST_P(SmtpOutcomeTest, Maps) {
  const SmtpCase& c = GetParam();
  Result result;
  MapSmtpExchange(c.exchange, result);
  EXPECT_EQ(result.outcome(), c.outcome);
  EXPECT_EQ(result.status(), c.status);
  EXPECT_EQ(result.provider_status(), c.provider_status);
  EXPECT_THAT(result.reason(), HasSubstr(c.reason));
}

INSTANTIATE_TEST_SUITE_P(
    Table, SmtpOutcomeTest,
    ::testing::Values(
        SmtpCase{"sent", {CURLE_OK, 250, "250 2.0.0 Ok: queued", "", 1}, OUTCOME_DELIVERED, "sent", "smtp 250", ""},
        SmtpCase{"user_unknown", {CURLE_SEND_ERROR, 550, "550 5.1.1 <x@y>: User unknown", "RCPT failed: 550", 1},
                 OUTCOME_FAILED, "bounced", "smtp 550", "smtp 550 5.1.1"},
        SmtpCase{"no_enhanced_code_at_rcpt", {CURLE_SEND_ERROR, 553, "553 mailbox name not allowed", "RCPT failed: 553", 1},
                 OUTCOME_FAILED, "bounced", "smtp 553", "smtp 553"},
        SmtpCase{"policy_reject", {CURLE_WEIRD_SERVER_REPLY, 554, "554 5.7.1 Message rejected", "", 1}, OUTCOME_FAILED,
                 "undelivered", "smtp 554", "smtp 554 5.7.1"},
        SmtpCase{"sender_rejected", {CURLE_SEND_ERROR, 550, "550 5.1.8 Bad sender", "MAIL failed: 550", 1},
                 OUTCOME_FAILED, "undelivered", "smtp 550", "5.1.8"},
        SmtpCase{"greylisted", {CURLE_SEND_ERROR, 451, "451 4.7.1 Try again later", "RCPT failed: 451", 1},
                 OUTCOME_RETRY, "", "smtp 451", "smtp 451 4.7.1"},
        SmtpCase{"auth_refused", {CURLE_LOGIN_DENIED, 535, "535 5.7.8 Authentication credentials invalid", "", 1},
                 OUTCOME_RETRY, "", "smtp 535", "smtp authentication refused"},
        SmtpCase{"timeout", {CURLE_OPERATION_TIMEDOUT, 0, "", "Operation timed out", 1}, OUTCOME_RETRY, "", "timeout",
                 "timeout"},
        SmtpCase{"refused", {CURLE_COULDNT_CONNECT, 0, "", "Failed to connect", 1}, OUTCOME_RETRY, "", "connect",
                 "connect"},
        SmtpCase{"starttls_missing", {CURLE_USE_SSL_FAILED, 250, "250 HELP", "STARTTLS not supported.", 1},
                 OUTCOME_RETRY, "", "tls", "tls"}),
    [](const ::testing::TestParamInfo<SmtpCase>& info) { return info.param.name; });

}  // namespace
}  // namespace herald::delivery
