// The trigger load of bench/loadgen: which recipients each trigger names,
// how calls are paced and batched, and what Herald answered (accepted,
// refused by an admission limit, failed), so the feeds can be checked
// against exactly what was accepted.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "herald/v1/herald.grpc.pb.h"

namespace herald::bench {

// One load: one tenant's triggers to its own pool of recipients. Pools of
// different loads never share a user, so each load's feed items count
// separately.
struct LoadSpec {
  std::string name;         // its key in the report: "quiet", "noisy"
  std::string tenant;       // the triggers' tenant; "" = none
  std::string user_prefix;  // recipients are user_prefix + pool index
  int pool = 1000;
  int per_trigger = 1;
  int trigger_batch = 0;  // triggers per TriggerBatch call; 0 = unary Trigger
  double rate = 0;        // triggers per second; 0 = as fast as the window allows
  int window = 256;       // calls in flight at most

  std::string UserId(int index) const;
  // Trigger t names per_trigger consecutive pool indexes from this one
  // (wrapping around).
  int FirstRecipient(int64_t t) const;
};

// A pool big enough that no feed is trimmed: Herald keeps a user's newest
// 1,000 items, so a pool gets at most `kItemsPerUser` per user on average
// (and at least 1,000 users, 10 per recipient of a trigger).
inline constexpr int kItemsPerUser = 500;
int PoolFor(int per_trigger, int64_t notifications);

// What Herald answered to one load's triggers. Thread-safe: the calls'
// callbacks update it from gRPC's threads.
class LoadCounters {
 public:
  explicit LoadCounters(int pool);
  LoadCounters(const LoadCounters&) = delete;
  LoadCounters& operator=(const LoadCounters&) = delete;

  // Trigger t was accepted: each of its recipients expects one more run.
  void Accepted(const LoadSpec& load, int64_t t);
  // `count` triggers were refused with RESOURCE_EXHAUSTED (an admission
  // limit: the caller was told, nothing is owed).
  void Refused(int count) { refused_ += count; }
  // `count` triggers failed otherwise; the first few errors are printed.
  void Failed(const LoadSpec& load, int count, const std::string& error);

  int64_t accepted() const { return accepted_.load(); }
  int64_t refused() const { return refused_.load(); }
  int64_t failed() const { return failed_.load(); }
  // Runs owed to pool index `index` (accepted triggers naming it).
  int64_t expected(int index) const { return expected_[index].load(); }

 private:
  std::vector<std::atomic<int64_t>> expected_;
  std::atomic<int64_t> accepted_{0}, refused_{0}, failed_{0};
};

struct SendResult {
  int64_t triggers = 0;  // triggers sent
  double seconds = 0;    // first call to last answer
};

// Sends `triggers` triggers of `load` (Trigger calls, or TriggerBatch calls
// of load.trigger_batch each), paced at load.rate, at most load.window
// calls in flight, every call with a 30 s deadline; stops issuing early once
// `*stop` is set (nullptr: never). Returns when every call has answered.
SendResult SendTriggers(v1::Herald::Stub& stub, const LoadSpec& load, int64_t triggers, const std::atomic<bool>* stop,
                        LoadCounters& counters);

// Bare unary calls (grpc.health.v1.Health/Check, no work in Herald) over
// `channel` with `window` in flight: calls per second, or 0 when any failed.
double BareCallsPerSecond(const std::shared_ptr<grpc::Channel>& channel, int calls, int window);

}  // namespace herald::bench
