// hiredis-backed RedisClient: RAII over redisContext, pipelining via
// redisAppendCommandArgv, reconnect on the next call after a failure.
#include <hiredis/hiredis.h>

#include <charconv>
#include <chrono>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "redis/client.h"
#include "core/keys.h"
#include "redis/script.h"

namespace herald::redis {
namespace {

struct ContextDeleter {
  void operator()(redisContext* context) const { redisFree(context); }
};
struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;


Reply Convert(const redisReply* raw) {
  Reply reply;
  switch (raw->type) {
    case REDIS_REPLY_STRING:
      reply.type = Reply::Type::kString;
      reply.str.assign(raw->str, raw->len);
      break;
    case REDIS_REPLY_STATUS:
      reply.type = Reply::Type::kStatus;
      reply.str.assign(raw->str, raw->len);
      break;
    case REDIS_REPLY_ERROR:
      reply.type = Reply::Type::kError;
      reply.str.assign(raw->str, raw->len);
      break;
    case REDIS_REPLY_INTEGER:
      reply.type = Reply::Type::kInteger;
      reply.integer = raw->integer;
      break;
    case REDIS_REPLY_ARRAY:
      reply.type = Reply::Type::kArray;
      reply.elements.reserve(raw->elements);
      for (size_t i = 0; i < raw->elements; ++i) reply.elements.push_back(Convert(raw->element[i]));
      break;
    default:
      reply.type = Reply::Type::kNil;
  }
  return reply;
}

// A Redis error reply becomes its status (ErrorReplyToStatus); any other
// reply is the result.
absl::StatusOr<Reply> ResultOf(Reply reply) {
  if (reply.is_error()) return ErrorReplyToStatus(reply.str);
  return reply;
}

// Whether an error reply counts as a Redis error in the metrics: not the
// errors Herald's scripts return on purpose for bad input (HERALD
// NOT_FOUND ...), not an existing consumer group (BUSYGROUP, expected when
// every process creates the groups it reads), not NOSCRIPT (the command is
// re-sent with its script at once).
bool CountsAsFailure(const Reply& reply, const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
      return false;
    default:
      return !absl::StartsWith(reply.str, "BUSYGROUP") && !absl::StartsWith(reply.str, "NOSCRIPT");
  }
}

// Whether `command` may wait for data on the server. Only checked for a
// pipeline of one command: Herald sends blocking commands alone.
bool IsBlocking(const Command& command) {
  if (command.empty()) return false;
  const std::string& name = command[0];
  if (absl::EqualsIgnoreCase(name, "XREADGROUP") || absl::EqualsIgnoreCase(name, "XREAD")) {
    for (const std::string& arg : command) {
      if (absl::EqualsIgnoreCase(arg, "STREAMS")) break;
      if (absl::EqualsIgnoreCase(arg, "BLOCK")) return true;
    }
    return false;
  }
  static constexpr absl::string_view kBlocking[] = {"BLPOP", "BRPOP",    "BLMOVE",   "BRPOPLPUSH", "BLMPOP",
                                                    "BZPOPMIN", "BZPOPMAX", "BZMPOP", "WAIT"};
  for (absl::string_view blocking : kBlocking) {
    if (absl::EqualsIgnoreCase(name, blocking)) return true;
  }
  return false;
}

ClientObserver::Failure TransportFailure(const absl::Status& status) {
  return status.code() == absl::StatusCode::kDeadlineExceeded ? ClientObserver::Failure::kTimeout
                                                              : ClientObserver::Failure::kConnection;
}

class HiredisClient final : public RedisClient {
 public:
  HiredisClient(Endpoint endpoint, ClientOptions options)
      : endpoint_(std::move(endpoint)), options_(options) {}

  absl::Status Connect() {
    absl::Status status = ConnectOnce();
    if (!status.ok() && endpoint_.observer) {
      endpoint_.observer->Failed(options_.kind, ClientObserver::Failure::kConnection, 1);
    }
    return status;
  }

