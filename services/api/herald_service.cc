#include "services/api/herald_service.h"

#include <type_traits>

namespace herald::api {
namespace {

// Calls a handler with the caller when it takes one (the trigger handlers,
// for their rate limits), else without.
template <typename Group, typename Class, typename Request, typename Response>
void CallHandler(const Group& group, void (Class::*method)(const Request&, Response*, Finish) const, const Caller&,
                 const Request& request, Response* response, Finish finish) {
  (group.*method)(request, response, std::move(finish));
}
template <typename Group, typename Class, typename Request, typename Response>
void CallHandler(const Group& group, void (Class::*method)(const Caller&, const Request&, Response*, Finish) const,
                 const Caller& caller, const Request& request, Response* response, Finish finish) {
  (group.*method)(caller, request, response, std::move(finish));
}

}  // namespace

HeraldService::HeraldService(const workflow::Registry& workflows, redis::AsyncPipeline& redis, AdminExecutor& admin,
                             const Clock& clock, ServiceOptions options, prometheus::Registry& metrics)
    : backend_(workflows, redis, admin, clock, std::move(options)),
      metrics_(*v1::TriggerRequest::descriptor()->file()->FindServiceByName("Herald"), metrics),
      rate_limiter_(redis, clock, backend_.options().rate_limits, metrics),
      lanes_(backend_.options().lanes, metrics),
      event_writer_(redis, metrics),
      triggers_(backend_, rate_limiter_, event_writer_, lanes_),
      workflows_(backend_),
      users_(backend_),
      objects_(backend_),
      tenants_(backend_),
      feed_(backend_),
      preferences_(backend_),
      messages_(backend_),
      dead_letters_(backend_) {}

#define HERALD_DEFINE_RPC(method, request_type, response_type, handlers)                                     \
  grpc::ServerUnaryReactor* HeraldService::method(grpc::CallbackServerContext* context,                       \
                                                  const grpc::ByteBuffer* request_bytes,                      \
                                                  grpc::ByteBuffer* response_bytes) {                         \
    static const int method_index = metrics_.MethodIndex(#method);                                           \
    return UnaryCall<v1::request_type, v1::response_type>::Serve(                                             \
        context, request_bytes, response_bytes, metrics_, method_index, backend_.options().api_keys,          \
        [this](const Caller& caller, const v1::request_type& request, v1::response_type* response,            \
               Finish finish) {                                                                               \
          CallHandler(handlers, &std::remove_cvref_t<decltype(handlers)>::method, caller, request, response,  \
                      std::move(finish));                                                                     \
        });                                                                                                   \
  }
HERALD_RPCS(HERALD_DEFINE_RPC)
#undef HERALD_DEFINE_RPC

grpc::ServerWriteReactor<grpc::ByteBuffer>* HeraldService::WatchFeed(grpc::CallbackServerContext* context,
                                                                     const grpc::ByteBuffer* request_bytes) {
  static const int method_index = metrics_.MethodIndex("WatchFeed");
  WatchFeedSettings settings;
  settings.api_keys = backend_.options().api_keys;
  settings.watcher = backend_.options().feed_watcher;
  return StartWatchFeed(context, request_bytes, settings, watches_, metrics_, method_index);
}

}  // namespace herald::api
