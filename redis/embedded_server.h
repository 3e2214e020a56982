// Runs a private redis-server child for `herald all` on a laptop and for
// tests: unix socket in a data folder, AOF everysec so a restart keeps
// pending batches, killed with its parent.
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

// Owns the child process; the destructor stops it (SIGTERM, then waits).
class EmbeddedServer {
 public:
  static absl::StatusOr<std::unique_ptr<EmbeddedServer>> Start(const EmbeddedServerOptions& options);
  ~EmbeddedServer();
  EmbeddedServer(const EmbeddedServer&) = delete;
  EmbeddedServer& operator=(const EmbeddedServer&) = delete;

  const Endpoint& endpoint() const { return endpoint_; }
  pid_t pid() const { return pid_; }
  // Stops the server now (idempotent).
  void Stop();

 private:
  EmbeddedServer(pid_t pid, Endpoint endpoint) : pid_(pid), endpoint_(std::move(endpoint)) {}
  pid_t pid_;
  Endpoint endpoint_;
};

}  // namespace herald::redis