  std::vector<absl::StatusOr<Reply>> Pipeline(const std::vector<Command>& commands) override {
    if (!endpoint_.observer) return Exchange(commands);
    if (!context_) {
      absl::Status status = Connect();  // reports its own failure
      if (!status.ok()) return std::vector<absl::StatusOr<Reply>>(commands.size(), status);
    }
    // One observation per round trip (connecting excluded): the group
    // commit and the workers' batches keep the per-command cost near zero.
    const auto start = std::chrono::steady_clock::now();
    std::vector<absl::StatusOr<Reply>> results = Exchange(commands);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    endpoint_.observer->RoundTrip(options_.kind, std::chrono::duration<double>(elapsed).count(), commands.size(),
                                  commands.size() == 1 && IsBlocking(commands[0]));
    if (transport_failure_) {
      endpoint_.observer->Failed(options_.kind, TransportFailure(*transport_failure_), 1);
    }
    if (reply_failures_ > 0) {
      endpoint_.observer->Failed(options_.kind, ClientObserver::Failure::kReply, reply_failures_);
    }
    return results;
  }

 private:
  absl::Status ConnectOnce() {
    timeval connect_timeout = absl::ToTimeval(options_.connect_timeout);
    redisContext* raw = endpoint_.unix_socket.empty()
                            ? redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, connect_timeout)
                            : redisConnectUnixWithTimeout(endpoint_.unix_socket.c_str(), connect_timeout);
    if (raw == nullptr) return absl::ResourceExhaustedError("redis: cannot allocate a context");
    ContextPtr context(raw);
    if (context->err) {
      return absl::UnavailableError(absl::StrCat("redis ", endpoint_.ToString(), ": ", context->errstr));
    }
    timeval command_timeout = absl::ToTimeval(options_.command_timeout);
    if (redisSetTimeout(context.get(), command_timeout) != REDIS_OK) {
      return absl::UnavailableError("redis: cannot set the command timeout");
    }
    context_ = std::move(context);
    absl::Status authenticated = Authenticate();
    if (!authenticated.ok()) return authenticated;
    return LoadScripts();
  }

  // Pipeline without the observer: also notes, for it, the transport
  // failure (if any) and how many error replies count as failures.
  std::vector<absl::StatusOr<Reply>> Exchange(const std::vector<Command>& commands) {
    transport_failure_.reset();
    reply_failures_ = 0;
    std::vector<absl::StatusOr<Reply>> results(commands.size(), absl::UnavailableError("redis: not sent"));
    if (!context_) {
      absl::Status status = Connect();
      if (!status.ok()) {
        for (auto& result : results) result = status;
        return results;
      }
    }
    std::vector<size_t> sent;
    sent.reserve(commands.size());
    for (size_t i = 0; i < commands.size(); ++i) {
      absl::Status routable = CheckScriptKeys(commands[i]);
      if (!routable.ok()) {
        results[i] = routable;
        continue;
      }
      Append(commands[i]);
      sent.push_back(i);
    }
    std::vector<size_t> unknown_scripts;
    for (size_t n = 0; n < sent.size(); ++n) {
      const size_t i = sent[n];
      absl::StatusOr<Reply> reply = ReadReply();
      if (!reply.ok()) {
        // The connection is unusable: fail what is left and reconnect later.
        context_.reset();
        transport_failure_ = reply.status();
        for (size_t m = n; m < sent.size(); ++m) results[sent[m]] = reply.status();
        return results;
      }
      if (reply->is_error() && absl::StartsWith(reply->str, "NOSCRIPT") && commands[i].size() > 1 &&
          commands[i][0] == "EVALSHA" && Script::Find(commands[i][1]) != nullptr) {
        unknown_scripts.push_back(i);
      }
      results[i] = ResultOf(*reply);
      if (reply->is_error() && CountsAsFailure(*reply, results[i].status())) ++reply_failures_;
    }
    // A restarted or flushed Redis forgot our scripts: send those commands
    // again with their bodies (EVAL also caches the script for next time).
    // Replies of a pipeline arrive in order, so this is a second pipeline.
    if (!unknown_scripts.empty()) {
      for (size_t index : unknown_scripts) {
        Command eval = commands[index];
        eval[0] = "EVAL";
        eval[1] = Script::Find(commands[index][1])->body();
        Append(eval);
      }
      for (size_t index : unknown_scripts) {
        if (!context_) {
          results[index] = absl::UnavailableError("redis: connection lost while resending a script");
          continue;
        }
        absl::StatusOr<Reply> reply = ReadReply();
        if (!reply.ok()) {
          context_.reset();
          transport_failure_ = reply.status();
          results[index] = reply.status();
          continue;
        }
        results[index] = ResultOf(*reply);
        if (reply->is_error() && CountsAsFailure(*reply, results[index].status())) ++reply_failures_;
      }
    }
    return results;
  }

