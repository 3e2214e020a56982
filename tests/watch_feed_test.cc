// gRPC WatchFeed end to end over a real channel, with the whole Herald in
// process: an item a real trigger puts into a named feed arrives with its
// counts, a MarkFeedItems arrives as items_marked, a reconnect after the last
// cursor gets exactly what happened meanwhile, bad requests name the field,
// and a client that cancels ends its stream.
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/support/eventually.h"
#include "tests/support/herald_harness.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

testing::HarnessOptions Workflows() {
  testing::HarnessOptions options;
  options.workflow_files["news.yaml"] = R"(
key: news
steps:
  - {type: channel, channel_type: in_app_feed, feed: announcements, template: {markdown: "news {{ data.n }}"}}
)";
  options.workflow_files["direct.yaml"] = R"(
key: direct
steps:
  - {type: channel, channel_type: in_app_feed, template: {markdown: "item {{ data.n }}"}}
)";
  return options;
}

// One WatchFeed stream read on its own thread.
class Watch {
 public:
  Watch(v1::Herald::Stub& stub, v1::WatchFeedRequest request) {
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    reader_ = stub.WatchFeed(&context_, request);
    thread_ = std::thread([this] {
      v1::FeedEvent event;
      while (reader_->Read(&event)) {
        absl::MutexLock lock(&mu_);
        events_.push_back(event);
      }
      grpc::Status status = reader_->Finish();
      absl::MutexLock lock(&mu_);
      status_ = status;
      done_ = true;
    });
  }
  ~Watch() {
    context_.TryCancel();
    thread_.join();
  }
  std::vector<v1::FeedEvent> Events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  bool WaitFor(size_t n) {
    return testing::Eventually([&] { return Events().size() >= n; }, absl::Seconds(20));
  }
  // The stream's status once it ended (bounded wait).
  std::optional<grpc::Status> Ended() {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&done_), absl::Seconds(20));
    if (!done_) return std::nullopt;
    return status_;
  }
  void Cancel() { context_.TryCancel(); }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::FeedEvent>> reader_;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<v1::FeedEvent> events_ ABSL_GUARDED_BY(mu_);
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

class WatchFeedTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    harness_ = std::make_unique<testing::HeraldHarness>(endpoint(), Workflows());
    ASSERT_TRUE(harness_->ok());
    ASSERT_TRUE(harness_->Identify("u", "U").ok());
  }
  void TearDown() override { harness_.reset(); }

  void Trigger(const std::string& workflow, int n) {
    v1::TriggerRequest request;
    request.set_workflow(workflow);
    request.add_recipients()->set_id("u");
    request.set_data_json(absl::StrCat(R"({"n": )", n, "}"));
    v1::TriggerResponse response;
    grpc::Status status = harness_->stub().Trigger(testing::HeraldHarness::Context().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  static v1::WatchFeedRequest Request(const std::string& feed, const std::string& after = "") {
    v1::WatchFeedRequest request;
    request.set_user_id("u");
    request.set_feed(feed);
    request.set_after(after);
    return request;
  }

  std::unique_ptr<testing::HeraldHarness> harness_;
};

TEST_F(WatchFeedTest, TriggeredItemsAndMarksStreamWithCountsAndResumeAfterACursor) {
  auto watch = std::make_unique<Watch>(harness_->stub(), Request("announcements"));
  ASSERT_TRUE(watch->WaitFor(1));  // counts and a cursor
  EXPECT_EQ(watch->Events()[0].metadata().unread_count(), 0);
  Trigger("direct", 0);  // the main feed: not this stream's
  Trigger("news", 1);
  ASSERT_TRUE(watch->WaitFor(2));
  v1::FeedEvent inserted = watch->Events()[1];
  ASSERT_TRUE(inserted.has_item_inserted()) << inserted.DebugString();
  EXPECT_EQ(inserted.item_inserted().workflow(), "news");
  EXPECT_TRUE(absl::StrContains(inserted.item_inserted().blocks(0).rendered(), "news 1"));
  EXPECT_EQ(inserted.metadata().unread_count(), 1);

  v1::MarkFeedItemsRequest mark;
  mark.set_user_id("u");
  mark.set_feed("announcements");
  mark.set_action(v1::FEED_ACTION_READ);
  mark.add_ids(inserted.item_inserted().id());
  v1::MarkFeedItemsResponse marked;
  ASSERT_TRUE(harness_->stub().MarkFeedItems(testing::HeraldHarness::Context().get(), mark, &marked).ok());
  ASSERT_TRUE(watch->WaitFor(3));
  v1::FeedEvent mark_event = watch->Events()[2];
  ASSERT_TRUE(mark_event.has_items_marked());
  EXPECT_EQ(mark_event.items_marked().ids(0), inserted.item_inserted().id());
  EXPECT_EQ(mark_event.metadata().unread_count(), 0);

  // Disconnect, three more, reconnect after the last cursor: those three,
  // in order, nothing twice.
  const std::string cursor = mark_event.cursor();
  watch.reset();
  for (int n = 2; n <= 4; ++n) {
    Trigger("news", n);
    ASSERT_TRUE(harness_->WaitForIdle());
  }
  Watch resumed(harness_->stub(), Request("announcements", cursor));
  ASSERT_TRUE(resumed.WaitFor(3));
  Trigger("news", 5);
  ASSERT_TRUE(resumed.WaitFor(4));
  std::vector<std::string> texts;
  for (const auto& event : resumed.Events()) texts.push_back(event.item_inserted().blocks(0).rendered());
  ASSERT_EQ(texts.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(absl::StrContains(texts[i], absl::StrCat("news ", i + 2))) << texts[i];
  EXPECT_EQ(resumed.Events()[3].metadata().unread_count(), 4);
}

TEST_F(WatchFeedTest, BadRequestsNameTheFieldAndCancellingEndsTheStream) {
  struct Case {
    v1::WatchFeedRequest request;
    grpc::StatusCode code;
    const char* field;
  };
  std::vector<Case> cases;
  cases.push_back({Request("announcements"), grpc::StatusCode::INVALID_ARGUMENT, "user_id: "});
  cases.back().request.clear_user_id();
  cases.push_back({Request("no such feed"), grpc::StatusCode::INVALID_ARGUMENT, "feed: "});
  cases.push_back({Request("", "bogus"), grpc::StatusCode::INVALID_ARGUMENT, "after: "});
  cases.push_back({Request(""), grpc::StatusCode::INVALID_ARGUMENT, "tenant: "});
  cases.back().request.set_tenant(std::string("a\nb"));
  for (Case& c : cases) {
    Watch watch(harness_->stub(), c.request);
    std::optional<grpc::Status> status = watch.Ended();
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status->error_code(), c.code) << status->error_message();
    EXPECT_TRUE(absl::StartsWith(status->error_message(), c.field)) << status->error_message();
  }

  Watch watch(harness_->stub(), Request(""));
  ASSERT_TRUE(watch.WaitFor(1));
  watch.Cancel();
  std::optional<grpc::Status> status = watch.Ended();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::CANCELLED);
  // The server still serves new watches and triggers after the cancel.
  Watch again(harness_->stub(), Request(""));
  ASSERT_TRUE(again.WaitFor(1));
  Trigger("direct", 7);
  ASSERT_TRUE(again.WaitFor(2));
  EXPECT_TRUE(again.Events()[1].has_item_inserted());
}

}  // namespace
}  // namespace herald
