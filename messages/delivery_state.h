// A queued message's way through delivery, as Redis commands: taken for an
// attempt under a lease, its outcome recorded atomically with what follows
// from it (status and events, the retry timer, the dead-letter set, the
// fallback step), retries moved back into the deliveries stream when due,
// and dead letters replayed or purged. The dispatcher decides; this module
// owns the keys and scripts (DESIGN: results go back through messages/).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/keys.h"
#include "redis/client.h"

namespace herald::messages {

// What a worker learns when it asks to attempt a message.
struct DeliveryTake {
  enum class Verdict {
    kSend,       // leased to the caller: deliver it
    kDone,       // status already final: nothing to do
    kGone,       // expired or deleted: nothing to do
    kScheduled,  // a retry waits on the timer: this entry is stale
    kLeased,     // another worker is sending it now: leave the entry pending
  };
  Verdict verdict = Verdict::kGone;
  std::string message_id;
  std::string channel;
  std::string channel_type;
  std::string content;  // serialized v1::MessageContent
  std::string recipient;
  std::string workflow;
  std::string tenant;
  int attempts = 0;  // attempts already made in this round
  int64_t inserted_at_us = 0;
};

// Takes `message_ids` (all of `keys`'s partition) for an attempt, leasing
// the sendable ones to `owner` until `lease_until_us`.
redis::Command BeginDeliveriesCommand(const Keys& keys, const std::vector<std::string>& message_ids, int64_t now_us,
                                      int64_t lease_until_us, const std::string& owner);
// One take per id, in order; INTERNAL when the reply has another shape.
absl::StatusOr<std::vector<DeliveryTake>> TakesFromReply(const std::vector<std::string>& message_ids,
                                                         const redis::Reply& reply);

struct DeliveryRecord {
  enum class Outcome { kDelivered, kRetry, kFailed, kDefer };
  std::string message_id;
  Outcome outcome = Outcome::kRetry;
  // kDelivered: sent | delivered; kFailed: undelivered | bounced.
  std::string status;
  std::string reason;
  // kRetry, kDefer: when the message is due again (ms).
  int64_t due_ms = 0;
  int attempt = 0;  // kDelivered, kRetry, kFailed
  std::string provider_status;
  std::string provider_response;
  std::string provider_message_id;
  int64_t latency_us = 0;
};

// Records outcomes of messages of `keys`'s partition that `owner` holds the
// lease of (or that nobody holds). The reply has one integer per record: 1
// recorded, 0 left alone (already final, gone, or leased to another).
redis::Command RecordDeliveriesCommand(const Keys& keys, const std::vector<DeliveryRecord>& records, int64_t now_us,
                                       const std::string& owner);

// Renews `owner`'s leases on `message_ids` until `lease_until_us` right
// before sending them; the reply has 1 per message still `owner`'s (send
// it) and 0 per message another worker took or that became final.
redis::Command RenewLeasesCommand(const Keys& keys, const std::vector<std::string>& message_ids,
                                  const std::string& owner, int64_t lease_until_us);

// Moves at most `limit` deliveries due at `now_ms` from the timer back to
// the deliveries stream; the reply is how many moved.
redis::Command ClaimDueDeliveriesCommand(const Keys& keys, int64_t now_ms, int limit);

// Replays dead letters of `keys`'s partition (reply: how many were queued
// again; ids no longer dead are skipped) or purges them (reply: removed).
redis::Command ReplayDeadLettersCommand(const Keys& keys, const std::vector<std::string>& message_ids, int64_t now_us);
redis::Command PurgeDeadLettersCommand(const Keys& keys, const std::vector<std::string>& message_ids);

}  // namespace herald::messages
