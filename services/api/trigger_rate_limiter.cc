#include "services/api/trigger_rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/container/btree_map.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "core/keys.h"
#include "google/rpc/error_details.pb.h"
#include "redis/token_bucket.h"

namespace herald::api {
namespace {

struct Bucket {
  std::string key;  // the Redis key
  bool tenant;      // its scope: a tenant's, else the caller's key's
  std::string name;  // for the message: "this API key", "tenant acme"
  redis::TokenBucketLimit limit;
  int wanted;
};

redis::TokenBucketLimit LimitOf(double per_second, int burst) {
  return {per_second, burst > 0 ? static_cast<double>(burst) : std::max(1.0, std::ceil(per_second))};
}

absl::Status Refusal(const Bucket& bucket, int64_t retry_in_ms) {
  absl::Status status = absl::ResourceExhaustedError(
      absl::StrCat("rate limit: too many triggers for ", bucket.name, "; retry after ", retry_in_ms, " ms"));
  google::rpc::RetryInfo retry;
  retry.mutable_retry_delay()->set_seconds(retry_in_ms / 1000);
  retry.mutable_retry_delay()->set_nanos(static_cast<int32_t>(retry_in_ms % 1000) * 1'000'000);
  status.SetPayload(kRetryInfoTypeUrl, absl::Cord(retry.SerializeAsString()));
  return status;
}

}  // namespace

absl::Status TriggerRateLimiter::Validate(const TriggerRateLimits& limits) {
  if (!(limits.per_key_per_second >= 0)) return absl::InvalidArgumentError("--trigger_rate_per_key: must be >= 0");
  if (limits.per_key_burst < 0) return absl::InvalidArgumentError("--trigger_burst_per_key: must be >= 0");
  if (!(limits.per_tenant_per_second >= 0)) {
    return absl::InvalidArgumentError("--trigger_rate_per_tenant: must be >= 0");
  }
  if (limits.per_tenant_burst < 0) return absl::InvalidArgumentError("--trigger_burst_per_tenant: must be >= 0");
  return absl::OkStatus();
}

TriggerRateLimiter::TriggerRateLimiter(redis::AsyncPipeline& redis, const Clock& clock,
                                       const TriggerRateLimits& limits, prometheus::Registry& metrics)
    : redis_(redis),
      clock_(clock),
      limits_(limits),
      limited_by_key_(prometheus::BuildCounter()
                          .Name("herald_rate_limited_total")
                          .Help("Trigger calls refused by a rate limit, by the limit's scope (key or tenant)")
                          .Register(metrics)
                          .Add({{"scope", "key"}})),
      limited_by_tenant_(prometheus::BuildCounter()
                             .Name("herald_rate_limited_total")
                             .Help("Trigger calls refused by a rate limit, by the limit's scope (key or tenant)")
                             .Register(metrics)
                             .Add({{"scope", "tenant"}})) {}

void TriggerRateLimiter::Admit(absl::string_view key_hash, const std::vector<absl::string_view>& tenants,
                               Admitted admitted) const {
  if (tenants.empty()) return std::move(admitted)(absl::OkStatus());
  std::vector<Bucket> buckets;
  if (limits_.per_key_per_second > 0) {
    // Without API keys every caller presents the same (absent) key.
    buckets.push_back({TriggerRateLimitKey("key", key_hash.empty() ? "-" : key_hash), false, "this API key",
                       LimitOf(limits_.per_key_per_second, limits_.per_key_burst), static_cast<int>(tenants.size())});
  }
  if (limits_.per_tenant_per_second > 0) {
    absl::btree_map<absl::string_view, int> per_tenant;
    for (absl::string_view tenant : tenants) {
      if (!tenant.empty()) ++per_tenant[tenant];
    }
    for (const auto& [tenant, count] : per_tenant) {
      buckets.push_back({TriggerRateLimitKey("tenant", tenant), true, absl::StrCat("tenant ", tenant),
                         LimitOf(limits_.per_tenant_per_second, limits_.per_tenant_burst), count});
    }
  }
  if (buckets.empty()) return std::move(admitted)(absl::OkStatus());
  // More than a bucket holds would wait forever: no delay helps, say so.
  for (const Bucket& bucket : buckets) {
    if (bucket.wanted <= bucket.limit.burst) continue;
    (bucket.tenant ? limited_by_tenant_ : limited_by_key_).Increment();
    return std::move(admitted)(absl::ResourceExhaustedError(
        absl::StrCat("rate limit: ", bucket.wanted, " triggers in one call exceed the burst of ", bucket.limit.burst,
                     " for ", bucket.name, "; send at most ", bucket.limit.burst, " per call")));
  }
  const int64_t now_ms = clock_.NowMillis();
  std::vector<redis::Command> takes;
  for (const Bucket& bucket : buckets) {
    takes.push_back(
        redis::TakeTokensCommand(bucket.key, bucket.limit, now_ms, bucket.wanted, redis::TakeMode::kAll));
  }
  // Captures no `this`: the answer may come back while the service stops.
  redis_.Submit(std::move(takes), [&redis = redis_, &by_key = limited_by_key_, &by_tenant = limited_by_tenant_,
                                   buckets = std::move(buckets), now_ms,
                                   admitted = std::move(admitted)](redis::AsyncPipeline::Results results) mutable {
    absl::Status failed;
    const Bucket* refused_by = nullptr;
    int64_t retry_in_ms = 0;
    bool refused_by_key = false, refused_by_tenant = false;
    std::vector<redis::Command> returns;
    for (size_t i = 0; i < buckets.size(); ++i) {
      absl::StatusOr<redis::TokenGrant> grant =
          results[i].ok() ? redis::ParseTokenGrant(*results[i]) : absl::StatusOr<redis::TokenGrant>(results[i].status());
      if (!grant.ok()) {
        if (failed.ok()) failed = grant.status();
        continue;
      }
      if (grant->granted == buckets[i].wanted) {
        returns.push_back(redis::ReturnTokensCommand(buckets[i].key, buckets[i].limit, now_ms, buckets[i].wanted));
        continue;
      }
      (buckets[i].tenant ? refused_by_tenant : refused_by_key) = true;
      if (refused_by == nullptr || grant->retry_in_ms > retry_in_ms) {
        refused_by = &buckets[i];
        retry_in_ms = grant->retry_in_ms;
      }
    }
    if (failed.ok() && refused_by == nullptr) return std::move(admitted)(absl::OkStatus());
    if (refused_by_key) by_key.Increment();
    if (refused_by_tenant) by_tenant.Increment();
    absl::Status refusal = failed.ok() ? Refusal(*refused_by, std::max<int64_t>(retry_in_ms, 1)) : failed;
    if (returns.empty()) return std::move(admitted)(std::move(refusal));
    // Refused somewhere: what the other buckets gave goes back before the
    // caller hears of it, so a refused call costs nobody a token (a
    // failed return only makes the limit stricter for a moment).
    redis.Submit(std::move(returns), [refusal = std::move(refusal), admitted = std::move(admitted)](
                                         redis::AsyncPipeline::Results) mutable {
      std::move(admitted)(std::move(refusal));
    });
  });
}

}  // namespace herald::api
