#include "runs/wait_store.h"

#include "absl/strings/str_cat.h"
#include "herald/v1/pipeline.pb.h"
#include "redis/script.h"
#include "runs/append.lua.h"
#include "runs/cancel.lua.h"
#include "runs/claim.lua.h"

namespace herald::runs {
namespace {

const redis::Script kAppend(lua::kRunsAppend);
const redis::Script kClaim(lua::kRunsClaim);
const redis::Script kCancel(lua::kRunsCancel);

std::string Millis(int64_t seconds) { return std::to_string(seconds * 1000); }

// The header a wait keeps: a bulk-lane run's says so (BatchEnvelope.bulk), so
// the claim flushes the wait it opens into the bulk batches stream. Appended
// as a serialized field (protobuf concatenation is a merge), so the header
// built by the step runner is not parsed again.
std::string StoredHeader(const WaitAppend& append) {
  if (append.lane != Lane::kBulk) return append.header_blob;
  static const std::string* const kBulkField = [] {
    v1::internal::BatchEnvelope bulk;
    bulk.set_bulk(true);
    return new std::string(bulk.SerializeAsString());
  }();
  return absl::StrCat(append.header_blob, *kBulkField);
}

}  // namespace

redis::Command AppendCommand(const Keys& keys, const WaitAppend& append) {
  std::vector<std::string> script_keys = {
      keys.Due(),
      keys.Run(append.run_id),
      keys.Batches(append.lane),
      append.delay ? keys.Delays() : keys.Waits(),
      keys.WaitHeader(append.wait_key),
      keys.WaitOpen(append.older_wait_key.empty() ? append.wait_key : append.older_wait_key),
      keys.RunAppended(append.run_id, append.step),
      keys.OlderDue()};
  if (!append.cancellation_key.empty()) {
    script_keys.push_back(keys.CancelIndex(append.workflow, append.cancellation_key, append.recipient));
    script_keys.push_back(keys.CancelIndex(append.workflow, append.cancellation_key, "*"));
    script_keys.push_back(keys.CancelRecipients(append.workflow, append.cancellation_key));
  }
  return kAppend.Call(std::move(script_keys),
                      {append.wait_key, append.batch_id, StoredHeader(append), append.run_id,
                       std::to_string(append.step), append.activity_blob, std::to_string(append.accepted_at_ms),
                       std::to_string(append.now_ms), std::to_string(append.window_ms),
                       std::to_string(append.max_window_ms), append.sliding ? "1" : "0",
                       std::to_string(append.max_activities), append.flush_leading ? "1" : "0",
                       append.leading_batch_blob, append.recipient, Millis(append.run_ttl_seconds)});
}

absl::StatusOr<AppendOutcome> ParseAppendReply(const redis::Reply& reply) {
  const std::string& text = reply.str;
  if (text == "opened") return AppendOutcome::kOpened;
  if (text == "joined") return AppendOutcome::kJoined;
  if (text == "leading") return AppendOutcome::kLeadingSent;
  if (text == "duplicate") return AppendOutcome::kDuplicate;
  if (text == "cancelled") return AppendOutcome::kCancelled;
  return absl::InternalError(absl::StrCat("wait append: unexpected reply '", text, "'"));
}

redis::Command ClaimCommand(const Keys& keys, int64_t now_ms, int limit, int64_t run_ttl_seconds) {
  return kClaim.Call({keys.Due(), keys.Batches(), keys.Waits(), keys.Delays(), keys.OlderDue(), keys.BatchesBulk()},
                     {std::to_string(now_ms), std::to_string(limit), Millis(run_ttl_seconds)});
}

absl::StatusOr<ClaimResult> ParseClaimReply(const redis::Reply& reply) {
  if (reply.elements.size() != 3 || reply.elements[2].elements.size() % 3 != 0) {
    return absl::InternalError("wait claim: unexpected reply shape");
  }
  ClaimResult result{reply.elements[0].integer, reply.elements[1].integer, {}};
  const std::vector<redis::Reply>& flushed = reply.elements[2].elements;
  result.flushed.reserve(flushed.size() / 3);
  for (size_t i = 0; i < flushed.size(); i += 3) {
    result.flushed.push_back({flushed[i].integer, flushed[i + 1].integer, flushed[i + 2].str == "d"});
  }
  return result;
}

redis::Command CancelCommand(const Keys& keys, const std::string& workflow, const std::string& cancellation_key,
                             const std::vector<std::string>& recipients, int64_t now_ms, int64_t ttl_seconds) {
  std::vector<std::string> script_keys = {keys.Due(), keys.OlderDue(), keys.Waits(), keys.Delays(),
                                          keys.CancelIndex(workflow, cancellation_key, "*"),
                                          keys.CancelRecipients(workflow, cancellation_key)};
  for (const std::string& recipient : recipients) {
    script_keys.push_back(keys.CancelIndex(workflow, cancellation_key, recipient));
  }
  return kCancel.Call(std::move(script_keys), {workflow, cancellation_key, std::to_string(now_ms), Millis(ttl_seconds),
                                    recipients.empty() ? "all" : "listed"});
}

}  // namespace herald::runs
