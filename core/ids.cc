#include "core/ids.h"

#include <charconv>
#include <random>

namespace herald {
namespace {

// 32 lower-case hex digits: `high` then `low`, each zero-padded to 16 (what
// "%016x%016x" printed; ids already stored depend on it). By hand: ids are
// made per recipient and per message on the hot paths.
std::string Hex128(uint64_t high, uint64_t low) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int i = 15; i >= 0; --i) {
    id[i] = kDigits[high & 0xf];
    id[16 + i] = kDigits[low & 0xf];
    high >>= 4;
    low >>= 4;
  }
  return id;
}

}  // namespace

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
    char digits[24];
    char* end = std::to_chars(digits, digits + sizeof(digits) - 1, part.size()).ptr;
    *end++ = ':';
    const absl::string_view length(digits, static_cast<size_t>(end - digits));
    high = StableHash64(length, high);
    high = StableHash64(part, high);
    low = StableHash64(length, low ^ 0x3c6ef372fe94f82bULL);
    low = StableHash64(part, low);
  }
  return Hex128(high, low);
}

std::string RandomId() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  // Two draws in sequence (function arguments have no order).
  const uint64_t high = generator();
  return Hex128(high, generator());
}

int PartitionOf(absl::string_view recipient, int partitions) {
  return static_cast<int>(StableHash64(recipient) % static_cast<uint64_t>(partitions));
}

}  // namespace herald
