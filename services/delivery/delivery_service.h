// A channel delivery service as Herald's dispatcher sees it: deliver a batch
// of rendered messages, one result per message in the same order. Built-in
// providers implement it in process (ProviderSet); RemoteDeliveryService
// reaches a `herald delivery` process (or a team's own service) over the
// gRPC contract herald.delivery.v1.DeliveryService.
#pragma once

#include <vector>

#include "herald/delivery/v1/delivery.pb.h"

namespace herald::delivery {

using Delivery = ::herald::delivery::v1::Delivery;
using Result = ::herald::delivery::v1::DeliveryResult;

class DeliveryService {
 public:
  virtual ~DeliveryService() = default;
  // Never fails as a whole: a transport failure is an OUTCOME_RETRY result
  // for every message it affected. Safe to call from several threads.
  virtual std::vector<Result> Deliver(const std::vector<Delivery>& deliveries) = 0;
};

}  // namespace herald::delivery
