// The gRPC server every Herald role runs on --grpc_address: the API (api
// role) or nothing but grpc.health.v1 and reflection (worker and delivery
// roles), so Kubernetes' native gRPC probes work for every Deployment.
// Connections come through GrpcListener (our accept loop); the server's
// arguments bound what one connection, a handshake and gRPC's memory may
// take, so a connection flood can neither wedge the port nor grow the
// process without bound.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "prometheus/registry.h"
#include "runtime/grpc_listener.h"
#include "runtime/health.h"

namespace herald {

struct GrpcServerOptions {
  GrpcListenerOptions listener;
  // How the port is served; nullptr = insecure.
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // The liveness watchdog: off for the plaintext probe port (the API
  // port's watchdog speaks for the process). On a plaintext port it makes
  // a health call over a new connection; on a TLS port, which it holds no
  // client certificate for, it checks that the accept loop takes a new
  // connection (GrpcListener::ProbeAccept) — the failure it exists for.
  bool watchdog_enabled = true;
  // Streams one connection may have open at once (HTTP/2 SETTINGS).
  int max_concurrent_streams = 256;
  // A connection that has not finished its HTTP/2 (and TLS) handshake by
  // then is closed: gRPC's default, 120 s, lets a flood of silent
  // connections hold their fds for two minutes.
  int handshake_timeout_ms = 5'000;
  // Idle connections are closed, and every connection is asked to move on
  // (GOAWAY) after max_connection_age_ms so clients rebalance across
  // replicas; calls in flight get the grace period.
  int max_connection_idle_ms = 5 * 60 * 1000;
  int max_connection_age_ms = 30 * 60 * 1000;
  int max_connection_age_grace_ms = 30 * 1000;
  // gRPC's memory (buffers of connections and calls) and its thread quota.
  int64_t memory_limit_bytes = int64_t{256} << 20;
  int max_threads = 64;
  LivenessWatchdogOptions watchdog;
};

class GrpcServer {
 public:
  // Serves `services` (none: health and reflection only) and publishes
  // `health` on grpc.health.v1. Errors as GrpcListener::Bind;
  // FAILED_PRECONDITION when gRPC cannot start. `services`, `health` and
  // `registry` must outlive the server.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(const GrpcServerOptions& options,
                                                           const std::vector<grpc::Service*>& services, Health& health,
                                                           prometheus::Registry& registry);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  int port() const { return listener_->port(); }
  GrpcListener& listener() { return *listener_; }

  // Stops the watchdog, then accepting (new clients are refused), then the
  // server: calls in flight get until `deadline`, then are cancelled
  // (DEADLINE_EXCEEDED when that happened). Idempotent.
  absl::Status Shutdown(absl::Time deadline);

 private:
  GrpcServer() = default;

  Health* health_ = nullptr;
  grpc::HealthCheckServiceInterface* health_service_ = nullptr;
  std::unique_ptr<GrpcListener> listener_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<LivenessWatchdog> watchdog_;
  bool shut_down_ = false;
};

}  // namespace herald
