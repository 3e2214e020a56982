#include "gateway/http_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <deque>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/log.h"

namespace herald::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

std::chrono::steady_clock::duration Chrono(absl::Duration duration) { return absl::ToChronoNanoseconds(duration); }

class ServerImpl;

// One connection, all of whose I/O runs on its strand. Requests are read
// one at a time (no pipelining); a stream turns the connection into a
// one-way writer until it closes.
class Session final : public std::enable_shared_from_this<Session>, public EventStream {
 public:
  Session(tcp::socket socket, ServerImpl& server);
  ~Session() override;

  void Begin() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }
  // From the server's Stop: on the strand, closes an idle connection or a
  // stream; a request in flight finishes first (keep-alive off).
  void Drain() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->streaming_) {
        self->Close();
      } else if (!self->busy_) {
        self->CloseNow();
      }
    });
  }
  void CloseFromStop() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->CloseNow(); });
  }

  // EventStream.
  bool Send(std::string text) override;
  void Start(std::vector<std::pair<std::string, std::string>> headers) override;
  void Close() override;
  void Hold(std::shared_ptr<void> resource) override;

  // The Exchange of the request being handled.
  void Respond(HttpResponse response);

 private:
  void ReadHeader();
  void OnHeader(beast::error_code error);
  void OnRequest(beast::error_code error);
  void Write(HttpResponse response, bool close);
  void OnWritten(bool close, beast::error_code error);
  void WriteQueued();
  void SchedulePing();
  // A stream reads nothing more: any byte or the end of the client's side
  // closes it (the client went away), without waiting for a write to fail.
  void WatchPeer();
  // After answering a request that was not read whole: stop sending, read
  // and drop what the client still sends (at most a second), then close.
  // Closing with unread bytes would reset the connection before the client
  // read the answer.
  void LingerClose();
  void CloseNow();
  // A response to a request that could not be read (too large): then close.
  void Reject(int status, const std::string& message);

  beast::tcp_stream stream_;
  ServerImpl& server_;
  // Strand-only state.
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  http::response<http::empty_body> stream_header_;
  std::optional<http::response_serializer<http::empty_body>> stream_serializer_;
  std::string writing_;  // the chunk being written
  char peer_bytes_[64];
  asio::steady_timer ping_timer_;
  bool busy_ = false;       // a request is being handled
  bool streaming_ = false;  // the connection is a stream (Start ran)
  bool keep_alive_ = false;
  bool closed_on_strand_ = false;
  bool rejected_ = false;  // answered without reading the whole request

  // Shared with Send (any thread).
  absl::Mutex mu_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool started_ ABSL_GUARDED_BY(mu_) = false;  // the header is written: the queue may be written
  bool write_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;  // Close(): end after the queue
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::shared_ptr<void>> held_ ABSL_GUARDED_BY(mu_);
};

// The Exchange of one request: it forwards to its session, which it keeps
// alive until answered.
class SessionExchange final : public Exchange {
 public:
  explicit SessionExchange(std::shared_ptr<Session> session) : session_(std::move(session)) {}
  void Respond(HttpResponse response) override { session_->Respond(std::move(response)); }
  std::shared_ptr<EventStream> OpenStream() override { return session_; }

 private:
  const std::shared_ptr<Session> session_;
};

class ServerImpl final : public HttpServer {
 public:
  ServerImpl(const HttpServerOptions& options, HttpHandler handler)
      : options_(options), handler_(std::move(handler)), acceptor_(asio::make_strand(io_)) {}
  ~ServerImpl() override { Stop(absl::Now()); }

