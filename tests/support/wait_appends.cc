#include "tests/support/wait_appends.h"

#include "absl/strings/str_cat.h"
#include "herald/v1/pipeline.pb.h"

namespace herald::testing {

runs::WaitAppend MakeTestAppend(const std::string& wait_key, const std::string& run_id, int64_t now_ms,
                                const TestAppendOptions& options) {
  v1::internal::BatchEnvelope header;
  header.set_workflow(options.workflow);
  header.set_resume_step(1);
  header.set_cancellation_key(options.cancellation_key);
  auto* target = header.add_targets();
  target->set_recipient(options.recipient);
  target->set_batch_id(absl::StrCat("batch-of-", run_id));
  v1::internal::Activity activity;
  activity.set_run_id(run_id);
  activity.set_actor(options.actor);
  activity.set_data_json(options.data_json);
  activity.set_accepted_at_us(now_ms * 1000);
  runs::WaitAppend append;
  append.wait_key = wait_key;
  append.batch_id = target->batch_id();
  append.header_blob = header.SerializeAsString();
  append.run_id = run_id;
  append.activity_blob = activity.SerializeAsString();
  append.accepted_at_ms = now_ms;
  append.now_ms = now_ms;
  append.window_ms = options.window_ms;
  append.max_window_ms = options.max_window_ms;
  append.sliding = options.sliding;
  append.delay = options.delay;
  append.max_activities = options.max_activities;
  append.flush_leading = options.leading;
  if (options.leading) {
    v1::internal::BatchEnvelope leading = header;
    leading.mutable_targets(0)->set_batch_id(absl::StrCat("leading-of-", run_id));
    *leading.add_activities() = activity;
    append.leading_batch_blob = leading.SerializeAsString();
  }
  append.workflow = options.workflow;
  append.cancellation_key = options.cancellation_key;
  append.recipient = options.recipient;
  append.run_ttl_seconds = options.run_ttl_seconds;
  append.lane = options.lane;
  return append;
}

}  // namespace herald::testing
