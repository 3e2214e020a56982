#include "runtime/grpc_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include "core/log.h"
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace herald {
namespace {

// Connections taken off the socket per wake-up before the loop looks at
// Stop and the sweep again.
constexpr int kAcceptBurst = 256;
// Pending connections shed per round while no fd is free.
constexpr int kShedBurst = 64;
constexpr absl::Duration kFirstBackoff = absl::Milliseconds(5);
constexpr absl::Duration kMaxBackoff = absl::Milliseconds(200);
// How often connections gRPC closed are forgotten (the gauge's freshness),
// and how often at most while the connection bound is reached.
constexpr absl::Duration kSweepInterval = absl::Seconds(1);
constexpr absl::Duration kSaturatedSweepInterval = absl::Milliseconds(50);
constexpr absl::Duration kErrorLogInterval = absl::Seconds(30);
constexpr absl::Duration kShedLogInterval = absl::Seconds(10);

std::string Errno(int error) { return std::strerror(error); }

// "host:port" / "[v6]:port" -> host (brackets removed) and port.
absl::Status SplitHostPort(const std::string& address, std::string* host, std::string* port) {
  const std::string expected = absl::StrCat("--grpc_address: '", address, "' is not host:port (e.g. 0.0.0.0:50051)");
  if (!address.empty() && address[0] == '[') {
    size_t close = address.find("]:");
    if (close == std::string::npos) return absl::InvalidArgumentError(expected);
    *host = address.substr(1, close - 1);
    *port = address.substr(close + 2);
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string::npos) return absl::InvalidArgumentError(expected);
    *host = address.substr(0, colon);
    *port = address.substr(colon + 1);
    // An IPv6 address needs its brackets to tell it from the port.
    if (host->find(':') != std::string::npos) return absl::InvalidArgumentError(expected);
  }
  int number = 0;
  if (port->empty() || !absl::SimpleAtoi(*port, &number) || number < 0 || number > 65535) {
    return absl::InvalidArgumentError(expected);
  }
  return absl::OkStatus();
}

bool IsWildcard(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in&>(address).sin_addr.s_addr == htonl(INADDR_ANY);
  }
  const in6_addr& v6 = reinterpret_cast<const sockaddr_in6&>(address).sin6_addr;
  return IN6_IS_ADDR_UNSPECIFIED(&v6);
}

// "a.b.c.d:port" or "[v6]:port" for a connect from this process.
std::string TargetFor(const sockaddr_storage& bound, int port) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (bound.ss_family == AF_INET) {
    if (IsWildcard(bound)) return absl::StrCat("127.0.0.1:", port);
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(bound).sin_addr, text, sizeof(text));
    return absl::StrCat(text, ":", port);
  }
  if (IsWildcard(bound)) return absl::StrCat("[::1]:", port);
  inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(bound).sin6_addr, text, sizeof(text));
  return absl::StrCat("[", text, "]:", port);
}

// `bound` with a wildcard address replaced by loopback (TargetFor's choice).
sockaddr_storage LoopbackFor(const sockaddr_storage& bound) {
  sockaddr_storage address = bound;
  if (!IsWildcard(bound)) return address;
  if (bound.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in&>(address).sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  } else {
    reinterpret_cast<sockaddr_in6&>(address).sin6_addr = in6addr_loopback;
  }
  return address;
}

}  // namespace

absl::StatusOr<OpenFileLimit> RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError(absl::StrCat("getrlimit(RLIMIT_NOFILE): ", Errno(errno)));
  }
  OpenFileLimit result;
  result.soft_before = limit.rlim_cur;
  result.hard = limit.rlim_max;
  rlim_t target = limit.rlim_max;
  // The kernel refuses more than fs.nr_open, also under an unlimited hard limit.
  uint64_t nr_open = 0;
  std::ifstream nr_open_file("/proc/sys/fs/nr_open");
  if (nr_open_file >> nr_open && nr_open > 0 && (target == RLIM_INFINITY || target > nr_open)) target = nr_open;
  if (limit.rlim_cur < target) {
    limit.rlim_cur = target;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      return absl::InternalError(absl::StrCat("setrlimit(RLIMIT_NOFILE, ", target, "): ", Errno(errno)));
    }
  }
  result.soft = limit.rlim_cur;
  return result;
}

