// The Provider for every HTTP API: an HttpAdapter says what to send for a
// message and what the answer means; HttpProvider sends the requests of a
// whole group concurrently, applies the shared outcome mapping (outcome.h)
// and scrubs credentials from the results.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/clock.h"
#include "services/delivery/providers/http_client.h"
#include "services/delivery/providers/provider.h"

namespace herald::delivery {

// A provider's HTTP API, as plain code without I/O. Implementations are
// immutable after construction, hence thread-safe.
class HttpAdapter {
 public:
  virtual ~HttpAdapter() = default;
  // The requests that deliver `delivery`, one per target (a push token, a
  // chat connection); never empty when OK. An error means the message cannot
  // be sent as given: it fails "undelivered" with the error message as its
  // reason and nothing is sent. Error messages never quote credentials.
  virtual absl::StatusOr<std::vector<HttpRequest>> BuildRequests(const Delivery& delivery) const = 0;
  // Refines `result`, already set by MapHttpResponse from `response`: the
  // provider's message id, an error inside a 2xx answer, a clearer reason.
  virtual void InterpretResponse(const HttpResponse& response, Result& result) const {}
};

// A request body larger than this fails the message instead of being sent.
inline constexpr size_t kMaxRequestBodyBytes = 1 << 20;

// Thread-safe.
class HttpProvider final : public Provider {
 public:
  // `secrets`: the channel's secret values, scrubbed from every result.
  // `clock` must outlive the provider.
  HttpProvider(std::unique_ptr<HttpAdapter> adapter, HttpClientOptions options, std::vector<std::string> secrets,
               const Clock& clock);

  void Deliver(absl::Span<const Delivery* const> deliveries, absl::Span<Result* const> results) override;

 private:
  const std::unique_ptr<HttpAdapter> adapter_;
  const std::vector<std::string> secrets_;
  const Clock& clock_;
  HttpClient client_;
};

}  // namespace herald::delivery
