// The in-app feed: cursor pages that stay stable while items arrive, status
// filters, and unseen/unread counts through every mark and its undo.
#include <grpcpp/grpcpp.h>

#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/herald_harness.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

testing::HarnessOptions Workflows() {
  testing::HarnessOptions options;
  options.workflow_files["direct.yaml"] = R"(
key: direct
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "item {{ data.n }}"}}
)";
  return options;
}

class FeedTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    harness_ = std::make_unique<testing::HeraldHarness>(endpoint(), Workflows());
    ASSERT_TRUE(harness_->ok());
    ASSERT_TRUE(harness_->Identify("u", "U").ok());
  }
  void TearDown() override { harness_.reset(); }

  void Insert(int from, int to) {
    v1::TriggerBatchRequest batch;
    for (int n = from; n < to; ++n) {
      v1::TriggerRequest* request = batch.add_triggers();
      request->set_workflow("direct");
      request->add_recipients()->set_id("u");
      request->set_data_json(absl::StrCat(R"({"n": )", n, "}"));
    }
    v1::TriggerBatchResponse response;
    ASSERT_TRUE(harness_->stub().TriggerBatch(testing::HeraldHarness::Context().get(), batch, &response).ok());
    ASSERT_TRUE(harness_->WaitForIdle());
  }

  v1::ListFeedResponse Page(const std::string& after, int size,
                            v1::FeedStatusFilter status = v1::FEED_STATUS_FILTER_UNSPECIFIED) {
    v1::ListFeedRequest request;
    request.set_user_id("u");
    request.set_page_size(size);
    request.set_after(after);
    request.set_status(status);
    v1::ListFeedResponse response;
    grpc::Status grpc_status = harness_->stub().ListFeed(testing::HeraldHarness::Context().get(), request, &response);
    EXPECT_TRUE(grpc_status.ok()) << grpc_status.error_message();
    return response;
  }

  v1::MarkFeedItemsResponse Mark(v1::FeedAction action, std::vector<std::string> ids, bool all = false,
                                 grpc::Status* status_out = nullptr) {
    v1::MarkFeedItemsRequest request;
    request.set_user_id("u");
    request.set_action(action);
    for (auto& id : ids) request.add_ids(id);
    request.set_all(all);
    v1::MarkFeedItemsResponse response;
    grpc::Status status = harness_->stub().MarkFeedItems(testing::HeraldHarness::Context().get(), request, &response);
    if (status_out != nullptr) {
      *status_out = status;
    } else {
      EXPECT_TRUE(status.ok()) << status.error_message();
    }
    return response;
  }

  static int N(const v1::FeedItem& item) { return nlohmann::json::parse(item.data_json())["n"].get<int>(); }

  std::unique_ptr<testing::HeraldHarness> harness_;
};

TEST_F(FeedTest, PagesStayStableWhileNewItemsArrive) {
  Insert(0, 30);
  // The reference: the 30 items in feed order (fan-out threads may insert
  // triggers of one batch call in either order; the feed order is the
  // insertion order).
  std::vector<int> expected;
  const v1::ListFeedResponse reference = Page("", 100);
  for (const auto& item : reference.items()) expected.push_back(N(item));
  ASSERT_EQ(expected.size(), 30u);
  std::vector<int> seen;
  auto page = Page("", 10);
  for (const auto& item : page.items()) seen.push_back(N(item));
  // 40 more arrive while the reader is on page one, from a concurrent writer.
  std::thread writer([&] { Insert(30, 70); });
  std::string cursor = page.next_cursor();
  while (!cursor.empty()) {
    page = Page(cursor, 7);
    for (const auto& item : page.items()) seen.push_back(N(item));
    cursor = page.next_cursor();
  }
  writer.join();
  EXPECT_EQ(seen, expected) << "the pages must walk the original 30 items, newest first, once each";
  EXPECT_EQ(Page("", 100).metadata().total_count(), 70);
}