GrpcListener::Metrics::Metrics(prometheus::Registry& registry, const std::string& listener)
    : accept_errors(prometheus::BuildCounter()
                        .Name("herald_grpc_accept_errors_total")
                        .Help("accept() errors on the gRPC port, by reason (emfile, enfile: out of file "
                              "descriptors; no_buffers; aborted: the client was gone; other)")
                        .Register(registry)),
      emfile(accept_errors.Add({{"listener", listener}, {"reason", "emfile"}})),
      enfile(accept_errors.Add({{"listener", listener}, {"reason", "enfile"}})),
      no_buffers(accept_errors.Add({{"listener", listener}, {"reason", "no_buffers"}})),
      aborted(accept_errors.Add({{"listener", listener}, {"reason", "aborted"}})),
      other(accept_errors.Add({{"listener", listener}, {"reason", "other"}})),
      shed(prometheus::BuildCounter()
               .Name("herald_grpc_connections_shed_total")
               .Help("gRPC connections closed right after accept: over --max_connections, into the file-descriptor "
                     "reserve, or pending while no file descriptor was free")
               .Register(registry)
               .Add({{"listener", listener}})),
      connections(prometheus::BuildGauge()
                      .Name("herald_grpc_connections")
                      .Help("gRPC connections open (accepted by Herald's listener, not yet closed)")
                      .Register(registry)
                      .Add({{"listener", listener}})) {}

GrpcListener::GrpcListener(const GrpcListenerOptions& options, prometheus::Registry& registry)
    : options_(options), metrics_(registry, options.name) {}

absl::StatusOr<std::unique_ptr<GrpcListener>> GrpcListener::Bind(const GrpcListenerOptions& options,
                                                                 prometheus::Registry& registry) {
  if (options.max_connections < 1) return absl::InvalidArgumentError("--max_connections: must be >= 1");
  std::string host, port;
  absl::Status split = SplitHostPort(options.address, &host, &port);
  if (!split.ok()) return split;
  std::unique_ptr<GrpcListener> listener(new GrpcListener(options, registry));

  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError(absl::StrCat("getrlimit(RLIMIT_NOFILE): ", Errno(errno)));
  }
  listener->fd_limit_ = limit.rlim_cur == RLIM_INFINITY ? uint64_t{1} << 30 : limit.rlim_cur;
  listener->fd_reserve_ = options.fd_reserve >= 0
                              ? options.fd_reserve
                              : static_cast<int>(std::clamp<uint64_t>(listener->fd_limit_ / 4, 32, 1024));
  if (listener->fd_limit_ < static_cast<uint64_t>(listener->fd_reserve_) + 16) {
    return absl::FailedPreconditionError(absl::StrCat("--grpc_address: the open-file limit (RLIMIT_NOFILE ",
                                                      listener->fd_limit_, ") leaves no room for connections"));
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  // An empty host listens everywhere ("::" for both families where the
  // host has IPv6, else "0.0.0.0").
  const bool everywhere = host.empty();
  int resolved = getaddrinfo(everywhere ? nullptr : host.c_str(), port.c_str(), &hints, &found);
  if (resolved != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("--grpc_address ", options.address, ": ", gai_strerror(resolved)));
  }
  // A name may resolve to both families: one socket, IPv4 first ("localhost"
  // is then 127.0.0.1, which every local client reaches).
  std::vector<addrinfo*> candidates;
  for (int family : everywhere ? std::vector<int>{AF_INET6, AF_INET} : std::vector<int>{AF_INET, AF_INET6}) {
    for (addrinfo* entry = found; entry != nullptr; entry = entry->ai_next) {
      if (entry->ai_family == family) candidates.push_back(entry);
    }
  }
  std::string error = "no IPv4 or IPv6 address";
  int fd = -1;
  for (addrinfo* entry : candidates) {
    fd = socket(entry->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error = Errno(errno);
      continue;
    }
    int one = 1, zero = 0;
    // A restarted Herald rebinds at once despite connections in TIME_WAIT.
    // (No SO_REUSEPORT, unlike gRPC's own listener: a second process on
    // the same port is an error, not a silent split of the traffic.)
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (entry->ai_family == AF_INET6 &&
        IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<sockaddr_in6*>(entry->ai_addr)->sin6_addr)) {
      // "[::]" serves IPv4 clients too, as gRPC's wildcard does.
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    }
    if (bind(fd, entry->ai_addr, entry->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0) break;
    error = Errno(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat("--grpc_address ", options.address, ": cannot listen: ", error));
  }
  listener->listen_fd_ = fd;
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof(bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0) {
    return absl::InternalError(absl::StrCat("--grpc_address: getsockname: ", Errno(errno)));
  }
  listener->port_ = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in&>(bound).sin_port
                                                     : reinterpret_cast<sockaddr_in6&>(bound).sin6_port);
  listener->local_target_ = TargetFor(bound, listener->port_);
  listener->local_address_ = LoopbackFor(bound);
  listener->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  listener->reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (listener->wake_fd_ < 0 || listener->reserve_fd_ < 0) {
    return absl::FailedPreconditionError(absl::StrCat("--grpc_address: ", Errno(errno)));
  }
  return listener;
}

