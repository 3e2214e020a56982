#include "runtime/runtime.h"

#include <signal.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "auth/api_keys.h"
#include "auth/protected_mode.h"
#include "batcher/batcher.h"
#include "core/clock.h"
#include "events/event_webhook_worker.h"
#include "fanout/fanout.h"
#include "preferences/change_listener.h"
#include "runtime/delivery_roles.h"
#include "feed/redis_feed_watcher.h"
#include "runtime/drain.h"
#include "runtime/grpc_server.h"
#include "runtime/health.h"
#include "expander/expander.h"
#include "metrics/build_info.h"
#include "metrics/pipeline_sampler.h"
#include "metrics/redis_metrics.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "redis/async_pipeline.h"
#include "redis/embedded_server.h"
#include "redis/stream_consumer.h"
#include "retention/stream_trimmer.h"
#include "core/keys.h"
#include "services/api/herald_service.h"
#include "services/delivery/config.h"
#include "workflow/registry.h"

namespace herald {
namespace {

class RuntimeImpl final : public Runtime {
 public:
  int grpc_port() const override { return grpc_server_ ? grpc_server_->port() : 0; }
  int health_port() const override { return health_server_ ? health_server_->port() : 0; }
  Health& health() override { return *health_; }
  int delivery_port() const override { return delivery_ ? delivery_->service_port() : 0; }
  int gateway_port() const override { return gateway_ ? gateway_->port() : 0; }
  std::string redis_endpoint() const override {
    return endpoint_.host.empty() && endpoint_.unix_socket.empty() ? "" : endpoint_.ToString();
  }

  void Wait() override { stopped_.WaitForNotification(); }

  // The drain (runtime/drain.h): each step logged with its duration.
  void Shutdown() override {
    if (shut_down_) return;
    shut_down_ = true;
    Drain drain(absl::Milliseconds(drain_timeout_ms_));
    // Sticky: Redis answering again does not make a draining process ready.
    if (health_) {
      drain.Step("readiness NOT_SERVING", [this] {
        health_->SetDraining();
        return absl::OkStatus();
      });
    }
    // The API's calls in flight and every stage worker finish side by side.
    // A worker stops reading, finishes and acks what it read; entries it
    // never read stay in their stream for the next consumer.
    std::vector<std::pair<std::string, Drain::StepFn>> steps;
    // Every role's gRPC server (the API, or health alone) stops accepting;
    // its calls in flight get until the deadline.
    if (grpc_server_) {
      steps.emplace_back("gRPC calls", [this, &drain] {
        if (service_) service_->EndWatches();  // streams would wait out the deadline
        return grpc_server_->Shutdown(drain.deadline());
      });
    }
    if (gateway_) {
      steps.emplace_back("gateway requests and streams", [this, &drain] {
        gateway_->Stop(drain.deadline());
        return absl::OkStatus();
      });
    }
    auto stop = [&steps](std::string name, auto* worker) {
      steps.emplace_back(std::move(name), [worker] {
        worker->Stop();
        return absl::OkStatus();
      });
    };
    for (size_t i = 0; i < expanders_.size(); ++i) stop(absl::StrCat("expander ", i), expanders_[i].get());
    for (size_t i = 0; i < batchers_.size(); ++i) stop(absl::StrCat("batcher ", i), batchers_[i].get());
    if (flusher_) stop("flusher", flusher_.get());
    for (size_t i = 0; i < fanouts_.size(); ++i) stop(absl::StrCat("fanout ", i), fanouts_[i].get());
    if (delivery_) {
      steps.emplace_back("dispatcher and delivery service", [this, &drain] {
        delivery_->Stop(drain.deadline());
        return absl::OkStatus();
      });
    }
    if (event_webhooks_) stop("event webhooks", event_webhooks_.get());
    if (trimmer_) stop("stream trimmer", trimmer_.get());
    if (sampler_) stop("pipeline sampler", sampler_.get());
    drain.Parallel(std::move(steps));
    preference_listener_.reset();
    gateway_.reset();
    gateway_pipeline_.reset();
    grpc_server_.reset();
    // Probes read NOT_SERVING until the very end.
    health_server_.reset();
    if (redis_monitor_) redis_monitor_->Stop();
    service_.reset();
    admin_.reset();
    pipeline_.reset();
    exposer_.reset();
    if (embedded_) {
      drain.Step("embedded Redis SHUTDOWN (AOF fsynced)",
                 [this] { return embedded_->Shutdown(kRedisShutdownTimeout); });
    }
    embedded_.reset();
    drain.Finish();
    if (!stopped_.HasBeenNotified()) stopped_.Notify();
  }

