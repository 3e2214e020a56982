#include "auth/keys_command.h"

#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "auth/api_keys.h"

namespace herald::auth {

absl::StatusOr<NewKey> MakeApiKey() {
  unsigned char random[32];
  if (RAND_bytes(random, sizeof(random)) != 1) return absl::InternalError("keys: no random bytes from OpenSSL");
  NewKey made;
  made.key = absl::StrCat(kApiKeyPrefix,
                          absl::WebSafeBase64Escape(absl::string_view(reinterpret_cast<char*>(random), sizeof(random))));
  made.hash = Sha256Hex(made.key);
  return made;
}

int RunKeysCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() != 1 || args[0] != "new") {
    err << "usage: herald keys new   (prints a fresh API key and its SHA-256 hash)" << std::endl;
    return 2;
  }
  auto made = MakeApiKey();
  if (!made.ok()) {
    err << "herald: " << made.status().message() << std::endl;
    return 1;
  }
  out << "key:  " << made->key << "\n"
      << "hash: " << made->hash << "\n"
      << "Give the key to the caller (HERALD_API_KEY for heraldctl, else metadata `authorization: Bearer <key>`) and "
         "only the hash to Herald (--api_keys / HERALD_API_KEYS, or a line of --api_keys_file)."
      << std::endl;
  return 0;
}

}  // namespace herald::auth
