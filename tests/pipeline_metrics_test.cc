// The metrics that need Redis to be right, against a real redis-server: the
// pipeline sampler (stream length, pending, lag with and without Redis's
// own figure, active consumers, open batches, dead letters by channel), the
// flusher's batch-size and lateness histograms, and the Redis client
// metrics (one observation per round trip; which errors count).
#include <cmath>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "batcher/batcher.h"
#include "core/clock.h"
#include "core/keys.h"
#include "gtest/gtest.h"
#include "herald/v1/pipeline.pb.h"
#include "metrics/pipeline_sampler.h"
#include "metrics/redis_metrics.h"
#include "prometheus/registry.h"
#include "runs/wait_store.h"
#include "services/delivery/config.h"
#include "tests/support/eventually.h"
#include "tests/support/redis_fixture.h"
#include "tests/support/wait_appends.h"

namespace herald {
namespace {

using testing::Eventually;
using Labels = std::map<std::string, std::string>;

// The value of the series `name`{labels} in `registry` (a counter, gauge,
// or a histogram's count when `name` ends in _count); NaN when absent.
double Value(prometheus::Registry& registry, const std::string& name, const Labels& labels) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    const bool count = family.type == prometheus::MetricType::Histogram && name == family.name + "_count";
    const bool sum = family.type == prometheus::MetricType::Histogram && name == family.name + "_sum";
    if (family.name != name && !count && !sum) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      Labels have;
      for (const auto& label : metric.label) have[label.name] = label.value;
      if (have != labels) continue;
      if (count) return static_cast<double>(metric.histogram.sample_count);
      if (sum) return metric.histogram.sample_sum;
      return family.type == prometheus::MetricType::Counter ? metric.counter.value : metric.gauge.value;
    }
  }
  return std::nan("");
}

class PipelineMetricsTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    client_ = Connect();
    ASSERT_TRUE(client_);
  }

  void Run(const redis::Command& command) {
    auto reply = client_->Execute(command);
    ASSERT_TRUE(reply.ok()) << command[0] << ": " << reply.status();
  }
  void AddEntries(const std::string& stream, int count) {
    for (int i = 0; i < count; ++i) Run({"XADD", stream, "*", "f", "v"});
  }
  void ReadAs(const std::string& stream, const std::string& group, const std::string& consumer, int count) {
    Run({"XREADGROUP", "GROUP", group, consumer, "COUNT", std::to_string(count), "STREAMS", stream, ">"});
  }

  std::unique_ptr<redis::RedisClient> client_;
};

const metrics::GroupStats* FindGroup(const metrics::StreamStats& stream, const std::string& name) {
  for (const auto& group : stream.groups) {
    if (group.group == name) return &group;
  }
  return nullptr;
}

TEST_F(PipelineMetricsTest, SampleReadsLengthPendingLagAndOpenWaitsPerPartition) {
  const Keys p0(0), p1(1);
  Run({"XGROUP", "CREATE", p0.Events(), "batcher", "0", "MKSTREAM"});
  AddEntries(p0.Events(), 5);
  ReadAs(p0.Events(), "batcher", "worker-1", 3);
  auto pending = client_->Execute({"XPENDING", p0.Events(), "batcher", "-", "+", "1"});
  ASSERT_TRUE(pending.ok());
  Run({"XACK", p0.Events(), "batcher", pending->elements[0].elements[0].str});
  AddEntries(p1.MessageLog(), 2);
  Run({"ZADD", p1.Due(), "1", "a", "2", "b", "3", "c"});

  metrics::SampleOptions options;
  options.partitions = 2;
  auto sample = metrics::SampleOnce(*client_, options);
  ASSERT_TRUE(sample.ok()) << sample.status();
  ASSERT_EQ(sample->partitions.size(), 2u);
  const auto& events0 = sample->partitions[0].streams[static_cast<size_t>(metrics::SampledStream::kEvents)];
  EXPECT_EQ(events0.length, 5);
  const metrics::GroupStats* batcher = FindGroup(events0, "batcher");
  ASSERT_NE(batcher, nullptr);
  EXPECT_EQ(batcher->pending, 2) << "three read, one acknowledged";
  EXPECT_EQ(batcher->lag, 2) << "two never delivered";
  EXPECT_EQ(batcher->active_consumers, 1);
  EXPECT_EQ(sample->partitions[0].open_waits, 0);
  const auto& events1 = sample->partitions[1].streams[static_cast<size_t>(metrics::SampledStream::kEvents)];
  EXPECT_EQ(events1.length, 0);
  EXPECT_TRUE(events1.groups.empty());
  EXPECT_EQ(sample->partitions[1].streams[static_cast<size_t>(metrics::SampledStream::kMessageLog)].length, 2);
  EXPECT_EQ(sample->partitions[1].open_waits, 3);
  EXPECT_TRUE(sample->dead_letters.empty()) << "not asked for";
}

