#include "redis/script.h"

#include <openssl/evp.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"

namespace herald::redis {
namespace {

struct Registry {
  absl::Mutex mu;
  absl::flat_hash_map<std::string, const Script*> by_sha ABSL_GUARDED_BY(mu);
};

Registry& GetRegistry() {
  static Registry* registry = new Registry();  // never destroyed: scripts are static
  return *registry;
}

std::string Sha1Hex(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha1(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += absl::StrFormat("%02x", digest[i]);
  return hex;
}

}  // namespace

Script::Script(std::string body) : body_(std::move(body)), sha_(Sha1Hex(body_)) {
  Registry& registry = GetRegistry();
  absl::MutexLock lock(&registry.mu);
  registry.by_sha[sha_] = this;
}

Command Script::Call(std::vector<std::string> keys, std::vector<std::string> args) const {
  Command command;
  command.reserve(3 + keys.size() + args.size());
  command.push_back("EVALSHA");
  command.push_back(sha_);
  command.push_back(std::to_string(keys.size()));
  for (std::string& key : keys) command.push_back(std::move(key));
  for (std::string& arg : args) command.push_back(std::move(arg));
  return command;
}

std::vector<const Script*> Script::All() {
  Registry& registry = GetRegistry();
  absl::MutexLock lock(&registry.mu);
  std::vector<const Script*> all;
  for (const auto& [sha, script] : registry.by_sha) all.push_back(script);
  return all;
}

const Script* Script::Find(absl::string_view sha) {
  Registry& registry = GetRegistry();
  absl::MutexLock lock(&registry.mu);
  auto it = registry.by_sha.find(std::string(sha));
  return it == registry.by_sha.end() ? nullptr : it->second;
}

}  // namespace herald::redis
