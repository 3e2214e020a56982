#include "core/ids.h"

#include <random>

#include "absl/strings/str_format.h"

namespace herald {

uint64_t StableHash64(absl::string_view data, uint64_t seed) {
  uint64_t hash = seed;
  for (unsigned char c : data) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  // Final avalanche (splitmix64) so that nearby inputs spread over partitions.
  hash ^= hash >> 30;
  hash *= 0xbf58476d1ce4e5b9ULL;
  hash ^= hash >> 27;
  hash *= 0x94d049bb133111ebULL;
  hash ^= hash >> 31;
  return hash;
}

std::string DeterministicId(std::initializer_list<absl::string_view> parts) {
  uint64_t high = 0x6a09e667f3bcc908ULL;
  uint64_t low = 0xbb67ae8584caa73bULL;
  for (absl::string_view part : parts) {
    // Length-prefix each part so ("ab","c") and ("a","bc") differ.
    std::string length = std::to_string(part.size()) + ":";
    high = StableHash64(length, high);
    high = StableHash64(part, high);
    low = StableHash64(length, low ^ 0x3c6ef372fe94f82bULL);
    low = StableHash64(part, low);
  }
  return absl::StrFormat("%016x%016x", high, low);
}

std::string RandomId() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return absl::StrFormat("%016x%016x", generator(), generator());
}

int PartitionOf(absl::string_view recipient, int partitions) {
  return static_cast<int>(StableHash64(recipient) % static_cast<uint64_t>(partitions));
}

}  // namespace herald