  absl::Status Listen(const std::string& flag) {
    const size_t colon = options_.address.rfind(':');
    int port = -1;
    if (colon == std::string::npos || !absl::SimpleAtoi(options_.address.substr(colon + 1), &port) || port < 0 ||
        port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": '", options_.address, "' is not host:port"));
    }
    std::string host = options_.address.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty()) host = "0.0.0.0";
    beast::error_code error;
    asio::ip::address ip = asio::ip::make_address(host, error);
    if (error) return absl::InvalidArgumentError(absl::StrCat(flag, ": '", host, "' is not an IP address"));
    tcp::endpoint endpoint(ip, static_cast<unsigned short>(port));
    acceptor_.open(endpoint.protocol(), error);
    if (!error) acceptor_.set_option(asio::socket_base::reuse_address(true), error);
    if (!error) acceptor_.bind(endpoint, error);
    if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
    if (error) {
      return absl::FailedPreconditionError(absl::StrCat(flag, ": cannot listen on ", options_.address, ": ",
                                                        error.message()));
    }
    port_ = acceptor_.local_endpoint().port();
    Accept();
    for (int i = 0; i < std::max(1, options_.threads); ++i) threads_.emplace_back([this] { io_.run(); });
    return absl::OkStatus();
  }

  int port() const override { return port_; }
  int connections() const override {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(sessions_.size());
  }

  void Stop(absl::Time deadline) override {
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) return;
      stopped_ = true;
      draining_ = true;
    }
    asio::post(acceptor_.get_executor(), [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
    for (const auto& session : Sessions()) session->Drain();
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithDeadline(absl::Condition(+[](decltype(sessions_)* sessions) { return sessions->empty(); },
                                            &sessions_),
                            deadline);
    }
    // What is left did not finish in time.
    for (const auto& session : Sessions()) session->CloseFromStop();
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(+[](decltype(sessions_)* sessions) { return sessions->empty(); },
                                           &sessions_),
                           absl::Seconds(1));
    }
    io_.stop();
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
  }

  bool draining() const {
    absl::MutexLock lock(&mu_);
    return draining_;
  }
  const HttpServerOptions& options() const { return options_; }
  const HttpHandler& handler() const { return handler_; }

  void Unregister(Session* session) {
    absl::MutexLock lock(&mu_);
    sessions_.erase(session);
  }

 private:
  void Accept() {
    acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code error, tcp::socket socket) {
      if (error == asio::error::operation_aborted || !acceptor_.is_open()) return;
      if (!error) {
        std::shared_ptr<Session> session;
        {
          absl::MutexLock lock(&mu_);
          if (!draining_ && static_cast<int>(sessions_.size()) < options_.max_connections) {
            session = std::make_shared<Session>(std::move(socket), *this);
            sessions_.emplace(session.get(), session);
          }
        }
        // Over the limit: the socket closes as it goes out of scope.
        if (session) session->Begin();
      } else {
        // EMFILE and the like: keep accepting; the next one may fit.
        log::Warning("gateway", "accept failed", {{"error", error.message()}});
      }
      Accept();
    });
  }

  std::vector<std::shared_ptr<Session>> Sessions() {
    std::vector<std::shared_ptr<Session>> live;
    absl::MutexLock lock(&mu_);
    for (const auto& [pointer, weak] : sessions_) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
    return live;
  }

  // Constant after construction.
  const HttpServerOptions options_;
  const HttpHandler handler_;

  // Before io_: destroying io_ destroys the sessions its queued handlers
  // hold, and they unregister here.
  mutable absl::Mutex mu_;
  absl::flat_hash_map<Session*, std::weak_ptr<Session>> sessions_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;

  asio::io_context io_;
  tcp::acceptor acceptor_;
  int port_ = 0;
  std::vector<std::thread> threads_;
};

Session::Session(tcp::socket socket, ServerImpl& server)
    : stream_(std::move(socket)), server_(server), ping_timer_(stream_.get_executor()) {}

Session::~Session() { server_.Unregister(this); }

void Session::ReadHeader() {
  if (server_.draining()) return CloseNow();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(server_.options().max_header_bytes));
  parser_->body_limit(server_.options().max_body_bytes);
  stream_.expires_after(Chrono(server_.options().header_timeout));
  http::async_read_header(stream_, buffer_, *parser_,
                          [self = shared_from_this()](beast::error_code error, size_t) { self->OnHeader(error); });
}