TEST_F(PipelineMetricsTest, LagIsCountedWhenDeletionsLeaveRedisWithoutOne) {
  const Keys keys(0);
  const std::string& stream = keys.Deliveries();
  Run({"XGROUP", "CREATE", stream, "delivery", "0", "MKSTREAM"});
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    auto id = client_->Execute({"XADD", stream, "*", "m", absl::StrCat("message-", i)});
    ASSERT_TRUE(id.ok());
    ids.push_back(id->str);
  }
  ReadAs(stream, "delivery", "worker-1", 1);
  // A deletion after the group's position: Redis 7 reports no lag then.
  Run({"XDEL", stream, ids[2]});
  auto info = client_->Execute({"XINFO", "GROUPS", stream});
  ASSERT_TRUE(info.ok());
  for (size_t i = 0; i + 1 < info->elements[0].elements.size(); i += 2) {
    if (info->elements[0].elements[i].str == "lag") {
      EXPECT_TRUE(info->elements[0].elements[i + 1].is_nil()) << "this Redis knows the lag: the fallback is not tested";
    }
  }

  metrics::SampleOptions options;
  options.partitions = 1;
  auto sample = metrics::SampleOnce(*client_, options);
  ASSERT_TRUE(sample.ok()) << sample.status();
  const auto& deliveries = sample->partitions[0].streams[static_cast<size_t>(metrics::SampledStream::kDeliveries)];
  const metrics::GroupStats* group = FindGroup(deliveries, "delivery");
  ASSERT_NE(group, nullptr);
  EXPECT_EQ(group->lag, 2) << "entries 1 and 3 wait; entry 2 is gone";
  EXPECT_EQ(deliveries.length, 3);

  options.lag_count_limit = 1;
  sample = metrics::SampleOnce(*client_, options);
  ASSERT_TRUE(sample.ok()) << sample.status();
  group = FindGroup(sample->partitions[0].streams[static_cast<size_t>(metrics::SampledStream::kDeliveries)],
                    "delivery");
  ASSERT_NE(group, nullptr);
  EXPECT_EQ(group->lag, 1) << "counting stops at the limit";
}

TEST_F(PipelineMetricsTest, OnlyConsumersThatTookEntriesLatelyAreActive) {
  const Keys keys(0);
  Run({"XGROUP", "CREATE", keys.Batches(), "fanout", "0", "MKSTREAM"});
  // A consumer left behind by a dead process: it never reads again.
  Run({"XGROUP", "CREATECONSUMER", keys.Batches(), "fanout", "dead-worker"});
  metrics::SampleOptions options;
  options.partitions = 1;
  options.active_consumer_ms = 300;
  auto active = [&]() -> int64_t {
    auto sample = metrics::SampleOnce(*client_, options);
    EXPECT_TRUE(sample.ok()) << sample.status();
    if (!sample.ok()) return -1;
    const auto* group =
        FindGroup(sample->partitions[0].streams[static_cast<size_t>(metrics::SampledStream::kBatches)], "fanout");
    return group != nullptr ? group->active_consumers : -1;
  };
  ASSERT_TRUE(Eventually([&] { return active() == 0; })) << "the dead consumer's idle time passes the window";
  // A live consumer takes an entry: it counts, the dead one does not.
  AddEntries(keys.Batches(), 1);
  ReadAs(keys.Batches(), "fanout", "live-worker", 1);
  EXPECT_EQ(active(), 1);
}

