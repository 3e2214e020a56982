// Redis key layout: the single owner of every key name. Every key of
// partition p carries the hash tag {p}, so any Lua script that touches one
// partition stays in one Redis Cluster slot. Keys a script derives from data
// it reads are built by core/keys.lua, which mirrors the functions below
// (core/keys_test checks they agree).
#pragma once

#include <string>
#include <vector>
#include "absl/strings/string_view.h"

namespace herald {

// The two lanes of the streams where a backlog queues (events, batches):
// tenants above their fair share go to the bulk lane, every read cycle of a
// stage takes the normal lane's entries first however deep the bulk backlog
// is (services/api/tenant_lanes.h, README "Fairness between tenants").
enum class Lane { kNormal = 0, kBulk = 1 };
// "normal" / "bulk" (the `lane` label of the stream metrics).
absl::string_view LaneName(Lane lane);

class Keys {
 public:
  explicit Keys(int partition);

  int partition() const { return partition_; }
  // Stream of triggered events (consumer group "batcher").
  const std::string& Events() const { return events_; }
  // The bulk lane of the events stream (the same consumer group).
  const std::string& EventsBulk() const { return events_bulk_; }
  const std::string& Events(Lane lane) const { return lane == Lane::kBulk ? events_bulk_ : events_; }
  // Stream of batches ready to fan out (consumer group "fanout"): flushed
  // batches and delays, and runs that reached a channel step directly.
  const std::string& Batches() const { return batches_; }
  // The bulk lane of the batches stream (the same consumer group).
  const std::string& BatchesBulk() const { return batches_bulk_; }
  const std::string& Batches(Lane lane) const { return lane == Lane::kBulk ? batches_bulk_ : batches_; }
  // ZSET: wait key or batch id -> due time in ms of every wait (open batch
  // or delay): the flush timer.
  const std::string& Due() const { return due_; }
  // ZSET: the flush timer of an older Herald (named "due"; its waits had
  // another layout): still claimed until empty. A separate timer, so an
  // older flusher still running in a rolling upgrade never takes a wait of
  // this layout (it could not read it).
  std::string OlderDue() const;
  // Stream of object fan-out pages (consumer group "expander").
  const std::string& Expansions() const { return expansions_; }
  // Stream of rendered email/sms/push/chat messages for the delivery
  // services (status queued until they report).
  const std::string& Deliveries() const { return deliveries_; }
  // ZSET: message id -> due time in ms of its next delivery attempt.
  const std::string& DeliveryDue() const { return delivery_due_; }
  // ZSET: message id -> when it became a dead letter (us); the message's
  // attempts are its events.
  const std::string& DeadLetters() const { return dead_letters_; }
  // Stream of every message created in the partition (field 'm' = id), in
  // creation order: the time index ListMessages reads; trimmed by age.
  const std::string& MessageLog() const { return message_log_; }
  // STRING: the partition's last feed sequence number (microseconds of the
  // newest feed insert, unique and increasing; feed/feed_layout.lua).
  std::string FeedSequence() const { return prefix_ + "feed_seq"; }
  // Stream of outbound webhook events (field 'e' = the event JSON, consumer
  // group "event_webhooks"): every status and engagement change of the
  // partition's messages, appended by the messages and feed scripts only
  // while EventOutboxEnabled() exists (events/EVENT_WEBHOOKS.md).
  const std::string& EventOutbox() const { return event_outbox_; }
  // STRING with a TTL: present while an event-webhook worker runs (it
  // refreshes it); the scripts read it to decide whether to fill the outbox.
  const std::string& EventOutboxEnabled() const { return event_outbox_enabled_; }
  // ZSET: retry envelope JSON of an event -> due time in ms of its next POST.
  const std::string& EventDue() const { return event_due_; }
  // "herald:{p}:", the start of every key of the partition.
  const std::string& Prefix() const { return prefix_; }

