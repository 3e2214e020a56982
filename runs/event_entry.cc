#include "runs/event_entry.h"

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace herald::runs {
namespace {

using google::protobuf::internal::WireFormatLite;

// EventBatch.events: field 1, length-delimited.
constexpr uint8_t kEventsTag = (1 << 3) | WireFormatLite::WIRETYPE_LENGTH_DELIMITED;

void AppendToBatch(absl::string_view event, std::string* batch) {
  uint8_t header[1 + 10];
  header[0] = kEventsTag;
  uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(event.size(), header + 1);
  batch->append(reinterpret_cast<const char*>(header), static_cast<size_t>(end - header));
  batch->append(event.data(), event.size());
}

}  // namespace

void EventEntryBuilder::Add(std::string event) {
  ++events_;
  if (events_ == 1) {
    first_ = std::move(event);
    return;
  }
  if (events_ == 2) {
    AppendToBatch(first_, &batch_);
    first_.clear();
  }
  AppendToBatch(event, &batch_);
}

redis::Command EventEntryBuilder::TakeXadd(std::string stream) {
  const bool batch = events_ > 1;
  redis::Command command = {"XADD", std::move(stream), "*", batch ? kEventBatchField : kEventField,
                            batch ? std::move(batch_) : std::move(first_)};
  first_.clear();
  batch_.clear();
  events_ = 0;
  return command;
}

absl::Status DecodeEventEntry(absl::string_view payload, bool batch, std::vector<v1::internal::EventEnvelope>* events) {
  if (!batch) {
    v1::internal::EventEnvelope event;
    if (!event.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      return absl::InvalidArgumentError("event entry: field e is not an EventEnvelope");
    }
    events->push_back(std::move(event));
    return absl::OkStatus();
  }
  v1::internal::EventBatch decoded;
  if (!decoded.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return absl::InvalidArgumentError("event entry: field b is not an EventBatch");
  }
  for (v1::internal::EventEnvelope& event : *decoded.mutable_events()) events->push_back(std::move(event));
  return absl::OkStatus();
}

}  // namespace herald::runs
