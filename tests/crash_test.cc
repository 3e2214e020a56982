// Crash safety: a worker process (batcher + fan-out) is frozen in the middle
// of a load and killed with SIGKILL only while it holds stream entries it
// read but never acknowledged. A fresh worker must reclaim exactly those
// (XAUTOCLAIM): afterwards none of them is pending for anyone, the dead
// consumer holds nothing, the work they carried is in the feeds exactly
// once, and every expected feed item exists exactly once.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <tuple>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/ids.h"
#include "core/keys.h"
#include "feed/feed_store.h"
#include "gtest/gtest.h"
#include "herald/v1/pipeline.pb.h"
#include "nlohmann/json.hpp"
#include "runs/event_entry.h"
#include "tests/support/herald_harness.h"
#include "tests/support/herald_process.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

constexpr int kTriggers = 6000;
constexpr int kRecipients = 20;
constexpr int kPartitions = 4;  // HarnessOptions' default, as the worker's --partitions
// The worker's --consumer; its consumers are "<prefix>-<role>-<thread>"
// (runtime/runtime.cc), e.g. victim-batcher-0, victim-fanout-1.
constexpr char kVictim[] = "victim";

std::unique_ptr<testing::HeraldProcess> SpawnWorker(const std::string& redis, const std::string& workflows,
                                                    const std::string& name) {
  return std::make_unique<testing::HeraldProcess>(std::vector<std::string>{
      "batcher,fanout", "--redis=" + redis, "--workflows=" + workflows, "--metrics_address=",
      // every role serves health on a gRPC port: a free one
      "--grpc_address=127.0.0.1:0", "--consumer=" + name, "--reclaim_idle_ms=300"});
}

int64_t CountMessages(redis::RedisClient& client) {
  int64_t count = 0;
  for (int r = 0; r < kRecipients; ++r) {
    const std::string user = absl::StrCat("u", r);
    auto reply = client.Execute(feed::CountItemsCommand(Keys(PartitionOf(user, kPartitions)), {user}));
    if (!reply.ok()) return -1;
    count += reply->integer;
  }
  return count;
}

// A stream the worker reads as a consumer group, and the field its entries'
// payload is in (see batcher/batcher.cc and fanout/fanout.cc).
struct GroupStream {
  std::string stream;
  std::string group;
  std::string field;
};

std::vector<GroupStream> WorkerStreams() {
  std::vector<GroupStream> streams;
  for (int p = 0; p < kPartitions; ++p) {
    streams.push_back({Keys(p).Events(), "batcher", "e"});
    streams.push_back({Keys(p).EventsBulk(), "batcher", "e"});
    streams.push_back({Keys(p).Batches(), "fanout", "s"});
    streams.push_back({Keys(p).BatchesBulk(), "fanout", "s"});
  }
  return streams;
}

// One entry delivered to a consumer and not yet acknowledged.
struct HeldEntry {
  GroupStream where;
  std::string id;
  std::string consumer;
  bool operator<(const HeldEntry& other) const {
    return std::tie(where.stream, id) < std::tie(other.where.stream, other.id);
  }
};

// Every entry pending for a consumer whose name starts with `prefix`, on
// every stream the worker reads: the XPENDING summary names the consumers
// holding entries, the extended form lists each one's ids.
void PendingFor(redis::RedisClient& client, const std::string& prefix, std::set<HeldEntry>* out) {
  for (const GroupStream& where : WorkerStreams()) {
    auto summary = client.Execute({"XPENDING", where.stream, where.group});
    ASSERT_TRUE(summary.ok()) << summary.status();
    ASSERT_EQ(summary->elements.size(), 4u);
    for (const redis::Reply& holder : summary->elements[3].elements) {
      const std::string& consumer = holder.elements[0].str;
      if (!absl::StartsWith(consumer, prefix)) continue;
      auto detail = client.Execute({"XPENDING", where.stream, where.group, "-", "+", "10000", consumer});
      ASSERT_TRUE(detail.ok()) << detail.status();
      for (const redis::Reply& entry : detail->elements) out->insert({where, entry.elements[0].str, consumer});
    }
  }
}

