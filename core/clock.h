// Time source seam: production code reads wall time through Clock so that
// batch windows and delays are testable with a simulated clock.
#pragma once

#include <atomic>
#include <cstdint>

namespace herald {

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Microseconds since the Unix epoch.
  virtual int64_t NowMicros() const = 0;
  int64_t NowMillis() const { return NowMicros() / 1000; }
};

// The real wall clock.
class SystemClock final : public Clock {
 public:
  int64_t NowMicros() const override;
  static const Clock& Get();
};

// A clock that moves only when told to. Thread-safe.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(int64_t start_micros) : now_(start_micros) {}
  int64_t NowMicros() const override { return now_.load(); }
  void AdvanceMicros(int64_t delta) { now_.fetch_add(delta); }
  void AdvanceMillis(int64_t delta) { AdvanceMicros(delta * 1000); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace herald
