#include "gateway/http_api.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "users/user_store.h"

namespace herald::gateway {
namespace {

constexpr size_t kMaxFeedNameBytes = 64;

bool IsFieldName(absl::string_view text) {
  if (text.empty() || text.size() > 128) return false;
  for (char c : text) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '[' && c != ']' && c != '-') return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding of one query component (or
// path segment, plus_is_space false); nullopt for a broken %-escape.
std::optional<std::string> PercentDecode(absl::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = HexValue(text[i + 1]), low = HexValue(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (text[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

absl::Status ValidateFeedName(const std::string& feed) {
  if (feed.empty() || feed.size() > kMaxFeedNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat("feed: must be 1 to ", kMaxFeedNameBytes, " characters"));
  }
  for (char c : feed) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-') {
      return absl::InvalidArgumentError("feed: only letters, digits, '_' and '-'");
    }
  }
  return absl::OkStatus();
}

// The feed store's name: '' is the main feed.
std::string StoreFeed(const std::string& feed) { return feed == "main" ? "" : feed; }

absl::Status ValidateTenant(const std::string& tenant) {
  return tenant.empty() ? absl::OkStatus() : users::ValidateId(tenant, "tenant");
}

// The query parameters each endpoint reads.
const std::set<std::string>& AllowedParams(Endpoint endpoint) {
  static const auto* const kNone = new std::set<std::string>();
  static const auto* const kList = new std::set<std::string>{"status", "page_size", "after", "tenant"};
  static const auto* const kTenant = new std::set<std::string>{"tenant"};
  static const auto* const kStream = new std::set<std::string>{"tenant", "after", "key", "token"};
  switch (endpoint) {
    case Endpoint::kListItems:
      return *kList;
    case Endpoint::kCounts:
    case Endpoint::kGetPreferences:
    case Endpoint::kPutPreferences:
      return *kTenant;
    case Endpoint::kStream:
      return *kStream;
    default:
      return *kNone;
  }
}

absl::StatusOr<nlohmann::json> ParseObject(absl::string_view body) {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return absl::InvalidArgumentError("body: not valid JSON");
  if (!parsed.is_object()) return absl::InvalidArgumentError("body: must be a JSON object");
  return parsed;
}

absl::StatusOr<std::string> StringField(const nlohmann::json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) return absl::InvalidArgumentError(absl::StrCat(name, ": must be a string"));
  return it->get<std::string>();
}

absl::Status OnlyFields(const nlohmann::json& object, std::initializer_list<absl::string_view> allowed) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (absl::string_view name : allowed) known = known || key == name;
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(IsFieldName(key) ? key : "body", ": unknown field"));
    }
  }
  return absl::OkStatus();
}

google::protobuf::util::JsonPrintOptions PrintOptions() {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  return options;
}

}  // namespace

ApiError ErrorFromStatus(const absl::Status& status) {
  ApiError error;
  error.message = std::string(status.message());
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      error.http_status = 400;
      error.code = "invalid_argument";
      break;
    case absl::StatusCode::kUnauthenticated:
      error.http_status = 401;
      error.code = "unauthenticated";
      break;
    case absl::StatusCode::kPermissionDenied:
      error.http_status = 403;
      error.code = "permission_denied";
      break;
    case absl::StatusCode::kNotFound:
      error.http_status = 404;
      error.code = "not_found";
      break;
    case absl::StatusCode::kResourceExhausted:
      error.http_status = 429;
      error.code = "rate_limited";
      break;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      error.http_status = 503;
      error.code = "unavailable";
      break;
    default:
      error.http_status = 500;
      error.code = "internal";
      error.message = "internal error";
      return error;
  }
  const size_t colon = error.message.find(": ");
  if (colon != std::string::npos && IsFieldName(absl::string_view(error.message).substr(0, colon))) {
    error.field = error.message.substr(0, colon);
  }
  return error;
}

