#include "core/keys.h"

#include <atomic>
#include <memory>

#include "absl/base/const_init.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace herald {
namespace {

// See `sized` in core/keys.lua: joined strings carry their length.
std::string Sized(absl::string_view text) { return absl::StrCat(text.size(), ":", text); }

}  // namespace

absl::string_view LaneName(Lane lane) { return lane == Lane::kBulk ? "bulk" : "normal"; }

Keys::Keys(int partition)
    : partition_(partition),
      prefix_(absl::StrCat("herald:{", partition, "}:")),
      events_(absl::StrCat(prefix_, "events")),
      events_bulk_(absl::StrCat(prefix_, "events:bulk")),
      batches_(absl::StrCat(prefix_, "batches")),
      batches_bulk_(absl::StrCat(prefix_, "batches:bulk")),
      due_(absl::StrCat(prefix_, "timer")),
      expansions_(absl::StrCat(prefix_, "expansions")),
      deliveries_(absl::StrCat(prefix_, "deliveries")),
      delivery_due_(absl::StrCat(prefix_, "delivery_due")),
      dead_letters_(absl::StrCat(prefix_, "dead_letters")),
      message_log_(absl::StrCat(prefix_, "message_log")),
      event_outbox_(absl::StrCat(prefix_, "event_outbox")),
      event_outbox_enabled_(absl::StrCat(prefix_, "event_outbox_on")),
      event_due_(absl::StrCat(prefix_, "event_due")) {}

std::string Keys::ChannelData(absl::string_view user_id) const { return absl::StrCat(prefix_, "chdata:", user_id); }

std::string Keys::UserSubscriptions(absl::string_view user_id) const {
  return absl::StrCat(prefix_, "usubs:", user_id);
}

std::string Keys::UserRecords(absl::string_view user_id) const { return absl::StrCat(prefix_, "urecs:", user_id); }

std::string Keys::Object(absl::string_view ref) const { return absl::StrCat(prefix_, "obj:", ref); }

std::string Keys::Subscribers(absl::string_view ref) const { return absl::StrCat(prefix_, "subs:", ref); }

std::string Keys::Tenant(absl::string_view tenant) const { return absl::StrCat(prefix_, "tenant:", tenant); }

std::string Keys::Fanout(absl::string_view fanout_id) const { return absl::StrCat(prefix_, "fanout:", fanout_id); }

std::string Keys::Preferences(absl::string_view user_id) const { return absl::StrCat(prefix_, "prefs:", user_id); }

std::string Keys::TenantPreferences(absl::string_view tenant) const {
  return absl::StrCat(prefix_, "tenant_prefs:", tenant);
}

std::string Keys::User(absl::string_view user_id) const { return absl::StrCat(prefix_, "user:", user_id); }

std::string Keys::Idempotency(absl::string_view workflow, absl::string_view key) const {
  return absl::StrCat(prefix_, "idem:", Sized(workflow), ":", key);
}

std::string Keys::IdempotencyWritten(absl::string_view workflow, absl::string_view key) const {
  return absl::StrCat(prefix_, "idemw:", Sized(workflow), ":", key);
}

std::string Keys::Message(absl::string_view message_id) const { return absl::StrCat(prefix_, "msg:", message_id); }

std::string Keys::MessageEvents(absl::string_view message_id) const {
  return absl::StrCat(prefix_, "msgev:", message_id);
}

std::string Keys::FeedSet(absl::string_view user_id, absl::string_view set_name) const {
  return absl::StrCat(prefix_, "feed:", user_id, ":", set_name);
}

std::string Keys::TenantFeedSet(absl::string_view tenant, absl::string_view user_id,
                                absl::string_view set_name) const {
  return absl::StrCat(prefix_, "tfeed:", Sized(tenant), ":", user_id, ":", set_name);
}

namespace {
bool IsMainFeed(absl::string_view feed) { return feed.empty() || feed == "main"; }
}  // namespace

std::string Keys::FeedSet(absl::string_view feed, absl::string_view user_id, absl::string_view set_name) const {
  if (IsMainFeed(feed)) return FeedSet(user_id, set_name);
  return absl::StrCat(prefix_, "nfeed:", Sized(feed), ":feed:", user_id, ":", set_name);
}

