// Which planned writes the group commit takes: the planner's plain event
// write (what trigger_planner plans when nothing needs a script) and
// nothing else, so scripts keep their own call and reply.
#include "services/api/event_writer.h"

#include "core/ids.h"
#include "core/keys.h"
#include "gtest/gtest.h"
#include "herald/v1/pipeline.pb.h"
#include "services/api/trigger_planner.h"
#include "workflow/parser.h"
#include "workflow/registry.h"

namespace herald::api {
namespace {

std::unique_ptr<workflow::Registry> Workflows() {
  auto registry = workflow::Registry::FromDocuments({R"(
key: note
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "{{ data.text }}"}}
)"}, "note.yaml");
  EXPECT_TRUE(registry.ok()) << registry.status();
  return registry.ok() ? std::move(*registry) : nullptr;
}

TEST(TakePlainEventWriteTest, TakesThePlannersPlainWritesAndLeavesScripts) {
  auto workflows = Workflows();
  v1::TriggerRequest request;
  request.set_workflow("note");
  request.set_data_json(R"({"text": "hi"})");
  for (const char* id : {"ana", "bob", "cy", "dee", "eve", "fay"}) request.add_recipients()->set_id(id);
  // An inline user makes its partition's write a script.
  auto* user = request.add_recipients()->mutable_user();
  user->set_id("gus");
  user->set_name("Gus");
  auto planned = PlanTrigger(request, *workflows, TriggerLimits{}, 4, 1'700'000'000'000'000);
  ASSERT_TRUE(planned.ok()) << planned.status();

  int plain = 0;
  int scripts = 0;
  for (redis::Command& command : planned->commands) {
    const redis::Command before = command;
    StreamEvent event;
    if (!TakePlainEventWrite(command, &event)) {
      ++scripts;
      EXPECT_EQ(command, before) << "a command it does not take is left whole";
      EXPECT_EQ(command[0], "EVALSHA");
      continue;
    }
    ++plain;
    EXPECT_EQ(before[0], "XADD");
    EXPECT_EQ(event.stream, before[1]);
    v1::internal::EventEnvelope envelope;
    ASSERT_TRUE(envelope.ParseFromString(event.event));
    EXPECT_EQ(envelope.workflow(), "note");
    ASSERT_GT(envelope.targets_size(), 0);
    EXPECT_EQ(event.stream, Keys(PartitionOf(envelope.targets(0).recipient(), 4)).Events());
  }
  EXPECT_EQ(scripts, 1);
  EXPECT_EQ(plain + scripts, static_cast<int>(planned->commands.size()));
  EXPECT_GE(plain, 1);
}

TEST(TakePlainEventWriteTest, RefusesEveryOtherShape) {
  const std::vector<redis::Command> others = {
      {"XADD", "herald:{0}:events", "*", "b", "batch"},          // already an entry of several
      {"XADD", "herald:{0}:events", "MAXLEN", "e", "x"},          // not the planner's
      {"XADD", "herald:{0}:events", "*", "e", "x", "e", "y"},     // two fields
      {"XADD", "herald:{0}:events", "*", "e"},                    // no value
      {"EVALSHA", "sha", "1", "herald:{0}:events", "x"},
  };
  for (redis::Command command : others) {
    StreamEvent event;
    EXPECT_FALSE(TakePlainEventWrite(command, &event)) << command[3];
  }
}

}  // namespace
}  // namespace herald::api
