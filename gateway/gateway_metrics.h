// The gateway's metrics: answers by the contract's error code ("ok" for
// every success) and streams by how they began. Built once; the handlers
// keep the Counter references (no label set is added per request).
#pragma once

#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace herald::gateway {

struct GatewayMetrics {
  explicit GatewayMetrics(prometheus::Registry& registry);

  // herald_gateway_requests_total{code} for an HTTP status.
  prometheus::Counter& ForStatus(int http_status);

  prometheus::Counter& ok;
  prometheus::Counter& invalid_argument;
  prometheus::Counter& unauthenticated;
  prometheus::Counter& permission_denied;
  prometheus::Counter& not_found;
  prometheus::Counter& rate_limited;
  prometheus::Counter& unavailable;
  prometheus::Counter& internal;
  // herald_gateway_streams_total{outcome}: streaming, or reset at once (a
  // cursor too old to resume).
  prometheus::Counter& streams_started;
  prometheus::Counter& streams_reset;
};

}  // namespace herald::gateway
