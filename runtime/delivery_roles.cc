#include "runtime/delivery_roles.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/keys.h"
#include "dispatcher/dispatcher.h"
#include "grpcpp/grpcpp.h"
#include "redis/stream_consumer.h"
#include "services/delivery/config.h"
#include "services/delivery/providers/provider_set.h"
#include "services/delivery/remote.h"
#include "services/delivery/server.h"

namespace herald {
namespace {

class DeliveryRolesImpl final : public DeliveryRoles {
 public:
  ~DeliveryRolesImpl() override { Stop(absl::Now() + absl::Seconds(5)); }

  int service_port() const override { return service_port_; }

  void Stop(absl::Time deadline) override {
    if (stopped_) return;
    stopped_ = true;
    if (dispatcher_) dispatcher_->Stop();
    if (server_) server_->Shutdown(absl::ToChronoTime(deadline));
  }

  absl::Status Init(const DeliveryRoleOptions& options, const redis::Endpoint& endpoint, const Clock& clock,
                    prometheus::Registry& registry) {
    auto config = delivery::LoadDeliveryConfig(options.config_file);
    if (!config.ok()) return absl::InvalidArgumentError(absl::StrCat("--delivery_config: ", config.status().message()));
    config_ = std::move(*config);
    for (const std::string& channel : options.channels) {
      if (config_.channels.find(channel) == config_.channels.end()) {
        return absl::InvalidArgumentError(absl::StrCat("--channels: '", channel, "' is not a configured channel"));
      }
    }
    if (options.service) {
      // A delivery service serves the channels it is given, else every
      // configured one (their `service` addresses are how dispatchers reach
      // it, not a reason to skip them here).
      std::vector<std::string> served = options.channels;
      if (served.empty()) served = config_.channel_order;
      auto providers = delivery::MakeProviderSet(config_, served);
      if (!providers.ok()) return absl::InvalidArgumentError(absl::StrCat("--delivery_config: ", providers.status().message()));
      served_ = std::move(*providers);
      grpc_service_ = std::make_unique<delivery::DeliveryGrpcService>(*served_, options.api_keys);
      auto credentials = security::MakeServerCredentials(options.service_tls);
      if (!credentials.ok()) return credentials.status();
      grpc::ServerBuilder builder;
      builder.AddListeningPort(options.service_address, *credentials, &service_port_);
      builder.SetMaxReceiveMessageSize(delivery::kMaxDeliveryCallBytes);
      builder.SetMaxSendMessageSize(delivery::kMaxDeliveryCallBytes);
      builder.RegisterService(grpc_service_.get());
      server_ = builder.BuildAndStart();
      if (!server_ || service_port_ == 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("--delivery_address ", options.service_address, ": cannot listen"));
      }
    }
    if (options.dispatcher) return StartDispatcher(options, endpoint, clock, registry);
    return absl::OkStatus();
  }

 private:
  absl::Status StartDispatcher(const DeliveryRoleOptions& options, const redis::Endpoint& endpoint, const Clock& clock,
                               prometheus::Registry& registry) {
    // Channels without a service address are delivered in this process.
    std::vector<std::string> local;
    auto credentials = security::MakeChannelCredentials(options.client_tls, /*tls=*/false, "delivery_tls_");
    if (!credentials.ok()) return credentials.status();
    for (const auto& [name, channel] : config_.channels) {
      if (channel.service.empty()) {
        local.push_back(name);
        continue;
      }
      auto remote = delivery::RemoteDeliveryService::Connect(channel.service, channel.timeout_ms, channel.concurrency,
                                                             *credentials, options.service_api_key);
      if (!remote.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("--delivery_config: channels.", name, ".service: ",
                                                       remote.status().message()));
      }
      remote_[name] = std::move(*remote);
    }
    if (!local.empty()) {
      auto providers = delivery::MakeProviderSet(config_, local);
      if (!providers.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("--delivery_config: ", providers.status().message()));
      }
      local_ = std::move(*providers);
    }
    auto client = redis::ConnectRedis(endpoint);
    if (!client.ok()) return client.status();
    redis::StreamConsumer setup(**client, EveryPartition(options.partitions, &Keys::Deliveries),
                                std::string(kDeliveryGroup), "setup", "");
    absl::Status created = setup.EnsureGroups();
    if (!created.ok()) return absl::FailedPreconditionError(absl::StrCat("--redis: ", created.message()));

    dispatcher::DispatcherOptions dispatcher_options;
    dispatcher_options.partitions = options.partitions;
    dispatcher_options.reclaim_idle_ms = options.reclaim_idle_ms;
    dispatcher_options.consumer_name = options.consumer_name;
    dispatcher_options.threads = options.dispatcher_threads;
    metrics_ = std::make_unique<dispatcher::DispatcherMetrics>(registry, config_);
    dispatcher_ = std::make_unique<dispatcher::Dispatcher>(
        endpoint, config_,
        [this](const delivery::ChannelConfig& channel) -> delivery::DeliveryService* {
          auto remote = remote_.find(channel.name);
          if (remote != remote_.end()) return remote->second.get();
          return local_.get();
        },
        clock, dispatcher_options, *metrics_);
    dispatcher_->Start();
    return absl::OkStatus();
  }

  delivery::DeliveryConfig config_;
  std::unique_ptr<delivery::ProviderSet> local_;
  std::map<std::string, std::unique_ptr<delivery::RemoteDeliveryService>> remote_;
  std::unique_ptr<dispatcher::DispatcherMetrics> metrics_;
  std::unique_ptr<dispatcher::Dispatcher> dispatcher_;
  std::unique_ptr<delivery::ProviderSet> served_;
  std::unique_ptr<delivery::DeliveryGrpcService> grpc_service_;
  std::unique_ptr<grpc::Server> server_;
  int service_port_ = 0;
  bool stopped_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DeliveryRoles>> DeliveryRoles::Start(const DeliveryRoleOptions& options,
                                                                    const redis::Endpoint& endpoint,
                                                                    const Clock& clock,
                                                                    prometheus::Registry& registry) {
  auto roles = std::make_unique<DeliveryRolesImpl>();
  absl::Status status = roles->Init(options, endpoint, clock, registry);
  if (!status.ok()) return status;
  return std::unique_ptr<DeliveryRoles>(std::move(roles));
}

}  // namespace herald
