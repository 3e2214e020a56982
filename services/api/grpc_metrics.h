// gRPC server metrics under the names existing dashboards use
// (grpc_server_handled_total{grpc_code,grpc_method,grpc_service,grpc_type}
// and grpc_server_handling_seconds), every child built once at start for
// every method of the service and every status code.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace herald::api {

// Thread-safe (prometheus-cpp counters are).
class GrpcServerMetrics {
 public:
  GrpcServerMetrics(const google::protobuf::ServiceDescriptor& service, prometheus::Registry& registry);

  // The index of a method of the service, for Record. REQUIRES: the
  // service has the method (a mistake in Herald's own code, checked once).
  int MethodIndex(absl::string_view method) const;
  void Record(int method_index, const absl::Status& status, double seconds);

 private:
  static constexpr int kCodeCount = 17;  // OK .. UNAUTHENTICATED
  struct Method {
    std::string name;
    std::array<prometheus::Counter*, kCodeCount> handled{};
    prometheus::Histogram* latency = nullptr;
  };
  std::vector<Method> methods_;
};

}  // namespace herald::api
