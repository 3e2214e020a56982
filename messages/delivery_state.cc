#include "messages/delivery_state.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "messages/begin_deliveries.lua.h"
#include "messages/record_deliveries.lua.h"
#include "messages/renew_leases.lua.h"
#include "messages/replay_dead_letters.lua.h"
#include "redis/move_due.h"
#include "redis/script.h"

namespace herald::messages {
namespace {

const redis::Script kBegin(lua::kMessagesBeginDeliveries);
const redis::Script kRecord(lua::kMessagesRecordDeliveries);
const redis::Script kReplay(lua::kMessagesReplayDeadLetters);
const redis::Script kRenew(lua::kMessagesRenewLeases);

const char* OutcomeName(DeliveryRecord::Outcome outcome) {
  switch (outcome) {
    case DeliveryRecord::Outcome::kDelivered: return "delivered";
    case DeliveryRecord::Outcome::kRetry: return "retry";
    case DeliveryRecord::Outcome::kFailed: return "failed";
    case DeliveryRecord::Outcome::kDefer: return "defer";
  }
  return "retry";
}

DeliveryTake::Verdict VerdictOf(const std::string& word, bool* known) {
  *known = true;
  if (word == "send") return DeliveryTake::Verdict::kSend;
  if (word == "done") return DeliveryTake::Verdict::kDone;
  if (word == "gone") return DeliveryTake::Verdict::kGone;
  if (word == "scheduled") return DeliveryTake::Verdict::kScheduled;
  if (word == "leased") return DeliveryTake::Verdict::kLeased;
  *known = false;
  return DeliveryTake::Verdict::kGone;
}

}  // namespace

redis::Command BeginDeliveriesCommand(const Keys& keys, const std::vector<std::string>& message_ids, int64_t now_us,
                                      int64_t lease_until_us, const std::string& owner) {
  std::vector<std::string> script_keys;
  script_keys.reserve(message_ids.size() + 1);
  script_keys.push_back(keys.DeliveryDue());
  for (const std::string& id : message_ids) script_keys.push_back(keys.Message(id));
  return kBegin.Call(std::move(script_keys), {std::to_string(now_us), std::to_string(lease_until_us), owner});
}

absl::StatusOr<std::vector<DeliveryTake>> TakesFromReply(const std::vector<std::string>& message_ids,
                                                         const redis::Reply& reply) {
  if (reply.elements.size() != message_ids.size()) {
    return absl::InternalError(absl::StrCat("begin deliveries: ", reply.elements.size(), " answers for ",
                                            message_ids.size(), " messages"));
  }
  std::vector<DeliveryTake> takes(message_ids.size());
  for (size_t i = 0; i < message_ids.size(); ++i) {
    const auto& fields = reply.elements[i].elements;
    bool known = false;
    DeliveryTake& take = takes[i];
    take.message_id = message_ids[i];
    take.verdict = fields.empty() ? DeliveryTake::Verdict::kGone : VerdictOf(fields[0].str, &known);
    if (!known || (take.verdict == DeliveryTake::Verdict::kSend && fields.size() != 9)) {
      return absl::InternalError(absl::StrCat("begin deliveries: unexpected answer for message ", message_ids[i]));
    }
    if (take.verdict != DeliveryTake::Verdict::kSend) continue;
    take.channel = fields[1].str;
    take.channel_type = fields[2].str;
    take.content = fields[3].str;
    take.recipient = fields[4].str;
    take.workflow = fields[5].str;
    take.tenant = fields[6].str;
    if (!absl::SimpleAtoi(fields[7].str, &take.attempts)) take.attempts = 0;
    if (!absl::SimpleAtoi(fields[8].str, &take.inserted_at_us)) take.inserted_at_us = 0;
  }
  return takes;
}

redis::Command RecordDeliveriesCommand(const Keys& keys, const std::vector<DeliveryRecord>& records, int64_t now_us,
                                       const std::string& owner) {
  std::vector<std::string> script_keys = {keys.DeliveryDue(), keys.DeadLetters(), keys.Batches()};
  std::vector<std::string> args = {std::to_string(now_us), owner};
  script_keys.reserve(3 + 2 * records.size());
  args.reserve(1 + 9 * records.size());
  for (const DeliveryRecord& record : records) {
    script_keys.push_back(keys.Message(record.message_id));
    script_keys.push_back(keys.MessageEvents(record.message_id));
    args.push_back(OutcomeName(record.outcome));
    args.push_back(record.status);
    args.push_back(record.reason);
    args.push_back(std::to_string(record.due_ms));
    args.push_back(std::to_string(record.attempt));
    args.push_back(record.provider_status);
    args.push_back(record.provider_response);
    args.push_back(record.provider_message_id);
    args.push_back(std::to_string(record.latency_us));
  }
  return kRecord.Call(std::move(script_keys), std::move(args));
}

redis::Command RenewLeasesCommand(const Keys& keys, const std::vector<std::string>& message_ids,
                                  const std::string& owner, int64_t lease_until_us) {
  std::vector<std::string> script_keys;
  script_keys.reserve(message_ids.size());
  for (const std::string& id : message_ids) script_keys.push_back(keys.Message(id));
  return kRenew.Call(std::move(script_keys), {owner, std::to_string(lease_until_us)});
}

redis::Command ClaimDueDeliveriesCommand(const Keys& keys, int64_t now_ms, int limit) {
  return redis::MoveDueCommand(keys.DeliveryDue(), keys.Deliveries(), "m", now_ms, limit);
}

redis::Command ReplayDeadLettersCommand(const Keys& keys, const std::vector<std::string>& message_ids, int64_t now_us) {
  std::vector<std::string> script_keys = {keys.DeadLetters(), keys.Deliveries()};
  std::vector<std::string> args = {std::to_string(now_us)};
  for (const std::string& id : message_ids) {
    script_keys.push_back(keys.Message(id));
    script_keys.push_back(keys.MessageEvents(id));
    args.push_back(id);
  }
  return kReplay.Call(std::move(script_keys), std::move(args));
}

redis::Command PurgeDeadLettersCommand(const Keys& keys, const std::vector<std::string>& message_ids) {
  redis::Command command = {"ZREM", keys.DeadLetters()};
  command.insert(command.end(), message_ids.begin(), message_ids.end());
  return command;
}

}  // namespace herald::messages
