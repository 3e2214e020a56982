// heraldctl message: one message record (any channel) with its status and
// rendered content.
#include "cli/cli.h"

namespace herald::cli {
namespace {

Outcome GetMessage(Cli& cli, Args args) {
  v1::GetMessageRequest request;
  request.set_user_id(args[0]);
  request.set_message_id(args[1]);
  return cli.CallAndPrint(&v1::Herald::Stub::GetMessage, request);
}

}  // namespace

CommandGroup MessageCommands() {
  return {"Messages",
          {
              {"message", "", "USER MESSAGE_ID", "show a message sent to USER, with its status and content", {},
               GetMessage},
          }};
}

}  // namespace herald::cli
