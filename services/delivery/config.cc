// Parsing and validation of the delivery configuration (config.h): YAML
// first, then HERALD_CHANNEL_* environment overrides, then secrets. Every
// error is INVALID_ARGUMENT and names the field (or the environment
// variable) it is about; no error ever carries a secret's value.
#include "services/delivery/config.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "yaml-cpp/yaml.h"

extern char** environ;

namespace herald::delivery {
namespace {

constexpr const char* kEnvPrefix = "HERALD_CHANNEL_";
constexpr const char* kEventWebhookUrlEnv = "HERALD_EVENT_WEBHOOK_URL";
constexpr const char* kEventWebhookSecretEnv = "HERALD_EVENT_WEBHOOK_SECRET";
constexpr const char* kEventWebhook = "event_webhook";

absl::Status FieldError(const std::string& field, const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

// The channel type each provider delivers.
const std::map<std::string, std::string>& ProviderTypes() {
  static const auto* types = new std::map<std::string, std::string>{
      {"smtp", "email"},    {"twilio", "sms"},         {"fcm", "push"},         {"apns", "push"},
      {"slack_webhook", "chat"}, {"slack_api", "chat"}, {"webhook", "webhook"},
  };
  return *types;
}

bool IsChannelType(const std::string& type) {
  return type == "email" || type == "sms" || type == "push" || type == "chat" || type == "webhook";
}

bool IsValidChannelName(const std::string& name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' || c == '-';
  });
}

// "email-eu" -> "EMAIL_EU": the <NAME> part of HERALD_CHANNEL_<NAME>_<OPTION>.
std::string EnvName(const std::string& channel) {
  std::string upper = absl::AsciiStrToUpper(channel);
  std::replace(upper.begin(), upper.end(), '-', '_');
  return upper;
}

// --- Typed scalars. YAML conversion goes through convert<T>::decode, which
// reports failure instead of throwing.

absl::StatusOr<std::string> ScalarString(const YAML::Node& node, const std::string& field) {
  if (!node.IsScalar()) return FieldError(field, "must be a string");
  return node.Scalar();
}

template <typename Int>
absl::StatusOr<Int> IntAtLeast(const YAML::Node& node, const std::string& field, Int min) {
  Int value{};
  if (!node.IsScalar() || !YAML::convert<Int>::decode(node, value)) {
    return FieldError(field, "must be an integer");
  }
  if (value < min) return FieldError(field, absl::StrCat("must be at least ", min, " (got ", value, ")"));
  return value;
}

absl::StatusOr<double> NonNegativeNumber(const YAML::Node& node, const std::string& field) {
  double value = 0;
  if (!node.IsScalar() || !YAML::convert<double>::decode(node, value)) return FieldError(field, "must be a number");
  if (!(value >= 0)) return FieldError(field, "must not be negative");
  return value;
}

// Calls `on_field(key, value, path)` for each entry of the mapping `node`.
template <typename Fn>
absl::Status ForEachField(const YAML::Node& node, const std::string& path, Fn on_field) {
  if (!node.IsMap()) return FieldError(path, "must be a mapping");
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) return FieldError(path, "keys must be strings");
    const std::string key = entry.first.Scalar();
    HERALD_RETURN_IF_ERROR(on_field(key, entry.second, absl::StrCat(path, ".", key)));
  }
  return absl::OkStatus();
}

absl::Status ParseRetry(const YAML::Node& node, const std::string& path, RetryPolicy& retry) {
  HERALD_RETURN_IF_ERROR(ForEachField(node, path, [&](const std::string& key, const YAML::Node& value,
                                                      const std::string& field) -> absl::Status {
    if (key == "max_attempts") {
      HERALD_ASSIGN_OR_RETURN(retry.max_attempts, IntAtLeast<int>(value, field, 1));
    } else if (key == "initial_backoff_ms") {
      HERALD_ASSIGN_OR_RETURN(retry.initial_backoff_ms, IntAtLeast<int64_t>(value, field, 0));
    } else if (key == "max_backoff_ms") {
      HERALD_ASSIGN_OR_RETURN(retry.max_backoff_ms, IntAtLeast<int64_t>(value, field, 0));
    } else {
      return FieldError(field, "unknown field");
    }
    return absl::OkStatus();
  }));
  if (retry.max_backoff_ms < retry.initial_backoff_ms) {
    return FieldError(absl::StrCat(path, ".max_backoff_ms"), "must not be less than initial_backoff_ms");
  }
  return absl::OkStatus();
}

