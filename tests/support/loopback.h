// Plain TCP and HTTP on 127.0.0.1 for tests and the load generator: a free
// port to hand a child process, a raw connection, and the small HTTP GET
// that scrapes /metrics (or asks Prometheus, or a sink's /stats). No gtest:
// bench/loadgen uses it too.
#pragma once

#include <optional>
#include <string>

#include "absl/time/time.h"

namespace herald::testing {

// A loopback port nothing listens on right now (bound, then released for
// someone else to take), or 0.
int FreeLoopbackPort();

// A TCP socket connected to 127.0.0.1:`port` (the kernel completes the
// handshake whether or not the server accepts), or -1. A finite `timeout`
// bounds the connect, sends and receives (SO_SNDTIMEO / SO_RCVTIMEO): a
// full backlog drops SYNs. The caller closes it.
int ConnectLoopback(int port, absl::Duration timeout = absl::InfiniteDuration());

struct HttpResponse {
  int status = 0;
  std::string body;
};

// GET http://127.0.0.1:<port><path> (HTTP/1.0, the body read up to the
// close), each step within `timeout`; nullopt when there is no complete
// answer.
std::optional<HttpResponse> HttpGet(int port, const std::string& path, absl::Duration timeout = absl::Seconds(5));

}  // namespace herald::testing
