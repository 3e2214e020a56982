// The API's group commit of event writes (services/api/event_writer.h)
// against a real Redis: one entry per stream per flush, writes queued behind
// a flush in flight share the next one, and a write is answered OK only
// when the XADD holding its event returned — a failed XADD or a lost
// connection fails exactly the writes it carried.
#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "herald/v1/pipeline.pb.h"
#include "prometheus/registry.h"
#include "redis/async_pipeline.h"
#include "runs/event_entry.h"
#include "services/api/event_writer.h"
#include "tests/support/eventually.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

using api::EventWriter;
using api::StreamEvent;

std::string Stream(int p) { return absl::StrCat("herald:{", p, "}:events"); }

// An event whose one target's run id is `run` (what the tests look for).
StreamEvent EventFor(int p, const std::string& run) {
  v1::internal::EventEnvelope event;
  event.set_workflow("w");
  auto* target = event.add_targets();
  target->set_recipient(run);
  target->set_run_id(run);
  return StreamEvent{Stream(p), event.SerializeAsString()};
}

// Collects the statuses a write was answered with.
class Answers {
 public:
  EventWriter::Written For(const std::string& name) {
    return [this, name](std::vector<absl::Status> statuses) {
      absl::MutexLock lock(&mu_);
      answered_[name] = std::move(statuses);
    };
  }
  bool WaitFor(size_t writes) {
    absl::MutexLock lock(&mu_);
    auto all = [&] {
      mu_.AssertReaderHeld();
      return answered_.size() >= writes;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&all), absl::Seconds(20));
  }
  std::vector<absl::Status> Of(const std::string& name) {
    absl::MutexLock lock(&mu_);
    return answered_[name];
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::vector<absl::Status>> answered_ ABSL_GUARDED_BY(mu_);
};

class GroupCommitTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    client_ = Connect();
    auto pipeline = redis::AsyncPipeline::Create(endpoint(), 2);
    ASSERT_TRUE(pipeline.ok()) << pipeline.status();
    pipeline_ = std::move(*pipeline);
    writer_ = std::make_unique<EventWriter>(*pipeline_, registry_);
  }
  void TearDown() override {
    writer_.reset();
    pipeline_.reset();
  }

  // Entries of stream p: for each, the run ids of its events in order.
  std::vector<std::vector<std::string>> Entries(int p) {
    std::vector<std::vector<std::string>> entries;
    auto reply = client_->Execute({"XRANGE", Stream(p), "-", "+"});
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return entries;
    for (const redis::Reply& entry : reply->elements) {
      const redis::Reply& fields = entry.elements[1];
      EXPECT_EQ(fields.elements.size(), 2u) << "one field per entry";
      std::vector<v1::internal::EventEnvelope> events;
      const bool batch = fields.elements[0].str == runs::kEventBatchField;
      EXPECT_TRUE(runs::DecodeEventEntry(fields.elements[1].str, batch, &events).ok());
      EXPECT_EQ(batch, events.size() > 1) << "a lone event is a plain entry";
      std::vector<std::string> runs;
      for (const auto& event : events) runs.push_back(event.targets(0).run_id());
      entries.push_back(std::move(runs));
    }
    return entries;
  }
  // How many times each run id is in stream p.
  std::map<std::string, int> RunCounts(int p) {
    std::map<std::string, int> counts;
    for (const auto& entry : Entries(p)) {
      for (const std::string& run : entry) ++counts[run];
    }
    return counts;
  }
  // The id of the connection whose XADD waits in a paused Redis (0 when
  // none does yet).
  int64_t PausedXaddClient() {
    auto list = client_->Execute({"CLIENT", "LIST"});
    if (!list.ok()) return 0;
    for (absl::string_view line : absl::StrSplit(list->str, '\n')) {
      if (!absl::StrContains(line, " cmd=xadd ")) continue;
      for (absl::string_view field : absl::StrSplit(line, ' ')) {
        int64_t id = 0;
        if (absl::ConsumePrefix(&field, "id=") && absl::SimpleAtoi(field, &id)) return id;
      }
    }
    return 0;
  }

  std::unique_ptr<redis::RedisClient> client_;
  prometheus::Registry registry_;
  std::unique_ptr<redis::AsyncPipeline> pipeline_;
  std::unique_ptr<EventWriter> writer_;
};

