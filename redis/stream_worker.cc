#include "redis/stream_worker.h"

#include <algorithm>
#include <chrono>

#include "core/log.h"
#include "redis/bulk_read_budget.h"

namespace herald::redis {

StreamWorker::StreamWorker(const Endpoint& endpoint, StreamWorkerOptions options, const Clock& clock,
                           StreamProcessor& processor, Hooks hooks)
    : endpoint_(endpoint),
      options_(std::move(options)),
      clock_(clock),
      processor_(processor),
      hooks_(std::move(hooks)) {}

StreamWorker::~StreamWorker() { Stop(); }

void StreamWorker::Start() { thread_ = std::thread([this] { Run(); }); }

void StreamWorker::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void StreamWorker::Fail(const absl::Status& status, const char* what) {
  hooks_.on_error();
  log::Error(options_.log_name, what, {{"error", status}});
}

void StreamWorker::Run() {
  std::unique_ptr<RedisClient> client;
  std::unique_ptr<StreamConsumer> consumer;
  int64_t last_reclaim = 0;
  // Real time, not the injected clock: the budget measures how long this
  // thread's work takes.
  BulkReadBudget bulk_budget({options_.consumer.read_count, options_.consumer.bulk_cycle_us,
                              options_.consumer.bulk_idle_cycle_us, options_.consumer.bulk_idle_after_ms * 1000,
                              options_.consumer.bulk_busy_share});
  auto real_now_us = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  while (!stopping_) {
    if (!client) {
      auto connected = ConnectRedis(endpoint_);
      if (!connected.ok()) {
        Fail(connected.status(), "cannot connect to Redis; retrying");
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      client = std::move(*connected);
      consumer = std::make_unique<StreamConsumer>(*client, options_.streams, options_.group, options_.consumer.consumer_name,
                                                  options_.payload_field, options_.batch_field,
                                                  options_.bulk_streams);
      absl::Status groups = consumer->EnsureGroups();
      if (!groups.ok()) {
        Fail(groups, "cannot create the consumer groups; retrying");
        client.reset();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
    }
    int64_t now = clock_.NowMillis();
    absl::StatusOr<std::vector<StreamEntry>> entries;
    if (now - last_reclaim >= options_.consumer.reclaim_every_ms || now < last_reclaim) {
      last_reclaim = now;
      entries = consumer->Reclaim(options_.consumer.reclaim_idle_ms, options_.consumer.read_count);
      if (entries.ok() && !entries->empty()) hooks_.on_reclaimed(entries->size());
    } else {
      // During the pause after a bulk cycle: the normal lane alone, blocking
      // at most until the pause ends.
      const int64_t now_us = real_now_us();
      const int bulk_count = bulk_budget.Next(now_us);
      const int block_ms =
          bulk_count > 0 ? options_.consumer.block_ms
                         : static_cast<int>(std::clamp<int64_t>((bulk_budget.PauseLeft(now_us) + 999) / 1000, 1,
                                                                options_.consumer.block_ms));
      entries = consumer->ReadNew(options_.consumer.read_count, block_ms, bulk_count);
    }
    if (!entries.ok()) {
      Fail(entries.status(), "stream read failed; reconnecting");
      client.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (entries->empty()) continue;
    if (options_.bulk_streams.empty()) {
      Process(*client, *consumer, *entries);
      continue;
    }
    // The normal lane's entries first, on their own: their effects land
    // (and are acked) without waiting for the bulk entries read with them.
    std::vector<StreamEntry> normal, bulk;
    for (StreamEntry& entry : *entries) (entry.lane == Lane::kBulk ? bulk : normal).push_back(std::move(entry));
    if (!normal.empty()) Process(*client, *consumer, normal);
    const int64_t started_us = real_now_us();
    if (!bulk.empty()) Process(*client, *consumer, bulk);
    const int64_t finished_us = real_now_us();
    bulk_budget.Observe(normal.size(), bulk.size(), finished_us - started_us, finished_us);
  }
}

void StreamWorker::Process(RedisClient& client, StreamConsumer& consumer, const std::vector<StreamEntry>& entries) {
  absl::Status processed = processor_.Process(client, consumer, entries);
  if (!processed.ok()) Fail(processed, "processing entries failed; they stay pending and are retried");
}

}  // namespace herald::redis
