// Runs a private redis-server child for `herald all` on a laptop and for
// tests: unix socket in a data folder, AOF everysec so a restart keeps
// pending batches, shut down cleanly (SHUTDOWN: the AOF is fsynced) when
// Herald drains, and killed with its parent otherwise.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "redis/client.h"

namespace herald::redis {

struct EmbeddedServerOptions {
  std::string data_dir;  // created when missing
  // 0 = unix socket only (<data_dir>/redis.sock); otherwise also this TCP port on 127.0.0.1.
  int tcp_port = 0;
  bool append_only = true;
  // A one-node Redis Cluster (cluster-enabled, every slot on this node):
  // Redis then refuses any command or script that touches keys of two
  // slots, which is how tests prove Herald stays Cluster-ready. Needs a TCP
  // port (tcp_port 0 picks a free one) and picks a free one for the bus.
  bool single_node_cluster = false;
  std::string redis_server_binary = "redis-server";
};

// Owns the child process; the destructor shuts it down (see Shutdown).
class EmbeddedServer {
 public:
  static absl::StatusOr<std::unique_ptr<EmbeddedServer>> Start(const EmbeddedServerOptions& options);
  ~EmbeddedServer();
  EmbeddedServer(const EmbeddedServer&) = delete;
  EmbeddedServer& operator=(const EmbeddedServer&) = delete;

  const Endpoint& endpoint() const { return endpoint_; }
  pid_t pid() const { return pid_; }
  // Sends SHUTDOWN (Redis fsyncs the AOF, then exits; SIGTERM when the
  // command cannot be sent) and waits up to `timeout` for the process to
  // exit. OK when it exited 0. INTERNAL when it refused (its error: e.g.
  // the AOF could not be written) or exited otherwise; DEADLINE_EXCEEDED
  // when it did not exit in time: it is then killed, and writes of its
  // last second may be lost. The process is gone in every case; a second
  // call returns OK at once.
  absl::Status Shutdown(absl::Duration timeout);
  // Shutdown with a 10 s timeout, its outcome ignored (idempotent).
  void Stop();

 private:
  EmbeddedServer(pid_t pid, Endpoint endpoint) : pid_(pid), endpoint_(std::move(endpoint)) {}
  pid_t pid_;
  Endpoint endpoint_;
};

}  // namespace herald::redis
