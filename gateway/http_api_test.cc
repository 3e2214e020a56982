// The gateway's request layer without a socket: routing, validation naming
// the field, the tenant-claim rule, CORS and the SSE text.
#include "gateway/http_api.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace herald::gateway {
namespace {

using ::testing::HasSubstr;

const Caller kUser{"u1", ""};
const Caller kTenantUser{"u1", "acme"};

Route MustRoute(const std::string& method, const std::string& target) {
  auto route = ParseRoute(method, target);
  EXPECT_TRUE(route.ok()) << target << ": " << route.status();
  return route.ok() ? *route : Route{};
}

TEST(HttpApiTest, RoutesTheContractsEndpoints) {
  EXPECT_EQ(MustRoute("GET", "/v1/health").endpoint, Endpoint::kHealth);
  Route list = MustRoute("GET", "/v1/feeds/main/items?status=unread&page_size=5&after=c1&tenant=acme");
  EXPECT_EQ(list.endpoint, Endpoint::kListItems);
  EXPECT_EQ(list.feed, "main");
  EXPECT_EQ(list.Param("after"), "c1");
  EXPECT_EQ(MustRoute("GET", "/v1/feeds/announcements/counts").feed, "announcements");
  EXPECT_EQ(MustRoute("POST", "/v1/feeds/main/items/mark").endpoint, Endpoint::kMark);
  EXPECT_EQ(MustRoute("POST", "/v1/feeds/main/items/mark_all").endpoint, Endpoint::kMarkAll);
  EXPECT_EQ(MustRoute("GET", "/v1/feeds/main/stream?key=pk&token=t").endpoint, Endpoint::kStream);
  EXPECT_EQ(MustRoute("GET", "/v1/preferences?tenant=acme").endpoint, Endpoint::kGetPreferences);
  EXPECT_EQ(MustRoute("PUT", "/v1/preferences").endpoint, Endpoint::kPutPreferences);
  EXPECT_EQ(MustRoute("GET", "/v1/preference_options").endpoint, Endpoint::kPreferenceOptions);
  EXPECT_EQ(MustRoute("GET", "/v1/feeds/main/items?tenant=a%20b+c").Param("tenant"), "a b c");

  EXPECT_EQ(ParseRoute("POST", "/v1/feeds/main/items").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ParseRoute("GET", "/v2/health").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ParseRoute("GET", "/v1/feeds/main/items/x").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ParseRoute("GET", "/v1/feeds/ma%2Fin/items").status().message(), HasSubstr("feed:"));
  EXPECT_THAT(ParseRoute("GET", "/v1/feeds/main/items?user_id=u2").status().message(),
              HasSubstr("user_id: unknown parameter"));
  EXPECT_THAT(ParseRoute("GET", "/v1/feeds/main/items?after=a&after=b").status().message(),
              HasSubstr("after: given more than once"));
  EXPECT_THAT(ParseRoute("GET", "/v1/feeds/main/items?after=%zz").status().message(), HasSubstr("after: bad"));
  EXPECT_THAT(ParseRoute("GET", "/v1/feeds/main/counts?key=pk").status().message(), HasSubstr("key: unknown"));
}

TEST(HttpApiTest, ListValidatesPageSizeAndStatusAndTakesTheUserFromTheToken) {
  auto request = ListRequest(MustRoute("GET", "/v1/feeds/main/items?status=archived&page_size=100"), kUser);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->user_id(), "u1");
  EXPECT_EQ(request->feed(), "");  // main
  EXPECT_EQ(request->page_size(), 100);
  EXPECT_EQ(request->status(), v1::FEED_STATUS_FILTER_ARCHIVED);
  EXPECT_EQ(ListRequest(MustRoute("GET", "/v1/feeds/news/items"), kUser)->feed(), "news");
  EXPECT_EQ(ListRequest(MustRoute("GET", "/v1/feeds/main/items"), kUser)->page_size(), 20);
  for (const char* bad : {"0", "101", "-1", "ten", "1.5"}) {
    auto refused = ListRequest(MustRoute("GET", std::string("/v1/feeds/main/items?page_size=") + bad), kUser);
    EXPECT_EQ(ErrorFromStatus(refused.status()).field, "page_size") << bad;
  }
  EXPECT_EQ(ErrorFromStatus(ListRequest(MustRoute("GET", "/v1/feeds/main/items?status=new"), kUser).status()).field,
            "status");
}

