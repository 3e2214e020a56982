// herald: the server binary. `herald all` runs every role in one process
// (with an embedded redis-server unless --redis / HERALD_REDIS_URL is set);
// `herald api|batcher|fanout|dispatcher` runs one role for scale-out;
// `herald delivery --channels=email,sms` serves channels' providers over
// the DeliveryService gRPC contract for dispatchers elsewhere.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "runtime/drain.h"
#include "runtime/runtime.h"

namespace {
std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

const char* SignalName(int signal) { return signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal"; }
}  // namespace

ABSL_FLAG(std::string, redis, EnvOr("HERALD_REDIS_URL", ""),
          "Redis address (redis://host:port, host:port or unix:///path); empty starts an embedded redis-server "
          "[env HERALD_REDIS_URL]");
ABSL_FLAG(std::string, data_dir, EnvOr("HERALD_DATA_DIR", "herald-data"),
          "Folder for the embedded Redis (AOF everysec) [env HERALD_DATA_DIR]");
ABSL_FLAG(std::string, workflows, EnvOr("HERALD_WORKFLOWS_DIR", "examples/workflows"),
          "Folder of workflow files (*.yaml, *.yml, *.json) [env HERALD_WORKFLOWS_DIR]");
ABSL_FLAG(std::string, grpc_address, EnvOr("HERALD_GRPC_ADDR", "127.0.0.1:50051"),
          "gRPC listen address [env HERALD_GRPC_ADDR]");
ABSL_FLAG(std::string, metrics_address, EnvOr("HERALD_METRICS_ADDR", "127.0.0.1:9464"),
          "Prometheus /metrics listen address; empty disables [env HERALD_METRICS_ADDR]");
ABSL_FLAG(int, partitions, 4, "Number of Redis partitions (must match across every replica, forever)");
ABSL_FLAG(int, batcher_threads, 1, "Batcher worker threads");
ABSL_FLAG(int, fanout_threads, 2, "Fan-out worker threads");
ABSL_FLAG(int, api_redis_connections, 2, "Redis connections for the API's group-commit pipeline");
ABSL_FLAG(int64_t, reclaim_idle_ms, 15000, "Take over stream entries pending this long on a dead consumer");
ABSL_FLAG(int, max_recipients, 1000, "Maximum recipients per trigger");
ABSL_FLAG(int, max_data_bytes, 32768, "Maximum size of a trigger's data JSON");
ABSL_FLAG(std::string, consumer, "", "Consumer name prefix (default hostname-pid)");
ABSL_FLAG(std::string, default_preferences, EnvOr("HERALD_DEFAULT_PREFERENCES", ""),
          "JSON file with the environment's default preference set (least specific level)");
ABSL_FLAG(int, object_page_size, 500, "Subscribers per page of an object fan-out (1-10000)");
ABSL_FLAG(std::string, delivery_config, EnvOr("HERALD_DELIVERY_CONFIG", ""),
          "YAML file of delivery channels (providers, options, secrets, retry, rate limit) [env "
          "HERALD_DELIVERY_CONFIG]");
ABSL_FLAG(std::vector<std::string>, channels, {},
          "herald delivery: the configured channels this delivery service serves (default: all)");
ABSL_FLAG(std::string, delivery_address, EnvOr("HERALD_DELIVERY_ADDR", "127.0.0.1:50061"),
          "herald delivery: DeliveryService gRPC listen address [env HERALD_DELIVERY_ADDR]");
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
ABSL_FLAG(int, feed_max_items, 1000, "A user's in-app feed keeps its newest items, this many (1-100000)");
ABSL_FLAG(int64_t, drain_timeout_ms, 20000,
          "On SIGTERM/SIGINT: how long gRPC calls in flight get to finish while the workers finish what they hold "
          "(keep Kubernetes' terminationGracePeriodSeconds above it; 35 s for the default)");
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

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("herald all|api|batcher|fanout|dispatcher|delivery [flags]");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
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
  options.drain_timeout_ms = absl::GetFlag(FLAGS_drain_timeout_ms);
  options.redis_password_file = absl::GetFlag(FLAGS_redis_password_file);
  options.tls = {absl::GetFlag(FLAGS_tls_cert_file), absl::GetFlag(FLAGS_tls_key_file),
                 absl::GetFlag(FLAGS_tls_client_ca_file)};
  options.delivery_tls = {absl::GetFlag(FLAGS_delivery_tls_cert_file), absl::GetFlag(FLAGS_delivery_tls_key_file),
                          absl::GetFlag(FLAGS_delivery_tls_ca_file)};

  // Signals are taken synchronously by one thread so shutdown runs normally.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto runtime = herald::Runtime::Start(options);
  if (!runtime.ok()) {
    std::cerr << "herald: " << runtime.status().message() << std::endl;
    return 1;
  }
  std::cout << "herald: roles " << options.roles;
  if (!(*runtime)->redis_endpoint().empty()) std::cout << ", redis " << (*runtime)->redis_endpoint();
  if ((*runtime)->grpc_port() != 0) std::cout << ", gRPC on port " << (*runtime)->grpc_port();
  if ((*runtime)->delivery_port() != 0) std::cout << ", delivery service on port " << (*runtime)->delivery_port();
  if (!options.metrics_address.empty()) std::cout << ", metrics on http://" << options.metrics_address << "/metrics";
  std::cout << std::endl;

  // The first signal drains on a thread of its own (runtime/drain.h); main
  // returns 0 when the drain is done. A second signal during the drain, or
  // a drain still running kDrainOverrun past its deadline, ends the
  // process at once without finishing it: what the workers held stays
  // pending and is reclaimed by other consumers, and the embedded Redis
  // (its parent-death signal is SIGTERM) still flushes its AOF.
  std::thread waiter([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    std::cout << "herald: " << SignalName(signal) << ": draining (up to " << options.drain_timeout_ms
              << " ms for calls in flight; a second signal exits at once)" << std::endl;
    std::thread([&] { (*runtime)->Shutdown(); }).detach();
    const absl::Duration limit = absl::Milliseconds(options.drain_timeout_ms) + herald::kDrainOverrun;
    const absl::Time give_up = absl::Now() + limit;
    while (true) {
      timespec left = absl::ToTimespec(std::max(give_up - absl::Now(), absl::ZeroDuration()));
      int second = sigtimedwait(&signals, nullptr, &left);
      if (second > 0) {
        std::cout << "herald: " << SignalName(second) << " again during the drain: exiting now, status "
                  << 128 + second << std::endl;
        _exit(128 + second);
      }
      if (errno == EINTR) continue;
      std::cout << "herald: the drain did not finish within " << absl::FormatDuration(limit) << ": exiting, status 1"
                << std::endl;
      _exit(1);
    }
  });
  (*runtime)->Wait();
  waiter.detach();
  return 0;
}
