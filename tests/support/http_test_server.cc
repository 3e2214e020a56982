#include "tests/support/http_test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace herald::testing {
namespace {

// Reads until `data` holds `size` bytes or the peer stops sending (5 s).
bool ReadAtLeast(int fd, std::string& data, size_t size) {
  char buffer[4096];
  while (data.size() < size) {
    pollfd ready{fd, POLLIN, 0};
    if (poll(&ready, 1, 5000) <= 0) return false;
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) return false;
    data.append(buffer, static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpTestServer>> HttpTestServer::Start() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || listen(fd, 64) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    return absl::InternalError(absl::StrCat("listen: ", std::strerror(errno)));
  }
  auto server = std::unique_ptr<HttpTestServer>(new HttpTestServer(fd, ntohs(address.sin_port)));
  server->thread_ = std::thread([raw = server.get()] { raw->Serve(); });
  return server;
}

HttpTestServer::HttpTestServer(int listen_fd, int port) : listen_fd_(listen_fd), port_(port) {}

HttpTestServer::~HttpTestServer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
}

std::string HttpTestServer::Url(const std::string& path) const { return absl::StrCat("http://127.0.0.1:", port_, path); }

void HttpTestServer::QueueResponses(std::vector<Response> responses) {
  absl::MutexLock lock(&mu_);
  for (Response& response : responses) queued_.push_back(std::move(response));
}

std::vector<HttpTestServer::Request> HttpTestServer::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

bool HttpTestServer::WaitForRequests(size_t count, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto arrived = [this, count]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return requests_.size() >= count; };
  return mu_.AwaitWithTimeout(absl::Condition(&arrived), timeout);
}

void HttpTestServer::Serve() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    pollfd ready{listen_fd_, POLLIN, 0};
    if (poll(&ready, 1, 20) <= 0) continue;
    int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    Handle(fd);
    close(fd);
  }
}

void HttpTestServer::Handle(int fd) {
  std::string data;
  size_t header_end = std::string::npos;
  while (header_end == std::string::npos) {
    if (!ReadAtLeast(fd, data, data.size() + 1)) return;
    header_end = data.find("\r\n\r\n");
  }
  Request request;
  request.received = absl::Now();
  std::vector<absl::string_view> lines = absl::StrSplit(absl::string_view(data).substr(0, header_end), "\r\n");
  std::vector<absl::string_view> start = absl::StrSplit(lines[0], ' ');
  if (start.size() >= 2) {
    request.method = std::string(start[0]);
    request.path = std::string(start[1]);
  }
  size_t content_length = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos) continue;
    std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
    std::string value(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    if (name == "content-length") (void)absl::SimpleAtoi(value, &content_length);
    request.headers[name] = value;
  }
  if (request.headers.count("expect") > 0) {
    const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    (void)!write(fd, kContinue, sizeof(kContinue) - 1);
  }
  if (!ReadAtLeast(fd, data, header_end + 4 + content_length)) return;
  request.body = data.substr(header_end + 4, content_length);
  Response response;
  {
    absl::MutexLock lock(&mu_);
    if (!queued_.empty()) {
      response = queued_.front();
      queued_.erase(queued_.begin());
    }
    requests_.push_back(std::move(request));
  }
  std::string answer = absl::StrCat("HTTP/1.1 ", response.status, " Test\r\nContent-Length: 2\r\nConnection: close\r\n");
  if (!response.retry_after.empty()) absl::StrAppend(&answer, "Retry-After: ", response.retry_after, "\r\n");
  absl::StrAppend(&answer, "\r\n{}");
  (void)!write(fd, answer.data(), answer.size());
}

}  // namespace herald::testing
