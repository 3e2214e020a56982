// Wires Herald's roles into one process: the embedded or external Redis,
// the gRPC API, batcher workers and flusher, fan-out workers and the
// Prometheus endpoint. `herald all` runs every role; replicas run one each.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/clock.h"
#include "feed/feed_watch.h"
#include "gateway/gateway.h"
#include "runtime/health.h"
#include "security/tls.h"

namespace herald {

struct RuntimeOptions {
  // Any of "all", "api", "batcher", "fanout", "dispatcher", "delivery", "gateway",
  // comma-separated. "all" is every role but "delivery" (a separate
  // delivery service process; `herald all` delivers in process).
  std::string roles = "all";
  // Empty: start an embedded redis-server in data_dir.
  std::string redis_address;
  // A file holding Redis's password (wins over one in redis_address).
  std::string redis_password_file;
  // TLS of the gRPC listeners (API/health and the delivery service); none
  // set = plaintext. ca_file is --tls_client_ca_file: client certificates
  // required (mTLS).
  security::TlsFiles tls;
  // TLS of the dispatcher's calls to delivery services (--delivery_tls_*).
  security::TlsFiles delivery_tls;
  std::string data_dir = "herald-data";
  std::string workflows_dir = "examples/workflows";
  std::string grpc_address = "127.0.0.1:50051";
  // A second, plaintext port serving only gRPC health (empty: none). For
  // Kubernetes probes when --grpc_address serves TLS.
  std::string health_address;
  // Empty: no metrics endpoint.
  std::string metrics_address = "127.0.0.1:9464";
  int partitions = 4;
  int batcher_threads = 1;
  int fanout_threads = 2;
  int api_redis_connections = 2;
  int64_t reclaim_idle_ms = 15000;
  int max_recipients = 1000;
  size_t max_data_bytes = 32 * 1024;
  std::string consumer_prefix;  // default: hostname-pid
  // Time source for every role; nullptr = the system clock. Tests pass a
  // SimulatedClock to drive batch windows and delays.
  const Clock* clock = nullptr;
  int flush_tick_ms = 5;
  // Subscribers per page of an object fan-out.
  int object_page_size = 500;
  // Entries each fan-out worker's user, preference and tenant caches keep.
  size_t fanout_cache_capacity = 20'000;
  // JSON file with the environment's default preference set; empty = none.
  std::string default_preferences_file;
  // Delivery channels (YAML, services/delivery/config.h); empty = none
  // configured: email/sms/push/chat/webhook messages end undelivered with
  // "no channel configured" (dead letters, replayable once configured).
  std::string delivery_config_file;
  // The delivery role: which channels it serves (empty = all) and where.
  std::vector<std::string> delivery_channels;
  std::string delivery_address = "127.0.0.1:50061";
  int dispatcher_threads = 1;
  // With the dispatcher role: run the outbound event-webhook worker
  // (events/EVENT_WEBHOOKS.md) when an event webhook is configured (the
  // delivery config's `event_webhook:` or HERALD_EVENT_WEBHOOK_URL). false:
  // never in this process.
  bool event_webhooks = true;
  // Retention (retention/, in every process running a worker role): how
  // often the stage streams are trimmed up to what every consumer group has
  // consumed (0 = never), and how long messages (records, events, feed
  // items, dead letters) and the message log are kept (30 days).
  int64_t stream_trim_interval_ms = 10'000;
  int64_t message_retention_ms = int64_t{30} * 24 * 3600 * 1000;
  // How often a process running a worker role samples stream length, lag,
  // pending entries, consumers, open batches and dead letters for the
  // metrics (metrics/pipeline_sampler.h); 0 = never.
  int64_t metrics_sample_interval_ms = 5'000;
  // A user's in-app feed keeps its newest items, this many.
  int feed_max_items = 1000;
  // Each partition's feed change stream keeps about this many entries
  // (feed/feed_changes.h); 0 = no change published.
  int64_t feed_changes_max_len = 100'000;
  // Shutdown: how long gRPC calls in flight get to finish (runtime/drain.h).
  int64_t drain_timeout_ms = 20'000;
  // The gRPC port (every role): connections served at once (more are
  // closed at accept) and gRPC's memory quota (runtime/grpc_server.h).
  int max_connections = 4096;
  int grpc_memory_limit_mb = 256;
  // Health (runtime/health.h): how Redis is watched for readiness and how
  // the liveness watchdog checks our own port.
  RedisMonitorOptions redis_monitor;
  LivenessWatchdogOptions liveness_watchdog;
  // API keys (auth/api_keys.h) asked of every caller of the API and the
  // delivery service: SHA-256 hex hashes, comma-separated, and a file of
  // them re-read every api_keys_reload_ms. With neither, those services
  // serve every caller, and start only on a loopback address unless
  // allow_unauthenticated.
  std::string api_keys;
  std::string api_keys_file;
  int64_t api_keys_reload_ms = 1000;
  bool allow_unauthenticated = false;
  // The key the dispatcher sends to delivery services reached over gRPC.
  std::string delivery_service_api_key;
  // Trigger rate limits (services/api/trigger_rate_limiter.h): triggers
  // per second and burst, per API key and per tenant; 0 = none.
  double trigger_rate_per_key = 0;
  int trigger_burst_per_key = 0;
  double trigger_rate_per_tenant = 0;
  int trigger_burst_per_tenant = 0;
  // Fairness between tenants (README "Fairness between tenants"): a tenant
  // above this many runs/s (per API process) goes to the bulk lane; 0 = no
  // lanes. While the normal lane is in use, the batcher and fan-out keep
  // the bulk entries of one read to about bulk_read_ms of work and give
  // them at most bulk_share of their time.
  double tenant_fair_share_rate = 1000;
  double bulk_read_ms = 2;
  double bulk_share = 0.5;
  // The browser gateway (gateway/gateway.h): role "gateway", and inside
  // "all" when gateway_address is set ("" = off there). gateway_flags are
  // the key and token flags; gateway's http (but its address), cors_origins
  // and user_rate apply as given.
  std::string gateway_address;
  gateway::GatewayFlags gateway_flags;
  gateway::GatewayOptions gateway;
  // Where the gateway's stream takes live feed changes from; null: the
  // runtime's own (Redis) watcher when it has one, else the stream answers
  // 503. Tests pass an in-memory one. Must outlive the runtime.
  feed::FeedWatcher* gateway_feed_watcher = nullptr;
};

class Runtime {
 public:
  // Starts every requested role. INVALID_ARGUMENT for bad options (naming
  // the flag), FAILED_PRECONDITION when Redis or a port is not available.
  static absl::StatusOr<std::unique_ptr<Runtime>> Start(const RuntimeOptions& options);
  virtual ~Runtime() = default;

  // The bound gRPC port (every role serves at least health there).
  virtual int grpc_port() const = 0;
  // The plaintext probe port (--health_address; 0 when not set).
  virtual int health_port() const = 0;
  // What the gRPC health service answers; e.g. SetDraining() on SIGTERM.
  virtual Health& health() = 0;
  // The gateway's bound port (0 when it is not running).
  virtual int gateway_port() const = 0;
  // The delivery role's bound port (0 when it is not running).
  virtual int delivery_port() const = 0;
  // "" when no role needs Redis (a delivery service alone).
  virtual std::string redis_endpoint() const = 0;
  // Blocks until Shutdown() is called from another thread or a signal handler thread.
  virtual void Wait() = 0;
  // Drains (runtime/drain.h): readiness NOT_SERVING, then new calls are
  // refused while those in flight get drain_timeout_ms and every worker
  // finishes and acks what it holds, then the embedded Redis shuts down.
  // Logs each step with its duration to stdout. Idempotent.
  virtual void Shutdown() = 0;
};

}  // namespace herald
