// Delivery configuration: the channels (providers) messages go through,
// each with its provider kind, options, secrets and delivery policy. Read
// from a YAML file (--delivery-config) plus HERALD_* environment variables;
// secrets come from the environment or files and are never logged.
//
//   channels:
//     email:                      # the channel name workflow steps use
//       type: email               # email | sms | push | chat | webhook
//       provider: smtp            # smtp | twilio | fcm | apns | slack_webhook | slack_api | webhook
//       options: {host: 127.0.0.1, port: 2525, tls: starttls, from: "Acme <no-reply@acme.test>"}
//       secrets: {password: {env: HERALD_SMTP_PASSWORD}}   # or {file: /run/secrets/smtp}
//       retry: {max_attempts: 8, initial_backoff_ms: 15000, max_backoff_ms: 1800000}
//       rate_limit: {per_second: 100, burst: 200}           # shared by every replica (Redis)
//       concurrency: 32                                      # in-flight exchanges per process
//       timeout_ms: 10000
//       circuit: {failures: 5, open_ms: 30000}
//       service: ""             # host:port of a remote delivery service; empty = in process
//   event_webhook:                # optional: outbound event webhooks (events/EVENT_WEBHOOKS.md)
//     options: {url: "https://hooks.acme.test/herald"}
//     secrets: {signing_secret: {env: HERALD_EVENT_WEBHOOK_SECRET}}
//     retry: {max_attempts: 8}    # and timeout_ms, concurrency, like a channel
//
// Environment: HERALD_CHANNEL_<NAME>_<OPTION> overrides an option
// (<NAME> upper-cased, '-' as '_'), e.g. HERALD_CHANNEL_EMAIL_HOST.
// HERALD_EVENT_WEBHOOK_URL and HERALD_EVENT_WEBHOOK_SECRET set the event
// webhook's url and signing secret (and configure it without a file).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace herald::delivery {

struct RetryPolicy {
  // Attempts in total, the first included. About 30 minutes by default:
  // 15 s, 30 s, 1, 2, 4, 8 and 16 minutes between attempts (±20% jitter).
  int max_attempts = 8;
  int64_t initial_backoff_ms = 15'000;
  int64_t max_backoff_ms = 30 * 60'000;
};

struct RateLimit {
  // 0 = unlimited.
  double per_second = 0;
  double burst = 0;
};

struct CircuitPolicy {
  // Consecutive retryable failures that open the circuit (0 = never).
  int failures = 5;
  int64_t open_ms = 30'000;
};

struct ChannelConfig {
  std::string name;
  std::string type;      // email | sms | push | chat | webhook
  std::string provider;  // smtp | twilio | fcm | apns | slack_webhook | slack_api | webhook
  // Provider options (host, port, url, from, ...), environment applied.
  std::map<std::string, std::string> options;
  // Resolved secrets (password, auth_token, signing_secret, ...). Never
  // logged, never returned by an API.
  std::map<std::string, std::string> secrets;
  // Secrets whose reference is well formed but not available here (the
  // variable is not set, the file unreadable): secret name -> the error,
  // naming the field. Only a process that serves the channel needs them, so
  // building its provider fails with it; a dispatcher that reaches the
  // channel over gRPC, or a delivery service for other channels, starts.
  std::map<std::string, std::string> unresolved_secrets;
  RetryPolicy retry;
  RateLimit rate_limit;
  int concurrency = 32;
  int64_t timeout_ms = 10'000;
  CircuitPolicy circuit;
  // host:port of a remote delivery service; empty = in process.
  std::string service;
};

struct DeliveryConfig {
  // By channel name.
  std::map<std::string, ChannelConfig> channels;
  // Channel names in the order they were configured (file first, then
  // channels the environment declares); Find's fallback follows it.
  std::vector<std::string> channel_order;
  // Channel used for a channel type when a step's channel is not configured
  // (the first configured channel of that type).
  const ChannelConfig* Find(const std::string& channel, const std::string& channel_type) const;
  // Where status and engagement events are POSTed (provider `webhook`,
  // named "event_webhook", options.url set); nullopt = not configured. Not
  // a channel: workflow steps never route to it.
  std::optional<ChannelConfig> event_webhook;
};

// Parses `yaml` (the file's text) and applies `environment` (name -> value,
// normally the process environment). Secrets named {env: X} read X from
// `environment`, {file: P} read the file P. INVALID_ARGUMENT names the
// offending field ("channels.email.retry.max_attempts: ...").
absl::StatusOr<DeliveryConfig> ParseDeliveryConfig(const std::string& yaml,
                                                   const std::map<std::string, std::string>& environment);
// Reads `path` ("" = no file: only the environment's channels) and the process environment.
absl::StatusOr<DeliveryConfig> LoadDeliveryConfig(const std::string& path);

}  // namespace herald::delivery
