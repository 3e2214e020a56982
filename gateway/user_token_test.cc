// The token verifier against tokens libjwt signs: the accepted shape, and
// every refusal the contract names (gateway/HTTP_API.md "Authentication").
#include "gateway/user_token.h"

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdlib>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald::gateway {
namespace {

constexpr char kSecret[] = "0123456789abcdef0123456789abcdef-test-secret";
constexpr int64_t kNow = 1'800'000'000;

struct RsaPair {
  std::string private_pem;
  std::string public_pem;
};

RsaPair MakeRsa() {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  RsaPair pair;
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  pair.private_pem.assign(data, size);
  BIO_free(bio);
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  size = BIO_get_mem_data(bio, &data);
  pair.public_pem.assign(data, size);
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pair;
}

// A token with these claims (JSON), signed with `alg` and `key` by libjwt.
std::string Sign(const std::string& claims_json, jwt_alg_t alg, const std::string& key) {
  jwt_t* jwt = nullptr;
  jwt_new(&jwt);
  jwt_add_grants_json(jwt, claims_json.c_str());
  jwt_set_alg(jwt, alg, alg == JWT_ALG_NONE ? nullptr : reinterpret_cast<const unsigned char*>(key.data()),
              alg == JWT_ALG_NONE ? 0 : static_cast<int>(key.size()));
  char* encoded = jwt_encode_str(jwt);
  std::string token = encoded ? encoded : "";
  free(encoded);
  jwt_free(jwt);
  return token;
}

std::unique_ptr<TokenVerifier> Hs256Verifier() {
  TokenSettings settings;
  settings.key = kSecret;
  auto verifier = TokenVerifier::Create(settings);
  EXPECT_TRUE(verifier.ok()) << verifier.status();
  return std::move(*verifier);
}

TEST(UserTokenTest, MintedHs256TokenVerifies) {
  MintOptions mint;
  mint.user_id = "u1";
  mint.tenant = "acme";
  mint.now_seconds = kNow;
  mint.key = kSecret;
  auto token = MintToken(mint);
  ASSERT_TRUE(token.ok()) << token.status();
  auto claims = Hs256Verifier()->Verify(*token, kNow + 10);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->user_id, "u1");
  EXPECT_EQ(claims->tenant, "acme");
  EXPECT_EQ(claims->expires_at_seconds, kNow + 3600);
}

TEST(UserTokenTest, RefusesWhatTheContractRefuses) {
  auto verifier = Hs256Verifier();
  const std::string good = R"("sub":"u1","aud":"herald","exp":1800000100)";
  struct Case {
    std::string name;
    std::string token;
    std::string why;
  };
  const std::vector<Case> cases = {
      {"expired", Sign(R"({"sub":"u1","aud":"herald","exp":1799999000})", JWT_ALG_HS256, kSecret), "expired"},
      {"no exp", Sign(R"({"sub":"u1","aud":"herald"})", JWT_ALG_HS256, kSecret), "`exp` is required"},
      {"wrong signature", Sign("{" + good + "}", JWT_ALG_HS256, "another-secret-of-enough-length-0123456789"),
       "bad signature"},
      {"wrong audience", Sign(R"({"sub":"u1","aud":"other","exp":1800000100})", JWT_ALG_HS256, kSecret), "`aud`"},
      {"no audience", Sign(R"({"sub":"u1","exp":1800000100})", JWT_ALG_HS256, kSecret), "`aud`"},
      {"no sub", Sign(R"({"aud":"herald","exp":1800000100})", JWT_ALG_HS256, kSecret), "`sub`"},
      {"empty sub", Sign(R"({"sub":"","aud":"herald","exp":1800000100})", JWT_ALG_HS256, kSecret), "sub"},
      {"not before", Sign("{" + good + R"(,"nbf":1800000090})", JWT_ALG_HS256, kSecret), "nbf"},
      {"issued in the future", Sign("{" + good + R"(,"iat":1800000090})", JWT_ALG_HS256, kSecret), "iat"},
      // libjwt itself refuses an unsigned token when given a key; the
      // algorithm check would refuse it too.
      {"alg none", Sign("{" + good + "}", JWT_ALG_NONE, ""), "token: "},
      {"HS512", Sign("{" + good + "}", JWT_ALG_HS512, kSecret), "algorithm HS512"},
      {"garbage", "not.a.token", "malformed"},
      {"empty", "", "missing"},
      {"huge", std::string(kMaxTokenBytes + 1, 'a'), "longer than"},
      {"tenant not a string", Sign("{" + good + R"(,"tenant":7})", JWT_ALG_HS256, kSecret), "tenant"},
  };
  // The unsigned case really is one: header.payload. with no signature.
  EXPECT_EQ(cases[9].token.back(), '.');
  for (const Case& c : cases) {
    auto claims = verifier->Verify(c.token, kNow);
    EXPECT_EQ(claims.status().code(), absl::StatusCode::kUnauthenticated) << c.name << ": " << claims.status();
    EXPECT_THAT(claims.status().message(), ::testing::HasSubstr(c.why)) << c.name;
  }
  // And the same claims, correctly signed, pass: the cases fail for their
  // one reason.
  EXPECT_TRUE(verifier->Verify(Sign("{" + good + "}", JWT_ALG_HS256, kSecret), kNow).ok());
}

TEST(UserTokenTest, Rs256AndTheAlgorithmConfusion) {
  const RsaPair rsa = MakeRsa();
  TokenSettings settings;
  settings.algorithm = TokenAlgorithm::kRs256;
  settings.key = rsa.public_pem;
  auto verifier = TokenVerifier::Create(settings);
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  MintOptions mint;
  mint.user_id = "u2";
  mint.now_seconds = kNow;
  mint.algorithm = TokenAlgorithm::kRs256;
  mint.key = rsa.private_pem;
  auto token = MintToken(mint);
  ASSERT_TRUE(token.ok()) << token.status();
  auto claims = (*verifier)->Verify(*token, kNow);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->user_id, "u2");

  // HS256 with the RSA public key as the HMAC secret: a signature libjwt
  // alone would accept when handed the public key.
  const std::string forged = Sign(R"({"sub":"u2","aud":"herald","exp":1800000100})", JWT_ALG_HS256, rsa.public_pem);
  auto refused = (*verifier)->Verify(forged, kNow);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("algorithm HS256 is not accepted"));
  // Another key pair's signature.
  mint.key = MakeRsa().private_pem;
  EXPECT_EQ((*verifier)->Verify(*MintToken(mint), kNow).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(UserTokenTest, SettingsAreChecked) {
  TokenSettings short_secret;
  short_secret.key = "short";
  EXPECT_THAT(TokenVerifier::Create(short_secret).status().message(),
              ::testing::HasSubstr("--gateway_jwt_hs256_secret"));
  TokenSettings not_pem;
  not_pem.algorithm = TokenAlgorithm::kRs256;
  not_pem.key = "-----BEGIN PUBLIC KEY-----\nxx\n";
  EXPECT_THAT(TokenVerifier::Create(not_pem).status().message(),
              ::testing::HasSubstr("--gateway_jwt_rs256_public_key_file"));
  MintOptions mint;
  mint.user_id = "";
  mint.key = kSecret;
  EXPECT_EQ(MintToken(mint).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace herald::gateway
