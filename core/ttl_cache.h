// A bounded cache of records read from Redis, kept for a short TTL, shaped
// around a worker's "read" (one batch of stream entries): the read names
// every id it will look up, loads what is missing or stale in one round
// trip, then finds every one of them. Written once for users, preference
// sets and tenants.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "core/clock.h"

namespace herald {

// Caches a Value per string id for `ttl_micros`, for at most about
// `capacity` ids. Not thread-safe: one per worker.
//
// Use, once per read:
//   for (const std::string& id : cache.StartRead(ids)) cache.Put(id, Load(id));
//   ... cache.Find(id) for any id of `ids` ...
//
// Invariant: an entry held by the current read (every id passed to the last
// StartRead, and every id Put since) is never evicted, so Find finds every
// id of the read once it is loaded — even when the read alone holds more
// ids than `capacity`: the cache then grows past capacity until the next
// read lets it shrink.
//
// Eviction: when an insert takes the cache past `capacity`, entries not held
// by the current read are evicted down to a low-water mark of 3/4 of the
// capacity: every stale one first (they would be reloaded anyway), then the
// oldest fresh ones. One pass is O(size) and is followed by at least
// capacity/4 inserts before the next, unless it stopped because everything
// left is held — then no pass runs again until the next read — so eviction
// is amortized O(1) per insert. StartRead is O(ids) (plus such a pass when
// the previous read left the cache over capacity); Put is amortized O(1),
// Find O(1).
template <typename Value>
class TtlCache {
 public:
  // `clock` must outlive the cache.
  TtlCache(const Clock& clock, int64_t ttl_micros, size_t capacity)
      : clock_(clock), ttl_micros_(ttl_micros), capacity_(capacity), low_water_(capacity - capacity / 4) {}
  TtlCache(const TtlCache&) = delete;
  TtlCache& operator=(const TtlCache&) = delete;

  // Starts a new read of `ids` (duplicates allowed) and holds every one of
  // them until the next StartRead. Returns the ids the caller must load and
  // Put: those not cached or stale, each once, in first-seen order. The
  // previous read's hold ends here.
  std::vector<std::string> StartRead(const std::vector<std::string>& ids) {
    ++read_;
    held_ = 0;
    read_started_at_ = clock_.NowMicros();
    std::vector<std::string> to_load;
    absl::flat_hash_set<absl::string_view> absent_asked;  // absent ids have no entry to mark
    for (const std::string& id : ids) {
      auto it = entries_.find(id);
      if (it == entries_.end()) {
        if (absent_asked.insert(id).second) to_load.push_back(id);
        continue;
      }
      Entry& entry = it->second;
      if (entry.read == read_) continue;  // already seen in this read
      entry.read = read_;
      ++held_;
      if (IsStale(entry)) to_load.push_back(id);
    }
    EvictIfOverCapacity();
    return to_load;
  }

  // Stores `value` for `id`, loaded as of the start of the current read
  // (so it expires no later than data read at that time should), and holds
  // it for the rest of the read. May evict entries the read does not hold;
  // pointers from Find stay valid only until the next Put or StartRead.
  void Put(const std::string& id, Value value) {
    auto [it, inserted] = entries_.try_emplace(id);
    Entry& entry = it->second;
    entry.value = std::move(value);
    entry.loaded_at = read_started_at_;
    if (entry.read != read_) {
      entry.read = read_;
      ++held_;
    }
    if (inserted) EvictIfOverCapacity();
  }

  // The cached value of `id`, whatever its age (StartRead decides what to
  // reload), or nullptr when `id` is not cached. Valid until the next Put or
  // StartRead.
  const Value* Find(absl::string_view id) const {
    auto it = entries_.find(id);
    return it == entries_.end() ? nullptr : &it->second.value;
  }

  // Forgets `id` (its record changed in Redis): the next read that names it
  // loads it again. Call between reads, not while using Find's results.
  void Erase(absl::string_view id) {
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    if (it->second.read == read_) --held_;
    entries_.erase(it);
  }
  // Forgets every entry (changes were missed: nothing cached can be trusted).
  void Clear() {
    entries_.clear();
    held_ = 0;
  }

  // Entries cached now (may exceed capacity() while a large read holds them).
  size_t size() const { return entries_.size(); }
  size_t capacity() const { return capacity_; }

 private:
  struct Entry {
    Value value{};
    int64_t loaded_at = 0;
    uint64_t read = 0;  // the last read that held this entry
  };
  using Map = absl::flat_hash_map<std::string, Entry>;

  bool IsStale(const Entry& entry) const { return read_started_at_ - entry.loaded_at >= ttl_micros_; }

  // Evicts entries not held by the current read, stale first then oldest,
  // down to low_water_ (or until only held entries are left).
  void EvictIfOverCapacity() {
    if (entries_.size() <= capacity_ || entries_.size() == held_) return;
    std::vector<typename Map::iterator> fresh;  // evictable, not stale
    std::vector<typename Map::iterator> stale;
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->second.read == read_) continue;
      (IsStale(it->second) ? stale : fresh).push_back(it);
    }
    // Erasing from a flat_hash_map never rehashes: the other iterators stay valid.
    for (auto it : stale) entries_.erase(it);
    if (entries_.size() <= low_water_) return;
    size_t excess = std::min(entries_.size() - low_water_, fresh.size());
    std::nth_element(fresh.begin(), fresh.begin() + excess, fresh.end(),
                     [](const auto& a, const auto& b) { return a->second.loaded_at < b->second.loaded_at; });
    for (size_t i = 0; i < excess; ++i) entries_.erase(fresh[i]);
  }

  // Constant after construction.
  const Clock& clock_;
  const int64_t ttl_micros_;
  const size_t capacity_;
  const size_t low_water_;

  Map entries_;
  uint64_t read_ = 1;            // the current read's number (entries start at 0)
  size_t held_ = 0;              // entries whose read == read_
  int64_t read_started_at_ = 0;  // clock at the current StartRead
};

}  // namespace herald
