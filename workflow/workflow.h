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

// kThrottle and kBranch: README "Throttle, branch and delay steps".
enum class StepType { kBatch, kDelay, kChannel, kThrottle, kBranch };

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

// The longest a delay waits (a computed one is cut to it): a year and more,
// so "remind them a year after signing up" fits.
inline constexpr absl::Duration kMaxDelay = absl::Hours(24 * 400);

// A delay waits `duration`, or a duration read from the run (`duration_path`:
// seconds or "1h30m"), or until a timestamp read from the run
// (`delay_until`: RFC 3339, "YYYY-MM-DD" or Unix seconds) shifted by
// `offset` ("3 days before": -72h). A time already past, or a value that is
// missing or unreadable, proceeds at once.
struct DelayStep {
  absl::Duration duration;
  templates::Path duration_path;
  templates::Path until_path;
  absl::Duration offset;
  bool computed() const { return !duration_path.empty() || !until_path.empty(); }
};

// At most `limit` runs pass per `window` per (workflow, step ref, recipient,
// rendered key); the others stop, recorded not_sent with reason "throttled".
struct ThrottleStep {
  int limit = 1;
  absl::Duration window;
  templates::Template key;
};

inline constexpr absl::Duration kMaxThrottleWindow = absl::Hours(24 * 31);

// One branch of a branch step. The first whose conditions hold is taken
// (the default, last, holds always); with none taken the run goes on after
// the branch step.
struct Branch {
  std::string name;
  ConditionGroup conditions;
  bool is_default = false;
  // The run ends after the branch's steps instead of going on after the
  // branch step.
  bool terminate = false;
  // Index of the branch's first step in Workflow::steps; an empty branch
  // points where its run goes on (the branch step's next, or the end).
  int first = -1;
};

struct BranchStep {
  std::vector<Branch> branches;
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
  ThrottleStep throttle;
  BranchStep branch;
  // Where the run goes on after this step: index + 1 for top-level steps,
  // so the numbering of a workflow without branches is what it always was
  // (runs waiting in Redis name their resume step by index). The last step
  // of a branch points past its branch step (or to the end, `terminate`).
  // Branch steps are laid out flat after their branch step, depth first.
  int next = -1;
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
  // Every step, branches' steps included (see Step::next).
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
