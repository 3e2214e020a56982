// RAII owners for libcurl handles, and the one process-wide curl_global_init.
#pragma once

#include <curl/curl.h>

#include <memory>

namespace herald::delivery {

// Initialises libcurl once per process (curl_global_init is not
// thread-safe); every code path that creates a handle calls it first.
void EnsureCurlInitialized();

struct CurlEasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
struct CurlMultiDeleter {
  void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlMulti = std::unique_ptr<CURLM, CurlMultiDeleter>;
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// Why an exchange produced no answer from the server.
enum class TransportError {
  kNone,        // The server answered (any HTTP status or SMTP reply).
  kTimeout,     // The request's timeout passed.
  kConnect,     // Could not resolve or connect, or the connection broke.
  kTls,         // TLS handshake or certificate verification failed.
  kInvalidUrl,  // The URL is malformed or of another protocol: retrying cannot help.
  kOther,
};

// How a finished transfer's CURLcode counts.
TransportError ClassifyCurlError(CURLcode code);

// A new easy handle with the options every Herald exchange shares
// (CURLOPT_NOSIGNAL: timeouts must not use SIGALRM in a threaded process).
// Null only when libcurl is out of memory.
CurlEasy NewCurlEasy();

// Appends `line` to `list` (curl_slist_append returns a new head on the
// first call). Returns false when out of memory.
bool AppendSlist(CurlSlist& list, const char* line);

}  // namespace herald::delivery
