// The `smtp` provider (email), over libcurl's SMTP client.
//   options:  host (required), port (25 / 587 with starttls / 465 with
//             implicit), tls: none | starttls (default) | implicit,
//             username, from, reply_to, message_id_domain (herald.local),
//             helo_name, ca_file, insecure_skip_verify (false; development
//             only)
//   secrets:  password (required with username)
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/clock.h"
#include "services/delivery/config.h"
#include "services/delivery/providers/email_message.h"
#include "services/delivery/providers/provider.h"
#include "services/delivery/providers/transfer_runner.h"

namespace herald::delivery {

// Thread-safe.
class SmtpProvider final : public Provider {
 public:
  // INVALID_ARGUMENT naming the missing or malformed option or secret.
  // `clock` (the Date header) must outlive the provider.
  static absl::StatusOr<std::unique_ptr<SmtpProvider>> Create(const ChannelConfig& channel, const Clock& clock);

  // One SMTP transaction per message, up to the channel's concurrency at
  // once; connections are reused between messages and calls.
  void Deliver(absl::Span<const Delivery* const> deliveries, absl::Span<Result* const> results) override;

 private:
  struct Settings {
    std::string url;  // smtp://host:port[/helo_name] or smtps://...
    bool starttls = false;
    std::string username;
    std::string password;
    std::string ca_file;
    bool insecure_skip_verify = false;
    int64_t timeout_ms = 10'000;
    EmailDefaults defaults;
  };

  SmtpProvider(Settings settings, int concurrency, const Clock& clock)
      : settings_(std::move(settings)), clock_(clock), runner_(concurrency) {}

  const Settings settings_;
  const Clock& clock_;
  TransferRunner runner_;
};

}  // namespace herald::delivery