constexpr char kDeliveryConfig[] = R"(
channels:
  email:
    provider: smtp
    options: {host: 127.0.0.1, port: 25, from: "Herald <noreply@herald.test>"}
  hooks:
    provider: webhook
    options: {url: "http://127.0.0.1:1/hook"}
)";

TEST_F(PipelineMetricsTest, DeadLettersAreCountedByTheChannelTheDispatcherWouldUse) {
  auto config = delivery::ParseDeliveryConfig(kDeliveryConfig, {});
  ASSERT_TRUE(config.ok()) << config.status();
  // Records on two partitions: a named channel, a step that named only a
  // type (the first channel of that type takes it), a channel that is not
  // configured, and a dead letter whose record has expired.
  struct Dead {
    int partition;
    std::string id, channel, channel_type;
  };
  const std::vector<Dead> dead = {{0, "m1", "email", "email"}, {1, "m2", "email", "email"},
                                  {1, "m3", "", "webhook"},     {0, "m4", "fax", "sms"},
                                  {0, "m5", "", ""}};
  int64_t score = 1;
  for (const Dead& letter : dead) {
    const Keys keys(letter.partition);
    if (!letter.channel_type.empty()) {
      Run({"HSET", keys.Message(letter.id), "id", letter.id, "channel", letter.channel, "channel_type",
           letter.channel_type});
    }
    Run({"ZADD", keys.DeadLetters(), std::to_string(score++), letter.id});
  }
  prometheus::Registry registry;
  metrics::PipelineMetrics pipeline(registry, 2, std::make_shared<const delivery::DeliveryConfig>(*config));
  metrics::SampleOptions options;
  options.partitions = 2;
  options.dead_letters = true;
  auto sample = metrics::SampleOnce(*client_, options);
  ASSERT_TRUE(sample.ok()) << sample.status();
  pipeline.Record(*sample);
  EXPECT_EQ(Value(registry, "herald_dead_letters", {{"channel", "email"}}), 2);
  EXPECT_EQ(Value(registry, "herald_dead_letters", {{"channel", "hooks"}}), 1);
  EXPECT_EQ(Value(registry, "herald_dead_letters", {{"channel", "other"}}), 1);
  EXPECT_EQ(Value(registry, "herald_dead_letters", {{"channel", "unknown"}}), 1);

  // Reading at most one record per partition: the rest is "unknown", the
  // total stays exact.
  options.dead_letter_records_limit = 1;
  sample = metrics::SampleOnce(*client_, options);
  ASSERT_TRUE(sample.ok()) << sample.status();
  pipeline.Record(*sample);
  EXPECT_EQ(Value(registry, "herald_dead_letters", {{"channel", "email"}}), 2) << "m1 and m2, the oldest of each";
  EXPECT_EQ(Value(registry, "herald_dead_letters", {{"channel", "hooks"}}), 0);
  EXPECT_EQ(Value(registry, "herald_dead_letters", {{"channel", "other"}}), 0);
  EXPECT_EQ(Value(registry, "herald_dead_letters", {{"channel", "unknown"}}), 3);

  // Replayed or purged: every channel back to zero.
  for (int p = 0; p < 2; ++p) Run({"DEL", Keys(p).DeadLetters()});
  sample = metrics::SampleOnce(*client_, options);
  ASSERT_TRUE(sample.ok()) << sample.status();
  pipeline.Record(*sample);
  for (const char* channel : {"email", "hooks", "other", "unknown"}) {
    EXPECT_EQ(Value(registry, "herald_dead_letters", {{"channel", channel}}), 0) << channel;
  }
}

