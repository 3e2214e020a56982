#include "fanout/channel_content.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "templates/markdown.h"

namespace herald::fanout {
namespace {

using nlohmann::json;

std::string StringField(const json& object, const char* name) {
  auto found = object.find(name);
  return found != object.end() && found->is_string() ? found->get<std::string>() : "";
}

bool HasList(const json* data, const char* name) {
  if (data == nullptr) return false;
  auto found = data->find(name);
  return found != data->end() && found->is_array() && !found->empty();
}

// The webhook body when the step gives none: the run as Herald sees it.
json DefaultWebhookBody(const templates::Context& context, const std::string& message_id) {
  auto value = [&](const char* path) {
    const json* found = context.Lookup(templates::ParsePath(path));
    return found != nullptr ? *found : json(nullptr);
  };
  return json{{"id", message_id},
              {"workflow", value("workflow.key")},
              {"recipient", value("recipient")},
              {"tenant", value("tenant.id")},
              {"data", value("data")},
              {"actors", value("actors")},
              {"total_activities", value("total_activities")}};
}

}  // namespace

std::string MissingChannelData(const workflow::ChannelStep& channel, const json& recipient,
                               const json* channel_data) {
  const std::string& type = channel.channel_type;
  if (type == "email" && StringField(recipient, "email").empty()) return "recipient.email";
  if (type == "sms" && StringField(recipient, "phone_number").empty()) return "recipient.phone_number";
  if (type == "push" && !HasList(channel_data, "tokens")) return absl::StrCat("channel_data.", channel.channel, ".tokens");
  if (type == "chat" && !HasList(channel_data, "connections")) {
    return absl::StrCat("channel_data.", channel.channel, ".connections");
  }
  return "";
}

absl::StatusOr<v1::MessageContent> RenderContent(const workflow::ChannelStep& channel,
                                                 const templates::Context& context,
                                                 const templates::RenderOptions& options, const json& recipient,
                                                 const json* channel_data, const std::string& message_id) {
  v1::MessageContent content;
  const std::string& type = channel.channel_type;
  std::string markdown_body;  // email written in markdown: the text part when none is given
  for (const workflow::BlockTemplate& block : channel.blocks) {
    std::string rendered;
    absl::Status status = block.content.RenderTo(context, &rendered, options);
    if (!status.ok()) return absl::InvalidArgumentError(absl::StrCat("template.", block.name, ": ", status.message()));
    if (block.type == "markdown") {
      markdown_body = rendered;
      rendered = templates::MarkdownToHtml(rendered);
    }
    if (block.type == "json" && !rendered.empty()) {
      // A webhook body is an object; chat blocks are an array.
      const bool object = type == "webhook";
      json parsed = json::parse(rendered, nullptr, false);
      if (object ? !parsed.is_object() : !parsed.is_array()) {
        return absl::InvalidArgumentError(absl::StrCat("template.", block.name, ": did not render to a JSON ",
                                                       object ? "object" : "array"));
      }
      rendered = parsed.dump();
    }
    if (type == "email") {
      v1::EmailContent* email = content.mutable_email();
      if (block.name == "subject") email->set_subject(std::move(rendered));
      else if (block.name == "html") email->set_html(std::move(rendered));
      else if (block.name == "text") email->set_text(std::move(rendered));
      else if (block.name == "from") email->set_from(std::move(rendered));
      else if (block.name == "reply_to") email->set_reply_to(std::move(rendered));
    } else if (type == "webhook") {
      v1::WebhookContent* webhook = content.mutable_webhook();
      if (block.name == "url") webhook->set_url(std::move(rendered));
      else if (block.name == "body") webhook->set_body_json(std::move(rendered));
      else if (absl::StartsWith(block.name, "headers.")) (*webhook->mutable_headers())[block.name.substr(8)] = std::move(rendered);
    } else if (type == "sms") {
      content.mutable_sms()->set_text(std::move(rendered));
    } else if (type == "push") {
      v1::PushContent* push = content.mutable_push();
      if (block.name == "title") push->set_title(std::move(rendered));
      else if (block.name == "body") push->set_body(std::move(rendered));
      else if (absl::StartsWith(block.name, "data.")) (*push->mutable_data())[block.name.substr(5)] = std::move(rendered);
    } else if (type == "chat") {
      v1::ChatContent* chat = content.mutable_chat();
      if (block.name == "text") chat->set_text(std::move(rendered));
      else if (block.name == "blocks") chat->set_blocks_json(std::move(rendered));
    }
  }
  if (type == "email") {
    content.mutable_email()->set_to(StringField(recipient, "email"));
    if (content.email().text().empty()) content.mutable_email()->set_text(markdown_body);
  }
  if (type == "webhook" && content.webhook().body_json().empty()) {
    content.mutable_webhook()->set_body_json(DefaultWebhookBody(context, message_id).dump());
  }
  if (type == "sms") content.mutable_sms()->set_to(StringField(recipient, "phone_number"));
  if (type == "push" && channel_data != nullptr) {
    for (const json& token : channel_data->value("tokens", json::array())) {
      if (token.is_string()) content.mutable_push()->add_tokens(token.get<std::string>());
    }
  }
  if (type == "chat" && channel_data != nullptr) content.mutable_chat()->set_channel_data_json(channel_data->dump());
  return content;
}

}  // namespace herald::fanout
