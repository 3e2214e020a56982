// A whole Herald with TLS on its gRPC listeners (certificates made per run
// by the openssl CLI): TLS clients are served and plaintext ones are not;
// with --tls_client_ca_file only clients presenting a certificate from
// that CA are; heraldctl speaks TLS and mTLS from its flags or HERALD_TLS_*
// variables; and the dispatcher reaches a `herald delivery` service over
// mTLS (--delivery_tls_*), while a dispatcher without a client certificate
// is refused (its messages wait for a retry).
#include <grpcpp/create_channel.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/health.h"
#include "security/testing/test_pki.h"
#include "security/tls.h"
#include "services/delivery/providers/testing/test_servers.h"
#include "services/delivery/remote.h"
#include "tests/support/eventually.h"
#include "tests/support/herald_harness.h"
#include "tests/support/herald_process.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

using ::testing::HasSubstr;
using security::TlsFiles;

constexpr char kWelcome[] = R"(
key: welcome
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "Welcome, {{ recipient.name }}!"}}
)";

constexpr char kDeploys[] = R"(
key: deploys
steps:
  - {ref: hook, type: channel, channel_type: webhook, channel: hooks, template: {body: '{"service": {{ data.service | json }}}'}}
)";

using CliResult = testing::CommandResult;
using testing::Eventually;
using testing::RunHeraldctl;

std::shared_ptr<grpc::ChannelCredentials> Client(const TlsFiles& files) {
  auto credentials = security::MakeChannelCredentials(files, /*tls=*/true, "tls_");
  EXPECT_TRUE(credentials.ok()) << credentials.status();
  return credentials.ok() ? *credentials : grpc::InsecureChannelCredentials();
}

// IdentifyUser on a fresh channel to Herald's API with `credentials`.
grpc::Status Identify(int port, std::shared_ptr<grpc::ChannelCredentials> credentials) {
  grpc::ChannelArguments arguments;
  arguments.SetInt("grpc.use_local_subchannel_pool", 1);  // a handshake of its own
  auto stub = v1::Herald::NewStub(
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), std::move(credentials), arguments));
  v1::IdentifyUserRequest request;
  request.mutable_user()->set_id("ana");
  v1::User user;
  return stub->IdentifyUser(testing::HeraldHarness::Context().get(), request, &user);
}

class GrpcTlsTest : public testing::RedisTest {
 protected:
  static void SetUpTestSuite() {
    RedisTest::SetUpTestSuite();
    dir_ = testing::MakeTempDir("herald-grpc-tls-");
    auto pki = security::testing::MakeTestPki(dir_);
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = new security::testing::TestPki(*pki);
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    RedisTest::TearDownTestSuite();
  }

  // A Herald (api, batcher, fanout) whose listener has `tls`; its stub
  // trusts the test CA and presents the client certificate.
  static std::unique_ptr<testing::HeraldHarness> StartHerald(const TlsFiles& tls) {
    testing::HarnessOptions options;
    options.workflow_files["welcome.yaml"] = kWelcome;
    options.customize = [tls](RuntimeOptions& runtime) { runtime.tls = tls; };
    options.channel_credentials = Client({pki_->client.cert_file, pki_->client.key_file, pki_->ca_file});
    return std::make_unique<testing::HeraldHarness>(endpoint(), options);
  }

  static inline std::string dir_;
  static inline security::testing::TestPki* pki_ = nullptr;
};

TEST_F(GrpcTlsTest, TheApiServesTlsClientsAndRefusesPlaintextOnes) {
  auto harness = StartHerald({pki_->server.cert_file, pki_->server.key_file, ""});
  ASSERT_TRUE(harness->ok());
  const int port = harness->grpc_port();

  ASSERT_TRUE(harness->Identify("rita", "Rita").ok());
  v1::TriggerRequest request;
  request.set_workflow("welcome");
  request.add_recipients()->set_id("rita");
  v1::TriggerResponse response;
  grpc::Status triggered = harness->stub().Trigger(testing::HeraldHarness::Context().get(), request, &response);
  ASSERT_TRUE(triggered.ok()) << triggered.error_message();
  ASSERT_TRUE(harness->WaitForIdle());
  std::vector<v1::FeedItem> items = harness->AllFeedItems("rita");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].blocks(0).markdown(), "Welcome, Rita!");

  EXPECT_TRUE(Identify(port, Client({"", "", pki_->ca_file})).ok());
  EXPECT_EQ(Identify(port, grpc::InsecureChannelCredentials()).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Identify(port, Client({"", "", pki_->other_ca_file})).error_code(), grpc::StatusCode::UNAVAILABLE);

  // heraldctl: from its flags, from HERALD_TLS_* variables, and not without TLS.
  const std::string addr = absl::StrCat("--addr=127.0.0.1:", port, " --timeout_ms=5000");
  CliResult flags = RunHeraldctl(absl::StrCat(addr, " --tls_ca_file=", pki_->ca_file, " user rita"));
  EXPECT_EQ(flags.exit_code, 0) << flags.output;
  EXPECT_THAT(flags.output, HasSubstr("rita  Rita"));
  CliResult env = RunHeraldctl(addr + " user rita", "HERALD_TLS_CA_FILE=" + pki_->ca_file);
  EXPECT_EQ(env.exit_code, 0) << env.output;
  CliResult named =
      RunHeraldctl(absl::StrCat(addr, " --tls_ca_file=", pki_->ca_file, " --tls_server_name=localhost user rita"));
  EXPECT_EQ(named.exit_code, 0) << named.output;
  CliResult misnamed =
      RunHeraldctl(
          absl::StrCat(addr, " --tls_ca_file=", pki_->ca_file, " --tls_server_name=herald.internal user rita"));
  EXPECT_EQ(misnamed.exit_code, 1) << misnamed.output;
  CliResult plaintext = RunHeraldctl(addr + " user rita");
  EXPECT_EQ(plaintext.exit_code, 1) << plaintext.output;
  EXPECT_THAT(plaintext.output, HasSubstr("heraldctl: unavailable"));
  CliResult system_roots = RunHeraldctl(addr + " --tls user rita");  // the test CA is no system root
  EXPECT_EQ(system_roots.exit_code, 1) << system_roots.output;
}

