#include "runtime/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>

#include "absl/strings/str_cat.h"
#include "runtime/drain.h"

namespace herald {

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(const GrpcServerOptions& options,
                                                              const std::vector<grpc::Service*>& services,
                                                              Health& health, prometheus::Registry& registry) {
  std::unique_ptr<GrpcServer> server(new GrpcServer());
  auto listener = GrpcListener::Bind(options.listener, registry);
  if (!listener.ok()) return listener.status();
  server->listener_ = std::move(*listener);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  server->listener_->AddTo(builder, options.credentials ? options.credentials : grpc::InsecureServerCredentials());
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, options.handshake_timeout_ms);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, options.max_connection_idle_ms);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, options.max_connection_age_ms);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, options.max_connection_age_grace_ms);
  // Under memory pressure gRPC shrinks its read buffers and stops growing;
  // without a quota a flood's buffers grew RSS 27 -> 460 MB for good.
  grpc::ResourceQuota quota("herald-grpc-server");
  quota.Resize(static_cast<size_t>(options.memory_limit_bytes));
  quota.SetMaxThreads(options.max_threads);
  builder.SetResourceQuota(quota);
  for (grpc::Service* service : services) builder.RegisterService(service);
  server->server_ = builder.BuildAndStart();
  if (!server->server_) {
    return absl::FailedPreconditionError(
        absl::StrCat("--grpc_address ", options.listener.address, ": the gRPC server did not start"));
  }
  grpc::HealthCheckServiceInterface* health_service = server->server_->GetHealthCheckService();
  if (health_service == nullptr) {
    return absl::InternalError("gRPC server without its default health service");
  }
  health.Attach(health_service);
  server->health_ = &health;
  server->health_service_ = health_service;
  server->listener_->Start();
  if (options.watchdog_enabled) {
    GrpcListener* listener = server->listener_.get();
    PortCheck check = options.credentials ? PortCheck([listener](absl::Duration timeout) {
      return listener->ProbeAccept(timeout);
    })
                                          : HealthCallCheck(listener->local_target(), nullptr);
    server->watchdog_ = std::make_unique<LivenessWatchdog>(std::move(check), health, options.watchdog);
    server->watchdog_->Start();
  }
  return server;
}

GrpcServer::~GrpcServer() { (void)Shutdown(absl::Now()); }

absl::Status GrpcServer::Shutdown(absl::Time deadline) {
  if (watchdog_) watchdog_->Stop();
  // No new connection reaches gRPC once it shuts down (it would drop the
  // fd without closing it).
  if (listener_) listener_->Stop();
  if (health_ != nullptr) health_->Detach(health_service_);
  health_ = nullptr;
  if (!server_ || shut_down_) return absl::OkStatus();
  shut_down_ = true;
  return ShutdownServer(*server_, deadline);
}

}  // namespace herald
