// Runs a whole Herald (every role, in process) against the test Redis, with
// workflows written from strings and a simulated clock, plus a gRPC stub
// and helpers that wait for the pipeline to drain.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "herald/v1/herald.grpc.pb.h"
#include "redis/client.h"
#include "runtime/runtime.h"

namespace herald::testing {

struct HarnessOptions {
  std::map<std::string, std::string> workflow_files;  // file name -> YAML
  // Delivery channels (YAML, services/delivery/config.h). Empty: no
  // dispatcher runs, so email/sms/push/chat/webhook messages stay `queued`
  // where the pipeline left them (what tests of the pipeline look at).
  std::string delivery_config;
  // "" = every role ("all" with a delivery config, else all but the dispatcher).
  std::string roles;
  int partitions = 4;
  int fanout_threads = 2;
  int batcher_threads = 1;
  int64_t reclaim_idle_ms = 15000;
  int object_page_size = 500;
  size_t fanout_cache_capacity = 20'000;
  // Where the simulated clock starts (0 = the real now), e.g. days ago, so
  // a test can compare the expiry of records with waits due in the future.
  int64_t clock_start_micros = 0;
  // API keys Herald asks for (RuntimeOptions::api_keys, api_keys_file,
  // api_keys_reload_ms); none by default. `api_key` is the key stub()
  // sends on every call ("" = none).
  std::string api_keys;
  std::string api_keys_file;
  int64_t api_keys_reload_ms = 1000;
  std::string api_key;
  // Trigger rate limits (RuntimeOptions); 0 = none.
  double trigger_rate_per_key = 0;
  int trigger_burst_per_key = 0;
  double trigger_rate_per_tenant = 0;
  int trigger_burst_per_tenant = 0;
  // Applied to the runtime's options last, e.g. TLS files or a Redis URL
  // with a password (the endpoint's ToString() never carries one).
  std::function<void(RuntimeOptions&)> customize;
  // The credentials of stub()'s channel (null: plaintext).
  std::shared_ptr<grpc::ChannelCredentials> channel_credentials;
};

class HeraldHarness {
 public:
  // Starts Herald against `endpoint`; failures are reported via gtest.
  HeraldHarness(const redis::Endpoint& endpoint, HarnessOptions options);
  ~HeraldHarness();

  bool ok() const { return runtime_ != nullptr; }
  v1::Herald::Stub& stub() { return *stub_; }
  SimulatedClock& clock() { return clock_; }
  const std::string& workflows_dir() const { return workflows_dir_; }
  int grpc_port() const { return runtime_ ? runtime_->grpc_port() : 0; }
  // The delivery role's port (0 without it).
  int delivery_port() const { return runtime_ ? runtime_->delivery_port() : 0; }
  int health_port() const { return runtime_ ? runtime_->health_port() : 0; }

  // A deadline-bound client context.
  static std::unique_ptr<grpc::ClientContext> Context();

  // Waits until every event and batch stream is empty and no wait is due
  // at the simulated now (or `timeout` passes). Returns true when drained.
  bool WaitForIdle(absl::Duration timeout = absl::Seconds(30));

  // Every feed item of `user` (all pages, non-archived), newest first.
  std::vector<v1::FeedItem> AllFeedItems(const std::string& user);

  absl::Status Identify(const std::string& id, const std::string& name, const std::string& timezone = "");

 private:
  redis::Endpoint endpoint_;
  HarnessOptions options_;
  SimulatedClock clock_;
  std::string workflows_dir_;
  std::unique_ptr<Runtime> runtime_;
  std::unique_ptr<v1::Herald::Stub> stub_;
};

}  // namespace herald::testing
