// Herald's own accept loop for its gRPC port.
//
// gRPC 1.51's listener (src/core/lib/iomgr/tcp_server_posix.cc, on_read)
// gives up on a listening socket for good on any accept4 error other than
// EAGAIN and ECONNABORTED: after one EMFILE during a connection flood the
// port never accepts again while the process lives on. So the socket is
// ours: GrpcListener binds and listens, accepts in its own thread, keeps the
// file-descriptor table from filling up, and hands every connection it keeps
// to gRPC through ServerBuilder's external connection acceptor (FROM_FD).
#pragma once

#include <sys/socket.h>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace herald {

struct GrpcListenerOptions {
  // host:port (IPv4, [IPv6] or a name; "0.0.0.0" and "[::]" listen on
  // every address). Port 0 picks a free port: see GrpcListener::port().
  std::string address = "127.0.0.1:50051";
  // Connections handed to gRPC at once; above it a new connection is
  // accepted and closed at once (herald_grpc_connections_shed_total).
  int max_connections = 4096;
  // File descriptors kept free below RLIMIT_NOFILE for everything that is
  // not an inbound connection (Redis, outbound deliveries, metrics scrapes):
  // a connection accepted into that reserve is shed. -1: a quarter of the
  // soft limit, between 32 and 1024.
  int fd_reserve = -1;
  // The `listener` label of this listener's metrics ("grpc" for the API
  // port, "health" for the plaintext probe port).
  std::string name = "grpc";
};

// The rlimit this process had and now has (RaiseOpenFileLimit).
struct OpenFileLimit {
  uint64_t soft_before = 0;
  uint64_t soft = 0;
  uint64_t hard = 0;
};

// Raises the soft RLIMIT_NOFILE to the hard limit (capped by
// /proc/sys/fs/nr_open, which the kernel enforces for an unlimited hard
// limit). INTERNAL when the limit cannot be read or set.
absl::StatusOr<OpenFileLimit> RaiseOpenFileLimit();

// Accepts on one listening socket and hands connections to a gRPC server.
// Thread-safe.
//
// Lifecycle: Bind -> AddTo(builder) -> builder.BuildAndStart() -> Start ->
// ... -> Stop -> server->Shutdown(). gRPC drops an fd handed to it before
// the server starts or after it shuts down without closing it, so Start
// and Stop must bracket the server's life.
class GrpcListener {
 public:
  // Binds and listens (no accepting yet). INVALID_ARGUMENT for a malformed
  // address or option (naming --grpc_address / --max_connections),
  // FAILED_PRECONDITION when the address cannot be bound (in use, not
  // local). Metrics go to `registry`, which must outlive the listener.
  static absl::StatusOr<std::unique_ptr<GrpcListener>> Bind(const GrpcListenerOptions& options,
                                                            prometheus::Registry& registry);
  ~GrpcListener();
  GrpcListener(const GrpcListener&) = delete;
  GrpcListener& operator=(const GrpcListener&) = delete;

  // The bound port (the chosen one for port 0).
  int port() const { return port_; }
  // Where a client in this process reaches the listener: the bound
  // address, or the loopback address of its family for a wildcard.
  const std::string& local_target() const { return local_target_; }

  // Registers this listener's connections with `builder`, to be served
  // with `credentials` (TLS or insecure). Call once, before BuildAndStart.
  void AddTo(grpc::ServerBuilder& builder, std::shared_ptr<grpc::ServerCredentials> credentials);

  // Starts accepting. REQUIRES: AddTo, and the server built and started.
  void Start();
  // Stops accepting and closes the socket (idempotent). Pending clients
  // see a reset. Call before the server's Shutdown.
  void Stop();

  // Connections handed to gRPC that are still open.
  int live_connections();

  // Whether the accept loop still takes connections off the socket: opens
  // a TCP connection to local_target() and waits up to `timeout` for the
  // loop to accept something. Needs no TLS or gRPC, so it checks a TLS port
  // without client credentials. UNAVAILABLE when nothing was accepted.
  absl::Status ProbeAccept(absl::Duration timeout);

  // Test seam: a paused listener takes no connection off its socket, which
  // stays open, so clients wait in the backlog as with a wedged listener.
  void SetPausedForTest(bool paused);

 private:
  struct Metrics {
    Metrics(prometheus::Registry& registry, const std::string& listener);
    prometheus::Family<prometheus::Counter>& accept_errors;
    prometheus::Counter& emfile;
    prometheus::Counter& enfile;
    prometheus::Counter& no_buffers;
    prometheus::Counter& aborted;
    prometheus::Counter& other;
    prometheus::Counter& shed;
    prometheus::Gauge& connections;
  };
  // The socket's identity, to tell our connection from a later fd with the
  // same number (see Sweep).
  struct SocketId {
    dev_t dev;
    ino_t ino;
  };

  GrpcListener(const GrpcListenerOptions& options, prometheus::Registry& registry);

  void Run();
  // Accepts until the socket has nothing pending (or a burst is done).
  void AcceptBurst();
  // Hands `fd` to gRPC, or closes it when over a bound.
  void Take(int fd);
  // Out of file descriptors: sheds pending connections through the
  // reserve fd and backs off.
  void OnFdsExhausted(int error);
  // Logs the first accept error of an episode, then at most every 30 s.
  void LogError(int error);
  // Forgets connections gRPC has closed; updates the gauge.
  void Sweep();
  void SweepLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits up to `timeout` or until Stop / a pause change.
  void Idle(absl::Duration timeout);
  void EndErrorEpisode();

  // Constant after Bind.
  const GrpcListenerOptions options_;
  Metrics metrics_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: Stop and pause changes wake the loop
  int port_ = 0;
  std::string local_target_;
  // local_target_ as a socket address (ProbeAccept).
  sockaddr_storage local_address_{};
  // Connections taken off the socket (handed to gRPC or shed): ProbeAccept
  // watches it move.
  std::atomic<int64_t> accepted_{0};
  uint64_t fd_limit_ = 0;  // soft RLIMIT_NOFILE when bound
  int fd_reserve_ = 0;

  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> paused_{false};

  // Owned by the accept thread.
  int reserve_fd_ = -1;  // /dev/null, closed to make room for one accept when the table is full
  absl::Duration backoff_ = absl::ZeroDuration();
  bool error_episode_ = false;
  int64_t episode_errors_ = 0;
  absl::Time episode_start_;
  absl::Time last_error_log_ = absl::InfinitePast();
  absl::Time last_shed_log_ = absl::InfinitePast();
  int64_t shed_since_log_ = 0;
  absl::Time next_sweep_ = absl::InfinitePast();

  absl::Mutex mu_;
  // Every fd handed to gRPC and not yet seen closed, with its socket's id.
  absl::flat_hash_map<int, SocketId> live_ ABSL_GUARDED_BY(mu_);
  absl::Time last_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace herald
