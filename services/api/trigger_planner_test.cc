// Trigger and cancel planning without Redis: every refusal names its field,
// and an accepted trigger becomes exactly the writes it must (one per
// partition touched, a plain XADD when that is enough, one idempotency
// record in the key's own partition), read back from the Redis commands.
#include "services/api/trigger_planner.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "core/keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "herald/v1/pipeline.pb.h"
#include "objects/fanout_job.h"
#include "objects/object_store.h"
#include "workflow/parser.h"

namespace herald::api {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAreArray;

constexpr int kPartitions = 4;
constexpr int64_t kNowUs = 1'700'000'000'000'000;

constexpr char kComments[] = R"(
key: comments
steps:
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template: {markdown: "{{ data.text }}"}
)";

std::unique_ptr<workflow::Registry> Workflows() {
  auto registry = workflow::Registry::FromDocuments({kComments}, "comments.yaml");
  EXPECT_TRUE(registry.ok()) << registry.status();
  return registry.ok() ? std::move(*registry) : nullptr;
}

// `count` user ids, each hashing to a different partition of kPartitions,
// plus a second id for the first one's partition.
struct Spread {
  std::vector<std::string> distinct;  // distinct[i] lives in partition partitions[i]
  std::vector<int> partitions;
  std::string same_as_first;
};

Spread SpreadIds(int count) {
  Spread spread;
  std::set<int> used;
  for (int n = 0; spread.distinct.size() < static_cast<size_t>(count) || spread.same_as_first.empty(); ++n) {
    std::string id = absl::StrCat("user-", n);
    int partition = PartitionOf(id, kPartitions);
    if (used.insert(partition).second && spread.distinct.size() < static_cast<size_t>(count)) {
      spread.distinct.push_back(id);
      spread.partitions.push_back(partition);
    } else if (!spread.partitions.empty() && partition == spread.partitions[0] && id != spread.distinct[0] &&
               spread.same_as_first.empty()) {
      spread.same_as_first = id;
    }
  }
  return spread;
}

// The parts of an EVALSHA command.
struct ScriptCall {
  std::vector<std::string> keys;
  std::vector<std::string> args;
};

ScriptCall ParseEvalsha(const redis::Command& command) {
  ScriptCall call;
  EXPECT_GE(command.size(), 3u);
  if (command.size() < 3) return call;
  EXPECT_EQ(command[0], "EVALSHA");
  EXPECT_EQ(command[1].size(), 40u);  // a SHA1
  size_t keys = std::stoul(command[2]);
  EXPECT_LE(3 + keys, command.size());
  call.keys.assign(command.begin() + 3, command.begin() + 3 + keys);
  call.args.assign(command.begin() + 3 + keys, command.end());
  return call;
}

// The partition every key of `command` lives in (all must share it: one
// Redis Cluster slot), or -1.
int PartitionOfCommand(const redis::Command& command) {
  std::vector<std::string> keys;
  if (command[0] == "XADD") {
    keys = {command[1]};
  } else {
    keys = ParseEvalsha(command).keys;
  }
  EXPECT_FALSE(keys.empty());
  std::set<std::string> tags;
  for (const std::string& key : keys) tags.insert(std::string(HashTagOf(key)));
  EXPECT_EQ(tags.size(), 1u) << "keys of one command in different slots";
  if (tags.size() != 1) return -1;
  for (int p = 0; p < kPartitions; ++p) {
    if (*tags.begin() == absl::StrCat(p)) return p;
  }
  ADD_FAILURE() << "hash tag " << *tags.begin() << " is no partition";
  return -1;
}

// The event a plain-XADD command writes.
v1::internal::EventEnvelope XaddEvent(const redis::Command& command) {
  v1::internal::EventEnvelope event;
  EXPECT_EQ(command.size(), 5u);
  if (command.size() != 5) return event;
  EXPECT_EQ(command[0], "XADD");
  EXPECT_EQ(command[2], "*");
  EXPECT_EQ(command[3], "e");
  EXPECT_TRUE(event.ParseFromString(command[4]));
  return event;
}

