#include "services/api/grpc_metrics.h"

#include <cstdlib>

#include "core/log.h"

namespace herald::api {
namespace {

// The names grpc-go and the Prometheus gRPC interceptors use for codes.
constexpr const char* kCodeNames[] = {"OK",           "Canceled",          "Unknown",          "InvalidArgument",
                                      "DeadlineExceeded", "NotFound",      "AlreadyExists",    "PermissionDenied",
                                      "ResourceExhausted", "FailedPrecondition", "Aborted",    "OutOfRange",
                                      "Unimplemented", "Internal",         "Unavailable",      "DataLoss",
                                      "Unauthenticated"};

}  // namespace

GrpcServerMetrics::GrpcServerMetrics(const google::protobuf::ServiceDescriptor& service,
                                     prometheus::Registry& registry) {
  static_assert(sizeof(kCodeNames) / sizeof(kCodeNames[0]) == kCodeCount);
  auto& handled = prometheus::BuildCounter()
                      .Name("grpc_server_handled_total")
                      .Help("Total number of RPCs completed on the server, regardless of success or failure.")
                      .Register(registry);
  auto& latency = prometheus::BuildHistogram()
                      .Name("grpc_server_handling_seconds")
                      .Help("Histogram of response latency (seconds) of gRPC that had been application-level "
                            "handled by the server.")
                      .Register(registry);
  for (int m = 0; m < service.method_count(); ++m) {
    Method& method = methods_.emplace_back();
    method.name = service.method(m)->name();
    const std::string type = service.method(m)->server_streaming() ? "server_stream" : "unary";
    for (int c = 0; c < kCodeCount; ++c) {
      method.handled[c] = &handled.Add({{"grpc_service", service.full_name()},
                                        {"grpc_method", method.name},
                                        {"grpc_type", type},
                                        {"grpc_code", kCodeNames[c]}});
    }
    method.latency = &latency.Add(
        {{"grpc_service", service.full_name()}, {"grpc_method", method.name}, {"grpc_type", type}},
        prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                2.5, 5});
  }
}

int GrpcServerMetrics::MethodIndex(absl::string_view method) const {
  for (size_t i = 0; i < methods_.size(); ++i) {
    if (methods_[i].name == method) return static_cast<int>(i);
  }
  // A broken invariant (a handler for a method the service does not have).
  log::Error("api", "no gRPC method to record metrics for", {{"method", method}});
  std::abort();
}

void GrpcServerMetrics::Record(int method_index, const absl::Status& status, double seconds) {
  int code = static_cast<int>(status.code());
  if (code < 0 || code >= kCodeCount) code = static_cast<int>(absl::StatusCode::kUnknown);
  Method& method = methods_[method_index];
  method.handled[code]->Increment();
  method.latency->Observe(seconds);
}

}  // namespace herald::api
