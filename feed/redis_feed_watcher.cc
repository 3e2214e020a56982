#include "feed/redis_feed_watcher.h"

#include <atomic>
#include <deque>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/feed_names.h"
#include "core/ids.h"
#include "core/keys.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "feed/feed_changes.h"
#include "feed/feed_store.h"
#include "redis/streams_tail.h"
#include "users/user_store.h"

namespace herald::feed {
namespace {

constexpr char kComponent[] = "feed_watcher";
constexpr int kReadCount = 1000;   // entries per XREAD / XRANGE page
constexpr size_t kBatch = 256;     // changes one delivery pass takes

// One change waiting for a subscription, or (hello) the counts-only first
// event of a watch from now.
struct Pending {
  FeedChange change;
  bool hello = false;
};

// A subscription's state, shared by its handle, the registry and a worker.
struct SubState {
  SubState(WatchTarget t, int p, FeedEventSink s) : target(std::move(t)), partition(p), sink(std::move(s)) {}
  const WatchTarget target;  // feed '' for main
  const int partition;
  const FeedEventSink sink;

  absl::Mutex mu;
  std::deque<Pending> queue ABSL_GUARDED_BY(mu);
  bool replaying ABSL_GUARDED_BY(mu) = true;  // live changes queue up, undelivered, until the replay is in
  bool scheduled ABSL_GUARDED_BY(mu) = false;
  bool running ABSL_GUARDED_BY(mu) = false;
  bool ended ABSL_GUARDED_BY(mu) = false;
  bool lost ABSL_GUARDED_BY(mu) = false;  // fell too far behind: the sink hears it once, then ends
  std::thread::id runner ABSL_GUARDED_BY(mu);
  // The last position delivered: only the running worker reads and moves it
  // (Watch sets it before the first schedule).
  ChangePosition delivered;
};

std::string RegistryKey(const std::string& user, const std::string& feed) { return absl::StrCat(user, "\n", feed); }

bool IsFor(const FeedChange& change, const WatchTarget& target) {
  return change.user == target.user_id && change.feed == target.feed && change.Concerns(target);
}

}  // namespace

class RedisFeedWatcherImpl : public std::enable_shared_from_this<RedisFeedWatcherImpl> {
 public:
  RedisFeedWatcherImpl(redis::Endpoint endpoint, RedisFeedWatcherOptions options)
      : endpoint_(std::move(endpoint)), options_(options), positions_(options.partitions) {}

  absl::Status Start() {
    redis::ClientOptions reader_options;
    reader_options.command_timeout = options_.block + absl::Seconds(5);
    auto reader = redis::ConnectRedis(endpoint_, reader_options);
    if (!reader.ok()) return reader.status();
    auto replay = redis::ConnectRedis(endpoint_);
    if (!replay.ok()) return replay.status();
    replay_client_ = std::move(*replay);
    // Start at the end of every stream: a watcher delivers what happens
    // from now on (and replays what a cursor asks for).
    std::vector<redis::Command> last;
    for (int p = 0; p < options_.partitions; ++p) last.push_back({"XREVRANGE", Keys(p).FeedChanges(), "+", "-", "COUNT", "1"});
    std::vector<absl::StatusOr<redis::Reply>> replies = (*reader)->Pipeline(last);
    {
      absl::MutexLock lock(&mu_);
      for (int p = 0; p < options_.partitions; ++p) {
        if (!replies[p].ok()) return replies[p].status();
        if (!replies[p]->elements.empty()) {
          auto id = ParseStreamId(replies[p]->elements[0].elements[0].str);
          if (!id.ok()) return id.status();
          positions_[p] = *id;
        }
      }
    }
    std::vector<std::unique_ptr<redis::RedisClient>> worker_clients;
    for (int i = 0; i < options_.delivery_threads; ++i) {
      auto client = redis::ConnectRedis(endpoint_);
      if (!client.ok()) return client.status();
      worker_clients.push_back(std::move(*client));
    }
    reader_ = std::thread([this, client = std::move(*reader)]() mutable { ReadLoop(*client); });
    for (auto& client : worker_clients) {
      workers_.emplace_back([this, client = std::move(client)]() mutable { DeliverLoop(*client); });
    }
    return absl::OkStatus();
  }

