#include "runs/step_runner.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/time/time.h"
#include "absl/strings/str_cat.h"
#include "core/ids.h"

namespace herald::runs {

int NextActionableStep(const workflow::Workflow& workflow, int from, const templates::Context& context,
                       int64_t now_ms) {
  const int count = static_cast<int>(workflow.steps.size());
  // Every hop moves forward in the flat layout (Step::next and Branch::first
  // point past the step), so the walk ends; the bound is a backstop.
  int i = from;
  for (int hops = 0; i >= 0 && i < count && hops <= count; ++hops) {
    const workflow::Step& step = workflow.steps[i];
    if (step.fallback_only) {  // runs only when the step it backs up is not sent
      i = step.next;
      continue;
    }
    if (step.type == workflow::StepType::kChannel) return i;
    if (!step.conditions.Evaluate(context)) {
      i = step.next;
      continue;
    }
    if (step.type == workflow::StepType::kBranch) {
      int into = step.next;
      for (const workflow::Branch& branch : step.branch.branches) {
        if (branch.is_default || branch.conditions.Evaluate(context)) {
          into = branch.first;
          break;
        }
      }
      i = into;
      continue;
    }
    if (step.type == workflow::StepType::kDelay && step.delay.computed()) {
      std::optional<int64_t> due = DelayDueMs(step, context, now_ms);
      if (!due.has_value() || *due <= now_ms) {  // past, or nothing to wait for: on at once
        i = step.next;
        continue;
      }
    }
    return i;
  }
  return count;
}

std::optional<int64_t> TimestampMs(const nlohmann::json& value) {
  if (value.is_number()) {
    double seconds = value.get<double>();
    if (!(seconds > -1e11 && seconds < 1e11)) return std::nullopt;  // NaN and absurd values
    return static_cast<int64_t>(seconds * 1000);
  }
  if (!value.is_string()) return std::nullopt;
  const std::string& text = value.get_ref<const std::string&>();
  absl::Time time;
  std::string error;
  for (const char* format : {absl::RFC3339_full, "%Y-%m-%d%ET%H:%M:%E*S", "%Y-%m-%d"}) {
    if (absl::ParseTime(format, text, absl::UTCTimeZone(), &time, &error)) return absl::ToUnixMillis(time);
  }
  return std::nullopt;
}

std::optional<int64_t> DelayDueMs(const workflow::Step& step, const templates::Context& context, int64_t now_ms) {
  const workflow::DelayStep& delay = step.delay;
  const int64_t max_ms = now_ms + absl::ToInt64Milliseconds(workflow::kMaxDelay);
  if (!delay.computed()) return now_ms + absl::ToInt64Milliseconds(delay.duration);
  if (!delay.duration_path.empty()) {
    const nlohmann::json* value = context.Lookup(delay.duration_path);
    if (value == nullptr) return std::nullopt;
    absl::Duration duration;
    if (value->is_number()) {
      double seconds = value->get<double>();
      if (!(seconds >= 0 && seconds < 1e11)) return std::nullopt;
      duration = absl::Seconds(seconds);
    } else if (!value->is_string() || !absl::ParseDuration(value->get<std::string>(), &duration)) {
      return std::nullopt;
    }
    return std::min(now_ms + absl::ToInt64Milliseconds(duration), max_ms);
  }
  const nlohmann::json* value = context.Lookup(delay.until_path);
  if (value == nullptr) return std::nullopt;
  std::optional<int64_t> at = TimestampMs(*value);
  if (!at.has_value()) return std::nullopt;
  return std::min(*at + absl::ToInt64Milliseconds(delay.offset), max_ms);
}

namespace {

// A wait key: the 128-bit DeterministicId of its parts in 22 URL-safe
// base64 characters rather than 32 hex ones. Every open wait stores its key
// twice (timer member, hash field): at most 28 characters fit the smallest
// allocation a 32-hex key overflows, 32 bytes per open wait.
void SetWaitKey(std::initializer_list<absl::string_view> parts, WaitAppend* append) {
  append->older_wait_key = DeterministicId(parts);
  append->wait_key = absl::WebSafeBase64Escape(absl::HexStringToBytes(append->older_wait_key));
}

}  // namespace

std::string DirectBatchId(const std::string& run_id, int step_index) {
  return DeterministicId({run_id, "direct", std::to_string(step_index)});
}

WaitAppend BuildWaitAppend(const workflow::Workflow& workflow, int step_index, const RunRef& run,
                           const v1::internal::Activity& activity, const templates::Context& context, int64_t now_ms,
                           int64_t run_ttl_seconds) {
  const workflow::Step& step = workflow.steps[step_index];
  std::string step_text = std::to_string(step_index);
  WaitAppend append;
  append.run_id = run.run_id;
  append.step = step_index;
  append.now_ms = now_ms;
  append.accepted_at_ms = activity.accepted_at_us() / 1000;
  append.activity_blob = activity.SerializeAsString();
  append.workflow = workflow.key;
  append.cancellation_key = run.cancellation_key;
  append.recipient = run.recipient;
  append.run_ttl_seconds = run_ttl_seconds;

  v1::internal::BatchEnvelope header;
  header.set_workflow(workflow.key);
  header.set_tenant(run.tenant);
  header.set_resume_step(step.next);
  // The fan-out reads the batch's settings (render_limit, order) from it:
  // a wait inside a branch does not resume at its own index + 1.
  header.set_wait_step(step_index);
  header.set_cancellation_key(run.cancellation_key);
  auto* target = header.add_targets();
  target->set_recipient(run.recipient);

  if (step.type == workflow::StepType::kBatch) {
    const workflow::BatchStep& batch = step.batch;
    std::string batch_key;
    // A render problem leaves the key empty (the batch is still per
    // recipient, tenant and workflow); non-strict rendering cannot fail.
    (void)batch.key.RenderTo(context, &batch_key);
    SetWaitKey({"batch", workflow.key, run.recipient, run.tenant, step_text, batch_key}, &append);
    append.window_ms = absl::ToInt64Milliseconds(batch.window);
    append.max_window_ms = absl::ToInt64Milliseconds(batch.max_window);
    append.sliding = batch.mode == workflow::WindowMode::kSliding;
    append.max_activities = batch.max_activities;
    append.flush_leading = batch.flush_leading_item;
    // The batch is named after the run that opens it: unique, deterministic.
    target->set_batch_id(DeterministicId({run.run_id, "batch", step_text}));
    if (append.flush_leading) {
      v1::internal::BatchEnvelope leading = header;
      leading.mutable_targets(0)->set_batch_id(DeterministicId({run.run_id, "leading", step_text}));
      *leading.add_activities() = activity;
      append.leading_batch_blob = leading.SerializeAsString();
    }
  } else {
    SetWaitKey({"delay", run.run_id, step_text}, &append);
    append.delay = true;
    // A computed delay that is missing or past never gets here
    // (NextActionableStep passes it); 0 is the backstop.
    append.window_ms = std::max<int64_t>(DelayDueMs(step, context, now_ms).value_or(now_ms) - now_ms, 0);
    append.max_window_ms = append.window_ms;
    target->set_batch_id(DeterministicId({run.run_id, "delay", step_text}));
  }
  append.batch_id = target->batch_id();
  append.header_blob = header.SerializeAsString();
  return append;
}

}  // namespace herald::runs
