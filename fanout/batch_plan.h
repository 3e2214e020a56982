// The fan-out's decisions for one batch, as plain code with no I/O: a batch
// (its recipients and activities) in, per recipient and per channel step
// what to do out — a feed item to insert, a message to queue for a
// delivery service, a record of a message that is not sent (with its
// status and reason), or the run handed on to a later wait step. What it
// needs to know about users, preferences and tenants comes through small
// interfaces, so the decisions are tested with map-backed fakes
// (fanout/batch_plan_test.cc) and the worker (fanout.h) only does Redis.
#pragma once

#include <string>
#include <vector>

#include "herald/v1/pipeline.pb.h"
#include "messages/message_store.h"
#include "fanout/run_refs.h"
#include "feed/feed_store.h"
#include "nlohmann/json.hpp"
#include "preferences/preferences.h"
#include "runs/throttle.h"
#include "runs/wait_store.h"
#include "workflow/registry.h"

namespace herald::fanout {

// Users' profiles (template JSON: `recipient`, `actor`) and channel data.
class UserDirectory {
 public:
  virtual ~UserDirectory() = default;
  // nullptr for a user that does not exist.
  virtual const nlohmann::json* Find(const std::string& id) const = 0;
  // The user's data for `channel` (push tokens, chat connections), or nullptr.
  virtual const nlohmann::json* FindChannelData(const std::string& id, const std::string& channel) const = 0;
};

// The preference sets that apply to a user (within a tenant).
class PreferenceDirectory {
 public:
  virtual ~PreferenceDirectory() = default;
  virtual preferences::LevelSets Find(const std::string& user, const std::string& tenant,
                                      const preferences::PreferenceSet* environment) const = 0;
};

// Tenants as templates see them (`tenant.name`, `tenant.settings.branding`).
class TenantDirectory {
 public:
  virtual ~TenantDirectory() = default;
  // nullptr when unknown (templates then see {"id": id}).
  virtual const nlohmann::json* Find(const std::string& id) const = 0;
};

struct PlanContext {
  const workflow::Registry& workflows;
  const UserDirectory& users;
  const PreferenceDirectory& preferences;
  const TenantDirectory& tenants;
  // The environment's default preference set (least specific level), or null.
  const preferences::PreferenceSet* default_preferences = nullptr;
  // How long run records outlive a wait (see runs::WaitAppend).
  int64_t run_ttl_seconds = runs::kDefaultRunTtlSeconds;
  // States of the messages RefMessageIds names; null = none known.
  const MessageStates* message_states = nullptr;
  // Feed items of an earlier plan, cleared, to fill instead of new ones
  // (their strings and blocks keep their memory: a feed item per recipient
  // was a dozen allocations); taken from the back. Null = none.
  std::vector<feed::NewItem>* spare_feed_items = nullptr;
};

// Why a message is not sent, for herald_messages_total.
enum class NotSentReason { kUnknownRecipient, kPreference, kMissingChannelData, kTemplateError, kUnknownWorkflow };

struct NotSent {
  messages::NotDelivered record;
  NotSentReason reason = NotSentReason::kUnknownRecipient;
};

// A run at a throttle step: the check (which hands the run on when it
// passes) and the record written when it is throttled.
struct PlannedThrottle {
  runs::ThrottleCheck check;
  messages::NotDelivered record;
};

// Everything one batch needs written. Feed items all belong to the
// partition of the batch (its recipients live there).
struct BatchPlan {
  std::vector<feed::NewItem> feed_items;
  std::vector<messages::QueuedMessage> queued;
  std::vector<NotSent> not_sent;
  std::vector<runs::WaitAppend> waits;
  std::vector<PlannedThrottle> throttles;
  // Channel steps whose conditions did not hold.
  int skipped_by_condition = 0;
  // Messages of critical workflows sent although a preference opted out.
  int critical_bypasses = 0;
};

// Plans `batch` at `now_us`. Its activities are put in arrival order
// (the order templates see them in).
BatchPlan PlanBatch(const PlanContext& context, v1::internal::BatchEnvelope& batch, int64_t now_us);

// The message id of channel step `step` for a batch target: deterministic,
// so a replayed batch finds its messages and writes nothing twice.
std::string MessageId(const std::string& batch_id, int step, const std::string& channel);

}  // namespace herald::fanout
