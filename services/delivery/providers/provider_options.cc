// ProviderOptions: option parsing shared by every provider factory.
#include "services/delivery/providers/provider_options.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace herald::delivery {

std::string ProviderOptions::OptionPath(const std::string& option) const {
  return absl::StrCat("channels.", channel_.name, ".options.", option);
}

std::string ProviderOptions::String(const std::string& name, const std::string& fallback) const {
  auto it = channel_.options.find(name);
  return it == channel_.options.end() ? fallback : it->second;
}

absl::StatusOr<std::string> ProviderOptions::RequiredString(const std::string& name) const {
  std::string value = String(name);
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(OptionPath(name), ": required by provider ", channel_.provider));
  }
  return value;
}

absl::StatusOr<int64_t> ProviderOptions::Int(const std::string& name, int64_t fallback, int64_t min,
                                             int64_t max) const {
  auto it = channel_.options.find(name);
  if (it == channel_.options.end()) return fallback;
  int64_t value = 0;
  if (!absl::SimpleAtoi(it->second, &value) || value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(OptionPath(name), ": must be an integer from ", min, " to ", max));
  }
  return value;
}

absl::StatusOr<bool> ProviderOptions::Bool(const std::string& name, bool fallback) const {
  auto it = channel_.options.find(name);
  if (it == channel_.options.end()) return fallback;
  const std::string value = absl::AsciiStrToLower(it->second);
  if (value == "true") return true;
  if (value == "false") return false;
  return absl::InvalidArgumentError(absl::StrCat(OptionPath(name), ": must be true or false"));
}

absl::StatusOr<std::string> ProviderOptions::OneOf(const std::string& name, const std::string& fallback,
                                                   const std::vector<std::string>& allowed) const {
  std::string value = String(name, fallback);
  for (const std::string& candidate : allowed) {
    if (value == candidate) return value;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(OptionPath(name), ": must be one of ", absl::StrJoin(allowed, ", ")));
}

absl::StatusOr<std::string> ProviderOptions::BaseUrl(const std::string& name, const std::string& fallback) const {
  std::string value = String(name, fallback);
  if (!absl::StartsWith(value, "http://") && !absl::StartsWith(value, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat(OptionPath(name), ": must be an http:// or https:// URL"));
  }
  while (absl::EndsWith(value, "/")) value.pop_back();
  return value;
}

std::string ProviderOptions::Secret(const std::string& name) const {
  auto it = channel_.secrets.find(name);
  return it == channel_.secrets.end() ? "" : it->second;
}

absl::StatusOr<std::string> ProviderOptions::RequiredSecret(const std::string& name) const {
  std::string value = Secret(name);
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("channels.", channel_.name, ".secrets.", name,
                                                   ": required by provider ", channel_.provider));
  }
  return value;
}

}  // namespace herald::delivery
