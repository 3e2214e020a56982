#include "preferences/preferences.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "templates/context.h"
#include "workflow/workflow.h"

namespace herald::preferences {
namespace {

using nlohmann::json;

absl::Status FieldError(const std::string& field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

absl::StatusOr<std::map<std::string, bool>> ParseChannelTypes(const json& value, const std::string& field) {
  if (!value.is_object()) return FieldError(field, "must be an object of channel type -> boolean");
  std::map<std::string, bool> out;
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (it.key().empty() || it.key().size() > 64) return FieldError(field, "channel type names are 1 to 64 bytes");
    if (!it.value().is_boolean()) return FieldError(absl::StrCat(field, ".", it.key()), "must be a boolean");
    out[it.key()] = it.value().get<bool>();
  }
  return out;
}

absl::StatusOr<workflow::ConditionGroup> ParseConditions(const json& value, const std::string& field) {
  if (!value.is_array()) return FieldError(field, "must be a list of {variable, operator, argument}");
  workflow::ConditionGroup group;
  for (size_t i = 0; i < value.size(); ++i) {
    std::string at = absl::StrCat(field, "[", i, "]");
    const json& item = value[i];
    if (!item.is_object()) return FieldError(at, "must be an object");
    for (auto it = item.begin(); it != item.end(); ++it) {
      if (it.key() != "variable" && it.key() != "operator" && it.key() != "argument") {
        return FieldError(absl::StrCat(at, ".", it.key()), "unknown field");
      }
    }
    auto variable = item.find("variable");
    if (variable == item.end() || !variable->is_string()) return FieldError(at + ".variable", "is required (a path)");
    workflow::Condition condition;
    condition.variable = variable->get<std::string>();
    condition.path = templates::ParsePath(condition.variable);
    if (condition.path.empty()) return FieldError(at + ".variable", "is not a path such as recipient.plan");
    auto op = item.find("operator");
    if (op == item.end() || !op->is_string()) return FieldError(at + ".operator", "is required");
    auto parsed = workflow::ParseOperator(op->get<std::string>());
    if (!parsed.ok()) return FieldError(at + ".operator", parsed.status().message());
    condition.op = *parsed;
    auto argument = item.find("argument");
    if (argument != item.end()) condition.argument = *argument;
    group.conditions.push_back(std::move(condition));
  }
  return group;
}

absl::StatusOr<std::map<std::string, Entry>> ParseEntries(const json& value, const std::string& field) {
  if (!value.is_object()) return FieldError(field, "must be an object of key -> boolean or {channel_types, conditions}");
  std::map<std::string, Entry> out;
  for (auto it = value.begin(); it != value.end(); ++it) {
    std::string at = absl::StrCat(field, ".", it.key());
    if (it.key().empty() || it.key().size() > 128) return FieldError(field, "keys are 1 to 128 bytes");
    Entry entry;
    if (it.value().is_boolean()) {
      entry.enabled = it.value().get<bool>();
    } else if (it.value().is_object()) {
      for (auto part = it.value().begin(); part != it.value().end(); ++part) {
        if (part.key() == "channel_types") {
          auto channel_types = ParseChannelTypes(part.value(), at + ".channel_types");
          if (!channel_types.ok()) return channel_types.status();
          entry.channel_types = std::move(*channel_types);
        } else if (part.key() == "conditions") {
          auto conditions = ParseConditions(part.value(), at + ".conditions");
          if (!conditions.ok()) return conditions.status();
          entry.conditions = std::move(*conditions);
          entry.conditions_json = part.value().dump();
        } else {
          return FieldError(absl::StrCat(at, ".", part.key()), "unknown field (channel_types or conditions)");
        }
      }
    } else {
      return FieldError(at, "must be a boolean or an object with channel_types / conditions");
    }
    out[it.key()] = std::move(entry);
  }
  return out;
}

json EntriesToJson(const std::map<std::string, Entry>& entries) {
  json out = json::object();
  for (const auto& [key, entry] : entries) {
    if (entry.enabled.has_value()) {
      out[key] = *entry.enabled;
      continue;
    }
    json object = json::object();
    if (!entry.channel_types.empty()) object["channel_types"] = entry.channel_types;
    if (!entry.conditions_json.empty()) object["conditions"] = json::parse(entry.conditions_json, nullptr, false);
    out[key] = std::move(object);
  }
  return out;
}

// Levels from the most specific down, skipping absent ones.
struct Layer {
  Level level;
  const PreferenceSet* set;
};

std::vector<Layer> MostSpecificFirst(const LevelSets& sets) {
  std::vector<Layer> layers;
  if (sets.user_tenant != nullptr) layers.push_back({Level::kUserTenant, sets.user_tenant});
  if (sets.user != nullptr) layers.push_back({Level::kUser, sets.user});
  if (sets.tenant != nullptr) layers.push_back({Level::kTenant, sets.tenant});
  if (sets.environment != nullptr) layers.push_back({Level::kEnvironment, sets.environment});
  return layers;
}

// Resolves one workflow or category entry across levels into rules.
void ResolveEntry(const std::vector<Layer>& layers, bool workflows, const std::string& key,
                  const std::string& channel_type, const templates::Context& context, Decision* decision) {
  const std::string prefix = absl::StrCat(workflows ? "workflows." : "categories.", key);
  std::optional<Rule> enabled, channel, conditions;
  bool sealed = false;  // a bool entry at a more specific level speaks for the whole entry
  for (const Layer& layer : layers) {
    const auto& entries = workflows ? layer.set->workflows : layer.set->categories;
    auto found = entries.find(key);
    if (found == entries.end()) continue;
    const Entry& entry = found->second;
    auto consider = [&](std::optional<Rule>& slot, Rule rule) {
      if (sealed || slot.has_value()) {
        rule.note = sealed ? "overridden by a more specific level's on/off for the whole entry"
                           : "overridden by a more specific level";
        decision->overridden.push_back(std::move(rule));
      } else {
        slot = std::move(rule);
      }
    };
    if (entry.enabled.has_value()) consider(enabled, Rule{layer.level, prefix, *entry.enabled, ""});
    auto channel_setting = entry.channel_types.find(channel_type);
    if (channel_setting != entry.channel_types.end()) {
      consider(channel, Rule{layer.level, absl::StrCat(prefix, ".channel_types.", channel_type),
                             channel_setting->second, ""});
    }
    if (!entry.conditions.empty()) {
      bool holds = entry.conditions.Evaluate(context);
      consider(conditions, Rule{layer.level, absl::StrCat(prefix, ".conditions"), holds,
                                absl::StrCat(holds ? "conditions hold: " : "conditions do not hold: ",
                                             entry.conditions_json)});
    }
    if (entry.enabled.has_value()) sealed = true;
  }
  for (auto* slot : {&enabled, &channel, &conditions}) {
    if (slot->has_value()) decision->chain.push_back(std::move(**slot));
  }
}

}  // namespace

const char* LevelName(Level level) {
  switch (level) {
    case Level::kEnvironment: return "environment";
    case Level::kTenant: return "tenant";
    case Level::kUser: return "user";
    case Level::kUserTenant: return "user_tenant";
  }
  return "unknown";
}

absl::StatusOr<PreferenceSet> ParsePreferenceSet(const json& value, const std::string& field) {
  if (!value.is_object()) return FieldError(field, "must be an object with channel_types, workflows, categories");
  PreferenceSet set;
  for (auto it = value.begin(); it != value.end(); ++it) {
    std::string at = absl::StrCat(field, ".", it.key());
    if (it.key() == "channel_types") {
      auto parsed = ParseChannelTypes(it.value(), at);
      if (!parsed.ok()) return parsed.status();
      set.channel_types = std::move(*parsed);
    } else if (it.key() == "workflows" || it.key() == "categories") {
      auto parsed = ParseEntries(it.value(), at);
      if (!parsed.ok()) return parsed.status();
      (it.key() == "workflows" ? set.workflows : set.categories) = std::move(*parsed);
    } else {
      return FieldError(at, "unknown field (channel_types, workflows or categories)");
    }
  }
  return set;
}

json PreferenceSetToJson(const PreferenceSet& set) {
  return {{"channel_types", set.channel_types},
          {"workflows", EntriesToJson(set.workflows)},
          {"categories", EntriesToJson(set.categories)}};
}

Decision Evaluate(const Question& question, const LevelSets& sets, const templates::Context& context) {
  Decision decision;
  std::vector<Layer> layers = MostSpecificFirst(sets);
  if (layers.empty()) {  // the common case on the hot path: nothing set anywhere
    decision.reason = question.critical ? "critical_workflow" : "no_preferences";
    return decision;
  }
  // Channel type setting.
  std::optional<Rule> channel;
  const std::string channel_setting = absl::StrCat("channel_types.", question.channel_type);
  for (const Layer& layer : layers) {
    auto found = layer.set->channel_types.find(question.channel_type);
    if (found == layer.set->channel_types.end()) continue;
    Rule rule{layer.level, channel_setting, found->second, ""};
    if (channel.has_value()) {
      rule.note = "overridden by a more specific level";
      decision.overridden.push_back(std::move(rule));
    } else {
      channel = std::move(rule);
    }
  }
  if (channel.has_value()) decision.chain.push_back(std::move(*channel));
  size_t workflow_from = decision.chain.size();
  ResolveEntry(layers, true, question.workflow, question.channel_type, context, &decision);
  size_t categories_from = decision.chain.size();
  for (const std::string& category : question.categories) {
    ResolveEntry(layers, false, category, question.channel_type, context, &decision);
  }
  // The most specific opt-out decides: workflow, then categories, then the
  // channel type; within those, the order of the chain.
  const Rule* decider = nullptr;
  const std::pair<size_t, size_t> ranges[] = {
      {workflow_from, categories_from}, {categories_from, decision.chain.size()}, {0, workflow_from}};
  for (const auto& [begin, end] : ranges) {
    for (size_t r = begin; r < end && decider == nullptr; ++r) {
      if (!decision.chain[r].allows) decider = &decision.chain[r];
    }
  }
  std::string decided_by = decider != nullptr ? absl::StrCat(LevelName(decider->level), ":", decider->setting) : "";
  if (question.critical) {
    decision.send = true;
    decision.reason = "critical_workflow";
    decision.bypassed = std::move(decided_by);
    return decision;
  }
  decision.send = decider == nullptr;
  decision.decided_by = std::move(decided_by);
  decision.reason = !decision.send ? "preference" : decision.chain.empty() ? "no_preferences" : "allowed";
  return decision;
}

json DecisionToJson(const Decision& decision) {
  auto rules = [](const std::vector<Rule>& list) {
    json out = json::array();
    for (const Rule& rule : list) {
      json item = {{"level", LevelName(rule.level)}, {"setting", rule.setting}, {"allows", rule.allows}};
      if (!rule.note.empty()) item["note"] = rule.note;
      out.push_back(std::move(item));
    }
    return out;
  };
  json out = {{"send", decision.send}, {"reason", decision.reason}, {"chain", rules(decision.chain)}};
  if (!decision.decided_by.empty()) out["decided_by"] = decision.decided_by;
  if (!decision.overridden.empty()) out["overridden"] = rules(decision.overridden);
  if (!decision.bypassed.empty()) out["bypassed"] = decision.bypassed;
  return out;
}

absl::Status CheckChannelTypes(const PreferenceSet& set, const std::string& field) {
  auto check = [](const std::map<std::string, bool>& channel_types, const std::string& at) -> absl::Status {
    for (const auto& [type, allowed] : channel_types) {
      if (!workflow::IsChannelType(type)) {
        return absl::InvalidArgumentError(absl::StrCat(at, ".channel_types.", type, ": unknown channel type (",
                                                       workflow::ChannelTypeList(), ")"));
      }
    }
    return absl::OkStatus();
  };
  absl::Status status = check(set.channel_types, field);
  for (const auto& [name, entry] : set.workflows) {
    if (status.ok()) status = check(entry.channel_types, absl::StrCat(field, ".workflows.", name));
  }
  for (const auto& [name, entry] : set.categories) {
    if (status.ok()) status = check(entry.channel_types, absl::StrCat(field, ".categories.", name));
  }
  return status;
}

}  // namespace herald::preferences
