#include "auth/api_keys.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/log.h"

namespace herald::auth {
namespace {

constexpr char kHashHelp[] = "not a SHA-256 hash (64 hex digits; `herald keys new` prints one)";

KeyHash Sha256(absl::string_view text) {
  KeyHash hash;
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), hash.data());
  return hash;
}

std::optional<KeyHash> ParseHash(absl::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  const std::string bytes = absl::HexStringToBytes(hex);
  KeyHash hash;
  std::copy(bytes.begin(), bytes.end(), hash.begin());
  return hash;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--api_keys_file: cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string Sha256Hex(absl::string_view text) {
  const KeyHash hash = Sha256(text);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(hash.data()), hash.size()));
}

absl::StatusOr<std::vector<ApiKeyEntry>> ParseKeyHashList(absl::string_view list) {
  std::vector<ApiKeyEntry> entries;
  int position = 0;
  for (absl::string_view entry : absl::StrSplit(list, ',')) {
    ++position;
    entry = absl::StripAsciiWhitespace(entry);
    if (entry.empty()) continue;
    std::optional<KeyHash> hash = ParseHash(entry);
    if (!hash) return absl::InvalidArgumentError(absl::StrCat("--api_keys: entry ", position, " is ", kHashHelp));
    entries.push_back({*hash, ""});
  }
  return entries;
}

absl::StatusOr<std::vector<ApiKeyEntry>> ParseKeysFile(absl::string_view text) {
  std::vector<ApiKeyEntry> entries;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.find_first_of(" \t");
    std::optional<KeyHash> hash = ParseHash(line.substr(0, space));
    if (!hash) return absl::InvalidArgumentError(absl::StrCat("line ", number, " is ", kHashHelp));
    std::string label;
    if (space != absl::string_view::npos) label = std::string(absl::StripAsciiWhitespace(line.substr(space)));
    entries.push_back({*hash, std::move(label)});
  }
  return entries;
}

absl::StatusOr<std::unique_ptr<ApiKeys>> ApiKeys::Create(ApiKeysOptions options, prometheus::Registry& metrics) {
  auto fixed = ParseKeyHashList(options.hashes);
  if (!fixed.ok()) return fixed.status();
  std::string text;
  if (!options.file.empty()) {
    auto read = ReadFile(options.file);
    if (!read.ok()) return read.status();
    text = std::move(*read);
    auto parsed = ParseKeysFile(text);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--api_keys_file: ", options.file, ": ", parsed.status().message()));
    }
  }
  auto keys = std::unique_ptr<ApiKeys>(new ApiKeys(std::move(options), std::move(*fixed), metrics));
  keys->Reload(text, /*announce=*/false);
  if (!keys->options_.file.empty()) keys->watcher_ = std::thread([raw = keys.get()] { raw->Watch(); });
  return keys;
}

ApiKeys::ApiKeys(ApiKeysOptions options, std::vector<ApiKeyEntry> fixed, prometheus::Registry& metrics)
    : options_(std::move(options)),
      fixed_(std::move(fixed)),
      missing_(prometheus::BuildCounter()
                   .Name("herald_auth_failures_total")
                   .Help("Calls refused for want of a valid API key, by reason (missing or invalid)")
                   .Register(metrics)
                   .Add({{"reason", "missing"}})),
      invalid_(prometheus::BuildCounter()
                   .Name("herald_auth_failures_total")
                   .Help("Calls refused for want of a valid API key, by reason (missing or invalid)")
                   .Register(metrics)
                   .Add({{"reason", "invalid"}})),
      keys_(std::make_shared<const std::vector<ApiKeyEntry>>(fixed_)) {}

ApiKeys::~ApiKeys() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (watcher_.joinable()) watcher_.join();
}

void ApiKeys::Reload(const std::string& text, bool announce) {
  auto parsed = ParseKeysFile(text);
  absl::MutexLock lock(&mu_);
  file_text_ = text;
  if (!parsed.ok()) {
    log::Error("auth", "--api_keys_file changed but does not parse; the keys loaded before stay",
               {{"file", options_.file}, {"error", std::string(parsed.status().message())}, {"keys", keys_->size()}});
    return;
  }
  auto keys = std::make_shared<std::vector<ApiKeyEntry>>(fixed_);
  keys->insert(keys->end(), parsed->begin(), parsed->end());
  keys_ = std::move(keys);
  if (!announce) return;
  // Labels, never hashes: enough to see that a rotation took effect.
  std::vector<absl::string_view> labels;
  for (const ApiKeyEntry& entry : *keys_) {
    if (!entry.label.empty()) labels.push_back(entry.label);
  }
  log::Info("auth", "--api_keys_file changed",
            {{"file", options_.file}, {"keys", keys_->size()}, {"labels", absl::StrJoin(labels, ", ")}});
}

void ApiKeys::Watch() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.reload_interval)) return;
    }
    // A file that cannot be read (being replaced, briefly missing) keeps
    // the keys as they are; the next look takes what is there then.
    auto text = ReadFile(options_.file);
    bool changed = false;
    if (text.ok()) {
      absl::MutexLock lock(&mu_);
      changed = *text != file_text_;
    }
    if (changed) Reload(*text, /*announce=*/true);
    absl::MutexLock lock(&mu_);
    ++file_checks_;
  }
}

int64_t ApiKeys::FileChecksForTest() const {
  absl::MutexLock lock(&mu_);
  return file_checks_;
}

size_t ApiKeys::size() const {
  absl::MutexLock lock(&mu_);
  return keys_->size();
}

absl::StatusOr<std::string> ApiKeys::Authenticate(const grpc::ServerContextBase& context) const {
  const auto& metadata = context.client_metadata();
  auto found = metadata.find("authorization");
  if (found == metadata.end()) return Authenticate(std::nullopt);
  return Authenticate(absl::string_view(found->second.data(), found->second.size()));
}

absl::StatusOr<std::string> ApiKeys::Authenticate(std::optional<absl::string_view> authorization) const {
  // The scheme is case-insensitive (RFC 9110); the key is what follows.
  absl::string_view key;
  if (authorization.has_value()) {
    absl::string_view value = absl::StripLeadingAsciiWhitespace(*authorization);
    if (value.size() > 7 && absl::EqualsIgnoreCase(value.substr(0, 7), "bearer ")) {
      key = absl::StripAsciiWhitespace(value.substr(7));
    }
  }
  if (key.empty()) {
    missing_.Increment();
    return absl::UnauthenticatedError("authorization: an API key is required (metadata `authorization: Bearer <key>`)");
  }
  const KeyHash presented = Sha256(key);
  std::shared_ptr<const std::vector<ApiKeyEntry>> keys;
  {
    absl::MutexLock lock(&mu_);
    keys = keys_;
  }
  // Every configured hash is compared, in constant time, whatever matched:
  // neither the timing nor the number of comparisons depends on the key.
  const ApiKeyEntry* match = nullptr;
  for (const ApiKeyEntry& entry : *keys) {
    if (CRYPTO_memcmp(entry.hash.data(), presented.data(), presented.size()) == 0) match = &entry;
  }
  if (match == nullptr) {
    invalid_.Increment();
    return absl::UnauthenticatedError("authorization: the API key is not valid (unknown or revoked)");
  }
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(presented.data()), presented.size()));
}

}  // namespace herald::auth