TEST_F(PipelineMetricsTest, GaugesFollowTheStagesOwnGroupsAndDropGroupsThatAreGone) {
  const Keys p0(0), p1(1);
  Run({"XGROUP", "CREATE", p1.Events(), "batcher", "0", "MKSTREAM"});
  Run({"XGROUP", "CREATE", p1.Events(), "someone-else", "0"});
  AddEntries(p1.Events(), 4);
  ReadAs(p1.Events(), "batcher", "worker-1", 1);
  // The bulk lane of the same stream: the same group, its own series.
  Run({"XGROUP", "CREATE", p1.EventsBulk(), "batcher", "0", "MKSTREAM"});
  AddEntries(p1.EventsBulk(), 7);
  ReadAs(p1.EventsBulk(), "batcher", "worker-1", 2);
  Run({"ZADD", p0.Due(), "1", "a"});

  prometheus::Registry registry;
  metrics::PipelineMetrics pipeline(registry, 2, nullptr);
  metrics::SampleOptions options;
  options.partitions = 2;
  auto sample = metrics::SampleOnce(*client_, options);
  ASSERT_TRUE(sample.ok()) << sample.status();
  pipeline.Record(*sample);
  const Labels batcher1 = {{"stream", "events"}, {"group", "batcher"}, {"lane", "normal"}, {"partition", "1"}};
  const Labels bulk1 = {{"stream", "events"}, {"group", "batcher"}, {"lane", "bulk"}, {"partition", "1"}};
  EXPECT_EQ(Value(registry, "herald_stream_length", {{"stream", "events"}, {"lane", "normal"}, {"partition", "1"}}), 4);
  EXPECT_EQ(Value(registry, "herald_stream_length", {{"stream", "events"}, {"lane", "normal"}, {"partition", "0"}}), 0);
  EXPECT_EQ(Value(registry, "herald_stream_length", {{"stream", "events"}, {"lane", "bulk"}, {"partition", "1"}}), 7);
  EXPECT_EQ(Value(registry, "herald_stream_length", {{"stream", "batches"}, {"lane", "bulk"}, {"partition", "1"}}), 0);
  EXPECT_EQ(Value(registry, "herald_stream_lag", batcher1), 3);
  EXPECT_EQ(Value(registry, "herald_stream_pending", batcher1), 1);
  EXPECT_EQ(Value(registry, "herald_stream_consumers", batcher1), 1);
  EXPECT_EQ(Value(registry, "herald_stream_lag", bulk1), 5);
  EXPECT_EQ(Value(registry, "herald_stream_pending", bulk1), 2);
  EXPECT_EQ(Value(registry, "herald_stream_consumers", bulk1), 1);
  EXPECT_TRUE(std::isnan(Value(registry, "herald_stream_lag",
                               {{"stream", "events"}, {"group", "someone-else"}, {"lane", "normal"}, {"partition", "1"}})));
  EXPECT_TRUE(std::isnan(Value(registry, "herald_stream_lag",
                               {{"stream", "events"}, {"group", "batcher"}, {"lane", "normal"}, {"partition", "0"}})))
      << "no group on partition 0: no series (and no 'no consumers' alert)";
  EXPECT_EQ(Value(registry, "herald_open_batches", {{"partition", "0"}}), 1);
  EXPECT_EQ(Value(registry, "herald_open_batches", {{"partition", "1"}}), 0);
  EXPECT_TRUE(std::isnan(Value(registry, "herald_dead_letters", {{"channel", "other"}})))
      << "no delivery configuration: no dead-letter gauge";

  Run({"DEL", p1.Events()});
  sample = metrics::SampleOnce(*client_, options);
  ASSERT_TRUE(sample.ok()) << sample.status();
  pipeline.Record(*sample);
  EXPECT_TRUE(std::isnan(Value(registry, "herald_stream_lag", batcher1)));
  EXPECT_TRUE(std::isnan(Value(registry, "herald_stream_consumers", batcher1)));
  EXPECT_EQ(Value(registry, "herald_stream_lag", bulk1), 5) << "the bulk lane's group is still there";
  EXPECT_EQ(Value(registry, "herald_stream_length", {{"stream", "events"}, {"lane", "normal"}, {"partition", "1"}}), 0);
}

