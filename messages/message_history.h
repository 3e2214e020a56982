// What happened to one message: its events (GetMessageEvents) and the
// provider receipts posted back (UpdateMessageStatus). Non-in-app messages
// keep a LIST of JSON events (messages/message_events.lua); in-app items
// keep none (the hot path stays lean): their events are read from the
// hash's timestamps (inserted = delivered, seen, read, interacted,
// link_clicked, archived).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/keys.h"
#include "herald/v1/herald.pb.h"
#include "redis/client.h"

namespace herald::messages {

// The message hash and its events list (two commands, one round trip).
// INVALID_ARGUMENT naming user_id or message_id.
absl::StatusOr<std::vector<redis::Command>> EventsCommands(const Keys& keys, const v1::GetMessageEventsRequest& request);
// NOT_FOUND naming message_id when the message is missing or another
// user's; INTERNAL when an event is not JSON. Oldest first.
absl::StatusOr<v1::GetMessageEventsResponse> EventsFromReplies(const v1::GetMessageEventsRequest& request,
                                                               const redis::Reply& message,
                                                               const redis::Reply& events);

// One JSON event of the events list -> MessageEvent (numbers may be JSON
// numbers or strings). INTERNAL when it is not a JSON object.
absl::StatusOr<v1::MessageEvent> EventFromJson(const std::string& json);

// Validates the receipt (INVALID_ARGUMENT naming user_id, message_id,
// status or reason) and returns its script call. The script answers
// NOT_FOUND (message_id) and FAILED_PRECONDITION (an in-app message, or a
// status the message cannot take) without changing anything; its reply is
// the message hash (MessageFromReply).
absl::StatusOr<redis::Command> ReceiptCommand(const Keys& keys, const v1::UpdateMessageStatusRequest& request,
                                              int64_t now_us);

}  // namespace herald::messages
