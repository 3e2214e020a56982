// Ids whose cached copies went stale, announced by one thread (a listener
// following a change stream in Redis) to many workers that each keep their
// own cache (core/ttl_cache.h) and drop those ids before their next read.
// A worker that checks costs one atomic load when nothing changed.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"

namespace herald {

// Thread-safe. Keeps the last `capacity` ids; a reader that falls further
// behind is told so and must drop everything it caches.
class InvalidationLog {
 public:
  explicit InvalidationLog(size_t capacity = 8192) : capacity_(capacity) {}

  void Add(std::string id) {
    absl::MutexLock lock(&mu_);
    ids_.push_back(std::move(id));
    if (ids_.size() > capacity_) {
      ids_.pop_front();
      ++first_;
    }
    next_.store(first_ + ids_.size(), std::memory_order_release);
  }
  // Tells every reader to drop everything (the listener lost track of the
  // changes, e.g. its stream was trimmed past its position).
  void AddEverything() {
    absl::MutexLock lock(&mu_);
    first_ += ids_.size() + capacity_ + 1;  // past any cursor: every reader's ReadSince says incomplete
    ids_.clear();
    next_.store(first_, std::memory_order_release);
  }

  // The position after the last id added: a reader whose cursor equals it
  // has nothing to do.
  uint64_t end() const { return next_.load(std::memory_order_acquire); }

  // Calls `fn` for each id added since `*cursor` and moves the cursor to the
  // end. Returns false when some of those ids are gone (the reader must drop
  // everything it caches; `fn` was called for none).
  bool ReadSince(uint64_t* cursor, absl::FunctionRef<void(const std::string&)> fn) const {
    absl::MutexLock lock(&mu_);
    const uint64_t end = first_ + ids_.size();
    const bool complete = *cursor >= first_;
    if (complete) {
      for (uint64_t i = *cursor; i < end; ++i) fn(ids_[i - first_]);
    }
    *cursor = end;
    return complete;
  }

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<std::string> ids_ ABSL_GUARDED_BY(mu_);
  uint64_t first_ ABSL_GUARDED_BY(mu_) = 0;  // position of ids_.front()
  std::atomic<uint64_t> next_{0};
};

}  // namespace herald