std::vector<std::string> TargetRecipients(const v1::internal::EventEnvelope& event) {
  std::vector<std::string> out;
  for (const auto& target : event.targets()) out.push_back(target.recipient());
  return out;
}

class TriggerPlannerTest : public ::testing::Test {
 protected:
  v1::TriggerRequest Request(const std::vector<std::string>& recipients) {
    v1::TriggerRequest request;
    request.set_workflow("comments");
    for (const std::string& id : recipients) request.add_recipients()->set_id(id);
    return request;
  }

  absl::StatusOr<PlannedTrigger> Plan(const v1::TriggerRequest& request, const std::string& prefix = "") {
    return PlanTrigger(request, *workflows_, limits_, kPartitions, kNowUs, prefix);
  }

  // The message of the INVALID_ARGUMENT the request gets.
  std::string Refusal(const v1::TriggerRequest& request, const std::string& prefix = "") {
    auto planned = Plan(request, prefix);
    if (planned.ok()) return "(accepted)";
    EXPECT_EQ(planned.status().code(), absl::StatusCode::kInvalidArgument) << planned.status();
    return std::string(planned.status().message());
  }

  std::unique_ptr<workflow::Registry> workflows_ = Workflows();
  TriggerLimits limits_;
};

TEST_F(TriggerPlannerTest, EveryRefusalNamesItsField) {
  v1::TriggerRequest request = Request({"rita"});
  request.clear_workflow();
  EXPECT_EQ(Refusal(request), "workflow: is required");
  request.set_workflow("nope");
  EXPECT_EQ(Refusal(request), "workflow: unknown workflow 'nope'");

  request = Request({});
  EXPECT_EQ(Refusal(request), "recipients: at least one is required");
  limits_.max_recipients = 2;
  EXPECT_THAT(Refusal(Request({"a", "b", "c"})), StartsWith("recipients: at most 2 per trigger (got 3)"));
  limits_ = TriggerLimits();

  EXPECT_EQ(Refusal(Request({"rita", "bo", ""})), "recipients[2].id: must not be empty");
  EXPECT_EQ(Refusal(Request({"rita", "b\no"})), "recipients[1].id: contains a control character");
  EXPECT_EQ(Refusal(Request({std::string(257, 'x')})), "recipients[0].id: longer than 256 bytes");

  request = Request({"rita"});
  v1::InlineUser* user = request.add_recipients()->mutable_user();
  user->set_id("new-user");
  user->set_email("not-an-email");
  EXPECT_THAT(Refusal(request), StartsWith("recipients[1].user.email: "));
  user->set_email("new@example.com");
  user->set_timezone("Mars/Olympus");
  EXPECT_THAT(Refusal(request), StartsWith("recipients[1].user.timezone: "));
  user->clear_timezone();
  user->clear_id();
  EXPECT_EQ(Refusal(request), "recipients[1].user.id: must not be empty");

  request = Request({"rita"});
  request.add_recipients()->mutable_object()->set_collection("projects");
  EXPECT_EQ(Refusal(request), "recipients[1].object.id: must not be empty");

  request = Request({"rita"});
  request.set_data_json("{not json");
  EXPECT_EQ(Refusal(request), "data_json: is not valid JSON");
  request.set_data_json("[1, 2]");
  EXPECT_EQ(Refusal(request), "data_json: must be a JSON object");
  request.set_data_json(absl::StrCat(R"({"x": ")", std::string(limits_.max_data_bytes, 'y'), R"("})"));
  EXPECT_THAT(Refusal(request), StartsWith("data_json: "));
  EXPECT_THAT(Refusal(request), HasSubstr("more than the 32768 allowed"));

  request = Request({"rita"});
  request.set_tenant(std::string(257, 't'));
  EXPECT_EQ(Refusal(request), "tenant: longer than 256 bytes");
  request.set_tenant("ac\x01me");
  EXPECT_EQ(Refusal(request), "tenant: contains a control character");

  request = Request({"rita"});
  request.set_cancellation_key(std::string(257, 'c'));
  EXPECT_EQ(Refusal(request), "cancellation_key: longer than 256 bytes");

  request = Request({"rita"});
  request.set_idempotency_key(std::string(257, 'k'));
  EXPECT_EQ(Refusal(request), "idempotency_key: longer than 256 bytes");
  request.set_idempotency_key(std::string(256, 'k'));
  EXPECT_EQ(Refusal(request), "(accepted)");  // the limit itself is allowed

  request = Request({"rita"});
  request.set_actor("an\ta");
  EXPECT_EQ(Refusal(request), "actor: contains a control character");
}

