// A grpc.health.v1.Health/Check client for tests, with the two one-field
// messages encoded by hand (gRPC's health.proto is not installed by the
// Debian packages, and generic calls need no generated code).
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"

namespace herald::testing {

// grpc.health.v1.HealthCheckResponse.ServingStatus values.
enum class Serving { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

// Checks `service` on `channel` (deadline 2 s). The call's own error (e.g.
// NOT_FOUND for a service never set, UNAVAILABLE for a server that refuses
// calls) comes back as the status.
inline absl::StatusOr<Serving> CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  // HealthCheckRequest { string service = 1; }: tag 0x0A, length, bytes.
  std::string request_bytes;
  if (!service.empty()) {
    request_bytes.push_back('\x0A');
    request_bytes.push_back(static_cast<char>(service.size()));  // names here are < 128 bytes
    request_bytes += service;
  }
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  grpc::GenericStub stub(channel);
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status result) {
                   status = std::move(result);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return absl::InternalError("health response: unreadable");
  std::string bytes;
  for (const grpc::Slice& part : slices) bytes.append(reinterpret_cast<const char*>(part.begin()), part.size());
  // HealthCheckResponse { ServingStatus status = 1; }: tag 0x08, varint
  // (absent = UNKNOWN).
  if (bytes.empty()) return Serving::kUnknown;
  if (bytes.size() != 2 || bytes[0] != '\x08') return absl::InternalError("health response: unexpected bytes");
  return static_cast<Serving>(bytes[1]);
}

}  // namespace herald::testing
