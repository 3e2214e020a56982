// Protected mode, as Redis has it: a Herald with no API key configured
// serves its keyed gRPC services only where nobody else can reach them (a
// loopback address or a unix socket), unless told otherwise with
// --allow_unauthenticated. A laptop needs no key; a pod listening on
// 0.0.0.0 without one refuses to start.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace herald::auth {

// Whether a gRPC listen address (host:port, [v6]:port, ipv4:/ipv6:/dns:
// forms, unix:path) is reachable from this host only: 127.0.0.0/8, ::1,
// localhost or a unix socket. "0.0.0.0", "[::]" and ":port" are not.
bool IsLoopbackAddress(absl::string_view address);

// Checks a service that asks for API keys, listening on `address` (set by
// `flag`, e.g. "--grpc_address"). OK when keys are configured; without
// keys, OK with a one-line warning (core/log.h) on a loopback address or
// with `allow_unauthenticated`, else INVALID_ARGUMENT naming `flag` and
// --api_keys.
absl::Status CheckUnauthenticatedListener(absl::string_view flag, absl::string_view address, bool keys_configured,
                                          bool allow_unauthenticated);

}  // namespace herald::auth
