#include "events/event_webhook_worker.h"

#include <chrono>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "core/keys.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "events/outbox_event.h"
#include "redis/move_due.h"
#include "redis/script.h"
#include "services/delivery/providers/provider_set.h"

namespace herald::events {
namespace {


constexpr const char* kLogName = "events";

prometheus::Counter& Outcome(prometheus::Family<prometheus::Counter>& family, const std::string& outcome) {
  return family.Add({{"outcome", outcome}});
}

// Real time, not the injected clock: the flag's TTL runs on Redis's clock.
int64_t SteadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

EventWebhookMetrics::EventWebhookMetrics(prometheus::Registry& registry)
    : events(prometheus::BuildCounter()
                 .Name("herald_event_webhooks_total")
                 .Help("Outbound webhook events by outcome: delivered, retried (on the timer), failed (permanent, "
                       "dropped), exhausted (last attempt, dropped), malformed (dropped)")
                 .Register(registry)),
      delivered(Outcome(events, "delivered")),
      retried(Outcome(events, "retried")),
      failed(Outcome(events, "failed")),
      exhausted(Outcome(events, "exhausted")),
      malformed(Outcome(events, "malformed")),
      errors(prometheus::BuildCounter()
                 .Name("herald_event_webhook_errors_total")
                 .Help("Redis errors of the event-webhook worker")
                 .Register(registry)
                 .Add({})),
      reclaimed(prometheus::BuildCounter()
                    .Name("herald_event_webhook_reclaimed_total")
                    .Help("Outbox entries taken over from a stalled event-webhook consumer")
                    .Register(registry)
                    .Add({})) {}

// POSTs one read of outbox entries and records what follows. Used by the
// reader thread only.
class EventWebhookWorker::Poster final : public redis::StreamProcessor {
 public:
  Poster(delivery::ChannelConfig hook, std::unique_ptr<delivery::Provider> provider, const Clock& clock,
         EventWebhookMetrics& metrics)
      : hook_(std::move(hook)), provider_(std::move(provider)), clock_(clock), metrics_(metrics) {}

  absl::Status Process(redis::RedisClient& client, redis::StreamConsumer& consumer,
                       const std::vector<redis::StreamEntry>& entries) override {
    std::vector<OutboxEvent> events;
    std::vector<int> partitions;
    int malformed = 0;
    for (const redis::StreamEntry& entry : entries) {
      const int partition = static_cast<int>(entry.stream_index);
      auto event = ParseOutboxEntry(entry.payload, partition, entry.id);
      if (!event.ok()) {
        // A poison entry is dropped (acked below), never retried forever.
        log::Error(kLogName, "dropping an outbox entry that does not decode",
                   {{"entry_id", entry.id}, {"error", event.status()}});
        ++malformed;
        continue;
      }
      events.push_back(*std::move(event));
      partitions.push_back(partition);
    }
    // One POST per event, the read's POSTs concurrently (up to the
    // event_webhook's concurrency).
    std::vector<delivery::Delivery> deliveries;
    deliveries.reserve(events.size());
    for (const OutboxEvent& event : events) deliveries.push_back(DeliveryFor(event, hook_.name));
    std::vector<delivery::Result> results(events.size());
    std::vector<const delivery::Delivery*> delivery_ptrs;
    std::vector<delivery::Result*> result_ptrs;
    for (size_t i = 0; i < events.size(); ++i) {
      results[i].set_message_id(events[i].id);
      delivery_ptrs.push_back(&deliveries[i]);
      result_ptrs.push_back(&results[i]);
    }
    if (!events.empty()) provider_->Deliver(delivery_ptrs, result_ptrs);

    const int64_t now_ms = clock_.NowMillis();
    int delivered = 0, retried = 0, failed = 0, exhausted = 0;
    std::vector<redis::Command> retries;
    for (size_t i = 0; i < events.size(); ++i) {
      OutboxEvent& event = events[i];
      const Decision decision = Decide(results[i], event.attempts + 1, hook_.retry, now_ms, random_);
      switch (decision.verdict) {
        case Verdict::kDelivered:
          ++delivered;
          break;
        case Verdict::kRetry:
          ++event.attempts;
          retries.push_back(
              {"ZADD", Keys(partitions[i]).EventDue(), absl::StrCat(decision.due_ms), RetryEnvelope(event)});
          ++retried;
          break;
        case Verdict::kFailed:
        case Verdict::kExhausted:
          log::Error(kLogName, "dropping an event the webhook did not take",
                       {{"event_id", event.id},
                        {"event_type", event.type},
                        log::Field::IfSet("message_id", event.message_id),
                        {"attempts", event.attempts + 1},
                        {"reason", results[i].reason()}});
          ++(decision.verdict == Verdict::kFailed ? failed : exhausted);
          break;
      }
    }
    // The retries are on the timer before their entries leave the outbox.
    if (!retries.empty()) {
      for (auto& reply : client.Pipeline(retries)) {
        if (!reply.ok()) return reply.status();
      }
    }
    std::vector<const redis::StreamEntry*> done;
    for (const redis::StreamEntry& entry : entries) done.push_back(&entry);
    HERALD_RETURN_IF_ERROR(consumer.Ack(done));
    metrics_.delivered.Increment(delivered);
    metrics_.retried.Increment(retried);
    metrics_.failed.Increment(failed);
    metrics_.exhausted.Increment(exhausted);
    metrics_.malformed.Increment(malformed);
    return absl::OkStatus();
  }

