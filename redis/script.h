// Lua scripts called by SHA. Each script registers its body: a new
// connection loads every registered script once (SCRIPT LOAD), and a client
// that meets NOSCRIPT (a restarted or flushed Redis) sends it again
// transparently. Scripts receive every key they are given in KEYS; the
// client refuses a call with no key or with keys of different hash tags
// (Redis Cluster could not route it to one slot).
#pragma once

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "redis/client.h"

namespace herald::redis {

// Immutable after construction; thread-safe. Construct once (static).
class Script {
 public:
  explicit Script(std::string body);
  Script(const Script&) = delete;
  Script& operator=(const Script&) = delete;

  const std::string& sha() const { return sha_; }
  const std::string& body() const { return body_; }

  // EVALSHA sha numkeys keys... args... (the strings are moved in: pass
  // temporaries or std::move, a feed insert carries thousands of them).
  Command Call(std::vector<std::string> keys, std::vector<std::string> args) const;

  // The body registered under `sha`, or nullptr.
  static const Script* Find(absl::string_view sha);
  // Every script constructed so far (for loading them on a new connection).
  static std::vector<const Script*> All();

 private:
  std::string body_;
  std::string sha_;
};

}  // namespace herald::redis
