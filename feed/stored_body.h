// The body of a stored feed record (feed/feed_layout.lua): the item's
// serialized FeedItem without what the record's header and the reader
// restore.
#pragma once

#include <string>

#include "herald/v1/herald.pb.h"

namespace herald::feed {

// `item` serialized without id, workflow, tenant and inserted_at_ms (the
// record's header has them), without each block's template source
// (`content`) and without the HTML of markdown blocks (the reader renders
// it from the markdown): exactly the bytes of a copy with those fields
// cleared, serialized. Made by filtering the item's own serialization, so
// the fan-out does not copy every item it writes (the copy and its
// destruction were a tenth of Herald's CPU at 100 recipients per trigger).
std::string StoredBody(const v1::FeedItem& item);

// The same bytes the slow way: a copy with those fields cleared,
// serialized. StoredBody's fallback, and the reference its test compares
// it with.
std::string CopiedBody(const v1::FeedItem& item);

}  // namespace herald::feed
