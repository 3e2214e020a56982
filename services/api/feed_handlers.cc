#include "services/api/feed_handlers.h"

#include "core/ids.h"
#include "core/keys.h"
#include "feed/feed_store.h"

namespace herald::api {

void FeedHandlers::ListFeed(const v1::ListFeedRequest& request, v1::ListFeedResponse* response,
                            Finish finish) const {
  auto command = feed::ListCommand(Keys(PartitionOf(request.user_id(), backend_.partitions())), request);
  if (!command.ok()) return std::move(finish)(command.status());
  backend_.Run({std::move(*command)},
               [&request, response](const Backend::Results& results) {
                 auto parsed = feed::ParseListReply(request, *results[0]);
                 if (parsed.ok()) *response = std::move(*parsed);
                 return parsed.status();
               },
               std::move(finish));
}

void FeedHandlers::MarkFeedItems(const v1::MarkFeedItemsRequest& request, v1::MarkFeedItemsResponse* response,
                                 Finish finish) const {
  auto command = feed::MarkCommand(Keys(PartitionOf(request.user_id(), backend_.partitions())), request,
                                   backend_.clock().NowMillis(), backend_.options().feed_changes_max_len);
  if (!command.ok()) return std::move(finish)(command.status());
  backend_.Run({std::move(*command)},
               [response](const Backend::Results& results) {
                 auto parsed = feed::ParseMarkReply(*results[0]);
                 if (parsed.ok()) *response = std::move(*parsed);
                 return parsed.status();
               },
               std::move(finish));
}

}  // namespace herald::api
