#include "redis/stream_worker.h"

#include <chrono>

#include "core/log.h"

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
                                                  options_.payload_field, options_.batch_field);
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
      entries = consumer->ReadNew(options_.consumer.read_count, options_.consumer.block_ms);
    }
    if (!entries.ok()) {
      Fail(entries.status(), "stream read failed; reconnecting");
      client.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (entries->empty()) continue;
    absl::Status processed = processor_.Process(*client, *consumer, *entries);
    if (!processed.ok()) Fail(processed, "processing entries failed; they stay pending and are retried");
  }
}

}  // namespace herald::redis
