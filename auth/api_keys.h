// API keys for Herald's gRPC services: callers send `authorization: Bearer
// <key>` metadata; Herald is configured with the SHA-256 hashes of the keys
// only (--api_keys, and --api_keys_file which is re-read when it changes,
// so keys are added and revoked without a restart). A presented key is
// hashed and compared in constant time with every configured hash. Neither
// a key nor a hash is ever logged, counted in a label or put in an error.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace herald::auth {

using KeyHash = std::array<uint8_t, 32>;

struct ApiKeyEntry {
  KeyHash hash{};
  std::string label;  // from the keys file; may be empty
};

// The SHA-256 of `text`, as 64 lowercase hex digits.
std::string Sha256Hex(absl::string_view text);

// --api_keys: comma-separated hashes (spaces around them ignored).
// INVALID_ARGUMENT naming the entry by position, never echoing it (a key
// pasted by mistake where its hash belongs must not end up in a log).
absl::StatusOr<std::vector<ApiKeyEntry>> ParseKeyHashList(absl::string_view list);

// A keys file: one hash per line, an optional label after whitespace,
// blank lines and `#` comments ignored. INVALID_ARGUMENT naming the line.
absl::StatusOr<std::vector<ApiKeyEntry>> ParseKeysFile(absl::string_view text);

struct ApiKeysOptions {
  std::string hashes;  // --api_keys
  std::string file;    // --api_keys_file; empty = none
  // How often the file is checked for changes.
  absl::Duration reload_interval = absl::Seconds(1);
};

// Thread-safe.
class ApiKeys {
 public:
  // Loads the keys and, with a file, starts watching it. INVALID_ARGUMENT
  // naming the flag for a malformed hash or an unreadable file.
  static absl::StatusOr<std::unique_ptr<ApiKeys>> Create(ApiKeysOptions options, prometheus::Registry& metrics);
  ~ApiKeys();
  ApiKeys(const ApiKeys&) = delete;
  ApiKeys& operator=(const ApiKeys&) = delete;

  // Checks a call's `authorization` metadata. Returns the SHA-256 hex of
  // the presented key (who is calling, e.g. for rate limits); otherwise
  // UNAUTHENTICATED, counted in herald_auth_failures_total{reason}.
  absl::StatusOr<std::string> Authenticate(const grpc::ServerContextBase& context) const;
  // The same for the metadata's value (nullopt: the call had none).
  absl::StatusOr<std::string> Authenticate(std::optional<absl::string_view> authorization) const;

  // Keys accepted now.
  size_t size() const;
  // How often the watcher has looked at the keys file so far.
  int64_t FileChecksForTest() const;

 private:
  ApiKeys(ApiKeysOptions options, std::vector<ApiKeyEntry> fixed, prometheus::Registry& metrics);
  // Replaces the keys from the file with `text`'s (saying so when
  // `announce`); keeps the previous ones, and says why, when it does not
  // parse.
  void Reload(const std::string& text, bool announce);
  void Watch();

  // Constant after construction.
  const ApiKeysOptions options_;
  const std::vector<ApiKeyEntry> fixed_;  // from --api_keys
  prometheus::Counter& missing_;
  prometheus::Counter& invalid_;

  mutable absl::Mutex mu_;
  // fixed_ plus the file's keys: replaced whole, so a check holds a
  // consistent set without holding the lock.
  std::shared_ptr<const std::vector<ApiKeyEntry>> keys_ ABSL_GUARDED_BY(mu_);
  std::string file_text_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t file_checks_ ABSL_GUARDED_BY(mu_) = 0;

  std::thread watcher_;
};

}  // namespace herald::auth
