// Email assembly: headers, RFC 2047, MIME parts, overrides, bad addresses.
#include "services/delivery/providers/email_message.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald::delivery {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);  // Tue, 14 Nov 2023 22:13:20 UTC

Delivery Email(const std::string& to, const std::string& subject, const std::string& text, const std::string& html) {
  Delivery delivery;
  delivery.set_message_id("msg_01");
  auto* email = delivery.mutable_content()->mutable_email();
  email->set_to(to);
  email->set_subject(subject);
  email->set_text(text);
  email->set_html(html);
  return delivery;
}

EmailDefaults Defaults() {
  EmailDefaults defaults;
  defaults.from = "Acme <no-reply@acme.test>";
  defaults.reply_to = "support@acme.test";
  defaults.message_id_domain = "mail.acme.test";
  return defaults;
}

// The decoded body of the MIME part with `content_type`.
std::string PartBody(const std::string& data, const std::string& content_type) {
  const size_t header = data.find("Content-Type: " + content_type);
  if (header == std::string::npos) return "<missing>";
  const size_t start = data.find("\r\n\r\n", header) + 4;
  const size_t end = data.find("\r\n--", start);
  std::string encoded = data.substr(start, end == std::string::npos ? std::string::npos : end - start);
  encoded.erase(std::remove(encoded.begin(), encoded.end(), '\r'), encoded.end());
  encoded.erase(std::remove(encoded.begin(), encoded.end(), '\n'), encoded.end());
  std::string decoded;
  absl::Base64Unescape(encoded, &decoded);
  return decoded;
}

TEST(EmailMessageTest, HeadersAndBothParts) {
  auto envelope = BuildEmail(Email("Jane Doe <jane@example.test>", "Your receipt", "Thanks!", "<p>Thanks!</p>"),
                             Defaults(), kNow);
  ASSERT_TRUE(envelope.ok()) << envelope.status();
  EXPECT_EQ(envelope->mail_from, "no-reply@acme.test");
  EXPECT_EQ(envelope->rcpt_to, "jane@example.test");
  const std::string& data = envelope->data;
  EXPECT_THAT(data, HasSubstr("Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"));
  EXPECT_THAT(data, HasSubstr("From: \"Acme\" <no-reply@acme.test>\r\n"));
  EXPECT_THAT(data, HasSubstr("To: \"Jane Doe\" <jane@example.test>\r\n"));
  EXPECT_THAT(data, HasSubstr("Reply-To: support@acme.test\r\n"));
  EXPECT_THAT(data, HasSubstr("Subject: Your receipt\r\n"));
  EXPECT_THAT(data, HasSubstr("Message-ID: <msg_01@mail.acme.test>\r\n"));
  EXPECT_THAT(data, HasSubstr("MIME-Version: 1.0\r\n"));
  EXPECT_THAT(data, HasSubstr("Content-Type: multipart/alternative; boundary=\"=_herald_msg_01\"\r\n"));
  EXPECT_EQ(PartBody(data, "text/plain"), "Thanks!");
  EXPECT_EQ(PartBody(data, "text/html"), "<p>Thanks!</p>");
  EXPECT_THAT(data, HasSubstr("--=_herald_msg_01--\r\n"));
  // Every line ends in CRLF and fits SMTP's limit.
  for (absl::string_view line : absl::StrSplit(data, "\r\n")) {
    EXPECT_LE(line.size(), 998u);
    EXPECT_THAT(std::string(line), Not(HasSubstr("\n")));
  }
}

TEST(EmailMessageTest, MessageOverridesSenderAndReplyTo) {
  Delivery delivery = Email("jane@example.test", "Hi", "text", "");
  delivery.mutable_content()->mutable_email()->set_from("Billing <billing@acme.test>");
  delivery.mutable_content()->mutable_email()->set_reply_to("Billing Desk <desk@acme.test>");
  auto envelope = BuildEmail(delivery, Defaults(), kNow);
  ASSERT_TRUE(envelope.ok()) << envelope.status();
  EXPECT_EQ(envelope->mail_from, "billing@acme.test");
  EXPECT_THAT(envelope->data, HasSubstr("From: \"Billing\" <billing@acme.test>\r\n"));
  EXPECT_THAT(envelope->data, HasSubstr("Reply-To: \"Billing Desk\" <desk@acme.test>\r\n"));
  // Text only: one part, no multipart.
  EXPECT_THAT(envelope->data, Not(HasSubstr("multipart")));
  EXPECT_EQ(PartBody(envelope->data, "text/plain"), "text");
}

