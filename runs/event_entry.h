// The entries of herald:{p}:events: the API and the object expander write
// them, the batcher reads them. An entry holds one event (field "e", a
// serialized EventEnvelope: every entry written before the API's group
// commit, and still a lone event) or several (field "b", a serialized
// EventBatch: what one group-commit flush writes per stream). Readers
// decode both, whoever wrote them.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "herald/v1/pipeline.pb.h"
#include "redis/client.h"

namespace herald::runs {

// The entry field of one serialized EventEnvelope.
inline constexpr char kEventField[] = "e";
// The entry field of a serialized EventBatch.
inline constexpr char kEventBatchField[] = "b";

// Builds one entry from serialized EventEnvelopes without parsing them (an
// EventBatch is its events' bytes, each behind its field tag and length).
// Not thread-safe.
class EventEntryBuilder {
 public:
  // Adds one serialized EventEnvelope.
  void Add(std::string event);
  size_t events() const { return events_; }
  // Bytes of the payload so far.
  size_t bytes() const { return events_ > 1 ? batch_.size() : first_.size(); }
  // XADD `stream` * with every event added: field e for one, b for
  // several. REQUIRES: events() > 0. Leaves the builder empty.
  redis::Command TakeXadd(std::string stream);

 private:
  // The only event while there is one; moved into batch_ by the second.
  std::string first_;
  std::string batch_;
  size_t events_ = 0;
};

// Appends the events of an entry's payload to `events`: one EventEnvelope
// when it came from field e (`batch` false), an EventBatch's events when it
// came from field b. INVALID_ARGUMENT (nothing appended) when the payload
// does not decode: the entry is poison.
absl::Status DecodeEventEntry(absl::string_view payload, bool batch, std::vector<v1::internal::EventEnvelope>* events);

}  // namespace herald::runs
