#include "gateway/gateway_metrics.h"

namespace herald::gateway {
namespace {

prometheus::Family<prometheus::Counter>& Requests(prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("herald_gateway_requests_total")
      .Help("Gateway answers by code (gateway/HTTP_API.md error codes; ok = success)")
      .Register(registry);
}

prometheus::Family<prometheus::Counter>& Streams(prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("herald_gateway_streams_total")
      .Help("Realtime streams opened by the gateway, by outcome (started, reset)")
      .Register(registry);
}

}  // namespace

GatewayMetrics::GatewayMetrics(prometheus::Registry& registry)
    : ok(Requests(registry).Add({{"code", "ok"}})),
      invalid_argument(Requests(registry).Add({{"code", "invalid_argument"}})),
      unauthenticated(Requests(registry).Add({{"code", "unauthenticated"}})),
      permission_denied(Requests(registry).Add({{"code", "permission_denied"}})),
      not_found(Requests(registry).Add({{"code", "not_found"}})),
      rate_limited(Requests(registry).Add({{"code", "rate_limited"}})),
      unavailable(Requests(registry).Add({{"code", "unavailable"}})),
      internal(Requests(registry).Add({{"code", "internal"}})),
      streams_started(Streams(registry).Add({{"outcome", "started"}})),
      streams_reset(Streams(registry).Add({{"outcome", "reset"}})) {}

prometheus::Counter& GatewayMetrics::ForStatus(int http_status) {
  switch (http_status) {
    case 400:
      return invalid_argument;
    case 401:
      return unauthenticated;
    case 403:
      return permission_denied;
    case 404:
      return not_found;
    case 429:
      return rate_limited;
    case 503:
      return unavailable;
    default:
      return http_status < 400 ? ok : internal;
  }
}

}  // namespace herald::gateway
