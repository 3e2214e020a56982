// ListMessages: every message of the deployment, newest first, filtered by
// recipient, workflow, run, channel type, status, tenant and creation time.
// Each partition's message log (Keys::MessageLog) is read by one read-only
// script below a per-partition position, with a bounded scan; the pages of
// the partitions are merged by log entry id (creation time). The cursor
// carries every partition's position, so pages never repeat or skip a
// message, and a page may come back short (even empty) with a cursor when
// the scan budget ran out.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "herald/v1/herald.pb.h"
#include "redis/client.h"

namespace herald::messages {

inline constexpr int kDefaultListPageSize = 20;
inline constexpr int kMaxListPageSize = 100;
// Messages each partition scans at most per call.
inline constexpr int kListScanBudget = 1000;

// A validated ListMessages request and where each partition's read goes on.
struct ListQuery {
  v1::ListMessagesRequest request;
  int page_size = kDefaultListPageSize;
  // Per partition: "" = from the newest, "x" = nothing more to read, else
  // the log entry id to continue below ("<ms>-<seq>"), or the item of an
  // entry of several feed items ("<ms>-<seq>:<item>", messages/list_log.lua).
  std::vector<std::string> positions;
};

// INVALID_ARGUMENT naming the field: recipient, workflow, workflow_run_id,
// channel_type, status, tenant, inserted_before_us, page_size, or after (a
// cursor that is not one of ListMessages' for `partitions` partitions).
// With a recipient, only the recipient's partition is read.
absl::StatusOr<ListQuery> ParseListRequest(const v1::ListMessagesRequest& request, int partitions);

// One command per partition still to read, in partition order.
std::vector<redis::Command> ListCommands(const ListQuery& query, int scan_budget = kListScanBudget);

// Merges the replies of ListCommands (same order) into a page, newest first,
// with the cursor of the next one ("" when every partition is read out).
// INTERNAL on a reply of an unexpected shape.
absl::StatusOr<v1::ListMessagesResponse> MergeListReplies(const ListQuery& query,
                                                          const std::vector<absl::StatusOr<redis::Reply>>& replies);

// The cursor of `positions` (opaque to callers), and back: INVALID_ARGUMENT naming `after` when `cursor` is not one.
std::string EncodeListCursor(const std::vector<std::string>& positions);
absl::StatusOr<std::vector<std::string>> DecodeListCursor(const std::string& cursor, int partitions);

}  // namespace herald::messages
