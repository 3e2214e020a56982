// The delivery side of a Herald process: the dispatcher (reads the
// deliveries stream, routes messages to channel delivery services) and the
// delivery service role (`herald delivery`: the built-in providers served
// over herald.delivery.v1.DeliveryService). `herald all` runs the
// dispatcher with every configured channel's providers in process; in a
// deployment, channels with a `service` address are reached over gRPC.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "auth/api_keys.h"
#include "core/clock.h"
#include "prometheus/registry.h"
#include "redis/client.h"
#include "security/tls.h"

namespace herald {

struct DeliveryRoleOptions {
  bool dispatcher = false;
  bool service = false;
  // YAML channel configuration (services/delivery/config.h); empty: only
  // channels from HERALD_CHANNEL_* variables... none by default.
  std::string config_file;
  // The service role's channels (empty: every configured channel).
  std::vector<std::string> channels;
  // The service role's listen address.
  std::string service_address = "127.0.0.1:50061";
  int partitions = 4;
  int64_t reclaim_idle_ms = 15000;
  std::string consumer_name;
  int dispatcher_threads = 1;
  // TLS of the service role's listener (--tls_*) and of the dispatcher's
  // calls to remote delivery services (--delivery_tls_*); none = plaintext.
  security::TlsFiles service_tls;
  security::TlsFiles client_tls;
  // The service role asks callers for one of these keys (null: none asked).
  const auth::ApiKeys* api_keys = nullptr;
  // The dispatcher sends this key to delivery services reached over gRPC.
  std::string service_api_key;
};

class DeliveryRoles {
 public:
  // INVALID_ARGUMENT naming the flag for a bad configuration;
  // FAILED_PRECONDITION when a port or Redis is unavailable.
  static absl::StatusOr<std::unique_ptr<DeliveryRoles>> Start(const DeliveryRoleOptions& options,
                                                              const redis::Endpoint& endpoint, const Clock& clock,
                                                              prometheus::Registry& registry);
  virtual ~DeliveryRoles() = default;
  // The service role's bound port (0 without it).
  virtual int service_port() const = 0;
  // Stops reading first, then finishes deliveries in flight, then the
  // service: its calls in flight get until `deadline`, later ones are
  // refused.
  virtual void Stop(absl::Time deadline) = 0;
};

}  // namespace herald
