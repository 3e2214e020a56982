// What a Herald process answers on grpc.health.v1.Health, decided in one
// place, and the two monitors that feed it:
//   "liveness"   SERVING while every liveness component reports alive (the
//                listener watchdog: a fresh connection to our own port gets
//                a health answer). Redis has no say: a pod is not restarted
//                because Redis is away. Kubernetes livenessProbe.
//   "readiness"  SERVING while Redis answers PING (roles without Redis: from
//                the start) and the process is not draining. Kubernetes
//                readinessProbe. "" and the served API ("herald.v1.Herald")
//                follow it.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/credentials.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "redis/client.h"

namespace herald {

inline constexpr char kLivenessService[] = "liveness";
inline constexpr char kReadinessService[] = "readiness";

// Thread-safe.
class Health {
 public:
  // `needs_redis`: readiness waits for Redis (false for a delivery service
  // alone, ready once started). `readiness_aliases`: further service names
  // that answer like "readiness" ("" and the API's service name).
  Health(bool needs_redis, std::vector<std::string> readiness_aliases);
  Health(const Health&) = delete;
  Health& operator=(const Health&) = delete;

  // Publishes the state to `service` now and on every change, until
  // Detach: every gRPC server of the process (the API port and the
  // plaintext probe port) answers the same. `service` must stay valid
  // until detached.
  void Attach(grpc::HealthCheckServiceInterface* service);
  void Detach(grpc::HealthCheckServiceInterface* service);

  void SetRedisReachable(bool reachable);
  // Readiness NOT_SERVING from now on; nothing flips it back (SIGTERM drain).
  void SetDraining();
  // Liveness is SERVING while no component reports dead. `component` names
  // what is checked ("listener", ...).
  void SetAlive(absl::string_view component, bool alive);

  bool ready() const;
  bool live() const;
  bool draining() const;

 private:
  void PublishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ReadyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const bool needs_redis_;
  const std::vector<std::string> readiness_aliases_;

  mutable absl::Mutex mu_;
  std::vector<grpc::HealthCheckServiceInterface*> services_ ABSL_GUARDED_BY(mu_);
  // Start() verified Redis before anything serves.
  bool redis_reachable_ ABSL_GUARDED_BY(mu_) = true;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<std::string> dead_ ABSL_GUARDED_BY(mu_);
};

// grpc.health.v1 ServingStatus.
enum class ServingStatus { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

// One grpc.health.v1.Health/Check call for `service` on `channel` within
// `timeout`: the status it answered, or the call's error (NOT_FOUND for a
// service the server does not know, UNAVAILABLE, DEADLINE_EXCEEDED, ...).
absl::StatusOr<ServingStatus> CheckHealth(grpc::Channel& channel, const std::string& service, absl::Duration timeout);

struct RedisMonitorOptions {
  absl::Duration interval = absl::Seconds(1);
  // Connect and PING timeout.
  absl::Duration timeout = absl::Seconds(1);
  // Consecutive failed PINGs before readiness goes NOT_SERVING (one slow
  // reply, e.g. a fork for a snapshot, is not an outage). One answered PING
  // makes it SERVING again.
  int failures = 2;
};

// PINGs Redis on its own connection and reports to Health. Thread-safe.
class RedisMonitor {
 public:
  RedisMonitor(redis::Endpoint endpoint, Health& health, RedisMonitorOptions options = {});
  ~RedisMonitor();
  RedisMonitor(const RedisMonitor&) = delete;
  RedisMonitor& operator=(const RedisMonitor&) = delete;
  void Start();
  void Stop();

 private:
  void Run();

  const redis::Endpoint endpoint_;
  Health& health_;
  const RedisMonitorOptions options_;
  absl::Notification stop_;
  std::thread thread_;
};

struct LivenessWatchdogOptions {
  absl::Duration interval = absl::Seconds(5);
  // Deadline of one check (connect, handshake and the health call).
  absl::Duration timeout = absl::Seconds(2);
  // Consecutive failed checks before liveness goes NOT_SERVING; one good
  // check makes it SERVING again.
  int failures = 3;
};

// One check that our own gRPC port still accepts, within `timeout`.
using PortCheck = std::function<absl::Status(absl::Duration timeout)>;

// A new channel (so a new TCP connection, never a pooled one) calls
// Health/Check on `target`: accept, handshake and serving, all checked.
// `credentials`: how this process reaches the port; nullptr = insecure.
PortCheck HealthCallCheck(std::string target, std::shared_ptr<grpc::ChannelCredentials> credentials);

// Runs `check` every interval. Reports component "listener" to Health.
// Thread-safe.
class LivenessWatchdog {
 public:
  LivenessWatchdog(PortCheck check, Health& health, LivenessWatchdogOptions options = {});
  ~LivenessWatchdog();
  LivenessWatchdog(const LivenessWatchdog&) = delete;
  LivenessWatchdog& operator=(const LivenessWatchdog&) = delete;
  void Start();
  void Stop();

 private:
  void Run();

  const PortCheck check_;
  Health& health_;
  const LivenessWatchdogOptions options_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace herald