  ~RuntimeImpl() override { Shutdown(); }

  absl::Status Init(const RuntimeOptions& options) {
    bool api = false, batcher = false, fanout = false, dispatcher = false, delivery = false, gateway = false;
    for (absl::string_view role : absl::StrSplit(options.roles, ',', absl::SkipEmpty())) {
      if (role == "all") {
        api = batcher = fanout = dispatcher = true;
        gateway = gateway || !options.gateway_address.empty();
      } else if (role == "gateway") {
        gateway = true;
      } else if (role == "dispatcher") {
        dispatcher = true;
      } else if (role == "delivery") {
        delivery = true;
      } else if (role == "api") {
        api = true;
      } else if (role == "batcher") {
        batcher = true;
      } else if (role == "fanout") {
        fanout = true;
      } else {
        return absl::InvalidArgumentError(absl::StrCat("--role: unknown role '", role,
                                                       "' (all, api, batcher, fanout, dispatcher, delivery, gateway)"));
      }
    }
    if (gateway && options.gateway_address.empty()) {
      return absl::InvalidArgumentError("--gateway_address: required by the gateway role (e.g. 127.0.0.1:8080)");
    }
    if (!api && !batcher && !fanout && !dispatcher && !delivery && !gateway) {
      return absl::InvalidArgumentError("--role: no role given");
    }
    if (options.object_page_size < 1 || options.object_page_size > 10000) {
      return absl::InvalidArgumentError("--object_page_size: must be between 1 and 10000");
    }
    if (options.stream_trim_interval_ms < 0) {
      return absl::InvalidArgumentError("--stream_trim_interval_ms: must be >= 0 (0 = never trim)");
    }
    if (options.message_retention_ms < 1) {
      return absl::InvalidArgumentError("--message_retention_ms: must be >= 1");
    }
    if (options.metrics_sample_interval_ms < 0) {
      return absl::InvalidArgumentError("--metrics_sample_interval_ms: must be >= 0 (0 = never sample)");
    }
    if (options.feed_max_items < 1 || options.feed_max_items > 100'000) {
      return absl::InvalidArgumentError("--feed_max_items: must be between 1 and 100000");
    }
    if (options.feed_changes_max_len < 0) {
      return absl::InvalidArgumentError("--feed_changes_max_len: must be >= 0 (0 = publish no feed change)");
    }
    if (options.drain_timeout_ms < 1) return absl::InvalidArgumentError("--drain_timeout_ms: must be >= 1");
    drain_timeout_ms_ = options.drain_timeout_ms;
    if (options.grpc_memory_limit_mb < 16) {
      return absl::InvalidArgumentError("--grpc_memory_limit_mb: must be >= 16");
    }
    if (options.partitions < 1 || options.partitions > 1024) {
      return absl::InvalidArgumentError("--partitions: must be between 1 and 1024");
    }
    // Protected mode (auth/protected_mode.h): every role listens on
    // --grpc_address, the delivery role on --delivery_address too.
    const bool keys_configured = !options.api_keys.empty() || !options.api_keys_file.empty();
    {
      absl::Status open = auth::CheckUnauthenticatedListener("--grpc_address", options.grpc_address, keys_configured,
                                                             options.allow_unauthenticated);
      if (!open.ok()) return open;
    }
    if (delivery) {
      absl::Status open = auth::CheckUnauthenticatedListener("--delivery_address", options.delivery_address,
                                                             keys_configured, options.allow_unauthenticated);
      if (!open.ok()) return open;
    }
    const api::TriggerRateLimits rate_limits{options.trigger_rate_per_key, options.trigger_burst_per_key,
                                             options.trigger_rate_per_tenant, options.trigger_burst_per_tenant};
    if (absl::Status valid = api::TriggerRateLimiter::Validate(rate_limits); !valid.ok()) return valid;
    api::TenantLaneOptions lanes;
    lanes.fair_share_rate = options.tenant_fair_share_rate;
    if (absl::Status valid = api::TenantLanes::Validate(lanes); !valid.ok()) return valid;
    if (!(options.bulk_read_ms >= 0.1 && options.bulk_read_ms <= 1000)) {
      return absl::InvalidArgumentError("--bulk_read_ms: must be between 0.1 and 1000");
    }
    const auto bulk_cycle_us = static_cast<int64_t>(options.bulk_read_ms * 1000);
    if (!(options.bulk_share >= 0.05 && options.bulk_share <= 1)) {
      return absl::InvalidArgumentError("--bulk_share: must be between 0.05 and 1");
    }
    if (options.redis_address.empty() && !options.redis_password_file.empty()) {
      return absl::InvalidArgumentError("--redis_password_file: needs --redis (the embedded Redis has no password)");
    }
    auto credentials = security::MakeServerCredentials(options.tls);
    if (!credentials.ok()) return credentials.status();
    const bool tls = !options.tls.cert_file.empty();
    if (tls) grpc_credentials_ = *credentials;
    // The dispatcher and the delivery service deliver rendered messages:
    // only the roles that run workflows read them.
    if (api || batcher || fanout || gateway) {
      auto workflows = workflow::Registry::LoadDirectory(options.workflows_dir);
      if (!workflows.ok()) return workflows.status();
      workflows_ = std::move(*workflows);
    }

    // A delivery service alone talks to providers only, never to Redis.
    const bool needs_redis = api || batcher || fanout || dispatcher || gateway;
    if (needs_redis && options.redis_address.empty()) {
      redis::EmbeddedServerOptions embedded;
      embedded.data_dir = absl::StrCat(options.data_dir, "/redis");
      auto started = redis::EmbeddedServer::Start(embedded);
      if (!started.ok()) return started.status();
      embedded_ = std::move(*started);
      endpoint_ = embedded_->endpoint();
    } else if (needs_redis) {
      auto endpoint = redis::EndpointFromFlags(options.redis_address, options.redis_password_file);
      if (!endpoint.ok()) return endpoint.status();
      endpoint_ = *endpoint;
      absl::Status ready = redis::WaitForRedis(endpoint_, absl::Seconds(10));
      if (!ready.ok()) return absl::FailedPreconditionError(absl::StrCat("--redis: ", ready.message()));
    }

    // Create the consumer groups (and their streams) before any worker or
    // request runs, so a Redis that refuses them stops the start here.
    if (batcher || fanout) {
      auto client = redis::ConnectRedis(endpoint_);
      if (!client.ok()) return client.status();
      std::vector<std::pair<std::vector<std::string>, std::string>> groups;
      if (batcher) {
        groups.emplace_back(EveryPartition(options.partitions, &Keys::Events), std::string(kBatcherGroup));
        groups.emplace_back(EveryPartition(options.partitions, &Keys::EventsBulk), std::string(kBatcherGroup));
        groups.emplace_back(EveryPartition(options.partitions, &Keys::Expansions), std::string(kExpanderGroup));
      }
      if (fanout) {
        groups.emplace_back(EveryPartition(options.partitions, &Keys::Batches), std::string(kFanoutGroup));
        groups.emplace_back(EveryPartition(options.partitions, &Keys::BatchesBulk), std::string(kFanoutGroup));
      }
      for (auto& [streams, group] : groups) {
        redis::StreamConsumer consumer(**client, streams, group, "setup", "");
        absl::Status created = consumer.EnsureGroups();
        if (!created.ok()) return absl::FailedPreconditionError(absl::StrCat("--redis: ", created.message()));
      }
    }

    registry_ = std::make_shared<prometheus::Registry>();
    if (!options.metrics_address.empty()) {
      try {
        exposer_ = std::make_unique<prometheus::Exposer>(options.metrics_address);
      } catch (const std::exception& error) {
        // civetweb reports a busy port by throwing; this is its only edge.
        return absl::FailedPreconditionError(
            absl::StrCat("--metrics_address ", options.metrics_address, ": ", error.what()));
      }
      exposer_->RegisterCollectable(registry_);
    }
    if ((api || delivery) && keys_configured) {
      auto keys = auth::ApiKeys::Create(
          {options.api_keys, options.api_keys_file, absl::Milliseconds(options.api_keys_reload_ms)}, *registry_);
      if (!keys.ok()) return keys.status();
      api_keys_ = std::move(*keys);
    }
    metrics::RegisterBuildInfo(*registry_);
    // Every Redis connection made from here on reports its round trips.
    if (needs_redis) endpoint_.observer = std::make_shared<metrics::RedisMetrics>(registry_);

    std::string consumer_prefix = options.consumer_prefix;
    if (consumer_prefix.empty()) {
      char host[256] = {0};
      gethostname(host, sizeof(host) - 1);
      consumer_prefix = absl::StrCat(host, "-", getpid());
    }
    const Clock& clock = options.clock != nullptr ? *options.clock : SystemClock::Get();
    std::shared_ptr<const preferences::PreferenceSet> default_preferences;
    if (!options.default_preferences_file.empty()) {
      auto loaded = preferences::LoadPreferenceFile(options.default_preferences_file);
      if (!loaded.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("--default_preferences: ", loaded.status().message()));
      }
      default_preferences = std::make_shared<const preferences::PreferenceSet>(std::move(*loaded));
    }
    if (batcher) {
      batcher_metrics_ = std::make_unique<batcher::BatcherMetrics>(*registry_);
      batcher::BatcherOptions batcher_options;
      batcher_options.bulk_cycle_us = bulk_cycle_us;
      batcher_options.bulk_busy_share = options.bulk_share;
      StartWorkers(options, consumer_prefix, "batcher", options.batcher_threads, batcher_options, clock,
                   *batcher_metrics_, &batchers_);
      batcher::BatcherOptions flusher_options;
      flusher_options.partitions = options.partitions;
      flusher_options.flush_tick_ms = options.flush_tick_ms;
      flusher_ = std::make_unique<batcher::Flusher>(endpoint_, clock, flusher_options, *batcher_metrics_);
      flusher_->Start();
      expander_metrics_ = std::make_unique<expander::ExpanderMetrics>(*registry_);
      expander::ExpanderOptions expander_options;
      expander_options.partitions = options.partitions;
      expander_options.reclaim_idle_ms = options.reclaim_idle_ms;
      expander_options.page_size = options.object_page_size;
      expander_options.consumer_name = absl::StrCat(consumer_prefix, "-expander-0");
      expanders_.push_back(
          std::make_unique<expander::ExpanderWorker>(endpoint_, clock, expander_options, *expander_metrics_));
      expanders_.back()->Start();
    }
    if (fanout) {
      fanout_metrics_ = std::make_unique<fanout::FanoutMetrics>(*registry_);
      fanout::FanoutOptions fanout_options;
      fanout_options.default_preferences = default_preferences;
      fanout_options.cache_capacity = options.fanout_cache_capacity;
      fanout_options.message_retention_ms = options.message_retention_ms;
      fanout_options.feed_max_items = options.feed_max_items;
      fanout_options.feed_changes_max_len = options.feed_changes_max_len;
      fanout_options.bulk_cycle_us = bulk_cycle_us;
      fanout_options.bulk_busy_share = options.bulk_share;
      // Opt-outs count at once: the workers' caches drop changed sets.
      preference_changes_ = std::make_unique<InvalidationLog>();
      preferences::ChangeListenerOptions listener_options;
      listener_options.partitions = options.partitions;
      auto listener = preferences::PreferenceChangeListener::Start(endpoint_, listener_options, *preference_changes_);
      if (!listener.ok()) return listener.status();
      preference_listener_ = std::move(*listener);
      fanout_options.preference_changes = preference_changes_.get();
      StartWorkers(options, consumer_prefix, "fanout", options.fanout_threads, fanout_options, clock,
                   *fanout_metrics_, &fanouts_);
    }
    if (dispatcher || delivery) {
      DeliveryRoleOptions delivery_options;
      delivery_options.dispatcher = dispatcher;
      delivery_options.service = delivery;
      delivery_options.config_file = options.delivery_config_file;
      delivery_options.channels = options.delivery_channels;
      delivery_options.service_address = options.delivery_address;
      delivery_options.partitions = options.partitions;
      delivery_options.reclaim_idle_ms = options.reclaim_idle_ms;
      delivery_options.consumer_name = absl::StrCat(consumer_prefix, "-dispatcher");
      delivery_options.dispatcher_threads = options.dispatcher_threads;
      delivery_options.api_keys = api_keys_.get();
      delivery_options.service_api_key = options.delivery_service_api_key;
      delivery_options.service_tls = options.tls;
      delivery_options.client_tls = options.delivery_tls;
      auto started = DeliveryRoles::Start(delivery_options, endpoint_, clock, *registry_);
      if (!started.ok()) return started.status();
      delivery_ = std::move(*started);
    }
    if (dispatcher && options.event_webhooks) {
      absl::Status events = StartEventWebhooks(options, consumer_prefix, clock);
      if (!events.ok()) return events;
    }
    // Every process with a worker role trims: trimming is idempotent, and a
    // consumer group's progress is the only input.
    if ((batcher || fanout || dispatcher) && options.stream_trim_interval_ms > 0) {
      retention_metrics_ = std::make_unique<retention::RetentionMetrics>(*registry_);
      retention::StreamTrimmerOptions trim_options;
      trim_options.partitions = options.partitions;
      trim_options.interval_ms = options.stream_trim_interval_ms;
      trim_options.message_retention_ms = options.message_retention_ms;
      trimmer_ = std::make_unique<retention::StreamTrimmer>(endpoint_, clock, trim_options, *retention_metrics_);
      trimmer_->Start();
    }
    if ((batcher || fanout || dispatcher) && options.metrics_sample_interval_ms > 0) {
      absl::Status sampling = StartPipelineSampler(options, dispatcher, clock);
      if (!sampling.ok()) return sampling;
    }
    if (api) {
      auto pipeline = redis::AsyncPipeline::Create(endpoint_, options.api_redis_connections);
      if (!pipeline.ok()) return pipeline.status();
      pipeline_ = std::move(*pipeline);
      api::ServiceOptions service_options;
      service_options.partitions = options.partitions;
      service_options.limits.max_recipients = options.max_recipients;
      service_options.limits.max_data_bytes = options.max_data_bytes;
      service_options.default_preferences = default_preferences;
      service_options.api_keys = api_keys_.get();
      service_options.rate_limits = rate_limits;
      service_options.lanes = lanes;
      service_options.feed_changes_max_len = options.feed_changes_max_len;
      absl::Status watching = StartFeedWatcher(options);
      if (!watching.ok()) return watching;
      service_options.feed_watcher = feed_watcher_.get();
      admin_ = std::make_unique<api::AdminExecutor>(endpoint_);
      service_ = std::make_unique<api::HeraldService>(*workflows_, *pipeline_, *admin_, clock, service_options,
                                                      *registry_);
    }
    if (gateway) {
      absl::Status started = StartGateway(options, clock);
      if (!started.ok()) return started;
    }
    return StartGrpc(options, needs_redis);
  }

