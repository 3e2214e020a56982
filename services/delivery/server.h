// Serves a DeliveryService (normally the built-in providers) over the gRPC
// contract herald.delivery.v1.DeliveryService: what `herald delivery`
// runs.
#pragma once

#include "herald/delivery/v1/delivery.grpc.pb.h"
#include "services/delivery/delivery_service.h"

namespace herald::delivery {

class DeliveryGrpcService final : public v1::DeliveryService::Service {
 public:
  // `service` must outlive this object.
  explicit DeliveryGrpcService(DeliveryService& service) : service_(service) {}

  grpc::Status Deliver(grpc::ServerContext* context, const v1::DeliverRequest* request,
                       v1::DeliverResponse* response) override;

 private:
  DeliveryService& service_;
};

}  // namespace herald::delivery