GrpcListener::~GrpcListener() { Stop(); }

void GrpcListener::AddTo(grpc::ServerBuilder& builder, std::shared_ptr<grpc::ServerCredentials> credentials) {
  acceptor_ = builder.experimental().AddExternalConnectionAcceptor(
      grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD, std::move(credentials));
}

void GrpcListener::Start() {
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void GrpcListener::Stop() {
  stopping_ = true;
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }
  if (thread_.joinable()) thread_.join();
  for (int* fd : {&listen_fd_, &wake_fd_, &reserve_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

void GrpcListener::SetPausedForTest(bool paused) {
  paused_ = paused;
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

int GrpcListener::live_connections() {
  Sweep();
  absl::MutexLock lock(&mu_);
  return static_cast<int>(live_.size());
}

void GrpcListener::Idle(absl::Duration timeout) {
  pollfd wake{wake_fd_, POLLIN, 0};
  if (poll(&wake, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) > 0) {
    uint64_t count;
    (void)!read(wake_fd_, &count, sizeof(count));
  }
}

void GrpcListener::Run() {
  while (!stopping_) {
    if (paused_) {
      Idle(absl::Milliseconds(100));
      continue;
    }
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int ready = poll(fds, 2, static_cast<int>(absl::ToInt64Milliseconds(kSweepInterval)));
    if (ready < 0 && errno != EINTR) {
      log::Error("grpc.listener", "poll failed", {{"error", Errno(errno)}});
      Idle(kMaxBackoff);
      continue;
    }
    if (ready > 0 && (fds[1].revents & POLLIN)) {
      uint64_t count;
      (void)!read(wake_fd_, &count, sizeof(count));
    }
    if (ready > 0 && fds[0].revents != 0) AcceptBurst();
    if (absl::Now() >= next_sweep_) {
      Sweep();
      next_sweep_ = absl::Now() + kSweepInterval;
    }
  }
}

void GrpcListener::AcceptBurst() {
  for (int taken = 0; taken < kAcceptBurst && !stopping_ && !paused_; ++taken) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      accepted_.fetch_add(1, std::memory_order_relaxed);
      EndErrorEpisode();
      Take(fd);
      continue;
    }
    const int error = errno;
    switch (error) {
      case EAGAIN:
        return;
      case EINTR:
        continue;
      case EMFILE:
      case ENFILE:
        OnFdsExhausted(error);
        return;
      // Linux reports a new connection's pending network error through
      // accept: that client is gone, the listener is fine.
      case ECONNABORTED:
      case EPROTO:
      case ENETDOWN:
      case ENOPROTOOPT:
      case EHOSTDOWN:
      case ENONET:
      case EHOSTUNREACH:
      case EOPNOTSUPP:
      case ENETUNREACH:
      case EPERM:
        metrics_.aborted.Increment();
        continue;
      default:
        (error == ENOBUFS || error == ENOMEM ? metrics_.no_buffers : metrics_.other).Increment();
        break;
    }
    // Memory or an unexpected error: the socket stays ours and is tried
    // again after a pause, never given up.
    LogError(error);
    backoff_ = backoff_ == absl::ZeroDuration() ? kFirstBackoff : std::min(backoff_ * 2, kMaxBackoff);
    Idle(backoff_);
    return;
  }
}

void GrpcListener::LogError(int error) {
  const absl::Time now = absl::Now();
  ++episode_errors_;
  if (!error_episode_) {
    error_episode_ = true;
    episode_start_ = now;
    episode_errors_ = 1;
    last_error_log_ = now;
    log::Error("grpc.listener", "accept failed; shedding pending connections and retrying",
               {{"error", Errno(error)}, {"open_file_limit", fd_limit_}});
  } else if (now - last_error_log_ >= kErrorLogInterval) {
    last_error_log_ = now;
    log::Error("grpc.listener", "accept still failing",
               {{"error", Errno(error)},
                {"errors", episode_errors_},
                {"for", absl::FormatDuration(absl::Trunc(now - episode_start_, absl::Seconds(1)))}});
  }
}

void GrpcListener::EndErrorEpisode() {
  backoff_ = absl::ZeroDuration();
  if (!error_episode_) return;
  error_episode_ = false;
  log::Info("grpc.listener", "accepting again",
            {{"errors", episode_errors_},
             {"for", absl::FormatDuration(absl::Trunc(absl::Now() - episode_start_, absl::Milliseconds(1)))}});
}

void GrpcListener::OnFdsExhausted(int error) {
  (error == EMFILE ? metrics_.emfile : metrics_.enfile).Increment();
  LogError(error);
  // With no fd free the kernel would keep these clients waiting in the
  // backlog for as long as the table stays full. Closing the reserve fd
  // makes room to accept one and close it, so they see a prompt close
  // (and retry, perhaps elsewhere) instead of a hang.
  for (int i = 0; i < kShedBurst && reserve_fd_ >= 0; ++i) {
    close(reserve_fd_);
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      accepted_.fetch_add(1, std::memory_order_relaxed);
      metrics_.shed.Increment();
      close(fd);
    }
    reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;  // nothing pending, or another thread took the slot
  }
  if (reserve_fd_ < 0) reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  // Handshake timeouts and clients leaving free fds; until then, back off.
  backoff_ = backoff_ == absl::ZeroDuration() ? kFirstBackoff : std::min(backoff_ * 2, kMaxBackoff);
  Idle(backoff_);
}

void GrpcListener::Take(int fd) {
  // accept() returns the lowest free fd number, so every number below `fd`
  // is in use: an fd inside the reserve means the table is nearly full,
  // whoever holds the rest.
  bool shed = static_cast<uint64_t>(fd) >= fd_limit_ - static_cast<uint64_t>(fd_reserve_);
  bool at_max = false;
  if (!shed) {
    absl::MutexLock lock(&mu_);
    // The kernel just gave us this number: whatever we knew under it ended.
    live_.erase(fd);
    if (live_.size() >= static_cast<size_t>(options_.max_connections) &&
        absl::Now() - last_sweep_ >= kSaturatedSweepInterval) {
      SweepLocked();
    }
    shed = at_max = live_.size() >= static_cast<size_t>(options_.max_connections);
  }
  struct stat st {};
  if (!shed && fstat(fd, &st) != 0) shed = true;
  if (shed) {
    metrics_.shed.Increment();
    close(fd);
    ++shed_since_log_;
    const absl::Time now = absl::Now();
    if (now - last_shed_log_ >= kShedLogInterval) {
      if (at_max) {
        log::Warning("grpc.listener", "closed new connections: --max_connections reached",
                     {{"closed_since_last_report", shed_since_log_}, {"max_connections", options_.max_connections}});
      } else {
        log::Warning("grpc.listener",
                     "closed new connections: fd in the reserve kept for Redis and outbound connections",
                     {{"closed_since_last_report", shed_since_log_},
                      {"fd", fd},
                      {"open_file_limit", fd_limit_},
                      {"reserve", fd_reserve_}});
      }
      last_shed_log_ = now;
      shed_since_log_ = 0;
    }
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  {
    absl::MutexLock lock(&mu_);
    live_[fd] = SocketId{st.st_dev, st.st_ino};
    metrics_.connections.Set(static_cast<double>(live_.size()));
  }
  grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters connection;
  connection.listener_fd = listen_fd_;
  connection.fd = fd;
  acceptor_->HandleNewConnection(&connection);
}

void GrpcListener::Sweep() {
  absl::MutexLock lock(&mu_);
  SweepLocked();
}

// gRPC closes a connection's fd without telling us. A handed-off fd whose
// number is closed, or now names another socket (the number was reused:
// a different device/inode pair), is a connection that ended. fstat on a
// number another thread owns is harmless, and a socket's inode is unique
// while it exists, so the count is exact at the moment of the sweep.
void GrpcListener::SweepLocked() {
  last_sweep_ = absl::Now();
  for (auto it = live_.begin(); it != live_.end();) {
    struct stat st {};
    if (fstat(it->first, &st) != 0 || st.st_dev != it->second.dev || st.st_ino != it->second.ino) {
      live_.erase(it++);
    } else {
      ++it;
    }
  }
  metrics_.connections.Set(static_cast<double>(live_.size()));
}

absl::Status GrpcListener::ProbeAccept(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const int64_t before = accepted_.load(std::memory_order_relaxed);
  int fd = socket(local_address_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("probe socket: ", Errno(errno)));
  const socklen_t length = local_address_.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  // A wedged accept loop still lets the kernel complete the handshake into
  // the backlog: only the counter tells whether the loop took it.
  if (connect(fd, reinterpret_cast<const sockaddr*>(&local_address_), length) != 0 && errno != EINPROGRESS) {
    const int error = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat("probe connect: ", Errno(error)));
  }
  bool accepted = false;
  while (!(accepted = accepted_.load(std::memory_order_relaxed) > before) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  close(fd);
  if (!accepted) return absl::UnavailableError("the listener accepted no connection in time");
  return absl::OkStatus();
}

}  // namespace herald
