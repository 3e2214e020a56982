#include "objects/fanout_job.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "objects/object_store.h"

namespace herald::objects {

std::string FanoutId(int partition, const std::string& nonce, const std::string& ref) {
  return absl::StrCat(partition, ".", DeterministicId({nonce, "object", ref}));
}

absl::StatusOr<int> PartitionOfFanout(const std::string& fanout_id, int partitions) {
  size_t dot = fanout_id.find('.');
  int partition = -1;
  if (dot == std::string::npos || dot + 33 != fanout_id.size() ||
      !absl::SimpleAtoi(absl::string_view(fanout_id).substr(0, dot), &partition) || partition < 0 ||
      partition >= partitions) {
    return absl::InvalidArgumentError("fanout_id: not an id returned by Trigger");
  }
  return partition;
}

absl::StatusOr<v1::ObjectFanout> FanoutFromReply(const std::string& fanout_id, const redis::Reply& reply) {
  if (reply.elements.empty()) return absl::NotFoundError(absl::StrCat("fanout_id: no fan-out '", fanout_id, "'"));
  v1::ObjectFanout out;
  out.set_fanout_id(fanout_id);
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    const std::string& field = reply.elements[i].str;
    const std::string& value = reply.elements[i + 1].str;
    int64_t number = std::strtoll(value.c_str(), nullptr, 10);
    if (field == "object") *out.mutable_object() = ParseRef(value);
    else if (field == "workflow") out.set_workflow(value);
    else if (field == "status") out.set_status(value);
    else if (field == "recipients") out.set_recipients(number);
    else if (field == "pages") out.set_pages(number);
    else if (field == "started_at") out.set_started_at_ms(number);
    else if (field == "finished_at") out.set_finished_at_ms(number);
  }
  return out;
}

}  // namespace herald::objects
