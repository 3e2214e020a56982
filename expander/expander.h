// The expander (part of the batcher role): turns object fan-outs into
// ordinary events, one page of subscribers at a time. Each processed page
// enqueues the next page at the tail of herald:{p}:expansions, so several
// fan-outs interleave, memory holds one page, and a page waits while the
// pipeline downstream has a backlog, so a 100,000-subscriber object never
// queues ahead of other triggers' work.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/keys.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "redis/stream_worker.h"

namespace herald::expander {

// read_count is ignored: a read takes one page job, so memory holds one page.
struct ExpanderOptions : redis::ConsumerOptions {
  int page_size = 500;
  // A page waits while the events and batches streams of all partitions,
  // in the lane of the fan-out's trigger (core/keys.h Lane), together hold
  // more unprocessed entries than this (acked entries are deleted, so XLEN
  // is the backlog) ...
  int max_backlog_entries = 32;
  // ... but never longer than this per page, so a stalled pipeline slows a
  // fan-out down without stopping it.
  int64_t max_backlog_wait_ms = 10000;
};

struct ExpanderMetrics {
  explicit ExpanderMetrics(prometheus::Registry& registry);
  prometheus::Counter& pages;
  prometheus::Counter& recipients;
  prometheus::Counter& completed;
  prometheus::Counter& throttled_seconds;
  prometheus::Counter& poison_entries;
  prometheus::Counter& reclaimed;
  prometheus::Counter& errors;
};

// Not thread-safe: one per worker thread.
class ExpansionProcessor final : public redis::StreamProcessor {
 public:
  ExpansionProcessor(const Clock& clock, const ExpanderOptions& options, ExpanderMetrics& metrics)
      : clock_(clock), options_(options), metrics_(metrics) {}
  absl::Status Process(redis::RedisClient& client, redis::StreamConsumer& consumer,
                       const std::vector<redis::StreamEntry>& entries) override;

  // The most subscriber ids this processor has held at once (a page).
  size_t peak_page() const { return peak_page_; }

  // Ends the wait for the backlog early (any thread): a draining process
  // writes the page it holds at once rather than wait for stages that are
  // stopping too.
  void SkipBacklogWait() { skip_backlog_wait_ = true; }

 private:
  // Waits while the events and batches streams of `lane` hold a backlog.
  void WaitForBacklog(redis::RedisClient& client, Lane lane);

  const Clock& clock_;
  const ExpanderOptions options_;
  ExpanderMetrics& metrics_;
  size_t peak_page_ = 0;
  std::atomic<bool> skip_backlog_wait_{false};
};

class ExpanderWorker {
 public:
  ExpanderWorker(const redis::Endpoint& endpoint, const Clock& clock, ExpanderOptions options,
                 ExpanderMetrics& metrics);
  void Start() { worker_.Start(); }
  // Returns once the page being expanded is written and acked.
  void Stop() {
    processor_.SkipBacklogWait();
    worker_.Stop();
  }

 private:
  ExpansionProcessor processor_;
  redis::StreamWorker worker_;
};


}  // namespace herald::expander
