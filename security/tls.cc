#include "security/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace herald::security {
namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;

// How the files of one side are named in errors.
struct FlagNames {
  std::string cert;
  std::string key;
  std::string ca;
};

// Never ask for a passphrase: OpenSSL's default callback would prompt on
// the terminal, and gRPC cannot decrypt a key either.
int NoPassphrase(char*, int, int, void*) { return -1; }

constexpr char kBeginCertificate[] = "-----BEGIN CERTIFICATE-----";

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, ": cannot read: ", std::strerror(errno)));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::unique_ptr<BIO, BioDeleter> MemoryBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioDeleter>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate of a PEM file (a chain or a CA bundle); the others
// must parse too.
absl::StatusOr<X509Ptr> ReadCertificates(const std::string& path, absl::string_view flag) {
  auto pem = ReadFile(path, flag);
  if (!pem.ok()) return pem.status();
  auto bio = MemoryBio(*pem);
  X509Ptr first;
  int count = 0;
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
    if (cert == nullptr) break;
    if (count++ == 0) first = std::move(cert);
  }
  ERR_clear_error();  // the read that ended the loop
  if (count == 0) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, ": no PEM certificate in the file"));
  }
  // PEM_read_bio_X509 stops at the first broken block: say so rather than
  // serve a truncated chain.
  int begins = 0;
  for (size_t at = pem->find(kBeginCertificate); at != std::string::npos; at = pem->find(kBeginCertificate, at + 1)) {
    ++begins;
  }
  if (begins != count) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, ": certificate ", count + 1, " of ", begins,
                                                   " is not valid PEM"));
  }
  return first;
}

absl::StatusOr<KeyPtr> ReadKey(const std::string& path, absl::string_view flag) {
  auto pem = ReadFile(path, flag);
  if (!pem.ok()) return pem.status();
  auto bio = MemoryBio(*pem);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();
  if (key != nullptr) return key;
  if (absl::StrContains(*pem, "ENCRYPTED")) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": the key is encrypted; give an unencrypted PEM key (protect the file instead)"));
  }
  return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, ": no PEM private key in the file"));
}

// Both-or-neither of cert/key, every file readable PEM, the key matching
// the certificate.
absl::Status CheckFiles(const TlsFiles& files, const FlagNames& names) {
  if (files.cert_file.empty() != files.key_file.empty()) {
    const std::string& given = files.cert_file.empty() ? names.key : names.cert;
    const std::string& missing = files.cert_file.empty() ? names.cert : names.key;
    return absl::InvalidArgumentError(absl::StrCat(given, " is set but ", missing, " is not: give both or neither"));
  }
  if (!files.cert_file.empty()) {
    auto cert = ReadCertificates(files.cert_file, names.cert);
    if (!cert.ok()) return cert.status();
    auto key = ReadKey(files.key_file, names.key);
    if (!key.ok()) return key.status();
    if (X509_check_private_key(cert->get(), key->get()) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(absl::StrCat(names.key, " ", files.key_file, ": not the private key of ",
                                                     names.cert, " ", files.cert_file));
    }
  }
  if (!files.ca_file.empty()) {
    auto ca = ReadCertificates(files.ca_file, names.ca);
    if (!ca.ok()) return ca.status();
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> WatchFiles(const TlsFiles& files) {
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key_file, files.cert_file, files.ca_file, std::max(1u, files.refresh_interval_seconds));
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const TlsFiles& files) {
  const FlagNames names{"--tls_cert_file", "--tls_key_file", "--tls_client_ca_file"};
  if (files.cert_file.empty() && files.key_file.empty()) {
    if (!files.ca_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls_client_ca_file is set but --tls_cert_file and --tls_key_file are not: mTLS needs the server's "
          "own certificate too");
    }
    return grpc::InsecureServerCredentials();
  }
  absl::Status checked = CheckFiles(files, names);
  if (!checked.ok()) return checked;
  grpc::experimental::TlsServerCredentialsOptions options(WatchFiles(files));
  options.watch_identity_key_cert_pairs();
  if (!files.ca_file.empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(const TlsFiles& files, bool tls,
                                                                                 absl::string_view flag_prefix) {
  const FlagNames names{absl::StrCat("--", flag_prefix, "cert_file"), absl::StrCat("--", flag_prefix, "key_file"),
                        absl::StrCat("--", flag_prefix, "ca_file")};
  const bool any_file = !files.cert_file.empty() || !files.key_file.empty() || !files.ca_file.empty();
  if (!tls && !any_file) return grpc::InsecureChannelCredentials();
  absl::Status checked = CheckFiles(files, names);
  if (!checked.ok()) return checked;
  grpc::experimental::TlsChannelCredentialsOptions options;
  // Without a provider gRPC verifies against the system roots and presents
  // no certificate.
  if (any_file) {
    options.set_certificate_provider(WatchFiles(files));
    if (!files.ca_file.empty()) options.watch_root_certs();
    if (!files.cert_file.empty()) options.watch_identity_key_cert_pairs();
  }
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace herald::security
