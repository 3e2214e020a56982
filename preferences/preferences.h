// Preference sets and their evaluation: who may receive which workflow on
// which channel type. Pure logic, no I/O: the fan-out and the explain API
// load the sets and call Evaluate().
//
// A set (JSON, the hosted product's shape):
//   {"channel_types": {"email": false},
//    "workflows":  {"new-comment": false,
//                   "mention": {"channel_types": {"sms": false}},
//                   "digest": {"conditions": [{"variable": "recipient.plan",
//                                              "operator": "equal_to", "argument": "pro"}]}},
//    "categories": {"marketing": false}}
//
// Levels, least to most specific: environment default, tenant default,
// user, user-per-tenant. Precedence is per setting: a more specific level
// that says something about a setting (a channel type, a workflow's on/off
// or one of its channel types, a category's ...) overrides what less
// specific levels said about that same setting; settings it is silent on
// are inherited; an entry written as a bool speaks for the whole entry
// (its channel types and conditions below it are overridden). Then a message is sent only when every applicable setting
// allows it: the channel type, the workflow entry, and the entry of each of
// the workflow's categories (any opt-out wins). Unset means allowed.
// Critical workflows bypass all of it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "templates/context.h"
#include "workflow/condition.h"

namespace herald::preferences {

enum class Level { kEnvironment, kTenant, kUser, kUserTenant };
const char* LevelName(Level level);

// A workflow's or category's entry: a bool, or channel types and
// conditions (all must hold for the entry to allow).
struct Entry {
  std::optional<bool> enabled;
  std::map<std::string, bool> channel_types;
  workflow::ConditionGroup conditions;
  std::string conditions_json;  // as written, for explanations
};

struct PreferenceSet {
  std::map<std::string, bool> channel_types;
  std::map<std::string, Entry> workflows;
  std::map<std::string, Entry> categories;

  bool empty() const { return channel_types.empty() && workflows.empty() && categories.empty(); }
};

// INVALID_ARGUMENT naming the field (prefixed with `field`, e.g.
// "preferences.workflows.mention.channel_types.sms: must be a boolean").
absl::StatusOr<PreferenceSet> ParsePreferenceSet(const nlohmann::json& value, const std::string& field);
nlohmann::json PreferenceSetToJson(const PreferenceSet& set);

// INVALID_ARGUMENT naming the field (`field`.channel_types.<type>, or inside
// a workflow or category entry) when a set names a channel type Herald does
// not have (see workflow::kChannelTypes). Checked where a set comes in from
// outside; sets already stored are read as they are.
absl::Status CheckChannelTypes(const PreferenceSet& set, const std::string& field);

// The sets that apply to one recipient, by level; absent levels are null.
struct LevelSets {
  const PreferenceSet* environment = nullptr;
  const PreferenceSet* tenant = nullptr;
  const PreferenceSet* user = nullptr;
  const PreferenceSet* user_tenant = nullptr;
};

// What is being decided.
struct Question {
  std::string workflow;
  std::vector<std::string> categories;
  std::string channel_type;
  bool critical = false;
};

// One setting that took part in the decision.
struct Rule {
  Level level = Level::kEnvironment;
  std::string setting;  // e.g. "workflows.mention.channel_types.sms"
  bool allows = true;
  std::string note;     // e.g. "conditions did not hold: ..."
};

struct Decision {
  bool send = true;
  // "critical_workflow", "no_preferences", "allowed" or "preference".
  std::string reason;
  // The setting that suppressed the message ("" when sent): the most
  // specific opt-out, written "<level>:<setting>".
  std::string decided_by;
  // Every setting that applied, in evaluation order (channel type,
  // workflow, categories), each from the level that won it.
  std::vector<Rule> chain;
  // Settings a more specific level overrode, for the explanation.
  std::vector<Rule> overridden;
  // Critical workflows only: the opt-out that would have suppressed it.
  std::string bypassed;
};

// `context` is what entry conditions read (recipient, data, tenant, ...).
// Fast enough to run per message (see bench/kernels BM_PreferenceEvaluate).
Decision Evaluate(const Question& question, const LevelSets& sets, const templates::Context& context);

nlohmann::json DecisionToJson(const Decision& decision);

}  // namespace herald::preferences
