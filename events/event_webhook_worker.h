// Outbound event webhooks (events/EVENT_WEBHOOKS.md): reads every
// partition's event outbox (consumer group "event_webhooks"), POSTs each
// event signed through the `webhook` provider of the configured
// event_webhook, and retries like a delivery: a retryable failure waits on
// the partition's event timer (Keys::EventDue) and goes back into the
// outbox when due; a permanent failure or the last attempt drops the event
// and counts it. While it runs it keeps each partition's
// Keys::EventOutboxEnabled flag alive, which is what makes the messages and
// feed scripts fill the outbox at all.
//
// At least once: an entry is acked (XACK + XDEL) only after its POST
// succeeded, or its retry is on the timer, or its drop is decided; a
// receiver dedupes by the event's "id" (also the Idempotency-Key header).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/clock.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "redis/client.h"
#include "redis/periodic_task.h"
#include "redis/stream_worker.h"
#include "services/delivery/config.h"
#include "services/delivery/providers/provider.h"

namespace herald::events {

struct EventWebhookOptions : redis::ConsumerOptions {
  EventWebhookOptions() { read_count = 64; }
  // How often the timer moves due retries back into the outboxes.
  int retry_tick_ms = 100;
  // Retries moved per partition and pass at most.
  int retry_claim_limit = 256;
  // The outbox flag's lifetime and how often the worker renews it: a
  // stopped worker's outboxes stop filling within the TTL.
  int64_t flag_ttl_ms = 60'000;
  int64_t flag_refresh_ms = 20'000;
};

// herald_event_webhooks_total{outcome} and the worker's own errors. Built
// once per process; thread-safe (prometheus counters).
struct EventWebhookMetrics {
  explicit EventWebhookMetrics(prometheus::Registry& registry);

  prometheus::Family<prometheus::Counter>& events;
  prometheus::Counter& delivered;  // outcome="delivered"
  prometheus::Counter& retried;    // outcome="retried": on the timer
  prometheus::Counter& failed;     // outcome="failed": permanent failure, dropped
  prometheus::Counter& exhausted;  // outcome="exhausted": last attempt failed, dropped
  prometheus::Counter& malformed;  // outcome="malformed": not an event, dropped
  prometheus::Counter& errors;
  prometheus::Counter& reclaimed;
};

// Thread-compatible: Start and Stop from one owner thread; the worker's
// threads (one stream reader, one timer) use their own connections.
class EventWebhookWorker {
 public:
  // Builds the webhook provider of `hook` (INVALID_ARGUMENT naming the
  // event_webhook field). `clock` and `metrics` must outlive the worker.
  static absl::StatusOr<std::unique_ptr<EventWebhookWorker>> Create(const redis::Endpoint& endpoint,
                                                                    const delivery::ChannelConfig& hook,
                                                                    const Clock& clock, EventWebhookOptions options,
                                                                    EventWebhookMetrics& metrics);
  // The same with a given provider (tests: a fake transport).
  EventWebhookWorker(const redis::Endpoint& endpoint, delivery::ChannelConfig hook,
                     std::unique_ptr<delivery::Provider> provider, const Clock& clock, EventWebhookOptions options,
                     EventWebhookMetrics& metrics);
  ~EventWebhookWorker();
  EventWebhookWorker(const EventWebhookWorker&) = delete;
  EventWebhookWorker& operator=(const EventWebhookWorker&) = delete;

  // Turns every partition's outbox on (so events written after Start
  // returns reach the outbox), then starts the reader and the timer.
  // UNAVAILABLE when Redis cannot be reached.
  absl::Status Start();
  // Stops reading (the POSTs of the current read finish) and the timer. The
  // flags are left to expire: another replica may still be running.
  void Stop();

  // Sets the outbox flag of partitions [0, partitions) for `ttl_ms`.
  static absl::Status EnableOutboxes(redis::RedisClient& client, int partitions, int64_t ttl_ms);
  // Moves at most `limit` due retries per partition back into the outboxes;
  // returns how many moved.
  static absl::StatusOr<int64_t> MoveDueEvents(redis::RedisClient& client, int partitions, int64_t now_ms, int limit);

 private:
  class Poster;

  const redis::Endpoint endpoint_;
  const EventWebhookOptions options_;
  const Clock& clock_;
  EventWebhookMetrics& metrics_;
  std::unique_ptr<Poster> poster_;
  std::unique_ptr<redis::StreamWorker> reader_;
  std::unique_ptr<redis::PeriodicTask> timer_;
  // Used by the timer thread only.
  int64_t flags_refreshed_ms_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace herald::events
