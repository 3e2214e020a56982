// Test servers: process control and the HTTP control channel.
#include "services/delivery/providers/testing/test_servers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "services/delivery/providers/curl_handles.h"

namespace herald::delivery::testing {

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(const std::vector<std::string>& argv,
                                                                    absl::Duration deadline) {
  int to_child[2], from_child[2];
  if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) {
    return absl::InternalError("pipe failed");
  }
  // Built before fork: the child of a threaded process only execs.
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    dup2(to_child[0], STDIN_FILENO);
    dup2(from_child[1], STDOUT_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  std::string output;
  const absl::Time until = absl::Now() + deadline;
  int port = 0;
  while (port == 0 && absl::Now() < until) {
    pollfd fd{from_child[0], POLLIN, 0};
    const int wait_ms = static_cast<int>(absl::ToInt64Milliseconds(until - absl::Now()));
    if (poll(&fd, 1, std::max(wait_ms, 1)) <= 0) continue;
    char buffer[256];
    const ssize_t n = read(from_child[0], buffer, sizeof(buffer));
    if (n <= 0) break;  // The child exited.
    output.append(buffer, static_cast<size_t>(n));
    const size_t line_end = output.find('\n');
    if (line_end != std::string::npos && absl::StartsWith(output, "PORT ")) {
      if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(output.substr(5, line_end - 5)), &port)) break;
    }
  }
  close(from_child[0]);
  std::unique_ptr<ServerProcess> process(new ServerProcess(pid, to_child[1], port));
  if (port == 0) return absl::UnavailableError(absl::StrCat(argv[0], " ", argv.size() > 1 ? argv[1] : "",
                                                            " did not report a port: ", output));
  return process;
}

ServerProcess::~ServerProcess() {
  close(stdin_fd_);
  kill(pid_, SIGTERM);
  for (int i = 0; i < 200; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    usleep(10'000);
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

std::string ScriptPath(const std::string& name) {
  const char* source = std::getenv("HERALD_SOURCE_DIR");
  const std::string root = source != nullptr ? source : HERALD_TEST_SOURCE_DIR;
  return absl::StrCat(root, "/services/delivery/providers/testing/", name);
}

int ClosedLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return 0;
  }
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

std::string MakeTempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "herald-delivery-XXXXXX").string();
  return mkdtemp(pattern.data()) != nullptr ? pattern : "";
}

absl::StatusOr<std::unique_ptr<ScriptedHttpServer>> ScriptedHttpServer::Start(const Options& options) {
  std::vector<std::string> argv = options.http2
                                      ? std::vector<std::string>{"/usr/bin/node", ScriptPath("h2c_test_server.js")}
                                      : std::vector<std::string>{"/usr/bin/python3", ScriptPath("http_test_server.py")};
  if (!options.tls_cert_file.empty()) argv.insert(argv.end(), {"--tls", options.tls_cert_file, options.tls_key_file});
  auto process = ServerProcess::Start(argv);
  if (!process.ok()) return process.status();
  return std::unique_ptr<ScriptedHttpServer>(new ScriptedHttpServer(*std::move(process), options));
}

std::string ScriptedHttpServer::Url(const std::string& path) const {
  return absl::StrCat(options_.tls_cert_file.empty() ? "http" : "https", "://127.0.0.1:", process_->port(), path);
}

absl::StatusOr<std::string> ScriptedHttpServer::Control(const std::string& path, const std::string& body) {
  CurlEasy easy = NewCurlEasy();
  std::string answer;
  const std::string url = Url(path);
  curl_easy_setopt(easy.get(), CURLOPT_URL, url.c_str());
  if (!body.empty()) curl_easy_setopt(easy.get(), CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(easy.get(), CURLOPT_TIMEOUT_MS, 10'000L);
  if (!options_.tls_cert_file.empty()) {
    curl_easy_setopt(easy.get(), CURLOPT_CAINFO, options_.tls_cert_file.c_str());
  } else if (options_.http2) {
    curl_easy_setopt(easy.get(), CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
  }
  curl_easy_setopt(easy.get(), CURLOPT_WRITEFUNCTION,
                   +[](char* data, size_t size, size_t count, void* out) {
                     static_cast<std::string*>(out)->append(data, size * count);
                     return size * count;
                   });
  curl_easy_setopt(easy.get(), CURLOPT_WRITEDATA, &answer);
  const CURLcode code = curl_easy_perform(easy.get());
  if (code != CURLE_OK) return absl::UnavailableError(absl::StrCat(path, ": ", curl_easy_strerror(code)));
  long status = 0;
  curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) return absl::InternalError(absl::StrCat(path, ": http ", status, ": ", answer));
  return answer;
}

absl::Status ScriptedHttpServer::Script(const nlohmann::json& routes, const std::string& signing_secret) {
  return Control("/_script", nlohmann::json{{"routes", routes}, {"signing_secret", signing_secret}}.dump()).status();
}

absl::StatusOr<nlohmann::json> ScriptedHttpServer::Requests() {
  auto answer = Control("/_requests", "");
  if (!answer.ok()) return answer.status();
  nlohmann::json parsed = nlohmann::json::parse(*answer, nullptr, false);
  if (!parsed.is_array()) return absl::InternalError(absl::StrCat("bad /_requests answer: ", *answer));
  return parsed;
}

absl::StatusOr<TestCertificate> MakeTestCertificate(const std::string& dir) {
  TestCertificate cert{dir + "/cert.pem", dir + "/key.pem"};
  const std::string command = absl::StrCat(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout ",
      cert.key_file, " -out ", cert.cert_file, " >/dev/null 2>&1");
  if (std::system(command.c_str()) != 0) return absl::InternalError("openssl req failed");
  return cert;
}

absl::StatusOr<std::unique_ptr<SmtpTestServer>> SmtpTestServer::Start(const Options& options) {
  std::string dir = MakeTempDir();
  std::vector<std::string> argv = {"/usr/bin/python3", ScriptPath("smtp_test_server.py"), "--dir", dir};
  if (!options.tls_cert.empty()) argv.insert(argv.end(), {"--tls", options.tls_cert, options.tls_key});
  if (options.require_starttls) argv.push_back("--require-starttls");
  if (!options.auth.empty()) argv.insert(argv.end(), {"--auth", options.auth});
  auto process = ServerProcess::Start(argv);
  if (!process.ok()) return process.status();
  return std::unique_ptr<SmtpTestServer>(new SmtpTestServer(*std::move(process), std::move(dir)));
}

SmtpTestServer::~SmtpTestServer() {
  process_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::vector<nlohmann::json> SmtpTestServer::Messages() const {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  std::vector<nlohmann::json> messages;
  for (const std::string& file : files) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    messages.push_back(nlohmann::json::parse(text.str(), nullptr, false));
  }
  return messages;
}

}  // namespace herald::delivery::testing
