// Group commit of the events streams: the plain event writes (an XADD of
// one event, no script) of concurrent Trigger and TriggerBatch calls go out
// together. While one flush is in flight to Redis, new writes queue; when it
// returns, the next flush carries everything queued as one entry per stream
// (runs/event_entry.h), so N triggers cost one XADD per stream they touch,
// not N. An idle writer sends a write at once: no added latency. A write is
// answered only once the XADD holding its event returned (DESIGN.md
// invariant 1), and a failed XADD fails exactly the events it held.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "redis/async_pipeline.h"
#include "redis/client.h"

namespace herald::api {

// One event for one stream.
struct StreamEvent {
  // Whatever key the planner chose (a partition's events stream).
  std::string stream;
  // A serialized EventEnvelope.
  std::string event;
};

// Whether `command` is a plain event write, XADD <stream> * e <event> (what
// the trigger planner plans when nothing needs a script); if so, moves its
// stream and event into `out`, leaving the command hollow.
bool TakePlainEventWrite(redis::Command& command, StreamEvent* out);

struct EventWriterOptions {
  // Bounds of one flush: it takes queued writes while both hold. One
  // Write is never split (its events of a stream stay one entry), so a
  // flush takes its first Write whatever its size.
  size_t max_events_per_flush = 4096;
  size_t max_bytes_per_flush = 4 << 20;
};

// Thread-safe.
class EventWriter {
 public:
  // One status per event of a Write, in the Write's order.
  using Written = absl::AnyInvocable<void(std::vector<absl::Status>) &&>;

  // `redis` and `metrics` must outlive the writer.
  EventWriter(redis::AsyncPipeline& redis, prometheus::Registry& metrics, EventWriterOptions options = {});
  // Waits for the flush in flight, whose completion uses the writer.
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  // Appends `events` (one call's; they always share a flush, so a call's
  // events of one stream are one entry) and calls `done` once with each
  // event's status after every XADD holding them returned: OK, or that
  // XADD's error. `done` runs on a pipeline I/O thread (at once on the
  // caller's for no events) and must not block.
  void Write(std::vector<StreamEvent> events, Written done);

 private:
  struct Pending {
    std::vector<StreamEvent> events;
    Written done;
    size_t bytes = 0;
  };

  // Takes the writes of the next flush off the queue (none when it is
  // empty).
  std::vector<Pending> TakeFlushLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends `flush` as one XADD per stream; its completion answers every
  // write in it after sending the next flush.
  void Send(std::vector<Pending> flush);

  // Constant after construction.
  redis::AsyncPipeline& redis_;
  const EventWriterOptions options_;
  prometheus::Histogram& events_per_flush_;

  absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace herald::api
