// heraldctl token USER: a development user token for the browser gateway
// (gateway/HTTP_API.md), signed like the customer's backend would: HS256
// with the gateway's secret, or RS256 with the private key whose public
// half the gateway holds. Runs locally; it calls nothing.
#include <fstream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/cli.h"
#include "gateway/user_token.h"

ABSL_FLAG(absl::Duration, ttl, absl::Hours(1), "token: how long the token is valid (e.g. 15m, 1h, 24h)");
ABSL_FLAG(std::string, secret, "",
          "token: the HS256 secret (the gateway's --gateway_jwt_hs256_secret; default $HERALD_GATEWAY_JWT_HS256_SECRET)");
ABSL_FLAG(std::string, secret_file, "", "token: a file holding the HS256 secret (trailing whitespace ignored)");
ABSL_FLAG(std::string, private_key_file, "", "token: sign RS256 with this PEM RSA private key instead");
ABSL_FLAG(std::string, audience, "herald", "token: the `aud` claim (the gateway's --gateway_jwt_audience)");
ABSL_FLAG(std::string, issuer, "", "token: the `iss` claim (none by default)");

namespace herald::cli {
namespace {

bool ReadFile(const std::string& path, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream buffer;
  buffer << in.rdbuf();
  *text = buffer.str();
  return true;
}

Outcome Token(Cli&, Args args) {
  gateway::MintOptions mint;
  mint.user_id = args[0];
  mint.tenant = absl::GetFlag(FLAGS_tenant);
  mint.audience = absl::GetFlag(FLAGS_audience);
  mint.issuer = absl::GetFlag(FLAGS_issuer);
  mint.now_seconds = absl::ToUnixSeconds(absl::Now());
  mint.ttl_seconds = absl::ToInt64Seconds(absl::GetFlag(FLAGS_ttl));
  const std::string secret_file = absl::GetFlag(FLAGS_secret_file);
  const std::string key_file = absl::GetFlag(FLAGS_private_key_file);
  std::string secret = absl::GetFlag(FLAGS_secret);
  if (secret.empty() && secret_file.empty() && key_file.empty()) {
    if (const char* from_env = std::getenv("HERALD_GATEWAY_JWT_HS256_SECRET")) secret = from_env;
  }
  const int given = !secret.empty() + !secret_file.empty() + !key_file.empty();
  if (given != 1) return Outcome::Usage("give exactly one of --secret, --secret_file and --private_key_file");
  if (!key_file.empty()) {
    mint.algorithm = gateway::TokenAlgorithm::kRs256;
    if (!ReadFile(key_file, &mint.key)) {
      std::cerr << "heraldctl: --private_key_file: cannot read " << key_file << "\n";
      return Outcome::Failed();
    }
  } else if (!secret_file.empty()) {
    if (!ReadFile(secret_file, &mint.key)) {
      std::cerr << "heraldctl: --secret_file: cannot read " << secret_file << "\n";
      return Outcome::Failed();
    }
    mint.key = std::string(absl::StripTrailingAsciiWhitespace(mint.key));
  } else {
    mint.key = secret;
  }
  auto token = gateway::MintToken(mint);
  if (!token.ok()) return Outcome::Usage(std::string(token.status().message()));
  std::cout << *token << "\n" << std::flush;
  return Outcome::Ok();
}

}  // namespace

CommandGroup TokenCommands() {
  return {"Browser gateway",
          {
              {"token", "", "USER", "mint a development user token for the browser gateway (HS256 or RS256)",
               {"--tenant=TENANT", "--ttl=DURATION", "--secret=SECRET", "--secret_file=PATH",
                "--private_key_file=PEM", "--audience=AUD", "--issuer=ISS"},
               Token},
          }};
}

}  // namespace herald::cli
