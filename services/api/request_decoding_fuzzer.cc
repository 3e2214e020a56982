// libFuzzer target: any bytes decoded as a TriggerRequest and as a
// TriggerBatchRequest must give OK or INVALID_ARGUMENT and never crash, and
// the error must be the precise one: when protobuf refused a string for its
// UTF-8, the message names that field's path (FindInvalidUtf8), never the
// generic "not a valid ... message"; a decoded request re-encodes and
// decodes again. The same bytes as a ListMessages cursor (its `after`, per
// partition "<ms>-<seq>[:<item>]") and a decoded ListMessagesRequest must
// be accepted or refused naming the field, and an accepted cursor encodes
// back to the same positions. Built for libFuzzer by scripts/fuzz (clang); in the normal
// build the same entry point replays testdata/decoding_corpus as a test.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/logging.h"
#include "herald/v1/herald.pb.h"
#include "messages/message_list.h"
#include "services/api/request_decoding.h"

namespace {

// The last field protobuf refused for invalid UTF-8 while parsing, from its
// log line "String field 'herald.v1.Recipient.id' contains invalid UTF-8 data ...".
std::string& RefusedUtf8Field() {
  static std::string* field = new std::string();
  return *field;
}

void CaptureLog(google::protobuf::LogLevel, const char*, int, const std::string& message) {
  static constexpr absl::string_view kPrefix = "String field '";
  if (!absl::StartsWith(message, kPrefix) || !absl::StrContains(message, "invalid UTF-8")) return;
  size_t end = message.find('\'', kPrefix.size());
  if (end != std::string::npos) RefusedUtf8Field() = message.substr(kPrefix.size(), end - kPrefix.size());
}

void Check(bool holds) {
  if (!holds) std::abort();
}

// "triggers[1].recipients[0].id" -> "id"
absl::string_view LastName(absl::string_view path) {
  size_t dot = path.rfind('.');
  absl::string_view last = dot == absl::string_view::npos ? path : path.substr(dot + 1);
  size_t bracket = last.find('[');
  return bracket == absl::string_view::npos ? last : last.substr(0, bracket);
}

template <typename Message>
void CheckDecode(absl::string_view bytes) {
  Message message;
  RefusedUtf8Field().clear();
  absl::Status status = herald::api::DecodeRequest(bytes, &message);
  const std::string refused = RefusedUtf8Field();
  std::optional<std::string> invalid = herald::api::FindInvalidUtf8(*Message::descriptor(), bytes);
  if (status.ok()) {
    // Protobuf accepted every string: the walker must not call one invalid.
    Check(!invalid.has_value() || invalid->empty());
    std::string again = message.SerializeAsString();
    Message round_trip;
    Check(herald::api::DecodeRequest(absl::string_view(again), &round_trip).ok());
    Check(round_trip.SerializeAsString() == again);
    Check(herald::api::FindInvalidUtf8(*Message::descriptor(), again) == std::optional<std::string>(""));
    return;
  }
  Check(status.code() == absl::StatusCode::kInvalidArgument);
  Check(message.ByteSizeLong() == 0);  // nothing half-decoded left behind
  if (invalid.has_value() && !invalid->empty()) {
    Check(status.message() == absl::StrCat(*invalid, ": is not valid UTF-8"));
  } else {
    Check(status.message() == absl::StrCat("request: not a valid ", Message::descriptor()->full_name(), " message"));
  }
  if (!refused.empty() && invalid.has_value()) {
    // Protobuf stopped at a string with invalid UTF-8 in well-formed wire
    // format: the error names that string. (Protobuf also checks a string
    // that runs past its enclosing message before noticing the overrun;
    // the walker rightly calls such input malformed.)
    Check(!invalid->empty());
    Check(absl::EndsWith(refused, absl::StrCat(".", LastName(*invalid))));
  }
}

void CheckListMessages(absl::string_view bytes) {
  constexpr int kPartitions = 4;
  auto positions = herald::messages::DecodeListCursor(std::string(bytes), kPartitions);
  if (positions.ok()) {
    Check(positions->size() == static_cast<size_t>(kPartitions));
    auto again = herald::messages::DecodeListCursor(herald::messages::EncodeListCursor(*positions), kPartitions);
    Check(again.ok() && *again == *positions);
  } else {
    Check(positions.status().code() == absl::StatusCode::kInvalidArgument);
    Check(absl::StrContains(positions.status().message(), "after"));
  }
  herald::v1::ListMessagesRequest request;
  if (!herald::api::DecodeRequest(bytes, &request).ok()) return;
  auto query = herald::messages::ParseListRequest(request, kPartitions);
  if (!query.ok()) {
    Check(query.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  Check(herald::messages::ListCommands(*query).size() <= static_cast<size_t>(kPartitions));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool kInstalled = (google::protobuf::SetLogHandler(&CaptureLog), true);
  (void)kInstalled;
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  CheckDecode<herald::v1::TriggerRequest>(bytes);
  CheckDecode<herald::v1::TriggerBatchRequest>(bytes);
  CheckListMessages(bytes);
  return 0;
}
