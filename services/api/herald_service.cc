#include "services/api/herald_service.h"

namespace herald::api {

HeraldService::HeraldService(const workflow::Registry& workflows, redis::AsyncPipeline& redis, AdminExecutor& admin,
                             const Clock& clock, ServiceOptions options, prometheus::Registry& metrics)
    : backend_(workflows, redis, admin, clock, std::move(options)),
      metrics_(*v1::TriggerRequest::descriptor()->file()->FindServiceByName("Herald"), metrics),
      triggers_(backend_),
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
        context, request_bytes, response_bytes, metrics_, method_index,                                       \
        [this](const v1::request_type& request, v1::response_type* response, Finish finish) {                 \
          handlers.method(request, response, std::move(finish));                                              \
        });                                                                                                   \
  }
HERALD_RPCS(HERALD_DEFINE_RPC)
#undef HERALD_DEFINE_RPC

}  // namespace herald::api