  void Stop() {
    {
      absl::MutexLock lock(&ready_mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    if (reader_.joinable()) reader_.join();
    for (std::thread& worker : workers_) worker.join();
    absl::MutexLock lock(&mu_);
    for (auto& [key, subs] : subs_) {
      for (auto& sub : subs) {
        absl::MutexLock sub_lock(&sub->mu);
        sub->ended = true;
        sub->queue.clear();
      }
    }
  }

  absl::StatusOr<std::unique_ptr<WatchSubscription>> Watch(WatchTarget target, const std::string& after,
                                                           FeedEventSink sink);
  void Unsubscribe(const std::shared_ptr<SubState>& sub);

 private:
  void ReadLoop(redis::RedisClient& client);
  void Dispatch(int partition, const redis::Reply& entries);
  void DeliverLoop(redis::RedisClient& client);
  bool Deliver(redis::RedisClient& client, SubState& sub, std::deque<Pending>& batch);
  absl::StatusOr<std::vector<Pending>> Replay(const WatchTarget& target, int partition, const ChangePosition& after,
                                              const StreamId& reader_position);
  // Waits up to `timeout` unless stopping; returns whether stopping.
  bool WaitStopping(absl::Duration timeout) {
    absl::MutexLock lock(&ready_mu_);
    ready_mu_.AwaitWithTimeout(absl::Condition(&stopping_), timeout);
    return stopping_;
  }
  void Enqueue(const std::shared_ptr<SubState>& sub, Pending pending) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sub->mu);
  void MaybeSchedule(const std::shared_ptr<SubState>& sub) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sub->mu);

  // Constant after construction.
  const redis::Endpoint endpoint_;
  const RedisFeedWatcherOptions options_;

  // Lock order: mu_, then a SubState's mu, then ready_mu_.
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::vector<std::shared_ptr<SubState>>> subs_ ABSL_GUARDED_BY(mu_);
  // Per partition, the last entry the reader dispatched: every later entry
  // reaches every subscription registered now.
  std::vector<StreamId> positions_ ABSL_GUARDED_BY(mu_);

  absl::Mutex ready_mu_;
  std::deque<std::shared_ptr<SubState>> ready_ ABSL_GUARDED_BY(ready_mu_);
  bool stopping_ ABSL_GUARDED_BY(ready_mu_) = false;

  absl::Mutex replay_mu_;
  std::unique_ptr<redis::RedisClient> replay_client_ ABSL_GUARDED_BY(replay_mu_);

  std::thread reader_;
  std::vector<std::thread> workers_;
};

namespace {

class Subscription final : public WatchSubscription {
 public:
  Subscription(std::shared_ptr<RedisFeedWatcherImpl> watcher, std::shared_ptr<SubState> sub)
      : watcher_(std::move(watcher)), sub_(std::move(sub)) {}
  ~Subscription() override { watcher_->Unsubscribe(sub_); }

