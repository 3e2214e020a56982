// A delivery service in another process, reached over the gRPC contract
// herald.delivery.v1.DeliveryService (a `herald delivery` process, or a
// team's own service in any language).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "herald/delivery/v1/delivery.grpc.pb.h"
#include "services/delivery/delivery_service.h"

namespace herald::delivery {

class RemoteDeliveryService final : public DeliveryService {
 public:
  // `address` is host:port; calls time out after `timeout_ms` (the
  // provider's timeout plus the hop), which makes every message of the call
  // a retry.
  static absl::StatusOr<std::unique_ptr<RemoteDeliveryService>> Connect(const std::string& address,
                                                                       int64_t timeout_ms);

  std::vector<Result> Deliver(const std::vector<Delivery>& deliveries) override;

 private:
  RemoteDeliveryService(std::unique_ptr<v1::DeliveryService::Stub> stub, int64_t timeout_ms)
      : stub_(std::move(stub)), timeout_ms_(timeout_ms) {}

  std::unique_ptr<v1::DeliveryService::Stub> stub_;
  const int64_t timeout_ms_;
};

}  // namespace herald::delivery
