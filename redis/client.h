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

// Which kind of client a connection is: the `client` label of Herald's Redis
// metrics (a small fixed set, never a per-call name).
enum class ClientKind {
  kSync = 0,  // a blocking connection owned by one worker or call
  kPipeline,  // an I/O thread of the API's group-commit AsyncPipeline
};
inline constexpr size_t kClientKinds = 2;

// Hears about the round trips of every connection made from an Endpoint
// that carries it (metrics/redis_metrics.h counts them for Prometheus). Called
// on the connection's own thread once per round trip, never per command, so
// the hot path pays one clock pair and one observation per pipeline.
// Implementations are thread-safe and must not block.
class ClientObserver {
 public:
  enum class Failure {
    kConnection = 0,  // cannot connect, or the connection broke
    kTimeout,         // no reply within the command timeout
    kReply,           // an error reply from Redis that is not a Herald user error
  };
  static constexpr size_t kFailures = 3;

  virtual ~ClientObserver() = default;
  // One pipeline of `commands` commands went out and every reply came back
  // (or the connection failed) after `seconds`. `blocking`: the pipeline was
  // one blocking command (XREADGROUP ... BLOCK, BLPOP, ...), whose time is
  // mostly a wait for data, not Redis's latency.
  virtual void RoundTrip(ClientKind kind, double seconds, size_t commands, bool blocking) = 0;
  // `count` failures of one kind in one round trip.
  virtual void Failed(ClientKind kind, Failure failure, size_t count) = 0;
};

// Where Redis is (a TCP host/port or a unix socket path), how to log in,
// and who hears about the round trips of the connections made to it.
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
  // Not part of the address: every connection made from this endpoint
  // reports to it (nullptr: nobody). Shared because workers copy endpoints.
  std::shared_ptr<ClientObserver> observer;
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
  // The `client` label of this connection's round trips.
  ClientKind kind = ClientKind::kSync;
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
