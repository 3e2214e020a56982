// Redis addresses: parsing redis:// URLs (with an optional user and
// password), the password file, and printing an endpoint without secrets.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "redis/client.h"

namespace herald::redis {
namespace {

// The address as errors may show it: a password between "://user:" and
// "@" becomes "***".
std::string Redacted(absl::string_view address) {
  const size_t scheme = address.find("://");
  const size_t from = scheme == absl::string_view::npos ? 0 : scheme + 3;
  const size_t at = address.rfind('@');
  if (at == absl::string_view::npos || at < from) return std::string(address);
  const size_t colon = address.find(':', from);
  if (colon == absl::string_view::npos || colon > at) return std::string(address);
  return absl::StrCat(address.substr(0, colon + 1), "***", address.substr(at));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 percent-decoding ("p%40ss" is "p@ss"); the message never shows
// the text, which may be a password.
absl::StatusOr<std::string> PercentDecode(absl::string_view text, absl::string_view what) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    const int high = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
    const int low = high >= 0 ? HexValue(text[i + 2]) : -1;
    if (low < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("redis address: bad percent-encoding in the ", what, " (a '%' must start %XX)"));
    }
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

}  // namespace

std::string Endpoint::ToString() const {
  if (!unix_socket.empty()) return absl::StrCat("unix://", unix_socket);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<Endpoint> ParseEndpoint(const std::string& address) {
  absl::string_view rest = address;
  Endpoint endpoint;
  if (absl::ConsumePrefix(&rest, "unix://") || absl::StartsWith(rest, "/")) {
    if (rest.empty()) return absl::InvalidArgumentError("redis address: empty unix socket path");
    endpoint.unix_socket = std::string(rest);
    return endpoint;
  }
  if (absl::StartsWithIgnoreCase(rest, "rediss://")) {
    return absl::InvalidArgumentError(
        "redis address: rediss:// (TLS) is not supported: Debian's hiredis 0.14 has no TLS; reach a TLS-only Redis "
        "through a local TLS tunnel (README, \"Security: TLS and Redis authentication\")");
  }
  const bool url = absl::ConsumePrefix(&rest, "redis://");
  const size_t at = rest.rfind('@');
  if (at != absl::string_view::npos) {
    if (!url) {
      return absl::InvalidArgumentError(absl::StrCat("redis address: a user or password needs the redis:// form ",
                                                     "(redis://user:password@host:port), not '", Redacted(address),
                                                     "'"));
    }
    const absl::string_view userinfo = rest.substr(0, at);
    const size_t colon = userinfo.find(':');
    auto username = PercentDecode(userinfo.substr(0, colon), "user");
    if (!username.ok()) return username.status();
    endpoint.username = std::move(*username);
    if (colon != absl::string_view::npos) {
      auto password = PercentDecode(userinfo.substr(colon + 1), "password");
      if (!password.ok()) return password.status();
      endpoint.password = std::move(*password);
    }
    rest.remove_prefix(at + 1);
  }
  // "redis://host:port/0": tools write the database; Herald uses database
  // 0 only (Redis Cluster has no other).
  if (url) {
    const size_t slash = rest.find('/');
    if (slash != absl::string_view::npos) {
      const absl::string_view database = rest.substr(slash + 1);
      if (!database.empty() && database != "0") {
        return absl::InvalidArgumentError(absl::StrCat("redis address: database ", database, " in '",
                                                       Redacted(address),
                                                       "': Herald uses database 0 only (Redis Cluster has no other)"));
      }
      rest = rest.substr(0, slash);
    }
  }
  const size_t colon = rest.rfind(':');
  if (colon == absl::string_view::npos) {
    endpoint.host = std::string(rest);
    endpoint.port = 6379;
  } else {
    endpoint.host = std::string(rest.substr(0, colon));
    if (!absl::SimpleAtoi(rest.substr(colon + 1), &endpoint.port) || endpoint.port <= 0 || endpoint.port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("redis address: bad port in '", Redacted(address), "'"));
    }
  }
  if (endpoint.host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("redis address: no host in '", Redacted(address), "'"));
  }
  return endpoint;
}

absl::StatusOr<Endpoint> EndpointFromFlags(const std::string& address, const std::string& password_file) {
  auto endpoint = ParseEndpoint(address);
  if (!endpoint.ok()) return absl::InvalidArgumentError(absl::StrCat("--redis: ", endpoint.status().message()));
  if (!password_file.empty()) {
    std::ifstream in(password_file, std::ios::binary);
    if (!in) {
      return absl::InvalidArgumentError(
          absl::StrCat("--redis_password_file ", password_file, ": cannot read: ", std::strerror(errno)));
    }
    std::stringstream text;
    text << in.rdbuf();
    // `echo secret > file` and Kubernetes secrets made from such files end
    // in a newline that is not part of the password.
    std::string password = text.str();
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) password.pop_back();
    if (password.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--redis_password_file ", password_file, ": empty"));
    }
    if (password.find('\n') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--redis_password_file ", password_file, ": more than one line (the file holds the password only)"));
    }
    endpoint->password = std::move(password);
  }
  if (!endpoint->username.empty() && endpoint->password.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--redis: user '", endpoint->username,
                                                   "' has no password: redis://user:password@host:port, or "
                                                   "--redis_password_file"));
  }
  return endpoint;
}

}  // namespace herald::redis
