// Object fan-out as a trigger starts it: the id, the progress record and
// the first page job, written atomically with the trigger (the trigger
// script includes objects/start_fanout.lua), and the progress record as
// GetObjectFanout reads it.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "herald/v1/herald.pb.h"
#include "redis/client.h"

namespace herald::objects {

// "<partition>.<32 hex>": the partition makes the progress record
// findable from the id alone.
std::string FanoutId(int partition, const std::string& nonce, const std::string& ref);
// INVALID_ARGUMENT naming fanout_id.
absl::StatusOr<int> PartitionOfFanout(const std::string& fanout_id, int partitions);

// HGETALL reply of the progress hash; NOT_FOUND naming the id.
absl::StatusOr<v1::ObjectFanout> FanoutFromReply(const std::string& fanout_id, const redis::Reply& reply);

}  // namespace herald::objects