TEST_F(GrpcTlsTest, WithAClientCaOnlyClientsWithACertificateFromItAreServed) {
  auto harness = StartHerald({pki_->server.cert_file, pki_->server.key_file, pki_->ca_file});
  ASSERT_TRUE(harness->ok());
  const int port = harness->grpc_port();

  EXPECT_TRUE(Identify(port, Client({pki_->client.cert_file, pki_->client.key_file, pki_->ca_file})).ok());
  EXPECT_EQ(Identify(port, Client({"", "", pki_->ca_file})).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Identify(port, Client({pki_->other_client.cert_file, pki_->other_client.key_file, pki_->ca_file}))
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);

  const std::string addr = absl::StrCat("--addr=127.0.0.1:", port, " --timeout_ms=5000 --tls_ca_file=", pki_->ca_file);
  CliResult with_certificate = RunHeraldctl(absl::StrCat(addr, " --tls_cert_file=", pki_->client.cert_file,
                                                         " --tls_key_file=", pki_->client.key_file, " identify bo --name=Bo"));
  EXPECT_EQ(with_certificate.exit_code, 0) << with_certificate.output;
  CliResult from_env = RunHeraldctl(addr + " user bo", absl::StrCat("HERALD_TLS_CERT_FILE=", pki_->client.cert_file,
                                                                   " HERALD_TLS_KEY_FILE=", pki_->client.key_file));
  EXPECT_EQ(from_env.exit_code, 0) << from_env.output;
  EXPECT_THAT(from_env.output, HasSubstr("bo  Bo"));
  CliResult without = RunHeraldctl(addr + " user bo");
  EXPECT_EQ(without.exit_code, 1) << without.output;
  CliResult half = RunHeraldctl(absl::StrCat(addr, " --tls_cert_file=", pki_->client.cert_file, " user bo"));
  EXPECT_EQ(half.exit_code, 2) << half.output;
  EXPECT_THAT(half.output, HasSubstr("heraldctl: --tls_cert_file is set but --tls_key_file is not"));
}

