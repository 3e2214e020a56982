#include "workflow/parser.h"

#include "core/feed_names.h"
#include "core/http_headers.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "core/status_macros.h"

namespace herald::workflow {
namespace {

constexpr int kMaxRenderLimit = 1000;

// Where in the file we are, for error messages.
class Location {
 public:
  explicit Location(std::string source) : source_(std::move(source)) {}
  // `parent`: where the list is, for steps of a branch ("steps[1] (ref
  // 'b').branches[0]"); empty for the top level.
  Location Step(size_t index, const std::string& ref, absl::string_view parent = "") const {
    Location inner = *this;
    inner.step_ = ref.empty() ? absl::StrCat("steps[", index, "]") : absl::StrCat("steps[", index, "] (ref '", ref, "')");
    if (!parent.empty()) inner.step_ = absl::StrCat(parent, ".", inner.step_);
    return inner;
  }
  const std::string& step() const { return step_; }
  // As Error, also naming the line of `node` (the field's value, or the map
  // that lacks it): "<source>: line 12: steps[1]: field 'limit': ...".
  absl::Status ErrorAt(const YAML::Node& node, absl::string_view field, absl::string_view message) const {
    return AtLine(node).Error(field, message);
  }
  // This location, naming the line of `node` in every error.
  Location AtLine(const YAML::Node& node) const {
    Location at = *this;
    if (node.IsDefined() && node.Mark().line >= 0) absl::StrAppend(&at.source_, ": line ", node.Mark().line + 1);
    return at;
  }
  absl::Status Error(absl::string_view field, absl::string_view message) const {
    std::string where = source_;
    if (!step_.empty()) absl::StrAppend(&where, ": ", step_);
    if (!field.empty()) absl::StrAppend(&where, ": field '", field, "'");
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", message));
  }

 private:
  std::string source_;
  std::string step_;
};

absl::StatusOr<std::string> OptionalString(const YAML::Node& node, const char* field, const Location& at,
                                           std::string fallback = "") {
  YAML::Node value = node[field];
  if (!value) return fallback;
  if (!value.IsScalar()) return at.Error(field, "must be a string");
  return value.Scalar();
}

absl::StatusOr<std::string> RequiredString(const YAML::Node& node, const char* field, const Location& at) {
  HERALD_ASSIGN_OR_RETURN(std::string value, OptionalString(node, field, at));
  if (value.empty()) return at.Error(field, "is required");
  return value;
}

absl::StatusOr<int> OptionalInt(const YAML::Node& node, const char* field, const Location& at, int fallback, int min,
                                int max) {
  YAML::Node value = node[field];
  if (!value) return fallback;
  int number;
  if (!value.IsScalar() || !YAML::convert<int>::decode(value, number)) return at.Error(field, "must be an integer");
  if (number < min || number > max) return at.Error(field, absl::StrCat("must be between ", min, " and ", max));
  return number;
}

absl::StatusOr<bool> OptionalBool(const YAML::Node& node, const char* field, const Location& at, bool fallback) {
  YAML::Node value = node[field];
  if (!value) return fallback;
  bool flag;
  if (!value.IsScalar() || !YAML::convert<bool>::decode(value, flag)) return at.Error(field, "must be true or false");
  return flag;
}

// "3d", "365d": whole days, which absl's duration syntax lacks (delays and
// throttle windows are counted in days). False when `text` is not that.
bool ParseDays(const std::string& text, absl::Duration* duration) {
  if (text.size() < 2 || text.size() > 6 || text.back() != 'd') return false;
  int64_t days = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
    days = days * 10 + (text[i] - '0');
  }
  *duration = absl::Hours(24 * days);
  return true;
}

// Accepts "30s", "5m", "1h30m", "250ms" (absl duration syntax), "3d", or a number of seconds.
absl::StatusOr<absl::Duration> RequiredDuration(const YAML::Node& node, const char* field, const Location& at,
                                                absl::Duration fallback = absl::ZeroDuration(), bool required = true,
                                                absl::Duration max = absl::Hours(24 * 90)) {
  YAML::Node value = node[field];
  if (!value) {
    if (required) return at.Error(field, "is required (e.g. \"30s\", \"5m\")");
    return fallback;
  }
  if (!value.IsScalar()) return at.Error(field, "must be a duration such as \"30s\"");
  absl::Duration duration;
  double seconds;
  if (YAML::convert<double>::decode(value, seconds)) {
    duration = absl::Seconds(seconds);
  } else if (!ParseDays(value.Scalar(), &duration) && !absl::ParseDuration(value.Scalar(), &duration)) {
    return at.Error(field, absl::StrCat("'", value.Scalar(), "' is not a duration such as \"30s\""));
  }
  if (duration <= absl::ZeroDuration()) return at.Error(field, "must be positive");
  if (duration > max) return at.Error(field, absl::StrCat("must be at most ", absl::ToInt64Hours(max) / 24, " days"));
  return duration;
}

absl::StatusOr<templates::Template> CompileField(const std::string& source, absl::string_view field,
                                                 const Location& at) {
  auto compiled = templates::Template::Compile(source);
  if (!compiled.ok()) return at.Error(field, compiled.status().message());
  return std::move(*compiled);
}

nlohmann::json YamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence: {
      nlohmann::json array = nlohmann::json::array();
      for (const auto& element : node) array.push_back(YamlToJson(element));
      return array;
    }
    case YAML::NodeType::Map: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& entry : node) object[entry.first.Scalar()] = YamlToJson(entry.second);
      return object;
    }
    case YAML::NodeType::Scalar: {
      if (node.Tag() == "!") return node.Scalar();  // quoted: keep as a string
      int64_t integer;
      double number;
      bool flag;
      if (YAML::convert<int64_t>::decode(node, integer)) return integer;
      if (YAML::convert<double>::decode(node, number)) return number;
      if (YAML::convert<bool>::decode(node, flag)) return flag;
      return node.Scalar();
    }
    default:
      return nullptr;
  }
}