 private:
  // AUTH [user] password, before any other command, when the endpoint has
  // a password. FAILED_PRECONDITION when Redis refuses it: Herald's
  // configuration is wrong, not the caller's request (API callers must not
  // take it for their own UNAUTHENTICATED), and waiting does not heal it.
  // Redis's message never holds the password.
  absl::Status Authenticate() {
    if (endpoint_.password.empty()) return absl::OkStatus();
    Append(endpoint_.username.empty() ? Command{"AUTH", endpoint_.password}
                                      : Command{"AUTH", endpoint_.username, endpoint_.password});
    absl::StatusOr<Reply> reply = ReadReply();
    if (reply.ok() && !reply->is_error()) return absl::OkStatus();
    context_.reset();
    if (!reply.ok()) return reply.status();
    return absl::FailedPreconditionError(absl::StrCat(
        "redis ", endpoint_.ToString(), ": authentication failed",
        endpoint_.username.empty() ? "" : absl::StrCat(" for user '", endpoint_.username, "'"), ": ", reply->str));
  }

  // Loads every registered script, so calls by SHA find them. A PING goes
  // first in the same pipeline: a Redis that wants a password answers it
  // NOAUTH, while a script body over 16 KB would only get "Protocol error:
  // unauthenticated bulk length" (and Script::All's order is not fixed).
  absl::Status LoadScripts() {
    std::vector<const Script*> scripts = Script::All();
    Append({"PING"});
    for (const Script* script : scripts) Append({"SCRIPT", "LOAD", script->body()});
    for (size_t i = 0; i <= scripts.size(); ++i) {
      absl::StatusOr<Reply> reply = ReadReply();
      if (!reply.ok()) {
        context_.reset();
        return reply.status();
      }
      if (reply->is_error()) {
        context_.reset();
        if (absl::StartsWith(reply->str, "NOAUTH") || absl::StartsWith(reply->str, "NOPERM")) {
          return absl::FailedPreconditionError(absl::StrCat("redis ", endpoint_.ToString(), ": ", reply->str,
                                                            endpoint_.password.empty() ? " (no password was given)"
                                                                                       : ""));
        }
        if (i == 0) return absl::UnavailableError(absl::StrCat("redis: PING before loading scripts: ", reply->str));
        return absl::InternalError(
            absl::StrCat("redis: script ", scripts[i - 1]->sha(), " does not load: ", reply->str));
      }
    }
    return absl::OkStatus();
  }

