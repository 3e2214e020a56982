#include "services/api/backend.h"

namespace herald::api {

void Backend::Run(std::vector<redis::Command> commands, Apply apply, Finish finish) const {
  redis_.Submit(std::move(commands),
                [apply = std::move(apply), finish = std::move(finish)](Results results) mutable {
                  absl::Status failed = redis::FirstError(results);
                  if (!failed.ok()) return std::move(finish)(failed);
                  std::move(finish)(std::move(apply)(results));
                });
}

void Backend::RunAdmin(AdminOperation operation, Finish finish) const {
  admin_.Run([operation = std::move(operation), finish = std::move(finish)](redis::RedisClient* client) mutable {
    if (client == nullptr) return std::move(finish)(absl::UnavailableError("redis: cannot connect"));
    std::move(finish)(std::move(operation)(*client));
  });
}

}  // namespace herald::api
