// Turning the bytes of a request into its message, with an error a caller
// can act on. The generated gRPC code answers a request it cannot parse
// with UNIMPLEMENTED and no message (for example a string field holding
// invalid UTF-8); Herald's handlers take the raw bytes and decode them here
// so such a request is INVALID_ARGUMENT naming the field.
#pragma once

#include <optional>
#include <string>

#include <grpcpp/support/byte_buffer.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace herald::api {

// Parses `bytes` into `message`. INVALID_ARGUMENT naming the field
// ("recipients[2].id: is not valid UTF-8") when a string is not UTF-8, or
// saying the request is not a valid message of its type.
absl::Status DecodeRequest(absl::string_view bytes, google::protobuf::Message* message);
absl::Status DecodeRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message* message);

// Walks the wire format of a `type` message and returns the path of the
// first string field whose bytes are not UTF-8 ("triggers[0].recipients[2].id";
// map entries read "labels[3].value"), "" when every string is valid, or
// nullopt when `bytes` is not well-formed wire format. Nesting is bounded.
std::optional<std::string> FindInvalidUtf8(const google::protobuf::Descriptor& type, absl::string_view bytes);

}  // namespace herald::api
