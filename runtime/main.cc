// herald: the server binary. `herald all` runs every role in one process
// (with an embedded redis-server unless --redis / HERALD_REDIS_URL is set);
// `herald api|batcher|fanout|dispatcher` runs one role for scale-out;
// `herald delivery --channels=email,sms` serves channels' providers over
// the DeliveryService gRPC contract for dispatchers elsewhere.
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "runtime/runtime.h"

namespace {
std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}
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
ABSL_FLAG(int64_t, metrics_sample_interval_ms, 5000,
          "How often worker processes sample stream lag, pending entries, open batches and dead letters for "
          "/metrics; 0 = never");
ABSL_FLAG(int, feed_max_items, 1000, "A user's in-app feed keeps its newest items, this many (1-100000)");

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
  options.metrics_sample_interval_ms = absl::GetFlag(FLAGS_metrics_sample_interval_ms);

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

  std::thread waiter([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    std::cout << "herald: shutting down" << std::endl;
    (*runtime)->Shutdown();
  });
  (*runtime)->Wait();
  waiter.detach();
  return 0;
}
