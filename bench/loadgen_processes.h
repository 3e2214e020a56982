// The processes bench/loadgen starts: its own redis-server and Herald (all
// roles) with the bench workflow, the delivery sinks (bench/webhook_sink.js,
// bench/smtp_sink.py) and the BullMQ peer pipeline
// (shared/anchors/run_bullmq_peer.sh). Every child dies with loadgen
// (PR_SET_PDEATHSIG) and is stopped by its owner's destructor.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "redis/embedded_server.h"

namespace herald::bench {

// A sink child process: it prints {"port": N[, "stats_port": M]} first and
// exits when its stdin closes, so it never outlives loadgen.
struct Sink {
  pid_t pid = -1;
  int stdin_fd = -1;
  int port = 0;
  int stats_port = 0;  // GET /stats; the same as `port` for the HTTP sink
  Sink() = default;
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;
  ~Sink();
};

struct SinkStats {
  int64_t count = 0, unique = 0, duplicates = 0, first_ms = 0, last_ms = 0;
};

// The sink's GET /stats, or nullopt when it does not answer.
std::optional<SinkStats> ReadSinkStats(const Sink& sink);

struct HeraldSettings {
  std::string binary;
  int partitions = 4;
  int fanout_threads = 2;
  bool webhook_sink = false;
  bool smtp_sink = false;
  int channel_concurrency = 64;
  int dispatcher_threads = 0;
  // > 0: the bench workflow batches each recipient's triggers for this
  // long (fixed window, no maximum) before the in-app step.
  int batch_window_ms = 0;
  // Appended to Herald's command line (after loadgen's own flags, so they
  // win).
  std::vector<std::string> extra_args;
};

// Loadgen's own redis-server, Herald and sinks. Not thread-safe.
class OwnHerald {
 public:
  OwnHerald() = default;
  OwnHerald(const OwnHerald&) = delete;
  OwnHerald& operator=(const OwnHerald&) = delete;
  ~OwnHerald() { Stop(); }

  // Starts redis-server (unix socket, AOF everysec, as deployed); returns
  // its address. Loadgen prepares it (and measures what its own reads
  // cost) before Herald starts.
  absl::StatusOr<std::string> StartRedis();
  // REQUIRES: StartRedis() succeeded. Starts the sinks asked for, then
  // Herald on port 0; returns Herald's gRPC address. UNAVAILABLE (or the
  // child's error) when something does not start.
  absl::StatusOr<std::string> StartHerald(const HeraldSettings& settings);
  // Stops Herald, the sinks and Redis, and removes the data. Idempotent.
  void Stop();

  int metrics_port() const { return metrics_port_; }
  const Sink* webhook_sink() const { return webhook_sink_.get(); }
  const Sink* smtp_sink() const { return smtp_sink_.get(); }

 private:
  std::unique_ptr<redis::EmbeddedServer> redis_;
  std::unique_ptr<Sink> webhook_sink_, smtp_sink_;
  pid_t pid_ = -1;
  std::string dir_;
  int metrics_port_ = 0;
};

// Runs the BullMQ peer pipeline (`script` EVENTS RECIPIENTS, which starts
// its own redis-server) and returns its JSON line (the last line of its
// output that is a JSON object). INTERNAL when it fails or prints none.
absl::StatusOr<nlohmann::json> RunPeer(const std::string& script, int64_t events, int recipients);

}  // namespace herald::bench
