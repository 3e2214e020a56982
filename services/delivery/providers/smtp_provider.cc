// SmtpProvider: message assembly, one libcurl SMTP transfer per message.
#include "services/delivery/providers/smtp_provider.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "services/delivery/providers/curl_handles.h"
#include "services/delivery/providers/outcome.h"
#include "services/delivery/providers/provider_options.h"
#include "services/delivery/providers/smtp_outcome.h"

namespace herald::delivery {
namespace {

// One message's transfer; curl holds pointers into it while it runs.
struct Transfer {
  size_t delivery = 0;
  SmtpEnvelope envelope;
  size_t read_offset = 0;
  CurlEasy easy;
  CurlSlist recipients;
  std::string reply_line;
  char error_buffer[CURL_ERROR_SIZE] = {};
};

size_t ReadMessage(char* buffer, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::string& data = transfer->envelope.data;
  const size_t bytes = std::min(size * count, data.size() - transfer->read_offset);
  std::memcpy(buffer, data.data() + transfer->read_offset, bytes);
  transfer->read_offset += bytes;
  return bytes;
}

// libcurl passes each SMTP reply line to the header callback; the last one
// explains the outcome ("550 5.1.1 user unknown").
size_t OnReplyLine(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  absl::string_view line = absl::StripTrailingAsciiWhitespace(absl::string_view(data, bytes));
  if (!line.empty()) transfer->reply_line.assign(line.data(), std::min<size_t>(line.size(), 1024));
  return bytes;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SmtpProvider>> SmtpProvider::Create(const ChannelConfig& channel, const Clock& clock) {
  ProviderOptions options(channel);
  Settings settings;
  auto host = options.RequiredString("host");
  if (!host.ok()) return host.status();
  if (host->find_first_of("/:@?# ") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(options.OptionPath("host"), ": a host name or IPv4 address"));
  }
  auto tls = options.OneOf("tls", "starttls", {"none", "starttls", "implicit"});
  if (!tls.ok()) return tls.status();
  const int64_t default_port = *tls == "implicit" ? 465 : *tls == "starttls" ? 587 : 25;
  auto port = options.Int("port", default_port, 1, 65535);
  if (!port.ok()) return port.status();
  auto insecure = options.Bool("insecure_skip_verify", false);
  if (!insecure.ok()) return insecure.status();
  settings.url = absl::StrCat(*tls == "implicit" ? "smtps://" : "smtp://", *host, ":", *port);
  const std::string helo = options.String("helo_name");
  if (!helo.empty()) {
    if (helo.find_first_of("/:@?# ") != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(options.OptionPath("helo_name"), ": a host name"));
    }
    absl::StrAppend(&settings.url, "/", helo);  // curl's EHLO name.
  }
  settings.starttls = *tls == "starttls";
  settings.username = options.String("username");
  if (!settings.username.empty()) {
    auto password = options.RequiredSecret("password");
    if (!password.ok()) return password.status();
    settings.password = *password;
  }
  settings.ca_file = options.String("ca_file");
  settings.insecure_skip_verify = *insecure;
  settings.timeout_ms = channel.timeout_ms;
  settings.defaults.from = options.String("from");
  settings.defaults.reply_to = options.String("reply_to");
  settings.defaults.message_id_domain = options.String("message_id_domain", "herald.local");
  for (const char* field : {"from", "reply_to"}) {
    const std::string value = options.String(field);
    if (value.empty()) continue;
    auto mailbox = ParseMailbox(value, options.OptionPath(field));
    if (!mailbox.ok()) return mailbox.status();
  }
  return std::unique_ptr<SmtpProvider>(new SmtpProvider(std::move(settings), channel.concurrency, clock));
}

void SmtpProvider::Deliver(absl::Span<const Delivery* const> deliveries, absl::Span<Result* const> results) {
  const absl::Time now = absl::FromUnixMicros(clock_.NowMicros());
  std::vector<std::unique_ptr<Transfer>> transfers;
  std::vector<CURL*> handles;
  for (size_t i = 0; i < deliveries.size(); ++i) {
    auto envelope = BuildEmail(*deliveries[i], settings_.defaults, now);
    if (!envelope.ok()) {
      FailUndelivered(envelope.status().message(), *results[i]);
      continue;
    }
    auto transfer = std::make_unique<Transfer>();
    transfer->delivery = i;
    transfer->envelope = *std::move(envelope);
    transfer->easy = NewCurlEasy();
    const std::string rcpt = absl::StrCat("<", transfer->envelope.rcpt_to, ">");
    if (!transfer->easy || !AppendSlist(transfer->recipients, rcpt.c_str())) {
      results[i]->set_outcome(v1::OUTCOME_RETRY);
      results[i]->set_reason("out of memory preparing the message");
      continue;
    }
    CURL* easy = transfer->easy.get();
    curl_easy_setopt(easy, CURLOPT_URL, settings_.url.c_str());
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (settings_.starttls) curl_easy_setopt(easy, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    if (!settings_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, settings_.ca_file.c_str());
    if (settings_.insecure_skip_verify) {
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (!settings_.username.empty()) {
      curl_easy_setopt(easy, CURLOPT_USERNAME, settings_.username.c_str());
      curl_easy_setopt(easy, CURLOPT_PASSWORD, settings_.password.c_str());
    }
    const std::string mail_from = absl::StrCat("<", transfer->envelope.mail_from, ">");
    curl_easy_setopt(easy, CURLOPT_MAIL_FROM, mail_from.c_str());  // curl copies string options.
    curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, transfer->recipients.get());
    curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(transfer->envelope.data.size()));
    curl_easy_setopt(easy, CURLOPT_READFUNCTION, ReadMessage);
    curl_easy_setopt(easy, CURLOPT_READDATA, transfer.get());
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, OnReplyLine);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, transfer.get());
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer->error_buffer);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(settings_.timeout_ms));
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings_.timeout_ms));
    handles.push_back(easy);
    transfers.push_back(std::move(transfer));
  }
  const std::vector<CURLcode> codes = runner_.Run(handles);
  for (size_t t = 0; t < transfers.size(); ++t) {
    Transfer& transfer = *transfers[t];
    SmtpExchange exchange;
    exchange.code = codes[t];
    curl_easy_getinfo(transfer.easy.get(), CURLINFO_RESPONSE_CODE, &exchange.reply_code);
    curl_off_t total_us = 0;
    curl_easy_getinfo(transfer.easy.get(), CURLINFO_TOTAL_TIME_T, &total_us);
    exchange.latency_us = total_us;
    exchange.reply_line = transfer.reply_line;
    exchange.error_detail = transfer.error_buffer[0] != '\0' ? transfer.error_buffer : curl_easy_strerror(codes[t]);
    Result& result = *results[transfer.delivery];
    MapSmtpExchange(exchange, result);
    // A server may echo the AUTH exchange; the password never leaves here.
    if (!settings_.password.empty()) RedactSecrets({settings_.password}, result);
  }
}

}  // namespace herald::delivery
