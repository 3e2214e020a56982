#include "metrics/redis_metrics.h"

#include <string>

namespace herald::metrics {
namespace {

constexpr const char* kKindLabels[redis::kClientKinds] = {"sync", "pipeline"};
constexpr const char* kFailureLabels[redis::ClientObserver::kFailures] = {"connection", "timeout", "reply"};

}  // namespace

RedisMetrics::RedisMetrics(std::shared_ptr<prometheus::Registry> registry) : registry_(std::move(registry)) {
  auto& seconds = prometheus::BuildHistogram()
                      .Name("herald_redis_command_seconds")
                      .Help("Redis round-trip time of one pipeline of commands (one observation per round trip; "
                            "blocking reads, which wait for data, are not observed)")
                      .Register(*registry_);
  auto& commands = prometheus::BuildCounter()
                       .Name("herald_redis_commands_total")
                       .Help("Commands sent to Redis")
                       .Register(*registry_);
  auto& errors = prometheus::BuildCounter()
                     .Name("herald_redis_errors_total")
                     .Help("Redis failures: connection (cannot connect or lost), timeout (no reply in time), reply "
                           "(an error reply that is not a Herald user error)")
                     .Register(*registry_);
  for (size_t k = 0; k < redis::kClientKinds; ++k) {
    const std::string kind = kKindLabels[k];
    seconds_[k] = &seconds.Add({{"client", kind}},
                               prometheus::Histogram::BucketBoundaries{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                                       0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
    commands_[k] = &commands.Add({{"client", kind}});
    for (size_t f = 0; f < kFailures; ++f) errors_[k][f] = &errors.Add({{"client", kind}, {"error", kFailureLabels[f]}});
  }
}

void RedisMetrics::RoundTrip(redis::ClientKind kind, double seconds, size_t commands, bool blocking) {
  const size_t k = static_cast<size_t>(kind);
  if (!blocking) seconds_[k]->Observe(seconds);
  commands_[k]->Increment(static_cast<double>(commands));
}

void RedisMetrics::Failed(redis::ClientKind kind, Failure failure, size_t count) {
  errors_[static_cast<size_t>(kind)][static_cast<size_t>(failure)]->Increment(static_cast<double>(count));
}

}  // namespace herald::metrics