std::string ErrorJson(const ApiError& error) {
  nlohmann::json inner = {{"code", error.code}, {"message", error.message}};
  if (!error.field.empty()) inner["field"] = error.field;
  // Replace: a message may quote client bytes that are not UTF-8.
  return nlohmann::json{{"error", inner}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

const std::string& Route::Param(const std::string& name) const {
  static const auto* const kEmpty = new std::string();
  auto it = query.find(name);
  return it == query.end() ? *kEmpty : it->second;
}

absl::StatusOr<Route> ParseRoute(absl::string_view method, absl::string_view target) {
  absl::string_view path = target, query;
  if (size_t mark = target.find('?'); mark != absl::string_view::npos) {
    path = target.substr(0, mark);
    query = target.substr(mark + 1);
  }
  auto no_route = [&] {
    return absl::NotFoundError(absl::StrCat("no endpoint ", method, " ", path.substr(0, 200)));
  };
  std::vector<absl::string_view> segments = absl::StrSplit(path, '/');
  // A path starts with '/': the first segment is empty.
  if (segments.size() < 3 || !segments[0].empty() || segments[1] != "v1") return no_route();
  segments.erase(segments.begin(), segments.begin() + 2);
  Route route;
  const bool get = method == "GET", post = method == "POST", put = method == "PUT";
  if (segments.size() == 1 && segments[0] == "health" && get) {
    route.endpoint = Endpoint::kHealth;
  } else if (segments.size() == 1 && segments[0] == "preferences" && (get || put)) {
    route.endpoint = get ? Endpoint::kGetPreferences : Endpoint::kPutPreferences;
  } else if (segments.size() == 1 && segments[0] == "preference_options" && get) {
    route.endpoint = Endpoint::kPreferenceOptions;
  } else if (segments.size() >= 3 && segments[0] == "feeds") {
    const std::vector<absl::string_view> rest(segments.begin() + 2, segments.end());
    if (rest.size() == 1 && rest[0] == "items" && get) {
      route.endpoint = Endpoint::kListItems;
    } else if (rest.size() == 1 && rest[0] == "counts" && get) {
      route.endpoint = Endpoint::kCounts;
    } else if (rest.size() == 1 && rest[0] == "stream" && get) {
      route.endpoint = Endpoint::kStream;
    } else if (rest.size() == 2 && rest[0] == "items" && rest[1] == "mark" && post) {
      route.endpoint = Endpoint::kMark;
    } else if (rest.size() == 2 && rest[0] == "items" && rest[1] == "mark_all" && post) {
      route.endpoint = Endpoint::kMarkAll;
    } else {
      return no_route();
    }
    std::optional<std::string> feed = PercentDecode(segments[1], /*plus_is_space=*/false);
    if (!feed) return absl::InvalidArgumentError("feed: bad %-escape");
    absl::Status valid = ValidateFeedName(*feed);
    if (!valid.ok()) return valid;
    route.feed = std::move(*feed);
  } else {
    return no_route();
  }
  const std::set<std::string>& allowed = AllowedParams(route.endpoint);
  for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    std::optional<std::string> name = PercentDecode(parts.first, true);
    std::optional<std::string> value = PercentDecode(parts.second, true);
    const std::string shown = name && IsFieldName(*name) ? *name : "query";
    if (!name || !value) return absl::InvalidArgumentError(absl::StrCat(shown, ": bad %-escape"));
    if (!allowed.contains(*name)) return absl::InvalidArgumentError(absl::StrCat(shown, ": unknown parameter"));
    if (!route.query.emplace(*name, std::move(*value)).second) {
      return absl::InvalidArgumentError(absl::StrCat(shown, ": given more than once"));
    }
  }
  return route;
}

absl::Status CheckTenant(const Caller& caller, const std::string& requested) {
  if (caller.tenant.empty() || caller.tenant == requested) return absl::OkStatus();
  if (requested.empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat("tenant: the token is for tenant '", caller.tenant, "': name it in the request"));
  }
  return absl::PermissionDeniedError(absl::StrCat("tenant: the token is for tenant '", caller.tenant, "' only"));
}

absl::StatusOr<v1::ListFeedRequest> ListRequest(const Route& route, const Caller& caller) {
  v1::ListFeedRequest request;
  request.set_user_id(caller.user_id);
  request.set_feed(StoreFeed(route.feed));
  const std::string& status = route.Param("status");
  if (status.empty() || status == "all") {
    request.set_status(v1::FEED_STATUS_FILTER_UNSPECIFIED);
  } else if (status == "unread") {
    request.set_status(v1::FEED_STATUS_FILTER_UNREAD);
  } else if (status == "unseen") {
    request.set_status(v1::FEED_STATUS_FILTER_UNSEEN);
  } else if (status == "read") {
    request.set_status(v1::FEED_STATUS_FILTER_READ);
  } else if (status == "archived") {
    request.set_status(v1::FEED_STATUS_FILTER_ARCHIVED);
  } else {
    return absl::InvalidArgumentError("status: must be all, unread, unseen, read or archived");
  }
  int page_size = 20;
  if (const std::string& text = route.Param("page_size"); !text.empty()) {
    if (!absl::SimpleAtoi(text, &page_size) || page_size < 1 || page_size > 100) {
      return absl::InvalidArgumentError("page_size: must be an integer from 1 to 100");
    }
  }
  request.set_page_size(page_size);
  request.set_after(route.Param("after"));
  request.set_tenant(route.Param("tenant"));
  if (absl::Status valid = ValidateTenant(request.tenant()); !valid.ok()) return valid;
  if (absl::Status allowed = CheckTenant(caller, request.tenant()); !allowed.ok()) return allowed;
  return request;
}