TEST_F(TriggerPlannerTest, FieldPrefixIsPutInFrontOfEveryField) {
  const std::string prefix = "triggers[3].";
  v1::TriggerRequest request = Request({"rita", ""});
  EXPECT_EQ(Refusal(request, prefix), "triggers[3].recipients[1].id: must not be empty");
  request = Request({"rita"});
  request.set_workflow("nope");
  EXPECT_EQ(Refusal(request, prefix), "triggers[3].workflow: unknown workflow 'nope'");
  request.clear_workflow();
  EXPECT_EQ(Refusal(request, prefix), "triggers[3].workflow: is required");
  request = Request({"rita"});
  request.set_data_json("[]");
  EXPECT_EQ(Refusal(request, prefix), "triggers[3].data_json: must be a JSON object");
  request = Request({"rita"});
  request.set_idempotency_key(std::string(300, 'k'));
  EXPECT_EQ(Refusal(request, prefix), "triggers[3].idempotency_key: longer than 256 bytes");
  request = Request({"rita"});
  request.set_tenant(std::string(300, 't'));
  EXPECT_EQ(Refusal(request, prefix), "triggers[3].tenant: longer than 256 bytes");
  request.set_tenant("ac\x01me");
  EXPECT_EQ(Refusal(request, prefix), "triggers[3].tenant: contains a control character");
  request = Request({"rita"});
  request.set_cancellation_key(std::string(300, 'c'));
  EXPECT_EQ(Refusal(request, prefix), "triggers[3].cancellation_key: longer than 256 bytes");
  request = Request({"rita"});
  request.add_recipients()->mutable_object()->set_collection("a/b");
  EXPECT_EQ(Refusal(request, prefix), "triggers[3].recipients[1].object.collection: must not contain '/'");
  request = Request({"rita"});
  request.set_actor("\x02");
  EXPECT_EQ(Refusal(request, prefix), "triggers[3].actor: contains a control character");
  request = Request({"rita"});
  v1::InlineUser* user = request.add_recipients()->mutable_user();
  user->set_id("u");
  user->set_email("nope");
  EXPECT_THAT(Refusal(request, prefix), StartsWith("triggers[3].recipients[1].user.email: "));
  request = Request({});
  EXPECT_EQ(Refusal(request, prefix), "triggers[3].recipients: at least one is required");
}

