// Stable hashing and identifiers. Everything here is deterministic across
// processes and machines: message ids and partitions are derived from it, and
// replays must land on the same ids.
#pragma once

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <initializer_list>

namespace herald {

// FNV-1a 64-bit over `data`, starting from `seed`.
uint64_t StableHash64(absl::string_view data, uint64_t seed = 0xcbf29ce484222325ULL);

// A 32-hex-character id derived from the parts (joined unambiguously).
std::string DeterministicId(std::initializer_list<absl::string_view> parts);

// A 32-hex-character id from a thread-local random generator.
std::string RandomId();

// Which partition owns `recipient`. REQUIRES: partitions > 0.
int PartitionOf(absl::string_view recipient, int partitions);

}  // namespace herald