TEST(EmailMessageTest, NonAsciiSubjectAndNameAreEncodedWords) {
  Delivery delivery = Email("Zoë Ünal <zoe@example.test>", "Café ☕ — your order", "x", "");
  auto envelope = BuildEmail(delivery, Defaults(), kNow);
  ASSERT_TRUE(envelope.ok()) << envelope.status();
  std::string encoded;
  absl::Base64Unescape("Q2Fmw6kg4piVIOKAlCB5b3VyIG9yZGVy", &encoded);
  EXPECT_EQ(encoded, "Café ☕ — your order");
  EXPECT_THAT(envelope->data, HasSubstr("Subject: =?UTF-8?B?Q2Fmw6kg4piVIOKAlCB5b3VyIG9yZGVy?=\r\n"));
  EXPECT_THAT(envelope->data, HasSubstr("To: =?UTF-8?B?Wm/DqyDDnG5hbA==?= <zoe@example.test>\r\n"));
}

TEST(EmailMessageTest, LongSubjectFoldsWithoutSplittingCharacters) {
  std::string subject;
  for (int i = 0; i < 40; ++i) subject += "é€";
  auto envelope = BuildEmail(Email("a@b.test", subject, "x", ""), Defaults(), kNow);
  ASSERT_TRUE(envelope.ok());
  const size_t start = envelope->data.find("Subject: ");
  const size_t end = envelope->data.find("\r\nMessage-ID");
  std::string header = envelope->data.substr(start + 9, end - start - 9);
  std::string decoded;
  for (absl::string_view word : absl::StrSplit(header, "\r\n ")) {
    ASSERT_LE(word.size(), 75u);
    ASSERT_TRUE(absl::StartsWith(word, "=?UTF-8?B?") && absl::EndsWith(word, "?="));
    std::string piece;
    ASSERT_TRUE(absl::Base64Unescape(word.substr(10, word.size() - 12), &piece));
    decoded += piece;
  }
  EXPECT_EQ(decoded, subject);
}

TEST(EmailMessageTest, LineBreaksCannotInjectHeaders) {
  auto envelope = BuildEmail(Email("a@b.test", "Hello\r\nBcc: victim@evil.test", "x", ""), Defaults(), kNow);
  ASSERT_TRUE(envelope.ok());
  EXPECT_THAT(envelope->data, Not(HasSubstr("\r\nBcc:")));
  EXPECT_THAT(envelope->data, HasSubstr("Subject: Hello  Bcc: victim@evil.test\r\n"));
}

TEST(EmailMessageTest, BadAddressesAreRefused) {
  struct Case {
    std::string to;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{{"", "email has no recipient"},
                                         {"not an address", "to: not an email address"},
                                         {"a@b.test>\r\nRCPT TO:<x@y.test", "to: not an email address"},
                                         {"Jane <jane@exämple.test>", "to: not an email address"},
                                         {"a..b@c.test", "to: not an email address"},
                                         {"Jane jane@b.test>", "to: malformed address"}}) {
    auto envelope = BuildEmail(Email(c.to, "s", "t", ""), Defaults(), kNow);
    ASSERT_FALSE(envelope.ok()) << c.to;
    EXPECT_THAT(std::string(envelope.status().message()), HasSubstr(c.error)) << c.to;
  }
  EmailDefaults no_from = Defaults();
  no_from.from = "";
  auto envelope = BuildEmail(Email("a@b.test", "s", "t", ""), no_from, kNow);
  ASSERT_FALSE(envelope.ok());
  EXPECT_THAT(std::string(envelope.status().message()), HasSubstr("no sender"));
}

TEST(EmailMessageTest, HugeBodyIsRefused) {
  auto envelope = BuildEmail(Email("a@b.test", "s", std::string(kMaxEmailBytes, 'x'), ""), Defaults(), kNow);
  ASSERT_FALSE(envelope.ok());
  EXPECT_THAT(std::string(envelope.status().message()), HasSubstr("exceeds"));
}

TEST(EmailMessageTest, QuotedDisplayNames) {
  auto mailbox = ParseMailbox("\"Acme, \\\"Inc.\\\"\" <hi@acme.test>", "from");
  ASSERT_TRUE(mailbox.ok()) << mailbox.status();
  EXPECT_EQ(mailbox->display_name, "Acme, \"Inc.\"");
  EXPECT_EQ(FormatMailbox(*mailbox), "\"Acme, \\\"Inc.\\\"\" <hi@acme.test>");
  EXPECT_EQ(ParseMailbox("<hi@acme.test>", "from")->address, "hi@acme.test");
}

}  // namespace
}  // namespace herald::delivery