TEST_F(TriggerPlannerTest, DuplicateRecipientsAreOneRun) {
  v1::TriggerRequest request = Request({"rita", "bo", "rita"});
  auto planned = Plan(request);
  ASSERT_TRUE(planned.ok()) << planned.status();
  ASSERT_EQ(planned->response.runs_size(), 2);
  EXPECT_EQ(planned->response.runs(0).recipient(), "rita");
  EXPECT_EQ(planned->response.runs(1).recipient(), "bo");
  std::vector<std::string> targets;
  for (const redis::Command& command : planned->commands) {
    for (const std::string& id : TargetRecipients(XaddEvent(command))) targets.push_back(id);
  }
  EXPECT_THAT(targets, UnorderedElementsAreArray({"rita", "bo"}));

  // An inline user given first, then the same id again: one run, and the
  // user is still identified with the event.
  request.Clear();
  request.set_workflow("comments");
  v1::InlineUser* user = request.add_recipients()->mutable_user();
  user->set_id("rita");
  user->set_name("Rita");
  request.add_recipients()->set_id("rita");
  request.add_recipients()->set_id("rita");
  planned = Plan(request);
  ASSERT_TRUE(planned.ok()) << planned.status();
  ASSERT_EQ(planned->response.runs_size(), 1);
  ASSERT_EQ(planned->commands.size(), 1u);
  ScriptCall call = ParseEvalsha(planned->commands[0]);
  const int partition = PartitionOf("rita", kPartitions);
  ASSERT_EQ(call.keys.size(), 4u);
  EXPECT_EQ(call.keys[3], Keys(partition).User("rita"));
  v1::internal::EventEnvelope event;
  ASSERT_TRUE(event.ParseFromString(call.args[1]));
  EXPECT_THAT(TargetRecipients(event), ElementsAre("rita"));
  EXPECT_EQ(event.targets(0).run_id(), planned->response.runs(0).workflow_run_id());

  // The id first, the inline user after it: still one run, and the user the
  // trigger defined is still identified.
  request.Clear();
  request.set_workflow("comments");
  request.add_recipients()->set_id("rita");
  user = request.add_recipients()->mutable_user();
  user->set_id("rita");
  user->set_name("Rita");
  planned = Plan(request);
  ASSERT_TRUE(planned.ok()) << planned.status();
  ASSERT_EQ(planned->response.runs_size(), 1);
  ASSERT_EQ(planned->commands.size(), 1u);
  call = ParseEvalsha(planned->commands[0]);
  ASSERT_EQ(call.keys.size(), 4u) << "the inline user after the id was dropped";
  EXPECT_EQ(call.keys[3], Keys(partition).User("rita"));
}

TEST_F(TriggerPlannerTest, RunIdsAreDeterministicForAnIdempotencyKeyAndRandomWithout) {
  v1::TriggerRequest request = Request({"rita", "bo"});
  auto first = Plan(request);
  auto second = Plan(request);
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_EQ(first->response.runs_size(), 2);
  EXPECT_NE(first->response.runs(0).workflow_run_id(), second->response.runs(0).workflow_run_id());
  EXPECT_NE(first->response.runs(0).workflow_run_id(), first->response.runs(1).workflow_run_id());

  request.set_idempotency_key("order-42");
  first = Plan(request);
  second = Plan(request);
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_EQ(first->response.runs_size(), 2);
  EXPECT_EQ(first->response.runs(0).workflow_run_id(), second->response.runs(0).workflow_run_id());
  EXPECT_EQ(first->response.runs(1).workflow_run_id(), second->response.runs(1).workflow_run_id());
  EXPECT_NE(first->response.runs(0).workflow_run_id(), first->response.runs(1).workflow_run_id());
  const std::string nonce = DeterministicId({"idempotency", "comments", "order-42"});
  EXPECT_EQ(first->response.runs(0).workflow_run_id(), DeterministicId({nonce, "rita"}));

  // Another key is another set of runs.
  request.set_idempotency_key("order-43");
  auto other = Plan(request);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->response.runs(0).workflow_run_id(), first->response.runs(0).workflow_run_id());
}

