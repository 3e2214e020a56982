#include "services/api/herald_service.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "core/keys.h"
#include "feed/feed_store.h"
#include "services/api/grpc_status.h"
#include "preferences/preference_store.h"
#include "objects/fanout_job.h"
#include "objects/object_store.h"
#include "services/api/user_admin.h"
#include "tenants/tenant_store.h"
#include "users/channel_data.h"
#include "users/user_store.h"

namespace herald::api {
namespace {

constexpr const char* kMethodNames[] = {
    "Trigger",          "TriggerBatch",   "Cancel",           "ListWorkflows",   "GetWorkflow",
    "IdentifyUser",     "GetUser",        "ListFeed",         "MarkFeedItems",   "SetPreferences",
    "GetPreferences",   "ExplainPreferences", "BulkIdentifyUsers", "DeleteUser",  "MergeUsers",
    "SetChannelData",   "GetChannelData", "UnsetChannelData", "IdentifyObject",  "GetObject",
    "DeleteObject",     "Subscribe",      "Unsubscribe",      "ListSubscribers", "GetObjectFanout",
    "IdentifyTenant",   "GetTenant",      "DeleteTenant",     "GetMessage"};
static_assert(sizeof(kMethodNames) / sizeof(kMethodNames[0]) == GrpcMetrics::kMethodCount);
constexpr const char* kCodeNames[] = {"OK",
                                      "Canceled",
                                      "Unknown",
                                      "InvalidArgument",
                                      "DeadlineExceeded",
                                      "NotFound",
                                      "AlreadyExists",
                                      "PermissionDenied",
                                      "ResourceExhausted",
                                      "FailedPrecondition",
                                      "Aborted",
                                      "OutOfRange",
                                      "Unimplemented",
                                      "Internal",
                                      "Unavailable",
                                      "DataLoss",
                                      "Unauthenticated"};
constexpr char kServiceName[] = "herald.v1.Herald";

}  // namespace

GrpcMetrics::GrpcMetrics(prometheus::Registry& registry) {
  auto& handled = prometheus::BuildCounter()
                      .Name("grpc_server_handled_total")
                      .Help("Total number of RPCs completed on the server, regardless of success or failure.")
                      .Register(registry);
  auto& latency = prometheus::BuildHistogram()
                      .Name("grpc_server_handling_seconds")
                      .Help("Histogram of response latency (seconds) of gRPC that had been application-level "
                            "handled by the server.")
                      .Register(registry);
  for (int m = 0; m < kMethodCount; ++m) {
    for (int c = 0; c < kCodeCount; ++c) {
      handled_[m][c] = &handled.Add(
          {{"grpc_service", kServiceName}, {"grpc_method", kMethodNames[m]}, {"grpc_type", "unary"},
           {"grpc_code", kCodeNames[c]}});
    }
    latency_[m] = &latency.Add({{"grpc_service", kServiceName}, {"grpc_method", kMethodNames[m]}, {"grpc_type", "unary"}},
                               prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                       0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
  }
}

void GrpcMetrics::Record(Method method, const absl::Status& status, double seconds) {
  int code = static_cast<int>(status.code());
  if (code < 0 || code >= kCodeCount) code = static_cast<int>(absl::StatusCode::kUnknown);
  handled_[method][code]->Increment();
  latency_[method]->Observe(seconds);
}

// One call in flight: finishes the reactor once and records its metrics.
class HeraldService::Call {
 public:
  Call(grpc::CallbackServerContext* context, GrpcMetrics& metrics, GrpcMetrics::Method method)
      : reactor_(context->DefaultReactor()),
        metrics_(metrics),
        method_(method),
        start_(std::chrono::steady_clock::now()) {}

  grpc::ServerUnaryReactor* reactor() { return reactor_; }

  // Deletes this call.
  void Finish(const absl::Status& status) {
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    metrics_.Record(method_, status, seconds);
    reactor_->Finish(ToGrpcStatus(status));
    delete this;
  }

 private:
  grpc::ServerUnaryReactor* reactor_;
  GrpcMetrics& metrics_;
  GrpcMetrics::Method method_;
  std::chrono::steady_clock::time_point start_;
};

HeraldService::HeraldService(const workflow::Registry& workflows, redis::AsyncPipeline& redis, AdminExecutor& admin,
                             const Clock& clock, ServiceOptions options, prometheus::Registry& metrics)
    : workflows_(workflows), redis_(redis), admin_(admin), clock_(clock), options_(options), metrics_(metrics) {}

grpc::ServerUnaryReactor* HeraldService::Reject(Call* call, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = call->reactor();
  call->Finish(status);
  return reactor;
}

grpc::ServerUnaryReactor* HeraldService::SubmitAndFinish(
    Call* call, std::vector<redis::Command> commands,
    absl::AnyInvocable<absl::Status(const redis::AsyncPipeline::Results&) &&> apply) {
  grpc::ServerUnaryReactor* reactor = call->reactor();
  redis_.Submit(std::move(commands), [call, apply = std::move(apply)](redis::AsyncPipeline::Results results) mutable {
    for (const auto& result : results) {
      if (!result.ok()) return call->Finish(result.status());
    }
    call->Finish(std::move(apply)(results));
  });
  return reactor;
}

grpc::ServerUnaryReactor* HeraldService::RunAdmin(Call* call,
                                                  absl::AnyInvocable<absl::Status(redis::RedisClient&) &&> operation) {
  grpc::ServerUnaryReactor* reactor = call->reactor();
  admin_.Run([call, operation = std::move(operation)](redis::RedisClient* client) mutable {
    if (client == nullptr) return call->Finish(absl::UnavailableError("redis: cannot connect"));
    call->Finish(std::move(operation)(*client));
  });
  return reactor;
}

HeraldService::Call* HeraldService::Begin(grpc::CallbackServerContext* context, GrpcMetrics::Method method) {
  return new Call(context, metrics_, method);
}

grpc::ServerUnaryReactor* HeraldService::Trigger(grpc::CallbackServerContext* context,
                                                 const v1::TriggerRequest* request, v1::TriggerResponse* response) {
  Call* call = Begin(context, GrpcMetrics::kTrigger);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  auto planned = PlanTrigger(*request, workflows_, options_.limits, options_.partitions, clock_.NowMicros());
  if (!planned.ok()) {
    call->Finish(planned.status());
    return reactor;
  }
  *response = std::move(planned->response);
  size_t count = planned->commands.size();
  redis_.Submit(std::move(planned->commands), [call, response, count](redis::AsyncPipeline::Results results) {
    call->Finish(ApplyTriggerReplies(results, 0, count, response));
  });
  return reactor;
}

grpc::ServerUnaryReactor* HeraldService::TriggerBatch(grpc::CallbackServerContext* context,
                                                      const v1::TriggerBatchRequest* request,
                                                      v1::TriggerBatchResponse* response) {
  Call* call = Begin(context, GrpcMetrics::kTriggerBatch);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  if (request->triggers_size() == 0) {
    call->Finish(absl::InvalidArgumentError("triggers: at least one is required"));
    return reactor;
  }
  if (request->triggers_size() > options_.limits.max_batch_triggers) {
    call->Finish(absl::InvalidArgumentError(absl::StrCat("triggers: at most ", options_.limits.max_batch_triggers,
                                                         " per call (got ", request->triggers_size(), ")")));
    return reactor;
  }
  std::vector<redis::Command> commands;
  // For each trigger: [first command, count), or count 0 with an error already set.
  auto ranges = std::make_shared<std::vector<std::pair<size_t, size_t>>>();
  int64_t now_us = clock_.NowMicros();
  for (int i = 0; i < request->triggers_size(); ++i) {
    v1::TriggerResult* result = response->add_results();
    auto planned = PlanTrigger(request->triggers(i), workflows_, options_.limits, options_.partitions, now_us,
                               absl::StrCat("triggers[", i, "]."));
    if (!planned.ok()) {
      result->set_code(static_cast<int>(planned.status().code()));
      result->set_error(std::string(planned.status().message()));
      ranges->emplace_back(commands.size(), 0);
      continue;
    }
    *result->mutable_response() = std::move(planned->response);
    ranges->emplace_back(commands.size(), planned->commands.size());
    for (auto& command : planned->commands) commands.push_back(std::move(command));
  }
  if (commands.empty()) {
    call->Finish(absl::OkStatus());
    return reactor;
  }
  redis_.Submit(std::move(commands), [call, response, ranges](redis::AsyncPipeline::Results results) {
    for (size_t i = 0; i < ranges->size(); ++i) {
      auto [first, count] = (*ranges)[i];
      if (count == 0) continue;
      v1::TriggerResult* result = response->mutable_results(static_cast<int>(i));
      absl::Status status = ApplyTriggerReplies(results, first, count, result->mutable_response());
      if (!status.ok()) {
        result->set_code(static_cast<int>(status.code()));
        result->set_error(std::string(status.message()));
        result->clear_response();
      }
    }
    call->Finish(absl::OkStatus());
  });
  return reactor;
}

grpc::ServerUnaryReactor* HeraldService::Cancel(grpc::CallbackServerContext* context, const v1::CancelRequest* request,
                                                v1::CancelResponse* response) {
  Call* call = Begin(context, GrpcMetrics::kCancel);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  auto commands = PlanCancel(*request, workflows_, options_.partitions, clock_.NowMillis());
  if (!commands.ok()) {
    call->Finish(commands.status());
    return reactor;
  }
  redis_.Submit(std::move(*commands), [call, response](redis::AsyncPipeline::Results results) {
    int64_t cancelled = 0;
    for (auto& result : results) {
      if (!result.ok()) return call->Finish(result.status());
      cancelled += result->integer;
    }
    response->set_cancelled_runs(cancelled);
    call->Finish(absl::OkStatus());
  });
  return reactor;
}

v1::Workflow DescribeWorkflow(const workflow::Workflow& workflow) {
  v1::Workflow out;
  out.set_key(workflow.key);
  out.set_name(workflow.name);
  out.set_source_file(workflow.source_file);
  for (const std::string& category : workflow.categories) out.add_categories(category);
  for (const workflow::Step& step : workflow.steps) {
    v1::WorkflowStep* described = out.add_steps();
    described->set_ref(step.ref);
    described->set_type(workflow::StepTypeName(step.type));
    described->set_summary(step.Summary());
  }
  return out;
}

grpc::ServerUnaryReactor* HeraldService::ListWorkflows(grpc::CallbackServerContext* context,
                                                       const v1::ListWorkflowsRequest* request,
                                                       v1::ListWorkflowsResponse* response) {
  Call* call = Begin(context, GrpcMetrics::kListWorkflows);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  for (const auto& [key, workflow] : workflows_.all()) *response->add_workflows() = DescribeWorkflow(workflow);
  call->Finish(absl::OkStatus());
  return reactor;
}

grpc::ServerUnaryReactor* HeraldService::GetWorkflow(grpc::CallbackServerContext* context,
                                                     const v1::GetWorkflowRequest* request, v1::Workflow* response) {
  Call* call = Begin(context, GrpcMetrics::kGetWorkflow);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  const workflow::Workflow* workflow = workflows_.Find(request->key());
  if (workflow == nullptr) {
    call->Finish(absl::NotFoundError(absl::StrCat("key: no workflow '", request->key().substr(0, 256), "'")));
  } else {
    *response = DescribeWorkflow(*workflow);
    call->Finish(absl::OkStatus());
  }
  return reactor;
}

grpc::ServerUnaryReactor* HeraldService::IdentifyUser(grpc::CallbackServerContext* context,
                                                      const v1::IdentifyUserRequest* request, v1::User* response) {
  Call* call = Begin(context, GrpcMetrics::kIdentifyUser);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  absl::Status valid = users::ValidateInlineUser(request->user(), "user");
  if (!valid.ok()) {
    call->Finish(valid);
    return reactor;
  }
  const std::string id = request->user().id();
  redis::Command command = users::IdentifyCommand(Keys(PartitionOf(id, options_.partitions)).User(id), request->user(),
                                                  clock_.NowMillis());
  redis_.Submit({std::move(command)}, [call, response, id](redis::AsyncPipeline::Results results) {
    if (!results[0].ok()) return call->Finish(results[0].status());
    auto user = users::UserFromReply(id, *results[0]);
    if (user.ok()) *response = std::move(*user);
    call->Finish(user.status());
  });
  return reactor;
}

grpc::ServerUnaryReactor* HeraldService::GetUser(grpc::CallbackServerContext* context,
                                                 const v1::GetUserRequest* request, v1::User* response) {
  Call* call = Begin(context, GrpcMetrics::kGetUser);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  absl::Status valid = users::ValidateId(request->id(), "id");
  if (!valid.ok()) {
    call->Finish(valid);
    return reactor;
  }
  const std::string id = request->id();
  redis_.Submit({{"HGETALL", Keys(PartitionOf(id, options_.partitions)).User(id)}},
                [call, response, id](redis::AsyncPipeline::Results results) {
                  if (!results[0].ok()) return call->Finish(results[0].status());
                  auto user = users::UserFromReply(id, *results[0]);
                  if (user.ok()) *response = std::move(*user);
                  call->Finish(user.status());
                });
  return reactor;
}

grpc::ServerUnaryReactor* HeraldService::ListFeed(grpc::CallbackServerContext* context,
                                                  const v1::ListFeedRequest* request, v1::ListFeedResponse* response) {
  Call* call = Begin(context, GrpcMetrics::kListFeed);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  Keys keys(PartitionOf(request->user_id(), options_.partitions));
  auto command = feed::ListCommand(keys, *request);
  if (!command.ok()) {
    call->Finish(command.status());
    return reactor;
  }
  redis_.Submit({std::move(*command)}, [call, request, response](redis::AsyncPipeline::Results results) {
    if (!results[0].ok()) return call->Finish(results[0].status());
    auto parsed = feed::ParseListReply(*request, *results[0]);
    if (parsed.ok()) *response = std::move(*parsed);
    call->Finish(parsed.status());
  });
  return reactor;
}

grpc::ServerUnaryReactor* HeraldService::MarkFeedItems(grpc::CallbackServerContext* context,
                                                       const v1::MarkFeedItemsRequest* request,
                                                       v1::MarkFeedItemsResponse* response) {
  Call* call = Begin(context, GrpcMetrics::kMarkFeedItems);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  Keys keys(PartitionOf(request->user_id(), options_.partitions));
  auto command = feed::MarkCommand(keys, *request, clock_.NowMillis());
  if (!command.ok()) {
    call->Finish(command.status());
    return reactor;
  }
  redis_.Submit({std::move(*command)}, [call, response](redis::AsyncPipeline::Results results) {
    if (!results[0].ok()) return call->Finish(results[0].status());
    auto parsed = feed::ParseMarkReply(*results[0]);
    if (parsed.ok()) *response = std::move(*parsed);
    call->Finish(parsed.status());
  });
  return reactor;
}

grpc::ServerUnaryReactor* HeraldService::SetPreferences(grpc::CallbackServerContext* context,
                                                        const v1::SetPreferencesRequest* request,
                                                        v1::Preferences* response) {
  Call* call = Begin(context, GrpcMetrics::kSetPreferences);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  preferences::Scope scope{request->user_id(), request->tenant()};
  auto command = preferences::SetCommand(scope, request->preferences_json(), options_.partitions);
  if (!command.ok()) {
    call->Finish(command.status());
    return reactor;
  }
  // The stored (normalized) form is the command's last argument.
  std::string stored = command->back();
  redis_.Submit({std::move(*command)}, [call, request, response, stored](redis::AsyncPipeline::Results results) {
    if (!results[0].ok()) return call->Finish(results[0].status());
    response->set_user_id(request->user_id());
    response->set_tenant(request->tenant());
    response->set_preferences_json(stored);
    call->Finish(absl::OkStatus());
  });
  return reactor;
}

grpc::ServerUnaryReactor* HeraldService::GetPreferences(grpc::CallbackServerContext* context,
                                                        const v1::GetPreferencesRequest* request,
                                                        v1::Preferences* response) {
  Call* call = Begin(context, GrpcMetrics::kGetPreferences);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  preferences::Scope scope{request->user_id(), request->tenant()};
  absl::Status valid = preferences::ValidateScope(scope);
  if (!valid.ok()) {
    call->Finish(valid);
    return reactor;
  }
  redis_.Submit({preferences::GetCommand(scope, options_.partitions)},
                [call, request, response](redis::AsyncPipeline::Results results) {
                  if (!results[0].ok()) return call->Finish(results[0].status());
                  response->set_user_id(request->user_id());
                  response->set_tenant(request->tenant());
                  response->set_preferences_json(preferences::StoredJson(*results[0]));
                  call->Finish(absl::OkStatus());
                });
  return reactor;
}

namespace {

void CopyRules(const std::vector<preferences::Rule>& rules,
               google::protobuf::RepeatedPtrField<v1::PreferenceRule>* out) {
  for (const preferences::Rule& rule : rules) {
    v1::PreferenceRule* added = out->Add();
    added->set_level(preferences::LevelName(rule.level));
    added->set_setting(rule.setting);
    added->set_allows(rule.allows);
    added->set_note(rule.note);
  }
}

}  // namespace

grpc::ServerUnaryReactor* HeraldService::ExplainPreferences(grpc::CallbackServerContext* context,
                                                            const v1::ExplainPreferencesRequest* request,
                                                            v1::ExplainPreferencesResponse* response) {
  Call* call = Begin(context, GrpcMetrics::kExplainPreferences);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  auto fail = [&](absl::Status status) {
    call->Finish(status);
    return reactor;
  };
  absl::Status valid = users::ValidateId(request->user_id(), "user_id");
  if (!valid.ok()) return fail(valid);
  if (!request->tenant().empty()) {
    valid = users::ValidateId(request->tenant(), "tenant");
    if (!valid.ok()) return fail(valid);
  }
  const workflow::Workflow* workflow = workflows_.Find(request->workflow());
  if (workflow == nullptr) {
    return fail(absl::InvalidArgumentError(absl::StrCat("workflow: unknown workflow '", request->workflow(), "'")));
  }
  if (request->channel_type().empty()) return fail(absl::InvalidArgumentError("channel_type: required"));
  auto data = std::make_shared<nlohmann::json>(nlohmann::json::object());
  if (!request->data_json().empty()) {
    *data = nlohmann::json::parse(request->data_json(), nullptr, false);
    if (!data->is_object()) return fail(absl::InvalidArgumentError("data_json: must be a JSON object"));
  }
  const std::string user_id = request->user_id();
  const std::string tenant = request->tenant();
  std::vector<redis::Command> commands = {
      {"HGETALL", Keys(PartitionOf(user_id, options_.partitions)).User(user_id)},
      {"HGETALL", Keys(PartitionOf(user_id, options_.partitions)).Preferences(user_id)}};
  if (!tenant.empty()) {
    commands.push_back({"GET", Keys(PartitionOf(tenant, options_.partitions)).TenantPreferences(tenant)});
  }
  preferences::Question question{workflow->key, workflow->categories, request->channel_type(), workflow->critical};
  std::shared_ptr<const preferences::PreferenceSet> environment = options_.default_preferences;
  redis_.Submit(std::move(commands), [call, response, user_id, tenant, question, data,
                                      environment](redis::AsyncPipeline::Results results) {
    for (const auto& result : results) {
      if (!result.ok()) return call->Finish(result.status());
    }
    auto user = users::UserFromReply(user_id, *results[0]);
    nlohmann::json recipient = user.ok() ? users::UserJson(*user) : nlohmann::json{{"id", user_id}};
    nlohmann::json tenant_json = tenant.empty() ? nlohmann::json(nullptr) : nlohmann::json{{"id", tenant}};
    std::shared_ptr<const preferences::PreferenceSet> user_set;
    absl::flat_hash_map<std::string, std::shared_ptr<const preferences::PreferenceSet>> by_tenant;
    preferences::ParseUserSets(*results[1], &user_set, &by_tenant);
    std::shared_ptr<const preferences::PreferenceSet> tenant_set;
    if (results.size() > 2 && results[2]->type == redis::Reply::Type::kString) {
      tenant_set = preferences::ParseStoredSet(results[2]->str);
    }
    preferences::LevelSets sets;
    sets.environment = environment.get();
    sets.tenant = tenant_set.get();
    sets.user = user_set.get();
    auto found = by_tenant.find(tenant);
    if (!tenant.empty() && found != by_tenant.end()) sets.user_tenant = found->second.get();
    templates::Context context;
    context.Set("recipient", &recipient);
    context.Set("data", data.get());
    context.Set("tenant", &tenant_json);
    preferences::Decision decision = preferences::Evaluate(question, sets, context);
    response->set_send(decision.send);
    response->set_reason(decision.reason);
    response->set_decided_by(decision.decided_by);
    response->set_bypassed(decision.bypassed);
    CopyRules(decision.chain, response->mutable_chain());
    CopyRules(decision.overridden, response->mutable_overridden());
    call->Finish(absl::OkStatus());
  });
  return reactor;
}

grpc::ServerUnaryReactor* HeraldService::BulkIdentifyUsers(grpc::CallbackServerContext* context,
                                                           const v1::BulkIdentifyUsersRequest* request,
                                                           v1::BulkIdentifyUsersResponse* response) {
  Call* call = Begin(context, GrpcMetrics::kBulkIdentifyUsers);
  constexpr int kMaxUsers = 1000;
  if (request->users_size() == 0) return Reject(call, absl::InvalidArgumentError("users: at least one is required"));
  if (request->users_size() > kMaxUsers) {
    return Reject(call, absl::InvalidArgumentError(
                            absl::StrCat("users: at most ", kMaxUsers, " per call (got ", request->users_size(), ")")));
  }
  // Every user is checked before anything is written.
  for (int i = 0; i < request->users_size(); ++i) {
    absl::Status valid = users::ValidateInlineUser(request->users(i), absl::StrCat("users[", i, "]"));
    if (!valid.ok()) return Reject(call, valid);
  }
  std::vector<redis::Command> commands;
  int64_t now_ms = clock_.NowMillis();
  for (const v1::InlineUser& user : request->users()) {
    commands.push_back(users::IdentifyCommand(Keys(PartitionOf(user.id(), options_.partitions)).User(user.id()), user,
                                              now_ms));
  }
  return SubmitAndFinish(call, std::move(commands), [request, response](const redis::AsyncPipeline::Results& results) {
    for (int i = 0; i < request->users_size(); ++i) {
      auto user = users::UserFromReply(request->users(i).id(), *results[i]);
      if (!user.ok()) return user.status();
      *response->add_users() = std::move(*user);
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* HeraldService::DeleteUser(grpc::CallbackServerContext* context,
                                                    const v1::DeleteUserRequest* request,
                                                    v1::DeleteUserResponse* response) {
  Call* call = Begin(context, GrpcMetrics::kDeleteUser);
  absl::Status valid = users::ValidateId(request->id(), "id");
  if (!valid.ok()) return Reject(call, valid);
  int partitions = options_.partitions;
  return RunAdmin(call, [request, response, partitions](redis::RedisClient& client) {
    auto deleted = api::DeleteUser(client, request->id(), partitions);
    if (deleted.ok()) response->set_deleted_keys(*deleted);
    return deleted.status();
  });
}

grpc::ServerUnaryReactor* HeraldService::MergeUsers(grpc::CallbackServerContext* context,
                                                    const v1::MergeUsersRequest* request, v1::User* response) {
  Call* call = Begin(context, GrpcMetrics::kMergeUsers);
  int partitions = options_.partitions;
  int64_t now_ms = clock_.NowMillis();
  return RunAdmin(call, [request, response, partitions, now_ms](redis::RedisClient& client) {
    auto merged = api::MergeUsers(client, request->user_id(), request->from_user_id(), partitions, now_ms);
    if (merged.ok()) *response = std::move(*merged);
    return merged.status();
  });
}

grpc::ServerUnaryReactor* HeraldService::SetChannelData(grpc::CallbackServerContext* context,
                                                        const v1::SetChannelDataRequest* request,
                                                        v1::ChannelData* response) {
  Call* call = Begin(context, GrpcMetrics::kSetChannelData);
  absl::Status valid = users::ValidateChannelKey(request->user_id(), request->channel());
  if (!valid.ok()) return Reject(call, valid);
  auto data = users::ValidateChannelData(request->data_json());
  if (!data.ok()) return Reject(call, data.status());
  std::string stored = data->dump();
  response->set_user_id(request->user_id());
  response->set_channel(request->channel());
  response->set_data_json(stored);
  return SubmitAndFinish(
      call, {users::SetChannelDataCommand(request->user_id(), request->channel(), stored, options_.partitions)},
      [](const redis::AsyncPipeline::Results&) { return absl::OkStatus(); });
}

grpc::ServerUnaryReactor* HeraldService::GetChannelData(grpc::CallbackServerContext* context,
                                                        const v1::ChannelDataRequest* request,
                                                        v1::ChannelData* response) {
  Call* call = Begin(context, GrpcMetrics::kGetChannelData);
  absl::Status valid = users::ValidateChannelKey(request->user_id(), request->channel());
  if (!valid.ok()) return Reject(call, valid);
  return SubmitAndFinish(
      call, {users::GetChannelDataCommand(request->user_id(), request->channel(), options_.partitions)},
      [request, response](const redis::AsyncPipeline::Results& results) {
        if (results[0]->type != redis::Reply::Type::kString) {
          return absl::NotFoundError(absl::StrCat("channel: user '", request->user_id(), "' has no data for channel '",
                                                  request->channel(), "'"));
        }
        response->set_user_id(request->user_id());
        response->set_channel(request->channel());
        response->set_data_json(results[0]->str);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* HeraldService::UnsetChannelData(grpc::CallbackServerContext* context,
                                                          const v1::ChannelDataRequest* request,
                                                          v1::UnsetChannelDataResponse* response) {
  Call* call = Begin(context, GrpcMetrics::kUnsetChannelData);
  absl::Status valid = users::ValidateChannelKey(request->user_id(), request->channel());
  if (!valid.ok()) return Reject(call, valid);
  return SubmitAndFinish(
      call, {users::UnsetChannelDataCommand(request->user_id(), request->channel(), options_.partitions)},
      [response](const redis::AsyncPipeline::Results& results) {
        response->set_existed(results[0]->integer > 0);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* HeraldService::IdentifyObject(grpc::CallbackServerContext* context,
                                                        const v1::IdentifyObjectRequest* request,
                                                        v1::Object* response) {
  Call* call = Begin(context, GrpcMetrics::kIdentifyObject);
  auto command = objects::IdentifyCommand(*request, options_.partitions, clock_.NowMillis());
  if (!command.ok()) return Reject(call, command.status());
  std::string ref = absl::StrCat(request->object().collection(), "/", request->object().id());
  return SubmitAndFinish(call, {std::move(*command)}, [ref, response](const redis::AsyncPipeline::Results& results) {
    auto object = objects::ObjectFromReply(ref, *results[0]);
    if (object.ok()) *response = std::move(*object);
    return object.status();
  });
}

grpc::ServerUnaryReactor* HeraldService::GetObject(grpc::CallbackServerContext* context,
                                                   const v1::ObjectRequest* request, v1::Object* response) {
  Call* call = Begin(context, GrpcMetrics::kGetObject);
  auto ref = objects::ValidateRef(request->object(), "object");
  if (!ref.ok()) return Reject(call, ref.status());
  return SubmitAndFinish(call, {objects::GetCommand(*ref, options_.partitions)},
                         [ref = *ref, response](const redis::AsyncPipeline::Results& results) {
                           auto object = objects::ObjectFromReply(ref, *results[0]);
                           if (object.ok()) *response = std::move(*object);
                           return object.status();
                         });
}

grpc::ServerUnaryReactor* HeraldService::DeleteObject(grpc::CallbackServerContext* context,
                                                      const v1::ObjectRequest* request,
                                                      v1::DeleteObjectResponse* response) {
  Call* call = Begin(context, GrpcMetrics::kDeleteObject);
  auto ref = objects::ValidateRef(request->object(), "object");
  if (!ref.ok()) return Reject(call, ref.status());
  int partitions = options_.partitions;
  return RunAdmin(call, [ref = *ref, response, partitions](redis::RedisClient& client) {
    auto unsubscribed = objects::DeleteObject(client, ref, partitions);
    if (unsubscribed.ok()) response->set_unsubscribed(*unsubscribed);
    return unsubscribed.status();
  });
}

grpc::ServerUnaryReactor* HeraldService::Subscribe(grpc::CallbackServerContext* context,
                                                   const v1::SubscriptionsRequest* request,
                                                   v1::SubscriptionsResponse* response) {
  return ChangeSubscriptions(Begin(context, GrpcMetrics::kSubscribe), *request, /*subscribe=*/true, response);
}

grpc::ServerUnaryReactor* HeraldService::Unsubscribe(grpc::CallbackServerContext* context,
                                                     const v1::SubscriptionsRequest* request,
                                                     v1::SubscriptionsResponse* response) {
  return ChangeSubscriptions(Begin(context, GrpcMetrics::kUnsubscribe), *request, /*subscribe=*/false, response);
}

grpc::ServerUnaryReactor* HeraldService::ChangeSubscriptions(Call* call, const v1::SubscriptionsRequest& request,
                                                             bool subscribe, v1::SubscriptionsResponse* response) {
  auto ref = objects::ValidateRef(request.object(), "object");
  if (!ref.ok()) return Reject(call, ref.status());
  absl::Status valid = objects::ValidateUserIds(request.user_ids());
  if (!valid.ok()) return Reject(call, valid);
  return SubmitAndFinish(call, objects::SubscriptionCommands(*ref, request.user_ids(), subscribe, options_.partitions),
                         [response](const redis::AsyncPipeline::Results& results) {
                           auto parsed = objects::ParseSubscriptionsReply(*results[0]);
                           if (parsed.ok()) *response = std::move(*parsed);
                           return parsed.status();
                         });
}

grpc::ServerUnaryReactor* HeraldService::ListSubscribers(grpc::CallbackServerContext* context,
                                                         const v1::ListSubscribersRequest* request,
                                                         v1::ListSubscribersResponse* response) {
  Call* call = Begin(context, GrpcMetrics::kListSubscribers);
  auto ref = objects::ValidateRef(request->object(), "object");
  if (!ref.ok()) return Reject(call, ref.status());
  auto command = objects::ListCommand(*ref, *request, options_.partitions);
  if (!command.ok()) return Reject(call, command.status());
  return SubmitAndFinish(call, {std::move(*command)},
                         [request, response](const redis::AsyncPipeline::Results& results) {
                           *response = objects::ParseListReply(*request, *results[0]);
                           return absl::OkStatus();
                         });
}

grpc::ServerUnaryReactor* HeraldService::GetObjectFanout(grpc::CallbackServerContext* context,
                                                         const v1::GetObjectFanoutRequest* request,
                                                         v1::ObjectFanout* response) {
  Call* call = Begin(context, GrpcMetrics::kGetObjectFanout);
  auto partition = objects::PartitionOfFanout(request->fanout_id(), options_.partitions);
  if (!partition.ok()) return Reject(call, partition.status());
  return SubmitAndFinish(call, {{"HGETALL", Keys(*partition).Fanout(request->fanout_id())}},
                         [request, response](const redis::AsyncPipeline::Results& results) {
                           auto fanout = objects::FanoutFromReply(request->fanout_id(), *results[0]);
                           if (fanout.ok()) *response = std::move(*fanout);
                           return fanout.status();
                         });
}

grpc::ServerUnaryReactor* HeraldService::IdentifyTenant(grpc::CallbackServerContext* context,
                                                        const v1::IdentifyTenantRequest* request,
                                                        v1::Tenant* response) {
  Call* call = Begin(context, GrpcMetrics::kIdentifyTenant);
  auto command = tenants::IdentifyCommand(*request, options_.partitions, clock_.NowMillis());
  if (!command.ok()) return Reject(call, command.status());
  return SubmitAndFinish(call, {std::move(*command)}, [request, response](const redis::AsyncPipeline::Results& results) {
    auto tenant = tenants::TenantFromReply(request->id(), *results[0]);
    if (tenant.ok()) *response = std::move(*tenant);
    return tenant.status();
  });
}

grpc::ServerUnaryReactor* HeraldService::GetTenant(grpc::CallbackServerContext* context,
                                                   const v1::TenantRequest* request, v1::Tenant* response) {
  Call* call = Begin(context, GrpcMetrics::kGetTenant);
  absl::Status valid = users::ValidateId(request->id(), "id");
  if (!valid.ok()) return Reject(call, valid);
  return SubmitAndFinish(call, {tenants::GetCommand(request->id(), options_.partitions)},
                         [request, response](const redis::AsyncPipeline::Results& results) {
                           auto tenant = tenants::TenantFromReply(request->id(), *results[0]);
                           if (tenant.ok()) *response = std::move(*tenant);
                           return tenant.status();
                         });
}

grpc::ServerUnaryReactor* HeraldService::DeleteTenant(grpc::CallbackServerContext* context,
                                                      const v1::TenantRequest* request,
                                                      v1::DeleteTenantResponse* response) {
  Call* call = Begin(context, GrpcMetrics::kDeleteTenant);
  absl::Status valid = users::ValidateId(request->id(), "id");
  if (!valid.ok()) return Reject(call, valid);
  return SubmitAndFinish(call, {tenants::DeleteCommand(request->id(), options_.partitions)},
                         [request](const redis::AsyncPipeline::Results& results) {
                           if (results[0]->integer == 0) {
                             return absl::NotFoundError(absl::StrCat("id: tenant '", request->id(), "' not found"));
                           }
                           return absl::OkStatus();
                         });
}

grpc::ServerUnaryReactor* HeraldService::GetMessage(grpc::CallbackServerContext* context,
                                                    const v1::GetMessageRequest* request, v1::Message* response) {
  Call* call = Begin(context, GrpcMetrics::kGetMessage);
  absl::Status valid = users::ValidateId(request->user_id(), "user_id");
  if (valid.ok()) valid = users::ValidateId(request->message_id(), "message_id");
  if (!valid.ok()) return Reject(call, valid);
  Keys keys(PartitionOf(request->user_id(), options_.partitions));
  return SubmitAndFinish(call, {feed::GetMessageCommand(keys, request->message_id())},
                         [request, response](const redis::AsyncPipeline::Results& results) {
                           auto message = feed::MessageFromReply(request->user_id(), request->message_id(), *results[0]);
                           if (message.ok()) *response = std::move(*message);
                           return message.status();
                         });
}

}  // namespace herald::api