std::string Keys::TenantFeedSet(absl::string_view feed, absl::string_view tenant, absl::string_view user_id,
                                absl::string_view set_name) const {
  if (IsMainFeed(feed)) return TenantFeedSet(tenant, user_id, set_name);
  return absl::StrCat(prefix_, "nfeed:", Sized(feed), ":tfeed:", Sized(tenant), ":", user_id, ":", set_name);
}

std::string Keys::Run(absl::string_view run_id) const { return absl::StrCat(prefix_, "run:", run_id); }

std::string Keys::RunAppended(absl::string_view run_id, int step) const {
  return absl::StrCat(prefix_, "ran:", run_id, ":", step);
}

std::string Keys::Throttle(absl::string_view digest) const { return absl::StrCat(prefix_, "thr:", digest); }

std::string Keys::ThrottleDecision(absl::string_view run_id, int step) const {
  return absl::StrCat(prefix_, "thd:", run_id, ":", step);
}

std::string Keys::OlderDue() const { return absl::StrCat(prefix_, "due"); }

std::string Keys::Waits() const { return absl::StrCat(prefix_, "waits"); }

std::string Keys::Delays() const { return absl::StrCat(prefix_, "delays"); }

std::string Keys::WaitOpen(absl::string_view wait_key) const { return absl::StrCat(prefix_, "wo:", wait_key); }

std::string Keys::WaitHeader(absl::string_view wait_key_or_batch_id) const {
  return absl::StrCat(prefix_, "wh:", wait_key_or_batch_id);
}

std::string Keys::WaitActivities(absl::string_view batch_id) const {
  return absl::StrCat(prefix_, "wa:", batch_id);
}

std::string Keys::CancelIndex(absl::string_view workflow, absl::string_view cancellation_key,
                              absl::string_view recipient) const {
  return absl::StrCat(prefix_, "cancel:", Sized(workflow), ":", Sized(cancellation_key), ":", recipient);
}

std::string Keys::CancelRecipients(absl::string_view workflow, absl::string_view cancellation_key) const {
  return absl::StrCat(prefix_, "cancelr:", Sized(workflow), ":", Sized(cancellation_key));
}

std::string ChannelRateLimitKey(absl::string_view channel) {
  return absl::StrCat("herald:{ratelimit:", channel, "}:bucket");
}

std::string TriggerRateLimitKey(absl::string_view scope, absl::string_view id) {
  return absl::StrCat("herald:{triggerlimit:", scope, ":", id, "}:bucket");
}

const Keys& KeysOf(int partition) {
  // Lock-free for every partition count a deployment uses; a map behind a
  // lock beyond. Entries are never freed: the references live as long as
  // the process.
  constexpr int kSlots = 4096;
  static std::atomic<const Keys*> slots[kSlots] = {};
  if (partition < kSlots) {
    const Keys* keys = slots[partition].load(std::memory_order_acquire);
    if (keys != nullptr) return *keys;
    auto built = std::make_unique<const Keys>(partition);
    if (slots[partition].compare_exchange_strong(keys, built.get(), std::memory_order_acq_rel)) {
      return *built.release();
    }
    return *keys;  // another thread won; `built` is dropped
  }
  static absl::Mutex mu(absl::kConstInit);
  static auto* beyond = new absl::flat_hash_map<int, std::unique_ptr<const Keys>>();
  absl::MutexLock lock(&mu);
  std::unique_ptr<const Keys>& keys = (*beyond)[partition];
  if (keys == nullptr) keys = std::make_unique<const Keys>(partition);
  return *keys;
}

std::vector<std::string> EveryPartition(int partitions, const std::string& (Keys::*stream)() const) {
  std::vector<std::string> streams;
  for (int p = 0; p < partitions; ++p) streams.push_back((Keys(p).*stream)());
  return streams;
}

absl::string_view HashTagOf(absl::string_view key) {
  size_t open = key.find('{');
  if (open == absl::string_view::npos) return key;
  size_t close = key.find('}', open + 1);
  if (close == absl::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

}  // namespace herald
