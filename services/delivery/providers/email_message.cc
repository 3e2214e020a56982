// RFC 5322 / MIME assembly for SMTP (email_message.h).
#include "services/delivery/providers/email_message.h"

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace herald::delivery {
namespace {

constexpr absl::string_view kCrlf = "\r\n";

bool IsPrintableAscii(absl::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
}

// RFC 5322 atext, for the local part (dot-atom; quoted local parts are not
// accepted: no provider needs them and they complicate every check).
bool IsAtext(char c) { return absl::ascii_isalnum(c) || absl::StrContains("!#$%&'*+-/=?^_`{|}~", c); }

bool IsDotAtom(absl::string_view text, bool (*allowed)(char)) {
  if (text.empty() || text.front() == '.' || text.back() == '.' || absl::StrContains(text, "..")) return false;
  return std::all_of(text.begin(), text.end(), [&](char c) { return c == '.' || allowed(c); });
}

bool IsDomainChar(char c) { return absl::ascii_isalnum(c) || c == '-'; }

bool IsAddress(absl::string_view address) {
  const size_t at = address.rfind('@');
  if (at == absl::string_view::npos || address.size() > 254) return false;
  const absl::string_view local = address.substr(0, at);
  const absl::string_view domain = address.substr(at + 1);
  return local.size() <= 64 && IsDotAtom(local, IsAtext) && IsDotAtom(domain, IsDomainChar);
}

// Cuts `text` into pieces of at most `max_bytes`, never inside a UTF-8
// sequence (each encoded word must decode on its own).
std::vector<absl::string_view> Utf8Chunks(absl::string_view text, size_t max_bytes) {
  std::vector<absl::string_view> chunks;
  while (!text.empty()) {
    size_t cut = std::min(max_bytes, text.size());
    while (cut < text.size() && cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    if (cut == 0) cut = std::min(max_bytes, text.size());  // Not UTF-8; cut anyway.
    chunks.push_back(text.substr(0, cut));
    text.remove_prefix(cut);
  }
  return chunks;
}

// "=?UTF-8?B?...?=" words joined by folding whitespace. 45 bytes encode to
// 60 characters, so a word with its markers fits a 76-character line.
std::string EncodedWords(absl::string_view text) {
  std::string out;
  for (absl::string_view chunk : Utf8Chunks(text, 45)) {
    if (!out.empty()) absl::StrAppend(&out, kCrlf, " ");
    absl::StrAppend(&out, "=?UTF-8?B?", absl::Base64Escape(chunk), "?=");
  }
  return out;
}

std::string WithoutLineBreaks(absl::string_view text) {
  std::string out(text);
  std::replace_if(out.begin(), out.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  return out;
}

// Base64 in lines of 76 characters (RFC 2045 6.8).
std::string Base64Lines(absl::string_view content) {
  const std::string encoded = absl::Base64Escape(content);
  std::string out;
  out.reserve(encoded.size() + encoded.size() / 38 + 2);
  for (size_t i = 0; i < encoded.size(); i += 76) absl::StrAppend(&out, encoded.substr(i, 76), kCrlf);
  return out;
}

std::string Part(absl::string_view content_type, absl::string_view content) {
  return absl::StrCat("Content-Type: ", content_type, "; charset=utf-8", kCrlf,
                      "Content-Transfer-Encoding: base64", kCrlf, kCrlf, Base64Lines(content));
}

// Message ids are Herald's; anything outside dot-atom text is replaced so
// the Message-ID stays well-formed.
std::string MessageIdLocalPart(absl::string_view id) {
  std::string out;
  for (char c : id) out.push_back(absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ? c : '-');
  if (out.empty()) out = "message";
  return out;
}

}  // namespace

absl::StatusOr<Mailbox> ParseMailbox(absl::string_view text, absl::string_view field) {
  text = absl::StripAsciiWhitespace(text);
  Mailbox mailbox;
  absl::string_view address = text;
  if (absl::EndsWith(text, ">")) {
    const size_t open = text.rfind('<');
    if (open == absl::string_view::npos) return absl::InvalidArgumentError(absl::StrCat(field, ": malformed address"));
    address = text.substr(open + 1, text.size() - open - 2);
    absl::string_view name = absl::StripAsciiWhitespace(text.substr(0, open));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      name = name.substr(1, name.size() - 2);
      std::string unquoted;
      for (size_t i = 0; i < name.size(); ++i) {
        if (name[i] == '\\' && i + 1 < name.size()) ++i;
        unquoted.push_back(name[i]);
      }
      mailbox.display_name = WithoutLineBreaks(unquoted);
    } else {
      mailbox.display_name = WithoutLineBreaks(name);
    }
  }
  if (!IsAddress(address)) return absl::InvalidArgumentError(absl::StrCat(field, ": not an email address"));
  mailbox.address = std::string(address);
  return mailbox;
}

std::string FormatMailbox(const Mailbox& mailbox) {
  if (mailbox.display_name.empty()) return mailbox.address;
  std::string name;
  if (IsPrintableAscii(mailbox.display_name)) {
    name.push_back('"');
    for (char c : mailbox.display_name) {
      if (c == '"' || c == '\\') name.push_back('\\');
      name.push_back(c);
    }
    name.push_back('"');
  } else {
    name = EncodedWords(mailbox.display_name);
  }
  return absl::StrCat(name, " <", mailbox.address, ">");
}

std::string EncodeHeaderText(absl::string_view text) {
  const std::string flat = WithoutLineBreaks(text);
  // Long ASCII is encoded too: encoded words fold, a bare line could pass
  // SMTP's 998-character limit.
  if (IsPrintableAscii(flat) && flat.size() <= 900) return flat;
  return EncodedWords(flat);
}

absl::StatusOr<SmtpEnvelope> BuildEmail(const Delivery& delivery, const EmailDefaults& defaults, absl::Time now) {
  const auto& email = delivery.content().email();
  const std::string& from_text = email.from().empty() ? defaults.from : email.from();
  if (from_text.empty()) return absl::InvalidArgumentError("email has no sender (content from or options.from)");
  auto from = ParseMailbox(from_text, "from");
  if (!from.ok()) return from.status();
  if (email.to().empty()) return absl::InvalidArgumentError("email has no recipient");
  auto to = ParseMailbox(email.to(), "to");
  if (!to.ok()) return to.status();
  const std::string& reply_to_text = email.reply_to().empty() ? defaults.reply_to : email.reply_to();
  std::optional<Mailbox> reply_to;
  if (!reply_to_text.empty()) {
    auto parsed = ParseMailbox(reply_to_text, "reply_to");
    if (!parsed.ok()) return parsed.status();
    reply_to = *std::move(parsed);
  }

  std::string data;
  absl::StrAppend(&data, "Date: ", absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", now, absl::UTCTimeZone()), kCrlf);
  absl::StrAppend(&data, "From: ", FormatMailbox(*from), kCrlf);
  absl::StrAppend(&data, "To: ", FormatMailbox(*to), kCrlf);
  if (reply_to) absl::StrAppend(&data, "Reply-To: ", FormatMailbox(*reply_to), kCrlf);
  absl::StrAppend(&data, "Subject: ", EncodeHeaderText(email.subject()), kCrlf);
  absl::StrAppend(&data, "Message-ID: <", MessageIdLocalPart(delivery.message_id()), "@", defaults.message_id_domain,
                  ">", kCrlf);
  absl::StrAppend(&data, "MIME-Version: 1.0", kCrlf);
  if (!email.html().empty() && !email.text().empty()) {
    // Base64 never contains '_' or '-', so the boundary cannot occur in a part.
    const std::string boundary = absl::StrCat("=_herald_", MessageIdLocalPart(delivery.message_id()));
    absl::StrAppend(&data, "Content-Type: multipart/alternative; boundary=\"", boundary, "\"", kCrlf, kCrlf);
    absl::StrAppend(&data, "--", boundary, kCrlf, Part("text/plain", email.text()));
    absl::StrAppend(&data, "--", boundary, kCrlf, Part("text/html", email.html()));
    absl::StrAppend(&data, "--", boundary, "--", kCrlf);
  } else if (!email.html().empty()) {
    absl::StrAppend(&data, Part("text/html", email.html()));
  } else {
    absl::StrAppend(&data, Part("text/plain", email.text()));
  }
  if (data.size() > kMaxEmailBytes) {
    return absl::InvalidArgumentError(absl::StrCat("email of ", data.size(), " bytes exceeds ", kMaxEmailBytes));
  }
  return SmtpEnvelope{from->address, to->address, std::move(data)};
}

}  // namespace herald::delivery
