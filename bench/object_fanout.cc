// One trigger to an object with --subscribers subscribers (100,000 by
// default; 1,000,000 works too), measured end to end: a whole Herald (every
// role, as `herald all` runs, tcmalloc included) in this process against its
// embedded redis-server (unix socket, AOF everysec, as deployed). Prints one
// JSON line: how long the trigger call took, the time until every
// subscriber's feed item was written, this process's resident memory before
// and at its peak during the fan-out (Redis is another process and is
// reported separately: its used_memory peak and its peak RSS), how soon a
// trigger for one other user sent --other_after_ms into the fan-out reached
// its feed, and whether every subscriber got exactly one item. Exits 1 when
// one did not.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/redis_info.h"
#include "core/ids.h"
#include "core/keys.h"
#include "feed/feed_store.h"
#include "herald/v1/herald.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "redis/client.h"
#include "services/api/grpc_status.h"
#include "runtime/runtime.h"

ABSL_FLAG(int, subscribers, 100'000, "Subscribers of the object (each an identified user)");
ABSL_FLAG(int, page_size, 500, "Subscribers per page of the fan-out (herald --object_page_size)");
ABSL_FLAG(int, partitions, 4, "Herald partitions");
ABSL_FLAG(int, fanout_threads, 2, "Herald fan-out worker threads");
ABSL_FLAG(int, other_after_ms, 500, "Send the trigger for one other user this long after the fan-out's");
ABSL_FLAG(int, timeout_s, 1800, "Give up waiting for the fan-out after this long");

namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr int kPerCall = 1000;   // users per BulkIdentifyUsers / Subscribe call
constexpr int kPerCount = 5000;  // item counts per pipeline when counting feed items

double MillisSince(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
}

// A field of /proc/<pid>/status in MiB ("VmHWM" = peak, "VmRSS" = now).
double ProcStatusMiB(const std::string& field, const std::string& pid = "self") {
  std::ifstream status("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024.0;
  }
  return -1;
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return context;
}

std::string Member(int i) { return absl::StrCat("member-", i); }

// The call's status, its message prefixed with `what`.
absl::Status Called(const char* what, const grpc::Status& status) {
  absl::Status converted = herald::api::FromGrpcStatus(status);
  if (converted.ok()) return converted;
  return absl::Status(converted.code(), absl::StrCat(what, ": ", converted.message()));
}

#define OBJECT_FANOUT_RETURN_IF_ERROR(expr)   \
  do {                                        \
    absl::Status status_ = (expr);            \
    if (!status_.ok()) return status_;        \
  } while (false)

// Whether every event, batch and expansion stream is empty (entries are
// deleted once processed), looked at twice in a row.
bool PipelineIdle(herald::redis::RedisClient& redis, int partitions) {
  std::vector<herald::redis::Command> lengths;
  for (int p = 0; p < partitions; ++p) {
    herald::Keys keys(p);
    lengths.push_back({"XLEN", keys.Events()});
    lengths.push_back({"XLEN", keys.Batches()});
    lengths.push_back({"XLEN", keys.Expansions()});
  }
  for (int look = 0; look < 2; ++look) {
    for (auto& reply : redis.Pipeline(lengths)) {
      if (!reply.ok() || reply->integer != 0) return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Identifies the subscribers and subscribes them to channels/general.
absl::Status Populate(herald::v1::Herald::Stub& stub, int subscribers) {
  for (int first = 0; first < subscribers; first += kPerCall) {
    herald::v1::BulkIdentifyUsersRequest identify;
    herald::v1::SubscriptionsRequest subscribe;
    subscribe.mutable_object()->set_collection("channels");
    subscribe.mutable_object()->set_id("general");
    for (int i = first; i < std::min(first + kPerCall, subscribers); ++i) {
      herald::v1::InlineUser* user = identify.add_users();
      user->set_id(Member(i));
      user->set_name(absl::StrCat("M", i));
      subscribe.add_user_ids(Member(i));
    }
    herald::v1::BulkIdentifyUsersResponse identified;
    OBJECT_FANOUT_RETURN_IF_ERROR(
        Called("BulkIdentifyUsers", stub.BulkIdentifyUsers(Context().get(), identify, &identified)));
    herald::v1::SubscriptionsResponse subscribed;
    OBJECT_FANOUT_RETURN_IF_ERROR(Called("Subscribe", stub.Subscribe(Context().get(), subscribe, &subscribed)));
  }
  herald::v1::IdentifyUserRequest zed;
  zed.mutable_user()->set_id("zed");
  zed.mutable_user()->set_name("Zed");
  herald::v1::User user;
  return Called("IdentifyUser", stub.IdentifyUser(Context().get(), zed, &user));
}

// The run's figures, or why it could not finish (INVALID_ARGUMENT for a
// bad flag, DEADLINE_EXCEEDED past --timeout_s, else what Herald or Redis
// said).
absl::StatusOr<nlohmann::ordered_json> Run() {
  const int subscribers = absl::GetFlag(FLAGS_subscribers);
  const int partitions = absl::GetFlag(FLAGS_partitions);
  if (subscribers < 1) return absl::InvalidArgumentError("--subscribers must be positive");
  std::error_code error;
  std::string dir = (std::filesystem::temp_directory_path() / ("herald-object-fanout-" + std::to_string(getpid())))
                        .string();
  std::filesystem::create_directories(dir + "/workflows", error);
  std::ofstream(dir + "/workflows/announce.yaml") << R"(key: announce
steps:
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template: {markdown: "{{ data.text }}, {{ recipient.name }}"}
)";
  struct RemoveDir {
    std::string dir;
    ~RemoveDir() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } remove_dir{dir};

  herald::RuntimeOptions options;
  options.roles = "all";
  options.data_dir = dir;  // embedded redis-server in <dir>/redis
  options.workflows_dir = dir + "/workflows";
  options.grpc_address = "127.0.0.1:0";
  options.metrics_address = "";
  options.partitions = partitions;
  options.fanout_threads = absl::GetFlag(FLAGS_fanout_threads);
  options.object_page_size = absl::GetFlag(FLAGS_page_size);
  options.consumer_prefix = "bench";
  auto runtime = herald::Runtime::Start(options);
  if (!runtime.ok()) return runtime.status();
  struct Stop {
    herald::Runtime& runtime;
    ~Stop() { runtime.Shutdown(); }
  } stop{**runtime};
  auto stub = herald::v1::Herald::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", (*runtime)->grpc_port()), grpc::InsecureChannelCredentials()));
  auto endpoint = herald::redis::ParseEndpoint((*runtime)->redis_endpoint());
  if (!endpoint.ok()) return endpoint.status();
  auto redis = herald::redis::ConnectRedis(*endpoint);
  if (!redis.ok()) return redis.status();

  auto populating = SteadyClock::now();
  OBJECT_FANOUT_RETURN_IF_ERROR(Populate(*stub, subscribers));
  std::cerr << "object_fanout: " << subscribers << " subscribers identified in " << MillisSince(populating) / 1000
            << " s" << std::endl;

  // The peak from here on is the fan-out's: reset the high-water mark.
  std::ofstream("/proc/self/clear_refs") << "5";
  const double rss_before = ProcStatusMiB("VmRSS");
  const auto started = SteadyClock::now();
  herald::v1::TriggerRequest trigger;
  trigger.set_workflow("announce");
  trigger.add_recipients()->mutable_object()->set_collection("channels");
  trigger.mutable_recipients(0)->mutable_object()->set_id("general");
  trigger.set_data_json(R"({"text": "Maintenance tonight"})");
  herald::v1::TriggerResponse response;
  absl::Status triggered = Called("Trigger", stub->Trigger(Context().get(), trigger, &response));
  const double trigger_ms = MillisSince(started);
  OBJECT_FANOUT_RETURN_IF_ERROR(triggered);
  if (response.fanouts_size() != 1) return absl::InternalError("the trigger started no object fan-out");
  herald::v1::GetObjectFanoutRequest progress;
  progress.set_fanout_id(response.fanouts(0).fanout_id());

  // One other user's trigger while the fan-out runs: how soon is it in the
  // feed, and how far was the fan-out then?
  std::this_thread::sleep_for(std::chrono::milliseconds(absl::GetFlag(FLAGS_other_after_ms)));
  herald::v1::TriggerRequest other;
  other.set_workflow("announce");
  other.add_recipients()->set_id("zed");
  other.set_data_json(R"({"text": "Your export is ready"})");
  herald::v1::TriggerResponse other_response;
  const auto other_started = SteadyClock::now();
  OBJECT_FANOUT_RETURN_IF_ERROR(Called("Trigger (other)", stub->Trigger(Context().get(), other, &other_response)));
  const auto give_up = started + std::chrono::seconds(absl::GetFlag(FLAGS_timeout_s));
  const herald::redis::Command zed_items =
      herald::feed::CountItemsCommand(herald::Keys(herald::PartitionOf("zed", partitions)), {"zed"});
  while (true) {
    auto count = (*redis)->Execute(zed_items);
    if (count.ok() && count->integer > 0) break;
    if (SteadyClock::now() > give_up) return absl::DeadlineExceededError("the other trigger was never delivered");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double other_ms = MillisSince(other_started);
  herald::v1::ObjectFanout fanout;
  OBJECT_FANOUT_RETURN_IF_ERROR(Called("GetObjectFanout", stub->GetObjectFanout(Context().get(), progress, &fanout)));
  const std::string status_when_other_delivered = fanout.status();
  const int64_t recipients_when_other_delivered = fanout.recipients();

  // Done expanding, then every stream drained: every item is written.
  while (fanout.status() != "done" || !PipelineIdle(**redis, partitions)) {
    if (SteadyClock::now() > give_up) return absl::DeadlineExceededError("the fan-out did not finish in --timeout_s");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    OBJECT_FANOUT_RETURN_IF_ERROR(
        Called("GetObjectFanout", stub->GetObjectFanout(Context().get(), progress, &fanout)));
  }
  const double seconds = MillisSince(started) / 1000;
  const double peak = ProcStatusMiB("VmHWM");

  // Read back from Redis: exactly one feed item per subscriber.
  int64_t delivered = 0, not_exactly_one = 0;
  for (int first = 0; first < subscribers; first += kPerCount) {
    std::vector<herald::redis::Command> counts;
    for (int i = first; i < std::min(first + kPerCount, subscribers); ++i) {
      const std::string member = Member(i);
      const herald::Keys keys(herald::PartitionOf(member, partitions));
      counts.push_back(herald::feed::CountItemsCommand(keys, {member}));
    }
    for (auto& count : (*redis)->Pipeline(counts)) {
      if (!count.ok()) return count.status();
      delivered += count->integer;
      not_exactly_one += count->integer != 1;
    }
  }
  double redis_peak_mib = -1;
  auto info = herald::bench::ReadRedisInfo(**redis);
  if (info.ok()) redis_peak_mib = static_cast<double>(info->used_memory_peak) / (1024.0 * 1024.0);
  // The redis-server process's own high-water mark (since it started: the
  // users and subscriptions are in it too).
  double redis_peak_rss_mib = -1;
  auto server = (*redis)->Execute({"INFO", "server"});
  if (server.ok()) {
    size_t at = server->str.find("process_id:");
    if (at != std::string::npos) {
      redis_peak_rss_mib = ProcStatusMiB("VmHWM", server->str.substr(at + 11, server->str.find('\r', at) - at - 11));
    }
  }
  // Printed with `digits` decimals, not as the nearest binary fraction.
  auto round = [](double value, int digits) { return std::stod(absl::StrFormat("%.*f", digits, value)); };
  return nlohmann::ordered_json{{"subscribers", subscribers},
          {"page_size", options.object_page_size},
          {"pages", fanout.pages()},
          {"fanout_recipients", fanout.recipients()},
          {"trigger_ms", round(trigger_ms, 2)},
          {"seconds_to_all_delivered", round(seconds, 2)},
          {"notifications_per_s", static_cast<int64_t>(std::round(subscribers / seconds))},
          {"rss_before_mib", round(rss_before, 1)},
          {"peak_rss_mib", round(peak, 1)},
          {"peak_rss_growth_mib", round(peak - rss_before, 1)},
          {"redis_used_memory_peak_mib", round(redis_peak_mib, 1)},
          {"redis_peak_rss_mib", round(redis_peak_rss_mib, 1)},
          {"other_trigger_delivered_ms", round(other_ms, 1)},
          {"fanout_status_when_other_delivered", status_when_other_delivered},
          {"fanout_recipients_when_other_delivered", recipients_when_other_delivered},
          {"delivered", delivered},
          {"subscribers_without_exactly_one_item", not_exactly_one}};
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto result = Run();
  if (!result.ok()) {
    std::cerr << "object_fanout: " << result.status() << std::endl;
    return 1;
  }
  std::cout << result->dump() << std::endl;
  // Every subscriber exactly one item, and the progress record agrees.
  const int64_t subscribers = (*result)["subscribers"];
  return (*result)["delivered"] == subscribers && (*result)["subscribers_without_exactly_one_item"] == 0 &&
                 (*result)["fanout_recipients"] == subscribers
             ? 0
             : 1;
}