TEST_F(TriggerPlannerTest, OnePlainXaddPerPartitionTouched) {
  Spread spread = SpreadIds(3);
  v1::TriggerRequest request =
      Request({spread.distinct[0], spread.distinct[1], spread.same_as_first, spread.distinct[2], spread.distinct[1]});
  request.set_actor("ana");
  request.set_data_json(R"({"text": "hello"})");
  request.set_tenant("acme");
  request.set_cancellation_key("post-1");
  auto planned = Plan(request);
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_FALSE(planned->idempotency_claim.has_value());
  EXPECT_EQ(planned->response.runs_size(), 4);
  ASSERT_EQ(planned->commands.size(), 3u);

  std::map<int, std::vector<std::string>> recipients_by_partition;
  std::map<std::string, std::string> run_ids;
  for (const auto& run : planned->response.runs()) run_ids[run.recipient()] = run.workflow_run_id();
  for (const redis::Command& command : planned->commands) {
    ASSERT_EQ(command[0], "XADD");  // nothing to identify or dedupe
    int partition = PartitionOfCommand(command);
    EXPECT_EQ(command[1], Keys(partition).Events());
    v1::internal::EventEnvelope event = XaddEvent(command);
    EXPECT_EQ(event.workflow(), "comments");
    EXPECT_EQ(event.actor(), "ana");
    EXPECT_EQ(event.data_json(), R"({"text": "hello"})");
    EXPECT_EQ(event.tenant(), "acme");
    EXPECT_EQ(event.cancellation_key(), "post-1");
    EXPECT_EQ(event.accepted_at_us(), kNowUs);
    for (const auto& target : event.targets()) {
      EXPECT_EQ(PartitionOf(target.recipient(), kPartitions), partition) << target.recipient();
      EXPECT_EQ(target.run_id(), run_ids[target.recipient()]);
    }
    EXPECT_TRUE(recipients_by_partition.emplace(partition, TargetRecipients(event)).second)
        << "two commands for partition " << partition;
  }
  EXPECT_THAT(recipients_by_partition[spread.partitions[0]],
              UnorderedElementsAreArray({spread.distinct[0], spread.same_as_first}));
  EXPECT_THAT(recipients_by_partition[spread.partitions[1]], ElementsAre(spread.distinct[1]));
  EXPECT_THAT(recipients_by_partition[spread.partitions[2]], ElementsAre(spread.distinct[2]));
}

TEST_F(TriggerPlannerTest, InlineUserMakesItsPartitionAScriptOthersStayPlain) {
  Spread spread = SpreadIds(2);
  v1::TriggerRequest request = Request({spread.distinct[0]});
  v1::InlineUser* user = request.add_recipients()->mutable_user();
  user->set_id(spread.distinct[1]);
  user->set_name("New");
  user->set_email("new@example.com");
  auto planned = Plan(request);
  ASSERT_TRUE(planned.ok()) << planned.status();
  ASSERT_EQ(planned->commands.size(), 2u);
  int scripts = 0;
  for (const redis::Command& command : planned->commands) {
    int partition = PartitionOfCommand(command);
    if (command[0] == "XADD") {
      EXPECT_EQ(partition, spread.partitions[0]);
      continue;
    }
    ++scripts;
    EXPECT_EQ(partition, spread.partitions[1]);
    ScriptCall call = ParseEvalsha(command);
    ASSERT_EQ(call.keys.size(), 4u);
    EXPECT_EQ(call.keys[0], Keys(partition).Events());
    EXPECT_EQ(call.keys[3], Keys(partition).User(spread.distinct[1]));
    ASSERT_GE(call.args.size(), 5u);
    EXPECT_EQ(call.args[2], "");  // no idempotency key: no fingerprint
    EXPECT_EQ(call.args[4], "1");  // one inline user
    v1::internal::EventEnvelope event;
    ASSERT_TRUE(event.ParseFromString(call.args[1]));
    EXPECT_THAT(TargetRecipients(event), ElementsAre(spread.distinct[1]));
  }
  EXPECT_EQ(scripts, 1);
}