// The "i" of every trigger whose work `entry` carries: an event's data, or
// each activity of a batch. Fails the test when the entry is gone or does
// not decode.
void CarriedTriggers(redis::RedisClient& client, const HeldEntry& entry, std::set<int>* out) {
  auto range = client.Execute({"XRANGE", entry.where.stream, entry.id, entry.id});
  ASSERT_TRUE(range.ok()) << range.status();
  ASSERT_EQ(range->elements.size(), 1u) << entry.where.stream << " " << entry.id << " is pending but not in the stream";
  const redis::Reply& fields = range->elements[0].elements[1];
  std::string payload;
  // An events entry of several events (the API's group commit) is in
  // field b (runs/event_entry.h).
  bool batch = false;
  for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    if (fields.elements[i].str == entry.where.field) payload = fields.elements[i + 1].str;
    if (entry.where.field == runs::kEventField && fields.elements[i].str == runs::kEventBatchField) {
      payload = fields.elements[i + 1].str;
      batch = true;
    }
  }
  std::vector<std::string> data;
  if (entry.where.field == runs::kEventField) {
    std::vector<v1::internal::EventEnvelope> events;
    ASSERT_TRUE(runs::DecodeEventEntry(payload, batch, &events).ok()) << entry.where.stream << " " << entry.id;
    for (const auto& event : events) data.push_back(event.data_json());
  } else {
    v1::internal::BatchEnvelope batch;
    ASSERT_TRUE(batch.ParseFromString(payload)) << entry.where.stream << " " << entry.id;
    for (const auto& activity : batch.activities()) data.push_back(activity.data_json());
  }
  ASSERT_FALSE(data.empty()) << entry.where.stream << " " << entry.id << " carries no trigger";
  for (const std::string& json : data) out->insert(nlohmann::json::parse(json)["i"].get<int>());
}

class CrashTest : public testing::RedisTest {};

