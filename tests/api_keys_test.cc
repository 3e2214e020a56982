// API keys end to end: every RPC of herald.v1.Herald (taken from the
// service descriptor, so a new RPC is covered without touching this file)
// and the delivery service refuse a missing, wrong or revoked key with
// UNAUTHENTICATED and change nothing; health and reflection stay open; the
// key never shows in an error, in /metrics or in Herald's own output; and
// protected mode decides whether a keyless Herald starts.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "auth/api_keys.h"
#include "gtest/gtest.h"
#include "herald/delivery/v1/delivery.pb.h"
#include "herald/v1/herald.pb.h"
#include "services/delivery/providers/testing/test_servers.h"
#include "services/delivery/remote.h"
#include "tests/support/eventually.h"
#include "tests/support/herald_harness.h"
#include "tests/support/herald_process.h"
#include "tests/support/loopback.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

using testing::Eventually;
using testing::HeraldProcess;

constexpr char kKey[] = "hrld_valid-key-for-the-auth-tests-0123";
constexpr char kRevoked[] = "hrld_revoked-key-for-the-auth-tests-456";
constexpr char kWrong[] = "hrld_wrong-key-for-the-auth-tests-78901";

std::string Bearer(const std::string& key) { return "Bearer " + key; }

std::string BufferText(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string text;
  if (!buffer.Dump(&slices).ok()) return text;
  for (const grpc::Slice& slice : slices) text.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  return text;
}

// One unary call by method path with raw request bytes; `authorization`
// empty = no such metadata.
grpc::Status RawCall(int port, const std::string& method, const std::string& bytes, const std::string& authorization,
                     std::string* response_text = nullptr) {
  grpc::GenericStub stub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  auto context = testing::HeraldHarness::Context();
  if (!authorization.empty()) context->AddMetadata("authorization", authorization);
  absl::Notification done;
  grpc::Status result;
  stub.UnaryCall(context.get(), method, grpc::StubOptions(), &request, &response, [&](grpc::Status status) {
    result = std::move(status);
    done.Notify();
  });
  done.WaitForNotification();
  if (response_text != nullptr) *response_text = BufferText(response);
  return result;
}

// Replaces the file in one rename, so the keys file's watcher never reads
// it half written.
void ReplaceFile(const std::string& path, const std::string& text) {
  std::ofstream(path + ".tmp") << text;
  std::filesystem::rename(path + ".tmp", path);
}

// Fails the test when `text` shows any of the keys or their hashes.
void ExpectNoSecrets(const std::string& text, const std::string& where) {
  for (const std::string& secret : {std::string(kKey), std::string(kRevoked), std::string(kWrong)}) {
    EXPECT_FALSE(absl::StrContains(text, secret)) << where << " shows a key: " << text;
    EXPECT_FALSE(absl::StrContains(text, auth::Sha256Hex(secret))) << where << " shows a key hash: " << text;
  }
}

// The whole database: every key with its DUMP.
std::map<std::string, std::string> Snapshot(redis::RedisClient& client, const std::vector<std::string>& keys) {
  std::map<std::string, std::string> dumps;
  for (const std::string& key : keys) {
    auto dump = client.Execute({"DUMP", key});
    dumps[key] = dump.ok() ? dump->str : "(error)";
  }
  return dumps;
}

const google::protobuf::ServiceDescriptor& HeraldDescriptor() {
  return *v1::TriggerRequest::descriptor()->file()->FindServiceByName("Herald");
}

// Requests that would change state if they were served: the state check
// proves they were not.
std::map<std::string, std::string> WritingRequests() {
  std::map<std::string, std::string> requests;
  v1::TriggerRequest trigger;
  trigger.set_workflow("direct");
  trigger.add_recipients()->set_id("rita");
  requests["Trigger"] = trigger.SerializeAsString();
  v1::TriggerBatchRequest batch;
  *batch.add_triggers() = trigger;
  requests["TriggerBatch"] = batch.SerializeAsString();
  v1::IdentifyUserRequest identify;
  identify.mutable_user()->set_id("mallory");
  requests["IdentifyUser"] = identify.SerializeAsString();
  v1::DeleteUserRequest delete_user;
  delete_user.set_id("rita");
  requests["DeleteUser"] = delete_user.SerializeAsString();
  v1::TenantRequest tenant;
  tenant.set_id("acme");
  requests["DeleteTenant"] = tenant.SerializeAsString();
  return requests;
}

class ApiKeysTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    keys_file_ = testing::MakeTempDir("herald-keys-") + "/keys";
    ReplaceFile(keys_file_, absl::StrCat(auth::Sha256Hex(kKey), " ci\n", auth::Sha256Hex(kRevoked), " old\n"));
  }
  void TearDown() override { std::filesystem::remove_all(std::filesystem::path(keys_file_).parent_path()); }

  testing::HarnessOptions KeyedApi() {
    testing::HarnessOptions options;
    options.roles = "api";  // no worker writes to Redis behind the state check
    options.workflow_files["direct.yaml"] = R"(
key: direct
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "hi"}}
)";
    options.api_keys_file = keys_file_;
    options.api_keys_reload_ms = 20;
    options.api_key = kKey;
    return options;
  }

  std::string keys_file_;
};

TEST_F(ApiKeysTest, EveryHeraldRpcRefusesAMissingWrongOrRevokedKeyAndChangesNothing) {
  testing::HeraldHarness harness(endpoint(), KeyedApi());
  ASSERT_TRUE(harness.ok());
  const int port = harness.grpc_port();
  // State the refused calls would change if they were served.
  ASSERT_TRUE(harness.Identify("rita", "Rita").ok());
  v1::IdentifyTenantRequest tenant;
  tenant.set_id("acme");
  v1::Tenant tenant_response;
  ASSERT_TRUE(harness.stub().IdentifyTenant(testing::HeraldHarness::Context().get(), tenant, &tenant_response).ok());

  // Revoke a key that worked a moment ago.
  v1::GetUserRequest get;
  get.set_id("rita");
  ASSERT_TRUE(RawCall(port, "/herald.v1.Herald/GetUser", get.SerializeAsString(), Bearer(kRevoked)).ok());
  ReplaceFile(keys_file_, absl::StrCat("# ", "old revoked\n", auth::Sha256Hex(kKey), " ci\n"));
  ASSERT_TRUE(Eventually([&] {
    return RawCall(port, "/herald.v1.Herald/GetUser", get.SerializeAsString(), Bearer(kRevoked)).error_code() ==
           grpc::StatusCode::UNAUTHENTICATED;
  }));

  auto client = Connect();
  const std::vector<std::string> keys_before = AllKeys();
  const std::map<std::string, std::string> before = Snapshot(*client, keys_before);
  const std::map<std::string, std::string> writing = WritingRequests();
  const google::protobuf::ServiceDescriptor& service = HeraldDescriptor();
  ASSERT_GE(service.method_count(), 35);
  for (int m = 0; m < service.method_count(); ++m) {
    const std::string method = absl::StrCat("/herald.v1.Herald/", service.method(m)->name());
    std::vector<std::string> bodies = {""};
    if (auto found = writing.find(service.method(m)->name()); found != writing.end()) bodies.push_back(found->second);
    for (const std::string& body : bodies) {
      for (const std::string& authorization :
           {std::string(), Bearer(kWrong), Bearer(kRevoked), std::string("Basic ") + kKey, std::string(kKey)}) {
        grpc::Status status = RawCall(port, method, body, authorization);
        EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
            << method << " with '" << authorization << "': " << status.error_message();
        ExpectNoSecrets(status.error_message(), method);
      }
    }
  }
  EXPECT_EQ(AllKeys(), keys_before);
  EXPECT_EQ(Snapshot(*client, keys_before), before) << "a refused call changed Redis";

  // With the key every method is served (answers depend on the request).
  for (int m = 0; m < service.method_count(); ++m) {
    const std::string method = absl::StrCat("/herald.v1.Herald/", service.method(m)->name());
    grpc::Status status = RawCall(port, method, "", Bearer(kKey));
    EXPECT_NE(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method << ": " << status.error_message();
  }
  // ... and the writes the refused calls carried take effect.
  ASSERT_TRUE(RawCall(port, "/herald.v1.Herald/DeleteUser", writing.at("DeleteUser"), Bearer(kKey)).ok());
  EXPECT_EQ(RawCall(port, "/herald.v1.Herald/GetUser", get.SerializeAsString(), Bearer(kKey)).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // The harness's own stub sends the key too.
  EXPECT_TRUE(harness.Identify("ana", "Ana").ok());
}

// A bidi-streaming reflection call: list the services.
class ListServices final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  ListServices(grpc::GenericStub& stub, grpc::ClientContext* context) {
    // ServerReflectionRequest{list_services: ""} (field 7).
    grpc::Slice slice(std::string("\x3a\x00", 2));
    request_ = grpc::ByteBuffer(&slice, 1);
    stub.PrepareBidiStreamingCall(context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                  grpc::StubOptions(), this);
    StartWrite(&request_);
    StartRead(&response_);
    StartCall();
  }
  void OnWriteDone(bool) override { StartWritesDone(); }
  void OnReadDone(bool ok) override {
    if (ok) answer_ = BufferText(response_);
  }
  void OnDone(const grpc::Status& status) override {
    status_ = status;
    done_.Notify();
  }
  grpc::Status Wait() {
    done_.WaitForNotification();
    return status_;
  }
  const std::string& answer() const { return answer_; }

 private:
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  std::string answer_;
  grpc::Status status_;
  absl::Notification done_;
};

TEST_F(ApiKeysTest, HealthAndReflectionAnswerWithoutAKey) {
  testing::HeraldHarness harness(endpoint(), KeyedApi());
  ASSERT_TRUE(harness.ok());
  std::string health;
  grpc::Status checked = RawCall(harness.grpc_port(), "/grpc.health.v1.Health/Check", "", "", &health);
  ASSERT_TRUE(checked.ok()) << checked.error_message();
  EXPECT_EQ(health, std::string("\x08\x01", 2));  // SERVING

  grpc::GenericStub stub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", harness.grpc_port()), grpc::InsecureChannelCredentials()));
  auto context = testing::HeraldHarness::Context();
  ListServices list(stub, context.get());
  grpc::Status listed = list.Wait();
  ASSERT_TRUE(listed.ok()) << listed.error_message();
  EXPECT_TRUE(absl::StrContains(list.answer(), "herald.v1.Herald")) << list.answer();
}

// The delivery service (`herald delivery`) asks for the same keys: a
// refused call sends nothing to the provider; the dispatcher's client
// sends its configured key.
TEST_F(ApiKeysTest, TheDeliveryServiceRefusesCallsWithoutAValidKeyAndSendsNothing) {
  auto http = delivery::testing::ScriptedHttpServer::Start();
  ASSERT_TRUE(http.ok()) << http.status();
  ASSERT_TRUE((*http)->Script({{"/hook", {{{"status", 200}}}}}).ok());
  testing::HarnessOptions options;
  options.roles = "delivery";
  options.delivery_config = absl::StrCat("channels:\n  hooks:\n    provider: webhook\n    options: {url: \"",
                                         (*http)->Url("/hook"), "\"}\n");
  options.api_keys_file = keys_file_;
  options.api_keys_reload_ms = 20;
  testing::HeraldHarness harness(endpoint(), options);
  ASSERT_TRUE(harness.ok());
  const int port = harness.delivery_port();
  ASSERT_NE(port, 0);
  const std::string method = "/herald.delivery.v1.DeliveryService/Deliver";
  auto sent = [&] {
    auto requests = (*http)->Requests();
    EXPECT_TRUE(requests.ok()) << requests.status();
    return requests.ok() ? requests->size() : 0u;
  };

  // An empty call delivers nothing, so it can tell when the key is revoked.
  ASSERT_TRUE(RawCall(port, method, "", Bearer(kRevoked)).ok());
  ReplaceFile(keys_file_, absl::StrCat(auth::Sha256Hex(kKey), " dispatcher\n"));
  ASSERT_TRUE(Eventually(
      [&] { return RawCall(port, method, "", Bearer(kRevoked)).error_code() == grpc::StatusCode::UNAUTHENTICATED; }));

  delivery::Delivery delivery;
  delivery.set_message_id("m1");
  delivery.set_channel_type("webhook");
  delivery.set_channel("hooks");
  delivery.mutable_content()->mutable_webhook()->set_body_json(R"({"hello": "world"})");
  delivery::v1::DeliverRequest request;
  *request.add_deliveries() = delivery;
  for (const std::string& authorization : {std::string(), Bearer(kWrong), Bearer(kRevoked)}) {
    grpc::Status status = RawCall(port, method, request.SerializeAsString(), authorization);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << authorization;
    ExpectNoSecrets(status.error_message(), "Deliver");
  }
  EXPECT_EQ(sent(), 0u);

  const std::string address = absl::StrCat("127.0.0.1:", port);
  auto keyless = delivery::RemoteDeliveryService::Connect(address, 2000, 1);
  ASSERT_TRUE(keyless.ok());
  std::vector<delivery::Result> refused = (*keyless)->Deliver({delivery});
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].outcome(), delivery::v1::OUTCOME_RETRY);
  EXPECT_EQ(refused[0].provider_status(), "rpc 16");  // UNAUTHENTICATED
  EXPECT_EQ(sent(), 0u);

  auto keyed = delivery::RemoteDeliveryService::Connect(address, 2000, 1, nullptr, kKey);
  ASSERT_TRUE(keyed.ok());
  std::vector<delivery::Result> delivered = (*keyed)->Deliver({delivery});
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0].outcome(), delivery::v1::OUTCOME_DELIVERED) << delivered[0].reason();
  EXPECT_EQ(sent(), 1u);
}

