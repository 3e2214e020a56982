// Batches and delays in Redis. Every transition of a wait is one Lua script
// on one partition (DESIGN.md "Batching protocol"; the scripts are
// runs/append.lua, runs/claim.lua and runs/cancel.lua; what they keep, and
// how waits of an older Herald are read: runs/WAIT_LAYOUT.md):
//   append  - dedupe the run's step, honour a recorded cancellation, open or
//             join the batch, move a sliding close time (never past the cap,
//             never earlier), close it at max activities so the next
//             activity opens a new batch, or send the leading item at once;
//   claim   - take due waits off the timer, turn each into one entry of
//             herald:{p}:batches (of the lane the wait was opened in),
//             delete it and remember its runs;
//   cancel  - remove a cancellation key's pending runs and record the
//             cancellation so runs still in flight are stopped on arrival.
// A wait key names what activities may share a batch (workflow, recipient,
// tenant, step, batch key); the batch open under it has its own id, so a
// closed batch and the next one never mix.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/keys.h"
#include "redis/client.h"

namespace herald::runs {

inline constexpr int64_t kDefaultRunTtlSeconds = 7 * 24 * 3600;

struct WaitAppend {
  // What may share a batch (batch: workflow+recipient+tenant+step+key;
  // delay: the run and step).
  std::string wait_key;
  // The same wait key as an older Herald spelled it (empty: the same): a
  // batch that Herald opened is joined under its open pointer
  // (Keys::WaitOpen) until it is flushed.
  std::string older_wait_key;
  // The id the batch gets if this append opens it (the batch id of the
  // header below); ignored when the append joins an open batch.
  std::string batch_id;
  // Serialized BatchEnvelope without activities; stored when this append
  // opens the wait, ignored otherwise. Its resume_step is step + 1 and its
  // one target's batch_id is batch_id (the scripts read both from it).
  std::string header_blob;
  // Run (or upstream batch) id: one activity per run and step, ever.
  std::string run_id;
  int step = 0;
  // Serialized Activity; its run_id is run_id (the scripts dedupe by it;
  // an append breaking this fails with an error reply).
  std::string activity_blob;
  int64_t accepted_at_ms = 0;
  int64_t now_ms = 0;
  int64_t window_ms = 0;
  int64_t max_window_ms = 0;
  bool sliding = false;
  // A delay step's wait (one activity, never joined) rather than a batch.
  bool delay = false;
  int max_activities = 0;
  bool flush_leading = false;
  // Serialized BatchEnvelope for the leading item (flush_leading only).
  std::string leading_batch_blob;
  // Cancellation support; empty when the trigger had no cancellation key.
  std::string workflow;
  std::string cancellation_key;
  std::string recipient;
  // How long the run's record and cancellation index outlive the wait's
  // latest due time (see ClaimCommand for a record made at the flush).
  int64_t run_ttl_seconds = kDefaultRunTtlSeconds;
  // The lane the run came through (core/keys.h Lane): a wait this append
  // opens flushes into that lane's batches stream, and so does the leading
  // item. Activities that join an open batch follow the batch's lane.
  Lane lane = Lane::kNormal;
};

enum class AppendOutcome { kOpened, kJoined, kLeadingSent, kDuplicate, kCancelled };

redis::Command AppendCommand(const Keys& keys, const WaitAppend& append);
absl::StatusOr<AppendOutcome> ParseAppendReply(const redis::Reply& reply);

// Claims up to `limit` waits due at `now_ms` (and up to `limit` more from an
// older Herald's timer, Keys::OlderDue), each into the batches stream of its
// lane; the record of each flushed run lives `run_ttl_seconds` from now (a
// replayed append of it stays a duplicate that long). Reply parsed by
// ParseClaimReply.
redis::Command ClaimCommand(const Keys& keys, int64_t now_ms, int limit,
                            int64_t run_ttl_seconds = kDefaultRunTtlSeconds);
// One wait the claim turned into a batches-stream entry.
struct FlushedWait {
  int64_t due_ms = 0;      // when it was due (flush lateness = claim time - due)
  int64_t activities = 0;  // how many it carried
  bool delay = false;      // a delay's wait, not a batch
};
struct ClaimResult {
  int64_t claimed = 0;  // waits taken off the timer
  int64_t emitted = 0;  // batches written (claimed minus empty ones)
  std::vector<FlushedWait> flushed;  // one per batch written, in claim order
};
absl::StatusOr<ClaimResult> ParseClaimReply(const redis::Reply& reply);

// Cancels the pending runs of (workflow, cancellation_key) for `recipients`
// of this partition, or for every recipient when `recipients` is empty, and
// remembers the cancellation for `ttl_seconds`. Reply: runs cancelled.
redis::Command CancelCommand(const Keys& keys, const std::string& workflow, const std::string& cancellation_key,
                             const std::vector<std::string>& recipients, int64_t now_ms,
                             int64_t ttl_seconds = kDefaultRunTtlSeconds);

}  // namespace herald::runs
