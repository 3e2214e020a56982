// Certificates for TLS tests, made per test run with the openssl CLI in a
// temporary directory: a CA, a server certificate for 127.0.0.1/localhost
// and a client certificate signed by it, and an unrelated CA with its own
// client certificate (what a stranger would present).
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace herald::security::testing {

struct CertKey {
  std::string cert_file;
  std::string key_file;
};

struct TestPki {
  std::string dir;
  std::string ca_file;      // the CA that signed `server` and `client`
  CertKey ca;               // its certificate and key (to issue more)
  CertKey server;           // SAN IP:127.0.0.1, DNS:localhost
  CertKey client;           // CN=herald-client
  std::string other_ca_file;
  CertKey other_ca;
  CertKey other_client;     // signed by other_ca_file, not by ca_file
};

// Makes every file of a TestPki in `dir` (which must exist). INTERNAL when
// openssl fails.
absl::StatusOr<TestPki> MakeTestPki(const std::string& dir);

// Issues `<dir>/<name>.pem` and `<name>.key` signed by `ca`, with common
// name `cn` and subjectAltName `san` (e.g. "DNS:herald.internal").
absl::StatusOr<CertKey> IssueCertificate(const std::string& dir, const CertKey& ca, const std::string& name,
                                         const std::string& cn, const std::string& san);

}  // namespace herald::security::testing
