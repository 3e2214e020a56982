#include "dispatcher/dispatcher.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "core/keys.h"
#include "dispatcher/outcome.h"
#include "messages/delivery_state.h"

namespace herald::dispatcher {
namespace {

using messages::DeliveryRecord;
using messages::DeliveryTake;
constexpr int kRetryClaimLimit = 1000;

}  // namespace

// One stream reader's processing: take the read's messages, hand the
// sendable ones to their lanes, and finish the rest here.
class Dispatcher::Reader final : public redis::StreamProcessor {
 public:
  Reader(const delivery::DeliveryConfig& config, std::map<std::string, std::unique_ptr<Lane>>& lanes,
         const Clock& clock, const DispatcherOptions& options, DispatcherMetrics& metrics)
      : config_(config), lanes_(lanes), clock_(clock), options_(options), metrics_(metrics) {}

  absl::Status Process(redis::RedisClient& client, redis::StreamConsumer& consumer,
                       const std::vector<redis::StreamEntry>& entries) override {
    std::map<int, std::vector<const redis::StreamEntry*>> by_partition;
    std::vector<const redis::StreamEntry*> finished;
    for (const redis::StreamEntry& entry : entries) {
      if (entry.payload.empty()) {
        metrics_.poison_entries.Increment();
        finished.push_back(&entry);
      } else {
        by_partition[static_cast<int>(entry.stream_index)].push_back(&entry);
      }
    }
    const int64_t now_us = clock_.NowMicros();
    std::vector<redis::Command> begins;
    std::vector<std::vector<std::string>> ids;
    for (const auto& [partition, part] : by_partition) {
      ids.emplace_back();
      for (const redis::StreamEntry* entry : part) ids.back().push_back(entry->payload);
      begins.push_back(messages::BeginDeliveriesCommand(Keys(partition), ids.back(), now_us,
                                                        now_us + options_.lease_ms * 1000, options_.consumer_name));
    }
    std::vector<absl::StatusOr<redis::Reply>> replies = client.Pipeline(begins);

    // Finished here: one record per message that cannot go to a lane.
    std::map<int, std::vector<DeliveryRecord>> direct;
    std::map<int, std::vector<const redis::StreamEntry*>> direct_entries;
    std::map<Lane*, std::vector<Pending>> offers;
    absl::Status first_error;
    size_t c = 0;
    for (const auto& [partition, part] : by_partition) {
      const size_t index = c++;
      if (!replies[index].ok()) {
        if (first_error.ok()) first_error = replies[index].status();
        continue;  // stays pending, retried
      }
      auto takes = messages::TakesFromReply(ids[index], *replies[index]);
      if (!takes.ok()) return takes.status();
      for (size_t i = 0; i < takes->size(); ++i) {
        DeliveryTake& take = (*takes)[i];
        switch (take.verdict) {
          case DeliveryTake::Verdict::kLeased: continue;  // its sender acks it
          case DeliveryTake::Verdict::kSend: break;
          default:
            metrics_.stale_entries.Increment();
            finished.push_back(part[i]);
            continue;
        }
        auto lane = Route(take);
        if (!lane.ok()) {
          direct[partition].push_back(Undeliverable(take.message_id, std::string(lane.status().message())));
          direct_entries[partition].push_back(part[i]);
          continue;
        }
        Pending pending;
        pending.partition = partition;
        pending.entry_id = part[i]->id;
        pending.queued_at_us = take.inserted_at_us;
        pending.owner = options_.consumer_name;
        delivery::Delivery& delivery = pending.delivery;
        delivery.set_message_id(take.message_id);
        delivery.set_channel_type(take.channel_type);
        delivery.set_channel((*lane)->name);
        delivery.set_recipient(std::move(take.recipient));
        delivery.set_workflow(std::move(take.workflow));
        delivery.set_tenant(std::move(take.tenant));
        delivery.set_attempt(take.attempts + 1);
        if (!delivery.mutable_content()->ParseFromString(take.content)) {
          direct[partition].push_back(Undeliverable(take.message_id, "content: not a rendered message"));
          direct_entries[partition].push_back(part[i]);
          continue;
        }
        offers[lanes_.at((*lane)->name).get()].push_back(std::move(pending));
      }
    }
    // A full lane (its provider is slow or down) defers its overflow rather
    // than holding up the other channels' messages in this read.
    for (auto& [lane, items] : offers) {
      for (Pending& rest : lane->Offer(std::move(items))) {
        direct[rest.partition].push_back(Deferral(rest.delivery.message_id(), clock_.NowMillis() + 1000));
        direct_entries[rest.partition].push_back(FindEntry(entries, rest));
      }
    }
    std::vector<redis::Command> records;
    std::vector<int> record_partitions;
    for (const auto& [partition, part] : direct) {
      records.push_back(
          messages::RecordDeliveriesCommand(Keys(partition), part, clock_.NowMicros(), options_.consumer_name));
      record_partitions.push_back(partition);
    }
    std::vector<absl::StatusOr<redis::Reply>> recorded = client.Pipeline(records);
    for (size_t r = 0; r < recorded.size(); ++r) {
      if (!recorded[r].ok()) {
        if (first_error.ok()) first_error = recorded[r].status();
        continue;
      }
      for (const redis::StreamEntry* entry : direct_entries[record_partitions[r]]) finished.push_back(entry);
    }
    absl::Status acked = consumer.Ack(finished);
    if (!first_error.ok()) return first_error;
    return acked;
  }

