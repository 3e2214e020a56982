#include "services/api/event_writer.h"

#include <cstdint>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "runs/event_entry.h"

namespace herald::api {

bool TakePlainEventWrite(redis::Command& command, StreamEvent* out) {
  if (command.size() != 5 || command[0] != "XADD" || command[2] != "*" || command[3] != runs::kEventField) {
    return false;
  }
  out->stream = std::move(command[1]);
  out->event = std::move(command[4]);
  return true;
}

EventWriter::EventWriter(redis::AsyncPipeline& redis, prometheus::Registry& metrics, EventWriterOptions options)
    : redis_(redis),
      options_(options),
      events_per_flush_(prometheus::BuildHistogram()
                            .Name("herald_api_events_per_flush")
                            .Help("Trigger events in each group-commit flush of the events streams (one XADD per "
                                  "stream touched carries them)")
                            .Register(metrics)
                            .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256, 512,
                                                                             1024, 4096})) {}

EventWriter::~EventWriter() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](bool* in_flight) { return !*in_flight; }, &in_flight_));
}

void EventWriter::Write(std::vector<StreamEvent> events, Written done) {
  if (events.empty()) return std::move(done)({});
  Pending pending{std::move(events), std::move(done)};
  for (const StreamEvent& event : pending.events) pending.bytes += event.event.size();
  std::vector<Pending> flush;
  {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(pending));
    // The flush in flight sends this one when it returns.
    if (in_flight_) return;
    in_flight_ = true;
    flush = TakeFlushLocked();
  }
  Send(std::move(flush));
}

std::vector<EventWriter::Pending> EventWriter::TakeFlushLocked() {
  std::vector<Pending> flush;
  size_t events = 0;
  size_t bytes = 0;
  while (!queue_.empty()) {
    Pending& next = queue_.front();
    if (!flush.empty() && (events + next.events.size() > options_.max_events_per_flush ||
                           bytes + next.bytes > options_.max_bytes_per_flush)) {
      break;
    }
    events += next.events.size();
    bytes += next.bytes;
    flush.push_back(std::move(next));
    queue_.pop_front();
  }
  return flush;
}

void EventWriter::Send(std::vector<Pending> flush) {
  // One entry per stream, in the order streams first appear.
  absl::flat_hash_map<absl::string_view, uint32_t> slot_of_stream;
  std::vector<runs::EventEntryBuilder> entries;
  std::vector<absl::string_view> streams;
  std::vector<uint32_t> slot_of_event;
  for (Pending& write : flush) {
    for (StreamEvent& event : write.events) {
      auto [slot, inserted] = slot_of_stream.try_emplace(event.stream, static_cast<uint32_t>(entries.size()));
      if (inserted) {
        entries.emplace_back();
        streams.push_back(event.stream);
      }
      entries[slot->second].Add(std::move(event.event));
      slot_of_event.push_back(slot->second);
    }
  }
  std::vector<redis::Command> commands;
  commands.reserve(entries.size());
  for (size_t s = 0; s < entries.size(); ++s) commands.push_back(entries[s].TakeXadd(std::string(streams[s])));
  events_per_flush_.Observe(static_cast<double>(slot_of_event.size()));
  redis_.Submit(std::move(commands), [this, flush = std::move(flush), slot_of_event = std::move(slot_of_event)](
                                         redis::AsyncPipeline::Results results) mutable {
    std::vector<Pending> next;
    {
      absl::MutexLock lock(&mu_);
      next = TakeFlushLocked();
      if (next.empty()) in_flight_ = false;
    }
    // The next flush goes before this one's calls are answered, so Redis
    // works while they finish. Once in_flight_ is false the writer may be
    // destroyed: nothing below touches it.
    if (!next.empty()) Send(std::move(next));
    size_t e = 0;
    for (Pending& write : flush) {
      std::vector<absl::Status> statuses;
      statuses.reserve(write.events.size());
      for (size_t i = 0; i < write.events.size(); ++i, ++e) {
        const absl::StatusOr<redis::Reply>& result = results[slot_of_event[e]];
        statuses.push_back(result.ok() ? absl::OkStatus() : result.status());
      }
      std::move(write.done)(std::move(statuses));
    }
  });
}

}  // namespace herald::api
