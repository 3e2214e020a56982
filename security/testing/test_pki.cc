#include "security/testing/test_pki.h"

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace herald::security::testing {
namespace {

// P-256 keys: generated in milliseconds, unlike RSA.
constexpr char kNewKey[] = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2";

absl::Status Run(const std::string& command) {
  const std::string quiet = absl::StrCat(command, " >/dev/null 2>&1");
  if (std::system(quiet.c_str()) != 0) return absl::InternalError(absl::StrCat("failed: ", command));
  return absl::OkStatus();
}

// An openssl config whose section [leaf] or [ca] gives the extensions.
absl::StatusOr<std::string> WriteConfig(const std::string& dir, const std::string& name, const std::string& san) {
  const std::string path = absl::StrCat(dir, "/", name, ".cnf");
  std::ofstream out(path);
  out << "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = placeholder\n"
      << "[leaf]\nbasicConstraints = critical, CA:FALSE\n"
      << "keyUsage = critical, digitalSignature, keyEncipherment\n"
      << "extendedKeyUsage = serverAuth, clientAuth\n";
  if (!san.empty()) out << "subjectAltName = " << san << "\n";
  out << "[ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n";
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return path;
}

absl::StatusOr<CertKey> MakeCa(const std::string& dir, const std::string& name) {
  auto config = WriteConfig(dir, name, "");
  if (!config.ok()) return config.status();
  CertKey ca{absl::StrCat(dir, "/", name, ".pem"), absl::StrCat(dir, "/", name, ".key")};
  absl::Status made = Run(absl::StrCat("openssl req -x509 -config ", *config, " -extensions ca ", kNewKey,
                                       " -subj '/CN=Herald test ", name, "' -keyout ", ca.key_file, " -out ",
                                       ca.cert_file));
  if (!made.ok()) return made;
  return ca;
}

}  // namespace

absl::StatusOr<CertKey> IssueCertificate(const std::string& dir, const CertKey& ca, const std::string& name,
                                         const std::string& cn, const std::string& san) {
  auto config = WriteConfig(dir, name, san);
  if (!config.ok()) return config.status();
  CertKey leaf{absl::StrCat(dir, "/", name, ".pem"), absl::StrCat(dir, "/", name, ".key")};
  absl::Status made = Run(absl::StrCat("openssl req -x509 -config ", *config, " -extensions leaf -CA ", ca.cert_file,
                                       " -CAkey ", ca.key_file, " ", kNewKey, " -subj '/CN=", cn, "' -keyout ",
                                       leaf.key_file, " -out ", leaf.cert_file));
  if (!made.ok()) return made;
  return leaf;
}

absl::StatusOr<TestPki> MakeTestPki(const std::string& dir) {
  TestPki pki;
  pki.dir = dir;
  auto ca = MakeCa(dir, "ca");
  if (!ca.ok()) return ca.status();
  pki.ca = *ca;
  pki.ca_file = ca->cert_file;
  auto server = IssueCertificate(dir, pki.ca, "server", "127.0.0.1", "IP:127.0.0.1, DNS:localhost");
  if (!server.ok()) return server.status();
  pki.server = *server;
  auto client = IssueCertificate(dir, pki.ca, "client", "herald-client", "");
  if (!client.ok()) return client.status();
  pki.client = *client;
  auto other_ca = MakeCa(dir, "other-ca");
  if (!other_ca.ok()) return other_ca.status();
  pki.other_ca = *other_ca;
  pki.other_ca_file = other_ca->cert_file;
  auto other_client = IssueCertificate(dir, *other_ca, "other-client", "stranger", "");
  if (!other_client.ok()) return other_client.status();
  pki.other_client = *other_client;
  return pki;
}

}  // namespace herald::security::testing
