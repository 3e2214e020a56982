// Objects (non-user entities such as "projects/p1") and their subscribers:
// validation, and the Redis commands that identify an object, change and
// page its subscriptions. An object lives in the partition of its ref
// "collection/id"; its subscribers are a ZSET with equal scores so pages
// are lexicographic ranges that stay stable while members come and go.
// Each subscriber also keeps the set of refs it follows (in its own
// partition), so deleting or merging a user finds its subscriptions.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "herald/v1/herald.pb.h"
#include "redis/client.h"

namespace herald::objects {

inline constexpr int kMaxSubscriptionsPerCall = 1000;
inline constexpr int kDefaultSubscriberPage = 100;
inline constexpr int kMaxSubscriberPage = 1000;

// "collection/id", or INVALID_ARGUMENT naming `field`.collection / .id.
// A collection must not contain '/'.
absl::StatusOr<std::string> ValidateRef(const v1::ObjectRef& object, const std::string& field);

// Splits a stored ref back into collection and id.
v1::ObjectRef ParseRef(const std::string& ref);

int PartitionOfRef(const std::string& ref, int partitions);

// Upserts the object; reply: HGETALL of the object followed by the
// subscriber count (see ObjectFromReply).
absl::StatusOr<redis::Command> IdentifyCommand(const v1::IdentifyObjectRequest& request, int partitions,
                                               int64_t now_ms);
// Reply shape of IdentifyCommand, for reads.
redis::Command GetCommand(const std::string& ref, int partitions);
// NOT_FOUND naming the object when it was never identified.
absl::StatusOr<v1::Object> ObjectFromReply(const std::string& ref, const redis::Reply& reply);

// Validated user ids of a (un)subscribe call; INVALID_ARGUMENT naming
// user_ids[i].
absl::Status ValidateUserIds(const google::protobuf::RepeatedPtrField<std::string>& ids);

// The writes of a (un)subscribe: the object's set first (its reply is
// {changed, count}), then one command per partition for the users' own sets.
std::vector<redis::Command> SubscriptionCommands(const std::string& ref,
                                                 const google::protobuf::RepeatedPtrField<std::string>& user_ids,
                                                 bool subscribe, int partitions);
absl::StatusOr<v1::SubscriptionsResponse> ParseSubscriptionsReply(const redis::Reply& reply);

// One page of subscribers after `after` (exclusive; "" = from the start).
redis::Command SubscriberPageCommand(const std::string& ref, const std::string& after, int count, int partitions);

// INVALID_ARGUMENT naming page_size.
absl::StatusOr<redis::Command> ListCommand(const std::string& ref, const v1::ListSubscribersRequest& request,
                                           int partitions);
v1::ListSubscribersResponse ParseListReply(const v1::ListSubscribersRequest& request, const redis::Reply& reply);

// Deletes the object and unsubscribes everyone, a page at a time so a
// large object never blocks Redis. Returns how many were unsubscribed.
absl::StatusOr<int64_t> DeleteObject(redis::RedisClient& client, const std::string& ref, int partitions);

}  // namespace herald::objects
