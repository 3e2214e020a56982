// Serves a DeliveryService (normally the built-in providers) over the gRPC
// contract herald.delivery.v1.DeliveryService: what `herald delivery`
// runs.
#pragma once

#include "auth/api_keys.h"
#include "herald/delivery/v1/delivery.grpc.pb.h"
#include "services/delivery/delivery_service.h"

namespace herald::delivery {

class DeliveryGrpcService final : public v1::DeliveryService::Service {
 public:
  // `service` and `api_keys` must outlive this object. With `api_keys`,
  // a call without one of them is UNAUTHENTICATED and delivers nothing.
  explicit DeliveryGrpcService(DeliveryService& service, const auth::ApiKeys* api_keys = nullptr)
      : service_(service), api_keys_(api_keys) {}

  grpc::Status Deliver(grpc::ServerContext* context, const v1::DeliverRequest* request,
                       v1::DeliverResponse* response) override;

 private:
  DeliveryService& service_;
  const auth::ApiKeys* const api_keys_;
};

}  // namespace herald::delivery