TEST(HttpApiTest, TenantClaimBindsEveryRequest) {
  EXPECT_TRUE(ListRequest(MustRoute("GET", "/v1/feeds/main/items?tenant=acme"), kTenantUser).ok());
  auto other = ListRequest(MustRoute("GET", "/v1/feeds/main/items?tenant=globex"), kTenantUser);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied);
  auto none = CountsRequest(MustRoute("GET", "/v1/feeds/main/counts"), kTenantUser);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kPermissionDenied);
  auto mark = MarkRequest(MustRoute("POST", "/v1/feeds/main/items/mark"), R"({"action":"read","ids":["m1"]})",
                          kTenantUser);
  EXPECT_EQ(mark.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(PreferencesTenant(MustRoute("GET", "/v1/preferences"), kTenantUser).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(StreamRequest(MustRoute("GET", "/v1/feeds/main/stream?tenant=globex"), "", kTenantUser).status().code(),
            absl::StatusCode::kPermissionDenied);
  // Without a claim any tenant (or none) may be named.
  EXPECT_TRUE(ListRequest(MustRoute("GET", "/v1/feeds/main/items?tenant=globex"), kUser).ok());
  EXPECT_EQ(ErrorFromStatus(other.status()).http_status, 403);
}

TEST(HttpApiTest, MarkBodiesAreValidatedField_by_field) {
  const Route mark = MustRoute("POST", "/v1/feeds/main/items/mark");
  const Route all = MustRoute("POST", "/v1/feeds/main/items/mark_all");
  auto ok = MarkRequest(mark, R"({"action":"archived","ids":["m1","m2"],"tenant":""})", kUser);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->action(), v1::FEED_ACTION_ARCHIVED);
  EXPECT_EQ(ok->ids_size(), 2);
  EXPECT_FALSE(ok->all());
  auto everything = MarkRequest(all, R"({"action":"read"})", kUser);
  ASSERT_TRUE(everything.ok());
  EXPECT_TRUE(everything->all());
  struct Case {
    const Route& route;
    std::string body;
    std::string field;
  };
  const std::vector<Case> cases = {
      {mark, "{", "body"},
      {mark, "[]", "body"},
      {mark, R"({"action":"burn","ids":["m1"]})", "action"},
      {mark, R"({"action":7,"ids":["m1"]})", "action"},
      {mark, R"({"ids":["m1"]})", "action"},
      {mark, R"({"action":"read"})", "ids"},
      {mark, R"({"action":"read","ids":[]})", "ids"},
      {mark, R"({"action":"read","ids":["m1",2]})", "ids[1]"},
      {mark, R"({"action":"read","ids":["m1"],"user_id":"u2"})", "user_id"},
      {all, R"({"action":"read","ids":["m1"]})", "ids"},
      {mark, R"({"action":"read","ids":["m1"],"tenant":5})", "tenant"},
  };
  for (const Case& c : cases) {
    auto refused = MarkRequest(c.route, c.body, kUser);
    ApiError error = ErrorFromStatus(refused.status());
    EXPECT_EQ(error.http_status, 400) << c.body;
    EXPECT_EQ(error.field, c.field) << c.body << ": " << refused.status();
  }
}

TEST(HttpApiTest, StreamCursorFromHeaderWinsOverQuery) {
  const Route route = MustRoute("GET", "/v1/feeds/main/stream?after=q");
  EXPECT_EQ(StreamRequest(route, "h", kUser)->after(), "h");
  EXPECT_EQ(StreamRequest(route, "", kUser)->after(), "q");
}

TEST(HttpApiTest, PreferencesBody) {
  const Route put = MustRoute("PUT", "/v1/preferences?tenant=acme");
  auto write = PreferencesPut(put, R"({"preferences":{"workflows":{"w":false}}})", kUser);
  ASSERT_TRUE(write.ok()) << write.status();
  EXPECT_EQ(write->tenant, "acme");
  EXPECT_EQ(nlohmann::json::parse(write->preferences_json)["workflows"]["w"], false);
  EXPECT_EQ(ErrorFromStatus(PreferencesPut(put, R"({"preferences":[]})", kUser).status()).field, "preferences");
  EXPECT_EQ(ErrorFromStatus(PreferencesPut(put, R"({"prefs":{}})", kUser).status()).field, "prefs");
  EXPECT_EQ(PreferencesJson("{}"), R"({"preferences":{}})");
}

