// The delivery dispatcher: reads herald:{p}:deliveries (consumer group
// "delivery"), takes each message for an attempt under a lease
// (messages/delivery_state.h), and routes it by channel to that channel's
// lane, which calls the channel's delivery service — in process or remote
// over herald.delivery.v1.DeliveryService — and records the outcome. A
// retry timer moves due retries back into the stream.
//
// Exactly once in effect: a message is sent only while its status is not
// final and nobody else holds its lease; the outcome is recorded before the
// entry is acked, so a worker that dies after recording never causes a
// second send. The one window left is between the provider accepting and
// the outcome being recorded (a crash there sends again after the lease
// lapses); the message id travels as the provider's idempotency key so the
// provider can drop that repeat.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "dispatcher/lane.h"
#include "dispatcher/metrics.h"
#include "redis/periodic_task.h"
#include "redis/stream_worker.h"
#include "services/delivery/config.h"
#include "services/delivery/delivery_service.h"

namespace herald::dispatcher {

struct DispatcherOptions : redis::ConsumerOptions {
  DispatcherOptions() { read_count = 512; }
  // Stream readers (each with its own connection).
  int threads = 1;
  // How long a taken message is reserved for its worker: after a crash,
  // another worker sends it once this lapses. Longer than any provider
  // timeout.
  int64_t lease_ms = 60'000;
  LaneOptions lane;
  // How often the retry timer looks for due retries.
  int retry_tick_ms = 100;
};

// The delivery service of a configured channel (in process or remote), or
// nullptr when this process cannot serve it.
using ServiceFor = std::function<delivery::DeliveryService*(const delivery::ChannelConfig&)>;

class Dispatcher {
 public:
  Dispatcher(const redis::Endpoint& endpoint, const delivery::DeliveryConfig& config, const ServiceFor& services,
             const Clock& clock, DispatcherOptions options, DispatcherMetrics& metrics);
  ~Dispatcher();

  void Start();
  // Stops reading, finishes the batches in flight and hands queued messages
  // back to the retry timer.
  void Stop();

  // One pass of the retry timer over every partition (exposed for tests).
  static absl::StatusOr<int64_t> MoveDueRetries(redis::RedisClient& client, int partitions, int64_t now_ms, int limit);

 private:
  class Reader;

  const delivery::DeliveryConfig& config_;
  std::map<std::string, std::unique_ptr<Lane>> lanes_;  // by channel name
  std::vector<std::unique_ptr<Reader>> readers_;
  std::vector<std::unique_ptr<redis::StreamWorker>> workers_;
  std::unique_ptr<redis::PeriodicTask> retry_timer_;
  bool stopped_ = false;
};

}  // namespace herald::dispatcher
