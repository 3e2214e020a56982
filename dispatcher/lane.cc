#include "dispatcher/lane.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "core/keys.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "dispatcher/outcome.h"
#include "dispatcher/rate_limiter.h"
#include "messages/delivery_state.h"
#include "redis/stream_consumer.h"

namespace herald::dispatcher {
namespace {

using messages::DeliveryRecord;

// `what` failed for `batch` (messages leased, not recorded: taken over
// once their leases lapse). A batch of one names its message.
void LogError(absl::string_view what, const std::string& channel, const absl::Status& status,
              const std::vector<Pending>& batch) {
  log::Error("dispatcher", what,
             {{"channel", channel},
              {"messages", batch.size()},
              log::Field::IfSet("message_id", batch.size() == 1 ? batch.front().delivery.message_id() : ""),
              {"error", status}});
}

}  // namespace

Lane::Lane(const delivery::ChannelConfig& config, delivery::DeliveryService& service, const redis::Endpoint& endpoint,
           const Clock& clock, LaneOptions options, ChannelMetrics& metrics, DispatcherMetrics& shared_metrics)
    : config_(config),
      service_(service),
      endpoint_(endpoint),
      clock_(clock),
      options_(options),
      metrics_(metrics),
      shared_metrics_(shared_metrics),
      breaker_(config.circuit, clock) {}

Lane::~Lane() { Stop(); }

void Lane::Start() {
  for (int i = 0; i < std::max(1, options_.threads); ++i) threads_.emplace_back([this] { Run(); });
}

std::vector<Pending> Lane::Offer(std::vector<Pending> items) {
  absl::MutexLock lock(&mutex_);
  size_t taken = 0;
  while (taken < items.size() && queue_.size() < options_.capacity && !stopping_) {
    queue_.push_back(std::move(items[taken++]));
  }
  items.erase(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(taken));
  return items;
}

void Lane::Stop() {
  {
    absl::MutexLock lock(&mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  std::vector<Pending> left;
  {
    absl::MutexLock lock(&mutex_);
    left.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
  }
  if (left.empty()) return;
  auto client = redis::ConnectRedis(endpoint_);
  if (!client.ok()) {
    return LogError("cannot record the deferral of queued messages at stop", config_.name, client.status(), left);
  }
  std::vector<DeliveryRecord> records;
  for (const Pending& item : left) records.push_back(Deferral(item.delivery.message_id(), clock_.NowMillis()));
  absl::Status status = RecordAndAck(**client, left, records);
  if (!status.ok()) LogError("cannot record the deferral of queued messages at stop", config_.name, status, left);
}

void Lane::Run() {
  absl::BitGen random;
  std::unique_ptr<redis::RedisClient> client;
  while (true) {
    std::vector<Pending> batch;
    {
      absl::MutexLock lock(&mutex_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return stopping_ || !queue_.empty(); };
      mutex_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(200));
      if (stopping_) return;
      while (!queue_.empty() && batch.size() < BatchLimit()) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (batch.empty()) continue;
    if (!client) {
      auto connected = redis::ConnectRedis(endpoint_);
      if (!connected.ok()) {
        // Unacked, leased: taken over once the leases lapse.
        shared_metrics_.errors.Increment();
        LogError("cannot connect to Redis", config_.name, connected.status(), batch);
        continue;
      }
      client = std::move(*connected);
    }
    absl::Status status = DeliverBatch(*client, batch, random);
    if (!status.ok()) {
      shared_metrics_.errors.Increment();
      LogError("delivering a batch failed", config_.name, status, batch);
      client.reset();
    }
  }
}

size_t Lane::BatchLimit() const {
  const size_t by_concurrency = 4 * static_cast<size_t>(std::max(1, config_.concurrency));
  return std::max<size_t>(1, std::min(static_cast<size_t>(options_.max_batch), by_concurrency));
}

absl::Status Lane::KeepLeased(redis::RedisClient& client, std::vector<Pending>& batch) {
  // Long enough for the call: BatchLimit() bounds it to 4 rounds of the
  // provider's timeout.
  const int64_t lease_ms = std::max(options_.lease_ms, 4 * config_.timeout_ms + 30'000);
  const int64_t lease_until_us = clock_.NowMicros() + lease_ms * 1000;
  std::map<std::pair<int, std::string>, std::vector<size_t>> groups;  // (partition, owner) -> items
  for (size_t i = 0; i < batch.size(); ++i) groups[{batch[i].partition, batch[i].owner}].push_back(i);
  std::vector<redis::Command> renewals;
  for (const auto& [group, indexes] : groups) {
    std::vector<std::string> ids;
    for (size_t i : indexes) ids.push_back(batch[i].delivery.message_id());
    renewals.push_back(messages::RenewLeasesCommand(Keys(group.first), ids, group.second, lease_until_us));
  }
  std::vector<absl::StatusOr<redis::Reply>> replies = client.Pipeline(renewals);
  std::vector<bool> keep(batch.size(), false);
  size_t c = 0;
  for (const auto& [group, indexes] : groups) {
    const auto& reply = replies[c++];
    if (!reply.ok()) return reply.status();
    for (size_t n = 0; n < indexes.size(); ++n) {
      keep[indexes[n]] = n < reply->elements.size() && reply->elements[n].integer == 1;
    }
  }
  std::vector<Pending> kept;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (keep[i]) kept.push_back(std::move(batch[i]));
    else shared_metrics_.stale_entries.Increment();
  }
  batch = std::move(kept);
  return absl::OkStatus();
}

absl::Status Lane::DeliverBatch(redis::RedisClient& client, std::vector<Pending>& batch, absl::BitGen& random) {
  HERALD_RETURN_IF_ERROR(KeepLeased(client, batch));
  if (batch.empty()) return absl::OkStatus();
  const int64_t now_ms = clock_.NowMillis();
  std::vector<DeliveryRecord> records(batch.size());
  // Held back, not attempted: an open circuit, then the shared rate limit.
  size_t admitted = static_cast<size_t>(breaker_.Admit(static_cast<int>(batch.size())));
  const int64_t reopens_ms = admitted < batch.size() ? breaker_.ReopensAtMs() : 0;
  auto grant = TakeTokens(client, config_.name, config_.rate_limit, now_ms, static_cast<int>(admitted));
  if (!grant.ok()) {
    breaker_.Abandon();
    return grant.status();
  }
  const size_t granted = static_cast<size_t>(grant->granted);
  if (granted == 0 && admitted > 0) breaker_.Abandon();
  for (size_t i = granted; i < batch.size(); ++i) {
    records[i] = Deferral(batch[i].delivery.message_id(), i < admitted ? now_ms + grant->retry_in_ms : reopens_ms);
    metrics_.deferred->Increment();
  }
  if (granted > 0) {
    std::vector<delivery::Delivery> deliveries;
    deliveries.reserve(granted);
    for (size_t i = 0; i < granted; ++i) deliveries.push_back(batch[i].delivery);
    // Results are matched by message id: a service may answer in any order.
    std::map<std::string, delivery::Result> results;
    for (delivery::Result& result : service_.Deliver(deliveries)) {
      std::string id = result.message_id();
      results.emplace(std::move(id), std::move(result));
    }
    const int64_t answered_ms = clock_.NowMillis();
    int successes = 0;
    int retryable = 0;
    for (size_t i = 0; i < granted; ++i) {
      delivery::Result result;
      auto found = results.find(deliveries[i].message_id());
      if (found != results.end()) {
        result = std::move(found->second);
      } else {
        result.set_message_id(deliveries[i].message_id());
        result.set_outcome(delivery::v1::OUTCOME_RETRY);
        result.set_provider_status("no result");
        result.set_reason("the delivery service returned no result for this message");
      }
      if (result.outcome() == delivery::v1::OUTCOME_DELIVERED) ++successes;
      if (result.outcome() != delivery::v1::OUTCOME_DELIVERED && result.outcome() != delivery::v1::OUTCOME_FAILED) {
        ++retryable;
      }
      metrics_.provider_seconds->Observe(static_cast<double>(result.latency_us()) / 1e6);
      records[i] = RecordFor(result, deliveries[i].attempt(), config_.retry, answered_ms, random);
      switch (records[i].outcome) {
        case DeliveryRecord::Outcome::kDelivered: metrics_.delivered->Increment(); break;
        case DeliveryRecord::Outcome::kRetry: metrics_.retried->Increment(); break;
        default: metrics_.failed->Increment(); break;
      }
    }
    breaker_.Record(successes, retryable);
  }
  metrics_.circuit_open->Set(breaker_.open() ? 1 : 0);
  return RecordAndAck(client, batch, records);
}

absl::Status Lane::RecordAndAck(redis::RedisClient& client, const std::vector<Pending>& batch,
                                const std::vector<DeliveryRecord>& records) {
  // One record script per partition and lease owner, then (only for what
  // landed) one XACK + XDEL per group: a crash between the two leaves
  // entries pending whose messages are final, which the next reader acks
  // without sending.
  std::map<std::pair<int, std::string>, std::vector<size_t>> groups;
  for (size_t i = 0; i < batch.size(); ++i) groups[{batch[i].partition, batch[i].owner}].push_back(i);
  std::vector<redis::Command> commands;
  for (const auto& [group, indexes] : groups) {
    std::vector<DeliveryRecord> part;
    for (size_t i : indexes) part.push_back(records[i]);
    commands.push_back(messages::RecordDeliveriesCommand(Keys(group.first), part, clock_.NowMicros(), group.second));
  }
  std::vector<absl::StatusOr<redis::Reply>> replies = client.Pipeline(commands);
  absl::Status first_error;
  std::vector<redis::Command> acks;
  const int64_t now_us = clock_.NowMicros();
  size_t c = 0;
  for (const auto& [group, indexes] : groups) {
    const auto& reply = replies[c++];
    if (!reply.ok()) {
      if (first_error.ok()) first_error = reply.status();
      continue;
    }
    std::vector<std::string> entry_ids;
    for (size_t n = 0; n < indexes.size(); ++n) {
      const Pending& item = batch[indexes[n]];
      const DeliveryRecord& record = records[indexes[n]];
      entry_ids.push_back(item.entry_id);
      const bool recorded = n < reply->elements.size() && reply->elements[n].integer == 1;
      if (!recorded || record.outcome == DeliveryRecord::Outcome::kDefer) continue;
      if (record.outcome == DeliveryRecord::Outcome::kFailed) metrics_.dead_letters->Increment();
      if (record.outcome != DeliveryRecord::Outcome::kRetry && item.queued_at_us > 0) {
        shared_metrics_.hop_seconds.Observe(static_cast<double>(now_us - item.queued_at_us) / 1e6);
      }
    }
    redis::AppendAckCommands(Keys(group.first).Deliveries(), std::string(kDeliveryGroup), entry_ids, &acks);
  }
  for (auto& reply : client.Pipeline(acks)) {
    if (!reply.ok() && first_error.ok()) first_error = reply.status();
  }
  return first_error;
}

}  // namespace herald::dispatcher
