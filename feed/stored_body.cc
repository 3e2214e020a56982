#include "feed/stored_body.h"

#include <cstdint>

#include "absl/strings/string_view.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace herald::feed {
namespace {

using google::protobuf::internal::WireFormatLite;

// Field numbers in herald/v1/herald.proto.
constexpr int kItemId = 1, kItemWorkflow = 2, kItemTenant = 3, kItemBlocks = 4, kItemInsertedAt = 9;
constexpr int kBlockContent = 3, kBlockRendered = 4;

// Calls keep(field number, the field's bytes (tag included), its payload
// when length-delimited) for each field of serialized message `wire`, in
// order. False when `wire` is not a well-formed message (or has groups).
template <typename Keep>
bool ForEachField(absl::string_view wire, Keep keep) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(wire.data()),
                                            static_cast<int>(wire.size()));
  while (true) {
    const int start = in.CurrentPosition();
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return in.CurrentPosition() == static_cast<int>(wire.size());
    absl::string_view payload;
    switch (WireFormatLite::GetTagWireType(tag)) {
      case WireFormatLite::WIRETYPE_VARINT: {
        uint64_t ignored;
        if (!in.ReadVarint64(&ignored)) return false;
        break;
      }
      case WireFormatLite::WIRETYPE_FIXED64:
        if (!in.Skip(8)) return false;
        break;
      case WireFormatLite::WIRETYPE_FIXED32:
        if (!in.Skip(4)) return false;
        break;
      case WireFormatLite::WIRETYPE_LENGTH_DELIMITED: {
        uint32_t length;
        if (!in.ReadVarint32(&length)) return false;
        const int at = in.CurrentPosition();
        if (!in.Skip(static_cast<int>(length))) return false;
        payload = wire.substr(static_cast<size_t>(at), length);
        break;
      }
      default:
        return false;
    }
    keep(WireFormatLite::GetTagFieldNumber(tag), wire.substr(static_cast<size_t>(start), in.CurrentPosition() - start),
         payload);
  }
}

void AppendVarint(uint64_t value, std::string* out) {
  uint8_t bytes[10];
  uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(value, bytes);
  out->append(reinterpret_cast<const char*>(bytes), static_cast<size_t>(end - bytes));
}

}  // namespace

std::string CopiedBody(const v1::FeedItem& item) {
  v1::FeedItem body = item;
  body.clear_id();
  body.clear_workflow();
  body.clear_tenant();
  body.clear_inserted_at_ms();
  for (v1::FeedBlock& block : *body.mutable_blocks()) {
    block.clear_content();
    if (block.type() == "markdown") block.clear_rendered();
  }
  return body.SerializeAsString();
}

std::string StoredBody(const v1::FeedItem& item) {
  const std::string wire = item.SerializeAsString();
  std::string body;
  body.reserve(wire.size());
  std::string block_body;
  int block_index = 0;
  bool ok = true;
  const bool well_formed = ForEachField(wire, [&](int field, absl::string_view bytes, absl::string_view payload) {
    if (field == kItemId || field == kItemWorkflow || field == kItemTenant || field == kItemInsertedAt) return;
    if (field != kItemBlocks) {
      body.append(bytes.data(), bytes.size());
      return;
    }
    // Serialized blocks are in order: the index finds the block's type.
    const bool markdown = block_index < item.blocks_size() && item.blocks(block_index).type() == "markdown";
    ++block_index;
    block_body.clear();
    ok &= ForEachField(payload, [&](int block_field, absl::string_view block_bytes, absl::string_view) {
      if (block_field == kBlockContent || (markdown && block_field == kBlockRendered)) return;
      block_body.append(block_bytes.data(), block_bytes.size());
    });
    body.push_back(static_cast<char>(WireFormatLite::MakeTag(kItemBlocks, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)));
    AppendVarint(block_body.size(), &body);
    body.append(block_body);
  });
  if (!well_formed || !ok || block_index != item.blocks_size()) return CopiedBody(item);
  return body;
}

}  // namespace herald::feed
