// MapSmtpExchange (smtp_outcome.h).
#include "services/delivery/providers/smtp_outcome.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/delivery/providers/curl_handles.h"
#include "services/delivery/providers/outcome.h"

namespace herald::delivery {
namespace {

using ::herald::delivery::v1::OUTCOME_DELIVERED;
using ::herald::delivery::v1::OUTCOME_RETRY;

// The enhanced status code after the reply code ("5.1.1"), or "".
absl::string_view EnhancedCode(absl::string_view reply_line) {
  if (reply_line.size() < 4) return "";
  absl::string_view rest = absl::StripLeadingAsciiWhitespace(reply_line.substr(4));
  size_t end = 0;
  while (end < rest.size() && (absl::ascii_isdigit(rest[end]) || rest[end] == '.')) ++end;
  absl::string_view code = rest.substr(0, end);
  if (code.size() < 5 || code[1] != '.') return "";
  return code;
}

void Retry(absl::string_view provider_status, absl::string_view reason, Result& result) {
  result.set_outcome(OUTCOME_RETRY);
  result.clear_status();
  result.set_provider_status(std::string(provider_status));
  result.set_reason(BoundedUtf8(reason, 300));
}

}  // namespace

bool IsRecipientRejection(long reply_code, absl::string_view reply_line, bool at_rcpt) {
  absl::string_view enhanced = EnhancedCode(reply_line);
  if (!enhanced.empty()) {
    return absl::StartsWith(enhanced, "5.1.") && !absl::StartsWith(enhanced, "5.1.7") &&
           !absl::StartsWith(enhanced, "5.1.8");
  }
  return at_rcpt && (reply_code == 550 || reply_code == 551 || reply_code == 553);
}

void MapSmtpExchange(const SmtpExchange& exchange, Result& result) {
  result.set_latency_us(exchange.latency_us);
  result.set_provider_response(BoundedUtf8(exchange.reply_line, kMaxProviderResponseBytes));
  const long code = exchange.reply_code;
  const std::string smtp_status = absl::StrCat("smtp ", code);
  if (exchange.code == CURLE_OK) {
    result.set_outcome(OUTCOME_DELIVERED);
    result.set_status("sent");
    result.set_provider_status(smtp_status);
    return;
  }
  const std::string reply = exchange.reply_line.empty() ? smtp_status : exchange.reply_line;
  if (exchange.code == CURLE_LOGIN_DENIED) {
    Retry(smtp_status, absl::StrCat("smtp authentication refused: ", reply), result);
    return;
  }
  if (code >= 400 && code < 500) {
    Retry(smtp_status, absl::StrCat("smtp ", reply), result);
    return;
  }
  if (code >= 500 && code < 600) {
    const bool at_rcpt = absl::StartsWith(exchange.error_detail, "RCPT");
    FailUndelivered(absl::StrCat("smtp ", reply), result);
    if (IsRecipientRejection(code, exchange.reply_line, at_rcpt)) result.set_status("bounced");
    result.set_provider_status(smtp_status);
    return;
  }
  switch (ClassifyCurlError(exchange.code)) {
    case TransportError::kTimeout:
      Retry("timeout", "timeout", result);
      return;
    case TransportError::kConnect:
      Retry("connect", absl::StrCat("connect: ", exchange.error_detail), result);
      return;
    case TransportError::kTls:
      Retry("tls", absl::StrCat("tls: ", exchange.error_detail), result);
      return;
    case TransportError::kInvalidUrl:
      FailUndelivered(absl::StrCat("invalid smtp url: ", exchange.error_detail), result);
      result.set_provider_status("invalid url");
      return;
    case TransportError::kNone:
    case TransportError::kOther:
      Retry("error", absl::StrCat("smtp error: ", exchange.error_detail), result);
      return;
  }
}

}  // namespace herald::delivery
