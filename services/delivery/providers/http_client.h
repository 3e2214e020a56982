// A small HTTP client over libcurl for the provider adapters: a group of
// requests runs concurrently (TransferRunner), each with the channel's
// timeout; responses keep status, headers, the start of the body and the
// latency. Redirects are never followed (see PROVIDERS.md).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "services/delivery/providers/transfer_runner.h"

namespace herald::delivery {

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  // "Name: value" pairs, sent as given.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // HTTP basic authentication when `basic_auth_user` is not empty.
  std::string basic_auth_user;
  std::string basic_auth_password;
  // Credentials carried by this request only (a connection's token, a
  // secret webhook URL): the provider scrubs them from its result.
  std::vector<std::string> secrets;
};

struct HttpResponse {
  TransportError error = TransportError::kNone;
  // curl's description when error != kNone (no credentials: it names the
  // host and port at most).
  std::string error_detail;
  long status = 0;
  // Header names lower-cased; the final response's headers only.
  std::vector<std::pair<std::string, std::string>> headers;
  // The start of the body (HttpClientOptions::max_body_bytes).
  std::string body;
  int64_t latency_us = 0;
  // CURL_HTTP_VERSION_1_1, CURL_HTTP_VERSION_2_0, ... (0 without a response).
  long http_version = 0;

  // The first header named `name` (lower case), or "".
  std::string Header(absl::string_view name) const;
};

enum class HttpVersion {
  kHttp1,                // HTTP/1.1 (keep-alive).
  kHttp2Tls,             // HTTP/2 negotiated by TLS ALPN (APNs).
  kHttp2PriorKnowledge,  // HTTP/2 without TLS or upgrade (h2c): test servers.
};

struct HttpClientOptions {
  int concurrency = 32;
  int64_t timeout_ms = 10'000;
  HttpVersion version = HttpVersion::kHttp1;
  // A CA bundle to trust instead of the system's ("" = system).
  std::string ca_file;
  // Development only: no certificate or host name verification.
  bool insecure_skip_verify = false;
  // Bytes of each response body kept: enough for adapters to read JSON
  // answers, bounded so that a huge answer costs no memory.
  size_t max_body_bytes = 64 * 1024;
};

// Thread-safe.
class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options);
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends every request concurrently (at most options.concurrency in flight
  // in this process) and returns one response per request, in order. Never
  // fails as a whole: a failed exchange is a response with `error` set.
  std::vector<HttpResponse> Perform(const std::vector<HttpRequest>& requests);

 private:
  const HttpClientOptions options_;
  TransferRunner runner_;
};

}  // namespace herald::delivery