void Session::OnHeader(beast::error_code error) {
  if (error == http::error::header_limit) return Reject(431, "request header too large");
  // A Content-Length over the limit is refused with the header.
  if (error == http::error::body_limit) return Reject(413, "request body too large");
  if (error) return CloseNow();  // closed, timed out or not HTTP
  stream_.expires_after(Chrono(server_.options().body_timeout));
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code error, size_t) { self->OnRequest(error); });
}

void Session::OnRequest(beast::error_code error) {
  if (error == http::error::body_limit) return Reject(413, "request body too large");
  if (error) return CloseNow();
  stream_.expires_never();
  http::request<http::string_body> message = parser_->release();
  keep_alive_ = message.keep_alive();
  HttpRequest request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  request.body = std::move(message.body());
  for (const auto& field : message) {
    request.headers[absl::AsciiStrToLower(std::string(field.name_string()))] = std::string(field.value());
  }
  busy_ = true;
  server_.handler()(std::move(request), std::make_shared<SessionExchange>(shared_from_this()));
}

void Session::Respond(HttpResponse response) {
  asio::post(stream_.get_executor(), [self = shared_from_this(), response = std::move(response)]() mutable {
    if (self->closed_on_strand_ || self->streaming_) return;
    self->Write(std::move(response), !self->keep_alive_ || self->server_.draining());
  });
}

void Session::Reject(int status, const std::string& message) {
  HttpResponse response;
  response.status = status;
  response.body = absl::StrCat(R"({"error":{"code":"invalid_argument","message":")", message, R"("}})");
  rejected_ = true;
  Write(std::move(response), /*close=*/true);
}

void Session::Write(HttpResponse response, bool close) {
  response_ = {};
  response_.version(11);
  response_.result(static_cast<unsigned>(response.status));
  if (!response.content_type.empty() && !response.body.empty()) {
    response_.set(http::field::content_type, response.content_type);
  }
  for (auto& [name, value] : response.headers) response_.set(name, value);
  response_.body() = std::move(response.body);
  response_.keep_alive(!close);
  response_.prepare_payload();
  stream_.expires_after(Chrono(server_.options().write_timeout));
  http::async_write(stream_, response_, [self = shared_from_this(), close](beast::error_code error, size_t) {
    self->OnWritten(close, error);
  });
}

void Session::OnWritten(bool close, beast::error_code error) {
  busy_ = false;
  if (!error && rejected_) return LingerClose();
  if (error || close) return CloseNow();
  ReadHeader();
}

bool Session::Send(std::string text) {
  absl::MutexLock lock(&mu_);
  if (closed_ || closing_) return false;
  if (queued_bytes_ + text.size() > server_.options().max_stream_queue_bytes) {
    // The client does not keep up: it reconnects with its last event id.
    closed_ = true;
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->CloseNow(); });
    return false;
  }
  queued_bytes_ += text.size();
  queue_.push_back(std::move(text));
  if (started_ && !write_pending_) {
    write_pending_ = true;
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->WriteQueued(); });
  }
  return true;
}

void Session::Start(std::vector<std::pair<std::string, std::string>> headers) {
  asio::post(stream_.get_executor(), [self = shared_from_this(), headers = std::move(headers)]() mutable {
    if (self->closed_on_strand_ || self->streaming_) return;
    self->streaming_ = true;
    self->busy_ = false;
    // Nothing more is read: an idle stream keeps no request buffers.
    self->parser_.reset();
    self->buffer_.clear();
    self->buffer_.shrink_to_fit();
    self->response_ = {};
    self->stream_header_ = {};
    self->stream_header_.version(11);
    self->stream_header_.result(http::status::ok);
    self->stream_header_.set(http::field::content_type, "text/event-stream");
    self->stream_header_.set(http::field::cache_control, "no-cache");
    // nginx and similar proxies would otherwise buffer the stream.
    self->stream_header_.set("X-Accel-Buffering", "no");
    for (auto& [name, value] : headers) self->stream_header_.set(name, value);
    self->stream_header_.keep_alive(false);
    self->stream_header_.chunked(true);
    self->stream_serializer_.emplace(self->stream_header_);
    self->stream_.expires_after(Chrono(self->server_.options().write_timeout));
    http::async_write_header(self->stream_, *self->stream_serializer_, [self](beast::error_code error, size_t) {
      if (error) return self->CloseNow();
      {
        absl::MutexLock lock(&self->mu_);
        self->started_ = true;
        self->write_pending_ = true;
      }
      self->SchedulePing();
      self->WatchPeer();
      self->WriteQueued();
    });
  });
}