  // The command in RESP, formatted here into one buffer sized up front
  // (redisAppendCommandArgv grows an sds with a printf per argument: a few
  // percent of Herald's CPU with the fan-out's hundred-item commands).
  void Append(const Command& command) {
    size_t size = 1 + 20 + 2;
    for (const std::string& arg : command) size += 1 + 20 + 2 + arg.size() + 2;
    std::string& out = format_buffer_;
    out.clear();
    out.reserve(size);
    auto append_length = [&out](char kind, size_t value) {
      char digits[24];
      digits[0] = kind;
      char* end = std::to_chars(digits + 1, digits + sizeof(digits) - 2, value).ptr;
      *end++ = '\r';
      *end++ = '\n';
      out.append(digits, static_cast<size_t>(end - digits));
    };
    append_length('*', command.size());
    for (const std::string& arg : command) {
      append_length('$', arg.size());
      out.append(arg);
      out.append("\r\n", 2);
    }
    redisAppendFormattedCommand(context_.get(), out.data(), out.size());
  }

  absl::StatusOr<Reply> ReadReply() {
    void* raw = nullptr;
    if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr) {
      std::string message = context_->errstr;
      if (context_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return absl::DeadlineExceededError(absl::StrCat("redis ", endpoint_.ToString(), ": reply timed out"));
      }
      return absl::UnavailableError(absl::StrCat("redis ", endpoint_.ToString(), ": ", message));
    }
    ReplyPtr reply(static_cast<redisReply*>(raw));
    return Convert(reply.get());
  }

  const Endpoint endpoint_;
  const ClientOptions options_;
  ContextPtr context_;
  std::string format_buffer_;  // Append's, kept for its capacity
  // What the last Exchange saw, for the observer.
  std::optional<absl::Status> transport_failure_;
  size_t reply_failures_ = 0;
};

}  // namespace

absl::Status CheckScriptKeys(const Command& command) {
  if (command.empty() || (command[0] != "EVALSHA" && command[0] != "EVAL")) return absl::OkStatus();
  int keys = 0;
  if (command.size() < 3 || !absl::SimpleAtoi(command[2], &keys) || keys < 0 ||
      command.size() < 3 + static_cast<size_t>(keys)) {
    return absl::InternalError("redis: malformed script call");
  }
  auto refused = [&](absl::string_view why) {
    return absl::InternalError(absl::StrCat("redis: script ", command[1].substr(0, 12), " refused: ", why));
  };
  if (keys == 0) return refused("called with no key, so Redis Cluster cannot route it");
  const absl::string_view first = command[3];
  const absl::string_view tag = HashTagOf(first);
  // Keys of one partition share their start up to the tag's closing brace:
  // compare that prefix first (a feed insert carries thousands of keys).
  const size_t through_tag = tag.data() + tag.size() - first.data() + (tag.size() < first.size() ? 1 : 0);
  for (int k = 1; k < keys; ++k) {
    const absl::string_view key = command[3 + k];
    if (tag.size() < first.size() && absl::StartsWith(key, first.substr(0, through_tag))) continue;
    if (HashTagOf(key) != tag) {
      return refused(absl::StrCat("keys '", first, "' and '", key, "' hash to different slots"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RedisClient>> ConnectRedis(const Endpoint& endpoint, const ClientOptions& options) {
  auto client = std::make_unique<HiredisClient>(endpoint, options);
  absl::Status status = client->Connect();
  if (!status.ok()) return status;
  return std::unique_ptr<RedisClient>(std::move(client));
}

absl::Status WaitForRedis(const Endpoint& endpoint, absl::Duration deadline) {
  absl::Time give_up = absl::Now() + deadline;
  absl::Status last = absl::UnavailableError("redis: not tried");
  ClientOptions options;
  options.connect_timeout = absl::Milliseconds(200);
  options.command_timeout = absl::Milliseconds(500);
  while (absl::Now() < give_up) {
    auto client = ConnectRedis(endpoint, options);
    if (client.ok()) {
      auto pong = (*client)->Execute({"PING"});
      if (pong.ok()) return absl::OkStatus();
      last = pong.status();
    } else {
      last = client.status();
    }
    // A refused login (the only FAILED_PRECONDITION here) does not heal by
    // waiting.
    if (absl::IsFailedPrecondition(last)) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return absl::DeadlineExceededError(absl::StrCat("redis did not answer PING in time: ", last.message()));
}

}  // namespace herald::redis
