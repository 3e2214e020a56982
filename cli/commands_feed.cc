// heraldctl feed list|mark: a user's in-app feed and its read/seen/archived
// state.
#include <optional>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "cli/cli.h"

ABSL_FLAG(std::string, feed, "", "which of the user's in-app feeds (default: main)");
ABSL_FLAG(int64_t, for_ms, 0, "feed watch: stop after this many milliseconds (0 = until the stream ends or ^C)");

namespace herald::cli {
namespace {

// Parses a lower-case word ("read") as the value PREFIX_READ of Enum; nullopt
// for an unknown word and for the zero (unspecified) value.
template <typename Enum>
std::optional<Enum> ParseEnumWord(const std::string& word, absl::string_view prefix) {
  const google::protobuf::EnumValueDescriptor* value =
      google::protobuf::GetEnumDescriptor<Enum>()->FindValueByName(absl::StrCat(prefix, absl::AsciiStrToUpper(word)));
  if (value == nullptr || value->number() == 0) return std::nullopt;
  return static_cast<Enum>(value->number());
}

void PrintItem(const v1::FeedItem& item, std::ostream& out) {
  std::string state =
      item.archived_at_ms() ? "archived" : (item.read_at_ms() ? "read" : (item.seen_at_ms() ? "seen" : "new"));
  out << "  " << item.id() << "  " << FormatTime(item.inserted_at_ms()) << "  [" << state << "]  " << item.workflow()
      << "\n";
  for (const auto& block : item.blocks()) {
    out << "      " << block.name() << ": " << (block.markdown().empty() ? block.rendered() : block.markdown());
    for (const auto& button : block.buttons()) out << " [" << button.label() << " -> " << button.action() << "]";
    out << "\n";
  }
}

Outcome List(Cli& cli, Args args) {
  v1::ListFeedRequest request;
  request.set_user_id(args[0]);
  request.set_page_size(absl::GetFlag(FLAGS_page_size));
  request.set_after(absl::GetFlag(FLAGS_after));
  request.set_tenant(absl::GetFlag(FLAGS_tenant));
  request.set_feed(absl::GetFlag(FLAGS_feed));
  std::string status = absl::GetFlag(FLAGS_status);
  if (!status.empty()) {
    std::optional<v1::FeedStatusFilter> filter = ParseEnumWord<v1::FeedStatusFilter>(status, "FEED_STATUS_FILTER_");
    if (!filter) return Outcome::Usage("--status must be unread, unseen, read or archived");
    request.set_status(*filter);
  }
  auto text = [&](const v1::ListFeedResponse& response, std::ostream& out) {
    const auto& meta = response.metadata();
    out << args[0] << ": " << meta.total_count() << " items, " << meta.unread_count() << " unread, "
        << meta.unseen_count() << " unseen\n";
    for (const auto& item : response.items()) PrintItem(item, out);
    if (!response.next_cursor().empty()) out << "more: --after " << response.next_cursor() << "\n";
  };
  return cli.CallAndPrint(&v1::Herald::Stub::ListFeed, request, text);
}

void PrintMarked(const v1::MarkFeedItemsResponse& response, std::ostream& out) {
  out << "changed " << response.changed() << " item(s); now " << response.metadata().unread_count() << " unread, "
      << response.metadata().unseen_count() << " unseen\n";
}

Outcome Mark(Cli& cli, Args args) {
  std::optional<v1::FeedAction> action = ParseEnumWord<v1::FeedAction>(args[1], "FEED_ACTION_");
  if (!action) return Outcome::Usage(absl::StrCat("unknown action '", args[1], "'"));
  v1::MarkFeedItemsRequest request;
  request.set_tenant(absl::GetFlag(FLAGS_tenant));
  request.set_user_id(args[0]);
  request.set_action(*action);
  request.set_all(absl::GetFlag(FLAGS_all));
  request.set_feed(absl::GetFlag(FLAGS_feed));
  for (const std::string& id : args.subspan(2)) request.add_ids(id);
  return cli.CallAndPrint(&v1::Herald::Stub::MarkFeedItems, request, PrintMarked);
}

// One JSON line per event (whatever --json says: a stream is for tools).
Outcome Watch(Cli& cli, Args args) {
  v1::WatchFeedRequest request;
  request.set_user_id(args[0]);
  request.set_feed(absl::GetFlag(FLAGS_feed));
  request.set_tenant(absl::GetFlag(FLAGS_tenant));
  request.set_after(absl::GetFlag(FLAGS_after));
  const int64_t for_ms = absl::GetFlag(FLAGS_for_ms);
  if (for_ms < 0) return Outcome::Usage("--for_ms must be >= 0");
  return cli.WatchFeed(request, for_ms == 0 ? absl::InfiniteDuration() : absl::Milliseconds(for_ms))
             ? Outcome::Ok()
             : Outcome::Failed();
}

}  // namespace

CommandGroup FeedCommands() {
  return {"Feed",
          {
              {"feed", "list", "USER", "list a user's feed items",
               {"--status=STATUS", "--page_size=N", "--after=CURSOR", "--tenant=TENANT", "--feed=FEED"}, List},
              {"feed", "mark", "USER ACTION [ID...]",
               "mark the IDs or --all; ACTION is [un]seen, [un]read, [un]interacted or [un]archived",
               {"--all", "--tenant=TENANT", "--feed=FEED"}, Mark},
              {"feed", "watch", "USER", "print the feed's live changes, one JSON line per event (resume: --after)",
               {"--feed=FEED", "--tenant=TENANT", "--after=CURSOR", "--for_ms=N"}, Watch},
          }};
}

}  // namespace herald::cli
