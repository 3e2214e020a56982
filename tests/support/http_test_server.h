// A small HTTP/1.1 server on 127.0.0.1 (port 0) for integration tests of
// HTTP senders: records every request and answers with scripted statuses
// (one connection at a time, `Connection: close`).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace herald::testing {

// Thread-safe.
class HttpTestServer {
 public:
  struct Request {
    std::string method;
    std::string path;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
    absl::Time received;
  };
  struct Response {
    int status = 200;
    std::string retry_after;  // Retry-After header value; empty = none
  };

  // Listens on 127.0.0.1 with a free port. INTERNAL when it cannot.
  static absl::StatusOr<std::unique_ptr<HttpTestServer>> Start();
  ~HttpTestServer();
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  int port() const { return port_; }
  std::string Url(const std::string& path) const;
  // The next requests get these answers, in order; after them, 200.
  void QueueResponses(std::vector<Response> responses);
  std::vector<Request> requests() const;
  // Waits until at least `count` requests arrived; false at the deadline.
  bool WaitForRequests(size_t count, absl::Duration timeout) const;

 private:
  HttpTestServer(int listen_fd, int port);
  void Serve();
  void Handle(int fd);

  const int listen_fd_;
  const int port_;
  mutable absl::Mutex mu_;
  std::vector<Request> requests_ ABSL_GUARDED_BY(mu_);
  std::vector<Response> queued_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace herald::testing
