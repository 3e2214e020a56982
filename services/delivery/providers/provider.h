// A built-in provider: delivers the messages of one configured channel.
#pragma once

#include "absl/types/span.h"
#include "services/delivery/delivery_service.h"

namespace herald::delivery {

// Implementations are thread-safe: a ProviderSet calls Deliver from every
// thread that calls it.
class Provider {
 public:
  virtual ~Provider() = default;
  // Delivers `deliveries` concurrently (up to the channel's concurrency) and
  // fills results[i] for deliveries[i]: outcome, status, reason and the
  // provider fields. message_id is already set. Never blocks longer than
  // about the channel's timeout_ms per exchange in flight.
  // REQUIRES: deliveries.size() == results.size().
  virtual void Deliver(absl::Span<const Delivery* const> deliveries, absl::Span<Result* const> results) = 0;
};

}  // namespace herald::delivery