// On the strand, with write_pending_ set: writes everything queued as one
// chunk, then again until the queue is empty.
void Session::WriteQueued() {
  if (closed_on_strand_) return;
  bool end = false;
  {
    absl::MutexLock lock(&mu_);
    if (queue_.empty()) {
      write_pending_ = false;
      end = closing_;
      if (!end) return;
    } else {
      writing_.clear();
      for (std::string& text : queue_) writing_ += text;
      queue_.clear();
      queued_bytes_ = 0;
    }
  }
  stream_.expires_after(Chrono(server_.options().write_timeout));
  if (end) {
    asio::async_write(stream_, http::make_chunk_last(),
                      [self = shared_from_this()](beast::error_code, size_t) { self->CloseNow(); });
    return;
  }
  asio::async_write(stream_, http::make_chunk(asio::buffer(writing_)),
                    [self = shared_from_this()](beast::error_code error, size_t) {
                      if (error) return self->CloseNow();
                      self->stream_.expires_never();
                      self->WriteQueued();
                    });
}

void Session::SchedulePing() {
  ping_timer_.expires_after(Chrono(server_.options().ping_interval));
  ping_timer_.async_wait([self = shared_from_this()](beast::error_code error) {
    if (error || self->closed_on_strand_) return;
    if (self->Send(": ping\n\n")) self->SchedulePing();
  });
}

void Session::LingerClose() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.expires_after(std::chrono::seconds(1));
  stream_.async_read_some(asio::buffer(peer_bytes_), [self = shared_from_this()](beast::error_code error, size_t) {
    if (error) return self->CloseNow();
    self->LingerClose();
  });
}

void Session::WatchPeer() {
  // On the socket itself, not the tcp_stream: its timeouts are the writes'.
  stream_.socket().async_read_some(asio::buffer(peer_bytes_),
                                   [self = shared_from_this()](beast::error_code, size_t) { self->CloseNow(); });
}

void Session::Close() {
  absl::MutexLock lock(&mu_);
  if (closed_ || closing_) return;
  closing_ = true;
  if (started_ && !write_pending_) {
    write_pending_ = true;
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->WriteQueued(); });
  }
}

void Session::Hold(std::shared_ptr<void> resource) {
  {
    absl::MutexLock lock(&mu_);
    if (!closed_) {
      held_.push_back(std::move(resource));
      return;
    }
  }
  resource.reset();
}

void Session::CloseNow() {
  if (closed_on_strand_) return;
  closed_on_strand_ = true;
  std::vector<std::shared_ptr<void>> held;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    held.swap(held_);
    queue_.clear();
  }
  // Outside mu_: ending a subscription waits for its sink, which may be
  // inside Send.
  held.clear();
  ping_timer_.cancel();
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
  server_.Unregister(this);
}

}  // namespace

const std::string& HttpRequest::Header(const std::string& name) const {
  static const auto* const kEmpty = new std::string();
  auto it = headers.find(name);
  return it == headers.end() ? *kEmpty : it->second;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options, HttpHandler handler,
                                                              const std::string& flag) {
  auto server = std::make_unique<ServerImpl>(options, std::move(handler));
  absl::Status listening = server->Listen(flag);
  if (!listening.ok()) return listening;
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace herald::gateway