TEST(HttpApiTest, ErrorsAndStatusCodes) {
  EXPECT_EQ(ErrorJson(ErrorFromStatus(absl::InvalidArgumentError("page_size: must be 1-100"))),
            R"({"error":{"code":"invalid_argument","field":"page_size","message":"page_size: must be 1-100"}})");
  ApiError internal = ErrorFromStatus(absl::InternalError("redis said ERR at key herald:{0}:x"));
  EXPECT_EQ(internal.http_status, 500);
  EXPECT_EQ(internal.message, "internal error");
  EXPECT_EQ(ErrorFromStatus(absl::NotFoundError("ids[0]: item x is not in the feed")).field, "ids[0]");
  EXPECT_EQ(ErrorFromStatus(absl::ResourceExhaustedError("rate")).http_status, 429);
  EXPECT_EQ(ErrorFromStatus(absl::UnavailableError("redis down")).http_status, 503);
  EXPECT_EQ(ErrorFromStatus(absl::UnauthenticatedError("X-Herald-Key: unknown")).field, "X-Herald-Key");
  EXPECT_EQ(ErrorFromStatus(absl::InvalidArgumentError("a sentence: no field")).field, "");
}

TEST(HttpApiTest, CorsFollowsTheContract) {
  auto policy = CorsPolicy::Parse("https://app.example.com, http://localhost:5173");
  ASSERT_TRUE(policy.ok());
  auto preflight = CorsHeaders(*policy, "http://localhost:5173", true);
  std::map<std::string, std::string> headers(preflight.begin(), preflight.end());
  EXPECT_EQ(headers["Access-Control-Allow-Origin"], "http://localhost:5173");
  EXPECT_EQ(headers["Vary"], "Origin");
  EXPECT_EQ(headers["Access-Control-Allow-Methods"], "GET, POST, PUT, OPTIONS");
  EXPECT_EQ(headers["Access-Control-Allow-Headers"], "Authorization, X-Herald-Key, Content-Type, Last-Event-ID");
  EXPECT_EQ(headers["Access-Control-Max-Age"], "600");
  EXPECT_TRUE(CorsHeaders(*policy, "https://evil.example.com", true).empty());
  EXPECT_TRUE(CorsHeaders(*policy, "", false).empty());
  EXPECT_TRUE(CorsHeaders(CorsPolicy(), "https://app.example.com", false).empty());
  EXPECT_TRUE(CorsPolicy::Parse("*")->Allows("https://anything.example"));
  EXPECT_THAT(CorsPolicy::Parse("app.example.com").status().message(), HasSubstr("--gateway_cors_origins"));
  EXPECT_THAT(CorsPolicy::Parse("https://app.example.com/").status().message(), HasSubstr("no path"));
}

TEST(HttpApiTest, SseEvents) {
  v1::FeedEvent inserted;
  inserted.set_cursor("c7");
  inserted.mutable_item_inserted()->set_id("m1");
  inserted.mutable_metadata()->set_unread_count(3);
  const std::string text = SseEvent(inserted);
  EXPECT_THAT(text, ::testing::StartsWith("id: c7\nevent: item\ndata: {\"item\":{"));
  EXPECT_THAT(text, ::testing::EndsWith("\n\n"));
  const std::string data = text.substr(text.find("data: ") + 6, text.size() - text.find("data: ") - 8);
  EXPECT_EQ(data.find('\n'), std::string::npos);
  nlohmann::json parsed = nlohmann::json::parse(data);
  EXPECT_EQ(parsed["item"]["id"], "m1");
  EXPECT_EQ(parsed["metadata"]["unread_count"], "3");
  EXPECT_EQ(parsed["metadata"]["unseen_count"], "0");

  v1::FeedEvent marked;
  marked.set_cursor("c8");
  marked.mutable_items_marked()->set_action(v1::FEED_ACTION_READ);
  marked.mutable_items_marked()->add_ids("m1");
  EXPECT_THAT(SseEvent(marked), HasSubstr("event: marked\ndata: {\"items_marked\":{\"action\":\"FEED_ACTION_READ\""));
  v1::FeedEvent counts;
  counts.set_cursor("c9");
  EXPECT_THAT(SseEvent(counts), HasSubstr("id: c9\nevent: counts\ndata: {\"metadata\":{"));
}

}  // namespace
}  // namespace herald::gateway
