// gRPC's own log lines (gpr_log: "Failed accept4: Too many open files", a
// port that cannot be bound, ...) written through core/log.h, as
// component "grpc", so every line on stderr has the same shape. Which of
// gRPC's lines exist is still gRPC's GRPC_VERBOSITY (default ERROR);
// --log_level filters them like any other line.
#pragma once

namespace herald::settings {

// Installs the routing; safe to call more than once.
void RouteGrpcLogs();

}  // namespace herald::settings
