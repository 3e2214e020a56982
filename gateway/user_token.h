// User tokens of the browser gateway (gateway/HTTP_API.md "Authentication"):
// JWTs issued by the customer's backend, signed HS256 (a shared secret) or
// RS256 (the gateway holds the public key), verified with libjwt. The
// verifier accepts exactly one configured algorithm: `alg: none` and any
// other algorithm are refused before a claim is read, which also defeats
// the HS256-signed-with-the-RSA-public-key confusion. `heraldctl token`
// mints development tokens with MintToken.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace herald::gateway {

enum class TokenAlgorithm { kHs256, kRs256 };

struct TokenSettings {
  TokenAlgorithm algorithm = TokenAlgorithm::kHs256;
  // HS256: the shared secret; RS256: the PEM public key.
  std::string key;
  // `aud` must equal (or, as an array, contain) this.
  std::string audience = "herald";
  // When set, `iss` must equal it.
  std::string issuer;
  // Clock skew allowed on exp, nbf and iat.
  int64_t leeway_seconds = 30;
};

// What a verified token says.
struct UserClaims {
  std::string user_id;  // sub
  std::string tenant;   // "" = no tenant claim
  int64_t expires_at_seconds = 0;
};

// Tokens longer than this are refused without decoding.
inline constexpr size_t kMaxTokenBytes = 8 * 1024;

// Thread-safe (immutable after Create).
class TokenVerifier {
 public:
  // INVALID_ARGUMENT naming the flag when the key is empty (or, RS256, not
  // a PEM public key) or the audience is empty.
  static absl::StatusOr<std::unique_ptr<TokenVerifier>> Create(TokenSettings settings);

  // The claims of `token` at `now_seconds`, or UNAUTHENTICATED saying why
  // (bad signature, wrong algorithm, expired, wrong audience, missing sub,
  // ...). Never another code: every failure is the caller's token.
  absl::StatusOr<UserClaims> Verify(const std::string& token, int64_t now_seconds) const;

 private:
  explicit TokenVerifier(TokenSettings settings) : settings_(std::move(settings)) {}
  const TokenSettings settings_;
};

struct MintOptions {
  std::string user_id;
  std::string tenant;  // "" = no tenant claim
  std::string audience = "herald";
  std::string issuer;  // "" = no iss claim
  int64_t now_seconds = 0;
  int64_t ttl_seconds = 3600;
  TokenAlgorithm algorithm = TokenAlgorithm::kHs256;
  // HS256: the shared secret; RS256: the PEM private key.
  std::string key;
};

// A signed token with sub, aud, iat, exp (and tenant, iss when given).
// INVALID_ARGUMENT naming the option when the user id, key or ttl is
// unusable.
absl::StatusOr<std::string> MintToken(const MintOptions& options);

}  // namespace herald::gateway
