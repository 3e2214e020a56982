// TLS for Herald's gRPC listeners (the API/health listener, the delivery
// service) and for its gRPC clients (heraldctl, the dispatcher's delivery
// service client): PEM files are checked once at start so a bad file is a
// start error naming its flag, then handed to gRPC's file-watching
// certificate provider, which re-reads them when they change (cert-manager
// rotates Kubernetes secrets in place), so a rotation needs no restart.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace herald::security {

// PEM file paths of one side of a TLS connection. Empty fields are unset.
struct TlsFiles {
  // This side's certificate chain and its private key (unencrypted PEM):
  // a server's identity, or a client's certificate for mTLS. Both or neither.
  std::string cert_file;
  std::string key_file;
  // CA bundle that verifies the peer. On a server: client certificates are
  // then required and verified (mTLS). On a client: verifies the server
  // (empty: the system's trusted roots).
  std::string ca_file;
  // How often gRPC looks at the files for a change (seconds, at least 1).
  unsigned int refresh_interval_seconds = 60;
};

// The credentials of a listener: insecure when `files` sets nothing, else
// TLS (client certificates required and verified when ca_file is set).
// INVALID_ARGUMENT naming the flag (--tls_cert_file, --tls_key_file,
// --tls_client_ca_file) for one of cert/key without the other, a CA without
// them, an unreadable file, a file that holds no PEM certificate or key, an
// encrypted key, or a key that does not belong to the certificate.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const TlsFiles& files);

// The credentials of a client channel: insecure when `tls` is false and
// `files` sets nothing, else TLS verifying the server's certificate and
// host name (against ca_file, or the system roots) and presenting
// cert_file/key_file when set. Errors as MakeServerCredentials, naming the
// client's flags: "--<flag_prefix>ca_file", "--<flag_prefix>cert_file",
// "--<flag_prefix>key_file" (e.g. flag_prefix "delivery_tls_").
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(const TlsFiles& files, bool tls,
                                                                                 absl::string_view flag_prefix);

}  // namespace herald::security
