// The browser gateway (gateway/HTTP_API.md): HTTP/JSON and Server-Sent
// Events for browsers and mobile apps, authenticated by a publishable key
// and a user token. `herald gateway` runs it alone, `herald all` with the
// other roles when --gateway_address is set. It reads and writes the feed,
// preference and workflow stores directly over Redis (no gRPC hop) and
// takes live changes from a feed::FeedWatcher.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/clock.h"
#include "feed/feed_store.h"
#include "feed/feed_watch.h"
#include "gateway/http_server.h"
#include "gateway/user_token.h"
#include "prometheus/registry.h"
#include "redis/async_pipeline.h"
#include "workflow/registry.h"

namespace herald::gateway {

struct GatewayOptions {
  HttpServerOptions http;
  // Accepted X-Herald-Key values (not secrets: they name the environment).
  std::vector<std::string> publishable_keys;
  TokenSettings token;
  // --gateway_cors_origins: comma-separated origins or "*"; "" = none.
  std::string cors_origins;
  // Requests per second per user (burst twice that); 0 = no limit.
  double user_rate = 0;
  int partitions = 4;
  // --feed_changes_max_len: marks made here publish to the partition's feed
  // change stream like the API's, so every watcher sees them.
  int64_t feed_changes_max_len = feed::kDefaultFeedChangesMaxLen;
};

// The flags' form of the token and key settings: reads the secret or key
// files. INVALID_ARGUMENT naming the flag (neither or both of HS256 and
// RS256 set, an unreadable file, no publishable key).
struct GatewayFlags {
  std::string publishable_keys;       // comma-separated
  std::string publishable_keys_file;  // one per line, # comments
  std::string jwt_hs256_secret;
  std::string jwt_hs256_secret_file;
  std::string jwt_rs256_public_key_file;
  std::string jwt_audience = "herald";
  std::string jwt_issuer;
};
absl::Status ApplyGatewayFlags(const GatewayFlags& flags, GatewayOptions* options);

class Gateway {
 public:
  // Starts serving on options.http.address. `redis`, `workflows`, `clock`,
  // `metrics` and `watcher` must outlive the gateway; `watcher` null: the stream
  // endpoint answers 503. INVALID_ARGUMENT naming the flag for bad
  // options, FAILED_PRECONDITION when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<Gateway>> Start(const GatewayOptions& options, redis::AsyncPipeline& redis,
                                                        const workflow::Registry& workflows,
                                                        feed::FeedWatcher* watcher, const Clock& clock,
                                                        prometheus::Registry& metrics);
  virtual ~Gateway() = default;

  virtual int port() const = 0;
  virtual int connections() const = 0;
  // Drains (HttpServer::Stop): streams close (clients resume elsewhere with
  // their last event id), requests in flight finish until `deadline`.
  // Every feed subscription has ended when it returns. Idempotent.
  virtual void Stop(absl::Time deadline) = 0;
};

}  // namespace herald::gateway