absl::StatusOr<v1::ListFeedRequest> CountsRequest(const Route& route, const Caller& caller) {
  v1::ListFeedRequest request;
  request.set_user_id(caller.user_id);
  request.set_feed(StoreFeed(route.feed));
  request.set_page_size(1);
  request.set_tenant(route.Param("tenant"));
  if (absl::Status valid = ValidateTenant(request.tenant()); !valid.ok()) return valid;
  if (absl::Status allowed = CheckTenant(caller, request.tenant()); !allowed.ok()) return allowed;
  return request;
}

absl::StatusOr<v1::MarkFeedItemsRequest> MarkRequest(const Route& route, absl::string_view body,
                                                     const Caller& caller) {
  const bool all = route.endpoint == Endpoint::kMarkAll;
  auto object = ParseObject(body);
  if (!object.ok()) return object.status();
  absl::Status known = all ? OnlyFields(*object, {"action", "tenant"}) : OnlyFields(*object, {"action", "ids", "tenant"});
  if (!known.ok()) return known;
  v1::MarkFeedItemsRequest request;
  request.set_user_id(caller.user_id);
  request.set_feed(StoreFeed(route.feed));
  request.set_all(all);
  auto action = StringField(*object, "action");
  if (!action.ok()) return action.status();
  static const char* const kActions[] = {"seen",         "unseen",   "read",       "unread",
                                         "interacted", "uninteracted", "archived", "unarchived"};
  static const v1::FeedAction kValues[] = {
      v1::FEED_ACTION_SEEN,         v1::FEED_ACTION_UNSEEN,   v1::FEED_ACTION_READ,
      v1::FEED_ACTION_UNREAD,       v1::FEED_ACTION_INTERACTED, v1::FEED_ACTION_UNINTERACTED,
      v1::FEED_ACTION_ARCHIVED,     v1::FEED_ACTION_UNARCHIVED};
  for (size_t i = 0; i < std::size(kActions); ++i) {
    if (*action == kActions[i]) request.set_action(kValues[i]);
  }
  if (request.action() == v1::FEED_ACTION_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "action: must be one of seen, unseen, read, unread, interacted, uninteracted, archived, unarchived");
  }
  if (!all) {
    auto ids = object->find("ids");
    if (ids == object->end() || !ids->is_array() || ids->empty()) {
      return absl::InvalidArgumentError("ids: must be a non-empty array of item ids");
    }
    for (size_t i = 0; i < ids->size(); ++i) {
      if (!(*ids)[i].is_string()) return absl::InvalidArgumentError(absl::StrCat("ids[", i, "]: must be a string"));
      request.add_ids((*ids)[i].get<std::string>());
    }
  }
  auto tenant = StringField(*object, "tenant");
  if (!tenant.ok()) return tenant.status();
  request.set_tenant(*tenant);
  if (absl::Status valid = ValidateTenant(request.tenant()); !valid.ok()) return valid;
  if (absl::Status allowed = CheckTenant(caller, request.tenant()); !allowed.ok()) return allowed;
  return request;
}

absl::StatusOr<v1::WatchFeedRequest> StreamRequest(const Route& route, const std::string& last_event_id,
                                                   const Caller& caller) {
  v1::WatchFeedRequest request;
  request.set_user_id(caller.user_id);
  request.set_feed(StoreFeed(route.feed));
  request.set_tenant(route.Param("tenant"));
  request.set_after(last_event_id.empty() ? route.Param("after") : last_event_id);
  if (request.after().size() > 256) return absl::InvalidArgumentError("after: not a stream cursor");
  if (absl::Status valid = ValidateTenant(request.tenant()); !valid.ok()) return valid;
  if (absl::Status allowed = CheckTenant(caller, request.tenant()); !allowed.ok()) return allowed;
  return request;
}

absl::StatusOr<std::string> PreferencesTenant(const Route& route, const Caller& caller) {
  const std::string& tenant = route.Param("tenant");
  if (absl::Status valid = ValidateTenant(tenant); !valid.ok()) return valid;
  if (absl::Status allowed = CheckTenant(caller, tenant); !allowed.ok()) return allowed;
  return tenant;
}

absl::StatusOr<PreferencesWrite> PreferencesPut(const Route& route, absl::string_view body, const Caller& caller) {
  auto tenant = PreferencesTenant(route, caller);
  if (!tenant.ok()) return tenant.status();
  auto object = ParseObject(body);
  if (!object.ok()) return object.status();
  if (absl::Status known = OnlyFields(*object, {"preferences"}); !known.ok()) return known;
  auto set = object->find("preferences");
  if (set == object->end() || !set->is_object()) return absl::InvalidArgumentError("preferences: must be an object");
  return PreferencesWrite{*tenant, set->dump()};
}

