// The Redis seam: everything in Herald talks to Redis through RedisClient,
// so logic above it can be tested against a fake and the transport can change.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "redis/reply.h"

namespace herald::redis {

using Command = std::vector<std::string>;

// Where Redis is: a TCP host/port or a unix socket path.
struct Endpoint {
  std::string host;
  int port = 0;
  std::string unix_socket;  // wins when set
  std::string ToString() const;
};

// Parses "unix:///path", "/path.sock", "redis://host:port", "host:port".
// INVALID_ARGUMENT names the problem.
absl::StatusOr<Endpoint> ParseEndpoint(const std::string& address);

struct ClientOptions {
  absl::Duration connect_timeout = absl::Seconds(2);
  // Applies to every reply; blocking commands must use a shorter BLOCK.
  absl::Duration command_timeout = absl::Seconds(5);
};

// A single connection. Not thread-safe: one owner at a time.
class RedisClient {
 public:
  virtual ~RedisClient() = default;

  // Sends every command in one round trip and returns one result per
  // command, in order. A script call that CheckScriptKeys refuses is not
  // sent and gets its error. A transport failure fails every command still
  // unanswered with UNAVAILABLE (or DEADLINE_EXCEEDED on timeout); Redis
  // error replies become per-command errors (see ErrorReplyToStatus). A
  // script unknown to the server (NOSCRIPT) is re-sent with its body.
  virtual std::vector<absl::StatusOr<Reply>> Pipeline(const std::vector<Command>& commands) = 0;

  // One command.
  absl::StatusOr<Reply> Execute(const Command& command) {
    return std::move(Pipeline({command}).front());
  }
};

// OK unless `command` is a script call (EVAL/EVALSHA) that Redis Cluster
// could not route to one slot: no key, or keys with different hash tags
// (INTERNAL naming them: a mistake in Herald's code, never sent).
absl::Status CheckScriptKeys(const Command& command);

// Connects (lazily reconnecting after a failure). UNAVAILABLE when the
// server cannot be reached.
absl::StatusOr<std::unique_ptr<RedisClient>> ConnectRedis(const Endpoint& endpoint,
                                                          const ClientOptions& options = {});

// Polls PING until it answers or `deadline` passes.
absl::Status WaitForRedis(const Endpoint& endpoint, absl::Duration deadline);

}  // namespace herald::redis
