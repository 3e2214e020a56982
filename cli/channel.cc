#include "cli/channel.h"

#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "security/tls.h"

ABSL_FLAG(bool, tls, false,
          "speak TLS, verifying Herald's certificate against the system's roots (implied by --tls_ca_file and "
          "--tls_cert_file) [env HERALD_TLS]");
ABSL_FLAG(std::string, tls_ca_file, "", "PEM CA bundle that verifies Herald's certificate [env HERALD_TLS_CA_FILE]");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM client certificate, for a Herald that requires one (mTLS) [env HERALD_TLS_CERT_FILE]");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file [env HERALD_TLS_KEY_FILE]");
ABSL_FLAG(std::string, tls_server_name, "",
          "the name Herald's certificate must carry, when --addr does not (e.g. an IP or a port-forward) [env "
          "HERALD_TLS_SERVER_NAME]");

namespace herald::cli {
namespace {

// The flag's value, else its environment variable's.
std::string FlagOrEnv(const absl::Flag<std::string>& flag, const char* env) {
  std::string value = absl::GetFlag(flag);
  if (!value.empty()) return value;
  const char* from_env = std::getenv(env);
  return from_env != nullptr ? from_env : "";
}

bool EnvTrue(const char* env) {
  const char* value = std::getenv(env);
  if (value == nullptr) return false;
  const std::string lower = absl::AsciiStrToLower(value);
  return lower == "1" || lower == "true" || lower == "yes";
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& address) {
  security::TlsFiles files;
  files.ca_file = FlagOrEnv(FLAGS_tls_ca_file, "HERALD_TLS_CA_FILE");
  files.cert_file = FlagOrEnv(FLAGS_tls_cert_file, "HERALD_TLS_CERT_FILE");
  files.key_file = FlagOrEnv(FLAGS_tls_key_file, "HERALD_TLS_KEY_FILE");
  const std::string server_name = FlagOrEnv(FLAGS_tls_server_name, "HERALD_TLS_SERVER_NAME");
  // A server name alone asks for TLS too: it means nothing over plaintext.
  const bool tls = absl::GetFlag(FLAGS_tls) || EnvTrue("HERALD_TLS") || !server_name.empty();
  auto credentials = security::MakeChannelCredentials(files, tls, "tls_");
  if (!credentials.ok()) return credentials.status();
  grpc::ChannelArguments arguments;
  if (!server_name.empty()) arguments.SetSslTargetNameOverride(server_name);
  return grpc::CreateCustomChannel(address, *credentials, arguments);
}

}  // namespace herald::cli