TEST_F(GroupCommitTest, OneWriteIsOneEntryPerStreamItTouches) {
  Answers answers;
  std::vector<StreamEvent> events;
  for (int i = 0; i < 100; ++i) events.push_back(EventFor(i % 3, absl::StrCat("run-", i)));
  writer_->Write(std::move(events), answers.For("call"));
  ASSERT_TRUE(answers.WaitFor(1));
  std::vector<absl::Status> statuses = answers.Of("call");
  ASSERT_EQ(statuses.size(), 100u);
  for (const absl::Status& status : statuses) EXPECT_TRUE(status.ok()) << status;
  for (int p = 0; p < 3; ++p) {
    auto entries = Entries(p);
    ASSERT_EQ(entries.size(), 1u) << "stream " << p;
    // The call's events of the stream, in the call's order.
    std::vector<std::string> expected;
    for (int i = p; i < 100; i += 3) expected.push_back(absl::StrCat("run-", i));
    EXPECT_EQ(entries[0], expected);
  }
  EXPECT_TRUE(Entries(3).empty());
}

TEST_F(GroupCommitTest, WritesQueuedBehindAFlushInFlightShareTheNextOne) {
  Answers answers;
  {
    testing::PausedWrites pause(*client_);
    ASSERT_TRUE(pause.ok());
    // Held in Redis until the resume: every later write queues behind it.
    writer_->Write({EventFor(0, "first")}, answers.For("first"));
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t) {
      callers.emplace_back([&, t] {
        for (int i = 0; i < 25; ++i) {
          const std::string run = absl::StrCat("t", t, "-", i);
          writer_->Write({EventFor(i % 4, run)}, answers.For(run));
        }
      });
    }
    for (std::thread& caller : callers) caller.join();
    ASSERT_TRUE(pause.Resume().ok());
  }
  ASSERT_TRUE(answers.WaitFor(101));
  EXPECT_TRUE(answers.Of("first").at(0).ok());
  // Two flushes: the first write alone, then the 100 queued ones as one
  // entry per stream.
  std::vector<size_t> entries_per_stream;
  std::map<std::string, int> counts;
  for (int p = 0; p < 4; ++p) {
    auto entries = Entries(p);
    entries_per_stream.push_back(entries.size());
    for (const auto& entry : entries) {
      for (const std::string& run : entry) ++counts[run];
    }
  }
  EXPECT_THAT(entries_per_stream, ::testing::ElementsAre(2, 1, 1, 1));
  EXPECT_EQ(counts.size(), 101u);
  for (const auto& [run, count] : counts) {
    EXPECT_EQ(count, 1) << run;
    EXPECT_TRUE(answers.Of(run).at(0).ok()) << run;
  }
}

