// HMAC-SHA256 via OpenSSL's one-shot HMAC().
#include "services/delivery/providers/webhook_signature.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace herald::delivery {

std::string HmacSha256Hex(absl::string_view key, absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), digest, &length);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), length));
}

std::string WebhookSignature(absl::string_view secret, int64_t timestamp_seconds, absl::string_view body) {
  return absl::StrCat("v1=", HmacSha256Hex(secret, absl::StrCat(timestamp_seconds, ".", body)));
}

}  // namespace herald::delivery
