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

// Where Redis is: a TCP host/port or a unix socket path, and how to log in.
struct Endpoint {
  std::string host;
  int port = 0;
  std::string unix_socket;  // wins when set
  // Sent as AUTH right after every connect when `password` is set: the
  // two-argument form (an ACL user) when `username` is set too.
  std::string username;
  std::string password;
  // "host:port" or "unix:///path": never the user or the password, so it
  // is safe in logs and errors.
  std::string ToString() const;
};

// Parses "unix:///path", "/path.sock", "host:port", and
// "redis://[user[:password]@]host[:port]" (user and password
// percent-decoded; "redis://:password@host" logs in as the default user).
// INVALID_ARGUMENT names the problem, with any password shown as "***".
absl::StatusOr<Endpoint> ParseEndpoint(const std::string& address);

// The endpoint of herald's --redis and --redis_password_file flags:
// ParseEndpoint(address), then the password read from `password_file` when
// set (one line; a trailing newline is dropped), which wins over one in the
// URL. INVALID_ARGUMENT naming the flag; no message shows a password.
absl::StatusOr<Endpoint> EndpointFromFlags(const std::string& address, const std::string& password_file);

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

// Connects (lazily reconnecting after a failure), logging in with AUTH
// when the endpoint has a password. UNAVAILABLE when the server cannot be
// reached; FAILED_PRECONDITION when it refuses the login or wants one that
// was not given.
absl::StatusOr<std::unique_ptr<RedisClient>> ConnectRedis(const Endpoint& endpoint,
                                                          const ClientOptions& options = {});

// Polls PING until it answers or `deadline` passes; returns a refused
// login (FAILED_PRECONDITION) at once.
absl::Status WaitForRedis(const Endpoint& endpoint, absl::Duration deadline);

}  // namespace herald::redis
