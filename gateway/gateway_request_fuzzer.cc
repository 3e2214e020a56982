// libFuzzer target for the gateway's request layer (gateway/http_api.h):
// any bytes as a method, a request target and a body must be routed and
// validated without a crash, and every refusal must be a client error (400,
// 403 or 404) whose JSON names a field when it has one; an accepted request
// always carries the caller's user id (never one from the input), and an
// accepted list request keeps page_size within 1..100. Input: the first
// byte picks the method and caller, then the target up to the first '\n',
// then the body. Built for libFuzzer by scripts/fuzz (clang); in the normal
// build the same entry point replays testdata/request_corpus as a test.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "gateway/http_api.h"
#include "nlohmann/json.hpp"

namespace {

using herald::gateway::ApiError;
using herald::gateway::Caller;
using herald::gateway::Endpoint;

void Check(bool condition) {
  if (!condition) abort();
}

// A refusal: a client error with a well-formed JSON body.
void CheckRefusal(const absl::Status& status) {
  Check(!status.ok());
  ApiError error = herald::gateway::ErrorFromStatus(status);
  Check(error.http_status == 400 || error.http_status == 403 || error.http_status == 404);
  nlohmann::json parsed = nlohmann::json::parse(herald::gateway::ErrorJson(error), nullptr, false);
  Check(parsed.is_object() && parsed["error"]["code"].is_string());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* const kMethods[] = {"GET", "POST", "PUT", "DELETE"};
  const std::string method = kMethods[data[0] % 4];
  const Caller caller = (data[0] & 4) ? Caller{"caller", "acme"} : Caller{"caller", ""};
  const std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t newline = input.find('\n');
  const std::string target = input.substr(0, newline);
  const std::string body = newline == std::string::npos ? "" : input.substr(newline + 1);

  auto route = herald::gateway::ParseRoute(method, target);
  if (!route.ok()) {
    CheckRefusal(route.status());
    return 0;
  }
  switch (route->endpoint) {
    case Endpoint::kListItems: {
      auto request = herald::gateway::ListRequest(*route, caller);
      if (!request.ok()) {
        CheckRefusal(request.status());
        return 0;
      }
      Check(request->user_id() == "caller");
      Check(request->page_size() >= 1 && request->page_size() <= 100);
      Check(caller.tenant.empty() || request->tenant() == caller.tenant);
      break;
    }
    case Endpoint::kCounts: {
      auto request = herald::gateway::CountsRequest(*route, caller);
      if (!request.ok()) {
        CheckRefusal(request.status());
        return 0;
      }
      Check(request->user_id() == "caller");
      break;
    }
    case Endpoint::kMark:
    case Endpoint::kMarkAll: {
      auto request = herald::gateway::MarkRequest(*route, body, caller);
      if (!request.ok()) {
        CheckRefusal(request.status());
        return 0;
      }
      Check(request->user_id() == "caller");
      Check(request->all() == (route->endpoint == Endpoint::kMarkAll));
      Check(request->all() || request->ids_size() > 0);
      Check(caller.tenant.empty() || request->tenant() == caller.tenant);
      break;
    }
    case Endpoint::kStream: {
      auto request = herald::gateway::StreamRequest(*route, body.substr(0, 300), caller);
      if (!request.ok()) {
        CheckRefusal(request.status());
        return 0;
      }
      Check(request->user_id() == "caller");
      break;
    }
    case Endpoint::kPutPreferences: {
      auto write = herald::gateway::PreferencesPut(*route, body, caller);
      if (!write.ok()) {
        CheckRefusal(write.status());
        return 0;
      }
      Check(nlohmann::json::parse(write->preferences_json, nullptr, false).is_object());
      break;
    }
    case Endpoint::kGetPreferences: {
      auto tenant = herald::gateway::PreferencesTenant(*route, caller);
      if (!tenant.ok()) {
        CheckRefusal(tenant.status());
        return 0;
      }
      break;
    }
    default:
      break;
  }
  return 0;
}
