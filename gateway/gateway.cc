#include "gateway/gateway.h"

#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/ids.h"
#include "core/keys.h"
#include "core/log.h"
#include "feed/feed_store.h"
#include "gateway/gateway_metrics.h"
#include "gateway/http_api.h"
#include "gateway/user_rate_limiter.h"
#include "preferences/preference_store.h"
#include "redis/reply.h"

namespace herald::gateway {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, const std::string& flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The API over the stores: authenticates, limits, validates (http_api.h)
// and runs each request as one Redis round trip on the async pipeline, so
// no server thread waits on Redis. Thread-safe.
class GatewayApi {
 public:
  GatewayApi(const GatewayOptions& options, std::unique_ptr<TokenVerifier> verifier, CorsPolicy cors,
             redis::AsyncPipeline& redis, const workflow::Registry& workflows, feed::FeedWatcher* watcher,
             const Clock& clock, prometheus::Registry& registry)
      : metrics_(registry),
        keys_(options.publishable_keys.begin(), options.publishable_keys.end()),
        verifier_(std::move(verifier)),
        cors_(std::move(cors)),
        partitions_(options.partitions),
        feed_changes_max_len_(options.feed_changes_max_len),
        redis_(redis),
        workflows_(workflows),
        watcher_(watcher),
        clock_(clock),
        user_rate_(options.user_rate),
        limiter_(clock, options.user_rate) {}

  void Handle(HttpRequest request, std::shared_ptr<Exchange> exchange) const {
    const std::string& origin = request.Header("origin");
    if (request.method == "OPTIONS") {
      HttpResponse preflight;
      preflight.status = 204;
      preflight.headers = CorsHeaders(cors_, origin, /*preflight=*/true);
      metrics_.ok.Increment();
      return exchange->Respond(std::move(preflight));
    }
    Answer answer{exchange, CorsHeaders(cors_, origin, /*preflight=*/false), &metrics_};
    auto route = ParseRoute(request.method, request.target);
    if (!route.ok()) return answer.Error(route.status());
    if (route->endpoint == Endpoint::kHealth) return answer.Json(200, R"({"status":"serving"})");
    const bool stream = route->endpoint == Endpoint::kStream;
    // EventSource cannot send headers: the stream also takes them as
    // query parameters.
    const std::string& key = request.Header("x-herald-key").empty() && stream ? route->Param("key")
                                                                               : request.Header("x-herald-key");
    if (key.empty()) return answer.Error(absl::UnauthenticatedError("X-Herald-Key: missing publishable key"));
    if (!keys_.contains(key)) return answer.Error(absl::UnauthenticatedError("X-Herald-Key: unknown publishable key"));
    std::string token;
    const std::string& authorization = request.Header("authorization");
    if (!authorization.empty()) {
      absl::string_view value = authorization;
      if (value.size() < 7 || !absl::EqualsIgnoreCase(value.substr(0, 7), "Bearer ")) {
        return answer.Error(absl::UnauthenticatedError("Authorization: must be `Bearer <token>`"));
      }
      token = std::string(absl::StripAsciiWhitespace(value.substr(7)));
    } else if (stream) {
      token = route->Param("token");
    }
    if (token.empty()) return answer.Error(absl::UnauthenticatedError("Authorization: missing bearer token"));
    auto claims = verifier_->Verify(token, clock_.NowMicros() / 1'000'000);
    if (!claims.ok()) {
      return answer.Error(absl::UnauthenticatedError(absl::StrCat("Authorization: ", claims.status().message())));
    }
    const Caller caller{claims->user_id, claims->tenant};
    if (const int64_t wait_ms = limiter_.Take(caller.user_id); wait_ms > 0) {
      answer.headers.emplace_back("Retry-After", std::to_string((wait_ms + 999) / 1000));
      return answer.Error(absl::ResourceExhaustedError(
          absl::StrCat("rate limit: at most ", user_rate_, " requests per second per user")));
    }
    switch (route->endpoint) {
      case Endpoint::kListItems:
        return List(*route, caller, std::move(answer));
      case Endpoint::kCounts:
        return Counts(*route, caller, std::move(answer));
      case Endpoint::kMark:
      case Endpoint::kMarkAll:
        return Mark(*route, request.body, caller, std::move(answer));
      case Endpoint::kStream:
        return Stream(*route, request.Header("last-event-id"), caller, std::move(answer));
      case Endpoint::kGetPreferences:
        return GetPreferences(*route, caller, std::move(answer));
      case Endpoint::kPutPreferences:
        return PutPreferences(*route, request.body, caller, std::move(answer));
      case Endpoint::kPreferenceOptions:
        return answer.Json(200, PreferenceOptionsJson(workflows_));
      case Endpoint::kHealth:
        break;
    }
    answer.Error(absl::InternalError("unrouted endpoint"));
  }