TEST_F(TriggerPlannerTest, IdempotencyClaimExactlyWithAKeyInTheKeysPartition) {
  Spread spread = SpreadIds(3);
  v1::TriggerRequest request = Request(spread.distinct);
  auto plain = Plan(request);
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->idempotency_claim.has_value());

  for (const std::string& key : std::vector<std::string>{"order-42", "k", "{tag}x", std::string(256, 'z')}) {
    SCOPED_TRACE(key);
    request.set_idempotency_key(key);
    auto planned = Plan(request);
    ASSERT_TRUE(planned.ok()) << planned.status();
    ASSERT_TRUE(planned->idempotency_claim.has_value());
    ScriptCall claim = ParseEvalsha(*planned->idempotency_claim);
    ASSERT_EQ(claim.keys.size(), 1u);
    const int record_partition = PartitionOf(DeterministicId({"idempotency", "comments", key}), kPartitions);
    EXPECT_EQ(PartitionOfCommand(*planned->idempotency_claim), record_partition);
    EXPECT_EQ(claim.keys[0], Keys(record_partition).Idempotency("comments", key));
    EXPECT_THAT(claim.keys[0], HasSubstr(key));
    ASSERT_EQ(claim.args.size(), 2u);
    EXPECT_EQ(claim.args[1], std::to_string(limits_.idempotency_ttl_seconds));

    // Every partition's write is the deduping script, never a plain XADD.
    ASSERT_EQ(planned->commands.size(), 3u);
    std::set<int> partitions;
    for (const redis::Command& command : planned->commands) {
      ASSERT_EQ(command[0], "EVALSHA");
      int partition = PartitionOfCommand(command);
      partitions.insert(partition);
      ScriptCall call = ParseEvalsha(command);
      ASSERT_GE(call.keys.size(), 3u);
      EXPECT_EQ(call.keys[2], Keys(partition).IdempotencyWritten("comments", key));
      // The partition's marker records which request wrote it.
      EXPECT_EQ(call.args[2], claim.args[0]);
    }
    EXPECT_EQ(partitions, std::set<int>(spread.partitions.begin(), spread.partitions.end()));
  }
}

TEST_F(TriggerPlannerTest, IdempotencyFingerprintTellsRequestsApart) {
  v1::TriggerRequest request = Request({"rita"});
  request.set_idempotency_key("order-42");
  request.set_data_json(R"({"n": 1})");
  auto first = Plan(request);
  auto again = Plan(request);
  request.set_data_json(R"({"n": 2})");
  auto different = Plan(request);
  ASSERT_TRUE(first.ok() && again.ok() && different.ok());
  const std::string fingerprint = ParseEvalsha(*first->idempotency_claim).args[0];
  EXPECT_EQ(ParseEvalsha(*again->idempotency_claim).args[0], fingerprint);
  EXPECT_NE(ParseEvalsha(*different->idempotency_claim).args[0], fingerprint);
  // Same key, so the same record: the script refuses the different request.
  EXPECT_EQ(ParseEvalsha(*different->idempotency_claim).keys, ParseEvalsha(*first->idempotency_claim).keys);
}

