#include "bench/loadgen_load.h"

#include <grpcpp/generic/generic_stub.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <iostream>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"

namespace herald::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Done = std::function<void()>;

// Issues calls 0, 1, ... `count` - 1 with at most `window` in flight, call c
// no earlier than c / calls_per_s seconds after the first when calls_per_s
// > 0, and none once `*stop` is set. `issue(c, done)` starts call c and
// must run `done()` once it finished. Returns the calls issued and the
// seconds from the first call to the last answer.
SendResult DriveCalls(int64_t count, double calls_per_s, int window, const std::atomic<bool>* stop,
                      const std::function<void(int64_t, Done)>& issue) {
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  const auto start = Clock::now();
  Done done = [&] {
    std::lock_guard<std::mutex> lock(mu);
    --in_flight;
    cv.notify_all();
  };
  int64_t c = 0;
  for (; c < count && !(stop != nullptr && stop->load()); ++c) {
    if (calls_per_s > 0) {
      std::this_thread::sleep_until(start + std::chrono::microseconds(static_cast<int64_t>(c * 1e6 / calls_per_s)));
    }
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return in_flight < window; });
      ++in_flight;
    }
    issue(c, done);
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return in_flight == 0; });
  return {c, std::chrono::duration<double>(Clock::now() - start).count()};
}

void FillTrigger(const LoadSpec& load, int64_t t, v1::TriggerRequest* request) {
  request->set_workflow("bench");
  request->set_actor("bench-actor");
  request->set_tenant(load.tenant);
  request->set_data_json(absl::StrCat(R"({"title": "Quarterly plan", "n": )", t, "}"));
  const int first = load.FirstRecipient(t);
  for (int r = 0; r < load.per_trigger; ++r) request->add_recipients()->set_id(load.UserId((first + r) % load.pool));
}

// One trigger's (or a whole call's) answer into the counters.
void Record(const LoadSpec& load, int64_t t, int count, grpc::StatusCode code, const std::string& error,
            LoadCounters& counters) {
  if (code == grpc::StatusCode::OK) {
    counters.Accepted(load, t);
  } else if (code == grpc::StatusCode::RESOURCE_EXHAUSTED) {
    counters.Refused(count);
  } else {
    counters.Failed(load, count, error);
  }
}

void IssueUnary(v1::Herald::Stub& stub, const LoadSpec& load, int64_t t, LoadCounters& counters, Done done) {
  struct Call {
    grpc::ClientContext context;
    v1::TriggerRequest request;
    v1::TriggerResponse response;
  };
  auto* call = new Call();
  call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  FillTrigger(load, t, &call->request);
  stub.async()->Trigger(&call->context, &call->request, &call->response,
                        [&load, &counters, call, t, done = std::move(done)](grpc::Status status) {
                          Record(load, t, 1, status.error_code(), status.error_message(), counters);
                          delete call;
                          done();
                        });
}

// Triggers first .. first + count - 1 in one TriggerBatch call.
void IssueBatch(v1::Herald::Stub& stub, const LoadSpec& load, int64_t first, int count, LoadCounters& counters,
                Done done) {
  struct Call {
    grpc::ClientContext context;
    v1::TriggerBatchRequest request;
    v1::TriggerBatchResponse response;
  };
  auto* call = new Call();
  call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  for (int i = 0; i < count; ++i) FillTrigger(load, first + i, call->request.add_triggers());
  stub.async()->TriggerBatch(
      &call->context, &call->request, &call->response,
      [&load, &counters, call, first, count, done = std::move(done)](grpc::Status status) {
        if (!status.ok() || call->response.results_size() != count) {
          // A refused call (an admission limit) refuses every trigger in it.
          const grpc::StatusCode code = status.ok() ? grpc::StatusCode::INTERNAL : status.error_code();
          const std::string error =
              status.ok() ? absl::StrCat(call->response.results_size(), " results for ", count, " triggers")
                          : status.error_message();
          Record(load, first, count, code, error, counters);
        } else {
          for (int i = 0; i < count; ++i) {
            const v1::TriggerResult& result = call->response.results(i);
            Record(load, first + i, 1, static_cast<grpc::StatusCode>(result.code()), result.error(), counters);
          }
        }
        delete call;
        done();
      });
}

}  // namespace

std::string LoadSpec::UserId(int index) const { return absl::StrCat(user_prefix, index); }

int LoadSpec::FirstRecipient(int64_t t) const { return static_cast<int>((t * per_trigger) % pool); }

int PoolFor(int per_trigger, int64_t notifications) {
  return static_cast<int>(
      std::max<int64_t>({int64_t{per_trigger} * 10, 1000, (notifications + kItemsPerUser - 1) / kItemsPerUser}));
}

LoadCounters::LoadCounters(int pool) : expected_(pool) {}

void LoadCounters::Accepted(const LoadSpec& load, int64_t t) {
  ++accepted_;
  const int first = load.FirstRecipient(t);
  for (int r = 0; r < load.per_trigger; ++r) ++expected_[(first + r) % load.pool];
}

void LoadCounters::Failed(const LoadSpec& load, int count, const std::string& error) {
  if (failed_.fetch_add(count) < 3) std::cerr << "loadgen: " << load.name << " trigger failed: " << error << std::endl;
}

SendResult SendTriggers(v1::Herald::Stub& stub, const LoadSpec& load, int64_t triggers, const std::atomic<bool>* stop,
                        LoadCounters& counters) {
  if (load.trigger_batch <= 0) {
    return DriveCalls(triggers, load.rate, load.window, stop,
                      [&](int64_t t, Done done) { IssueUnary(stub, load, t, counters, std::move(done)); });
  }
  const int per_call = load.trigger_batch;
  const int64_t calls = (triggers + per_call - 1) / per_call;
  SendResult sent = DriveCalls(calls, load.rate / per_call, load.window, stop, [&](int64_t c, Done done) {
    const int64_t first = c * per_call;
    IssueBatch(stub, load, first, static_cast<int>(std::min<int64_t>(per_call, triggers - first)), counters,
               std::move(done));
  });
  sent.triggers = std::min(triggers, sent.triggers * per_call);
  return sent;
}

double BareCallsPerSecond(const std::shared_ptr<grpc::Channel>& channel, int calls, int window) {
  grpc::GenericStub generic(channel);
  std::atomic<int> failed{0};
  SendResult sent = DriveCalls(calls, 0, window, nullptr, [&](int64_t, Done done) {
    struct Call {
      grpc::ClientContext context;
      grpc::ByteBuffer request, response;
    };
    auto* call = new Call();
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Slice empty("");  // a zero-length message is an empty HealthCheckRequest
    call->request = grpc::ByteBuffer(&empty, 1);
    generic.UnaryCall(&call->context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &call->request,
                      &call->response, [call, &failed, done = std::move(done)](grpc::Status status) {
                        if (!status.ok()) ++failed;
                        delete call;
                        done();
                      });
  });
  return failed.load() == 0 ? calls / sent.seconds : 0;
}

}  // namespace herald::bench
