#include "services/api/request_decoding.h"

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/utf8.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace herald::api {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

// Protobuf's own recursion limit for parsing.
constexpr int kMaxDepth = 100;

enum class Walk { kClean, kFound, kMalformed };

Walk WalkMessage(const Descriptor& type, CodedInputStream& in, const std::string& prefix, int depth,
                 std::string* found) {
  if (depth > kMaxDepth) return Walk::kMalformed;
  std::map<int, int> occurrences;  // field number -> elements seen, for "[i]"
  while (uint32_t tag = in.ReadTag()) {
    const FieldDescriptor* field = type.FindFieldByNumber(WireFormatLite::GetTagFieldNumber(tag));
    const bool delimited = WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    const bool checked = field != nullptr && delimited &&
                         (field->type() == FieldDescriptor::TYPE_STRING || field->type() == FieldDescriptor::TYPE_MESSAGE);
    if (!checked) {
      if (!WireFormatLite::SkipField(&in, tag)) return Walk::kMalformed;
      continue;
    }
    std::string path = absl::StrCat(prefix, field->name());
    if (field->is_repeated()) absl::StrAppend(&path, "[", occurrences[field->number()]++, "]");
    uint32_t length = 0;
    if (!in.ReadVarint32(&length)) return Walk::kMalformed;
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      std::string value;
      if (!in.ReadString(&value, static_cast<int>(length))) return Walk::kMalformed;
      if (!IsValidUtf8(value)) {
        *found = std::move(path);
        return Walk::kFound;
      }
      continue;
    }
    // PushLimit would silently clamp a length past the parent's end.
    if (in.BytesUntilLimit() >= 0 && length > static_cast<uint32_t>(in.BytesUntilLimit())) return Walk::kMalformed;
    CodedInputStream::Limit limit = in.PushLimit(static_cast<int>(length));
    Walk nested = WalkMessage(*field->message_type(), in, path + ".", depth + 1, found);
    if (nested != Walk::kClean) return nested;
    in.PopLimit(limit);
  }
  // ReadTag answers 0 both at the end of the input (or of a nested
  // message's limit) and on a malformed tag; only the first is clean.
  return in.ConsumedEntireMessage() ? Walk::kClean : Walk::kMalformed;
}

}  // namespace

std::optional<std::string> FindInvalidUtf8(const Descriptor& type, absl::string_view bytes) {
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size()));
  std::string found;
  switch (WalkMessage(type, in, "", 0, &found)) {
    case Walk::kClean:
      return std::string();
    case Walk::kFound:
      return found;
    case Walk::kMalformed:
      break;
  }
  return std::nullopt;
}

absl::Status DecodeRequest(absl::string_view bytes, google::protobuf::Message* message) {
  if (message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return absl::OkStatus();
  message->Clear();
  std::optional<std::string> invalid = FindInvalidUtf8(*message->GetDescriptor(), bytes);
  if (invalid.has_value() && !invalid->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(*invalid, ": is not valid UTF-8"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("request: not a valid ", message->GetDescriptor()->full_name(), " message"));
}

absl::Status DecodeRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message* message) {
  grpc::Slice slice;
  if (!buffer.TrySingleSlice(&slice).ok() && !buffer.DumpToSingleSlice(&slice).ok()) {
    return absl::InvalidArgumentError("request: cannot be read");
  }
  return DecodeRequest(absl::string_view(reinterpret_cast<const char*>(slice.begin()), slice.size()), message);
}

}  // namespace herald::api
