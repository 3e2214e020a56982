#include "auth/protected_mode.h"

#include <arpa/inet.h>

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/log.h"

namespace herald::auth {

bool IsLoopbackAddress(absl::string_view address) {
  if (absl::StartsWith(address, "unix:") || absl::StartsWith(address, "unix-abstract:")) return true;
  if (!absl::ConsumePrefix(&address, "dns:///")) {
    absl::ConsumePrefix(&address, "dns:");
    absl::ConsumePrefix(&address, "ipv4:");
    absl::ConsumePrefix(&address, "ipv6:");
  }
  std::string host;
  if (absl::StartsWith(address, "[")) {
    const size_t close = address.find(']');
    if (close == absl::string_view::npos) return false;
    host = std::string(address.substr(1, close - 1));
  } else {
    const size_t colon = address.rfind(':');
    host = std::string(colon == absl::string_view::npos ? address : address.substr(0, colon));
  }
  if (absl::AsciiStrToLower(host) == "localhost") return true;
  unsigned char bytes[16];
  if (inet_pton(AF_INET, host.c_str(), bytes) == 1) return bytes[0] == 127;
  if (inet_pton(AF_INET6, host.c_str(), bytes) == 1) {
    static const unsigned char kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char kMappedV4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(bytes, bytes + 16, kLoopback)) return true;
    return std::equal(bytes, bytes + 12, kMappedV4) && bytes[12] == 127;
  }
  return false;
}

absl::Status CheckUnauthenticatedListener(absl::string_view flag, absl::string_view address, bool keys_configured,
                                          bool allow_unauthenticated) {
  if (keys_configured) return absl::OkStatus();
  if (IsLoopbackAddress(address)) {
    log::Warning("auth", "no API key configured (--api_keys, --api_keys_file): every caller on this host is served",
                 {{"setting", flag}, {"address", address}});
    return absl::OkStatus();
  }
  if (allow_unauthenticated) {
    log::Warning("auth", "--allow_unauthenticated: every caller is served, without an API key",
                 {{"setting", flag}, {"address", address}});
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      flag, " ", address,
      " is reachable from other hosts and no API key is configured: set --api_keys or --api_keys_file "
      "(HERALD_API_KEYS, HERALD_API_KEYS_FILE; `herald keys new` makes a key), or listen on a loopback address, "
      "or pass --allow_unauthenticated to serve every caller"));
}

}  // namespace herald::auth
