// heraldctl's connection to Herald: --addr, and TLS from --tls,
// --tls_ca_file, --tls_cert_file/--tls_key_file (mTLS) and
// --tls_server_name, each also read from HERALD_<FLAG IN UPPER CASE> when the
// flag is not given.
#pragma once

#include <memory>

#include <grpcpp/grpcpp.h>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"

ABSL_DECLARE_FLAG(bool, tls);
ABSL_DECLARE_FLAG(std::string, tls_ca_file);
ABSL_DECLARE_FLAG(std::string, tls_cert_file);
ABSL_DECLARE_FLAG(std::string, tls_key_file);
ABSL_DECLARE_FLAG(std::string, tls_server_name);

namespace herald::cli {

// The channel to `address` the TLS flags describe: plaintext when none is
// set. INVALID_ARGUMENT naming the flag for a bad TLS file.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& address);

}  // namespace herald::cli
