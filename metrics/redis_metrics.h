// Prometheus metrics of Herald's Redis connections: an observer that a
// process attaches to its redis::Endpoint, so every connection made from it
// reports one observation per round trip (never per command):
//   herald_redis_command_seconds{client}   round-trip time of one pipeline
//                                          (blocking reads left out)
//   herald_redis_commands_total{client}    commands sent
//   herald_redis_errors_total{client,error}  connection | timeout | reply
// `client` is the connection kind (sync, pipeline): a fixed, small set.
#pragma once

#include <array>
#include <memory>

#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "redis/client.h"

namespace herald::metrics {

// Thread-safe (prometheus-cpp metrics are); built once per process.
class RedisMetrics final : public redis::ClientObserver {
 public:
  // Shares ownership of `registry`, so connections that outlive their
  // creator still write to live metrics.
  explicit RedisMetrics(std::shared_ptr<prometheus::Registry> registry);

  // Blocking round trips are counted, not timed: their time is a wait.
  void RoundTrip(redis::ClientKind kind, double seconds, size_t commands, bool blocking) override;
  void Failed(redis::ClientKind kind, Failure failure, size_t count) override;

 private:
  const std::shared_ptr<prometheus::Registry> registry_;
  std::array<prometheus::Histogram*, redis::kClientKinds> seconds_{};
  std::array<prometheus::Counter*, redis::kClientKinds> commands_{};
  std::array<std::array<prometheus::Counter*, kFailures>, redis::kClientKinds> errors_{};
};

}  // namespace herald::metrics
