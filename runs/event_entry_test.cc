// The events stream's entry forms: what the builder writes is what the
// reader decodes, one event stays a plain field-e entry (readable by any
// batcher), and an entry that does not decode is refused whole.
#include "runs/event_entry.h"

#include "gtest/gtest.h"

namespace herald::runs {
namespace {

v1::internal::EventEnvelope Event(const std::string& workflow, const std::string& recipient) {
  v1::internal::EventEnvelope event;
  event.set_workflow(workflow);
  event.set_data_json(R"({"n": 1})");
  event.set_accepted_at_us(1700000000000000);
  auto* target = event.add_targets();
  target->set_recipient(recipient);
  target->set_run_id("run-" + recipient);
  return event;
}

TEST(EventEntryTest, OneEventIsAPlainEntry) {
  EventEntryBuilder builder;
  const std::string bytes = Event("w", "ana").SerializeAsString();
  builder.Add(bytes);
  EXPECT_EQ(builder.bytes(), bytes.size());
  redis::Command command = builder.TakeXadd("herald:{1}:events");
  EXPECT_EQ(command, (redis::Command{"XADD", "herald:{1}:events", "*", "e", bytes}));
  EXPECT_EQ(builder.events(), 0u);

  std::vector<v1::internal::EventEnvelope> events;
  ASSERT_TRUE(DecodeEventEntry(command[4], /*batch=*/false, &events).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].SerializeAsString(), bytes);
}

TEST(EventEntryTest, SeveralEventsAreOneBatchEntryInTheirOrder) {
  EventEntryBuilder builder;
  std::vector<std::string> sent;
  // Sizes on both sides of a one-byte length varint.
  for (int i = 0; i < 40; ++i) {
    v1::internal::EventEnvelope event = Event("w", "user-" + std::to_string(i));
    event.set_data_json(std::string(static_cast<size_t>(i) * 7, 'x'));
    sent.push_back(event.SerializeAsString());
    builder.Add(sent.back());
  }
  EXPECT_EQ(builder.events(), 40u);
  const size_t bytes = builder.bytes();
  redis::Command command = builder.TakeXadd("herald:{0}:events");
  ASSERT_EQ(command.size(), 5u);
  EXPECT_EQ(command[3], "b");
  EXPECT_EQ(command[4].size(), bytes);
  EXPECT_EQ(builder.events(), 0u);
  EXPECT_EQ(builder.bytes(), 0u);

  // What protobuf itself reads from the bytes...
  v1::internal::EventBatch batch;
  ASSERT_TRUE(batch.ParseFromString(command[4]));
  ASSERT_EQ(batch.events_size(), 40);
  // ...and what the batcher reads.
  std::vector<v1::internal::EventEnvelope> events;
  events.push_back(Event("earlier", "entry"));  // appended after what is there
  ASSERT_TRUE(DecodeEventEntry(command[4], /*batch=*/true, &events).ok());
  ASSERT_EQ(events.size(), 41u);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(events[i + 1].SerializeAsString(), sent[i]) << "event " << i;
}

TEST(EventEntryTest, AnEntryThatDoesNotDecodeAddsNothing) {
  std::vector<v1::internal::EventEnvelope> events;
  // A length running past the end, in either field.
  const std::string broken = "\x0a\x40short";
  EXPECT_EQ(DecodeEventEntry(broken, /*batch=*/false, &events).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeEventEntry(broken, /*batch=*/true, &events).code(), absl::StatusCode::kInvalidArgument);
  // A batch whose second event is cut short: nothing of it is taken.
  EventEntryBuilder builder;
  builder.Add(Event("w", "a").SerializeAsString());
  builder.Add(Event("w", "b").SerializeAsString());
  std::string payload = builder.TakeXadd("s")[4];
  payload.resize(payload.size() - 3);
  EXPECT_EQ(DecodeEventEntry(payload, /*batch=*/true, &events).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(events.empty());
}

}  // namespace
}  // namespace herald::runs
