// `herald keys new`: makes an API key and prints it with the hash Herald is
// configured with, so keys never need another tool.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace herald::auth {

// Every key starts with this, so a leaked one is recognisable (secret
// scanners, log reviews).
inline constexpr char kApiKeyPrefix[] = "hrld_";

struct NewKey {
  std::string key;   // kApiKeyPrefix + 32 random bytes, URL-safe base64
  std::string hash;  // its SHA-256, 64 hex digits
};

// INTERNAL when the system cannot give random bytes.
absl::StatusOr<NewKey> MakeApiKey();

// `herald keys <args>`: "new" prints a key, its hash and how to use them to
// `out`. Returns the exit code (2 after printing usage to `err`).
int RunKeysCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace herald::auth