absl::Status ParseRateLimit(const YAML::Node& node, const std::string& path, RateLimit& limit) {
  return ForEachField(node, path, [&](const std::string& key, const YAML::Node& value,
                                      const std::string& field) -> absl::Status {
    if (key == "per_second") {
      HERALD_ASSIGN_OR_RETURN(limit.per_second, NonNegativeNumber(value, field));
    } else if (key == "burst") {
      HERALD_ASSIGN_OR_RETURN(limit.burst, NonNegativeNumber(value, field));
    } else {
      return FieldError(field, "unknown field");
    }
    return absl::OkStatus();
  });
}

absl::Status ParseCircuit(const YAML::Node& node, const std::string& path, CircuitPolicy& circuit) {
  return ForEachField(node, path, [&](const std::string& key, const YAML::Node& value,
                                      const std::string& field) -> absl::Status {
    if (key == "failures") {
      HERALD_ASSIGN_OR_RETURN(circuit.failures, IntAtLeast<int>(value, field, 0));
    } else if (key == "open_ms") {
      HERALD_ASSIGN_OR_RETURN(circuit.open_ms, IntAtLeast<int64_t>(value, field, 0));
    } else {
      return FieldError(field, "unknown field");
    }
    return absl::OkStatus();
  });
}

absl::Status ParseOptions(const YAML::Node& node, const std::string& path, std::map<std::string, std::string>& options) {
  return ForEachField(node, path, [&](const std::string& key, const YAML::Node& value,
                                      const std::string& field) -> absl::Status {
    if (!value.IsScalar()) return FieldError(field, "must be a string, number or boolean");
    options[key] = value.Scalar();
    return absl::OkStatus();
  });
}

// Reads a secret file; one trailing newline (as `echo` or an editor leaves
// it) is not part of the secret.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path, const std::string& field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return FieldError(field, absl::StrCat("cannot read file ", path, ": ", std::strerror(errno)));
  std::ostringstream content;
  content << in.rdbuf();
  std::string secret = content.str();
  if (absl::EndsWith(secret, "\r\n")) {
    secret.resize(secret.size() - 2);
  } else if (absl::EndsWith(secret, "\n")) {
    secret.pop_back();
  }
  return secret;
}

