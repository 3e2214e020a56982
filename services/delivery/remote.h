// A delivery service in another process, reached over the gRPC contract
// herald.delivery.v1.DeliveryService (a `herald delivery` process, or a
// team's own service in any language).
#pragma once

#include <memory>
#include <string>

#include <grpcpp/security/credentials.h>

#include "absl/status/statusor.h"
#include "herald/delivery/v1/delivery.grpc.pb.h"
#include "services/delivery/delivery_service.h"

namespace herald::delivery {

// Rendered emails can be large: calls carry up to this many bytes.
inline constexpr int kMaxDeliveryCallBytes = 64 << 20;

class RemoteDeliveryService final : public DeliveryService {
 public:
  // `address` is host:port. A call of n messages may take
  // ceil(n / concurrency) provider timeouts plus a margin; past that it
  // fails and every message of it is retried. `credentials`: the channel's
  // (TLS, see security/tls.h); null = plaintext. A non-empty `api_key` is
  // sent with every call (`authorization: Bearer <key>`).
  static absl::StatusOr<std::unique_ptr<RemoteDeliveryService>> Connect(
      const std::string& address, int64_t timeout_ms, int concurrency,
      std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr, std::string api_key = "");

  std::vector<Result> Deliver(const std::vector<Delivery>& deliveries) override;

 private:
  RemoteDeliveryService(std::unique_ptr<v1::DeliveryService::Stub> stub, int64_t timeout_ms, int concurrency,
                        std::string api_key)
      : stub_(std::move(stub)), timeout_ms_(timeout_ms), concurrency_(concurrency), api_key_(std::move(api_key)) {}

  std::unique_ptr<v1::DeliveryService::Stub> stub_;
  const int64_t timeout_ms_;
  const int concurrency_;
  const std::string api_key_;
};

}  // namespace herald::delivery
