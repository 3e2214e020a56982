// The drain's pieces without Redis: BeginDrain flips exactly the readiness
// health services of a real gRPC server, and Drain runs parallel steps at
// once and logs every step with its outcome.
#include "runtime/drain.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/log.h"
#include "gtest/gtest.h"
#include "tests/support/grpc_health.h"

namespace herald {
namespace {

using testing::CheckHealth;
using testing::Serving;

TEST(BeginDrainTest, ReadinessServicesGoNotServingAndLivenessStays) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  // A server needs one service besides health to start (any method: UNIMPLEMENTED).
  grpc::CallbackGenericService unimplemented;
  builder.RegisterCallbackGenericService(&unimplemented);
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_TRUE(server != nullptr && port != 0);
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  ASSERT_NE(health, nullptr);
  health->SetServingStatus("liveness", true);
  for (const char* service : kReadinessServices) health->SetServingStatus(service, true);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  for (const char* service : {"liveness", "readiness", "", "herald.v1.Herald"}) {
    EXPECT_EQ(CheckHealth(channel, service).value_or(Serving::kUnknown), Serving::kServing) << "'" << service << "'";
  }

  BeginDrain(server.get());

  // The server still answers (it is not shut down yet): probes read the truth.
  for (const char* service : {"readiness", "", "herald.v1.Herald"}) {
    EXPECT_EQ(CheckHealth(channel, service).value_or(Serving::kUnknown), Serving::kNotServing) << "'" << service << "'";
  }
  EXPECT_EQ(CheckHealth(channel, "liveness").value_or(Serving::kUnknown), Serving::kServing);
  server->Shutdown();
  BeginDrain(nullptr);  // a process without a gRPC server: nothing to do
}

TEST(DrainTest, ParallelStepsRunAtOnceAndEveryStepIsLogged) {
  std::string text;  // the log's lines, as text
  log::Configure(log::Format::kText, log::Level::kInfo);
  log::SetSinkForTest([&text](absl::string_view line) { absl::StrAppend(&text, line, "\n"); });
  Drain drain(absl::Seconds(30));
  EXPECT_GE(drain.deadline(), absl::Now() + absl::Seconds(29));
  // Each step waits (at most 10 s) for the other to have started: run one
  // after the other, both would fail.
  absl::Mutex mutex;
  int started = 0;
  auto meet = [&mutex, &started] {
    absl::MutexLock lock(&mutex);
    ++started;
    auto both = [&started] { return started == 2; };
    if (!mutex.AwaitWithTimeout(absl::Condition(&both), absl::Seconds(10))) {
      return absl::DeadlineExceededError("the other step never started");
    }
    return absl::OkStatus();
  };
  std::vector<std::pair<std::string, Drain::StepFn>> steps;
  steps.emplace_back("batcher 0", meet);
  steps.emplace_back("fanout 0", meet);
  drain.Parallel(std::move(steps));
  drain.Step("embedded Redis SHUTDOWN (AOF fsynced)",
             [] { return absl::DeadlineExceededError("redis-server did not exit"); });
  EXPECT_EQ(drain.Finish(), 1);
  log::SetSinkForTest(nullptr);
  log::Configure(log::Format::kJson, log::Level::kInfo);

  EXPECT_NE(text.find("herald: drain: batcher 0: done in "), std::string::npos) << text;
  EXPECT_NE(text.find("herald: drain: fanout 0: done in "), std::string::npos) << text;
  EXPECT_NE(text.find("herald: drain: embedded Redis SHUTDOWN (AOF fsynced): DEADLINE_EXCEEDED: redis-server did not "
                      "exit (after "),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("herald: drain: finished in "), std::string::npos) << text;
  EXPECT_NE(text.find("(1 step(s) failed, see above)"), std::string::npos) << text;
}

}  // namespace
}  // namespace herald
