// The compiled form of a workflow definition: steps with their parsed
// durations, compiled templates and conditions. Immutable once loaded and
// shared read-only by every worker thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "templates/template.h"
#include "workflow/condition.h"

namespace herald::workflow {

enum class StepType { kBatch, kDelay, kChannel };

// Every channel type a channel step (and a preference setting) may name.
inline constexpr absl::string_view kChannelTypes[] = {"in_app_feed", "email", "sms", "push", "chat", "webhook"};
bool IsChannelType(absl::string_view type);
// "in_app_feed, email, sms, push, chat", for error messages.
std::string ChannelTypeList();

enum class WindowMode { kFixed, kSliding };

struct BatchStep {
  absl::Duration window;
  WindowMode mode = WindowMode::kFixed;
  // Sliding windows never close later than open time + max_window.
  absl::Duration max_window;
  // Rendered per activity; activities with different keys never share a batch.
  templates::Template key;
  // 0 = unlimited; reaching it makes the batch due at once.
  int max_activities = 0;
  // How many activities templates see in `activities` (all are counted).
  int render_limit = 10;
  bool newest_first = false;
  // Send the first activity at once, batch the rest of the window.
  bool flush_leading_item = false;
};

struct DelayStep {
  absl::Duration duration;
};

struct ButtonTemplate {
  std::string name;
  templates::Template label;
  templates::Template action;
};

// One rendered block of a channel message (in-app: body markdown, action
// url, buttons; email: subject, html, text, from, reply_to; sms: text; push:
// title, body, data.<key>; chat: text, blocks; webhook: url, body,
// headers.<Name>).
struct BlockTemplate {
  std::string name;
  // "markdown" (also rendered to HTML), "text", "html", "json" (must render
  // to a JSON array — chat blocks — or, for a webhook body, a JSON object)
  // or "button_set"
  std::string type;
  templates::Template content;
  std::vector<ButtonTemplate> buttons;  // button_set only
};

struct ChannelStep {
  std::string channel_type;  // in_app_feed | email | sms | push | chat | webhook
  std::string channel;       // configured channel name (defaults to the type)
  // in_app_feed only: which of the user's feeds the item goes to (`feed:`,
  // default "main"; core/feed_names.h).
  std::string feed;
  std::vector<BlockTemplate> blocks;
  // `fallback: <ref>`: the channel step planned for the recipient when this
  // step's message ends not_sent/undelivered ("" = none), and its index.
  std::string fallback;
  int fallback_step = -1;
};

struct Step {
  std::string ref;
  StepType type = StepType::kChannel;
  ConditionGroup conditions;
  BatchStep batch;
  DelayStep delay;
  ChannelStep channel;
  // Named as another step's fallback: never run in sequence, only when the
  // step it backs up is not sent (see ChannelStep::fallback).
  bool fallback_only = false;

  bool is_wait() const { return type == StepType::kBatch || type == StepType::kDelay; }
  std::string Summary() const;
};

struct Workflow {
  std::string key;
  std::string name;
  std::string source_file;
  std::vector<std::string> categories;
  std::vector<Step> steps;
  // Unknown template variables fail the message (undelivered, naming the
  // variable) instead of rendering empty.
  bool strict_templates = false;
  // Critical workflows (password reset, security alerts) bypass
  // preferences; their message records say so.
  bool critical = false;
  // Whether deciding a wait step (its conditions or batch key) reads the
  // recipient's or actor's profile; the batcher fetches profiles only then.
  // Computed once when the workflow is parsed.
  bool waits_read_profiles = false;
  // Whether any condition reads `refs.<step>.…` (an earlier message's
  // status); the fan-out reads those messages' states only then.
  bool reads_refs = false;
};

const char* StepTypeName(StepType type);

}  // namespace herald::workflow
