// Content shaped for email, SMS, push, chat and webhooks: what the recipient must
// have for the channel to reach them, and the rendered message the
// delivery service will send.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "herald/v1/herald.pb.h"
#include "nlohmann/json.hpp"
#include "templates/template.h"
#include "workflow/workflow.h"

namespace herald::fanout {

// "" when the recipient is reachable on this channel; otherwise what is
// missing, e.g. "recipient.email" or "channel_data.apns.tokens".
std::string MissingChannelData(const workflow::ChannelStep& channel, const nlohmann::json& recipient,
                               const nlohmann::json* channel_data);

// Renders every template of the step into the channel's content shape
// (email subject/html/text/from/reply_to, sms text, push title/body/data,
// chat text/blocks, webhook url/body/headers). A webhook without a `body`
// gets Herald's: {id: message_id, workflow, recipient, tenant, data,
// actors, total_activities}. The first template error is returned as
// INVALID_ARGUMENT naming the field.
absl::StatusOr<v1::MessageContent> RenderContent(const workflow::ChannelStep& channel,
                                                 const templates::Context& context,
                                                 const templates::RenderOptions& options,
                                                 const nlohmann::json& recipient,
                                                 const nlohmann::json* channel_data,
                                                 const std::string& message_id);

}  // namespace herald::fanout
