// HTTP header names as workflows and the webhook provider see them: one
// definition, so a workflow that would send a header the provider refuses
// is refused when it is loaded.
#pragma once

#include <string>

namespace herald {

// An RFC 9110 token: letters, digits and !#$%&'*+-.^_`|~.
bool IsHeaderName(const std::string& name);
// A value without CR, LF or NUL (no header injection).
bool IsHeaderValue(const std::string& value);
// Headers a webhook's own headers may not set: HTTP framing, and every
// X-Herald-* and Idempotency-Key header (Herald's signature and ids).
bool IsReservedWebhookHeader(const std::string& name);

}  // namespace herald
