// The gateway's HTTP/1.1 server on Boost.Beast: asynchronous (a small fixed
// pool of Asio threads, never a thread per connection), keep-alive, limits
// on header and body size, header/body/write timeouts, Server-Sent-Events
// streams as long-lived chunked responses, and a drain for shutdown. It
// knows nothing of the API: each request goes to the Handler with an
// Exchange to answer through, from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace herald::gateway {

struct HttpServerOptions {
  std::string address = "127.0.0.1:8080";  // host:port; port 0 = any free one
  int threads = 2;
  // Larger requests are answered 431 / 413 and the connection closed.
  size_t max_header_bytes = 8 * 1024;
  size_t max_body_bytes = 64 * 1024;
  // Waiting for a request's header (including an idle keep-alive
  // connection's next request), for its body, and for the client to take
  // each write (a stream whose client stops reading is closed after it).
  absl::Duration header_timeout = absl::Seconds(30);
  absl::Duration body_timeout = absl::Seconds(30);
  absl::Duration write_timeout = absl::Seconds(30);
  // A ": ping" comment on every stream this often, so proxies keep it.
  absl::Duration ping_interval = absl::Seconds(15);
  // Bytes a stream may have waiting to be written; more closes it (a slow
  // client is disconnected rather than allowed to grow memory).
  size_t max_stream_queue_bytes = 256 * 1024;
  // Connections at once; more are closed at accept.
  int max_connections = 20'000;
};

struct HttpRequest {
  std::string method;
  std::string target;
  std::string body;
  // Lower-case header name -> value (the last one when repeated).
  absl::flat_hash_map<std::string, std::string> headers;

  // "" when absent; `name` in lower case.
  const std::string& Header(const std::string& name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// One Server-Sent-Events response. Thread-safe.
class EventStream {
 public:
  virtual ~EventStream() = default;
  // Queues `text` (whole events or comments). False when the connection is
  // closed or its queue would pass max_stream_queue_bytes (the connection
  // is then closed): the caller stops sending.
  virtual bool Send(std::string text) = 0;
  // Sends the 200 header (text/event-stream, chunked, `headers`), then
  // everything queued and sent from now on, with pings.
  virtual void Start(std::vector<std::pair<std::string, std::string>> headers) = 0;
  // Ends the stream once the queue is written.
  virtual void Close() = 0;
  // Keeps `resource` (e.g. the feed subscription feeding Send) until the
  // connection closes; it is released on a server thread, never inside
  // Send. Released at once when the connection is already closed.
  virtual void Hold(std::shared_ptr<void> resource) = 0;
};

// One request's answer. Thread-safe; answer exactly once: Respond, or
// OpenStream then (Start on it, or Respond with an error instead).
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual void Respond(HttpResponse response) = 0;
  virtual std::shared_ptr<EventStream> OpenStream() = 0;
};

using HttpHandler = std::function<void(HttpRequest request, std::shared_ptr<Exchange> exchange)>;

class HttpServer {
 public:
  // Binds and starts serving. INVALID_ARGUMENT naming `flag` for a bad
  // address, FAILED_PRECONDITION when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options, HttpHandler handler,
                                                           const std::string& flag);
  virtual ~HttpServer() = default;

  virtual int port() const = 0;
  // Connections open now (for tests and metrics).
  virtual int connections() const = 0;
  // Drains: stops accepting, closes idle connections and streams, lets
  // requests in flight finish (their connections then close) until
  // `deadline`, then closes the rest and stops the threads. Idempotent.
  virtual void Stop(absl::Time deadline) = 0;
};

}  // namespace herald::gateway