TEST_F(GroupCommitTest, ConcurrentCallersCoalesceAndEveryAcknowledgedEventIsWrittenOnce) {
  // Callers like unary Trigger calls: each waits for its write before the
  // next.
  constexpr int kCallers = 8;
  constexpr int kWritesEach = 200;
  std::atomic<int> failed{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < kCallers; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < kWritesEach; ++i) {
        absl::Notification written;
        writer_->Write({EventFor((t + i) % 4, absl::StrCat("t", t, "-", i))},
                       [&](std::vector<absl::Status> statuses) {
                         if (!statuses.at(0).ok()) ++failed;
                         written.Notify();
                       });
        ASSERT_TRUE(written.WaitForNotificationWithTimeout(absl::Seconds(20)));
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  ASSERT_EQ(failed.load(), 0);
  size_t entries = 0;
  std::map<std::string, int> counts;
  for (int p = 0; p < 4; ++p) {
    for (const auto& entry : Entries(p)) {
      ++entries;
      for (const std::string& run : entry) ++counts[run];
    }
  }
  ASSERT_EQ(counts.size(), static_cast<size_t>(kCallers * kWritesEach));
  for (const auto& [run, count] : counts) EXPECT_EQ(count, 1) << run;
  // While one flush is in flight the other callers queue: fewer entries
  // than writes.
  EXPECT_LT(entries, static_cast<size_t>(kCallers * kWritesEach));
  std::cout << "group commit: " << kCallers * kWritesEach << " writes in " << entries << " entries" << std::endl;
}

TEST_F(GroupCommitTest, AFailedXaddFailsExactlyTheEventsItCarried) {
  // Stream 2 is not a stream: its XADD fails (WRONGTYPE), the others land.
  ASSERT_TRUE(client_->Execute({"SET", Stream(2), "not a stream"}).ok());
  Answers answers;
  {
    testing::PausedWrites pause(*client_);
    ASSERT_TRUE(pause.ok());
    writer_->Write({EventFor(3, "ahead")}, answers.For("ahead"));
    // These three share the next flush.
    writer_->Write({EventFor(0, "a0"), EventFor(1, "a1")}, answers.For("a"));
    writer_->Write({EventFor(2, "b2")}, answers.For("b"));
    writer_->Write({EventFor(1, "c1"), EventFor(2, "c2")}, answers.For("c"));
    ASSERT_TRUE(pause.Resume().ok());
  }
  ASSERT_TRUE(answers.WaitFor(4));
  auto a = answers.Of("a");
  auto b = answers.Of("b");
  auto c = answers.Of("c");
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 1u);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_TRUE(a[0].ok() && a[1].ok()) << a[0] << " " << a[1];
  EXPECT_FALSE(b[0].ok());
  EXPECT_TRUE(c[0].ok()) << c[0];
  EXPECT_FALSE(c[1].ok());
  EXPECT_THAT(Entries(0), ::testing::ElementsAre(::testing::ElementsAre("a0")));
  EXPECT_THAT(Entries(1), ::testing::ElementsAre(::testing::ElementsAre("a1", "c1")));
  auto kind = client_->Execute({"TYPE", Stream(2)});
  ASSERT_TRUE(kind.ok());
  EXPECT_EQ(kind->str, "string");
}

TEST_F(GroupCommitTest, AConnectionLostMidFlushFailsItsWritesAndNoOtherIsAnsweredWithoutItsEntry) {
  Answers answers;
  {
    testing::PausedWrites pause(*client_);
    ASSERT_TRUE(pause.ok());
    writer_->Write({EventFor(0, "lost0"), EventFor(1, "lost1")}, answers.For("lost"));
    int64_t held = 0;
    ASSERT_TRUE(testing::Eventually([&] { return (held = PausedXaddClient()) != 0; }));
    for (int i = 0; i < 10; ++i) {
      const std::string run = absl::StrCat("queued-", i);
      writer_->Write({EventFor(i % 2, run)}, answers.For(run));
    }
    // The connection carrying the first flush dies before Redis ran it.
    ASSERT_TRUE(client_->Execute({"CLIENT", "KILL", "ID", std::to_string(held)}).ok());
    ASSERT_TRUE(pause.Resume().ok());
  }
  ASSERT_TRUE(answers.WaitFor(11));
  for (const absl::Status& status : answers.Of("lost")) EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  std::map<std::string, int> counts = RunCounts(0);
  for (const auto& [run, count] : RunCounts(1)) counts[run] += count;
  for (int i = 0; i < 10; ++i) {
    const std::string run = absl::StrCat("queued-", i);
    ASSERT_TRUE(answers.Of(run).at(0).ok()) << run << ": " << answers.Of(run).at(0);
    EXPECT_EQ(counts[run], 1) << run;
  }
  EXPECT_EQ(counts.count("lost0") + counts.count("lost1"), 0u) << "Redis ran a command of a killed client";
}

}  // namespace
}  // namespace herald