TEST_F(GrpcTlsTest, ProbesReadHealthOnThePlaintextHealthPortAndLivenessHoldsUnderMtls) {
  // Kubernetes' gRPC probes speak no TLS: with mTLS on the API port they
  // read --health_address; the watchdog, holding no client certificate,
  // checks the TLS port's accept loop, so liveness stays SERVING.
  testing::HarnessOptions options;
  options.workflow_files["welcome.yaml"] = kWelcome;
  TlsFiles tls{pki_->server.cert_file, pki_->server.key_file, pki_->ca_file};
  options.customize = [tls](RuntimeOptions& runtime) {
    runtime.tls = tls;
    runtime.health_address = "127.0.0.1:0";
    runtime.liveness_watchdog.interval = absl::Milliseconds(20);
    runtime.liveness_watchdog.timeout = absl::Milliseconds(200);
    runtime.liveness_watchdog.failures = 2;
  };
  options.channel_credentials = Client({pki_->client.cert_file, pki_->client.key_file, pki_->ca_file});
  testing::HeraldHarness harness(endpoint(), options);
  ASSERT_TRUE(harness.ok());
  ASSERT_NE(harness.health_port(), 0);
  ASSERT_NE(harness.health_port(), harness.grpc_port());
  auto probe = grpc::CreateChannel(absl::StrCat("127.0.0.1:", harness.health_port()), grpc::InsecureChannelCredentials());
  absl::SleepFor(absl::Milliseconds(800));  // a failing check would have flipped liveness by now
  for (const char* service : {"liveness", "readiness", "", "herald.v1.Herald"}) {
    auto answer = CheckHealth(*probe, service, absl::Seconds(5));
    ASSERT_TRUE(answer.ok()) << service << ": " << answer.status();
    EXPECT_EQ(*answer, ServingStatus::kServing) << "'" << service << "'";
  }
  // The probe port serves health only: no API in plaintext.
  EXPECT_EQ(Identify(harness.health_port(), grpc::InsecureChannelCredentials()).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  // The API port still refuses plaintext.
  EXPECT_EQ(Identify(harness.grpc_port(), grpc::InsecureChannelCredentials()).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcTlsTest, BadTlsFilesStopTheStartNamingTheFlag) {
  RuntimeOptions options;
  options.roles = "delivery";
  options.delivery_address = "127.0.0.1:0";
  options.metrics_address = "";
  options.tls = {pki_->server.cert_file, pki_->client.key_file, ""};
  auto mismatched = Runtime::Start(options);
  ASSERT_FALSE(mismatched.ok());
  EXPECT_THAT(std::string(mismatched.status().message()), HasSubstr("--tls_key_file"));
  options.tls = {pki_->server.cert_file, "", ""};
  auto half = Runtime::Start(options);
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.status().message(), "--tls_cert_file is set but --tls_key_file is not: give both or neither");
}

// The dispatcher (in the harness's `herald all`) reaches the hooks channel
// through a `herald delivery` process that requires client certificates.
TEST_F(GrpcTlsTest, TheDispatcherReachesADeliveryServiceOverMtls) {
  auto http = delivery::testing::ScriptedHttpServer::Start();
  ASSERT_TRUE(http.ok()) << http.status();
  const std::string hooks = absl::StrCat("  hooks:\n    provider: webhook\n    options: {url: \"",
                                         (*http)->Url("/hook"), "\"}\n    retry: {max_attempts: 5}\n");
  const std::string service_config = dir_ + "/delivery-service.yaml";
  std::ofstream(service_config) << "channels:\n" << hooks;
  RuntimeOptions service_options;
  service_options.roles = "delivery";
  service_options.delivery_config_file = service_config;
  service_options.delivery_address = "127.0.0.1:0";
  service_options.metrics_address = "";
  service_options.tls = {pki_->server.cert_file, pki_->server.key_file, pki_->ca_file};
  auto service = Runtime::Start(service_options);
  ASSERT_TRUE(service.ok()) << service.status();
  const std::string address = absl::StrCat("127.0.0.1:", (*service)->delivery_port());

  // The contract's client as the dispatcher builds it: refused without TLS
  // or without a client certificate (every message of the call: retry).
  delivery::Delivery delivery;
  delivery.set_message_id("m-direct");
  delivery.set_channel("hooks");
  delivery.set_channel_type("webhook");
  delivery.mutable_content()->mutable_webhook()->set_body_json("{}");
  for (const TlsFiles& refused : {TlsFiles{}, TlsFiles{"", "", pki_->ca_file}}) {
    auto credentials = security::MakeChannelCredentials(refused, /*tls=*/false, "delivery_tls_");
    ASSERT_TRUE(credentials.ok());
    auto remote = delivery::RemoteDeliveryService::Connect(address, 2000, 4, *credentials);
    ASSERT_TRUE(remote.ok());
    std::vector<delivery::Result> results = (*remote)->Deliver({delivery});
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].outcome(), delivery::v1::OUTCOME_RETRY) << results[0].reason();
  }
  auto requests = (*http)->Requests();
  ASSERT_TRUE(requests.ok());
  EXPECT_EQ(requests->size(), 0u) << "a refused client got a message through";

  testing::HarnessOptions options;
  options.workflow_files["deploys.yaml"] = kDeploys;
  options.delivery_config = absl::StrCat("channels:\n", hooks, "    service: \"", address, "\"\n");
  options.customize = [&](RuntimeOptions& runtime) {
    runtime.delivery_tls = {pki_->client.cert_file, pki_->client.key_file, pki_->ca_file};
  };
  testing::HeraldHarness harness(endpoint(), options);
  ASSERT_TRUE(harness.ok());
  ASSERT_TRUE(harness.Identify("rita", "Rita").ok());
  v1::TriggerRequest request;
  request.set_workflow("deploys");
  request.add_recipients()->set_id("rita");
  request.set_data_json(R"({"service": "billing"})");
  v1::TriggerResponse response;
  grpc::Status triggered = harness.stub().Trigger(testing::HeraldHarness::Context().get(), request, &response);
  ASSERT_TRUE(triggered.ok()) << triggered.error_message();
  nlohmann::json posted;
  ASSERT_TRUE(Eventually([&] {
    auto seen = (*http)->Requests();
    if (!seen.ok() || seen->empty()) return false;
    posted = (*seen)[0];
    return true;
  }));
  EXPECT_EQ(nlohmann::json::parse(posted["body"].get<std::string>()), nlohmann::json::parse(R"({"service":"billing"})"));
  (*service)->Shutdown();
}

}  // namespace
}  // namespace herald