 private:
  // Every role serves gRPC health (and the api role its API) on
  // --grpc_address; readiness follows Redis where the roles use it.
  absl::Status StartGrpc(const RuntimeOptions& options, bool needs_redis) {
    std::vector<std::string> follow_readiness = {""};
    std::vector<grpc::Service*> services;
    if (service_) {
      follow_readiness.push_back(v1::Herald::service_full_name());
      services.push_back(service_.get());
    }
    health_ = std::make_unique<Health>(needs_redis, std::move(follow_readiness));
    GrpcServerOptions grpc_options;
    grpc_options.listener.address = options.grpc_address;
    grpc_options.listener.max_connections = options.max_connections;
    grpc_options.memory_limit_bytes = int64_t{options.grpc_memory_limit_mb} << 20;
    grpc_options.watchdog = options.liveness_watchdog;
    grpc_options.credentials = grpc_credentials_;
    auto server = GrpcServer::Start(grpc_options, services, *health_, *registry_);
    if (!server.ok()) return server.status();
    grpc_server_ = std::move(*server);
    if (!options.health_address.empty()) {
      // Plaintext, health and reflection only: Kubernetes' gRPC probes
      // cannot speak TLS, so with TLS on --grpc_address they probe here.
      GrpcServerOptions probe_options = grpc_options;
      probe_options.listener.address = options.health_address;
      probe_options.listener.name = "health";
      probe_options.listener.max_connections = 64;
      probe_options.credentials = nullptr;
      probe_options.watchdog_enabled = false;
      auto probe_server = GrpcServer::Start(probe_options, {}, *health_, *registry_);
      if (!probe_server.ok()) {
        return absl::Status(probe_server.status().code(),
                            absl::StrCat("--health_address: ", probe_server.status().message()));
      }
      health_server_ = std::move(*probe_server);
    }
    if (needs_redis) {
      redis_monitor_ = std::make_unique<RedisMonitor>(endpoint_, *health_, options.redis_monitor);
      redis_monitor_->Start();
    }
    return absl::OkStatus();
  }

