// What every heraldctl command shares: the flags several commands read, the
// Cli that calls Herald (deadline, error text) and prints each answer as text
// or --json, and the row type of the command table (command_table.h).
#pragma once

#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/declare.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "google/protobuf/message.h"
#include "herald/v1/herald.grpc.pb.h"

// Global flags (every command).
ABSL_DECLARE_FLAG(std::string, addr);
ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(int, timeout_ms);
ABSL_DECLARE_FLAG(std::string, api_key);
// Flags read by commands of more than one resource; the others are defined
// next to the one command file that reads them.
ABSL_DECLARE_FLAG(std::string, to);
ABSL_DECLARE_FLAG(std::string, tenant);
ABSL_DECLARE_FLAG(std::string, data);
ABSL_DECLARE_FLAG(std::string, name);
ABSL_DECLARE_FLAG(std::string, properties);
ABSL_DECLARE_FLAG(int, page_size);
ABSL_DECLARE_FLAG(std::string, after);
ABSL_DECLARE_FLAG(bool, all);
ABSL_DECLARE_FLAG(std::string, status);
ABSL_DECLARE_FLAG(std::string, channel_type);

namespace herald::cli {

inline constexpr int kUsageExitCode = 2;

// What a handler reports; Dispatch turns it into the exit code.
class Outcome {
 public:
  static Outcome Ok() { return Outcome(0, ""); }
  // An error that was already printed (an RPC error, an invalid file): exit 1.
  static Outcome Failed() { return Outcome(1, ""); }
  // A usage problem: Dispatch prints it with the command's synopsis; exit 2.
  static Outcome Usage(std::string problem) { return Outcome(kUsageExitCode, std::move(problem)); }

  int exit_code() const { return exit_code_; }
  const std::string& problem() const { return problem_; }

 private:
  Outcome(int exit_code, std::string problem) : exit_code_(exit_code), problem_(std::move(problem)) {}
  int exit_code_;
  std::string problem_;
};

// A unary method of the Herald stub, e.g. &v1::Herald::Stub::Trigger.
template <typename Request, typename Response>
using RpcMethod = grpc::Status (v1::Herald::Stub::*)(grpc::ClientContext*, const Request&, Response*);

// Writes the human form of an answer. Null means the answer has no shorter
// form than its JSON, which is then printed with or without --json.
template <typename Response>
using TextFormatter = std::type_identity_t<std::function<void(const Response&, std::ostream&)>>;

// The JSON of a message with proto field names, as --json prints it.
std::string JsonOf(const google::protobuf::Message& message);

// One heraldctl invocation's connection and output mode. Not thread-safe.
class Cli {
 public:
  // `channel` reaches Herald at `address` (see cli/channel.h). A non-empty
  // `api_key` is sent with every call (`authorization: Bearer`).
  Cli(std::shared_ptr<grpc::Channel> channel, const std::string& address, absl::Duration timeout, bool json,
      std::string api_key = "");
  Cli(const Cli&) = delete;
  Cli& operator=(const Cli&) = delete;

  // Calls `method` with the deadline. Returns false after printing
  // "heraldctl: <code>: <message>" to stderr (with a hint when Herald is
  // unreachable).
  template <typename Request, typename Response>
  bool Call(RpcMethod<Request, Response> method, const Request& request, Response* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    if (!api_key_.empty()) context.AddMetadata("authorization", "Bearer " + api_key_);
    grpc::Status status = (stub_.get()->*method)(&context, request, response);
    if (!status.ok()) ReportError(status);
    return status.ok();
  }

  // Prints `response` to stdout: its JSON (JsonOf, found by argument-dependent
  // lookup) under --json or when `text` is null, else `text`'s output.
  template <typename Response>
  void Print(const Response& response, TextFormatter<Response> text) const {
    if (json_ || text == nullptr) {
      std::cout << JsonOf(response) << "\n";
    } else {
      text(response, std::cout);
    }
    std::cout << std::flush;
  }

  // Follows a WatchFeed stream, printing each event's JSON on its own line
  // (flushed), for `duration` (infinite: until the stream ends or the
  // process is interrupted). Returns false after printing the error; the
  // end of `duration` is not an error.
  bool WatchFeed(const v1::WatchFeedRequest& request, absl::Duration duration);

  // Call, then Print the answer. Returns Ok, or Failed after an RPC error.
  template <typename Request, typename Response>
  Outcome CallAndPrint(RpcMethod<Request, Response> method, const Request& request,
                       TextFormatter<Response> text = nullptr) {
    Response response;
    if (!Call(method, request, &response)) return Outcome::Failed();
    Print(response, std::move(text));
    return Outcome::Ok();
  }

 private:
  void ReportError(const grpc::Status& status) const;

  std::unique_ptr<v1::Herald::Stub> stub_;
  const std::string address_;
  const absl::Duration timeout_;
  const bool json_;
  const std::string api_key_;
};

// The positional arguments of a command, after its name and sub-name.
using Args = absl::Span<const std::string>;
using Handler = Outcome (*)(Cli& cli, Args args);

// One row of the command table.
struct Command {
  absl::string_view name;  // "user"
  absl::string_view sub;   // "merge", or empty for `user USER`
  // The positional arguments; they also give the accepted count: "[X]" is
  // optional and "X..." takes one or more.
  absl::string_view args;
  absl::string_view help;  // one line
  // The command's flags as "--name=VALUE" (or "--name" for a switch); their
  // descriptions come from the flag definitions.
  std::vector<absl::string_view> flags;
  Handler handler;
};

// The commands of one resource, a heading in --help.
struct CommandGroup {
  absl::string_view title;
  std::vector<Command> commands;
};

// One group per file commands_<resource>.cc, in --help order.
CommandGroup TriggerCommands();
CommandGroup UserCommands();
CommandGroup ObjectCommands();
CommandGroup TenantCommands();
CommandGroup FeedCommands();
CommandGroup MessageCommands();
CommandGroup WorkflowCommands();
CommandGroup PreferenceCommands();
CommandGroup DeadLetterCommands();
CommandGroup TokenCommands();
// A message's events and delivery attempts (`messages events`, `dlq show`).
Outcome ShowMessageEvents(Cli& cli, Args args);

// The API key to send: --api_key, else $HERALD_API_KEY, else none.
std::string ApiKeyFromFlagOrEnvironment();

// Splits a comma-separated flag value, skipping empty entries.
std::vector<std::string> SplitList(const std::string& text);

// Parses "collection/id"; nullopt when either part is missing.
std::optional<v1::ObjectRef> ParseObjectRef(const std::string& text);

// Local "YYYY-MM-DD HH:MM:SS", or "-" for 0.
std::string FormatTime(int64_t ms);

}  // namespace herald::cli