 private:
  const delivery::ChannelConfig hook_;
  const std::unique_ptr<delivery::Provider> provider_;
  const Clock& clock_;
  EventWebhookMetrics& metrics_;
  absl::BitGen random_;
};

absl::StatusOr<std::unique_ptr<EventWebhookWorker>> EventWebhookWorker::Create(const redis::Endpoint& endpoint,
                                                                               const delivery::ChannelConfig& hook,
                                                                               const Clock& clock,
                                                                               EventWebhookOptions options,
                                                                               EventWebhookMetrics& metrics) {
  auto provider = delivery::MakeProvider(hook, clock);
  if (!provider.ok()) return provider.status();
  return std::make_unique<EventWebhookWorker>(endpoint, hook, *std::move(provider), clock, std::move(options),
                                              metrics);
}

EventWebhookWorker::EventWebhookWorker(const redis::Endpoint& endpoint, delivery::ChannelConfig hook,
                                       std::unique_ptr<delivery::Provider> provider, const Clock& clock,
                                       EventWebhookOptions options, EventWebhookMetrics& metrics)
    : endpoint_(endpoint), options_(std::move(options)), clock_(clock), metrics_(metrics) {
  poster_ = std::make_unique<Poster>(std::move(hook), std::move(provider), clock_, metrics_);
  reader_ = std::make_unique<redis::StreamWorker>(
      endpoint_,
      redis::StreamWorkerOptions{EveryPartition(options_.partitions, &Keys::EventOutbox),
                                 std::string(kEventWebhookGroup), "e", kLogName, options_},
      clock_, *poster_, redis::StreamWorker::Counting(metrics_.errors, metrics_.reclaimed));
  timer_ = std::make_unique<redis::PeriodicTask>(
      endpoint_, absl::StrCat(kLogName, ".retry_timer"), options_.retry_tick_ms,
      [this](redis::RedisClient& client) -> absl::StatusOr<bool> {
        const int64_t now = SteadyMillis();
        if (now - flags_refreshed_ms_ >= options_.flag_refresh_ms) {
          HERALD_RETURN_IF_ERROR(EnableOutboxes(client, options_.partitions, options_.flag_ttl_ms));
          flags_refreshed_ms_ = now;
        }
        auto moved = MoveDueEvents(client, options_.partitions, clock_.NowMillis(), options_.retry_claim_limit);
        if (!moved.ok()) return moved.status();
        return *moved >= options_.retry_claim_limit;
      },
      [this] { metrics_.errors.Increment(); });
}

EventWebhookWorker::~EventWebhookWorker() { Stop(); }

absl::Status EventWebhookWorker::Start() {
  if (started_) return absl::OkStatus();
  auto client = redis::ConnectRedis(endpoint_);
  if (!client.ok()) return client.status();
  HERALD_RETURN_IF_ERROR(EnableOutboxes(**client, options_.partitions, options_.flag_ttl_ms));
  // The timer thread starts after this write: it sees it.
  flags_refreshed_ms_ = SteadyMillis();
  // The groups exist before any event is appended, so none is missed.
  redis::StreamConsumer setup(**client, EveryPartition(options_.partitions, &Keys::EventOutbox),
                              std::string(kEventWebhookGroup), "setup", "e");
  HERALD_RETURN_IF_ERROR(setup.EnsureGroups());
  started_ = true;
  reader_->Start();
  timer_->Start();
  return absl::OkStatus();
}

void EventWebhookWorker::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  reader_->Stop();
  timer_->Stop();
}

absl::Status EventWebhookWorker::EnableOutboxes(redis::RedisClient& client, int partitions, int64_t ttl_ms) {
  std::vector<redis::Command> commands;
  for (int p = 0; p < partitions; ++p) {
    commands.push_back({"SET", Keys(p).EventOutboxEnabled(), "1", "PX", absl::StrCat(ttl_ms)});
  }
  for (auto& reply : client.Pipeline(commands)) {
    if (!reply.ok()) return reply.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> EventWebhookWorker::MoveDueEvents(redis::RedisClient& client, int partitions, int64_t now_ms,
                                                          int limit) {
  std::vector<redis::Command> commands;
  for (int p = 0; p < partitions; ++p) {
    const Keys keys(p);
    commands.push_back(
        redis::MoveDueCommand(keys.EventDue(), keys.EventOutbox(), "e", now_ms, limit));
  }
  int64_t moved = 0;
  for (auto& reply : client.Pipeline(commands)) {
    if (!reply.ok()) return reply.status();
    moved += reply->integer;
  }
  return moved;
}

}  // namespace herald::events
