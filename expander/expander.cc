#include "expander/expander.h"

#include <chrono>
#include <iostream>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "core/keys.h"
#include "core/metrics.h"
#include "herald/v1/pipeline.pb.h"
#include "objects/object_store.h"
#include "expander/finish_page.lua.h"
#include "redis/script.h"

namespace herald::expander {
namespace {

const redis::Script kFinishPage(lua::kExpanderFinishPage);

redis::ConsumerOptions OnePagePerRead(redis::ConsumerOptions options) {
  options.read_count = 1;
  return options;
}

}  // namespace

ExpanderMetrics::ExpanderMetrics(prometheus::Registry& registry)
    : pages(SimpleCounter(registry, "herald_object_fanout_pages_total", "Pages of object subscribers expanded")),
      recipients(SimpleCounter(registry, "herald_object_fanout_recipients_total",
                        "Subscribers handed to the pipeline by object fan-outs")),
      completed(SimpleCounter(registry, "herald_object_fanouts_completed_total", "Object fan-outs that reached the end")),
      throttled_seconds(SimpleCounter(registry, "herald_object_fanout_throttled_seconds_total",
                               "Time fan-out pages waited for the pipeline's backlog to drain")),
      poison_entries(SimpleCounter(registry, "herald_object_fanout_poison_entries_total",
                            "Fan-out entries that could not be decoded (acked and dropped)")),
      reclaimed(SimpleCounter(registry, "herald_object_fanout_reclaimed_entries_total",
                       "Fan-out entries taken over from a stalled consumer")),
      errors(SimpleCounter(registry, "herald_object_fanout_errors_total", "Redis errors in the expander (pages retried)")) {}

void ExpansionProcessor::WaitForBacklog(redis::RedisClient& client, Lane lane) {
  // Only the lane the pages go to: a noisy tenant's bulk backlog must not
  // hold back another tenant's object fan-out.
  std::vector<redis::Command> lengths;
  for (int p = 0; p < options_.partitions; ++p) {
    lengths.push_back({"XLEN", Keys(p).Events(lane)});
    lengths.push_back({"XLEN", Keys(p).Batches(lane)});
  }
  // Real time, not the injected clock: this bounds a wait of this thread.
  auto started = std::chrono::steady_clock::now();
  while (true) {
    int64_t backlog = 0;
    for (auto& reply : client.Pipeline(lengths)) {
      if (reply.ok()) backlog += reply->integer;
    }
    auto waited = std::chrono::steady_clock::now() - started;
    if (backlog <= options_.max_backlog_entries || skip_backlog_wait_ ||
        waited >= std::chrono::milliseconds(options_.max_backlog_wait_ms)) {
      metrics_.throttled_seconds.Increment(std::chrono::duration<double>(waited).count());
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

absl::Status ExpansionProcessor::Process(redis::RedisClient& client, redis::StreamConsumer& consumer,
                                         const std::vector<redis::StreamEntry>& entries) {
  for (const redis::StreamEntry& entry : entries) {
    v1::internal::ObjectFanoutJob job;
    if (!job.ParseFromString(entry.payload) || job.object().empty()) {
      metrics_.poison_entries.Increment();
      absl::Status acked = consumer.Ack({&entry});
      if (!acked.ok()) return acked;
      continue;
    }
    const Lane lane = job.bulk() ? Lane::kBulk : Lane::kNormal;
    WaitForBacklog(client, lane);
    const int page_size = options_.page_size;
    auto page = client.Execute(objects::SubscriberPageCommand(job.object(), job.cursor(), page_size, options_.partitions));
    if (!page.ok()) return page.status();
    if (page->elements.size() != 2) return absl::InternalError("subscriber page: unexpected reply");
    const std::vector<redis::Reply>& ids = page->elements[0].elements;
    peak_page_ = std::max(peak_page_, ids.size());

    // The page as events, one per subscriber partition; run ids derive
    // from the trigger's nonce, so a redone page (a crash before the
    // finish script) writes the same runs and no message twice.
    std::map<int, v1::internal::EventEnvelope> events;
    for (const redis::Reply& id : ids) {
      int partition = PartitionOf(id.str, options_.partitions);
      auto [it, inserted] = events.try_emplace(partition);
      if (inserted) it->second = job.event();
      auto* target = it->second.add_targets();
      target->set_recipient(id.str);
      target->set_run_id(DeterministicId({job.nonce(), id.str}));
    }
    std::vector<redis::Command> writes;
    for (auto& [partition, event] : events) {
      writes.push_back({"XADD", Keys(partition).Events(lane), "*", "e", event.SerializeAsString()});
    }
    for (auto& result : client.Pipeline(writes)) {
      if (!result.ok()) return result.status();
    }
    std::string next;
    if (static_cast<int>(ids.size()) == page_size) {
      v1::internal::ObjectFanoutJob following = job;
      following.set_cursor(ids.back().str);
      next = following.SerializeAsString();
    }
    Keys keys(static_cast<int>(entry.stream_index));
    auto finished = client.Execute(kFinishPage.Call(
        {keys.Fanout(job.fanout_id()), keys.Expansions()},
        {std::string(kExpanderGroup), entry.id, next, std::to_string(ids.size()), std::to_string(clock_.NowMillis())}));
    if (!finished.ok()) return finished.status();
    metrics_.pages.Increment();
    metrics_.recipients.Increment(static_cast<double>(ids.size()));
    if (finished->integer == 1) metrics_.completed.Increment();
  }
  return absl::OkStatus();
}

ExpanderWorker::ExpanderWorker(const redis::Endpoint& endpoint, const Clock& clock, ExpanderOptions options,
                               ExpanderMetrics& metrics)
    : processor_(clock, options, metrics),
      // One entry (one page) per read: memory holds one page and the
      // backlog check runs before each.
      worker_(endpoint,
              redis::StreamWorkerOptions{EveryPartition(options.partitions, &Keys::Expansions),
                                         std::string(kExpanderGroup), "j", "expander", OnePagePerRead(options)},
              clock, processor_, redis::StreamWorker::Counting(metrics.errors, metrics.reclaimed)) {}

}  // namespace herald::expander
