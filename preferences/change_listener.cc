#include "preferences/change_listener.h"

#include "core/keys.h"
#include "core/log.h"
#include "preferences/preference_store.h"
#include "redis/streams_tail.h"

namespace herald::preferences {
namespace {

constexpr char kComponent[] = "preference_changes";

}  // namespace

absl::StatusOr<std::unique_ptr<PreferenceChangeListener>> PreferenceChangeListener::Start(
    const redis::Endpoint& endpoint, ChangeListenerOptions options, InvalidationLog& log) {
  redis::ClientOptions client_options;
  client_options.command_timeout = options.block + absl::Seconds(5);
  auto client = redis::ConnectRedis(endpoint, client_options);
  if (!client.ok()) return client.status();
  std::vector<redis::Command> last;
  for (int p = 0; p < options.partitions; ++p) {
    last.push_back({"XREVRANGE", Keys(p).PreferenceChanges(), "+", "-", "COUNT", "1"});
  }
  std::vector<std::string> positions;
  for (auto& reply : (*client)->Pipeline(last)) {
    if (!reply.ok()) return reply.status();
    bool has_entry = !reply->elements.empty() && !reply->elements[0].elements.empty();
    positions.push_back(has_entry ? reply->elements[0].elements[0].str : "0-0");
  }
  std::unique_ptr<PreferenceChangeListener> listener(new PreferenceChangeListener(options, log, std::move(positions)));
  listener->reader_ = std::thread([raw = listener.get(), owned = std::move(*client)]() { raw->ReadLoop(*owned); });
  return listener;
}

PreferenceChangeListener::~PreferenceChangeListener() {
  stopping_.Notify();
  if (reader_.joinable()) reader_.join();
}

void PreferenceChangeListener::Announce(size_t p, const redis::Reply& entries) {
  for (const redis::Reply& entry : entries.elements) {
    if (entry.elements.size() != 2) continue;
    positions_[p] = entry.elements[0].str;
    const auto& fields = entry.elements[1].elements;
    for (size_t f = 0; f + 1 < fields.size(); f += 2) {
      if (fields[f].str == "u") log_.Add(UserChangeId(fields[f + 1].str));
      if (fields[f].str == "t") log_.Add(TenantChangeId(fields[f + 1].str));
    }
  }
}

void PreferenceChangeListener::ReadLoop(redis::RedisClient& client) {
  std::vector<std::string> keys;
  for (size_t p = 0; p < positions_.size(); ++p) keys.push_back(Keys(static_cast<int>(p)).PreferenceChanges());
  redis::StreamsTail tail(std::move(keys), options_.block, options_.cluster_poll);
  while (!stopping_.HasBeenNotified()) {
    absl::Status read = tail.Read(
        client, positions_, [this](size_t p, const redis::Reply& entries) { Announce(p, entries); },
        [this](absl::Duration pause) { stopping_.WaitForNotificationWithTimeout(pause); });
    if (!read.ok()) {
      log::Warning(kComponent, "cannot read the preference change streams; retrying",
                   {{"error", std::string(read.message())}});
      stopping_.WaitForNotificationWithTimeout(absl::Milliseconds(200));
    }
  }
}

}  // namespace herald::preferences
