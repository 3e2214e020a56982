// An email as SMTP carries it: the envelope (MAIL FROM, RCPT TO) and the
// RFC 5322 message with a MIME body (multipart/alternative when there is
// both text and HTML). Plain code, no I/O.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/delivery/delivery_service.h"

namespace herald::delivery {

// A larger message fails instead of being sent.
inline constexpr size_t kMaxEmailBytes = 10 << 20;

struct Mailbox {
  std::string display_name;  // UTF-8, may be empty.
  std::string address;       // local@domain, ASCII.
};

// Parses "addr@example.com", "<addr@example.com>", "Name <addr@example.com>"
// or "\"Name, Inc.\" <addr@example.com>". INVALID_ARGUMENT (quoting nothing
// but the field name) for anything else, non-ASCII addresses included
// (SMTPUTF8 is not supported).
absl::StatusOr<Mailbox> ParseMailbox(absl::string_view text, absl::string_view field);

// The mailbox as a header value: the display name quoted, or RFC 2047
// encoded when it is not ASCII.
std::string FormatMailbox(const Mailbox& mailbox);

// An unstructured header value (Subject): as is when printable ASCII, else
// RFC 2047 "B" encoded words of UTF-8, folded onto continuation lines. CR
// and LF never survive (no header injection).
std::string EncodeHeaderText(absl::string_view text);

// What the channel configures; a message's own from / reply_to win.
struct EmailDefaults {
  std::string from;
  std::string reply_to;
  std::string message_id_domain = "herald.local";
};

struct SmtpEnvelope {
  std::string mail_from;  // Address only.
  std::string rcpt_to;    // Address only.
  std::string data;       // The whole message, CRLF line ends.
};

// Builds the message for `delivery` (content.email) dated `now`.
// INVALID_ARGUMENT when a sender or recipient is missing or malformed, or
// the message exceeds kMaxEmailBytes.
absl::StatusOr<SmtpEnvelope> BuildEmail(const Delivery& delivery, const EmailDefaults& defaults, absl::Time now);

}  // namespace herald::delivery