 private:
  // The configured channel of a message, with a lane in this process.
  absl::StatusOr<const delivery::ChannelConfig*> Route(const DeliveryTake& take) const {
    const delivery::ChannelConfig* channel = config_.Find(take.channel, take.channel_type);
    if (channel == nullptr || lanes_.find(channel->name) == lanes_.end()) {
      return absl::NotFoundError(absl::StrCat("no channel configured for ", take.channel_type,
                                              take.channel.empty() ? "" : absl::StrCat(" (", take.channel, ")")));
    }
    return channel;
  }

  static const redis::StreamEntry* FindEntry(const std::vector<redis::StreamEntry>& entries, const Pending& item) {
    for (const redis::StreamEntry& entry : entries) {
      if (entry.id == item.entry_id && static_cast<int>(entry.stream_index) == item.partition) return &entry;
    }
    return nullptr;
  }

  const delivery::DeliveryConfig& config_;
  std::map<std::string, std::unique_ptr<Lane>>& lanes_;
  const Clock& clock_;
  const DispatcherOptions options_;
  DispatcherMetrics& metrics_;
};

Dispatcher::Dispatcher(const redis::Endpoint& endpoint, const delivery::DeliveryConfig& config,
                       const ServiceFor& services, const Clock& clock, DispatcherOptions options,
                       DispatcherMetrics& metrics)
    : config_(config) {
  for (const auto& [name, channel] : config.channels) {
    delivery::DeliveryService* service = services(channel);
    if (service == nullptr) continue;
    LaneOptions lane_options = options.lane;
    lane_options.lease_ms = options.lease_ms;
    lanes_[name] = std::make_unique<Lane>(channel, *service, endpoint, clock, lane_options, metrics.Channel(name),
                                          metrics);
  }
  const int threads = std::max(1, options.threads);
  const std::string base_name = options.consumer_name;
  for (int t = 0; t < threads; ++t) {
    DispatcherOptions reader_options = options;
    reader_options.consumer_name = threads == 1 ? base_name : absl::StrCat(base_name, "-", t);
    auto reader = std::make_unique<Reader>(config_, lanes_, clock, reader_options, metrics);
    workers_.push_back(std::make_unique<redis::StreamWorker>(
        endpoint,
        redis::StreamWorkerOptions{EveryPartition(options.partitions, &Keys::Deliveries),
                                   std::string(kDeliveryGroup), "m", "dispatcher", reader_options},
        clock, *reader, redis::StreamWorker::Counting(metrics.errors, metrics.reclaimed)));
    readers_.push_back(std::move(reader));
  }
  const int partitions = options.partitions;
  retry_timer_ = std::make_unique<redis::PeriodicTask>(
      endpoint, "dispatcher.retry_timer", options.retry_tick_ms,
      [&clock, partitions, &metrics](redis::RedisClient& client) -> absl::StatusOr<bool> {
        auto moved = MoveDueRetries(client, partitions, clock.NowMillis(), kRetryClaimLimit);
        if (!moved.ok()) return moved.status();
        metrics.retries_due.Increment(static_cast<double>(*moved));
        return *moved >= kRetryClaimLimit;
      },
      [&metrics] { metrics.errors.Increment(); });
}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::Start() {
  for (auto& [name, lane] : lanes_) lane->Start();
  for (auto& worker : workers_) worker->Start();
  retry_timer_->Start();
}

void Dispatcher::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& worker : workers_) worker->Stop();
  for (auto& [name, lane] : lanes_) lane->Stop();
  retry_timer_->Stop();
}

absl::StatusOr<int64_t> Dispatcher::MoveDueRetries(redis::RedisClient& client, int partitions, int64_t now_ms,
                                                   int limit) {
  std::vector<redis::Command> commands;
  for (int p = 0; p < partitions; ++p) commands.push_back(messages::ClaimDueDeliveriesCommand(Keys(p), now_ms, limit));
  int64_t moved = 0;
  for (auto& reply : client.Pipeline(commands)) {
    if (!reply.ok()) return reply.status();
    moved += reply->integer;
  }
  return moved;
}

}  // namespace herald::dispatcher