// `refs.<ref>.status|engagement_status`: <ref> must be an earlier channel
// step; an ordered comparison needs a status word as its argument.
absl::Status CheckRefsCondition(const std::string& field, const std::vector<Step>& earlier, const Location& at,
                                Condition* condition) {
  const templates::Path& path = condition->path;
  absl::string_view refs_field = RefsField(path);
  if (refs_field.empty()) {
    return at.Error(field + ".variable",
                    absl::StrCat("must be refs.<step ref>.status or refs.<step ref>.engagement_status; got '",
                                 condition->variable, "'"));
  }
  auto step = std::find_if(earlier.begin(), earlier.end(), [&](const Step& s) { return s.ref == path[1]; });
  if (step == earlier.end()) return at.Error(field + ".variable", absl::StrCat("no earlier step '", path[1], "'"));
  if (step->type != StepType::kChannel) {
    return at.Error(field + ".variable", absl::StrCat("step '", path[1], "' is not a channel step"));
  }
  const Operator op = condition->op;
  condition->status_order = op == Operator::kGreaterThan || op == Operator::kGreaterThanOrEqualTo ||
                            op == Operator::kLessThan || op == Operator::kLessThanOrEqualTo;
  if (condition->status_order &&
      (!condition->argument.is_string() || MessageStatusRank(condition->argument.get<std::string>()) < 0)) {
    std::vector<std::string> words(std::begin(kMessageStatusOrder), std::end(kMessageStatusOrder));
    return at.Error(field + ".argument",
                    absl::StrCat("must be a message status for an ordered comparison (", absl::StrJoin(words, " < "),
                                 ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ConditionGroup> ParseConditions(const YAML::Node& node, const Location& at,
                                               const std::vector<Step>& earlier) {
  ConditionGroup group;
  if (!node) return group;
  YAML::Node list = node;
  if (node.IsMap()) {
    if (node["any"] && node["all"]) return at.Error("conditions", "use either 'all' or 'any', not both");
    group.any = static_cast<bool>(node["any"]);
    list = group.any ? node["any"] : node["all"];
    if (!list) return at.Error("conditions", "must be a list, or a map with 'all' or 'any'");
  }
  if (!list.IsSequence()) return at.Error("conditions", "must be a list of {variable, operator, argument}");
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node& item = list[i];
    std::string field = absl::StrCat("conditions[", i, "]");
    if (!item.IsMap()) return at.Error(field, "must be a map");
    Condition condition;
    if (!item["variable"] || !item["variable"].IsScalar()) return at.Error(field + ".variable", "is required");
    condition.variable = item["variable"].Scalar();
    condition.path = templates::ParsePath(condition.variable);
    if (condition.path.empty()) return at.Error(field + ".variable", absl::StrCat("bad path '", condition.variable, "'"));
    static const std::set<std::string> kRoots = {"data", "recipient", "actor", "tenant", "total_activities",
                                                 "total_actors", "activities", "actors", "workflow", "refs"};
    if (!kRoots.count(condition.path[0])) {
      return at.Error(field + ".variable",
                      absl::StrCat("must start with one of data, recipient, actor, tenant, total_activities, "
                                   "total_actors, activities, actors, workflow, refs; got '",
                                   condition.variable, "'"));
    }
    if (!item["operator"] || !item["operator"].IsScalar()) return at.Error(field + ".operator", "is required");
    auto op = ParseOperator(item["operator"].Scalar());
    if (!op.ok()) return at.Error(field + ".operator", op.status().message());
    condition.op = *op;
    if (item["argument"]) condition.argument = YamlToJson(item["argument"]);
    bool needs_argument = condition.op != Operator::kExists && condition.op != Operator::kNotExists &&
                          condition.op != Operator::kEmpty && condition.op != Operator::kNotEmpty;
    if (needs_argument && !item["argument"]) return at.Error(field + ".argument", "is required for this operator");
    if (condition.path[0] == "refs") HERALD_RETURN_IF_ERROR(CheckRefsCondition(field, earlier, at, &condition));
    group.conditions.push_back(std::move(condition));
  }
  return group;
}

absl::Status ParseBatch(const YAML::Node& node, const Location& at, BatchStep* batch) {
  HERALD_ASSIGN_OR_RETURN(batch->window, RequiredDuration(node, "window", at));
  HERALD_ASSIGN_OR_RETURN(std::string mode, OptionalString(node, "window_mode", at, "fixed"));
  if (mode == "fixed") {
    batch->mode = WindowMode::kFixed;
  } else if (mode == "sliding") {
    batch->mode = WindowMode::kSliding;
  } else {
    return at.Error("window_mode", absl::StrCat("must be 'fixed' or 'sliding', got '", mode, "'"));
  }
  HERALD_ASSIGN_OR_RETURN(batch->max_window,
                          RequiredDuration(node, "max_window", at, batch->window * 10, /*required=*/false));
  if (batch->mode == WindowMode::kSliding && batch->max_window < batch->window) {
    return at.Error("max_window", "must be at least 'window'");
  }
  if (batch->mode == WindowMode::kFixed) batch->max_window = batch->window;
  HERALD_ASSIGN_OR_RETURN(std::string key, OptionalString(node, "batch_key", at));
  HERALD_ASSIGN_OR_RETURN(batch->key, CompileField(key, "batch_key", at));
  HERALD_ASSIGN_OR_RETURN(batch->max_activities, OptionalInt(node, "max_activities", at, 0, 0, 100000));
  HERALD_ASSIGN_OR_RETURN(batch->render_limit, OptionalInt(node, "render_limit", at, 10, 1, kMaxRenderLimit));
  HERALD_ASSIGN_OR_RETURN(std::string order, OptionalString(node, "order", at, "oldest_first"));
  if (order != "oldest_first" && order != "newest_first") {
    return at.Error("order", absl::StrCat("must be 'oldest_first' or 'newest_first', got '", order, "'"));
  }
  batch->newest_first = order == "newest_first";
  HERALD_ASSIGN_OR_RETURN(batch->flush_leading_item, OptionalBool(node, "flush_leading_item", at, false));
  return absl::OkStatus();
}

// RFC 9110 token characters.
// One template field of an email/sms/push/chat/webhook step.
struct ContentField {
  const char* name;
  const char* block_type;  // how the fan-out renders it (see BlockTemplate)
  bool required;
};

// Email, SMS, push and chat templates: each field compiles into a block
// named after it. Email takes `html` or `markdown` (rendered to HTML) for
// the body; push `data` is a map of string templates ("data.<key>" blocks).
absl::Status ParseContentTemplate(const YAML::Node& tmpl, const Location& at, ChannelStep* channel) {
  static const std::map<std::string, std::vector<ContentField>> kFields = {
      {"email", {{"subject", "text", true}, {"html", "html", false}, {"markdown", "markdown", false},
                 {"text", "text", false}, {"from", "text", false}, {"reply_to", "text", false}}},
      {"sms", {{"text", "text", true}}},
      {"push", {{"title", "text", true}, {"body", "text", true}}},
      {"chat", {{"text", "text", true}, {"blocks", "json", false}}},
      {"webhook", {{"url", "text", false}, {"body", "json", false}}},
  };
  const std::vector<ContentField>& fields = kFields.at(channel->channel_type);
  // A map of string templates, each a block named "<map>.<key>".
  const char* map_field = channel->channel_type == "push"      ? "data"
                          : channel->channel_type == "webhook" ? "headers"
                                                               : nullptr;
  for (const auto& entry : tmpl) {
    const std::string key = entry.first.Scalar();
    bool known = (map_field != nullptr && key == map_field) ||
                 std::any_of(fields.begin(), fields.end(), [&](const ContentField& f) { return key == f.name; });
    if (!known) return at.Error(absl::StrCat("template.", key), absl::StrCat("unknown field for ", channel->channel_type));
  }
  for (const ContentField& field : fields) {
    std::string path = absl::StrCat("template.", field.name);
    YAML::Node value = tmpl[field.name];
    if (!value) {
      if (field.required) return at.Error(path, "is required");
      continue;
    }
    if (!value.IsScalar() || value.Scalar().empty()) return at.Error(path, "must be a non-empty string");
    HERALD_ASSIGN_OR_RETURN(auto compiled, CompileField(value.Scalar(), path, at));
    // The email body is one block named "html" whether written as HTML or
    // as markdown.
    std::string name = std::string(field.name) == "markdown" ? "html" : field.name;
    channel->blocks.push_back(BlockTemplate{name, field.block_type, std::move(compiled), {}});
  }
  if (channel->channel_type == "email") {
    if (tmpl["html"] && tmpl["markdown"]) return at.Error("template.html", "give 'html' or 'markdown', not both");
    if (!tmpl["html"] && !tmpl["markdown"]) return at.Error("template.html", "is required (or 'markdown')");
  }
  if (map_field != nullptr && tmpl[map_field]) {
    YAML::Node map = tmpl[map_field];
    const std::string prefix = absl::StrCat("template.", map_field);
    if (!map.IsMap()) return at.Error(prefix, "must be a map of string templates");
    for (const auto& entry : map) {
      const std::string& key = entry.first.Scalar();
      std::string path = absl::StrCat(prefix, ".", key);
      if (!entry.second.IsScalar()) return at.Error(path, "must be a string");
      if (std::string(map_field) == "headers" && !IsHeaderName(key)) {
        return at.Error(path, "is not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)");
      }
      if (std::string(map_field) == "headers" && IsReservedWebhookHeader(key)) {
        return at.Error(path, "is set by Herald (framing, Idempotency-Key and X-Herald-* headers)");
      }
      HERALD_ASSIGN_OR_RETURN(auto compiled, CompileField(entry.second.Scalar(), path, at));
      channel->blocks.push_back(
          BlockTemplate{absl::StrCat(map_field, ".", key), "text", std::move(compiled), {}});
    }
  }
  return absl::OkStatus();
}

absl::Status ParseChannel(const YAML::Node& node, const Location& at, ChannelStep* channel) {
  HERALD_ASSIGN_OR_RETURN(channel->channel_type, RequiredString(node, "channel_type", at));
  if (!IsChannelType(channel->channel_type)) {
    return at.Error("channel_type",
                    absl::StrCat("unknown channel type '", channel->channel_type, "' (", ChannelTypeList(), ")"));
  }
  HERALD_ASSIGN_OR_RETURN(channel->channel, OptionalString(node, "channel", at, channel->channel_type));
  HERALD_ASSIGN_OR_RETURN(channel->fallback, OptionalString(node, "fallback", at));
  if (node["feed"]) {
    // Line numbers for this field: a feed name is easy to mistype and the
    // step has no other landmark in a long file.
    const int line = node["feed"].Mark().line + 1;
    if (channel->channel_type != "in_app_feed") {
      return at.Error("feed", absl::StrCat("line ", line, ": only an in_app_feed step names a feed"));
    }
    HERALD_ASSIGN_OR_RETURN(channel->feed, OptionalString(node, "feed", at));
    absl::Status name = ValidateFeedName(channel->feed, "feed");
    if (!name.ok()) {
      return at.Error("feed", absl::StrCat("line ", line, ": ", absl::StripPrefix(name.message(), "feed: ")));
    }
  } else if (channel->channel_type == "in_app_feed") {
    channel->feed = std::string(kMainFeed);
  }
  YAML::Node tmpl = node["template"];
  // Every webhook field has a default (URL: the channel's; body: built by Herald).
  if (channel->channel_type == "webhook" && !tmpl) return absl::OkStatus();
  if (channel->channel_type != "in_app_feed") {
    if (!tmpl || !tmpl.IsMap()) return at.Error("template", "is required: a map of the channel's fields");
    return ParseContentTemplate(tmpl, at, channel);
  }
  if (!tmpl || !tmpl.IsMap()) return at.Error("template", "is required: a map with 'markdown' (and optional 'action_url')");
  static const std::set<std::string> kKnown = {"markdown", "action_url", "buttons"};
  for (const auto& entry : tmpl) {
    if (!kKnown.count(entry.first.Scalar())) {
      return at.Error(absl::StrCat("template.", entry.first.Scalar()), "unknown field for in_app_feed");
    }
  }
  if (!tmpl["markdown"] || !tmpl["markdown"].IsScalar() || tmpl["markdown"].Scalar().empty()) {
    return at.Error("template.markdown", "is required");
  }
  const std::string& markdown = tmpl["markdown"].Scalar();
  HERALD_ASSIGN_OR_RETURN(auto body, CompileField(markdown, "template.markdown", at));
  channel->blocks.push_back(BlockTemplate{"body", "markdown", std::move(body), {}});
  if (tmpl["action_url"] && !tmpl["action_url"].IsScalar()) return at.Error("template.action_url", "must be a string");
  std::string action_url = tmpl["action_url"] ? tmpl["action_url"].Scalar() : "";
  if (!action_url.empty()) {
    HERALD_ASSIGN_OR_RETURN(auto url, CompileField(action_url, "template.action_url", at));
    channel->blocks.push_back(BlockTemplate{"action_url", "text", std::move(url), {}});
  }
  if (YAML::Node buttons = tmpl["buttons"]) {
    if (!buttons.IsSequence() || buttons.size() == 0 || buttons.size() > 5) {
      return at.Error("template.buttons", "must be a list of 1 to 5 buttons with 'label' and 'action'");
    }
    BlockTemplate set{"actions", "button_set", {}, {}};
    for (size_t i = 0; i < buttons.size(); ++i) {
      const YAML::Node& button = buttons[i];
      std::string field = absl::StrCat("template.buttons[", i, "]");
      if (!button.IsMap()) return at.Error(field, "must be a map with 'label' and 'action'");
      for (const auto& entry : button) {
        std::string key = entry.first.Scalar();
        if (key != "name" && key != "label" && key != "action") return at.Error(absl::StrCat(field, ".", key), "unknown field");
      }
      for (const char* required : {"label", "action"}) {
        if (!button[required] || !button[required].IsScalar() || button[required].Scalar().empty()) {
          return at.Error(absl::StrCat(field, ".", required), "is required");
        }
      }
      ButtonTemplate out;
      out.name = button["name"] && button["name"].IsScalar() ? button["name"].Scalar() : absl::StrCat("button_", i);
      HERALD_ASSIGN_OR_RETURN(out.label, CompileField(button["label"].Scalar(), absl::StrCat(field, ".label"), at));
      HERALD_ASSIGN_OR_RETURN(out.action, CompileField(button["action"].Scalar(), absl::StrCat(field, ".action"), at));
      set.buttons.push_back(std::move(out));
    }
    channel->blocks.push_back(std::move(set));
  }
  return absl::OkStatus();
}

// Unknown fields of a step are errors naming them (a typo never silently
// drops a setting). The type itself is checked by the caller.
absl::Status CheckStepFields(const YAML::Node& node, const std::string& type, const Location& at) {
  static const std::map<std::string, std::set<std::string>> kFields = {
      {"batch",
       {"window", "window_mode", "max_window", "batch_key", "max_activities", "render_limit", "order",
        "flush_leading_item"}},
      {"delay", {"duration", "duration_path", "delay_until", "before", "after"}},
      {"channel", {"channel_type", "channel", "template", "fallback", "feed"}},
      {"throttle", {"limit", "window", "throttle_key"}},
      {"branch", {"branches"}},
  };
  auto fields = kFields.find(type);
  if (fields == kFields.end()) return absl::OkStatus();
  for (const auto& entry : node) {
    const std::string& key = entry.first.Scalar();
    if (key == "ref" || key == "type" || key == "conditions" || key == "name" || key == "description") continue;
    if (!fields->second.count(key)) {
      // Fields of the newer step types name their line too.
      if (type == "throttle" || type == "branch" || type == "delay") {
        return at.ErrorAt(entry.first, key, absl::StrCat("unknown field for a ", type, " step"));
      }
      return at.Error(key, absl::StrCat("unknown field for a ", type, " step"));
    }
  }
  return absl::OkStatus();
}

// Resolves every `fallback: <ref>` to a step index, marks the targets
// fallback_only, and refuses missing targets, non-channel targets and
// cycles (push -> sms -> push).
absl::Status ResolveFallbacks(const Location& at, Workflow* workflow) {
  std::vector<Step>& steps = workflow->steps;
  // Located as while parsing: a step without a ref is named by index only.
  auto step_at = [&](size_t i) {
    return at.Step(i, steps[i].ref == absl::StrCat("step_", i) ? "" : steps[i].ref);
  };
  for (size_t i = 0; i < steps.size(); ++i) {
    ChannelStep& channel = steps[i].channel;
    if (steps[i].type != StepType::kChannel || channel.fallback.empty()) continue;
    auto target = std::find_if(steps.begin(), steps.end(), [&](const Step& s) { return s.ref == channel.fallback; });
    if (target == steps.end()) return step_at(i).Error("fallback", absl::StrCat("no step '", channel.fallback, "'"));
    if (target->type != StepType::kChannel) {
      return step_at(i).Error("fallback", absl::StrCat("step '", channel.fallback, "' is not a channel step"));
    }
    channel.fallback_step = static_cast<int>(target - steps.begin());
    target->fallback_only = true;
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    // Follow the chain; more hops than steps means it loops.
    int at_step = static_cast<int>(i);
    for (size_t hops = 0; at_step >= 0; ++hops) {
      if (hops > steps.size()) {
        return step_at(i).Error("fallback", "the fallback chain comes back to this step (a cycle)");
      }
      at_step = steps[at_step].type == StepType::kChannel ? steps[at_step].channel.fallback_step : -1;
    }
  }
  return absl::OkStatus();
}


// A path a delay reads its duration or time from: data, recipient, actor or
// tenant (what the run knows when it reaches the delay).
absl::StatusOr<templates::Path> DelayPath(const YAML::Node& node, const char* field, const Location& at) {
  YAML::Node value = node[field];
  if (!value.IsScalar() || value.Scalar().empty()) return at.ErrorAt(value, field, "must be a path such as data.trial_ends_at");
  templates::Path path = templates::ParsePath(value.Scalar());
  static const std::set<std::string> kRoots = {"data", "recipient", "actor", "tenant"};
  if (path.size() < 2 || !kRoots.count(path[0])) {
    return at.ErrorAt(value, field,
                      absl::StrCat("must be a path under data, recipient, actor or tenant; got '", value.Scalar(), "'"));
  }
  return path;
}

// delay: exactly one of `duration`, `duration_path`, `delay_until`;
// `before`/`after` (one of them) only with `delay_until`.
absl::Status ParseDelay(const YAML::Node& node, const Location& at, DelayStep* delay) {
  const int given = (node["duration"] ? 1 : 0) + (node["duration_path"] ? 1 : 0) + (node["delay_until"] ? 1 : 0);
  if (given != 1) {
    return at.ErrorAt(node, given == 0 ? "duration" : "delay_until",
                      given == 0 ? "is required (or 'duration_path', or 'delay_until')"
                                 : "give one of 'duration', 'duration_path' and 'delay_until'");
  }
  if (node["duration"]) {
    HERALD_ASSIGN_OR_RETURN(delay->duration, RequiredDuration(node, "duration", at.AtLine(node["duration"]),
                                                              absl::ZeroDuration(), true, kMaxDelay));
  } else if (node["duration_path"]) {
    HERALD_ASSIGN_OR_RETURN(delay->duration_path, DelayPath(node, "duration_path", at));
  } else {
    HERALD_ASSIGN_OR_RETURN(delay->until_path, DelayPath(node, "delay_until", at));
  }
  for (const char* field : {"before", "after"}) {
    if (!node[field]) continue;
    if (!node["delay_until"]) return at.ErrorAt(node[field], field, "applies only with 'delay_until'");
    if (node["before"] && node["after"]) return at.ErrorAt(node[field], field, "give 'before' or 'after', not both");
    HERALD_ASSIGN_OR_RETURN(absl::Duration offset, RequiredDuration(node, field, at.AtLine(node[field]),
                                                                    absl::ZeroDuration(), true, kMaxDelay));
    delay->offset = std::string(field) == "before" ? -offset : offset;
  }
  return absl::OkStatus();
}

absl::Status ParseThrottle(const YAML::Node& node, const Location& at, ThrottleStep* throttle) {
  if (!node["limit"]) return at.ErrorAt(node, "limit", "is required (runs let through per window)");
  HERALD_ASSIGN_OR_RETURN(throttle->limit, OptionalInt(node, "limit", at.AtLine(node["limit"]), 1, 1, 100000));
  HERALD_ASSIGN_OR_RETURN(throttle->window, RequiredDuration(node, "window", at.AtLine(node["window"] ? node["window"] : node),
                                                             absl::ZeroDuration(), true, kMaxThrottleWindow));
  HERALD_ASSIGN_OR_RETURN(std::string key, OptionalString(node, "throttle_key", at.AtLine(node["throttle_key"])));
  HERALD_ASSIGN_OR_RETURN(throttle->key, CompileField(key, "throttle_key", at.AtLine(node["throttle_key"])));
  return absl::OkStatus();
}

// Parses a list of steps (the workflow's, or a branch's) into
// workflow->steps, flat and depth first (Step::next). Returns the indices of
// the list's own steps, in order; `branch_lists` gets, per branch step
// index, the indices of each of its branches' steps (linked afterwards).
struct StepLists {
  std::set<std::string> refs;
  bool has_channel = false;
  std::map<int, std::vector<std::vector<int>>> branch_lists;
};

absl::StatusOr<std::vector<int>> ParseStepList(const YAML::Node& steps, const Location& at, const std::string& parent,
                                               int depth, Workflow* workflow, StepLists* lists);

absl::Status ParseBranch(const YAML::Node& node, const Location& at, int depth, int index, Workflow* workflow,
                         StepLists* lists) {
  YAML::Node branches = node["branches"];
  if (!branches || !branches.IsSequence() || branches.size() == 0) {
    return at.ErrorAt(branches ? branches : node, "branches", "must be a non-empty list of {name, conditions, steps}");
  }
  if (depth >= 8) return at.ErrorAt(node, "branches", "branches nest at most 8 deep");
  std::vector<Branch> parsed;
  std::vector<std::vector<int>> step_lists;
  int defaults = 0;
  for (size_t b = 0; b < branches.size(); ++b) {
    const YAML::Node& item = branches[b];
    const std::string field = absl::StrCat("branches[", b, "]");
    if (!item.IsMap()) return at.ErrorAt(item, field, "must be a map with 'conditions' (or 'default: true') and 'steps'");
    for (const auto& entry : item) {
      static const std::set<std::string> kKnown = {"name", "conditions", "default", "terminate", "steps"};
      if (!kKnown.count(entry.first.Scalar())) {
        return at.ErrorAt(entry.first, absl::StrCat(field, ".", entry.first.Scalar()), "unknown field for a branch");
      }
    }
    Branch branch;
    HERALD_ASSIGN_OR_RETURN(branch.name, OptionalString(item, "name", at.AtLine(item["name"]), absl::StrCat("branch_", b)));
    HERALD_ASSIGN_OR_RETURN(branch.is_default, OptionalBool(item, "default", at.AtLine(item["default"]), false));
    HERALD_ASSIGN_OR_RETURN(branch.terminate, OptionalBool(item, "terminate", at.AtLine(item["terminate"]), false));
    if (branch.is_default) {
      if (++defaults > 1) return at.ErrorAt(item, field + ".default", "only one branch may be the default");
      if (item["conditions"]) return at.ErrorAt(item["conditions"], field + ".conditions", "the default branch has no conditions");
    } else {
      if (!item["conditions"]) return at.ErrorAt(item, field + ".conditions", "is required (or 'default: true')");
      auto conditions = ParseConditions(item["conditions"], at.AtLine(item["conditions"]), workflow->steps);
      if (!conditions.ok()) {
        // Name the branch in the field: "branches[0].conditions[1].operator".
        std::string message(conditions.status().message());
        size_t quote = message.find("field 'conditions");
        if (quote != std::string::npos) message.insert(quote + 7, field + ".");
        return absl::InvalidArgumentError(message);
      }
      branch.conditions = std::move(*conditions);
    }
    YAML::Node steps = item["steps"];
    std::vector<int> indices;
    if (steps) {
      if (!steps.IsSequence()) return at.ErrorAt(steps, field + ".steps", "must be a list of steps");
      HERALD_ASSIGN_OR_RETURN(indices, ParseStepList(steps, at, absl::StrCat(at.step(), ".", field), depth + 1,
                                                     workflow, lists));
    }
    parsed.push_back(std::move(branch));
    step_lists.push_back(std::move(indices));
  }
  // The default is tried last wherever it is written.
  for (size_t b = 0; b + 1 < parsed.size(); ++b) {
    if (parsed[b].is_default) {
      std::rotate(parsed.begin() + b, parsed.begin() + b + 1, parsed.end());
      std::rotate(step_lists.begin() + b, step_lists.begin() + b + 1, step_lists.end());
      break;
    }
  }
  workflow->steps[index].branch.branches = std::move(parsed);
  lists->branch_lists[index] = std::move(step_lists);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int>> ParseStepList(const YAML::Node& steps, const Location& at, const std::string& parent,
                                               int depth, Workflow* workflow, StepLists* lists) {
  std::vector<int> indices;
  for (size_t i = 0; i < steps.size(); ++i) {
    const YAML::Node& node = steps[i];
    std::string ref = node.IsMap() && node["ref"] && node["ref"].IsScalar() ? node["ref"].Scalar() : "";
    Location step_at = at.Step(i, ref, parent);
    if (!node.IsMap()) return step_at.Error("", "must be a map");
    const int index = static_cast<int>(workflow->steps.size());
    Step step;
    // Top-level steps keep their "step_<i>" names; a branch's are named by
    // their flat index (a top-level step_2 and a branch's third step differ).
    step.ref = !ref.empty() ? ref : depth == 0 ? absl::StrCat("step_", i) : absl::StrCat("step_", index);
    if (!lists->refs.insert(step.ref).second) return step_at.Error("ref", "is used by an earlier step");
    HERALD_ASSIGN_OR_RETURN(std::string type, RequiredString(node, "type", step_at));
    HERALD_RETURN_IF_ERROR(CheckStepFields(node, type, step_at));
    HERALD_ASSIGN_OR_RETURN(step.conditions, ParseConditions(node["conditions"], step_at, workflow->steps));
    if (type == "batch") {
      step.type = StepType::kBatch;
      HERALD_RETURN_IF_ERROR(ParseBatch(node, step_at, &step.batch));
    } else if (type == "delay") {
      step.type = StepType::kDelay;
      HERALD_RETURN_IF_ERROR(ParseDelay(node, step_at, &step.delay));
    } else if (type == "channel") {
      step.type = StepType::kChannel;
      HERALD_RETURN_IF_ERROR(ParseChannel(node, step_at, &step.channel));
      lists->has_channel = true;
    } else if (type == "throttle") {
      step.type = StepType::kThrottle;
      HERALD_RETURN_IF_ERROR(ParseThrottle(node, step_at, &step.throttle));
    } else if (type == "branch") {
      step.type = StepType::kBranch;
    } else {
      return step_at.ErrorAt(node["type"], "type",
                             absl::StrCat("must be batch, delay, channel, throttle or branch; got '", type, "'"));
    }
    workflow->steps.push_back(std::move(step));
    indices.push_back(index);
    if (type == "branch") HERALD_RETURN_IF_ERROR(ParseBranch(node, step_at, depth, index, workflow, lists));
  }
  return indices;
}

// Sets Step::next of a list's steps (the last goes on at `continuation`)
// and, for branch steps, Branch::first and their branches' steps.
void LinkSteps(const std::vector<int>& indices, int continuation, const StepLists& lists, Workflow* workflow) {
  const int end = static_cast<int>(workflow->steps.size());
  for (size_t k = 0; k < indices.size(); ++k) {
    Step& step = workflow->steps[indices[k]];
    step.next = k + 1 < indices.size() ? indices[k + 1] : continuation;
    if (step.type != StepType::kBranch) continue;
    const std::vector<std::vector<int>>& branch_lists = lists.branch_lists.at(indices[k]);
    for (size_t b = 0; b < step.branch.branches.size(); ++b) {
      Branch& branch = step.branch.branches[b];
      const int after = branch.terminate ? end : step.next;
      branch.first = branch_lists[b].empty() ? after : branch_lists[b][0];
      LinkSteps(branch_lists[b], after, lists, workflow);
    }
  }
}

absl::StatusOr<Workflow> ParseRoot(const YAML::Node& root, const std::string& source) {
  Location at(source);
  if (!root.IsMap()) return at.Error("", "a workflow file must be a map with 'key' and 'steps'");
  static const std::set<std::string> kTopLevel = {"key", "name", "categories", "steps", "description",
                                                    "strict_templates", "critical"};
  for (const auto& entry : root) {
    if (!kTopLevel.count(entry.first.Scalar())) return at.Error(entry.first.Scalar(), "unknown field");
  }
  Workflow workflow;
  workflow.source_file = source;
  HERALD_ASSIGN_OR_RETURN(workflow.key, RequiredString(root, "key", at));
  for (char c : workflow.key) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return at.Error("key", "may contain only letters, digits, '-', '_' and '.'");
    }
  }
  HERALD_ASSIGN_OR_RETURN(workflow.name, OptionalString(root, "name", at, workflow.key));
  if (YAML::Node categories = root["categories"]) {
    if (!categories.IsSequence()) return at.Error("categories", "must be a list of strings");
    for (const auto& category : categories) workflow.categories.push_back(category.Scalar());
  }
  HERALD_ASSIGN_OR_RETURN(workflow.strict_templates, OptionalBool(root, "strict_templates", at, false));
  HERALD_ASSIGN_OR_RETURN(workflow.critical, OptionalBool(root, "critical", at, false));
  YAML::Node steps = root["steps"];
  if (!steps || !steps.IsSequence() || steps.size() == 0) return at.Error("steps", "must be a non-empty list");
  StepLists lists;
  HERALD_ASSIGN_OR_RETURN(std::vector<int> top_level, ParseStepList(steps, at, "", 0, &workflow, &lists));
  LinkSteps(top_level, static_cast<int>(workflow.steps.size()), lists, &workflow);
  const bool has_channel = lists.has_channel;
  if (!has_channel) return at.Error("steps", "needs at least one channel step");
  HERALD_RETURN_IF_ERROR(ResolveFallbacks(at, &workflow));
  for (const Step& step : workflow.steps) {
    if (step.conditions.Reads("refs")) workflow.reads_refs = true;
  }
  for (const Step& step : workflow.steps) {
    // The batcher decides branches and computed delays too, from the
    // recipient's and actor's profiles when they read them.
    if (step.type == StepType::kBranch) {
      for (const Branch& branch : step.branch.branches) {
        if (branch.conditions.Reads("recipient") || branch.conditions.Reads("actor")) workflow.waits_read_profiles = true;
      }
    }
    if (step.type == StepType::kDelay) {
      for (const templates::Path* path : {&step.delay.duration_path, &step.delay.until_path}) {
        if (!path->empty() && ((*path)[0] == "recipient" || (*path)[0] == "actor")) workflow.waits_read_profiles = true;
      }
    }
    if (!step.is_wait() && step.type != StepType::kBranch && step.type != StepType::kThrottle) continue;
    const std::string& key = step.batch.key.source();
    if (step.conditions.Reads("recipient") || step.conditions.Reads("actor") ||
        (step.type == StepType::kBatch &&
         (key.find("recipient.") != std::string::npos || key.find("actor.") != std::string::npos))) {
      workflow.waits_read_profiles = true;
    }
  }
  return workflow;
}

}  // namespace

absl::StatusOr<Workflow> ParseWorkflow(absl::string_view text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
    return ParseRoot(root, source);
  } catch (const YAML::Exception& error) {
    // yaml-cpp reports through exceptions; this is the one place they stop.
    return absl::InvalidArgumentError(absl::StrCat(source, ": line ", error.mark.line + 1, ", column ",
                                                   error.mark.column + 1, ": ", error.msg));
  }
}

absl::StatusOr<Workflow> ParseWorkflowFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot read the file"));
  std::stringstream text;
  text << file.rdbuf();
  return ParseWorkflow(text.str(), path);
}

}  // namespace herald::workflow
