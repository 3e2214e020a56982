#include "fanout/run_refs.h"

#include <algorithm>

namespace herald::fanout {

using nlohmann::json;

namespace {

// Arrival order in the batch first: clocks of different api replicas may
// disagree by a few milliseconds. Matches PlanBatch's sort.
bool Earlier(const v1::internal::Activity& a, const v1::internal::Activity& b) {
  if (a.sequence() != b.sequence()) return a.sequence() < b.sequence();
  if (a.accepted_at_us() != b.accepted_at_us()) return a.accepted_at_us() < b.accepted_at_us();
  return a.run_id() < b.run_id();
}

// Index of the newest activity (the last of equals, as a stable sort
// leaves them), or -1 when there are none.
int NewestIndex(const google::protobuf::RepeatedPtrField<v1::internal::Activity>& activities) {
  int newest = -1;
  for (int i = 0; i < activities.size(); ++i) {
    if (newest < 0 || !Earlier(activities[i], activities[newest])) newest = i;
  }
  return newest;
}

}  // namespace

const v1::internal::Activity* NewestActivity(const v1::internal::BatchEnvelope& batch) {
  int newest = NewestIndex(batch.activities());
  return newest < 0 ? nullptr : &batch.activities(newest);
}

std::vector<std::string> RefMessageIds(const workflow::Registry& workflows,
                                       const v1::internal::BatchEnvelope& batch) {
  std::vector<std::string> ids;
  const workflow::Workflow* workflow = workflows.Find(batch.workflow());
  if (workflow == nullptr || !workflow->reads_refs) return ids;
  const v1::internal::Activity* newest = NewestActivity(batch);
  if (newest == nullptr) return ids;
  for (const auto& [ref, id] : newest->step_messages()) ids.push_back(id);
  std::sort(ids.begin(), ids.end());  // map order is unspecified; keep reads stable
  return ids;
}

json RefsJson(const StepMessages& step_messages, const MessageStates* states) {
  json refs = json::object();
  for (const auto& [ref, id] : step_messages) {
    json entry = {{"id", id}};
    if (const messages::MessageState* state = states != nullptr ? states->Find(id) : nullptr) {
      entry["status"] = state->status;
      entry["engagement_status"] = state->engagement_status;
    }
    refs[ref] = std::move(entry);
  }
  return refs;
}

void AddRef(const std::string& step_ref, const std::string& message_id, const std::string& status, json* refs) {
  (*refs)[step_ref] = json{{"id", message_id}, {"status", status}, {"engagement_status", status}};
}

std::string FallbackEnvelope(const v1::internal::BatchEnvelope& batch,
                             const v1::internal::BatchEnvelope::Target& target, int fallback_step,
                             const StepMessages& step_messages) {
  v1::internal::BatchEnvelope envelope;
  envelope.set_workflow(batch.workflow());
  envelope.set_tenant(batch.tenant());
  envelope.set_cancellation_key(batch.cancellation_key());
  envelope.set_resume_step(fallback_step);
  envelope.set_only_step(true);
  *envelope.add_targets() = target;
  *envelope.mutable_activities() = batch.activities();
  int newest = NewestIndex(envelope.activities());
  if (newest >= 0) *envelope.mutable_activities(newest)->mutable_step_messages() = step_messages;
  return envelope.SerializeAsString();
}

}  // namespace herald::fanout
