#include "tests/support/herald_harness.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/client_interceptor.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/time/clock.h"
#include "core/keys.h"
#include "gtest/gtest.h"
#include "services/api/grpc_status.h"
#include "tests/support/redis_fixture.h"

namespace herald::testing {
namespace {

// Adds `authorization: <value>` to every call of a channel, so stub()
// needs no per-call code for Herald's API keys.
class AuthorizationInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit AuthorizationInterceptor(const std::string& value) : value_(value) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", value_});
    }
    methods->Proceed();
  }

 private:
  const std::string value_;
};

class AuthorizationInterceptorFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit AuthorizationInterceptorFactory(std::string value) : value_(std::move(value)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(grpc::experimental::ClientRpcInfo*) override {
    return new AuthorizationInterceptor(value_);
  }

 private:
  const std::string value_;
};

}  // namespace

HeraldHarness::HeraldHarness(const redis::Endpoint& endpoint, HarnessOptions options)
    : endpoint_(endpoint),
      options_(std::move(options)),
      clock_(options_.clock_start_micros != 0 ? options_.clock_start_micros : SystemClock::Get().NowMicros()) {
  workflows_dir_ = MakeTempDir("herald-workflows-");
  for (const auto& [name, text] : options_.workflow_files) {
    std::ofstream(workflows_dir_ + "/" + name) << text;
  }
  RuntimeOptions runtime_options;
  runtime_options.roles = options_.roles;
  if (runtime_options.roles.empty()) {
    runtime_options.roles = options_.delivery_config.empty() ? "api,batcher,fanout" : "all";
  }
  if (!options_.delivery_config.empty()) {
    // Beside the workflow folder, not in it (every YAML there is a workflow).
    runtime_options.delivery_config_file = workflows_dir_ + "-delivery.yaml";
    std::ofstream(runtime_options.delivery_config_file) << options_.delivery_config;
  }
  runtime_options.redis_address = endpoint.ToString();
  runtime_options.workflows_dir = workflows_dir_;
  runtime_options.grpc_address = "127.0.0.1:0";
  runtime_options.delivery_address = "127.0.0.1:0";
  runtime_options.metrics_address = "";
  runtime_options.partitions = options_.partitions;
  runtime_options.fanout_threads = options_.fanout_threads;
  runtime_options.batcher_threads = options_.batcher_threads;
  runtime_options.reclaim_idle_ms = options_.reclaim_idle_ms;
  runtime_options.clock = &clock_;
  runtime_options.flush_tick_ms = 2;
  runtime_options.object_page_size = options_.object_page_size;
  runtime_options.fanout_cache_capacity = options_.fanout_cache_capacity;
  runtime_options.api_keys = options_.api_keys;
  runtime_options.api_keys_file = options_.api_keys_file;
  runtime_options.api_keys_reload_ms = options_.api_keys_reload_ms;
  runtime_options.trigger_rate_per_key = options_.trigger_rate_per_key;
  runtime_options.trigger_burst_per_key = options_.trigger_burst_per_key;
  runtime_options.trigger_rate_per_tenant = options_.trigger_rate_per_tenant;
  runtime_options.trigger_burst_per_tenant = options_.trigger_burst_per_tenant;
  if (options_.customize) options_.customize(runtime_options);
  auto runtime = Runtime::Start(runtime_options);
  EXPECT_TRUE(runtime.ok()) << runtime.status();
  if (!runtime.ok()) return;
  runtime_ = std::move(*runtime);
  if (runtime_->grpc_port() != 0) {
    const std::string target = "127.0.0.1:" + std::to_string(runtime_->grpc_port());
    auto credentials = options_.channel_credentials ? options_.channel_credentials : grpc::InsecureChannelCredentials();
    if (options_.api_key.empty()) {
      stub_ = v1::Herald::NewStub(grpc::CreateChannel(target, credentials));
    } else {
      std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
      interceptors.push_back(std::make_unique<AuthorizationInterceptorFactory>("Bearer " + options_.api_key));
      stub_ = v1::Herald::NewStub(grpc::experimental::CreateCustomChannelWithInterceptors(
          target, credentials, grpc::ChannelArguments(), std::move(interceptors)));
    }
  }
}

HeraldHarness::~HeraldHarness() {
  if (runtime_) runtime_->Shutdown();
  std::error_code ignored;
  std::filesystem::remove_all(workflows_dir_, ignored);
  std::filesystem::remove(workflows_dir_ + "-delivery.yaml", ignored);
}

std::unique_ptr<grpc::ClientContext> HeraldHarness::Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  return context;
}

bool HeraldHarness::WaitForIdle(absl::Duration timeout) {
  auto client = redis::ConnectRedis(endpoint_);
  if (!client.ok()) return false;
  absl::Time give_up = absl::Now() + timeout;
  int quiet_rounds = 0;
  while (absl::Now() < give_up) {
    std::vector<redis::Command> commands;
    for (int p = 0; p < options_.partitions; ++p) {
      Keys keys(p);
      commands.push_back({"XLEN", keys.Events()});
      commands.push_back({"XLEN", keys.EventsBulk()});
      commands.push_back({"XLEN", keys.Batches()});
      commands.push_back({"XLEN", keys.BatchesBulk()});
      commands.push_back({"XLEN", keys.Expansions()});
      commands.push_back({"ZCOUNT", keys.Due(), "-inf", std::to_string(clock_.NowMillis())});
    }
    bool idle = true;
    for (auto& reply : (*client)->Pipeline(commands)) {
      if (!reply.ok() || reply->integer != 0) idle = false;
    }
    // Two quiet looks in a row: a worker may hold entries it read but has
    // not yet written (they are deleted only after their effects land).
    quiet_rounds = idle ? quiet_rounds + 1 : 0;
    if (quiet_rounds >= 2) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

std::vector<v1::FeedItem> HeraldHarness::AllFeedItems(const std::string& user) {
  std::vector<v1::FeedItem> items;
  std::string cursor;
  do {
    v1::ListFeedRequest request;
    request.set_user_id(user);
    request.set_page_size(100);
    request.set_after(cursor);
    v1::ListFeedResponse response;
    grpc::Status status = stub_->ListFeed(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok()) break;
    for (const auto& item : response.items()) items.push_back(item);
    cursor = response.next_cursor();
  } while (!cursor.empty());
  return items;
}

absl::Status HeraldHarness::Identify(const std::string& id, const std::string& name, const std::string& timezone) {
  v1::IdentifyUserRequest request;
  request.mutable_user()->set_id(id);
  request.mutable_user()->set_name(name);
  request.mutable_user()->set_timezone(timezone);
  v1::User response;
  return api::FromGrpcStatus(stub_->IdentifyUser(Context().get(), request, &response));
}

}  // namespace herald::testing
