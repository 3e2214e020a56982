// herald: the server binary. `herald all` runs every role in one process
// (with an embedded redis-server unless --redis / HERALD_REDIS_URL is set);
// `herald api|batcher|fanout|dispatcher` runs one role for scale-out;
// `herald delivery --channels=email,sms` serves channels' providers over
// the DeliveryService gRPC contract for dispatchers elsewhere; `herald
// flags [--markdown]` prints the settings. Every flag is also settable as
// HERALD_<FLAG> and from --config (settings/settings.h).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "auth/keys_command.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/log.h"
#include "runtime/drain.h"
#include "runtime/grpc_listener.h"
#include "runtime/runtime.h"
#include "settings/settings.h"

namespace {
const char* SignalName(int signal) { return signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal"; }
}  // namespace

ABSL_FLAG(std::string, redis, "",
          "Redis address (redis://host:port, host:port or unix:///path); empty starts an embedded redis-server");
ABSL_FLAG(std::string, data_dir, "herald-data", "Folder for the embedded Redis (AOF everysec)");
ABSL_FLAG(std::string, workflows, "examples/workflows", "Folder of workflow files (*.yaml, *.yml, *.json)");
ABSL_FLAG(std::string, grpc_address, "127.0.0.1:50051", "gRPC listen address");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9464", "Prometheus /metrics listen address; empty disables");
ABSL_FLAG(int, partitions, 4, "Number of Redis partitions (must match across every replica, forever)");
ABSL_FLAG(int, batcher_threads, 1, "Batcher worker threads");
ABSL_FLAG(int, fanout_threads, 2, "Fan-out worker threads");
ABSL_FLAG(int, api_redis_connections, 2, "Redis connections for the API's group-commit pipeline");
ABSL_FLAG(int64_t, reclaim_idle_ms, 15000, "Take over stream entries pending this long on a dead consumer");
ABSL_FLAG(int, max_recipients, 1000, "Maximum recipients per trigger");
ABSL_FLAG(int, max_data_bytes, 32768, "Maximum size of a trigger's data JSON");
ABSL_FLAG(std::string, consumer, "", "Consumer name prefix (default hostname-pid)");
ABSL_FLAG(std::string, default_preferences, "",
          "JSON file with the environment's default preference set (least specific level)");
ABSL_FLAG(int, object_page_size, 500, "Subscribers per page of an object fan-out (1-10000)");
ABSL_FLAG(std::string, delivery_config, "",
          "YAML file of delivery channels (providers, options, secrets, retry, rate limit)");
ABSL_FLAG(std::vector<std::string>, channels, {},
          "herald delivery: the configured channels this delivery service serves (default: all)");
ABSL_FLAG(std::string, delivery_address, "127.0.0.1:50061", "herald delivery: DeliveryService gRPC listen address");
ABSL_FLAG(int, dispatcher_threads, 1, "Delivery dispatcher stream readers");
ABSL_FLAG(bool, event_webhooks, true,
          "With the dispatcher role: POST status and engagement events to the configured event webhook "
          "(delivery config event_webhook: or HERALD_EVENT_WEBHOOK_URL / HERALD_EVENT_WEBHOOK_SECRET); false = "
          "another process does");
ABSL_FLAG(int, flush_tick_ms, 5, "How often the flusher looks for due batches and delays when none was due");
ABSL_FLAG(int64_t, stream_trim_interval_ms, 10000,
          "How often the stage streams are trimmed up to what every consumer group consumed; 0 = never");
ABSL_FLAG(int64_t, message_retention_ms, int64_t{30} * 24 * 3600 * 1000,
          "How long messages (records, events, feed items, dead letters) and the message log are kept "
          "(default 30 days)");
ABSL_FLAG(int64_t, metrics_sample_interval_ms, 5000,
          "How often worker processes sample stream lag, pending entries, open batches and dead letters for "
          "/metrics; 0 = never");
ABSL_FLAG(int, feed_max_items, 1000, "A user's in-app feed keeps its newest items, this many (1-100000)");
ABSL_FLAG(int64_t, feed_changes_max_len, 100000,
          "Each partition's feed change stream (what WatchFeed and the gateway follow) keeps about this many "
          "changes: how far back a cursor can resume (0 = publish no change: feeds cannot be watched)");
ABSL_FLAG(std::string, api_keys, "",
          "SHA-256 hex hashes of the API keys callers must send (`authorization: Bearer <key>`), comma-separated; "
          "`herald keys new` makes one");
ABSL_FLAG(std::string, api_keys_file, "",
          "File of API key hashes, one per line (optional label after a space, # comments); re-read when it changes");
ABSL_FLAG(bool, allow_unauthenticated, false,
          "Serve callers without an API key on a non-loopback address (without keys Herald only starts on loopback)");
ABSL_FLAG(std::string, delivery_service_api_key, "",
          "API key the dispatcher sends to delivery services reached over gRPC (channels with a `service` address)");
ABSL_FLAG(double, trigger_rate_per_key, 0, "Triggers per second per API key, shared by every API replica; 0 = no limit");
ABSL_FLAG(int, trigger_burst_per_key, 0, "Triggers at once per API key (0 = the rate rounded up)");
ABSL_FLAG(double, trigger_rate_per_tenant, 0, "Triggers per second per tenant, shared by every API replica; 0 = no limit");
ABSL_FLAG(int, trigger_burst_per_tenant, 0, "Triggers at once per tenant (0 = the rate rounded up)");
ABSL_FLAG(double, tenant_fair_share_rate, 1000,
          "Runs per second (recipients of its triggers, per API process) above which a tenant's triggers go to the "
          "bulk lane, behind every other tenant's; 0 = no lanes");
ABSL_FLAG(double, bulk_read_ms, 2,
          "Batcher and fan-out: how long one read's bulk-lane entries may take while other tenants' triggers flow "
          "(the delay a tenant above its fair share adds to theirs, per stage; 0.1-1000)");
ABSL_FLAG(double, bulk_share, 0.5,
          "Batcher and fan-out: the share of a worker's time bulk-lane entries take while other tenants' triggers "
          "flow; the rest is left to them (0.05-1)");

ABSL_FLAG(int64_t, drain_timeout_ms, 20000,
          "On SIGTERM/SIGINT: how long gRPC calls in flight get to finish while the workers finish what they hold "
          "(keep Kubernetes' terminationGracePeriodSeconds above it; 35 s for the default)");
ABSL_FLAG(std::string, health_address, "",
          "A second, plaintext port serving only gRPC health (e.g. 0.0.0.0:50052; empty = none): Kubernetes' gRPC "
          "probes cannot speak TLS, so with --tls_cert_file they probe here");
ABSL_FLAG(int, max_connections, 4096,
          "gRPC connections served at once on --grpc_address; more are closed right after accept");
ABSL_FLAG(int, grpc_memory_limit_mb, 256,
          "Memory quota of the gRPC server (connection and call buffers), in MiB; keep it below the container's "
          "memory limit");
ABSL_FLAG(std::string, redis_password_file, "",
          "File holding the Redis password (one line; wins over a password in --redis; keeps it out of URLs and "
          "process lists)");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain of the gRPC listeners (API/health and delivery service); with --tls_key_file turns "
          "on TLS; re-read when it changes");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file (unencrypted)");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA bundle: when set, clients must present a certificate signed by it (mTLS)");
