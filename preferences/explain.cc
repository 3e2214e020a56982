#include "preferences/explain.h"

#include "core/ids.h"
#include "core/keys.h"
#include "preferences/preference_store.h"
#include "users/user_store.h"

namespace herald::preferences {
namespace {

void CopyRules(const std::vector<Rule>& rules, google::protobuf::RepeatedPtrField<v1::PreferenceRule>* out) {
  for (const Rule& rule : rules) {
    v1::PreferenceRule* added = out->Add();
    added->set_level(LevelName(rule.level));
    added->set_setting(rule.setting);
    added->set_allows(rule.allows);
    added->set_note(rule.note);
  }
}

}  // namespace

std::vector<redis::Command> ExplainReads(const ExplainInput& input, int partitions) {
  Keys user(PartitionOf(input.user_id, partitions));
  std::vector<redis::Command> reads = {{"HGETALL", user.User(input.user_id)},
                                       {"HGETALL", user.Preferences(input.user_id)}};
  if (!input.tenant.empty()) {
    reads.push_back({"GET", Keys(PartitionOf(input.tenant, partitions)).TenantPreferences(input.tenant)});
  }
  return reads;
}

v1::ExplainPreferencesResponse Explain(const ExplainInput& input, const PreferenceSet* environment,
                                       const std::vector<redis::Reply>& replies) {
  auto user = users::UserFromReply(input.user_id, replies[0]);
  nlohmann::json recipient = user.ok() ? users::UserJson(*user) : nlohmann::json{{"id", input.user_id}};
  nlohmann::json tenant = input.tenant.empty() ? nlohmann::json(nullptr) : nlohmann::json{{"id", input.tenant}};
  std::shared_ptr<const PreferenceSet> user_set;
  absl::flat_hash_map<std::string, std::shared_ptr<const PreferenceSet>> by_tenant;
  ParseUserSets(replies[1], &user_set, &by_tenant);
  std::shared_ptr<const PreferenceSet> tenant_set;
  if (replies.size() > 2 && replies[2].type == redis::Reply::Type::kString) tenant_set = ParseStoredSet(replies[2].str);

  LevelSets sets;
  sets.environment = environment;
  sets.tenant = tenant_set.get();
  sets.user = user_set.get();
  auto found = by_tenant.find(input.tenant);
  if (!input.tenant.empty() && found != by_tenant.end()) sets.user_tenant = found->second.get();
  templates::Context context;
  context.Set("recipient", &recipient);
  context.Set("data", &input.data);
  context.Set("tenant", &tenant);
  Decision decision = Evaluate(input.question, sets, context);

  v1::ExplainPreferencesResponse response;
  response.set_send(decision.send);
  response.set_reason(decision.reason);
  response.set_decided_by(decision.decided_by);
  response.set_bypassed(decision.bypassed);
  CopyRules(decision.chain, response.mutable_chain());
  CopyRules(decision.overridden, response.mutable_overridden());
  return response;
}

}  // namespace herald::preferences