  // The browser gateway on its own Redis pipeline (gateway/gateway.h).
  // The live feed changes WatchFeed and the gateway's streams follow: one
  // watcher per process, shared by both roles.
  absl::Status StartFeedWatcher(const RuntimeOptions& options) {
    if (feed_watcher_ != nullptr) return absl::OkStatus();
    feed::RedisFeedWatcherOptions watcher_options;
    watcher_options.partitions = options.partitions;
    auto watcher = feed::RedisFeedWatcher::Start(endpoint_, watcher_options);
    if (!watcher.ok()) return watcher.status();
    feed_watcher_ = std::move(*watcher);
    return absl::OkStatus();
  }

  absl::Status StartGateway(const RuntimeOptions& options, const Clock& clock) {
    gateway::GatewayOptions gateway_options = options.gateway;
    gateway_options.http.address = options.gateway_address;
    gateway_options.partitions = options.partitions;
    gateway_options.feed_changes_max_len = options.feed_changes_max_len;
    absl::Status flags = gateway::ApplyGatewayFlags(options.gateway_flags, &gateway_options);
    if (!flags.ok()) return flags;
    auto pipeline = redis::AsyncPipeline::Create(endpoint_, 2);
    if (!pipeline.ok()) return pipeline.status();
    gateway_pipeline_ = std::move(*pipeline);
    feed::FeedWatcher* watcher = options.gateway_feed_watcher;
    if (watcher == nullptr) {
      absl::Status watching = StartFeedWatcher(options);
      if (!watching.ok()) return watching;
      watcher = feed_watcher_.get();
    }
    auto started = gateway::Gateway::Start(gateway_options, *gateway_pipeline_, *workflows_, watcher, clock,
                                           *registry_);
    if (!started.ok()) return started.status();
    gateway_ = std::move(*started);
    return absl::OkStatus();
  }

