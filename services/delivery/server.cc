#include "services/delivery/server.h"

#include "absl/strings/str_cat.h"

namespace herald::delivery {
namespace {

// A request that names no message or a message without content is the
// caller's mistake: refused whole, naming the field, so nothing is sent.
grpc::Status Validate(const v1::DeliverRequest& request) {
  for (int i = 0; i < request.deliveries_size(); ++i) {
    const Delivery& delivery = request.deliveries(i);
    if (delivery.message_id().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, absl::StrCat("deliveries[", i, "].message_id: empty"));
    }
    if (delivery.content().kind_case() == herald::v1::MessageContent::KIND_NOT_SET) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, absl::StrCat("deliveries[", i, "].content: empty"));
    }
  }
  return grpc::Status::OK;
}

}  // namespace

grpc::Status DeliveryGrpcService::Deliver(grpc::ServerContext* context, const v1::DeliverRequest* request,
                                          v1::DeliverResponse* response) {
  if (api_keys_ != nullptr) {
    absl::StatusOr<std::string> caller = api_keys_->Authenticate(*context);
    if (!caller.ok()) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(caller.status().message()));
  }
  grpc::Status valid = Validate(*request);
  if (!valid.ok()) return valid;
  std::vector<Delivery> deliveries(request->deliveries().begin(), request->deliveries().end());
  for (Result& result : service_.Deliver(deliveries)) *response->add_results() = std::move(result);
  return grpc::Status::OK;
}

}  // namespace herald::delivery