 private:
  // One request's answer with its CORS headers.
  struct Answer {
    std::shared_ptr<Exchange> exchange;
    std::vector<std::pair<std::string, std::string>> headers;
    GatewayMetrics* metrics;

    void Json(int status, std::string body) {
      metrics->ForStatus(status).Increment();
      HttpResponse response;
      response.status = status;
      response.body = std::move(body);
      response.headers = std::move(headers);
      exchange->Respond(std::move(response));
    }
    void Error(const absl::Status& status) {
      ApiError error = ErrorFromStatus(status);
      if (error.http_status == 500) log::Error("gateway", "request failed", {{"error", status}});
      Json(error.http_status, ErrorJson(error));
    }
  };

  Keys KeysOf(const std::string& user) const { return Keys(PartitionOf(user, partitions_)); }

  // Runs `command` and answers with `render(reply)` (a StatusOr<string>).
  template <typename Render>
  void RunOne(redis::Command command, Answer answer, Render render) const {
    redis_.Submit({std::move(command)},
                  [answer = std::move(answer), render = std::move(render)](redis::AsyncPipeline::Results results) mutable {
                    absl::Status failed = redis::FirstError(results);
                    if (!failed.ok()) return answer.Error(failed);
                    absl::StatusOr<std::string> body = render(*results[0]);
                    if (!body.ok()) return answer.Error(body.status());
                    answer.Json(200, std::move(*body));
                  });
  }

  void List(const Route& route, const Caller& caller, Answer answer) const {
    RunList(ListRequest(route, caller), caller, std::move(answer),
            [](const v1::ListFeedResponse& page) { return ListJson(page); });
  }

  // The counts are the list script's metadata (a one-item page).
  void Counts(const Route& route, const Caller& caller, Answer answer) const {
    RunList(CountsRequest(route, caller), caller, std::move(answer),
            [](const v1::ListFeedResponse& page) { return CountsJson(page.metadata()); });
  }

  // Runs the feed's list script for a validated request and answers with
  // `render` of its page.
  template <typename Render>
  void RunList(absl::StatusOr<v1::ListFeedRequest> request, const Caller& caller, Answer answer,
               Render render) const {
    if (!request.ok()) return answer.Error(request.status());
    auto command = feed::ListCommand(KeysOf(caller.user_id), *request);
    if (!command.ok()) return answer.Error(command.status());
    RunOne(std::move(*command), std::move(answer),
           [request = *std::move(request), render](const redis::Reply& reply) -> absl::StatusOr<std::string> {
             auto parsed = feed::ParseListReply(request, reply);
             if (!parsed.ok()) return parsed.status();
             return render(*parsed);
           });
  }

  void Mark(const Route& route, const std::string& body, const Caller& caller, Answer answer) const {
    auto request = MarkRequest(route, body, caller);
    if (!request.ok()) return answer.Error(request.status());
    auto command = feed::MarkCommand(KeysOf(caller.user_id), *request, clock_.NowMicros() / 1000,
                                     feed_changes_max_len_);
    if (!command.ok()) return answer.Error(command.status());
    RunOne(std::move(*command), std::move(answer), [](const redis::Reply& reply) -> absl::StatusOr<std::string> {
      auto parsed = feed::ParseMarkReply(reply);
      if (!parsed.ok()) return parsed.status();
      return MarkJson(*parsed);
    });
  }

