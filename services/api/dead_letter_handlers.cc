#include "services/api/dead_letter_handlers.h"

#include "absl/strings/str_cat.h"
#include "messages/dead_letters.h"
#include "users/user_store.h"

namespace herald::api {
namespace {

constexpr int kMaxSelectedIds = 1000;

// A selection names dead letters by id or, without ids, selects every dead
// letter (of `channel`, dead before `dead_before_us`).
absl::Status ValidateSelection(const v1::DeadLetterSelection& selection) {
  if (selection.message_ids_size() > kMaxSelectedIds) {
    return absl::InvalidArgumentError(absl::StrCat("message_ids: at most ", kMaxSelectedIds, " per call"));
  }
  for (int i = 0; i < selection.message_ids_size(); ++i) {
    absl::Status valid = users::ValidateId(selection.message_ids(i), absl::StrCat("message_ids[", i, "]"));
    if (!valid.ok()) return valid;
  }
  if (selection.dead_before_us() < 0) return absl::InvalidArgumentError("dead_before_us: must not be negative");
  if (!selection.channel().empty()) return users::ValidateId(selection.channel(), "channel");
  return absl::OkStatus();
}

}  // namespace

void DeadLetterHandlers::ListDeadLetters(const v1::ListDeadLettersRequest& request,
                                         v1::ListDeadLettersResponse* response, Finish finish) const {
  if (!request.channel().empty()) {
    absl::Status valid = users::ValidateId(request.channel(), "channel");
    if (!valid.ok()) return std::move(finish)(valid);
  }
  backend_.RunAdmin(
      [request, response, partitions = backend_.partitions()](redis::RedisClient& client) {
        auto listed = messages::ListDeadLetters(client, partitions, request);
        if (listed.ok()) *response = std::move(*listed);
        return listed.status();
      },
      std::move(finish));
}

void DeadLetterHandlers::ReplayDeadLetters(const v1::DeadLetterSelection& request,
                                           v1::ReplayDeadLettersResponse* response, Finish finish) const {
  absl::Status valid = ValidateSelection(request);
  if (!valid.ok()) return std::move(finish)(valid);
  backend_.RunAdmin(
      [request, response, partitions = backend_.partitions(), &clock = backend_.clock()](redis::RedisClient& client) {
        auto replayed = messages::ReplayDeadLetters(client, partitions, request, clock.NowMicros());
        if (replayed.ok()) response->set_replayed(*replayed);
        return replayed.status();
      },
      std::move(finish));
}

void DeadLetterHandlers::PurgeDeadLetters(const v1::DeadLetterSelection& request,
                                          v1::PurgeDeadLettersResponse* response, Finish finish) const {
  absl::Status valid = ValidateSelection(request);
  if (!valid.ok()) return std::move(finish)(valid);
  backend_.RunAdmin(
      [request, response, partitions = backend_.partitions(), &clock = backend_.clock()](redis::RedisClient& client) {
        auto purged = messages::PurgeDeadLetters(client, partitions, request, clock.NowMicros());
        if (purged.ok()) response->set_purged(*purged);
        return purged.status();
      },
      std::move(finish));
}

}  // namespace herald::api