TEST_F(TriggerPlannerTest, ObjectRecipientsStartFanouts) {
  v1::TriggerRequest request = Request({"rita"});
  for (int i = 0; i < 2; ++i) {  // the same object twice is one fan-out
    v1::ObjectRef* object = request.add_recipients()->mutable_object();
    object->set_collection("projects");
    object->set_id("p1");
  }
  request.set_idempotency_key("deploy-7");
  auto planned = Plan(request);
  ASSERT_TRUE(planned.ok()) << planned.status();
  ASSERT_EQ(planned->response.fanouts_size(), 1);
  EXPECT_EQ(planned->response.fanouts(0).object().collection(), "projects");
  EXPECT_EQ(planned->response.fanouts(0).object().id(), "p1");
  const int object_partition = objects::PartitionOfRef("projects/p1", kPartitions);
  const std::string nonce = DeterministicId({"idempotency", "comments", "deploy-7"});
  const std::string fanout_id = objects::FanoutId(object_partition, nonce, "projects/p1");
  EXPECT_EQ(planned->response.fanouts(0).fanout_id(), fanout_id);
  EXPECT_THAT(fanout_id, StartsWith(absl::StrCat(object_partition, ".")));
  ASSERT_EQ(planned->response.runs_size(), 1);  // the object is not a run itself

  bool found = false;
  for (const redis::Command& command : planned->commands) {
    if (PartitionOfCommand(command) != object_partition) continue;
    found = true;
    ScriptCall call = ParseEvalsha(command);
    EXPECT_EQ(call.keys.back(), Keys(object_partition).Fanout(fanout_id));
    ASSERT_GE(call.args.size(), 3u);
    v1::internal::ObjectFanoutJob job;
    ASSERT_TRUE(job.ParseFromString(call.args[call.args.size() - 3]));
    EXPECT_EQ(job.fanout_id(), fanout_id);
    EXPECT_EQ(job.object(), "projects/p1");
    EXPECT_EQ(job.nonce(), nonce);
    EXPECT_EQ(job.event().workflow(), "comments");
    EXPECT_EQ(job.event().targets_size(), 0);
    EXPECT_EQ(call.args[call.args.size() - 2], "projects/p1");
    EXPECT_EQ(call.args.back(), "comments");
  }
  EXPECT_TRUE(found);

  // Without an idempotency key an object alone still needs the script.
  v1::TriggerRequest only_object;
  only_object.set_workflow("comments");
  *only_object.add_recipients()->mutable_object() = request.recipients(1).object();
  planned = Plan(only_object);
  ASSERT_TRUE(planned.ok()) << planned.status();
  ASSERT_EQ(planned->commands.size(), 1u);
  EXPECT_EQ(planned->commands[0][0], "EVALSHA");
  ScriptCall call = ParseEvalsha(planned->commands[0]);
  EXPECT_EQ(call.args[1], "");  // no user recipient in that partition: no event
  EXPECT_EQ(planned->response.runs_size(), 0);
  ASSERT_EQ(planned->response.fanouts_size(), 1);
  EXPECT_NE(planned->response.fanouts(0).fanout_id(), fanout_id);  // a random nonce
}

redis::Reply Integer(int64_t value) {
  redis::Reply reply;
  reply.type = redis::Reply::Type::kInteger;
  reply.integer = value;
  return reply;
}

redis::Reply EntryId() {
  redis::Reply reply;
  reply.type = redis::Reply::Type::kString;
  reply.str = "1700000000000-0";
  return reply;
}

TEST(ApplyTriggerRepliesTest, DuplicateOnlyWhenEveryWriteWasAlreadyDone) {
  v1::TriggerResponse response;
  std::vector<absl::StatusOr<redis::Reply>> replies = {Integer(1), Integer(0), Integer(0), EntryId()};
  ASSERT_TRUE(ApplyTriggerReplies(replies, 1, 2, &response).ok());
  EXPECT_TRUE(response.duplicate());
  ASSERT_TRUE(ApplyTriggerReplies(replies, 0, 2, &response).ok());
  EXPECT_FALSE(response.duplicate());
  ASSERT_TRUE(ApplyTriggerReplies(replies, 2, 2, &response).ok());
  EXPECT_FALSE(response.duplicate());  // an XADD's entry id is a fresh write
  ASSERT_TRUE(ApplyTriggerReplies(replies, 0, 0, &response).ok());
  EXPECT_FALSE(response.duplicate());

  replies.push_back(absl::UnavailableError("connection reset"));
  absl::Status status = ApplyTriggerReplies(replies, 3, 2, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status.message(), "connection reset");
}

