#include "gateway/user_token.h"

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "users/user_store.h"

namespace herald::gateway {
namespace {

// HS256 with a short secret is guessable offline from any token: 256 bits,
// as RFC 7518 section 3.2 requires.
constexpr size_t kMinSecretBytes = 32;

struct JwtDeleter {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

struct MallocDeleter {
  void operator()(char* text) const { free(text); }
};

jwt_alg_t ToJwt(TokenAlgorithm algorithm) {
  return algorithm == TokenAlgorithm::kRs256 ? JWT_ALG_RS256 : JWT_ALG_HS256;
}

// Whether `pem` holds a key OpenSSL reads with `read` (PEM_read_bio_PUBKEY
// or PEM_read_bio_PrivateKey).
template <typename Read>
bool IsPemKey(const std::string& pem, Read read) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return false;
  EVP_PKEY* key = read(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key == nullptr) return false;
  const bool rsa = EVP_PKEY_base_id(key) == EVP_PKEY_RSA;
  EVP_PKEY_free(key);
  return rsa;
}

absl::Status Unauthenticated(absl::string_view why) { return absl::UnauthenticatedError(absl::StrCat("token: ", why)); }

// A NumericDate claim (RFC 7519: seconds, possibly fractional).
absl::StatusOr<int64_t> TimeClaim(const nlohmann::json& claims, const char* name) {
  const nlohmann::json& value = claims[name];
  if (!value.is_number()) return Unauthenticated(absl::StrCat("`", name, "` must be a number of seconds"));
  return static_cast<int64_t>(value.get<double>());
}

}  // namespace

absl::StatusOr<std::unique_ptr<TokenVerifier>> TokenVerifier::Create(TokenSettings settings) {
  if (settings.algorithm == TokenAlgorithm::kHs256) {
    if (settings.key.size() < kMinSecretBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("--gateway_jwt_hs256_secret: must be at least ", kMinSecretBytes, " bytes"));
    }
  } else if (!IsPemKey(settings.key, PEM_read_bio_PUBKEY)) {
    return absl::InvalidArgumentError("--gateway_jwt_rs256_public_key_file: not a PEM RSA public key");
  }
  if (settings.audience.empty()) return absl::InvalidArgumentError("--gateway_jwt_audience: must not be empty");
  if (settings.leeway_seconds < 0) return absl::InvalidArgumentError("token leeway: must be >= 0");
  return std::unique_ptr<TokenVerifier>(new TokenVerifier(std::move(settings)));
}