ABSL_FLAG(std::string, delivery_tls_ca_file, "",
          "Dispatcher: PEM CA bundle that verifies delivery services; any --delivery_tls_* turns on TLS to them "
          "(without this flag: the system's roots)");
ABSL_FLAG(std::string, delivery_tls_cert_file, "",
          "Dispatcher: PEM client certificate presented to delivery services (their mTLS)");
ABSL_FLAG(std::string, delivery_tls_key_file, "", "Dispatcher: PEM private key of --delivery_tls_cert_file");
ABSL_FLAG(std::string, gateway_address, "",
          "Browser gateway (gateway/HTTP_API.md) HTTP listen address, e.g. 127.0.0.1:8080 (port 0 = any free one); "
          "required by `herald gateway`; in `herald all` empty = no gateway");
ABSL_FLAG(std::string, gateway_publishable_keys, "",
          "Gateway: the publishable keys browsers send as X-Herald-Key, comma-separated (not secrets: they name the "
          "environment)");
ABSL_FLAG(std::string, gateway_publishable_keys_file, "",
          "Gateway: a file of publishable keys, one per line (# comments), read at start");
ABSL_FLAG(std::string, gateway_jwt_hs256_secret, "",
          "Gateway: the HS256 secret user tokens are signed with (at least 32 bytes); or _file, or RS256");