// ---- The herald binary, as an operator runs it ----

TEST_F(ApiKeysTest, TheKeyNeverShowsInErrorsMetricsOrHeraldsOutput) {
  const std::string dir = std::filesystem::path(keys_file_).parent_path();
  std::filesystem::create_directories(dir + "/workflows");
  std::ofstream(dir + "/workflows/direct.yaml")
      << "key: direct\nsteps:\n  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: hi}}\n";
  const int grpc_port = delivery::testing::ClosedLoopbackPort();
  const int metrics_port = delivery::testing::ClosedLoopbackPort();
  HeraldProcess herald({"api", "--redis=" + endpoint().ToString(), "--workflows=" + dir + "/workflows",
                        absl::StrCat("--grpc_address=127.0.0.1:", grpc_port),
                        absl::StrCat("--metrics_address=127.0.0.1:", metrics_port), "--api_keys_file=" + keys_file_,
                        "--trigger_rate_per_key=0.001", "--trigger_burst_per_key=1"});
  ASSERT_TRUE(herald.WaitForPort(absl::Seconds(20)) != 0) << herald.Log();

  v1::TriggerRequest trigger;
  trigger.set_workflow("direct");
  trigger.add_recipients()->set_id("rita");
  const std::string body = trigger.SerializeAsString();
  const std::string method = "/herald.v1.Herald/Trigger";
  std::vector<grpc::Status> answers;
  answers.push_back(RawCall(grpc_port, method, body, ""));
  answers.push_back(RawCall(grpc_port, method, body, Bearer(kWrong)));
  answers.push_back(RawCall(grpc_port, method, body, std::string("Basic ") + kWrong));
  answers.push_back(RawCall(grpc_port, method, body, Bearer(kKey)));  // OK
  answers.push_back(RawCall(grpc_port, method, body, Bearer(kKey)));  // over the rate limit
  answers.push_back(RawCall(grpc_port, method, "\x0a\xff", Bearer(kKey)));  // malformed
  EXPECT_EQ(answers[0].error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(answers[1].error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(answers[2].error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(answers[3].ok()) << answers[3].error_message();
  EXPECT_EQ(answers[4].error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(answers[5].error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  for (const grpc::Status& answer : answers) ExpectNoSecrets(answer.error_message(), "an error message");

  // A key pasted where its hash belongs: refused, reported by line number.
  ReplaceFile(keys_file_, absl::StrCat(auth::Sha256Hex(kKey), "\n", kRevoked, "\n"));
  ASSERT_TRUE(Eventually([&] { return absl::StrContains(herald.Log(), "line 2 is not a SHA-256 hash"); }))
      << herald.Log();

  auto scrape = testing::HttpGet(metrics_port, "/metrics", absl::Seconds(10));
  ASSERT_TRUE(scrape.has_value());
  const std::string metrics = scrape->body;
  EXPECT_TRUE(absl::StrContains(metrics, "herald_auth_failures_total{reason=\"missing\"} 2")) << metrics;
  EXPECT_TRUE(absl::StrContains(metrics, "herald_auth_failures_total{reason=\"invalid\"} 1")) << metrics;
  EXPECT_TRUE(absl::StrContains(metrics, "herald_rate_limited_total{scope=\"key\"} 1")) << metrics;
  EXPECT_TRUE(absl::StrContains(metrics, "herald_rate_limited_total{scope=\"tenant\"} 0")) << metrics;
  ExpectNoSecrets(metrics, "/metrics");

  ASSERT_TRUE(herald.Signal(SIGTERM));
  EXPECT_EQ(herald.ExitCode(), 0);
  const std::string output = herald.Log();
  ExpectNoSecrets(output, "herald's output");
  EXPECT_FALSE(absl::StrContains(output, "no API key configured")) << output;
}

TEST_F(ApiKeysTest, WithoutAKeyHeraldStartsOnlyOnLoopbackOrWhenToldTo) {
  const std::string dir = std::filesystem::path(keys_file_).parent_path();
  const std::string redis = "--redis=" + endpoint().ToString();
  const std::string workflows = "--workflows=" + dir;  // no workflow at all is fine
  const int port = delivery::testing::ClosedLoopbackPort();

  HeraldProcess refused({"api", redis, workflows, absl::StrCat("--grpc_address=0.0.0.0:", port), "--metrics_address="});
  EXPECT_EQ(refused.ExitCode(), 2);  // a bad setting
  EXPECT_TRUE(absl::StrContains(refused.Log(), absl::StrCat("--grpc_address 0.0.0.0:", port,
                                                               " is reachable from other hosts")))
      << refused.Log();
  EXPECT_TRUE(absl::StrContains(refused.Log(), "--api_keys")) << refused.Log();

  // A worker role serves only health and reflection, yet listens too.
  HeraldProcess worker_refused({"batcher", redis, workflows, absl::StrCat("--grpc_address=0.0.0.0:", port),
                                "--metrics_address="});
  EXPECT_EQ(worker_refused.ExitCode(), 2);
  EXPECT_TRUE(absl::StrContains(worker_refused.Log(), "is reachable from other hosts")) << worker_refused.Log();

  HeraldProcess delivery_refused({"delivery", absl::StrCat("--delivery_address=0.0.0.0:", port), "--metrics_address=",
                                  "--grpc_address=127.0.0.1:0"});
  EXPECT_EQ(delivery_refused.ExitCode(), 2);
  EXPECT_TRUE(absl::StrContains(delivery_refused.Log(), "--delivery_address 0.0.0.0:")) << delivery_refused.Log();

  HeraldProcess loopback({"api", redis, workflows, absl::StrCat("--grpc_address=127.0.0.1:", port),
                          "--metrics_address="});
  ASSERT_TRUE(loopback.WaitForPort(absl::Seconds(20)) != 0) << loopback.Log();
  EXPECT_TRUE(absl::StrContains(loopback.Log(), "no API key configured")) << loopback.Log();
  ASSERT_TRUE(loopback.Signal(SIGTERM));
  EXPECT_EQ(loopback.ExitCode(), 0);

  HeraldProcess allowed({"api", redis, workflows, absl::StrCat("--grpc_address=0.0.0.0:", port), "--metrics_address=",
                         "--allow_unauthenticated"});
  ASSERT_TRUE(allowed.WaitForPort(absl::Seconds(20)) != 0) << allowed.Log();
  EXPECT_TRUE(absl::StrContains(allowed.Log(), "--allow_unauthenticated: every caller is served")) << allowed.Log();
  ASSERT_TRUE(allowed.Signal(SIGTERM));
  EXPECT_EQ(allowed.ExitCode(), 0);

  HeraldProcess keyed({"api", redis, workflows, absl::StrCat("--grpc_address=0.0.0.0:", port), "--metrics_address=",
                       "--api_keys=" + auth::Sha256Hex(kKey)});
  ASSERT_TRUE(keyed.WaitForPort(absl::Seconds(20)) != 0) << keyed.Log();
  EXPECT_FALSE(absl::StrContains(keyed.Log(), "every caller")) << keyed.Log();
  ASSERT_TRUE(keyed.Signal(SIGTERM));
  EXPECT_EQ(keyed.ExitCode(), 0);
}

TEST(KeysNewTest, PrintsAKeyAndTheHashOfThatKey) {
  const std::string output = testing::RunCommand(testing::BinaryPath("runtime/herald") + " keys new").output;
  std::vector<std::string> lines = absl::StrSplit(output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << output;
  ASSERT_TRUE(absl::StartsWith(lines[0], "key:  hrld_")) << output;
  ASSERT_TRUE(absl::StartsWith(lines[1], "hash: ")) << output;
  EXPECT_EQ(auth::Sha256Hex(lines[0].substr(6)), lines[1].substr(6));
  EXPECT_NE(testing::RunCommand(testing::BinaryPath("runtime/herald") + " keys new").output, output);
}

}  // namespace
}  // namespace herald