 private:
  std::shared_ptr<RedisFeedWatcherImpl> watcher_;
  std::shared_ptr<SubState> sub_;
};

}  // namespace

void RedisFeedWatcherImpl::Enqueue(const std::shared_ptr<SubState>& sub, Pending pending) {
  if (sub->ended || sub->lost) return;
  if (sub->queue.size() >= options_.max_pending_per_subscription) {
    sub->queue.clear();
    sub->lost = true;
  } else {
    sub->queue.push_back(std::move(pending));
  }
  MaybeSchedule(sub);
}

void RedisFeedWatcherImpl::MaybeSchedule(const std::shared_ptr<SubState>& sub) {
  if (sub->replaying || sub->scheduled || sub->running || sub->ended) return;
  if (sub->queue.empty() && !sub->lost) return;
  sub->scheduled = true;
  absl::MutexLock lock(&ready_mu_);
  ready_.push_back(sub);
}

void RedisFeedWatcherImpl::Unsubscribe(const std::shared_ptr<SubState>& sub) {
  {
    absl::MutexLock lock(&mu_);
    auto it = subs_.find(RegistryKey(sub->target.user_id, sub->target.feed));
    if (it != subs_.end()) {
      std::erase(it->second, sub);
      if (it->second.empty()) subs_.erase(it);
    }
  }
  absl::MutexLock lock(&sub->mu);
  sub->ended = true;
  sub->queue.clear();
  // A sink that drops its own subscription must not wait for itself.
  if (sub->runner == std::this_thread::get_id()) return;
  sub->mu.Await(absl::Condition(+[](SubState* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !s->running; },
                                sub.get()));
}

void RedisFeedWatcherImpl::ReadLoop(redis::RedisClient& client) {
  std::vector<std::string> keys;
  for (int p = 0; p < options_.partitions; ++p) keys.push_back(Keys(p).FeedChanges());
  redis::StreamsTail tail(std::move(keys), options_.block, options_.cluster_poll);
  while (!WaitStopping(absl::ZeroDuration())) {
    std::vector<std::string> ids;
    {
      absl::MutexLock lock(&mu_);
      for (const StreamId& id : positions_) ids.push_back(id.ToString());
    }
    absl::Status read = tail.Read(
        client, ids, [this](size_t p, const redis::Reply& entries) { Dispatch(static_cast<int>(p), entries); },
        [this](absl::Duration pause) { WaitStopping(pause); });
    if (!read.ok()) {
      log::Warning(kComponent, "cannot read the feed change streams; retrying",
                   {{"error", std::string(read.message())}});
      WaitStopping(absl::Milliseconds(200));
    }
  }
}

void RedisFeedWatcherImpl::Dispatch(int partition, const redis::Reply& entries) {
  for (const redis::Reply& entry : entries.elements) {
    if (entry.elements.size() != 2) continue;
    auto id = ParseStreamId(entry.elements[0].str);
    if (!id.ok()) continue;
    std::vector<FeedChange> changes = ParseChangeEntry(*id, entry.elements[1].elements);
    // The position moves with the dispatch, under one lock: a Watch that
    // registers now replays up to here and gets the rest live.
    absl::MutexLock lock(&mu_);
    for (FeedChange& change : changes) {
      auto it = subs_.find(RegistryKey(change.user, change.feed));
      if (it == subs_.end()) continue;
      for (const std::shared_ptr<SubState>& sub : it->second) {
        if (!change.Concerns(sub->target)) continue;
        absl::MutexLock sub_lock(&sub->mu);
        Enqueue(sub, Pending{change, false});
      }
    }
    positions_[partition] = *id;
  }
}

void RedisFeedWatcherImpl::DeliverLoop(redis::RedisClient& client) {
  while (true) {
    std::shared_ptr<SubState> sub;
    {
      absl::MutexLock lock(&ready_mu_);
      ready_mu_.Await(absl::Condition(
          +[](RedisFeedWatcherImpl* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return w->stopping_ || !w->ready_.empty();
          },
          this));
      if (stopping_) return;
      sub = std::move(ready_.front());
      ready_.pop_front();
    }
    std::deque<Pending> batch;
    bool lost = false;
    {
      absl::MutexLock lock(&sub->mu);
      sub->scheduled = false;
      if (sub->ended) continue;
      sub->running = true;
      sub->runner = std::this_thread::get_id();
      while (!sub->queue.empty() && batch.size() < kBatch) {
        batch.push_back(std::move(sub->queue.front()));
        sub->queue.pop_front();
      }
      lost = sub->lost;
    }
    bool keep = false;
    if (lost) {
      // An event without a cursor: "resume from your last cursor".
      bool wanted;
      {
        absl::MutexLock lock(&sub->mu);
        wanted = !sub->ended;
      }
      if (wanted) sub->sink(v1::FeedEvent());
    } else {
      keep = Deliver(client, *sub, batch);
    }
    absl::MutexLock lock(&sub->mu);
    sub->running = false;
    sub->runner = std::thread::id();
    if (!keep) {
      sub->ended = true;
      sub->queue.clear();
    } else {
      MaybeSchedule(sub);
    }
  }
}

bool RedisFeedWatcherImpl::Deliver(redis::RedisClient& client, SubState& sub, std::deque<Pending>& batch) {
  const Keys keys(sub.partition);
  const WatchTarget& target = sub.target;
  auto still_wanted = [&sub]() {
    absl::MutexLock lock(&sub.mu);
    return !sub.ended;
  };
  size_t i = 0;
  while (i < batch.size()) {
    const Pending& first = batch[i];
    if (!first.hello && first.change.position <= sub.delivered) {
      ++i;
      continue;
    }
    // Consecutive inserts are read back in one round trip; a mark or the
    // hello reads the counts alone.
    size_t end = i + 1;
    std::vector<std::string> ids;
    if (!first.hello && first.change.inserted) {
      ids.push_back(first.change.id);
      while (end < batch.size() && !batch[end].hello && batch[end].change.inserted && ids.size() < 100) {
        ids.push_back(batch[end].change.id);
        ++end;
      }
    }
    auto reply = client.Execute(ReadItemsCommand(keys, target.user_id, target.feed, target.tenant, ids));
    v1::ListFeedRequest request;
    request.set_page_size(static_cast<int>(std::max<size_t>(ids.size(), 1)));
    absl::StatusOr<v1::ListFeedResponse> read =
        reply.ok() ? ParseListReply(request, *reply) : absl::StatusOr<v1::ListFeedResponse>(reply.status());
    if (!read.ok()) {
      log::Warning(kComponent, "cannot read a feed change back; ending the watch",
                   {{"user", target.user_id}, {"error", std::string(read.status().message())}});
      if (still_wanted()) sub.sink(v1::FeedEvent());
      return false;
    }
    for (size_t k = i; k < end; ++k) {
      const Pending& pending = batch[k];
      if (!pending.hello && pending.change.position <= sub.delivered) continue;
      v1::FeedEvent event;
      *event.mutable_metadata() = read->metadata();
      if (pending.hello) {
        event.set_cursor(EncodeCursor(pending.change.position));
      } else if (pending.change.inserted) {
        event.set_cursor(EncodeCursor(pending.change.position));
        const v1::FeedItem* found = nullptr;
        for (const v1::FeedItem& item : read->items()) {
          if (item.id() == pending.change.id) found = &item;
        }
        if (found == nullptr) {  // gone since (trimmed, deleted): nothing to show
          sub.delivered = pending.change.position;
          continue;
        }
        *event.mutable_item_inserted() = *found;
      } else {
        event.set_cursor(EncodeCursor(pending.change.position));
        *event.mutable_items_marked() = MarkedFor(pending.change, target);
      }
      if (!still_wanted() || !sub.sink(event)) return false;
      sub.delivered = pending.change.position;
    }
    i = end;
  }
  return true;
}

absl::StatusOr<std::vector<Pending>> RedisFeedWatcherImpl::Replay(const WatchTarget& target, int partition,
                                                                  const ChangePosition& after,
                                                                  const StreamId& reader_position) {
  const std::string key = Keys(partition).FeedChanges();
  absl::MutexLock lock(&replay_mu_);
  redis::RedisClient& client = *replay_client_;
  // Whether every change after `after` is still in the stream: the stream
  // is trimmed oldest first, so nothing after it is lost when it is not
  // older than the first entry kept, or when nothing was ever trimmed.
  auto kept = [&]() -> absl::Status {
    auto info = client.Execute({"XINFO", "STREAM", key});
    int64_t length = 0, added = 0;
    StreamId last, first;
    bool has_first = false;
    if (info.ok()) {
      const auto& f = info->elements;
      for (size_t i = 0; i + 1 < f.size(); i += 2) {
        const std::string& name = f[i].str;
        if (name == "length") length = f[i + 1].integer;
        else if (name == "entries-added") added = f[i + 1].integer;
        else if (name == "last-generated-id") last = ParseStreamId(f[i + 1].str).value_or(StreamId{});
        else if (name == "first-entry" && f[i + 1].elements.size() == 2) {
          first = ParseStreamId(f[i + 1].elements[0].str).value_or(StreamId{});
          has_first = true;
        }
      }
    } else if (!absl::StrContains(info.status().message(), "no such key")) {
      return info.status();
    }
    const absl::Status gone = absl::OutOfRangeError(
        "after: the feed changes after this cursor are no longer kept; list the feed again and watch from now");
    if (last < after.id) return gone;  // a cursor of a stream this Redis no longer has
    if (added > length && (!has_first || after.id < first)) return gone;
    return absl::OkStatus();
  };
  absl::Status status = kept();
  if (!status.ok()) return status;
  std::vector<Pending> out;
  auto add = [&](const StreamId& id, const std::vector<redis::Reply>& fields, uint32_t after_line) -> absl::Status {
    for (FeedChange& change : ParseChangeEntry(id, fields, after_line)) {
      if (!IsFor(change, target)) continue;
      if (out.size() >= options_.max_pending_per_subscription) {
        return absl::OutOfRangeError("after: too many feed changes after this cursor; list the feed again");
      }
      out.push_back(Pending{std::move(change), false});
    }
    return absl::OkStatus();
  };
  // Live delivery covers everything after the reader's position (the rest
  // of a partly delivered entry at that position came before: replayed).
  if (reader_position < after.id) return out;
  if (after.line != ChangePosition::kWholeEntry) {
    auto entry = client.Execute({"XRANGE", key, after.id.ToString(), after.id.ToString()});
    if (!entry.ok()) return entry.status();
    for (const redis::Reply& e : entry->elements) {
      HERALD_RETURN_IF_ERROR(add(after.id, e.elements[1].elements, after.line));
    }
  }
  std::string start = "(" + after.id.ToString();
  const std::string end = reader_position.ToString();
  while (true) {
    auto page = client.Execute({"XRANGE", key, start, end, "COUNT", std::to_string(kReadCount)});
    if (!page.ok()) return page.status();
    for (const redis::Reply& e : page->elements) {
      auto id = ParseStreamId(e.elements[0].str);
      if (!id.ok()) return id.status();
      HERALD_RETURN_IF_ERROR(add(*id, e.elements[1].elements, 0));
      start = "(" + id->ToString();
    }
    if (page->elements.size() < static_cast<size_t>(kReadCount)) break;
  }
  // A trim between the check and the read could have taken entries: check
  // again, so a replay is either whole or refused.
  status = kept();
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<std::unique_ptr<WatchSubscription>> RedisFeedWatcherImpl::Watch(WatchTarget target,
                                                                               const std::string& after,
                                                                               FeedEventSink sink) {
  HERALD_RETURN_IF_ERROR(users::ValidateId(target.user_id, "user_id"));
  HERALD_RETURN_IF_ERROR(ValidateRequestFeed(target.feed, "feed"));
  if (!target.tenant.empty()) HERALD_RETURN_IF_ERROR(users::ValidateId(target.tenant, "tenant"));
  if (target.feed == kMainFeed) target.feed.clear();
  if (!sink) return absl::InvalidArgumentError("sink: must be set");
  ChangePosition position;
  if (!after.empty()) {
    auto decoded = DecodeCursor(after);
    if (!decoded.ok()) return decoded.status();
    position = *decoded;
  }
  {
    absl::MutexLock lock(&ready_mu_);
    if (stopping_) return absl::UnavailableError("feed watcher: shutting down");
  }
  const int partition = PartitionOf(target.user_id, options_.partitions);
  auto sub = std::make_shared<SubState>(target, partition, std::move(sink));
  StreamId reader_position;
  {
    absl::MutexLock lock(&mu_);
    subs_[RegistryKey(target.user_id, target.feed)].push_back(sub);
    reader_position = positions_[partition];
  }
  // From here on the handle unregisters it, whatever happens below.
  auto handle = std::make_unique<Subscription>(shared_from_this(), sub);
  std::vector<Pending> first;
  if (after.empty()) {
    Pending hello;
    hello.hello = true;
    hello.change.position = {reader_position, ChangePosition::kWholeEntry};
    first.push_back(std::move(hello));
  } else {
    auto replayed = Replay(sub->target, partition, position, reader_position);
    if (!replayed.ok()) return replayed.status();
    first = std::move(*replayed);
  }
  absl::MutexLock lock(&sub->mu);
  sub->delivered = after.empty() ? ChangePosition{} : position;
  if (sub->queue.size() + first.size() > options_.max_pending_per_subscription) {
    return absl::OutOfRangeError("after: too many feed changes after this cursor; list the feed again");
  }
  sub->queue.insert(sub->queue.begin(), std::make_move_iterator(first.begin()), std::make_move_iterator(first.end()));
  sub->replaying = false;
  MaybeSchedule(sub);
  return handle;
}

absl::StatusOr<std::unique_ptr<RedisFeedWatcher>> RedisFeedWatcher::Start(const redis::Endpoint& endpoint,
                                                                           RedisFeedWatcherOptions options) {
  if (options.partitions < 1) return absl::InvalidArgumentError("partitions: must be >= 1");
  if (options.delivery_threads < 1) return absl::InvalidArgumentError("delivery_threads: must be >= 1");
  if (options.block < absl::Milliseconds(1)) return absl::InvalidArgumentError("block: must be >= 1ms");
  if (options.max_pending_per_subscription < 1) {
    return absl::InvalidArgumentError("max_pending_per_subscription: must be >= 1");
  }
  auto impl = std::make_shared<RedisFeedWatcherImpl>(endpoint, options);
  absl::Status started = impl->Start();
  if (!started.ok()) {
    impl->Stop();
    return started;
  }
  return std::unique_ptr<RedisFeedWatcher>(new RedisFeedWatcher(std::move(impl)));
}

RedisFeedWatcher::~RedisFeedWatcher() { impl_->Stop(); }

absl::StatusOr<std::unique_ptr<WatchSubscription>> RedisFeedWatcher::Watch(const WatchTarget& target,
                                                                           const std::string& after,
                                                                           FeedEventSink sink) {
  return impl_->Watch(target, after, std::move(sink));
}

}  // namespace herald::feed