  void GetPreferences(const Route& route, const Caller& caller, Answer answer) const {
    auto tenant = PreferencesTenant(route, caller);
    if (!tenant.ok()) return answer.Error(tenant.status());
    preferences::Scope scope{caller.user_id, *tenant};
    RunOne(preferences::GetCommand(scope, partitions_), std::move(answer),
           [](const redis::Reply& reply) -> absl::StatusOr<std::string> {
             return PreferencesJson(preferences::StoredJson(reply));
           });
  }

  void PutPreferences(const Route& route, const std::string& body, const Caller& caller, Answer answer) const {
    auto write = PreferencesPut(route, body, caller);
    if (!write.ok()) return answer.Error(write.status());
    preferences::Scope scope{caller.user_id, write->tenant};
    auto stored = preferences::SetCommand(scope, write->preferences_json, partitions_);
    if (!stored.ok()) {
      // The store names the gRPC field (preferences_json…); here it is
      // the body's `preferences`.
      std::string message(stored.status().message());
      if (absl::StartsWith(message, "preferences_json")) message.replace(0, 16, "preferences");
      return answer.Error(absl::Status(stored.status().code(), message));
    }
    RunOne(std::move(stored->command), std::move(answer),
           [json = std::move(stored->stored_json)](const redis::Reply&) -> absl::StatusOr<std::string> {
             return PreferencesJson(json);
           });
  }

  void Stream(const Route& route, const std::string& last_event_id, const Caller& caller, Answer answer) const {
    if (watcher_ == nullptr) {
      return answer.Error(absl::UnavailableError("stream: this gateway has no realtime feed source"));
    }
    auto request = StreamRequest(route, last_event_id, caller);
    if (!request.ok()) return answer.Error(request.status());
    std::shared_ptr<EventStream> stream = answer.exchange->OpenStream();
    // Weak: the connection holds the subscription, not the reverse.
    std::weak_ptr<EventStream> weak = stream;
    feed::WatchTarget target{request->user_id(), request->feed(), request->tenant()};
    auto subscription = watcher_->Watch(target, request->after(), [weak](const v1::FeedEvent& event) {
      std::shared_ptr<EventStream> open = weak.lock();
      return open != nullptr && open->Send(SseEvent(event));
    });
    if (!subscription.ok() && subscription.status().code() == absl::StatusCode::kOutOfRange) {
      // Too old to resume: the client lists the feed again and reconnects
      // without a cursor.
      metrics_.streams_reset.Increment();
      stream->Send(kSseReset);
      stream->Start(std::move(answer.headers));
      stream->Close();
      return;
    }
    if (!subscription.ok()) return answer.Error(subscription.status());
    metrics_.streams_started.Increment();
    stream->Hold(std::shared_ptr<feed::WatchSubscription>(std::move(*subscription)));
    stream->Start(std::move(answer.headers));
  }

  // Its counters are thread-safe.
  mutable GatewayMetrics metrics_;
  // Constant after construction.
  const absl::flat_hash_set<std::string> keys_;
  const std::unique_ptr<TokenVerifier> verifier_;
  const CorsPolicy cors_;
  const int partitions_;
  const int64_t feed_changes_max_len_;
  redis::AsyncPipeline& redis_;
  const workflow::Registry& workflows_;
  feed::FeedWatcher* const watcher_;
  const Clock& clock_;
  const double user_rate_;
  mutable UserRateLimiter limiter_;
};

class GatewayImpl final : public Gateway {
 public:
  explicit GatewayImpl(std::unique_ptr<GatewayApi> api) : api_(std::move(api)) {}
  ~GatewayImpl() override { Stop(absl::Now()); }

  absl::Status Listen(const HttpServerOptions& options) {
    auto server = HttpServer::Start(
        options,
        [api = api_.get()](HttpRequest request, std::shared_ptr<Exchange> exchange) {
          api->Handle(std::move(request), std::move(exchange));
        },
        "--gateway_address");
    if (!server.ok()) return server.status();
    server_ = std::move(*server);
    return absl::OkStatus();
  }