std::string ProtoJson(const google::protobuf::Message& message) {
  std::string out;
  // Printing a valid message cannot fail; an empty answer would show it.
  (void)google::protobuf::util::MessageToJsonString(message, &out, PrintOptions());
  return out;
}

std::string ListJson(const v1::ListFeedResponse& response) { return ProtoJson(response); }

std::string CountsJson(const v1::FeedMetadata& metadata) {
  return absl::StrCat("{\"metadata\":", ProtoJson(metadata), "}");
}

std::string MarkJson(const v1::MarkFeedItemsResponse& response) { return ProtoJson(response); }

std::string PreferencesJson(const std::string& stored_json) {
  nlohmann::json set = nlohmann::json::parse(stored_json, nullptr, false);
  if (set.is_discarded()) set = nlohmann::json::object();
  return nlohmann::json{{"preferences", set}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string PreferenceOptionsJson(const workflow::Registry& workflows) {
  nlohmann::json list = nlohmann::json::array();
  std::set<std::string> categories;
  std::set<std::string> types;
  for (const auto& [key, workflow] : workflows.all()) {
    std::vector<std::string> channel_types;
    for (const auto& step : workflow.steps) {
      if (step.type != workflow::StepType::kChannel) continue;
      const std::string& type = step.channel.channel_type;
      if (std::find(channel_types.begin(), channel_types.end(), type) == channel_types.end()) {
        channel_types.push_back(type);
      }
      types.insert(type);
    }
    categories.insert(workflow.categories.begin(), workflow.categories.end());
    list.push_back({{"key", workflow.key},
                    {"name", workflow.name},
                    {"categories", workflow.categories},
                    {"channel_types", channel_types}});
  }
  // Channel types in their canonical order (in_app_feed first).
  nlohmann::json type_list = nlohmann::json::array();
  for (absl::string_view type : workflow::kChannelTypes) {
    if (types.contains(std::string(type))) type_list.push_back(std::string(type));
  }
  return nlohmann::json{{"workflows", list}, {"categories", categories}, {"channel_types", type_list}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string SseEvent(const v1::FeedEvent& event) {
  std::string out;
  if (!event.cursor().empty()) {
    std::string cursor = event.cursor();
    // A line break would end the field early; cursors never have one.
    cursor.erase(std::remove_if(cursor.begin(), cursor.end(), [](char c) { return c == '\n' || c == '\r'; }),
                 cursor.end());
    absl::StrAppend(&out, "id: ", cursor, "\n");
  }
  const std::string metadata = ProtoJson(event.metadata());
  if (event.has_item_inserted()) {
    absl::StrAppend(&out, "event: item\ndata: {\"item\":", ProtoJson(event.item_inserted()), ",\"metadata\":",
                    metadata, "}\n\n");
  } else if (event.has_items_marked()) {
    absl::StrAppend(&out, "event: marked\ndata: {\"items_marked\":", ProtoJson(event.items_marked()),
                    ",\"metadata\":", metadata, "}\n\n");
  } else {
    absl::StrAppend(&out, "event: counts\ndata: {\"metadata\":", metadata, "}\n\n");
  }
  return out;
}

absl::StatusOr<CorsPolicy> CorsPolicy::Parse(absl::string_view flag) {
  CorsPolicy policy;
  for (absl::string_view entry : absl::StrSplit(flag, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    if (entry == "*") {
      policy.any_ = true;
      continue;
    }
    absl::string_view host = entry;
    if (!absl::ConsumePrefix(&host, "https://") && !absl::ConsumePrefix(&host, "http://")) {
      return absl::InvalidArgumentError(
          absl::StrCat("--gateway_cors_origins: '", entry, "' is not an origin (scheme://host[:port]) or *"));
    }
    if (host.empty() || absl::StrContains(host, '/')) {
      return absl::InvalidArgumentError(
          absl::StrCat("--gateway_cors_origins: '", entry, "' is not an origin (no path, no trailing '/')"));
    }
    policy.origins_.insert(std::string(entry));
  }
  return policy;
}

bool CorsPolicy::Allows(absl::string_view origin) const {
  if (origin.empty()) return false;
  return any_ || origins_.contains(origin);
}

std::vector<std::pair<std::string, std::string>> CorsHeaders(const CorsPolicy& policy, absl::string_view origin,
                                                             bool preflight) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!policy.Allows(origin)) return headers;
  headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
  headers.emplace_back("Vary", "Origin");
  if (preflight) {
    headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, PUT, OPTIONS");
    headers.emplace_back("Access-Control-Allow-Headers", "Authorization, X-Herald-Key, Content-Type, Last-Event-ID");
    headers.emplace_back("Access-Control-Max-Age", "600");
  } else {
    // So a page can read how long to wait after a 429.
    headers.emplace_back("Access-Control-Expose-Headers", "Retry-After");
  }
  return headers;
}

}  // namespace herald::gateway
