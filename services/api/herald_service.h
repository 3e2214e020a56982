// The public gRPC API (herald.v1.Herald) over the callback API. Every
// method is served the same way (unary_call.h): the caller's API key is
// checked (when keys are configured), its request bytes are
// decoded here rather than by generated code, so a malformed request is
// INVALID_ARGUMENT naming the field; then a handler of the method's
// resource (triggers, workflows, users, objects, tenants, feed,
// preferences, messages) does the work without blocking a gRPC thread.
#pragma once

#include <memory>

#include "herald/v1/herald.grpc.pb.h"
#include "prometheus/registry.h"
#include "services/api/backend.h"
#include "services/api/dead_letter_handlers.h"
#include "services/api/event_writer.h"
#include "services/api/feed_handlers.h"
#include "services/api/grpc_metrics.h"
#include "services/api/message_handlers.h"
#include "services/api/object_handlers.h"
#include "services/api/preference_handlers.h"
#include "services/api/tenant_handlers.h"
#include "services/api/tenant_lanes.h"
#include "services/api/trigger_handlers.h"
#include "services/api/trigger_rate_limiter.h"
#include "services/api/user_handlers.h"
#include "services/api/watch_feed_call.h"
#include "services/api/workflow_handlers.h"

namespace herald::api {

// Every RPC of herald.v1.Herald: X(method, request type, response type,
// handlers member).
#define HERALD_RPCS(X)                                                                  \
  X(Trigger, TriggerRequest, TriggerResponse, triggers_)                                \
  X(TriggerBatch, TriggerBatchRequest, TriggerBatchResponse, triggers_)                 \
  X(Cancel, CancelRequest, CancelResponse, triggers_)                                   \
  X(ListWorkflows, ListWorkflowsRequest, ListWorkflowsResponse, workflows_)             \
  X(GetWorkflow, GetWorkflowRequest, Workflow, workflows_)                              \
  X(IdentifyUser, IdentifyUserRequest, User, users_)                                    \
  X(GetUser, GetUserRequest, User, users_)                                              \
  X(BulkIdentifyUsers, BulkIdentifyUsersRequest, BulkIdentifyUsersResponse, users_)     \
  X(DeleteUser, DeleteUserRequest, DeleteUserResponse, users_)                          \
  X(MergeUsers, MergeUsersRequest, User, users_)                                        \
  X(SetChannelData, SetChannelDataRequest, ChannelData, users_)                         \
  X(GetChannelData, ChannelDataRequest, ChannelData, users_)                            \
  X(UnsetChannelData, ChannelDataRequest, UnsetChannelDataResponse, users_)             \
  X(IdentifyObject, IdentifyObjectRequest, Object, objects_)                            \
  X(GetObject, ObjectRequest, Object, objects_)                                         \
  X(DeleteObject, ObjectRequest, DeleteObjectResponse, objects_)                        \
  X(Subscribe, SubscriptionsRequest, SubscriptionsResponse, objects_)                   \
  X(Unsubscribe, SubscriptionsRequest, SubscriptionsResponse, objects_)                 \
  X(ListSubscribers, ListSubscribersRequest, ListSubscribersResponse, objects_)         \
  X(GetObjectFanout, GetObjectFanoutRequest, ObjectFanout, objects_)                    \
  X(IdentifyTenant, IdentifyTenantRequest, Tenant, tenants_)                            \
  X(GetTenant, TenantRequest, Tenant, tenants_)                                         \
  X(DeleteTenant, TenantRequest, DeleteTenantResponse, tenants_)                        \
  X(GetMessage, GetMessageRequest, Message, messages_)                                  \
  X(ListFeed, ListFeedRequest, ListFeedResponse, feed_)                                 \
  X(MarkFeedItems, MarkFeedItemsRequest, MarkFeedItemsResponse, feed_)                  \
  X(SetPreferences, SetPreferencesRequest, Preferences, preferences_)                   \
  X(GetPreferences, GetPreferencesRequest, Preferences, preferences_)                   \
  X(ExplainPreferences, ExplainPreferencesRequest, ExplainPreferencesResponse, preferences_) \
  X(ListMessages, ListMessagesRequest, ListMessagesResponse, messages_)                 \
  X(GetMessageEvents, GetMessageEventsRequest, GetMessageEventsResponse, messages_)     \
  X(UpdateMessageStatus, UpdateMessageStatusRequest, Message, messages_)                \
  X(ListDeadLetters, ListDeadLettersRequest, ListDeadLettersResponse, dead_letters_)    \
  X(ReplayDeadLetters, DeadLetterSelection, ReplayDeadLettersResponse, dead_letters_)   \
  X(PurgeDeadLetters, DeadLetterSelection, PurgeDeadLettersResponse, dead_letters_)

namespace internal {

// RawService<Method...>::type is Method1<Method2<...<Herald::Service>>>:
// the generated service with every listed method served from raw bytes.
template <template <class> class... Methods>
struct RawService {
  using type = v1::Herald::Service;
};
template <template <class> class First, template <class> class... Rest>
struct RawService<First, Rest...> {
  using type = First<typename RawService<Rest...>::type>;
};

// Ends the list below (the macro leaves a trailing comma).
template <class Base>
using NoMoreMethods = Base;
#define HERALD_RAW_METHOD(method, request, response, handlers) v1::Herald::WithRawCallbackMethod_##method,
using RawHeraldService =
    RawService<HERALD_RPCS(HERALD_RAW_METHOD) v1::Herald::WithRawCallbackMethod_WatchFeed, NoMoreMethods>::type;
#undef HERALD_RAW_METHOD

}  // namespace internal

// Thread-safe.
class HeraldService final : public internal::RawHeraldService {
 public:
  // `admin` runs the multi-step operations (delete/merge users, delete
  // objects). Everything passed must outlive the service.
  HeraldService(const workflow::Registry& workflows, redis::AsyncPipeline& redis, AdminExecutor& admin,
                const Clock& clock, ServiceOptions options, prometheus::Registry& metrics);

#define HERALD_DECLARE_RPC(method, request, response, handlers)                                             \
  grpc::ServerUnaryReactor* method(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes, \
                                   grpc::ByteBuffer* response_bytes) override;
  HERALD_RPCS(HERALD_DECLARE_RPC)
#undef HERALD_DECLARE_RPC

  // Server streaming (watch_feed_call.h), outside HERALD_RPCS: served from
  // options.feed_watcher.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchFeed(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request_bytes) override;
  // Ends every WatchFeed stream (the drain, before the server's shutdown
  // waits for calls in flight: streams would wait out its deadline).
  void EndWatches() { watches_.EndAll(); }

 private:
  Backend backend_;
  GrpcServerMetrics metrics_;
  TriggerRateLimiter rate_limiter_;
  TenantLanes lanes_;
  EventWriter event_writer_;
  TriggerHandlers triggers_;
  WorkflowHandlers workflows_;
  UserHandlers users_;
  ObjectHandlers objects_;
  TenantHandlers tenants_;
  FeedHandlers feed_;
  PreferenceHandlers preferences_;
  MessageHandlers messages_;
  DeadLetterHandlers dead_letters_;
  WatchCalls watches_;
};

}  // namespace herald::api