TEST_F(CrashTest, KilledWorkerLosesAndDoublesNothing) {
  testing::HarnessOptions options;
  options.roles = "api";
  options.partitions = kPartitions;
  options.workflow_files["direct.yaml"] = R"(
key: direct
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "{{ data.i }}"}}
)";
  testing::HeraldHarness api(endpoint(), options);
  ASSERT_TRUE(api.ok());
  for (int r = 0; r < kRecipients; ++r) ASSERT_TRUE(api.Identify(absl::StrCat("u", r), "U").ok());

  std::unique_ptr<testing::HeraldProcess> victim = SpawnWorker(endpoint().ToString(), api.workflows_dir(), kVictim);
  ASSERT_TRUE(victim->started());
  std::thread load([&] {
    for (int start = 0; start < kTriggers; start += 200) {
      v1::TriggerBatchRequest batch;
      for (int i = start; i < start + 200; ++i) {
        v1::TriggerRequest* request = batch.add_triggers();
        request->set_workflow("direct");
        request->add_recipients()->set_id(absl::StrCat("u", i % kRecipients));
        request->set_data_json(absl::StrCat(R"({"i": )", i, "}"));
      }
      v1::TriggerBatchResponse response;
      EXPECT_TRUE(api.stub().TriggerBatch(testing::HeraldHarness::Context().get(), batch, &response).ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // spread the load over time
    }
  });
  // Whatever fails below, no stopped or running worker outlives the test
  // and the load thread is joined.
  absl::Cleanup cleanup = [&] {
    victim.reset();
    if (load.joinable()) load.join();
  };

  // Wait until the worker has written part of the load, not all of it.
  auto client = Connect();
  absl::Time give_up = absl::Now() + absl::Seconds(60);
  int64_t at_kill = 0;
  while (absl::Now() < give_up) {
    at_kill = CountMessages(*client);
    if (at_kill >= kTriggers / 5) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // Freeze the worker and look at what it holds; kill it only while it
  // holds something, else let it run on and look again a bit later.
  const std::string victim_prefix = absl::StrCat(kVictim, "-");
  std::set<HeldEntry> held_when_frozen;
  for (int attempt = 0; attempt < 100 && held_when_frozen.empty(); ++attempt) {
    ASSERT_TRUE(victim->Freeze()) << "the worker exited early, status " << victim->Exited().value_or(-1) << "\n"
                                  << victim->Log();
    // An acknowledgement it wrote just before it stopped may still be
    // unread in its socket: a round trip of ours after it is read lets
    // Redis apply it first, so what we see below stays held.
    ASSERT_TRUE(client->Execute({"PING"}).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    PendingFor(*client, victim_prefix, &held_when_frozen);
    if (HasFatalFailure()) return;
    if (held_when_frozen.empty()) {
      ASSERT_TRUE(victim->Signal(SIGCONT));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ASSERT_FALSE(held_when_frozen.empty()) << "the worker never held an entry when frozen (100 attempts)";
  ASSERT_TRUE(victim->Signal(SIGKILL));
  std::optional<int> status = victim->WaitForExit(absl::Seconds(10));
  ASSERT_TRUE(status.has_value()) << "the worker outlived SIGKILL";
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) << "status " << *status;
  EXPECT_LT(at_kill, kTriggers) << "the worker finished before it could be killed";
  load.join();

  // What the dead worker held: read but never acknowledged. A frozen
  // worker acknowledges nothing, so all it held when frozen is still held.
  std::set<HeldEntry> held;
  PendingFor(*client, victim_prefix, &held);
  if (HasFatalFailure()) return;
  for (const HeldEntry& entry : held_when_frozen) {
    EXPECT_EQ(held.count(entry), 1u) << entry.where.stream << " " << entry.id << " held when frozen, not after the kill";
  }
  std::set<int> carried;
  std::map<std::string, int> held_by_consumer;
  for (const HeldEntry& entry : held) {
    CarriedTriggers(*client, entry, &carried);
    if (HasFatalFailure()) return;
    ++held_by_consumer[entry.consumer];
  }
  std::vector<std::string> holders;
  for (const auto& [consumer, count] : held_by_consumer) holders.push_back(absl::StrCat(consumer, ":", count));
  std::cout << "killed at " << at_kill << " messages holding " << held.size() << " entries ("
            << absl::StrJoin(holders, ", ") << ") that carry " << carried.size() << " triggers" << std::endl;

  std::unique_ptr<testing::HeraldProcess> survivor =
      SpawnWorker(endpoint().ToString(), api.workflows_dir(), "survivor");
  ASSERT_TRUE(survivor->started());
  bool drained = api.WaitForIdle(absl::Seconds(120));
  survivor->Signal(SIGTERM);
  survivor->WaitForExit(absl::Seconds(30));
  ASSERT_TRUE(drained) << "entries left in the streams after the survivor ran\n" << survivor->Log();

  // The held entries were taken over, processed, acknowledged and deleted.
  for (const HeldEntry& entry : held) {
    auto pending = client->Execute({"XPENDING", entry.where.stream, entry.where.group, entry.id, entry.id, "1"});
    ASSERT_TRUE(pending.ok()) << pending.status();
    EXPECT_TRUE(pending->elements.empty()) << entry.where.stream << " " << entry.id << " is still pending for "
                                           << pending->elements[0].elements[1].str;
    auto range = client->Execute({"XRANGE", entry.where.stream, entry.id, entry.id});
    ASSERT_TRUE(range.ok()) << range.status();
    EXPECT_TRUE(range->elements.empty()) << entry.where.stream << " " << entry.id << " was not deleted";
  }
  // The dead worker's consumers exist (so this looks at the right names)
  // and hold nothing.
  std::set<std::string> victim_consumers;
  for (const GroupStream& where : WorkerStreams()) {
    auto consumers = client->Execute({"XINFO", "CONSUMERS", where.stream, where.group});
    ASSERT_TRUE(consumers.ok()) << consumers.status();
    for (const redis::Reply& consumer : consumers->elements) {
      std::string name;
      int64_t pending = -1;
      for (size_t i = 0; i + 1 < consumer.elements.size(); i += 2) {
        if (consumer.elements[i].str == "name") name = consumer.elements[i + 1].str;
        if (consumer.elements[i].str == "pending") pending = consumer.elements[i + 1].integer;
      }
      if (!absl::StartsWith(name, victim_prefix)) continue;
      victim_consumers.insert(name);
      EXPECT_EQ(pending, 0) << name << " on " << where.stream;
    }
  }
  EXPECT_TRUE(victim_consumers.count(absl::StrCat(kVictim, "-batcher-0")) == 1 &&
              victim_consumers.count(absl::StrCat(kVictim, "-fanout-0")) == 1)
      << "consumers seen: " << absl::StrJoin(victim_consumers, ", ");

  std::multiset<int> seen;
  for (int r = 0; r < kRecipients; ++r) {
    for (const auto& item : api.AllFeedItems(absl::StrCat("u", r))) {
      seen.insert(nlohmann::json::parse(item.data_json())["i"].get<int>());
    }
  }
  // The work the dead worker held was delivered, once.
  for (int i : carried) EXPECT_EQ(seen.count(i), 1u) << "trigger " << i << " held by the killed worker";
  EXPECT_EQ(seen.size(), static_cast<size_t>(kTriggers)) << "lost or doubled (killed at " << at_kill << ")";
  std::set<int> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), static_cast<size_t>(kTriggers));
  EXPECT_EQ(CountMessages(*client), kTriggers);
}

}  // namespace
}  // namespace herald