ABSL_FLAG(std::string, gateway_jwt_hs256_secret_file, "",
          "Gateway: a file holding the HS256 secret (trailing whitespace ignored)");
ABSL_FLAG(std::string, gateway_jwt_rs256_public_key_file, "",
          "Gateway: PEM RSA public key verifying RS256 user tokens (instead of an HS256 secret)");
ABSL_FLAG(std::string, gateway_jwt_audience, "herald", "Gateway: the `aud` user tokens must carry");
ABSL_FLAG(std::string, gateway_jwt_issuer, "", "Gateway: when set, the `iss` user tokens must carry");
ABSL_FLAG(std::string, gateway_cors_origins, "",
          "Gateway: origins allowed to call it from a browser (comma-separated scheme://host[:port], or *); empty = "
          "none");
ABSL_FLAG(double, gateway_user_rate, 20,
          "Gateway: requests per second per user (burst twice that, per gateway process); over it 429 with "
          "Retry-After; 0 = no limit");
ABSL_FLAG(int64_t, gateway_ping_interval_ms, 15000,
          "Gateway: how often an idle realtime stream gets a `: ping` comment (keeps proxies from closing it)");

namespace {

// How the settings read the environment (README "Configuration").
herald::settings::Options SettingsOptions() {
  herald::settings::Options options;
  // Names from before every flag F became HERALD_<F>, kept working.
  options.aliases = {{"HERALD_REDIS_URL", "redis"},
                     {"HERALD_GRPC_ADDR", "grpc_address"},
                     {"HERALD_METRICS_ADDR", "metrics_address"},
                     {"HERALD_WORKFLOWS_DIR", "workflows"},
                     {"HERALD_DELIVERY_ADDR", "delivery_address"}};
  // HERALD_* variables read by others, never reported as a near miss of a
  // setting: heraldctl's key (one letter off HERALD_API_KEYS), the delivery
  // config's overrides and event webhook.
  options.other_variables = {"HERALD_API_KEY", "HERALD_CHANNEL_*", "HERALD_EVENT_WEBHOOK_URL",
                             "HERALD_EVENT_WEBHOOK_SECRET"};
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "herald all|api|batcher|fanout|dispatcher|delivery|gateway [flags]\n  herald flags [--markdown] [flags]: the settings\n"
      "  herald keys new: a fresh API key and its SHA-256 hash");
  if (argc > 1 && std::string(argv[1]) == "flags") return herald::settings::FlagsCommand(argc, argv, SettingsOptions());
  if (argc > 1 && std::string(argv[1]) == "keys") {
    return herald::auth::RunKeysCommand(std::vector<std::string>(argv + 2, argv + argc), std::cout, std::cerr);
  }
  auto loaded = herald::settings::Load(argc, argv, SettingsOptions());
  if (!loaded.ok()) return 2;
  const std::vector<std::string>& args = *loaded;
  herald::RuntimeOptions options;
  options.roles = args.size() > 1 ? args[1] : "all";
  options.redis_address = absl::GetFlag(FLAGS_redis);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.workflows_dir = absl::GetFlag(FLAGS_workflows);
  options.grpc_address = absl::GetFlag(FLAGS_grpc_address);
  options.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  options.partitions = absl::GetFlag(FLAGS_partitions);
  options.batcher_threads = absl::GetFlag(FLAGS_batcher_threads);
  options.fanout_threads = absl::GetFlag(FLAGS_fanout_threads);
  options.api_redis_connections = absl::GetFlag(FLAGS_api_redis_connections);
  options.reclaim_idle_ms = absl::GetFlag(FLAGS_reclaim_idle_ms);
  options.max_recipients = absl::GetFlag(FLAGS_max_recipients);
  options.max_data_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_data_bytes));
  options.consumer_prefix = absl::GetFlag(FLAGS_consumer);
  options.flush_tick_ms = absl::GetFlag(FLAGS_flush_tick_ms);
  options.object_page_size = absl::GetFlag(FLAGS_object_page_size);
  options.default_preferences_file = absl::GetFlag(FLAGS_default_preferences);
  options.delivery_config_file = absl::GetFlag(FLAGS_delivery_config);
  options.delivery_channels = absl::GetFlag(FLAGS_channels);
  options.delivery_address = absl::GetFlag(FLAGS_delivery_address);
  options.dispatcher_threads = absl::GetFlag(FLAGS_dispatcher_threads);
  options.event_webhooks = absl::GetFlag(FLAGS_event_webhooks);
  options.stream_trim_interval_ms = absl::GetFlag(FLAGS_stream_trim_interval_ms);
  options.message_retention_ms = absl::GetFlag(FLAGS_message_retention_ms);
  options.feed_max_items = absl::GetFlag(FLAGS_feed_max_items);
  options.feed_changes_max_len = absl::GetFlag(FLAGS_feed_changes_max_len);
  options.api_keys = absl::GetFlag(FLAGS_api_keys);
  options.api_keys_file = absl::GetFlag(FLAGS_api_keys_file);
  options.allow_unauthenticated = absl::GetFlag(FLAGS_allow_unauthenticated);
  options.delivery_service_api_key = absl::GetFlag(FLAGS_delivery_service_api_key);
  options.trigger_rate_per_key = absl::GetFlag(FLAGS_trigger_rate_per_key);
  options.trigger_burst_per_key = absl::GetFlag(FLAGS_trigger_burst_per_key);
  options.trigger_rate_per_tenant = absl::GetFlag(FLAGS_trigger_rate_per_tenant);
  options.trigger_burst_per_tenant = absl::GetFlag(FLAGS_trigger_burst_per_tenant);
  options.tenant_fair_share_rate = absl::GetFlag(FLAGS_tenant_fair_share_rate);
  options.bulk_read_ms = absl::GetFlag(FLAGS_bulk_read_ms);
  options.bulk_share = absl::GetFlag(FLAGS_bulk_share);
  options.drain_timeout_ms = absl::GetFlag(FLAGS_drain_timeout_ms);
  options.max_connections = absl::GetFlag(FLAGS_max_connections);
  options.health_address = absl::GetFlag(FLAGS_health_address);
  options.grpc_memory_limit_mb = absl::GetFlag(FLAGS_grpc_memory_limit_mb);

  options.redis_password_file = absl::GetFlag(FLAGS_redis_password_file);
  options.tls = {absl::GetFlag(FLAGS_tls_cert_file), absl::GetFlag(FLAGS_tls_key_file),
                 absl::GetFlag(FLAGS_tls_client_ca_file)};
  options.delivery_tls = {absl::GetFlag(FLAGS_delivery_tls_cert_file), absl::GetFlag(FLAGS_delivery_tls_key_file),
                          absl::GetFlag(FLAGS_delivery_tls_ca_file)};
  options.metrics_sample_interval_ms = absl::GetFlag(FLAGS_metrics_sample_interval_ms);
  options.gateway_address = absl::GetFlag(FLAGS_gateway_address);
  options.gateway_flags = {absl::GetFlag(FLAGS_gateway_publishable_keys),
                           absl::GetFlag(FLAGS_gateway_publishable_keys_file),
                           absl::GetFlag(FLAGS_gateway_jwt_hs256_secret),
                           absl::GetFlag(FLAGS_gateway_jwt_hs256_secret_file),
                           absl::GetFlag(FLAGS_gateway_jwt_rs256_public_key_file),
                           absl::GetFlag(FLAGS_gateway_jwt_audience),
                           absl::GetFlag(FLAGS_gateway_jwt_issuer)};
  options.gateway.cors_origins = absl::GetFlag(FLAGS_gateway_cors_origins);
  options.gateway.user_rate = absl::GetFlag(FLAGS_gateway_user_rate);
  if (absl::GetFlag(FLAGS_gateway_ping_interval_ms) < 10) {
    herald::log::Error("herald", "--gateway_ping_interval_ms: must be >= 10");
    return 2;
  }
  options.gateway.http.ping_interval = absl::Milliseconds(absl::GetFlag(FLAGS_gateway_ping_interval_ms));

  // Signals are taken synchronously by one thread so shutdown runs normally.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  herald::log::Info("herald", "starting",
                    {{"roles", options.roles}, {"settings", herald::settings::NonDefaultSettings()}});
  // Connections, Redis and outbound deliveries all need fds: take all the
  // hard limit allows (the listener keeps a reserve below it).
  auto open_files = herald::RaiseOpenFileLimit();
  if (open_files.ok()) {
    herald::log::Info("herald", "open-file limit raised",
                      {{"soft_before", static_cast<int64_t>(open_files->soft_before)},
                       {"soft", static_cast<int64_t>(open_files->soft)},
                       {"hard", static_cast<int64_t>(open_files->hard)}});
  } else {
    herald::log::Warning("herald", "open-file limit unchanged", {{"error", open_files.status()}});
  }
  auto runtime = herald::Runtime::Start(options);
  if (!runtime.ok()) {
    // A bad option is a bad setting: exit code 2, like one that did not parse.
    const bool invalid = runtime.status().code() == absl::StatusCode::kInvalidArgument;
    herald::log::Error("herald", herald::settings::WithOrigin(runtime.status().message()),
                       {{"code", absl::StatusCodeToString(runtime.status().code())}});
    return invalid ? 2 : 1;
  }
  // The one line on stdout, for scripts (bench/loadgen, bench/soak read the
  // port from it); everything else is a log line on stderr.
  std::cout << "herald: roles " << options.roles;
  const std::string redis = herald::settings::Printable("redis", (*runtime)->redis_endpoint());  // no password
  if (!redis.empty()) std::cout << ", redis " << redis;
  if ((*runtime)->grpc_port() != 0) std::cout << ", gRPC on port " << (*runtime)->grpc_port();
  if ((*runtime)->health_port() != 0) std::cout << ", health on port " << (*runtime)->health_port();
  if ((*runtime)->delivery_port() != 0) std::cout << ", delivery service on port " << (*runtime)->delivery_port();
  if ((*runtime)->gateway_port() != 0) std::cout << ", gateway on port " << (*runtime)->gateway_port();
  if (!options.metrics_address.empty()) std::cout << ", metrics on http://" << options.metrics_address << "/metrics";
  std::cout << std::endl;
  herald::log::Info("herald", "started", {{"roles", options.roles},
                                          {"redis", redis},
                                          {"grpc_port", (*runtime)->grpc_port()},
                                          {"delivery_port", (*runtime)->delivery_port()},
                                          {"metrics_address", options.metrics_address}});

  // The first signal drains on a thread of its own (runtime/drain.h); main
  // returns 0 when the drain is done. A second signal during the drain, or
  // a drain still running kDrainOverrun past its deadline, ends the
  // process at once without finishing it: what the workers held stays
  // pending and is reclaimed by other consumers, and the embedded Redis
  // (its parent-death signal is SIGTERM) still flushes its AOF.
  std::thread waiter([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    herald::log::Info("herald", absl::StrCat(SignalName(signal), ": draining (up to ", options.drain_timeout_ms,
                                             " ms for calls in flight; a second signal exits at once)"));
    std::thread([&] { (*runtime)->Shutdown(); }).detach();
    const absl::Duration limit = absl::Milliseconds(options.drain_timeout_ms) + herald::kDrainOverrun;
    const absl::Time give_up = absl::Now() + limit;
    while (true) {
      timespec left = absl::ToTimespec(std::max(give_up - absl::Now(), absl::ZeroDuration()));
      int second = sigtimedwait(&signals, nullptr, &left);
      if (second > 0) {
        herald::log::Error("herald", absl::StrCat(SignalName(second), " again during the drain: exiting now, status ",
                                                  128 + second));
        _exit(128 + second);
      }
      if (errno == EINTR) continue;
      herald::log::Error("herald", absl::StrCat("the drain did not finish within ", absl::FormatDuration(limit),
                                                ": exiting, status 1"));
      _exit(1);
    }
  });
  (*runtime)->Wait();
  waiter.detach();
  herald::log::Info("herald", "stopped");
  return 0;
}