// A secret is a reference ({env: X} or {file: P}), never the value itself:
// config files get committed and printed; values must not be in them.
absl::Status CheckSecretShape(const YAML::Node& node, const std::string& field) {
  constexpr const char* kShape = "must be {env: VARIABLE} or {file: PATH}";
  if (!node.IsMap() || node.size() != 1) return FieldError(field, kShape);
  const auto entry = *node.begin();
  if (!entry.first.IsScalar() || !entry.second.IsScalar()) return FieldError(field, kShape);
  const std::string kind = entry.first.Scalar();
  if (entry.second.Scalar().empty() || (kind != "env" && kind != "file")) return FieldError(field, kShape);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ResolveSecret(const YAML::Node& node, const std::string& field,
                                          const std::map<std::string, std::string>& environment) {
  constexpr const char* kShape = "must be {env: VARIABLE} or {file: PATH}";
  if (!node.IsMap() || node.size() != 1) return FieldError(field, kShape);
  const auto entry = *node.begin();
  if (!entry.first.IsScalar() || !entry.second.IsScalar()) return FieldError(field, kShape);
  const std::string kind = entry.first.Scalar();
  const std::string ref = entry.second.Scalar();
  if (ref.empty()) return FieldError(field, kShape);
  if (kind == "env") {
    auto it = environment.find(ref);
    if (it == environment.end()) return FieldError(field, absl::StrCat("environment variable ", ref, " is not set"));
    return it->second;
  }
  if (kind == "file") return ReadSecretFile(ref, field);
  return FieldError(field, kShape);
}

absl::Status ParseSecrets(const YAML::Node& node, const std::string& path,
                          const std::map<std::string, std::string>& environment, ChannelConfig& channel) {
  return ForEachField(node, path, [&](const std::string& key, const YAML::Node& value,
                                      const std::string& field) -> absl::Status {
    HERALD_RETURN_IF_ERROR(CheckSecretShape(value, field));
    auto resolved = ResolveSecret(value, field, environment);
    if (resolved.ok()) {
      channel.secrets[key] = *std::move(resolved);
    } else {
      channel.unresolved_secrets[key] = std::string(resolved.status().message());
    }
    return absl::OkStatus();
  });
}

absl::Status ParseChannel(const YAML::Node& node, const std::string& path,
                          const std::map<std::string, std::string>& environment, ChannelConfig& channel) {
  return ForEachField(node, path, [&](const std::string& key, const YAML::Node& value,
                                      const std::string& field) -> absl::Status {
    if (key == "type") {
      HERALD_ASSIGN_OR_RETURN(channel.type, ScalarString(value, field));
    } else if (key == "provider") {
      HERALD_ASSIGN_OR_RETURN(channel.provider, ScalarString(value, field));
    } else if (key == "options") {
      return ParseOptions(value, field, channel.options);
    } else if (key == "secrets") {
      return ParseSecrets(value, field, environment, channel);
    } else if (key == "retry") {
      return ParseRetry(value, field, channel.retry);
    } else if (key == "rate_limit") {
      return ParseRateLimit(value, field, channel.rate_limit);
    } else if (key == "concurrency") {
      HERALD_ASSIGN_OR_RETURN(channel.concurrency, IntAtLeast<int>(value, field, 1));
    } else if (key == "timeout_ms") {
      HERALD_ASSIGN_OR_RETURN(channel.timeout_ms, IntAtLeast<int64_t>(value, field, 1));
    } else if (key == "circuit") {
      return ParseCircuit(value, field, channel.circuit);
    } else if (key == "service") {
      HERALD_ASSIGN_OR_RETURN(channel.service, ScalarString(value, field));
    } else {
      return FieldError(field, "unknown field");
    }
    return absl::OkStatus();
  });
}

// --- Environment. HERALD_CHANNEL_<NAME>_<OPTION>: a few upper-case option
// names set ChannelConfig fields, SECRET_<KEY> sets a secret, anything else
// is a provider option (lower-cased).

// Applies one environment override `option` (upper case) to `channel`.
absl::Status ApplyEnvironmentOverride(const std::string& variable, const std::string& option, const std::string& value,
                                      ChannelConfig& channel) {
  if (option == "TYPE") {
    channel.type = value;
  } else if (option == "PROVIDER") {
    channel.provider = value;
  } else if (option == "SERVICE") {
    channel.service = value;
  } else if (option == "CONCURRENCY") {
    if (!absl::SimpleAtoi(value, &channel.concurrency) || channel.concurrency < 1) {
      return FieldError(variable, "must be a positive integer");
    }
  } else if (option == "TIMEOUT_MS") {
    if (!absl::SimpleAtoi(value, &channel.timeout_ms) || channel.timeout_ms < 1) {
      return FieldError(variable, "must be a positive integer");
    }
  } else if (absl::StartsWith(option, "SECRET_") && option.size() > 7) {
    channel.secrets[absl::AsciiStrToLower(option.substr(7))] = value;
  } else {
    channel.options[absl::AsciiStrToLower(option)] = value;
  }
  return absl::OkStatus();
}

absl::Status ApplyEnvironment(const std::map<std::string, std::string>& environment, DeliveryConfig& config) {
  // A channel can be declared by the environment alone: HERALD_CHANNEL_<NAME>_PROVIDER.
  for (const auto& [variable, value] : environment) {
    if (!absl::StartsWith(variable, kEnvPrefix) || !absl::EndsWith(variable, "_PROVIDER")) continue;
    std::string env_name = variable.substr(std::strlen(kEnvPrefix));
    env_name.resize(env_name.size() - std::strlen("_PROVIDER"));
    if (env_name.empty()) continue;
    const std::string name = absl::AsciiStrToLower(env_name);
    bool known = false;
    for (const auto& [existing, channel] : config.channels) known = known || EnvName(existing) == env_name;
    if (known) continue;
    if (!IsValidChannelName(name)) return FieldError(variable, "not a valid channel name");
    config.channels[name].name = name;
    config.channel_order.push_back(name);
  }
  for (const auto& [variable, value] : environment) {
    if (!absl::StartsWith(variable, kEnvPrefix)) continue;
    const std::string rest = variable.substr(std::strlen(kEnvPrefix));
    // The longest channel name wins: with channels "email" and "email_eu",
    // HERALD_CHANNEL_EMAIL_EU_HOST is email_eu's host.
    ChannelConfig* target = nullptr;
    size_t matched = 0;
    for (auto& [name, channel] : config.channels) {
      const std::string prefix = EnvName(name) + "_";
      if (rest.size() > prefix.size() && absl::StartsWith(rest, prefix) && prefix.size() > matched) {
        target = &channel;
        matched = prefix.size();
      }
    }
    if (target == nullptr) continue;  // For a channel not configured here.
    HERALD_RETURN_IF_ERROR(ApplyEnvironmentOverride(variable, rest.substr(matched), value, *target));
  }
  return absl::OkStatus();
}

absl::Status ValidateChannel(const ChannelConfig& channel) {
  const std::string path = absl::StrCat("channels.", channel.name);
  if (channel.provider.empty()) return FieldError(path + ".provider", "required");
  auto provider = ProviderTypes().find(channel.provider);
  if (provider == ProviderTypes().end()) {
    std::vector<std::string> known;
    for (const auto& [name, type] : ProviderTypes()) known.push_back(name);
    return FieldError(path + ".provider", absl::StrCat("unknown provider \"", channel.provider,
                                                       "\" (known: ", absl::StrJoin(known, ", "), ")"));
  }
  if (channel.type.empty()) return FieldError(path + ".type", "required");
  if (!IsChannelType(channel.type)) {
    return FieldError(path + ".type", absl::StrCat("unknown channel type \"", channel.type,
                                                   "\" (email, sms, push, chat or webhook)"));
  }
  if (provider->second != channel.type) {
    return FieldError(path + ".provider", absl::StrCat("provider ", channel.provider, " delivers ", provider->second,
                                                       ", not ", channel.type));
  }
  return absl::OkStatus();
}

// The optional `event_webhook:` section, with HERALD_EVENT_WEBHOOK_URL and
// HERALD_EVENT_WEBHOOK_SECRET applied (either configures it alone).
absl::Status ApplyEventWebhook(const std::map<std::string, std::string>& environment, DeliveryConfig& config) {
  auto url = environment.find(kEventWebhookUrlEnv);
  auto secret = environment.find(kEventWebhookSecretEnv);
  const bool from_env = (url != environment.end() && !url->second.empty()) ||
                        (secret != environment.end() && !secret->second.empty());
  if (!config.event_webhook && !from_env) return absl::OkStatus();
  if (!config.event_webhook) {
    config.event_webhook.emplace();
    config.event_webhook->name = kEventWebhook;
  }
  ChannelConfig& hook = *config.event_webhook;
  if (url != environment.end() && !url->second.empty()) hook.options["url"] = url->second;
  if (secret != environment.end() && !secret->second.empty()) hook.secrets["signing_secret"] = secret->second;
  if (hook.provider.empty()) hook.provider = "webhook";
  if (hook.type.empty()) hook.type = "webhook";
  if (hook.provider != "webhook") return FieldError("event_webhook.provider", "must be webhook");
  if (hook.type != "webhook") return FieldError("event_webhook.type", "must be webhook");
  if (!hook.service.empty()) return FieldError("event_webhook.service", "not supported (events are POSTed in process)");
  if (hook.options["url"].empty()) {
    return FieldError("event_webhook.options.url", absl::StrCat("required (or ", kEventWebhookUrlEnv, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<DeliveryConfig> ParseRoot(const YAML::Node& root, const std::map<std::string, std::string>& environment) {
  DeliveryConfig config;
  if (root.IsDefined() && !root.IsNull()) {
    HERALD_RETURN_IF_ERROR(ForEachField(root, "delivery config", [&](const std::string& key, const YAML::Node& value,
                                                                       const std::string& field) -> absl::Status {
      if (key == kEventWebhook) {
        config.event_webhook.emplace();
        config.event_webhook->name = kEventWebhook;
        return ParseChannel(value, kEventWebhook, environment, *config.event_webhook);
      }
      if (key != "channels") return FieldError(key, "unknown field");
      if (value.IsNull()) return absl::OkStatus();
      return ForEachField(value, "channels", [&](const std::string& name, const YAML::Node& node,
                                                 const std::string& path) -> absl::Status {
        if (!IsValidChannelName(name)) {
          return FieldError(path, "channel names are lower-case letters, digits, '_' and '-'");
        }
        if (config.channels.count(name) > 0) return FieldError(path, "defined twice");
        ChannelConfig& channel = config.channels[name];
        channel.name = name;
        config.channel_order.push_back(name);
        return ParseChannel(node, path, environment, channel);
      });
    }));
  }
  HERALD_RETURN_IF_ERROR(ApplyEnvironment(environment, config));
  for (const std::string& name : config.channel_order) {
    ChannelConfig& channel = config.channels.at(name);
    // The type is implied by the provider; stating it is a check.
    if (auto provider = ProviderTypes().find(channel.provider); channel.type.empty() && provider != ProviderTypes().end()) {
      channel.type = provider->second;
    }
    HERALD_RETURN_IF_ERROR(ValidateChannel(channel));
  }
  HERALD_RETURN_IF_ERROR(ApplyEventWebhook(environment, config));
  return config;
}

}  // namespace

const ChannelConfig* DeliveryConfig::Find(const std::string& channel, const std::string& channel_type) const {
  if (auto it = channels.find(channel); it != channels.end()) {
    if (channel_type.empty() || it->second.type == channel_type) return &it->second;
  }
  if (channel_type.empty()) return nullptr;
  // The file's order when known (channel_order), else the names' order.
  for (const std::string& name : channel_order) {
    auto it = channels.find(name);
    if (it != channels.end() && it->second.type == channel_type) return &it->second;
  }
  for (const auto& [name, config] : channels) {
    if (config.type == channel_type) return &config;
  }
  return nullptr;
}

absl::StatusOr<DeliveryConfig> ParseDeliveryConfig(const std::string& yaml,
                                                   const std::map<std::string, std::string>& environment) {
  YAML::Node root;
  // yaml-cpp reports syntax errors by throwing; this is the one place they
  // are caught. Node access below never throws (IsMap checks, decode()).
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& error) {
    return absl::InvalidArgumentError(absl::StrCat("delivery config: line ", error.mark.line + 1, ": ", error.msg));
  }
  try {
    return ParseRoot(root, environment);
  } catch (const YAML::Exception& error) {
    return absl::InvalidArgumentError(absl::StrCat("delivery config: line ", error.mark.line + 1, ": ", error.msg));
  }
}

absl::StatusOr<DeliveryConfig> LoadDeliveryConfig(const std::string& path) {
  std::map<std::string, std::string> environment;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const char* equals = std::strchr(*entry, '=');
    if (equals == nullptr) continue;
    environment.emplace(std::string(*entry, static_cast<size_t>(equals - *entry)), std::string(equals + 1));
  }
  std::string text;
  if (!path.empty()) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::InvalidArgumentError(absl::StrCat("delivery config ", path, ": ", std::strerror(errno)));
    std::ostringstream content;
    content << in.rdbuf();
    text = content.str();
  }
  auto config = ParseDeliveryConfig(text, environment);
  if (!config.ok() && !path.empty()) {
    return absl::Status(config.status().code(), absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

}  // namespace herald::delivery
