#include "messages/message_list.h"

#include <algorithm>
#include <cstdint>
#include <tuple>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/ids.h"
#include "core/keys.h"
#include "messages/list_log.lua.h"
#include "messages/message_store.h"
#include "redis/script.h"
#include "users/user_store.h"
#include "workflow/workflow.h"

namespace herald::messages {
namespace {

const redis::Script kListLog(lua::kMessagesListLog);

constexpr absl::string_view kCursorVersion = "m1:";
constexpr absl::string_view kDone = "x";
constexpr absl::string_view kStatuses[] = {"queued",      "delivery_attempted", "sent",   "delivered",
                                           "undelivered", "not_sent",           "bounced"};

// A message's place in the log, comparable: the entry id "<ms>-<seq>" and,
// for an entry listing the feed items of one insert call, the item's place
// in it ("<ms>-<seq>:<item>", 1 = first listed = oldest; 0 = the entry of a
// single message, or below every item of the entry).
struct EntryId {
  uint64_t ms = 0;
  uint64_t seq = 0;
  uint64_t item = 0;
  friend bool operator<(const EntryId& a, const EntryId& b) {
    return std::tie(a.ms, a.seq, a.item) < std::tie(b.ms, b.seq, b.item);
  }
};

bool Digits(absl::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789") == absl::string_view::npos;
}

bool ParseEntryId(absl::string_view text, EntryId* id) {
  std::pair<absl::string_view, absl::string_view> entry_item = absl::StrSplit(text, absl::MaxSplits(':', 1));
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(entry_item.first, absl::MaxSplits('-', 1));
  id->item = 0;
  if (text.find(':') != absl::string_view::npos &&
      (!Digits(entry_item.second) || !absl::SimpleAtoi(entry_item.second, &id->item))) {
    return false;
  }
  return Digits(parts.first) && Digits(parts.second) && absl::SimpleAtoi(parts.first, &id->ms) &&
         absl::SimpleAtoi(parts.second, &id->seq);
}

absl::Status OptionalId(const std::string& value, const char* field) {
  return value.empty() ? absl::OkStatus() : users::ValidateId(value, field);
}

}  // namespace

std::string EncodeListCursor(const std::vector<std::string>& positions) {
  return absl::WebSafeBase64Escape(absl::StrCat(kCursorVersion, absl::StrJoin(positions, ",")));
}

absl::StatusOr<std::vector<std::string>> DecodeListCursor(const std::string& cursor, int partitions) {
  const auto bad = absl::InvalidArgumentError("after: not a cursor returned by ListMessages");
  std::string text;
  if (!absl::WebSafeBase64Unescape(cursor, &text)) return bad;
  absl::string_view rest = text;
  if (!absl::ConsumePrefix(&rest, kCursorVersion)) return bad;
  std::vector<std::string> positions = absl::StrSplit(rest, ',');
  if (static_cast<int>(positions.size()) != partitions) return bad;
  for (const std::string& position : positions) {
    EntryId id;
    if (position.empty() || position == kDone) continue;
    // Redis never gives an entry the id 0-0, so no page can end on it (and
    // Redis refuses the range "(0-0").
    if (!ParseEntryId(position, &id) || (id.ms == 0 && id.seq == 0)) return bad;
  }
  return positions;
}

absl::StatusOr<ListQuery> ParseListRequest(const v1::ListMessagesRequest& request, int partitions) {
  ListQuery query;
  query.request = request;
  query.page_size = request.page_size() == 0 ? kDefaultListPageSize : request.page_size();
  if (query.page_size < 1 || query.page_size > kMaxListPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("page_size: must be between 1 and ", kMaxListPageSize));
  }
  for (const auto& [value, field] : {std::pair{&request.recipient(), "recipient"}, {&request.workflow(), "workflow"},
                                     {&request.workflow_run_id(), "workflow_run_id"}, {&request.tenant(), "tenant"}}) {
    absl::Status valid = OptionalId(*value, field);
    if (!valid.ok()) return valid;
  }
  if (!request.channel_type().empty() &&
      std::find(std::begin(workflow::kChannelTypes), std::end(workflow::kChannelTypes), request.channel_type()) ==
          std::end(workflow::kChannelTypes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("channel_type: must be one of ", absl::StrJoin(workflow::kChannelTypes, ", ")));
  }
  if (!request.status().empty() &&
      std::find(std::begin(kStatuses), std::end(kStatuses), request.status()) == std::end(kStatuses)) {
    return absl::InvalidArgumentError(absl::StrCat("status: must be one of ", absl::StrJoin(kStatuses, ", ")));
  }
  if (request.inserted_after_us() < 0) return absl::InvalidArgumentError("inserted_after_us: must not be negative");
  if (request.inserted_before_us() < 0) return absl::InvalidArgumentError("inserted_before_us: must not be negative");
  if (request.inserted_before_us() > 0 && request.inserted_before_us() <= request.inserted_after_us()) {
    return absl::InvalidArgumentError("inserted_before_us: must be after inserted_after_us");
  }
  if (request.after().empty()) {
    query.positions.assign(partitions, "");
  } else {
    auto positions = DecodeListCursor(request.after(), partitions);
    if (!positions.ok()) return positions.status();
    query.positions = std::move(*positions);
  }
  if (!request.recipient().empty()) {
    // Only the recipient's partition holds their messages.
    const int own = PartitionOf(request.recipient(), partitions);
    for (int p = 0; p < partitions; ++p) {
      if (p != own) query.positions[p] = std::string(kDone);
    }
  }
  return query;
}

