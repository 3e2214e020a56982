// The public gRPC API (callback API): handlers validate, hand Redis work to
// the group-commit pipeline and finish the call from its completion, so no
// gRPC thread ever blocks on Redis.
#pragma once

#include <array>
#include <memory>

#include "core/clock.h"
#include "herald/v1/herald.grpc.pb.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "preferences/preferences.h"
#include "redis/async_pipeline.h"
#include "services/api/admin_executor.h"
#include "services/api/trigger_planner.h"
#include "workflow/registry.h"

namespace herald::api {

// gRPC server metrics under the names existing dashboards use.
class GrpcMetrics {
 public:
  enum Method {
    kTrigger,
    kTriggerBatch,
    kCancel,
    kListWorkflows,
    kGetWorkflow,
    kIdentifyUser,
    kGetUser,
    kListFeed,
    kMarkFeedItems,
    kSetPreferences,
    kGetPreferences,
    kExplainPreferences,
    kBulkIdentifyUsers,
    kDeleteUser,
    kMergeUsers,
    kSetChannelData,
    kGetChannelData,
    kUnsetChannelData,
    kIdentifyObject,
    kGetObject,
    kDeleteObject,
    kSubscribe,
    kUnsubscribe,
    kListSubscribers,
    kGetObjectFanout,
    kIdentifyTenant,
    kGetTenant,
    kDeleteTenant,
    kGetMessage,
    kMethodCount
  };
  explicit GrpcMetrics(prometheus::Registry& registry);
  void Record(Method method, const absl::Status& status, double seconds);

 private:
  static constexpr int kCodeCount = 17;
  std::array<std::array<prometheus::Counter*, kCodeCount>, kMethodCount> handled_{};
  std::array<prometheus::Histogram*, kMethodCount> latency_{};
};

struct ServiceOptions {
  int partitions = 4;
  TriggerLimits limits;
  // The environment's default preference set, for explanations.
  std::shared_ptr<const preferences::PreferenceSet> default_preferences;
};

// Thread-safe.
class HeraldService final : public v1::Herald::CallbackService {
 public:
  // `admin` runs the multi-step operations (delete/merge users, delete
  // objects).
  HeraldService(const workflow::Registry& workflows, redis::AsyncPipeline& redis, AdminExecutor& admin,
                const Clock& clock, ServiceOptions options, prometheus::Registry& metrics);