TEST_F(FeedTest, CountsFollowEveryMarkAndItsUndo) {
  Insert(0, 5);
  auto all = Page("", 10);
  ASSERT_EQ(all.items_size(), 5);
  EXPECT_EQ(all.metadata().unseen_count(), 5);
  EXPECT_EQ(all.metadata().unread_count(), 5);
  std::string a = all.items(0).id(), b = all.items(1).id(), c = all.items(2).id();

  auto marked = Mark(v1::FEED_ACTION_SEEN, {a, b});
  EXPECT_EQ(marked.changed(), 2);
  EXPECT_EQ(marked.metadata().unseen_count(), 3);
  EXPECT_EQ(marked.metadata().unread_count(), 5);
  EXPECT_EQ(Mark(v1::FEED_ACTION_SEEN, {a}).changed(), 0) << "marking twice changes nothing";

  marked = Mark(v1::FEED_ACTION_READ, {c});
  EXPECT_EQ(marked.metadata().unread_count(), 4);
  EXPECT_EQ(marked.metadata().unseen_count(), 2) << "read implies seen";
  EXPECT_EQ(Page("", 10, v1::FEED_STATUS_FILTER_READ).items_size(), 1);
  EXPECT_EQ(Page("", 10, v1::FEED_STATUS_FILTER_UNREAD).items_size(), 4);

  marked = Mark(v1::FEED_ACTION_UNREAD, {c});
  EXPECT_EQ(marked.metadata().unread_count(), 5);
  marked = Mark(v1::FEED_ACTION_UNSEEN, {a});
  EXPECT_EQ(marked.metadata().unseen_count(), 3);

  marked = Mark(v1::FEED_ACTION_ARCHIVED, {a});
  EXPECT_EQ(marked.metadata().total_count(), 4);
  EXPECT_EQ(marked.metadata().unseen_count(), 2);
  EXPECT_EQ(marked.metadata().unread_count(), 4);
  EXPECT_EQ(Page("", 10, v1::FEED_STATUS_FILTER_ARCHIVED).items(0).id(), a);
  marked = Mark(v1::FEED_ACTION_UNARCHIVED, {a});
  EXPECT_EQ(marked.metadata().total_count(), 5);
  EXPECT_EQ(marked.metadata().unseen_count(), 3);
  EXPECT_EQ(marked.metadata().unread_count(), 5);

  marked = Mark(v1::FEED_ACTION_READ, {}, /*all=*/true);
  EXPECT_EQ(marked.changed(), 5);
  EXPECT_EQ(marked.metadata().unread_count(), 0);
  EXPECT_EQ(marked.metadata().unseen_count(), 0);
  marked = Mark(v1::FEED_ACTION_UNREAD, {}, /*all=*/true);
  EXPECT_EQ(marked.metadata().unread_count(), 5);
  EXPECT_EQ(marked.metadata().unseen_count(), 0);
  marked = Mark(v1::FEED_ACTION_ARCHIVED, {}, /*all=*/true);
  EXPECT_EQ(marked.metadata().total_count(), 0);
  EXPECT_EQ(marked.metadata().unread_count(), 0);
  marked = Mark(v1::FEED_ACTION_UNARCHIVED, {}, /*all=*/true);
  EXPECT_EQ(marked.metadata().total_count(), 5);
  EXPECT_EQ(marked.metadata().unread_count(), 5);

  marked = Mark(v1::FEED_ACTION_INTERACTED, {b});
  auto item = Page("", 10).items(1);
  EXPECT_NE(item.interacted_at_ms(), 0);
  EXPECT_NE(item.read_at_ms(), 0);
  EXPECT_EQ(marked.metadata().unread_count(), 4);
}

TEST_F(FeedTest, BadMarksAndCursorsAreRefusedWithoutChanges) {
  Insert(0, 2);
  auto before = Page("", 10);
  grpc::Status status;
  Mark(v1::FEED_ACTION_READ, {before.items(0).id(), "0000000000000000000000000000dead"}, false, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message().rfind("ids[1]", 0), 0u) << status.error_message();
  EXPECT_EQ(Page("", 10).metadata().unread_count(), 2) << "a refused mark changes nothing";
  Mark(v1::FEED_ACTION_UNSPECIFIED, {before.items(0).id()}, false, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  Mark(v1::FEED_ACTION_READ, {before.items(0).id()}, true, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::ListFeedRequest request;
  request.set_user_id("u");
  request.set_after("garbage");
  v1::ListFeedResponse response;
  status = harness_->stub().ListFeed(testing::HeraldHarness::Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().rfind("after", 0), 0u);
  request.set_after("");
  request.set_page_size(1000);
  status = harness_->stub().ListFeed(testing::HeraldHarness::Context().get(), request, &response);
  EXPECT_EQ(status.error_message().rfind("page_size", 0), 0u);
  // Another user's item cannot be marked through this user.
  ASSERT_TRUE(harness_->Identify("other", "O").ok());
  v1::MarkFeedItemsRequest steal;
  steal.set_user_id("other");
  steal.set_action(v1::FEED_ACTION_READ);
  steal.add_ids(before.items(0).id());
  v1::MarkFeedItemsResponse stolen;
  status = harness_->stub().MarkFeedItems(testing::HeraldHarness::Context().get(), steal, &stolen);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace herald