std::vector<redis::Command> ListCommands(const ListQuery& query, int scan_budget) {
  const v1::ListMessagesRequest& r = query.request;
  std::vector<redis::Command> commands;
  for (size_t p = 0; p < query.positions.size(); ++p) {
    if (query.positions[p] == kDone) continue;
    commands.push_back(kListLog.Call(
        {Keys(static_cast<int>(p)).MessageLog()},
        {query.positions[p], std::to_string(scan_budget), std::to_string(query.page_size), r.recipient(), r.workflow(),
         r.workflow_run_id(), r.channel_type(), r.status(), r.tenant(), std::to_string(r.inserted_after_us()),
         std::to_string(r.inserted_before_us())}));
  }
  return commands;
}

absl::StatusOr<v1::ListMessagesResponse> MergeListReplies(const ListQuery& query,
                                                          const std::vector<absl::StatusOr<redis::Reply>>& replies) {
  struct Match {
    EntryId entry;
    size_t partition;
    const redis::Reply* message;  // {entry id, message id, fields}
  };
  std::vector<Match> matches;
  std::vector<std::string> positions = query.positions;
  std::vector<std::string> scanned_to(positions.size());  // per partition read: last entry scanned, or kDone
  // Nothing older than the newest position a partition stopped at is
  // known yet: matches below it wait for the next page.
  EntryId limit;
  size_t next = 0;
  for (size_t p = 0; p < positions.size(); ++p) {
    if (positions[p] == kDone) continue;
    if (next >= replies.size() || !replies[next].ok()) return absl::InternalError("list messages: missing reply");
    const redis::Reply& reply = *replies[next++];
    if (reply.elements.size() != 3) return absl::InternalError("list messages: unexpected reply shape");
    const bool exhausted = reply.elements[1].integer == 1;
    const std::string& last = reply.elements[0].str;
    if (exhausted) {
      scanned_to[p] = std::string(kDone);
    } else {
      EntryId frontier;
      if (!ParseEntryId(last, &frontier)) return absl::InternalError("list messages: bad log entry id");
      scanned_to[p] = last;
      limit = std::max(limit, frontier);
    }
    for (const redis::Reply& match : reply.elements[2].elements) {
      if (match.elements.size() != 3) return absl::InternalError("list messages: unexpected match shape");
      Match m{{}, p, &match};
      if (!ParseEntryId(match.elements[0].str, &m.entry)) return absl::InternalError("list messages: bad entry id");
      matches.push_back(m);
    }
  }
  std::sort(matches.begin(), matches.end(), [](const Match& a, const Match& b) {
    if (b.entry < a.entry) return true;
    if (a.entry < b.entry) return false;
    return a.partition < b.partition;
  });
  v1::ListMessagesResponse response;
  std::vector<size_t> emitted(positions.size(), 0);
  for (const Match& m : matches) {
    if (response.messages_size() >= query.page_size || m.entry < limit) break;
    *response.add_messages() = MessageFromFields(m.message->elements[1].str, m.message->elements[2].elements);
    ++emitted[m.partition];
  }
  // Where each partition goes on: just above its first match not given
  // (so the next page starts with it, and never reads entries added since),
  // else where its scan stopped.
  std::vector<const EntryId*> first_left(positions.size(), nullptr);
  for (const Match& m : matches) {
    if (emitted[m.partition] > 0) {
      --emitted[m.partition];
    } else if (first_left[m.partition] == nullptr) {
      first_left[m.partition] = &m.entry;
    }
  }
  bool more = false;
  for (size_t p = 0; p < positions.size(); ++p) {
    if (query.positions[p] == kDone) continue;
    if (first_left[p] != nullptr && first_left[p]->item > 0) {
      // Inside an entry of several feed items: from that item on.
      positions[p] = absl::StrCat(first_left[p]->ms, "-", first_left[p]->seq, ":", first_left[p]->item + 1);
    } else if (first_left[p] != nullptr) {
      positions[p] = absl::StrCat(first_left[p]->ms, "-", first_left[p]->seq + 1);
    } else {
      positions[p] = scanned_to[p];
    }
    more = more || positions[p] != kDone;
  }
  if (more) response.set_next_cursor(EncodeListCursor(positions));
  return response;
}

}  // namespace herald::messages
