#include "services/delivery/remote.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"

namespace herald::delivery {

absl::StatusOr<std::unique_ptr<RemoteDeliveryService>> RemoteDeliveryService::Connect(const std::string& address,
                                                                                     int64_t timeout_ms) {
  if (address.empty()) return absl::InvalidArgumentError("service: empty address");
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  return std::unique_ptr<RemoteDeliveryService>(
      new RemoteDeliveryService(v1::DeliveryService::NewStub(channel), timeout_ms));
}

std::vector<Result> RemoteDeliveryService::Deliver(const std::vector<Delivery>& deliveries) {
  v1::DeliverRequest request;
  for (const Delivery& delivery : deliveries) *request.add_deliveries() = delivery;
  v1::DeliverResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms_));
  const grpc::Status status = stub_->Deliver(&context, request, &response);
  std::vector<Result> results;
  results.reserve(deliveries.size());
  if (status.ok() && response.results_size() == static_cast<int>(deliveries.size())) {
    for (Result& result : *response.mutable_results()) results.push_back(std::move(result));
    return results;
  }
  // The service is unreachable or answered out of contract: every message
  // of the call is retried (the service may have sent some: the message id
  // is their idempotency key).
  const std::string why = status.ok() ? absl::StrCat("service answered ", response.results_size(), " results for ",
                                                     deliveries.size(), " messages")
                                      : absl::StrCat("delivery service: ", status.error_message());
  for (const Delivery& delivery : deliveries) {
    Result result;
    result.set_message_id(delivery.message_id());
    result.set_outcome(v1::OUTCOME_RETRY);
    result.set_provider_status(status.ok() ? "bad answer" : "rpc " + std::to_string(status.error_code()));
    result.set_reason(why);
    results.push_back(std::move(result));
  }
  return results;
}

}  // namespace herald::delivery
