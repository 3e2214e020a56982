#include "runtime/health.h"

#include <algorithm>

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include "core/log.h"

#include "absl/strings/str_cat.h"

namespace herald {
namespace {

constexpr char kListenerComponent[] = "listener";

// grpc.health.v1 messages by hand (no health.proto is installed): the
// request is `string service = 1`, the response `ServingStatus status = 1`.
grpc::ByteBuffer EncodeHealthCheckRequest(const std::string& service) {
  std::string bytes;
  if (!service.empty()) {
    bytes.push_back('\x0a');  // field 1, length-delimited
    size_t length = service.size();
    while (length >= 0x80) {
      bytes.push_back(static_cast<char>((length & 0x7f) | 0x80));
      length >>= 7;
    }
    bytes.push_back(static_cast<char>(length));
    bytes += service;
  }
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

absl::StatusOr<ServingStatus> DecodeHealthCheckResponse(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return absl::InternalError("health response: unreadable");
  std::string bytes;
  for (const grpc::Slice& slice : slices) bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  // Empty: every field at its default, UNKNOWN.
  if (bytes.empty()) return ServingStatus::kUnknown;
  if (bytes.size() != 2 || bytes[0] != '\x08' || (bytes[1] & 0x80) != 0 || bytes[1] > 3) {
    return absl::InternalError("health response: not a HealthCheckResponse");
  }
  return static_cast<ServingStatus>(bytes[1]);
}

}  // namespace

Health::Health(bool needs_redis, std::vector<std::string> readiness_aliases)
    : needs_redis_(needs_redis), readiness_aliases_(std::move(readiness_aliases)) {}

void Health::Attach(grpc::HealthCheckServiceInterface* service) {
  absl::MutexLock lock(&mu_);
  services_.push_back(service);
  PublishLocked();
}

void Health::Detach(grpc::HealthCheckServiceInterface* service) {
  absl::MutexLock lock(&mu_);
  services_.erase(std::remove(services_.begin(), services_.end(), service), services_.end());
}

void Health::SetRedisReachable(bool reachable) {
  absl::MutexLock lock(&mu_);
  if (redis_reachable_ == reachable) return;
  redis_reachable_ = reachable;
  PublishLocked();
}

void Health::SetDraining() {
  absl::MutexLock lock(&mu_);
  if (draining_) return;
  draining_ = true;
  PublishLocked();
}

void Health::SetAlive(absl::string_view component, bool alive) {
  absl::MutexLock lock(&mu_);
  bool changed = alive ? dead_.erase(component) > 0 : dead_.insert(std::string(component)).second;
  if (changed) PublishLocked();
}

bool Health::ready() const {
  absl::MutexLock lock(&mu_);
  return ReadyLocked();
}

bool Health::live() const {
  absl::MutexLock lock(&mu_);
  return dead_.empty();
}

bool Health::draining() const {
  absl::MutexLock lock(&mu_);
  return draining_;
}

bool Health::ReadyLocked() const { return !draining_ && (!needs_redis_ || redis_reachable_); }

void Health::PublishLocked() {
  const bool ready = ReadyLocked();
  for (grpc::HealthCheckServiceInterface* service : services_) {
    service->SetServingStatus(kLivenessService, dead_.empty());
    service->SetServingStatus(kReadinessService, ready);
    for (const std::string& alias : readiness_aliases_) service->SetServingStatus(alias, ready);
  }
}

absl::StatusOr<ServingStatus> CheckHealth(grpc::Channel& channel, const std::string& service, absl::Duration timeout) {
  // GenericStub takes a shared_ptr; the caller keeps the channel alive for
  // the call, so a non-owning one is enough.
  grpc::GenericStub stub(std::shared_ptr<grpc::Channel>(&channel, [](grpc::Channel*) {}));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  grpc::ByteBuffer request = EncodeHealthCheckRequest(service);
  grpc::ByteBuffer response;
  grpc::Status result;
  absl::Notification done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status status) {
                   result = std::move(status);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!result.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(result.error_code()), result.error_message());
  }
  return DecodeHealthCheckResponse(response);
}

RedisMonitor::RedisMonitor(redis::Endpoint endpoint, Health& health, RedisMonitorOptions options)
    : endpoint_(std::move(endpoint)), health_(health), options_(options) {}

RedisMonitor::~RedisMonitor() { Stop(); }

void RedisMonitor::Start() {
  thread_ = std::thread([this] { Run(); });
}

void RedisMonitor::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void RedisMonitor::Run() {
  redis::ClientOptions client_options;
  client_options.connect_timeout = options_.timeout;
  client_options.command_timeout = options_.timeout;
  std::unique_ptr<redis::RedisClient> client;
  int failures = 0;
  bool reachable = true;
  do {
    absl::Status status = absl::OkStatus();
    if (!client) {
      auto connected = redis::ConnectRedis(endpoint_, client_options);
      if (connected.ok()) {
        client = std::move(*connected);
      } else {
        status = connected.status();
      }
    }
    if (client) {
      auto pong = client->Execute({"PING"});
      if (!pong.ok()) {
        status = pong.status();
        client.reset();  // a fresh connection next time, not a half-read one
      }
    }
    failures = status.ok() ? 0 : failures + 1;
    if (status.ok() && !reachable) {
      reachable = true;
      log::Info("health", "redis answers again: ready");
      health_.SetRedisReachable(true);
    } else if (failures >= options_.failures && reachable) {
      reachable = false;
      log::Warning("health", "redis unreachable: not ready", {{"error", status}});
      health_.SetRedisReachable(false);
    }
  } while (!stop_.WaitForNotificationWithTimeout(options_.interval));
}

PortCheck HealthCallCheck(std::string target, std::shared_ptr<grpc::ChannelCredentials> credentials) {
  if (!credentials) credentials = grpc::InsecureChannelCredentials();
  return [target = std::move(target), credentials = std::move(credentials)](absl::Duration timeout) -> absl::Status {
    grpc::ChannelArguments args;
    // A private subchannel pool: this channel's connection is new, never
    // one shared with another channel to the same target.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(target, credentials, args);
    // Any answer will do (our own liveness may be NOT_SERVING right now):
    // the point is that a new connection was accepted and served.
    return CheckHealth(*channel, kLivenessService, timeout).status();
  };
}

LivenessWatchdog::LivenessWatchdog(PortCheck check, Health& health, LivenessWatchdogOptions options)
    : check_(std::move(check)), health_(health), options_(options) {}

LivenessWatchdog::~LivenessWatchdog() { Stop(); }

void LivenessWatchdog::Start() {
  thread_ = std::thread([this] { Run(); });
}

void LivenessWatchdog::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void LivenessWatchdog::Run() {
  int failures = 0;
  bool alive = true;
  while (!stop_.WaitForNotificationWithTimeout(options_.interval)) {
    absl::Status answer = check_(options_.timeout);
    failures = answer.ok() ? 0 : failures + 1;
    if (answer.ok() && !alive) {
      alive = true;
      log::Info("health", "liveness: the gRPC port answers again");
      health_.SetAlive(kListenerComponent, true);
    } else if (failures >= options_.failures && alive) {
      alive = false;
      log::Error("health", "liveness: checks of the gRPC port failed: not live",
                 {{"failures", failures}, {"error", answer}});
      health_.SetAlive(kListenerComponent, false);
    }
  }
}

}  // namespace herald
