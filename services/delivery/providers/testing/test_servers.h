// Real servers on loopback for the provider tests, each a child process
// (Python or Node script in this folder) on an ephemeral port, stopped when
// the fixture object goes away.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace herald::delivery::testing {

// A child process that prints "PORT <n>" once it listens and exits when its
// stdin closes (so it never outlives a crashed test).
class ServerProcess {
 public:
  // Starts `argv` and waits up to `deadline` for its port.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(const std::vector<std::string>& argv,
                                                              absl::Duration deadline = absl::Seconds(20));
  ~ServerProcess();  // SIGTERM, then SIGKILL after 2 s; always reaped.
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }

 private:
  ServerProcess(pid_t pid, int stdin_fd, int port) : pid_(pid), stdin_fd_(stdin_fd), port_(port) {}

  pid_t pid_;
  int stdin_fd_;
  int port_;
};

// The directory of this folder's scripts (HERALD_SOURCE_DIR, set by ctest,
// else the compiled-in source path).
std::string ScriptPath(const std::string& name);

// A fresh temporary directory; removed by the caller.
std::string MakeTempDir();

// http_test_server.py, or h2c_test_server.js when `http2` (HTTP/2:
// cleartext prior knowledge, or TLS with ALPN when `tls_cert_file` and
// `tls_key_file` are set): scripted answers, recorded requests.
class ScriptedHttpServer {
 public:
  struct Options {
    bool http2 = false;
    std::string tls_cert_file;
    std::string tls_key_file;
  };
  static absl::StatusOr<std::unique_ptr<ScriptedHttpServer>> Start(const Options& options);
  static absl::StatusOr<std::unique_ptr<ScriptedHttpServer>> Start() { return Start(Options{}); }

  // "http(s)://127.0.0.1:<port><path>".
  std::string Url(const std::string& path) const;
  // Replaces the script: routes {"/path": [{"status", "headers", "body",
  // "delay_ms"}, ...]}; forgets recorded requests.
  absl::Status Script(const nlohmann::json& routes, const std::string& signing_secret = "");
  // The recorded requests (a JSON array).
  absl::StatusOr<nlohmann::json> Requests();

 private:
  ScriptedHttpServer(std::unique_ptr<ServerProcess> process, Options options)
      : process_(std::move(process)), options_(std::move(options)) {}
  absl::StatusOr<std::string> Control(const std::string& path, const std::string& body);

  std::unique_ptr<ServerProcess> process_;
  Options options_;
};

// A loopback port nothing listens on (bound a moment ago, then closed): for
// "connection refused" cases.
int ClosedLoopbackPort();

// A fixture base whose suite shares one scripted HTTP server (`server_`),
// started once for the suite: `class FooTest : public
// WithScriptedServer<FooTest>`.
template <typename Suite>
class WithScriptedServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto server = ScriptedHttpServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static inline ScriptedHttpServer* server_ = nullptr;
};

// An openssl-generated self-signed certificate for 127.0.0.1/localhost.
struct TestCertificate {
  std::string cert_file;
  std::string key_file;
};
absl::StatusOr<TestCertificate> MakeTestCertificate(const std::string& dir);

// smtp_test_server.py: a real aiosmtpd server saving each message.
class SmtpTestServer {
 public:
  struct Options {
    std::string tls_cert;  // Offer STARTTLS with cert and key when set.
    std::string tls_key;
    bool require_starttls = false;
    std::string auth;  // "user:pass" to require AUTH.
  };
  static absl::StatusOr<std::unique_ptr<SmtpTestServer>> Start(const Options& options);
  ~SmtpTestServer();

  int port() const { return process_->port(); }
  // The messages accepted so far, oldest first: {mail_from, rcpt_tos, data,
  // login, tls}.
  std::vector<nlohmann::json> Messages() const;

 private:
  SmtpTestServer(std::unique_ptr<ServerProcess> process, std::string dir)
      : process_(std::move(process)), dir_(std::move(dir)) {}

  std::unique_ptr<ServerProcess> process_;
  std::string dir_;
};

}  // namespace herald::delivery::testing