  grpc::ServerUnaryReactor* Trigger(grpc::CallbackServerContext* context, const v1::TriggerRequest* request,
                                    v1::TriggerResponse* response) override;
  grpc::ServerUnaryReactor* TriggerBatch(grpc::CallbackServerContext* context, const v1::TriggerBatchRequest* request,
                                         v1::TriggerBatchResponse* response) override;
  grpc::ServerUnaryReactor* Cancel(grpc::CallbackServerContext* context, const v1::CancelRequest* request,
                                   v1::CancelResponse* response) override;
  grpc::ServerUnaryReactor* ListWorkflows(grpc::CallbackServerContext* context,
                                          const v1::ListWorkflowsRequest* request,
                                          v1::ListWorkflowsResponse* response) override;
  grpc::ServerUnaryReactor* GetWorkflow(grpc::CallbackServerContext* context, const v1::GetWorkflowRequest* request,
                                        v1::Workflow* response) override;
  grpc::ServerUnaryReactor* IdentifyUser(grpc::CallbackServerContext* context, const v1::IdentifyUserRequest* request,
                                         v1::User* response) override;
  grpc::ServerUnaryReactor* GetUser(grpc::CallbackServerContext* context, const v1::GetUserRequest* request,
                                    v1::User* response) override;
  grpc::ServerUnaryReactor* ListFeed(grpc::CallbackServerContext* context, const v1::ListFeedRequest* request,
                                     v1::ListFeedResponse* response) override;
  grpc::ServerUnaryReactor* MarkFeedItems(grpc::CallbackServerContext* context,
                                          const v1::MarkFeedItemsRequest* request,
                                          v1::MarkFeedItemsResponse* response) override;
  grpc::ServerUnaryReactor* SetPreferences(grpc::CallbackServerContext* context,
                                           const v1::SetPreferencesRequest* request,
                                           v1::Preferences* response) override;
  grpc::ServerUnaryReactor* GetPreferences(grpc::CallbackServerContext* context,
                                           const v1::GetPreferencesRequest* request,
                                           v1::Preferences* response) override;
  grpc::ServerUnaryReactor* ExplainPreferences(grpc::CallbackServerContext* context,
                                               const v1::ExplainPreferencesRequest* request,
                                               v1::ExplainPreferencesResponse* response) override;

#define HERALD_UNARY(Method, Request, Response)                                                   \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* context, const v1::Request* request, \
                                   v1::Response* response) override;
  HERALD_UNARY(BulkIdentifyUsers, BulkIdentifyUsersRequest, BulkIdentifyUsersResponse)
  HERALD_UNARY(DeleteUser, DeleteUserRequest, DeleteUserResponse)
  HERALD_UNARY(MergeUsers, MergeUsersRequest, User)
  HERALD_UNARY(SetChannelData, SetChannelDataRequest, ChannelData)
  HERALD_UNARY(GetChannelData, ChannelDataRequest, ChannelData)
  HERALD_UNARY(UnsetChannelData, ChannelDataRequest, UnsetChannelDataResponse)
  HERALD_UNARY(IdentifyObject, IdentifyObjectRequest, Object)
  HERALD_UNARY(GetObject, ObjectRequest, Object)
  HERALD_UNARY(DeleteObject, ObjectRequest, DeleteObjectResponse)
  HERALD_UNARY(Subscribe, SubscriptionsRequest, SubscriptionsResponse)
  HERALD_UNARY(Unsubscribe, SubscriptionsRequest, SubscriptionsResponse)
  HERALD_UNARY(ListSubscribers, ListSubscribersRequest, ListSubscribersResponse)
  HERALD_UNARY(GetObjectFanout, GetObjectFanoutRequest, ObjectFanout)
  HERALD_UNARY(IdentifyTenant, IdentifyTenantRequest, Tenant)
  HERALD_UNARY(GetTenant, TenantRequest, Tenant)
  HERALD_UNARY(DeleteTenant, TenantRequest, DeleteTenantResponse)
  HERALD_UNARY(GetMessage, GetMessageRequest, Message)
#undef HERALD_UNARY

 private:
  class Call;
  Call* Begin(grpc::CallbackServerContext* context, GrpcMetrics::Method method);
  // Finishes `call` with `status` and returns its reactor (for rejections
  // before any Redis work).
  static grpc::ServerUnaryReactor* Reject(Call* call, const absl::Status& status);
  // Runs `commands`; the first failed result finishes the call, otherwise
  // `apply(results)` gives the status to finish with.
  grpc::ServerUnaryReactor* SubmitAndFinish(
      Call* call, std::vector<redis::Command> commands,
      absl::AnyInvocable<absl::Status(const redis::AsyncPipeline::Results&) &&> apply);
  grpc::ServerUnaryReactor* ChangeSubscriptions(Call* call, const v1::SubscriptionsRequest& request, bool subscribe,
                                                v1::SubscriptionsResponse* response);
  // Runs `operation` on the admin thread and finishes with its status.
  grpc::ServerUnaryReactor* RunAdmin(Call* call, absl::AnyInvocable<absl::Status(redis::RedisClient&) &&> operation);

  const workflow::Registry& workflows_;
  redis::AsyncPipeline& redis_;
  AdminExecutor& admin_;
  const Clock& clock_;
  const ServiceOptions options_;
  GrpcMetrics metrics_;
};

// Describes a workflow for the API and the CLI.
v1::Workflow DescribeWorkflow(const workflow::Workflow& workflow);

}  // namespace herald::api
