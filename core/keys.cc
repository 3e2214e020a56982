#include "core/keys.h"

#include "absl/strings/str_cat.h"

namespace herald {

Keys::Keys(int partition)
    : partition_(partition),
      prefix_(absl::StrCat("herald:{", partition, "}:")),
      events_(absl::StrCat(prefix_, "events")),
      segments_(absl::StrCat(prefix_, "batches")),
      due_(absl::StrCat(prefix_, "due")),
      expansions_(absl::StrCat(prefix_, "expansions")),
      deliveries_(absl::StrCat(prefix_, "deliveries")) {}

std::string Keys::ChannelData(absl::string_view user_id) const { return absl::StrCat(prefix_, "chdata:", user_id); }

std::string Keys::UserSubscriptions(absl::string_view user_id) const {
  return absl::StrCat(prefix_, "usubs:", user_id);
}

std::string Keys::UserRecords(absl::string_view user_id) const { return absl::StrCat(prefix_, "urecs:", user_id); }

std::string Keys::Object(absl::string_view ref) const { return absl::StrCat(prefix_, "obj:", ref); }

std::string Keys::Subscribers(absl::string_view ref) const { return absl::StrCat(prefix_, "subs:", ref); }

std::string Keys::Tenant(absl::string_view tenant) const { return absl::StrCat(prefix_, "tenant:", tenant); }

std::string Keys::Fanout(absl::string_view fanout_id) const { return absl::StrCat(prefix_, "fanout:", fanout_id); }

std::string Keys::Preferences(absl::string_view user_id) const { return absl::StrCat(prefix_, "prefs:", user_id); }

std::string Keys::TenantPreferences(absl::string_view tenant) const {
  return absl::StrCat(prefix_, "tenant_prefs:", tenant);
}

std::string Keys::User(absl::string_view user_id) const { return absl::StrCat(prefix_, "user:", user_id); }

std::string Keys::Idempotency(absl::string_view workflow, absl::string_view key) const {
  return absl::StrCat(prefix_, "idem:", workflow.size(), ":", workflow, ":", key);
}

std::string Keys::Message(absl::string_view message_id) const { return absl::StrCat(prefix_, "msg:", message_id); }

std::string Keys::FeedPrefix(absl::string_view user_id) const { return absl::StrCat(prefix_, "feed:", user_id, ":"); }

std::string Keys::TenantFeedPrefix(absl::string_view tenant, absl::string_view user_id) const {
  return absl::StrCat(prefix_, "tfeed:", tenant.size(), ":", tenant, ":", user_id, ":");
}

std::string Keys::Run(absl::string_view run_id) const { return absl::StrCat(prefix_, "run:", run_id); }

std::string Keys::CancelIndex(absl::string_view workflow, absl::string_view cancellation_key,
                              absl::string_view recipient) const {
  return absl::StrCat(prefix_, "cancel:", workflow.size(), ":", workflow, ":", cancellation_key.size(), ":",
                      cancellation_key, ":", recipient);
}

}  // namespace herald
