// What a run carries from one of its channel steps to the next: the ids of
// the messages its earlier steps made (Activity.step_messages), how the
// fan-out learns where those messages stand (`refs.<step>.status` and
// `.engagement_status` in conditions), and the envelope that starts a
// step's fallback later. Pure code, no I/O.
#pragma once

#include <string>
#include <vector>

#include "google/protobuf/map.h"
#include "herald/v1/pipeline.pb.h"
#include "messages/message_store.h"
#include "nlohmann/json.hpp"
#include "workflow/registry.h"

namespace herald::fanout {

// Where the messages of a run's earlier steps stand, read before planning:
// by the worker from Redis in one round trip per read, by tests from a map.
class MessageStates {
 public:
  virtual ~MessageStates() = default;
  // nullptr when unknown (never written, expired, or not read).
  virtual const messages::MessageState* Find(const std::string& message_id) const = 0;
};

// The activity templates and conditions see as the batch's newest, by the
// order PlanBatch sorts activities in; nullptr when there are none.
const v1::internal::Activity* NewestActivity(const v1::internal::BatchEnvelope& batch);

// The ids of the earlier messages whose states planning `batch` may read:
// those its newest activity carries, and only when its workflow's
// conditions read `refs`. Empty otherwise.
std::vector<std::string> RefMessageIds(const workflow::Registry& workflows,
                                       const v1::internal::BatchEnvelope& batch);

using StepMessages = google::protobuf::Map<std::string, std::string>;

// `refs` as conditions and templates see it: step ref -> {id, status,
// engagement_status}; status fields only for messages whose state is known.
nlohmann::json RefsJson(const StepMessages& step_messages, const MessageStates* states);

// Adds the message a step just planned (status as written now) to `refs`.
void AddRef(const std::string& step_ref, const std::string& message_id, const std::string& status,
            nlohmann::json* refs);

// The envelope that plans exactly `fallback_step` for `target` later (the
// delivery dispatcher XADDs it when the primary message ends undelivered):
// same workflow, tenant, batch id and activities; the newest activity
// carries `step_messages` (the primary message included), serialized.
std::string FallbackEnvelope(const v1::internal::BatchEnvelope& batch,
                             const v1::internal::BatchEnvelope::Target& target, int fallback_step,
                             const StepMessages& step_messages);

}  // namespace herald::fanout