  // The pipeline sampler; a dispatcher process also samples dead letters,
  // labelled by its delivery configuration's channels.
  absl::Status StartPipelineSampler(const RuntimeOptions& options, bool dispatcher, const Clock& clock) {
    std::shared_ptr<const delivery::DeliveryConfig> delivery;
    if (dispatcher) {
      auto config = delivery::LoadDeliveryConfig(options.delivery_config_file);
      if (!config.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("--delivery_config: ", config.status().message()));
      }
      delivery = std::make_shared<const delivery::DeliveryConfig>(std::move(*config));
    }
    pipeline_metrics_ = std::make_unique<metrics::PipelineMetrics>(*registry_, options.partitions, delivery);
    metrics::PipelineSamplerOptions sampler_options;
    sampler_options.partitions = options.partitions;
    sampler_options.interval_ms = options.metrics_sample_interval_ms;
    sampler_options.dead_letters = delivery != nullptr;
    sampler_ = std::make_unique<metrics::PipelineSampler>(endpoint_, clock, sampler_options, *pipeline_metrics_);
    sampler_->Start();
    return absl::OkStatus();
  }

  // The event-webhook worker, when the delivery config has an event_webhook.
  absl::Status StartEventWebhooks(const RuntimeOptions& options, const std::string& consumer_prefix,
                                  const Clock& clock) {
    auto config = delivery::LoadDeliveryConfig(options.delivery_config_file);
    if (!config.ok()) return absl::InvalidArgumentError(absl::StrCat("--delivery_config: ", config.status().message()));
    if (!config->event_webhook) return absl::OkStatus();
    event_webhook_metrics_ = std::make_unique<events::EventWebhookMetrics>(*registry_);
    events::EventWebhookOptions event_options;
    event_options.partitions = options.partitions;
    event_options.reclaim_idle_ms = options.reclaim_idle_ms;
    event_options.consumer_name = absl::StrCat(consumer_prefix, "-event-webhooks");
    auto worker = events::EventWebhookWorker::Create(endpoint_, *config->event_webhook, clock, event_options,
                                                     *event_webhook_metrics_);
    if (!worker.ok()) return absl::InvalidArgumentError(absl::StrCat("--delivery_config: ", worker.status().message()));
    event_webhooks_ = std::move(*worker);
    absl::Status started = event_webhooks_->Start();
    if (!started.ok()) return absl::FailedPreconditionError(absl::StrCat("--redis: ", started.message()));
    return absl::OkStatus();
  }

