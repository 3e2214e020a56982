// heraldctl dlq list|show|replay|purge: messages whose delivery failed for
// good, with their attempts; replay gives them a fresh round of attempts.
#include <optional>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "cli/cli.h"

ABSL_FLAG(std::string, channel, "", "delivery channel name");

namespace herald::cli {
namespace {

void PrintAttempt(const v1::DeliveryAttempt& attempt, std::ostream& out) {
  out << "      attempt " << attempt.attempt() << "  " << FormatTime(attempt.at_us() / 1000) << "  "
      << attempt.outcome() << "  " << attempt.provider_status() << "  " << attempt.latency_us() / 1000 << " ms";
  if (!attempt.provider_response().empty()) out << "  " << attempt.provider_response();
  out << "\n";
}

Outcome List(Cli& cli, Args) {
  v1::ListDeadLettersRequest request;
  request.set_channel(absl::GetFlag(FLAGS_channel));
  request.set_page_size(absl::GetFlag(FLAGS_page_size));
  request.set_after(absl::GetFlag(FLAGS_after));
  auto text = [](const v1::ListDeadLettersResponse& response, std::ostream& out) {
    if (response.dead_letters().empty()) out << "no dead letters\n";
    for (const v1::DeadLetter& dead : response.dead_letters()) {
      const v1::Message& message = dead.message();
      out << message.id() << "  " << FormatTime(dead.dead_at_us() / 1000) << "  " << message.channel() << " ("
          << message.channel_type() << ")  to " << message.recipient() << "  " << message.status() << ": "
          << message.reason() << "\n";
      for (const v1::DeliveryAttempt& attempt : dead.attempts()) PrintAttempt(attempt, out);
    }
    if (!response.next_cursor().empty()) out << "more: --after " << response.next_cursor() << "\n";
  };
  return cli.CallAndPrint(&v1::Herald::Stub::ListDeadLetters, request, text);
}

// IDs, or --all (optionally with --channel): never every dead letter by a
// forgotten argument.
std::optional<v1::DeadLetterSelection> Selection(Args ids) {
  v1::DeadLetterSelection selection;
  for (const std::string& id : ids) selection.add_message_ids(id);
  selection.set_channel(absl::GetFlag(FLAGS_channel));
  if (ids.empty() && !absl::GetFlag(FLAGS_all)) return std::nullopt;
  return selection;
}

Outcome Replay(Cli& cli, Args args) {
  auto selection = Selection(args);
  if (!selection) return Outcome::Usage("name the MESSAGE_IDs to replay, or --all");
  return cli.CallAndPrint(&v1::Herald::Stub::ReplayDeadLetters, *selection,
                          [](const v1::ReplayDeadLettersResponse& response, std::ostream& out) {
                            out << "replayed " << response.replayed() << " message(s)\n";
                          });
}

Outcome Purge(Cli& cli, Args args) {
  auto selection = Selection(args);
  if (!selection) return Outcome::Usage("name the MESSAGE_IDs to purge, or --all");
  return cli.CallAndPrint(&v1::Herald::Stub::PurgeDeadLetters, *selection,
                          [](const v1::PurgeDeadLettersResponse& response, std::ostream& out) {
                            out << "purged " << response.purged() << " dead letter(s)\n";
                          });
}

}  // namespace

CommandGroup DeadLetterCommands() {
  return {"Dead letters",
          {
              {"dlq", "list", "", "list dead letters, oldest first, with their attempts",
               {"--channel=CHANNEL", "--page_size=N", "--after=CURSOR"}, List},
              {"dlq", "show", "USER MESSAGE_ID", "show a message's events and delivery attempts", {},
               ShowMessageEvents},
              {"dlq", "replay", "[MESSAGE_ID...]", "queue dead letters again for a fresh round of attempts",
               {"--all", "--channel=CHANNEL"}, Replay},
              {"dlq", "purge", "[MESSAGE_ID...]", "drop dead letters (their message records stay until they expire)",
               {"--all", "--channel=CHANNEL"}, Purge},
          }};
}

}  // namespace herald::cli