class PlanCancelTest : public ::testing::Test {
 protected:
  std::string Refusal(const v1::CancelRequest& request) {
    auto planned = PlanCancel(request, *workflows_, kPartitions, 1000);
    if (planned.ok()) return "(accepted)";
    EXPECT_EQ(planned.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(planned.status().message());
  }
  std::unique_ptr<workflow::Registry> workflows_ = Workflows();
};

TEST_F(PlanCancelTest, RefusalsNameTheField) {
  v1::CancelRequest request;
  EXPECT_EQ(Refusal(request), "workflow: is required");
  request.set_workflow("nope");
  EXPECT_EQ(Refusal(request), "workflow: unknown workflow 'nope'");
  request.set_workflow("comments");
  EXPECT_EQ(Refusal(request), "cancellation_key: is required");
  request.set_cancellation_key(std::string(257, 'c'));
  EXPECT_EQ(Refusal(request), "cancellation_key: longer than 256 bytes");
  request.set_cancellation_key("post-1");
  request.add_recipients("rita");
  request.add_recipients("");
  EXPECT_EQ(Refusal(request), "recipients[1]: must not be empty");
  request.set_recipients(1, "b\x7fo");
  EXPECT_EQ(Refusal(request), "recipients[1]: contains a control character");
  request.clear_recipients();
  for (int i = 0; i < 1001; ++i) request.add_recipients(absl::StrCat("u", i));
  EXPECT_EQ(Refusal(request), "recipients: at most 1000 per call");
}

TEST_F(PlanCancelTest, OneCommandPerPartitionTouchedOrEveryPartition) {
  v1::CancelRequest request;
  request.set_workflow("comments");
  request.set_cancellation_key("post-1");
  auto all = PlanCancel(request, *workflows_, kPartitions, 1000);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), static_cast<size_t>(kPartitions));
  std::set<int> partitions;
  for (const redis::Command& command : *all) partitions.insert(PartitionOfCommand(command));
  EXPECT_EQ(partitions, (std::set<int>{0, 1, 2, 3}));

  Spread spread = SpreadIds(2);
  for (const std::string& id : {spread.distinct[0], spread.same_as_first, spread.distinct[1]}) {
    request.add_recipients(id);
  }
  auto some = PlanCancel(request, *workflows_, kPartitions, 1000);
  ASSERT_TRUE(some.ok()) << some.status();
  ASSERT_EQ(some->size(), 2u);
  partitions.clear();
  for (const redis::Command& command : *some) {
    int partition = PartitionOfCommand(command);
    partitions.insert(partition);
    ScriptCall call = ParseEvalsha(command);
    const size_t listed = partition == spread.partitions[0] ? 2 : 1;
    // timer, older timer, inline waits, delays, "*" index, recipients set, one index each
    EXPECT_EQ(call.keys.size(), 6 + listed);
    EXPECT_EQ(call.args.back(), "listed");
  }
  EXPECT_EQ(partitions, (std::set<int>{spread.partitions[0], spread.partitions[1]}));
}

}  // namespace
}  // namespace herald::api

namespace herald::api {
namespace {

TEST_F(TriggerPlannerTest, TheLaneChoosesEveryEventStreamAndTheFanoutPages) {
  Spread spread = SpreadIds(2);
  v1::TriggerRequest request = Request({spread.distinct[0], spread.distinct[1]});
  v1::InlineUser* user = request.add_recipients()->mutable_user();  // a script in its partition
  user->set_id(spread.same_as_first);
  v1::ObjectRef* object = request.add_recipients()->mutable_object();
  object->set_collection("projects");
  object->set_id("p1");
  for (Lane lane : {Lane::kNormal, Lane::kBulk}) {
    auto planned = PlanTrigger(request, *workflows_, limits_, kPartitions, kNowUs, "", lane);
    ASSERT_TRUE(planned.ok()) << planned.status();
    int jobs = 0;
    for (const redis::Command& command : planned->commands) {
      const Keys keys(PartitionOfCommand(command));
      if (command[0] == "XADD") {
        EXPECT_EQ(command[1], keys.Events(lane));
        continue;
      }
      ScriptCall call = ParseEvalsha(command);
      EXPECT_EQ(call.keys[0], keys.Events(lane)) << LaneName(lane);
      if (call.keys.back() != keys.Fanout(planned->response.fanouts(0).fanout_id())) continue;
      v1::internal::ObjectFanoutJob job;
      ASSERT_TRUE(job.ParseFromString(call.args[call.args.size() - 3]));
      EXPECT_EQ(job.bulk(), lane == Lane::kBulk) << "the pages follow the trigger's lane";
      ++jobs;
    }
    EXPECT_EQ(jobs, 1);
  }
}

}  // namespace
}  // namespace herald::api
