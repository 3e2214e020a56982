#include "services/delivery/remote.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"

namespace herald::delivery {

absl::StatusOr<std::unique_ptr<RemoteDeliveryService>> RemoteDeliveryService::Connect(
    const std::string& address, int64_t timeout_ms, int concurrency,
    std::shared_ptr<grpc::ChannelCredentials> credentials, std::string api_key) {
  if (address.empty()) return absl::InvalidArgumentError("service: empty address");
  grpc::ChannelArguments arguments;
  arguments.SetMaxSendMessageSize(kMaxDeliveryCallBytes);
  arguments.SetMaxReceiveMessageSize(kMaxDeliveryCallBytes);
  if (credentials == nullptr) credentials = grpc::InsecureChannelCredentials();
  auto channel = grpc::CreateCustomChannel(address, std::move(credentials), arguments);
  return std::unique_ptr<RemoteDeliveryService>(
      new RemoteDeliveryService(v1::DeliveryService::NewStub(channel), timeout_ms, std::max(1, concurrency),
                                std::move(api_key)));
}

std::vector<Result> RemoteDeliveryService::Deliver(const std::vector<Delivery>& deliveries) {
  v1::DeliverRequest request;
  for (const Delivery& delivery : deliveries) *request.add_deliveries() = delivery;
  v1::DeliverResponse response;
  grpc::ClientContext context;
  if (!api_key_.empty()) context.AddMetadata("authorization", "Bearer " + api_key_);
  const int64_t rounds = (static_cast<int64_t>(deliveries.size()) + concurrency_ - 1) / concurrency_;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(std::max<int64_t>(1, rounds) * timeout_ms_ + 5000));
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
