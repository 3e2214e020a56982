// Trigger rate limits per API key and per tenant: token buckets in Redis
// (redis/token_bucket.h), so every API replica takes from the same ones.
// A call is admitted whole or refused whole: a TriggerBatch takes one token
// per trigger from its caller's bucket and from each trigger's tenant's
// bucket; when any bucket refuses, the tokens the others gave are put back
// and the call is RESOURCE_EXHAUSTED with the delay after which it would
// pass (google.rpc.RetryInfo in the status details). With no limit
// configured nothing here touches Redis.
#pragma once

#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/clock.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "redis/async_pipeline.h"

namespace herald::api {

struct TriggerRateLimits {
  // Triggers per second; 0 = no limit.
  double per_key_per_second = 0;
  // Triggers at once (the bucket's size); 0 = the rate rounded up, >= 1.
  int per_key_burst = 0;
  double per_tenant_per_second = 0;
  int per_tenant_burst = 0;
};

// The type URL of the google.rpc.RetryInfo payload a refusal carries.
inline constexpr char kRetryInfoTypeUrl[] = "type.googleapis.com/google.rpc.RetryInfo";

// Thread-safe.
class TriggerRateLimiter {
 public:
  using Admitted = absl::AnyInvocable<void(absl::Status) &&>;

  // INVALID_ARGUMENT naming the flag for a negative rate or burst.
  static absl::Status Validate(const TriggerRateLimits& limits);
  // `redis`, `clock` and `metrics` must outlive the limiter.
  TriggerRateLimiter(redis::AsyncPipeline& redis, const Clock& clock, const TriggerRateLimits& limits,
                     prometheus::Registry& metrics);

  // Takes one token per trigger: `tenants` has each trigger's tenant ("" =
  // none) and its size is the number of triggers. `key_hash` is the
  // caller's key (Caller::api_key_hash; without keys every caller shares
  // one bucket). Calls `admitted` exactly once, with OK (at once when no
  // limit applies), RESOURCE_EXHAUSTED (a kRetryInfoTypeUrl payload and
  // "retry after N ms" in the message; none when the call is larger than
  // a bucket can ever hold) or the Redis error. `admitted` may run on a
  // pipeline I/O thread: it must not block.
  void Admit(absl::string_view key_hash, const std::vector<absl::string_view>& tenants, Admitted admitted) const;

 private:
  redis::AsyncPipeline& redis_;
  const Clock& clock_;
  const TriggerRateLimits limits_;
  prometheus::Counter& limited_by_key_;
  prometheus::Counter& limited_by_tenant_;
};

}  // namespace herald::api