  // Starts `count` consumer threads of one role, each with its own consumer
  // name; the role's options type carries partitions, name and reclaim.
  template <typename Worker, typename WorkerOptions, typename Metrics>
  void StartWorkers(const RuntimeOptions& options, const std::string& consumer_prefix, const char* role, int count,
                    WorkerOptions worker_options, const Clock& clock, Metrics& metrics,
                    std::vector<std::unique_ptr<Worker>>* workers) {
    worker_options.partitions = options.partitions;
    worker_options.reclaim_idle_ms = options.reclaim_idle_ms;
    for (int i = 0; i < count; ++i) {
      worker_options.consumer_name = absl::StrCat(consumer_prefix, "-", role, "-", i);
      workers->push_back(std::make_unique<Worker>(endpoint_, *workflows_, clock, worker_options, metrics));
      workers->back()->Start();
    }
  }

  std::unique_ptr<workflow::Registry> workflows_;
  std::unique_ptr<redis::EmbeddedServer> embedded_;
  redis::Endpoint endpoint_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  // Before every service that checks them (destroyed after them).
  std::unique_ptr<auth::ApiKeys> api_keys_;
  std::unique_ptr<batcher::BatcherMetrics> batcher_metrics_;
  std::unique_ptr<fanout::FanoutMetrics> fanout_metrics_;
  // Before the fan-out workers, whose caches read them.
  std::unique_ptr<InvalidationLog> preference_changes_;
  std::unique_ptr<preferences::PreferenceChangeListener> preference_listener_;
  std::vector<std::unique_ptr<batcher::BatcherWorker>> batchers_;
  std::unique_ptr<batcher::Flusher> flusher_;
  std::vector<std::unique_ptr<fanout::FanoutWorker>> fanouts_;
  std::unique_ptr<expander::ExpanderMetrics> expander_metrics_;
  std::vector<std::unique_ptr<expander::ExpanderWorker>> expanders_;
  std::unique_ptr<retention::RetentionMetrics> retention_metrics_;
  std::unique_ptr<retention::StreamTrimmer> trimmer_;
  std::unique_ptr<metrics::PipelineMetrics> pipeline_metrics_;
  std::unique_ptr<metrics::PipelineSampler> sampler_;
  std::unique_ptr<redis::AsyncPipeline> pipeline_;
  std::unique_ptr<api::AdminExecutor> admin_;
  std::unique_ptr<api::HeraldService> service_;
  std::unique_ptr<Health> health_;
  std::unique_ptr<GrpcServer> grpc_server_;
  // TLS credentials of --grpc_address (nullptr: plaintext).
  std::shared_ptr<grpc::ServerCredentials> grpc_credentials_;
  // The plaintext probe port (--health_address), when set.
  std::unique_ptr<GrpcServer> health_server_;
  std::unique_ptr<RedisMonitor> redis_monitor_;
  std::unique_ptr<DeliveryRoles> delivery_;
  std::unique_ptr<events::EventWebhookMetrics> event_webhook_metrics_;
  std::unique_ptr<events::EventWebhookWorker> event_webhooks_;
  // The live feed changes of WatchFeed and the gateway's streams
  // (RuntimeOptions::gateway_feed_watcher wins for the gateway). Declared
  // before gateway_, which must end first. Shutdown() ends WatchFeed's
  // streams first; a subscription that outlives it keeps the watcher's state
  // alive and gets no more events.
  std::unique_ptr<feed::RedisFeedWatcher> feed_watcher_;
  std::unique_ptr<redis::AsyncPipeline> gateway_pipeline_;
  std::unique_ptr<gateway::Gateway> gateway_;
  int64_t drain_timeout_ms_ = 20'000;
  bool shut_down_ = false;
  absl::Notification stopped_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Runtime>> Runtime::Start(const RuntimeOptions& options) {
  // hiredis writes to its sockets with write(): a Redis that went away
  // would kill the process with SIGPIPE instead of failing the command
  // with EPIPE (and Herald must outlive Redis: health reports it instead).
  signal(SIGPIPE, SIG_IGN);
  // Deadlock detection costs a graph update on every lock; our lock order
  // is flat (no nested mutexes), so production runs without it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  auto runtime = std::make_unique<RuntimeImpl>();
  absl::Status status = runtime->Init(options);
  if (!status.ok()) return status;
  return std::unique_ptr<Runtime>(std::move(runtime));
}

}  // namespace herald
