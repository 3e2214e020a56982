// The in-app feed: pages with counts, and marking items.
#pragma once

#include "herald/v1/herald.pb.h"
#include "services/api/backend.h"

namespace herald::api {

// Thread-safe.
class FeedHandlers : public HandlerGroup {
 public:
  using HandlerGroup::HandlerGroup;

  void ListFeed(const v1::ListFeedRequest& request, v1::ListFeedResponse* response, Finish finish) const;
  void MarkFeedItems(const v1::MarkFeedItemsRequest& request, v1::MarkFeedItemsResponse* response,
                     Finish finish) const;

};

}  // namespace herald::api