absl::StatusOr<UserClaims> TokenVerifier::Verify(const std::string& token, int64_t now_seconds) const {
  if (token.empty()) return Unauthenticated("missing");
  if (token.size() > kMaxTokenBytes) return Unauthenticated(absl::StrCat("longer than ", kMaxTokenBytes, " bytes"));
  jwt_t* decoded = nullptr;
  // libjwt verifies the signature with the algorithm the token's header
  // names, and accepts `alg: none` without any; the algorithm check below
  // is what binds the key to its one algorithm.
  const int error = jwt_decode(&decoded, token.c_str(), reinterpret_cast<const unsigned char*>(settings_.key.data()),
                               static_cast<int>(settings_.key.size()));
  JwtPtr jwt(decoded);
  if (error != 0 || jwt == nullptr) return Unauthenticated("malformed or bad signature");
  if (jwt_get_alg(jwt.get()) != ToJwt(settings_.algorithm)) {
    return Unauthenticated(absl::StrCat("algorithm ", jwt_alg_str(jwt_get_alg(jwt.get())), " is not accepted (",
                                        jwt_alg_str(ToJwt(settings_.algorithm)), " only)"));
  }
  std::unique_ptr<char, MallocDeleter> grants(jwt_get_grants_json(jwt.get(), nullptr));
  if (grants == nullptr) return Unauthenticated("no claims");
  nlohmann::json claims = nlohmann::json::parse(grants.get(), nullptr, false);
  if (!claims.is_object()) return Unauthenticated("claims are not a JSON object");

  if (!claims.contains("exp")) return Unauthenticated("`exp` is required");
  auto exp = TimeClaim(claims, "exp");
  if (!exp.ok()) return exp.status();
  if (now_seconds >= *exp + settings_.leeway_seconds) return Unauthenticated("expired");
  if (claims.contains("nbf")) {
    auto nbf = TimeClaim(claims, "nbf");
    if (!nbf.ok()) return nbf.status();
    if (now_seconds + settings_.leeway_seconds < *nbf) return Unauthenticated("not valid yet (`nbf`)");
  }
  if (claims.contains("iat")) {
    auto iat = TimeClaim(claims, "iat");
    if (!iat.ok()) return iat.status();
    if (now_seconds + settings_.leeway_seconds < *iat) return Unauthenticated("issued in the future (`iat`)");
  }

  const nlohmann::json& aud = claims["aud"];
  bool audience_ok = aud.is_string() && aud.get<std::string>() == settings_.audience;
  if (aud.is_array()) {
    for (const auto& entry : aud) audience_ok = audience_ok || (entry.is_string() && entry == settings_.audience);
  }
  if (!audience_ok) return Unauthenticated(absl::StrCat("`aud` must be \"", settings_.audience, "\""));
  if (!settings_.issuer.empty()) {
    const nlohmann::json& iss = claims["iss"];
    if (!iss.is_string() || iss.get<std::string>() != settings_.issuer) {
      return Unauthenticated(absl::StrCat("`iss` must be \"", settings_.issuer, "\""));
    }
  }

  UserClaims user;
  const nlohmann::json& sub = claims["sub"];
  if (!sub.is_string()) return Unauthenticated("`sub` (the user id) is required");
  user.user_id = sub.get<std::string>();
  if (absl::Status valid = users::ValidateId(user.user_id, "sub"); !valid.ok()) return Unauthenticated(valid.message());
  if (claims.contains("tenant")) {
    const nlohmann::json& tenant = claims["tenant"];
    if (!tenant.is_string()) return Unauthenticated("`tenant` must be a string");
    user.tenant = tenant.get<std::string>();
    if (absl::Status valid = users::ValidateId(user.tenant, "tenant"); !valid.ok()) {
      return Unauthenticated(valid.message());
    }
  }
  user.expires_at_seconds = *exp;
  return user;
}

absl::StatusOr<std::string> MintToken(const MintOptions& options) {
  if (absl::Status valid = users::ValidateId(options.user_id, "USER"); !valid.ok()) return valid;
  if (!options.tenant.empty()) {
    if (absl::Status valid = users::ValidateId(options.tenant, "--tenant"); !valid.ok()) return valid;
  }
  if (options.ttl_seconds <= 0) return absl::InvalidArgumentError("--ttl: must be positive");
  if (options.audience.empty()) return absl::InvalidArgumentError("--audience: must not be empty");
  if (options.algorithm == TokenAlgorithm::kHs256 && options.key.size() < kMinSecretBytes) {
    return absl::InvalidArgumentError(absl::StrCat("--secret: must be at least ", kMinSecretBytes, " bytes"));
  }
  if (options.algorithm == TokenAlgorithm::kRs256 && !IsPemKey(options.key, PEM_read_bio_PrivateKey)) {
    return absl::InvalidArgumentError("--private_key_file: not a PEM RSA private key");
  }
  jwt_t* created = nullptr;
  if (jwt_new(&created) != 0) return absl::ResourceExhaustedError("jwt_new failed");
  JwtPtr jwt(created);
  int error = jwt_add_grant(jwt.get(), "sub", options.user_id.c_str());
  if (error == 0) error = jwt_add_grant(jwt.get(), "aud", options.audience.c_str());
  if (error == 0) error = jwt_add_grant_int(jwt.get(), "iat", options.now_seconds);
  if (error == 0) error = jwt_add_grant_int(jwt.get(), "exp", options.now_seconds + options.ttl_seconds);
  if (error == 0 && !options.tenant.empty()) error = jwt_add_grant(jwt.get(), "tenant", options.tenant.c_str());
  if (error == 0 && !options.issuer.empty()) error = jwt_add_grant(jwt.get(), "iss", options.issuer.c_str());
  if (error == 0) error = jwt_set_alg(jwt.get(), ToJwt(options.algorithm),
                               reinterpret_cast<const unsigned char*>(options.key.data()),
                               static_cast<int>(options.key.size()));
  if (error != 0) return absl::InternalError(absl::StrCat("token: libjwt error ", error));
  std::unique_ptr<char, MallocDeleter> encoded(jwt_encode_str(jwt.get()));
  if (encoded == nullptr) return absl::InternalError("token: signing failed");
  return std::string(encoded.get());
}

}  // namespace herald::gateway
