// The gateway's HTTP API without any I/O (gateway/HTTP_API.md): routing a
// request target, validating query parameters and JSON bodies into the v1
// request protos, the tenant-claim rule, CORS, and the JSON and
// Server-Sent-Events text of every answer. The server (gateway/http_server.h)
// moves bytes, gateway/gateway_api.h runs the requests; everything a client
// can get wrong is decided here, so it is unit-tested and fuzzed
// (gateway_request_fuzzer.cc) without a socket.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "herald/v1/herald.pb.h"
#include "workflow/registry.h"

namespace herald::gateway {

// An error as the client sees it: {"error": {"code", "message", "field"}}.
struct ApiError {
  int http_status = 500;
  std::string code = "internal";
  std::string message;
  std::string field;  // "" when no one field is at fault
};

// The HTTP form of `status` (not OK): INVALID_ARGUMENT 400, UNAUTHENTICATED
// 401, PERMISSION_DENIED 403, NOT_FOUND 404, RESOURCE_EXHAUSTED 429,
// UNAVAILABLE and DEADLINE_EXCEEDED 503, anything else 500 (its message is
// not shown: it may describe internals). The field is the message's prefix
// before ": " when it looks like a field name ("page_size", "ids[2]").
ApiError ErrorFromStatus(const absl::Status& status);
std::string ErrorJson(const ApiError& error);

enum class Endpoint {
  kHealth,
  kListItems,
  kCounts,
  kMark,
  kMarkAll,
  kStream,
  kGetPreferences,
  kPutPreferences,
  kPreferenceOptions,
};

struct Route {
  Endpoint endpoint = Endpoint::kHealth;
  // The {feed} path segment, decoded and validated; "" for other endpoints.
  std::string feed;
  // Query parameters, percent-decoded; each at most once and only those the
  // endpoint reads.
  std::map<std::string, std::string> query;

  // The parameter's value, "" when absent.
  const std::string& Param(const std::string& name) const;
};

// NOT_FOUND for a path or method the API does not have; INVALID_ARGUMENT
// naming the parameter (or `feed`) for a bad, repeated or unknown one.
// `method` is the request's (GET, POST, PUT); OPTIONS is answered before
// routing.
absl::StatusOr<Route> ParseRoute(absl::string_view method, absl::string_view target);

// What the token says about the caller.
struct Caller {
  std::string user_id;
  std::string tenant;  // the token's tenant claim, "" = none
};

// PERMISSION_DENIED when the token has a tenant claim and `requested` is
// another tenant or none (every feed and preferences request then names the
// claim's tenant).
absl::Status CheckTenant(const Caller& caller, const std::string& requested);

// The store requests of each endpoint, for `caller` (the user is always the
// token's sub). INVALID_ARGUMENT naming the field; PERMISSION_DENIED as
// CheckTenant.
absl::StatusOr<v1::ListFeedRequest> ListRequest(const Route& route, const Caller& caller);
// The list request whose answer carries the counts (one item).
absl::StatusOr<v1::ListFeedRequest> CountsRequest(const Route& route, const Caller& caller);
// kMark or kMarkAll: the body {"action", "ids" (mark only), "tenant"}.
absl::StatusOr<v1::MarkFeedItemsRequest> MarkRequest(const Route& route, absl::string_view body, const Caller& caller);
// `last_event_id` (the header) wins over the `after` parameter.
absl::StatusOr<v1::WatchFeedRequest> StreamRequest(const Route& route, const std::string& last_event_id,
                                                   const Caller& caller);

struct PreferencesWrite {
  std::string tenant;
  std::string preferences_json;  // the set, validated by the preference store
};
// GET and PUT /v1/preferences: the tenant (checked against the claim) and,
// for PUT, the body's {"preferences": {...}}.
absl::StatusOr<std::string> PreferencesTenant(const Route& route, const Caller& caller);
absl::StatusOr<PreferencesWrite> PreferencesPut(const Route& route, absl::string_view body, const Caller& caller);

// Answers.
std::string ProtoJson(const google::protobuf::Message& message);
std::string ListJson(const v1::ListFeedResponse& response);
std::string CountsJson(const v1::FeedMetadata& metadata);
std::string MarkJson(const v1::MarkFeedItemsResponse& response);
// {"preferences": <stored set>}; `stored_json` is the store's JSON text.
std::string PreferencesJson(const std::string& stored_json);
std::string PreferenceOptionsJson(const workflow::Registry& workflows);

// One SSE event ("id: …\nevent: …\ndata: …\n\n"): item, marked or counts.
std::string SseEvent(const v1::FeedEvent& event);
inline constexpr char kSseReset[] = "event: reset\ndata: {}\n\n";
inline constexpr char kSsePing[] = ": ping\n\n";

// --gateway_cors_origins: comma-separated origins ("https://app.example.com")
// or "*". Thread-safe (immutable).
class CorsPolicy {
 public:
  // INVALID_ARGUMENT naming --gateway_cors_origins for an entry that is not
  // scheme://host[:port].
  static absl::StatusOr<CorsPolicy> Parse(absl::string_view flag);
  CorsPolicy() = default;

  bool Allows(absl::string_view origin) const;

 private:
  bool any_ = false;
  absl::flat_hash_set<std::string> origins_;
};

// The CORS headers of a response to a request from `origin` ("" = none):
// empty unless the policy allows it. `preflight` adds the preflight's.
std::vector<std::pair<std::string, std::string>> CorsHeaders(const CorsPolicy& policy, absl::string_view origin,
                                                             bool preflight);

}  // namespace herald::gateway
