// A consumer-group worker thread: connects (and reconnects), creates the
// groups, alternates between reclaiming stalled entries (XAUTOCLAIM) and
// reading new ones, and hands each read to a processing function. The
// batcher and the fan-out are both one of these with their own processing.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "core/clock.h"
#include "redis/client.h"
#include "redis/stream_consumer.h"

namespace herald::redis {

struct StreamWorkerOptions {
  std::vector<std::string> streams;
  std::string group;
  std::string consumer;
  std::string payload_field;
  int read_count = 256;
  int block_ms = 50;
  int64_t reclaim_idle_ms = 15000;
  int64_t reclaim_every_ms = 1000;
  std::string log_name;  // prefix of error lines on stderr
};

class StreamWorker {
 public:
  // Processes one read; acks what it finished (see StreamConsumer::Ack).
  using Process = std::function<absl::Status(RedisClient&, StreamConsumer&, const std::vector<StreamEntry>&)>;
  struct Hooks {
    std::function<void()> on_error = [] {};
    std::function<void(size_t)> on_reclaimed = [](size_t) {};
  };

  StreamWorker(const Endpoint& endpoint, StreamWorkerOptions options, const Clock& clock, Process process,
               Hooks hooks);
  ~StreamWorker();
  StreamWorker(const StreamWorker&) = delete;
  StreamWorker& operator=(const StreamWorker&) = delete;

  void Start();
  // Returns once the current read is processed (reads block at most block_ms).
  void Stop();

 private:
  void Run();
  void Fail(const absl::Status& status, const char* what);

  const Endpoint endpoint_;
  const StreamWorkerOptions options_;
  const Clock& clock_;
  const Process process_;
  const Hooks hooks_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace herald::redis
