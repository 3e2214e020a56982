// The Cli (calls with a deadline, error text, text or JSON output), the flags
// shared by several commands and small argument helpers.
#include "cli/cli.h"

#include <google/protobuf/util/json_util.h>

#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50051", "Herald gRPC address");
ABSL_FLAG(bool, json, false, "print JSON instead of text");
ABSL_FLAG(int, timeout_ms, 10000, "deadline of each call, in milliseconds");
ABSL_FLAG(std::string, api_key, "",
          "API key sent with every call (default: $HERALD_API_KEY, which keeps it out of the process list)");
ABSL_FLAG(std::string, to, "", "user ids, comma-separated");
ABSL_FLAG(std::string, tenant, "", "tenant id");
ABSL_FLAG(std::string, data, "", "data, a JSON object");
ABSL_FLAG(std::string, name, "", "display name");
ABSL_FLAG(std::string, properties, "", "custom properties, a JSON object");
ABSL_FLAG(int, page_size, 20, "items per page (1-100)");
ABSL_FLAG(std::string, after, "", "cursor from the previous page");
ABSL_FLAG(bool, all, false, "every item (of the user, of the selection)");
ABSL_FLAG(std::string, status, "",
          "feed list: unread, unseen, read or archived; messages list: queued, sent, delivered, ... (a message status)");
ABSL_FLAG(std::string, channel_type, "", "channel type (in_app_feed, email, sms, push, chat, webhook); explain: "
          "in_app_feed when not given");

namespace herald::cli {
namespace {

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT: return "invalid argument";
    case grpc::StatusCode::NOT_FOUND: return "not found";
    case grpc::StatusCode::FAILED_PRECONDITION: return "failed precondition";
    case grpc::StatusCode::UNAVAILABLE: return "unavailable";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "deadline exceeded";
    case grpc::StatusCode::UNAUTHENTICATED: return "unauthenticated";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "resource exhausted";
    default: return "error";
  }
}

}  // namespace

bool Cli::WatchFeed(const v1::WatchFeedRequest& request, absl::Duration duration) {
  grpc::ClientContext context;
  if (duration != absl::InfiniteDuration()) context.set_deadline(absl::ToChronoTime(absl::Now() + duration));
  if (!api_key_.empty()) context.AddMetadata("authorization", "Bearer " + api_key_);
  std::unique_ptr<grpc::ClientReader<v1::FeedEvent>> reader = stub_->WatchFeed(&context, request);
  v1::FeedEvent event;
  while (reader->Read(&event)) std::cout << JsonOf(event) << "\n" << std::flush;
  grpc::Status status = reader->Finish();
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && duration != absl::InfiniteDuration()) return true;
  if (!status.ok()) ReportError(status);
  return status.ok();
}

std::string JsonOf(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

Cli::Cli(std::shared_ptr<grpc::Channel> channel, const std::string& address, absl::Duration timeout, bool json,
         std::string api_key)
    : stub_(v1::Herald::NewStub(std::move(channel))),
      address_(address),
      timeout_(timeout),
      json_(json),
      api_key_(std::move(api_key)) {}

void Cli::ReportError(const grpc::Status& status) const {
  std::cerr << "heraldctl: " << CodeName(status.error_code()) << ": " << status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) std::cerr << " (is Herald running at " << address_ << "?)";
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED && api_key_.empty()) {
    std::cerr << " (set HERALD_API_KEY)";
  }
  std::cerr << std::endl;
}

std::string ApiKeyFromFlagOrEnvironment() {
  std::string key = absl::GetFlag(FLAGS_api_key);
  if (!key.empty()) return key;
  const char* from_environment = std::getenv("HERALD_API_KEY");
  return from_environment != nullptr ? from_environment : "";
}

std::vector<std::string> SplitList(const std::string& text) {
  return absl::StrSplit(text, ',', absl::SkipWhitespace());
}

std::optional<v1::ObjectRef> ParseObjectRef(const std::string& text) {
  size_t slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) return std::nullopt;
  v1::ObjectRef ref;
  ref.set_collection(text.substr(0, slash));
  ref.set_id(text.substr(slash + 1));
  return ref;
}

std::string FormatTime(int64_t ms) {
  if (ms == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMillis(ms), absl::LocalTimeZone());
}

}  // namespace herald::cli
