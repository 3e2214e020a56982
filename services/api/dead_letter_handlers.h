// Dead letters: list them with their attempt history, replay them (a fresh
// round of attempts) or purge them.
#pragma once

#include "herald/v1/herald.pb.h"
#include "services/api/backend.h"

namespace herald::api {

// Thread-safe.
class DeadLetterHandlers : public HandlerGroup {
 public:
  using HandlerGroup::HandlerGroup;

  void ListDeadLetters(const v1::ListDeadLettersRequest& request, v1::ListDeadLettersResponse* response,
                       Finish finish) const;
  void ReplayDeadLetters(const v1::DeadLetterSelection& request, v1::ReplayDeadLettersResponse* response,
                         Finish finish) const;
  void PurgeDeadLetters(const v1::DeadLetterSelection& request, v1::PurgeDeadLettersResponse* response,
                        Finish finish) const;
};

}  // namespace herald::api