TEST_F(PipelineMetricsTest, SamplerThreadSamplesOnTheInjectedClock) {
  const Keys keys(0);
  SimulatedClock clock(SystemClock::Get().NowMicros());
  prometheus::Registry registry;
  metrics::PipelineMetrics pipeline(registry, 1, nullptr);
  metrics::PipelineSamplerOptions options;
  options.partitions = 1;
  options.interval_ms = 5'000;
  options.poll_ms = 5;
  metrics::PipelineSampler sampler(endpoint(), clock, options, pipeline);
  const Labels events = {{"stream", "events"}, {"lane", "normal"}, {"partition", "0"}};
  AddEntries(keys.Events(), 2);
  sampler.Start();
  EXPECT_TRUE(Eventually([&] { return Value(registry, "herald_stream_length", events) == 2; }))
      << "the first sample is taken at once";
  AddEntries(keys.Events(), 3);
  clock.AdvanceMillis(4'999);
  absl::SleepFor(absl::Milliseconds(50));  // ten polls: none may sample before the interval
  EXPECT_EQ(Value(registry, "herald_stream_length", events), 2);
  clock.AdvanceMillis(1);
  EXPECT_TRUE(Eventually([&] { return Value(registry, "herald_stream_length", events) == 5; }));
  sampler.Stop();
  EXPECT_EQ(Value(registry, "herald_pipeline_sample_errors_total", {}), 0);
}

runs::WaitAppend Append(const std::string& wait_key, const std::string& run_id, int64_t now_ms, int64_t window_ms,
                        bool delay) {
  testing::TestAppendOptions options;
  options.window_ms = window_ms;
  options.max_window_ms = window_ms;
  options.delay = delay;
  return testing::MakeTestAppend(wait_key, run_id, now_ms, options);
}

TEST_F(PipelineMetricsTest, FlusherObservesBatchSizesAndLatenessButNotDelaysAsBatches) {
  const Keys keys(0);
  const int64_t now = 1'000'000;
  // A batch of three due at now+1000, and a delay due at now+2000.
  for (int i = 0; i < 3; ++i) {
    auto reply = client_->Execute(runs::AppendCommand(keys, Append("digest", absl::StrCat("run-", i), now, 1000, false)));
    ASSERT_TRUE(reply.ok()) << reply.status();
  }
  auto reply = client_->Execute(runs::AppendCommand(keys, Append("later", "run-9", now, 2000, true)));
  ASSERT_TRUE(reply.ok()) << reply.status();

  prometheus::Registry registry;
  batcher::BatcherMetrics metrics(registry);
  // Claimed 250 ms after the batch was due and 1250 ms before the delay.
  auto claimed = batcher::Flusher::ClaimDue(*client_, 1, now + 1250, 10, &metrics);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_EQ(*claimed, 1);
  EXPECT_EQ(Value(registry, "herald_batch_activities_count", {}), 1);
  EXPECT_EQ(Value(registry, "herald_batch_activities_sum", {}), 3);
  EXPECT_EQ(Value(registry, "herald_flush_lateness_seconds_count", {}), 1);
  EXPECT_DOUBLE_EQ(Value(registry, "herald_flush_lateness_seconds_sum", {}), 0.25);

  claimed = batcher::Flusher::ClaimDue(*client_, 1, now + 2000, 10, &metrics);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_EQ(*claimed, 1);
  EXPECT_EQ(Value(registry, "herald_batch_activities_count", {}), 1) << "a delay is not a batch";
  EXPECT_EQ(Value(registry, "herald_flush_lateness_seconds_count", {}), 2) << "but it flushes, on time";
  EXPECT_DOUBLE_EQ(Value(registry, "herald_flush_lateness_seconds_sum", {}), 0.25);
}

TEST_F(PipelineMetricsTest, RedisMetricsObserveRoundTripsAndCountOnlyRealFailures) {
  auto registry = std::make_shared<prometheus::Registry>();
  redis::Endpoint observed = endpoint();
  observed.observer = std::make_shared<metrics::RedisMetrics>(registry);
  auto client = redis::ConnectRedis(observed);
  ASSERT_TRUE(client.ok()) << client.status();
  const Labels sync = {{"client", "sync"}};
  auto errors = [&](const char* kind) {
    return Value(*registry, "herald_redis_errors_total", {{"client", "sync"}, {"error", kind}});
  };

  // One observation per round trip, however many commands it carries.
  ASSERT_TRUE((*client)->Execute({"PING"}).ok());
  auto replies = (*client)->Pipeline({{"SET", "a", "1"}, {"GET", "a"}, {"DEL", "a"}});
  EXPECT_EQ(Value(*registry, "herald_redis_command_seconds_count", sync), 2);
  EXPECT_EQ(Value(*registry, "herald_redis_commands_total", sync), 4);
  EXPECT_GT(Value(*registry, "herald_redis_command_seconds_sum", sync), 0);

  // Expected error replies are not failures: an existing group, and a
  // Herald script's answer to bad input.
  Run({"XGROUP", "CREATE", "s", "g", "0", "MKSTREAM"});
  EXPECT_FALSE((*client)->Execute({"XGROUP", "CREATE", "s", "g", "0", "MKSTREAM"}).ok());
  auto not_found =
      (*client)->Execute({"EVAL", "return redis.error_reply('HERALD NOT_FOUND user: no user u')", "1", "{0}k"});
  EXPECT_EQ(not_found.status().code(), absl::StatusCode::kNotFound) << not_found.status();
  EXPECT_EQ(errors("reply"), 0);
  // Redis refusing a command is one.
  EXPECT_FALSE((*client)->Pipeline({{"INCR", "s"}, {"PING"}, {"NOSUCHCOMMAND"}})[0].ok());
  EXPECT_EQ(errors("reply"), 2);
  // A blocking read waits for data on purpose: counted, not timed.
  const double timed = Value(*registry, "herald_redis_command_seconds_count", sync);
  const double sent = Value(*registry, "herald_redis_commands_total", sync);
  auto read = (*client)->Execute({"XREADGROUP", "GROUP", "g", "c", "BLOCK", "20", "STREAMS", "s", ">"});
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(Value(*registry, "herald_redis_command_seconds_count", sync), timed);
  EXPECT_EQ(Value(*registry, "herald_redis_commands_total", sync), sent + 1);
  // No reply within the command timeout.
  redis::ClientOptions impatient;
  impatient.command_timeout = absl::Milliseconds(100);
  auto hasty = redis::ConnectRedis(observed, impatient);
  ASSERT_TRUE(hasty.ok()) << hasty.status();
  auto blocked = (*hasty)->Execute({"BLPOP", "nothing", "1"});
  EXPECT_EQ(blocked.status().code(), absl::StatusCode::kDeadlineExceeded) << blocked.status();
  EXPECT_EQ(errors("timeout"), 1);
  EXPECT_EQ(errors("connection"), 0);
  EXPECT_EQ(Value(*registry, "herald_redis_errors_total", {{"client", "pipeline"}, {"error", "timeout"}}), 0);

  // Nothing listens: a connection failure, no round trip.
  redis::Endpoint nowhere = observed;
  nowhere.unix_socket = absl::StrCat(testing::MakeTempDir("herald-no-redis-"), "/none.sock");
  const double round_trips = Value(*registry, "herald_redis_command_seconds_count", sync);
  EXPECT_FALSE(redis::ConnectRedis(nowhere).ok());
  EXPECT_EQ(errors("connection"), 1);
  EXPECT_EQ(Value(*registry, "herald_redis_command_seconds_count", sync), round_trips);
}

}  // namespace
}  // namespace herald
