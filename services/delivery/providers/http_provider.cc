// HttpProvider: plan requests, send them together, map the answers.
#include "services/delivery/providers/http_provider.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "services/delivery/providers/outcome.h"

namespace herald::delivery {
namespace {

// Which requests belong to which message.
struct Planned {
  size_t delivery;
  size_t first_request;
  size_t request_count;
};

absl::Status CheckBodySizes(const std::vector<HttpRequest>& requests) {
  for (const HttpRequest& request : requests) {
    if (request.body.size() > kMaxRequestBodyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("request body of ", request.body.size(), " bytes exceeds ", kMaxRequestBodyBytes));
    }
  }
  return absl::OkStatus();
}

}  // namespace

HttpProvider::HttpProvider(std::unique_ptr<HttpAdapter> adapter, HttpClientOptions options,
                           std::vector<std::string> secrets, const Clock& clock)
    : adapter_(std::move(adapter)), secrets_(std::move(secrets)), clock_(clock), client_(std::move(options)) {}

void HttpProvider::Deliver(absl::Span<const Delivery* const> deliveries, absl::Span<Result* const> results) {
  std::vector<HttpRequest> requests;
  std::vector<Planned> planned;
  for (size_t i = 0; i < deliveries.size(); ++i) {
    auto built = adapter_->BuildRequests(*deliveries[i]);
    absl::Status status = built.ok() ? CheckBodySizes(*built) : built.status();
    if (status.ok() && built->empty()) status = absl::InternalError("the adapter built no request");
    if (!status.ok()) {
      FailUndelivered(status.message(), *results[i]);
      RedactSecrets(secrets_, *results[i]);
      continue;
    }
    planned.push_back({i, requests.size(), built->size()});
    for (HttpRequest& request : *built) requests.push_back(std::move(request));
  }
  std::vector<HttpResponse> responses = client_.Perform(requests);
  const int64_t now_ms = clock_.NowMillis();
  for (const Planned& plan : planned) {
    std::vector<Result> targets;
    std::vector<std::string> secrets = secrets_;
    for (size_t r = plan.first_request; r < plan.first_request + plan.request_count; ++r) {
      secrets.insert(secrets.end(), requests[r].secrets.begin(), requests[r].secrets.end());
    }
    for (size_t r = plan.first_request; r < plan.first_request + plan.request_count; ++r) {
      HttpResponse& response = responses[r];
      // Scrub the raw answer before it is cut to size, so that no part of a
      // secret survives at the cut.
      for (const std::string& secret : secrets) {
        if (!secret.empty()) absl::StrReplaceAll({{secret, "[redacted]"}}, &response.body);
      }
      Result target;
      MapHttpResponse(response, now_ms, target);
      adapter_->InterpretResponse(response, target);
      targets.push_back(std::move(target));
    }
    Result& result = *results[plan.delivery];
    const std::string message_id = result.message_id();
    result = CombineTargetResults(std::move(targets));
    result.set_message_id(message_id);
    RedactSecrets(secrets, result);
  }
}

}  // namespace herald::delivery
