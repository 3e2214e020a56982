// One channel's lane: a bounded queue of messages leased for delivery and
// the threads that hand them to the channel's delivery service in batches,
// behind the channel's circuit breaker and shared rate limit, then record
// each outcome and ack its stream entry. Lanes are independent, so a slow
// or dead provider fills only its own queue; when the queue is full the
// reader defers that channel's new messages instead of waiting.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"
#include "core/clock.h"
#include "dispatcher/circuit_breaker.h"
#include "dispatcher/metrics.h"
#include "messages/delivery_state.h"
#include "redis/client.h"
#include "services/delivery/config.h"
#include "services/delivery/delivery_service.h"

namespace herald::dispatcher {

// A leased message on its way to the provider, with the stream entry that
// carried it (acked once its outcome is recorded).
struct Pending {
  delivery::Delivery delivery;
  int partition = 0;
  std::string entry_id;
  int64_t queued_at_us = 0;
  // The lease owner (the reader that took it).
  std::string owner;
};

struct LaneOptions {
  int threads = 2;
  size_t capacity = 20'000;
  // Messages per Deliver call, at most; a call also takes at most 4 × the
  // channel's concurrency, so it ends within 4 provider timeouts.
  int max_batch = 256;
  // The least lease a message gets when its batch goes out (renewed then:
  // waiting in the queue never eats into it).
  int64_t lease_ms = 60'000;
};

class Lane {
 public:
  Lane(const delivery::ChannelConfig& config, delivery::DeliveryService& service, const redis::Endpoint& endpoint,
       const Clock& clock, LaneOptions options, ChannelMetrics& metrics, DispatcherMetrics& shared_metrics);
  ~Lane();
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  void Start();
  // Finishes the batches in flight; messages still queued go back on the
  // retry timer (due at once) so another worker takes them without waiting
  // for their leases to lapse.
  void Stop();

  // Queues what fits and returns the rest (the caller defers them).
  std::vector<Pending> Offer(std::vector<Pending> items);

 private:
  void Run();
  // Delivers one batch and records it; false when Redis failed (the batch's
  // entries stay pending and are taken over later).
  absl::Status DeliverBatch(redis::RedisClient& client, std::vector<Pending>& batch, absl::BitGen& random);
  // Records `records` (one per item of `batch`, same order) and acks the
  // entries whose record landed.
  absl::Status RecordAndAck(redis::RedisClient& client, const std::vector<Pending>& batch,
                            const std::vector<messages::DeliveryRecord>& records);
  // Renews the batch's leases for the time the call can take and drops the
  // messages this worker no longer holds (another took them over, or they
  // became final meanwhile: neither sent nor acked here).
  absl::Status KeepLeased(redis::RedisClient& client, std::vector<Pending>& batch);
  size_t BatchLimit() const;

  const delivery::ChannelConfig config_;
  delivery::DeliveryService& service_;
  const redis::Endpoint endpoint_;
  const Clock& clock_;
  const LaneOptions options_;
  ChannelMetrics& metrics_;
  DispatcherMetrics& shared_metrics_;
  CircuitBreaker breaker_;

  absl::Mutex mutex_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace herald::dispatcher
