// One unary call, the same way for every method: check the caller's API key
// (when keys are configured; UNAUTHENTICATED before anything else is looked
// at), decode the request from its bytes (a bad request is
// INVALID_ARGUMENT naming the field), hand it
// to the handler with a Finish callback, and when the handler finishes,
// encode the response, record the gRPC metrics and finish the reactor.
// Handlers never block: they call Finish from wherever their work
// completes (a Redis pipeline callback, the admin thread, or at once).
#pragma once

#include <chrono>
#include <string>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "auth/api_keys.h"
#include "services/api/grpc_metrics.h"
#include "services/api/grpc_status.h"
#include "services/api/request_decoding.h"

namespace herald::api {

// Called exactly once by a handler with the call's outcome; the response
// is sent only when the status is OK.
using Finish = absl::AnyInvocable<void(absl::Status) &&>;

// Who made a call.
struct Caller {
  // The SHA-256 hex of the API key it presented; empty when Herald runs
  // without keys.
  std::string api_key_hash;
};

// Owns one call's request and response until it finishes (then deletes
// itself). Not thread-safe; the handler owns it until it calls Finish.
template <typename Request, typename Response>
class UnaryCall {
 public:
  // `handler` is called as handler(const Caller&, const Request&,
  // Response*, Finish). `api_keys` null: every caller is served.
  template <typename Handler>
  static grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
                                         grpc::ByteBuffer* response_bytes, GrpcServerMetrics& metrics,
                                         int method_index, const auth::ApiKeys* api_keys, Handler&& handler) {
    auto* call = new UnaryCall(context->DefaultReactor(), response_bytes, metrics, method_index);
    // Taken first: the handler may finish (and delete) the call at once.
    grpc::ServerUnaryReactor* reactor = call->reactor_;
    Caller caller;
    if (api_keys != nullptr) {
      absl::StatusOr<std::string> key_hash = api_keys->Authenticate(*context);
      if (!key_hash.ok()) {
        call->Done(key_hash.status());
        return reactor;
      }
      caller.api_key_hash = std::move(*key_hash);
    }
    absl::Status decoded = DecodeRequest(*request_bytes, &call->request_);
    if (!decoded.ok()) {
      call->Done(decoded);
      return reactor;
    }
    std::forward<Handler>(handler)(caller, call->request_, &call->response_,
                                   Finish([call](absl::Status status) { call->Done(status); }));
    return reactor;
  }

 private:
  UnaryCall(grpc::ServerUnaryReactor* reactor, grpc::ByteBuffer* response_bytes, GrpcServerMetrics& metrics,
            int method_index)
      : reactor_(reactor),
        response_bytes_(response_bytes),
        metrics_(metrics),
        method_index_(method_index),
        start_(std::chrono::steady_clock::now()) {}

  void Done(absl::Status status) {
    if (status.ok()) {
      bool own_buffer = false;
      grpc::Status encoded = grpc::SerializationTraits<Response>::Serialize(response_, response_bytes_, &own_buffer);
      if (!encoded.ok()) status = absl::InternalError("response: cannot be encoded");
    }
    metrics_.Record(method_index_, status,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    reactor_->Finish(ToGrpcStatus(status));
    delete this;
  }

  grpc::ServerUnaryReactor* const reactor_;
  grpc::ByteBuffer* const response_bytes_;
  GrpcServerMetrics& metrics_;
  const int method_index_;
  const std::chrono::steady_clock::time_point start_;
  Request request_;
  Response response_;
};

}  // namespace herald::api