  std::string User(absl::string_view user_id) const;
  // HASH of a user's preference sets: "default", "tenant:<id>" -> JSON.
  std::string Preferences(absl::string_view user_id) const;
  // STRING: a tenant's default preference set (partition of the tenant id).
  std::string TenantPreferences(absl::string_view tenant) const;
  // HASH: channel name -> channel data JSON.
  std::string ChannelData(absl::string_view user_id) const;
  // SET of object refs ("collection/id") the user subscribes to.
  std::string UserSubscriptions(absl::string_view user_id) const;
  // SET of the user's message ids that are not in the feed (not_sent,
  // undelivered, queued email/sms/push/chat), so deleting a user finds them.
  std::string UserRecords(absl::string_view user_id) const;
  // Objects live in the partition of their ref "collection/id".
  std::string Object(absl::string_view ref) const;
  // ZSET (all scores 0, paged by lex order) of subscribed user ids.
  std::string Subscribers(absl::string_view ref) const;
  std::string Tenant(absl::string_view tenant) const;
  // HASH: progress of one object fan-out (partition of the object).
  std::string Fanout(absl::string_view fanout_id) const;
  // STRING: the fingerprint of the request that used an idempotency key
  // (one record per key, in the partition the key hashes to).
  std::string Idempotency(absl::string_view workflow, absl::string_view key) const;
  // STRING: set once the request of an idempotency key was written into
  // this partition (a retried request writes each partition once).
  std::string IdempotencyWritten(absl::string_view workflow, absl::string_view key) const;
  std::string Message(absl::string_view message_id) const;
  // LIST of a message's events (JSON, oldest first): attempts, status and
  // engagement changes. Expires with the message.
  std::string MessageEvents(absl::string_view message_id) const;
  // A user's feed: sets "active", "unseen", "unread", "read", "archived"
  // and the hash "meta" (the insertion sequence).
  std::string FeedSet(absl::string_view user_id, absl::string_view set_name) const;
  // The same sets for the user's items of one tenant.
  std::string TenantFeedSet(absl::string_view tenant, absl::string_view user_id, absl::string_view set_name) const;
  // The same keys of one named feed of the user: `feed` '' or "main" is
  // the main feed (the keys above, unchanged since before named feeds);
  // another feed's keys hang from "herald:{p}:nfeed:<sized feed>:".
  std::string FeedSet(absl::string_view feed, absl::string_view user_id, absl::string_view set_name) const;
  std::string TenantFeedSet(absl::string_view feed, absl::string_view tenant, absl::string_view user_id,
                            absl::string_view set_name) const;
  // STREAM of the partition's feed changes (items inserted, marks), one
  // entry per script call, trimmed to about a configured length
  // (feed/feed_changes.h reads it).
  std::string FeedChanges() const { return prefix_ + "feed_changes"; }
  // STREAM of the partition's preference changes ('u' user / 't' tenant ->
  // id), trimmed to about a thousand entries: workers drop cached sets
  // (preferences/change_listener.h).
  std::string PreferenceChanges() const { return prefix_ + "pref_changes"; }
  // HASH: the record of a run with a cancellation key (older Heralds: of
  // every waiting run): "s<step>" -> ms for each wait step it was appended
  // to, and "status"/"cancelled_at" once cancelled. From its append on.
  std::string Run(absl::string_view run_id) const;
  // STRING (with a TTL): set once a run appended at wait step `step` is in a
  // batch of two or more activities, or has left its one-activity wait;
  // until it expires a replayed append of it is a duplicate (before, its
  // wait answers that: runs/WAIT_LAYOUT.md).
  std::string RunAppended(absl::string_view run_id, int step) const;
  // ZSET: the runs a throttle step let through in its window (member run
  // id, score ms), one per (workflow, step ref, recipient, throttle key)
  // digest (runs/throttle.lua).
  std::string Throttle(absl::string_view digest) const;
  // STRING (with a TTL): what throttle step `step` decided for a run
  // ("p" passed, "t" throttled), so a replayed entry gets the same answer.
  std::string ThrottleDecision(absl::string_view run_id, int step) const;
  // HASH: wait key (or, once closed at max activities, batch id) -> a batch
  // holding at most one activity (a second one makes it a WaitHeader hash;
  // layout: runs/WAIT_LAYOUT.md).
  std::string Waits() const;
  // HASH: wait key -> a pending delay (one activity; layout as Waits).
  std::string Delays() const;
  // HASH: a batch of two or more activities, keyed by its wait key while
  // open and by its batch id once closed: header fields ("h" envelope, "n"
  // activities appended, "o" open time) and run id -> activity. The older
  // layout (still read) kept here only the header of a batch keyed by its
  // batch id, with "opened", "wait" (its wait key) and "k" (kind).
  std::string WaitHeader(absl::string_view wait_key_or_batch_id) const;
  // Older layout (still read, no longer written but to join a batch an
  // older Herald opened): STRING, the id of the batch open for a wait key.
  std::string WaitOpen(absl::string_view wait_key) const;
  // Older layout (still read): HASH run id -> activity of one batch.
  std::string WaitActivities(absl::string_view batch_id) const;
  // HASH: run id -> the place of its wait (wait key, or batch id) of a
  // cancellation key's pending runs for one recipient ("*": every
  // recipient), plus "@cancelled_at".
  std::string CancelIndex(absl::string_view workflow, absl::string_view cancellation_key,
                          absl::string_view recipient) const;
  // SET: the recipients with pending runs under a cancellation key.
  std::string CancelRecipients(absl::string_view workflow, absl::string_view cancellation_key) const;

 private:
  int partition_;
  std::string prefix_;
  std::string events_;
  std::string events_bulk_;
  std::string batches_;
  std::string batches_bulk_;
  std::string due_;
  std::string expansions_;
  std::string deliveries_;
  std::string delivery_due_;
  std::string dead_letters_;
  std::string message_log_;
  std::string event_outbox_;
  std::string event_outbox_enabled_;
  std::string event_due_;
};

inline constexpr absl::string_view kBatcherGroup = "batcher";
inline constexpr absl::string_view kFanoutGroup = "fanout";
inline constexpr absl::string_view kExpanderGroup = "expander";
inline constexpr absl::string_view kDeliveryGroup = "delivery";
inline constexpr absl::string_view kEventWebhookGroup = "event_webhooks";

// The Keys of `partition`, built once per process and kept (a Keys builds a
// dozen strings; planning a trigger and processing an event want them per
// call). Thread-safe; the reference is valid for the life of the process.
// REQUIRES: partition >= 0.
const Keys& KeysOf(int partition);

// One stream of every partition (e.g. &Keys::Events), in partition order:
// what one stage's consumer group reads.
std::vector<std::string> EveryPartition(int partitions, const std::string& (Keys::*stream)() const);

// HASH: the token bucket of a delivery channel's rate limit, shared by
// every dispatcher (its own hash tag: not partition data).
std::string ChannelRateLimitKey(absl::string_view channel);

// HASH: the token bucket of a trigger rate limit, shared by every API
// replica: scope "key" (id = the API key's SHA-256 hex) or "tenant" (id =
// the tenant id). Its own hash tag: not partition data.
std::string TriggerRateLimitKey(absl::string_view scope, absl::string_view id);

// The part of `key` Redis Cluster hashes to pick its slot: the first
// non-empty {hash tag}, or the whole key.
absl::string_view HashTagOf(absl::string_view key);

}  // namespace herald
