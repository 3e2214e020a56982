// HttpClient: one easy handle per request, run by a TransferRunner.
#include "services/delivery/providers/http_client.h"

#include <algorithm>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace herald::delivery {
namespace {

// What one exchange writes into while it runs.
struct Exchange {
  CurlEasy easy;
  CurlSlist headers;
  HttpResponse response;
  size_t max_body_bytes = 0;
  char error_buffer[CURL_ERROR_SIZE] = {};
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const size_t bytes = size * count;
  std::string& body = exchange->response.body;
  if (body.size() < exchange->max_body_bytes) {
    body.append(data, std::min(bytes, exchange->max_body_bytes - body.size()));
  }
  return bytes;  // The rest is read and dropped: the connection stays usable.
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const size_t bytes = size * count;
  absl::string_view line(data, bytes);
  line = absl::StripTrailingAsciiWhitespace(line);
  if (absl::StartsWith(line, "HTTP/")) {
    // A new status line (after a 100 Continue, say): only the final
    // response's headers count.
    exchange->response.headers.clear();
    return bytes;
  }
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return bytes;
  exchange->response.headers.emplace_back(absl::AsciiStrToLower(line.substr(0, colon)),
                                          std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  return bytes;
}

long CurlHttpVersion(HttpVersion version) {
  switch (version) {
    case HttpVersion::kHttp1:
      return CURL_HTTP_VERSION_1_1;
    case HttpVersion::kHttp2Tls:
      return CURL_HTTP_VERSION_2TLS;
    case HttpVersion::kHttp2PriorKnowledge:
      return CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
  }
  return CURL_HTTP_VERSION_1_1;
}

// Prepares `exchange` for `request`. False when libcurl is out of memory.
bool Prepare(const HttpRequest& request, const HttpClientOptions& options, Exchange& exchange) {
  exchange.easy = NewCurlEasy();
  if (!exchange.easy) return false;
  exchange.max_body_bytes = options.max_body_bytes;
  CURL* easy = exchange.easy.get();
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  // Only http(s), whatever a rendered URL says (no file://, gopher://, ...).
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  // Redirects are never followed: a provider that moves answers 3xx, which
  // fails the message visibly, instead of the body and its signature or
  // credentials going to a host nobody configured.
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  if (request.method == "GET") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    if (request.method != "POST") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, CurlHttpVersion(options.version));
  if (options.version != HttpVersion::kHttp1) {
    // Wait for an HTTP/2 connection to multiplex on rather than open more.
    curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
  }
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout_ms));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.timeout_ms));
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  if (!options.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options.ca_file.c_str());
  if (options.insecure_skip_verify) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!request.basic_auth_user.empty()) {
    curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(easy, CURLOPT_USERNAME, request.basic_auth_user.c_str());
    curl_easy_setopt(easy, CURLOPT_PASSWORD, request.basic_auth_password.c_str());
  }
  for (const auto& [name, value] : request.headers) {
    if (!AppendSlist(exchange.headers, absl::StrCat(name, ": ", value).c_str())) return false;
  }
  // No "Expect: 100-continue" round trip before large bodies.
  if (!AppendSlist(exchange.headers, "Expect:")) return false;
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, exchange.headers.get());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &exchange);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, exchange.error_buffer);
  return true;
}

void Finish(CURLcode code, Exchange& exchange) {
  HttpResponse& response = exchange.response;
  CURL* easy = exchange.easy.get();
  curl_off_t total_us = 0;
  curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total_us);
  response.latency_us = total_us;
  curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &response.http_version);
  response.error = ClassifyCurlError(code);
  if (response.error == TransportError::kNone) {
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response.status);
    return;
  }
  response.error_detail = exchange.error_buffer[0] != '\0' ? exchange.error_buffer : curl_easy_strerror(code);
  response.status = 0;
  response.headers.clear();
  response.body.clear();
}

}  // namespace

std::string HttpResponse::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return "";
}

HttpClient::HttpClient(HttpClientOptions options) : options_(std::move(options)), runner_(options_.concurrency) {}

std::vector<HttpResponse> HttpClient::Perform(const std::vector<HttpRequest>& requests) {
  // Exchanges are pinned in memory: curl holds pointers into them.
  std::vector<std::unique_ptr<Exchange>> exchanges;
  std::vector<CURL*> transfers;
  std::vector<size_t> transfer_of;  // Request index -> index in `transfers`, or npos.
  exchanges.reserve(requests.size());
  for (const HttpRequest& request : requests) {
    auto exchange = std::make_unique<Exchange>();
    if (Prepare(request, options_, *exchange)) {
      transfer_of.push_back(transfers.size());
      transfers.push_back(exchange->easy.get());
    } else {
      exchange->response.error = TransportError::kOther;
      exchange->response.error_detail = "out of memory preparing the request";
      transfer_of.push_back(std::string::npos);
    }
    exchanges.push_back(std::move(exchange));
  }
  std::vector<CURLcode> codes = runner_.Run(transfers);
  std::vector<HttpResponse> responses;
  responses.reserve(requests.size());
  for (size_t i = 0; i < exchanges.size(); ++i) {
    if (transfer_of[i] != std::string::npos) Finish(codes[transfer_of[i]], *exchanges[i]);
    responses.push_back(std::move(exchanges[i]->response));
  }
  return responses;
}

}  // namespace herald::delivery
