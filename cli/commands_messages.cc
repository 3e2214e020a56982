// heraldctl message / messages: one message (any channel) with its status,
// engagement and rendered content; every message by filters; a message's
// events; a provider receipt posted by hand.
#include <optional>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/cli.h"

ABSL_FLAG(std::string, recipient, "", "only messages to this user");
ABSL_FLAG(std::string, workflow, "", "only messages of this workflow");
ABSL_FLAG(std::string, run, "", "only messages of this workflow run (workflow_run_id)");
ABSL_FLAG(std::string, since, "", "only messages created at or after this time (RFC 3339, or Unix microseconds)");
ABSL_FLAG(std::string, until, "", "only messages created before this time (RFC 3339, or Unix microseconds)");

namespace herald::cli {
namespace {

Outcome GetMessage(Cli& cli, Args args) {
  v1::GetMessageRequest request;
  request.set_user_id(args[0]);
  request.set_message_id(args[1]);
  return cli.CallAndPrint(&v1::Herald::Stub::GetMessage, request);
}

// "" -> 0; RFC 3339 or Unix microseconds -> microseconds; nullopt otherwise.
std::optional<int64_t> ParseTimeFlag(const std::string& text) {
  if (text.empty()) return 0;
  int64_t micros = 0;
  if (absl::SimpleAtoi(text, &micros)) return micros;
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) return std::nullopt;
  return absl::ToUnixMicros(time);
}

void PrintMessageLine(const v1::Message& message, std::ostream& out) {
  out << "  " << message.id() << "  " << FormatTime(message.at_us() / 1000) << "  " << message.recipient() << "  "
      << message.workflow() << "  " << message.channel_type() << "  [" << message.status();
  if (!message.reason().empty()) out << ": " << message.reason();
  out << "]";
  if (!message.engagement_status().empty()) out << "  " << message.engagement_status();
  out << "\n";
}

Outcome List(Cli& cli, Args) {
  v1::ListMessagesRequest request;
  request.set_recipient(absl::GetFlag(FLAGS_recipient));
  request.set_workflow(absl::GetFlag(FLAGS_workflow));
  request.set_workflow_run_id(absl::GetFlag(FLAGS_run));
  request.set_channel_type(absl::GetFlag(FLAGS_channel_type));
  request.set_status(absl::GetFlag(FLAGS_status));
  request.set_tenant(absl::GetFlag(FLAGS_tenant));
  std::optional<int64_t> since = ParseTimeFlag(absl::GetFlag(FLAGS_since));
  if (!since) return Outcome::Usage("--since must be an RFC 3339 time or Unix microseconds");
  std::optional<int64_t> until = ParseTimeFlag(absl::GetFlag(FLAGS_until));
  if (!until) return Outcome::Usage("--until must be an RFC 3339 time or Unix microseconds");
  request.set_inserted_after_us(*since);
  request.set_inserted_before_us(*until);
  request.set_page_size(absl::GetFlag(FLAGS_page_size));
  request.set_after(absl::GetFlag(FLAGS_after));
  auto text = [](const v1::ListMessagesResponse& response, std::ostream& out) {
    out << response.messages_size() << " message(s)\n";
    for (const auto& message : response.messages()) PrintMessageLine(message, out);
    if (!response.next_cursor().empty()) out << "more: --after " << response.next_cursor() << "\n";
  };
  return cli.CallAndPrint(&v1::Herald::Stub::ListMessages, request, text);
}

}  // namespace

Outcome ShowMessageEvents(Cli& cli, Args args) {
  v1::GetMessageEventsRequest request;
  request.set_user_id(args[0]);
  request.set_message_id(args[1]);
  auto text = [](const v1::GetMessageEventsResponse& response, std::ostream& out) {
    for (const auto& event : response.events()) {
      out << "  " << FormatTime(event.at_us() / 1000) << "  " << event.type();
      if (!event.reason().empty()) out << "  " << event.reason();
      if (event.has_attempt()) {
        const auto& attempt = event.attempt();
        out << "  attempt " << attempt.attempt() << ": " << attempt.outcome();
        if (!attempt.provider_status().empty()) out << " (" << attempt.provider_status() << ")";
      }
      out << "\n";
    }
  };
  return cli.CallAndPrint(&v1::Herald::Stub::GetMessageEvents, request, text);
}

namespace {

Outcome Update(Cli& cli, Args args) {
  v1::UpdateMessageStatusRequest request;
  request.set_user_id(args[0]);
  request.set_message_id(args[1]);
  request.set_status(args[2]);
  if (args.size() > 3) request.set_reason(args[3]);
  return cli.CallAndPrint(&v1::Herald::Stub::UpdateMessageStatus, request);
}

}  // namespace

CommandGroup MessageCommands() {
  return {"Messages",
          {
              {"message", "", "USER MESSAGE_ID", "show a message sent to USER, with its status and content", {},
               GetMessage},
              {"messages", "list", "", "list messages, newest first, by filters",
               {"--recipient=USER", "--workflow=KEY", "--run=RUN_ID", "--channel_type=TYPE", "--status=STATUS",
                "--tenant=TENANT", "--since=TIME", "--until=TIME", "--page_size=N", "--after=CURSOR"},
               List},
              {"messages", "events", "USER MESSAGE_ID", "show what happened to a message, oldest first", {}, ShowMessageEvents},
              {"messages", "update", "USER MESSAGE_ID STATUS [REASON]",
               "post a provider receipt: STATUS is delivered, undelivered or bounced", {}, Update},
          }};
}

}  // namespace herald::cli