  int port() const override { return server_->port(); }
  int connections() const override { return server_->connections(); }
  void Stop(absl::Time deadline) override {
    if (server_) server_->Stop(deadline);
  }

 private:
  const std::unique_ptr<GatewayApi> api_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace

absl::Status ApplyGatewayFlags(const GatewayFlags& flags, GatewayOptions* options) {
  std::vector<std::string> keys = absl::StrSplit(flags.publishable_keys, ',', absl::SkipWhitespace());
  if (!flags.publishable_keys_file.empty()) {
    auto text = ReadFile(flags.publishable_keys_file, "--gateway_publishable_keys_file");
    if (!text.ok()) return text.status();
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
      if (!line.empty()) keys.emplace_back(line);
    }
  }
  for (std::string& key : keys) key = std::string(absl::StripAsciiWhitespace(key));
  if (keys.empty()) {
    return absl::InvalidArgumentError(
        "--gateway_publishable_keys: the gateway needs at least one publishable key (or "
        "--gateway_publishable_keys_file)");
  }
  options->publishable_keys = std::move(keys);
  const bool hs256 = !flags.jwt_hs256_secret.empty() || !flags.jwt_hs256_secret_file.empty();
  const bool rs256 = !flags.jwt_rs256_public_key_file.empty();
  if (hs256 == rs256) {
    return absl::InvalidArgumentError(
        "--gateway_jwt_hs256_secret: set exactly one of --gateway_jwt_hs256_secret, "
        "--gateway_jwt_hs256_secret_file and --gateway_jwt_rs256_public_key_file");
  }
  if (!flags.jwt_hs256_secret.empty() && !flags.jwt_hs256_secret_file.empty()) {
    return absl::InvalidArgumentError(
        "--gateway_jwt_hs256_secret_file: set either it or --gateway_jwt_hs256_secret, not both");
  }
  if (rs256) {
    auto key = ReadFile(flags.jwt_rs256_public_key_file, "--gateway_jwt_rs256_public_key_file");
    if (!key.ok()) return key.status();
    options->token.algorithm = TokenAlgorithm::kRs256;
    options->token.key = std::move(*key);
  } else if (!flags.jwt_hs256_secret_file.empty()) {
    auto secret = ReadFile(flags.jwt_hs256_secret_file, "--gateway_jwt_hs256_secret_file");
    if (!secret.ok()) return secret.status();
    // A trailing newline from `echo` is not part of the secret.
    options->token.algorithm = TokenAlgorithm::kHs256;
    options->token.key = std::string(absl::StripTrailingAsciiWhitespace(*secret));
  } else {
    options->token.algorithm = TokenAlgorithm::kHs256;
    options->token.key = flags.jwt_hs256_secret;
  }
  options->token.audience = flags.jwt_audience;
  options->token.issuer = flags.jwt_issuer;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(const GatewayOptions& options, redis::AsyncPipeline& redis,
                                                        const workflow::Registry& workflows,
                                                        feed::FeedWatcher* watcher, const Clock& clock,
                                                        prometheus::Registry& metrics) {
  if (options.publishable_keys.empty()) {
    return absl::InvalidArgumentError("--gateway_publishable_keys: the gateway needs at least one publishable key");
  }
  if (!(options.user_rate >= 0)) return absl::InvalidArgumentError("--gateway_user_rate: must be >= 0 (0 = no limit)");
  auto verifier = TokenVerifier::Create(options.token);
  if (!verifier.ok()) return verifier.status();
  auto cors = CorsPolicy::Parse(options.cors_origins);
  if (!cors.ok()) return cors.status();
  auto api = std::make_unique<GatewayApi>(options, std::move(*verifier), std::move(*cors), redis, workflows, watcher,
                                          clock, metrics);
  auto gateway = std::make_unique<GatewayImpl>(std::move(api));
  absl::Status listening = gateway->Listen(options.http);
  if (!listening.ok()) return listening;
  return std::unique_ptr<Gateway>(std::move(gateway));
}

}  // namespace herald::gateway
