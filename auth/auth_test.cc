// API keys without a server: hash parsing, the bearer check and its
// failure counts, the keys file reloaded on change, protected mode's
// address rules and `herald keys new`.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "auth/api_keys.h"
#include "auth/keys_command.h"
#include "auth/protected_mode.h"
#include "core/log.h"
#include "gtest/gtest.h"

namespace herald::auth {
namespace {

constexpr char kKeyA[] = "hrld_key-a";
constexpr char kKeyB[] = "hrld_key-b";

double FailureCount(prometheus::Registry& registry, const std::string& reason) {
  for (const auto& family : registry.Collect()) {
    if (family.name != "herald_auth_failures_total") continue;
    for (const auto& metric : family.metric) {
      if (metric.label.size() == 1 && metric.label[0].value == reason) return metric.counter.value;
    }
  }
  return -1;
}

bool Eventually(const std::function<bool()>& condition) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return condition();
}

TEST(Sha256HexTest, IsTheStandardDigestInLowercaseHex) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ParseKeyHashListTest, TakesCommaSeparatedHashesOfEitherCase) {
  const std::string a = Sha256Hex(kKeyA);
  std::string b = Sha256Hex(kKeyB);
  for (char& c : b) c = static_cast<char>(toupper(c));
  auto parsed = ParseKeyHashList(" " + a + " ,, " + b + " ");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->size(), 2u);
  EXPECT_TRUE(ParseKeyHashList("")->empty());
}

TEST(ParseKeyHashListTest, NamesABadEntryByPositionWithoutEchoingIt) {
  // The usual mistake: the key itself where its hash belongs.
  auto parsed = ParseKeyHashList(Sha256Hex(kKeyA) + "," + kKeyB);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(parsed.status().message(), "--api_keys: entry 2 is not a SHA-256 hash"))
      << parsed.status();
  EXPECT_FALSE(absl::StrContains(parsed.status().message(), kKeyB));
}

TEST(ParseKeysFileTest, SkipsCommentsAndBlankLinesAndKeepsLabels) {
  auto parsed = ParseKeysFile("# rotated 2024-05\n\n" + Sha256Hex(kKeyA) + "  ci deploys\n\t" + Sha256Hex(kKeyB) +
                              "\n   # old\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].label, "ci deploys");
  EXPECT_EQ((*parsed)[1].label, "");
  auto bad = ParseKeysFile(Sha256Hex(kKeyA) + "\n\n" + kKeyB + " web\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StartsWith(bad.status().message(), "line 3 is not a SHA-256 hash")) << bad.status();
  EXPECT_FALSE(absl::StrContains(bad.status().message(), kKeyB));
}

TEST(ApiKeysTest, AcceptsAConfiguredBearerKeyAndCountsEachRefusalByReason) {
  prometheus::Registry registry;
  ApiKeysOptions options;
  options.hashes = Sha256Hex(kKeyA) + "," + Sha256Hex(kKeyB);
  auto keys = ApiKeys::Create(options, registry);
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ((*keys)->size(), 2u);

  auto a = (*keys)->Authenticate(std::string("Bearer ") + kKeyA);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, Sha256Hex(kKeyA));
  EXPECT_EQ(*(*keys)->Authenticate(std::string("bearer  ") + kKeyB), Sha256Hex(kKeyB));

  const std::string basic = std::string("Basic ") + kKeyA;
  for (std::optional<absl::string_view> missing : {std::optional<absl::string_view>(), std::optional<absl::string_view>("Bearer "),
                                                   std::optional<absl::string_view>(basic),
                                                   std::optional<absl::string_view>(kKeyA)}) {
    auto refused = (*keys)->Authenticate(missing);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_FALSE(absl::StrContains(refused.status().message(), kKeyA)) << refused.status();
  }
  const std::string wrong = "hrld_not-a-configured-key";
  auto refused = (*keys)->Authenticate("Bearer " + wrong);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(absl::StrContains(refused.status().message(), wrong)) << refused.status();
  // A prefix of a valid key is no valid key.
  EXPECT_FALSE((*keys)->Authenticate(std::string("Bearer hrld_key-")).ok());

  EXPECT_EQ(FailureCount(registry, "missing"), 4);
  EXPECT_EQ(FailureCount(registry, "invalid"), 2);
}

class KeysFileTest : public ::testing::Test {
 protected:
  void Write(const std::string& text) {
    // Replaced whole (rename), as a careful operator or a Secret mount does.
    std::ofstream(path_ + ".tmp") << text;
    std::filesystem::rename(path_ + ".tmp", path_);
  }
  std::string path_ = ::testing::TempDir() + "/herald-keys-" + std::to_string(getpid());
  prometheus::Registry registry_;
};

TEST_F(KeysFileTest, ARemovedKeyIsRefusedAndAnAddedOneAcceptedWithoutARestart) {
  Write(Sha256Hex(kKeyA) + " ci\n");
  ApiKeysOptions options;
  options.file = path_;
  options.reload_interval = absl::Milliseconds(10);
  auto created = ApiKeys::Create(options, registry_);
  ASSERT_TRUE(created.ok()) << created.status();
  ApiKeys& keys = **created;
  EXPECT_TRUE(keys.Authenticate(std::string("Bearer ") + kKeyA).ok());
  EXPECT_FALSE(keys.Authenticate(std::string("Bearer ") + kKeyB).ok());

  Write("# rotated: a revoked\n" + Sha256Hex(kKeyB) + " ci\n");
  EXPECT_TRUE(Eventually([&] { return keys.Authenticate(std::string("Bearer ") + kKeyB).ok(); }));
  EXPECT_FALSE(keys.Authenticate(std::string("Bearer ") + kKeyA).ok());

  // A file that does not parse (half written, a key pasted in) keeps the
  // keys that were accepted before it.
  Write(Sha256Hex(kKeyB) + "\n" + kKeyA + "\n");
  const int64_t checks = keys.FileChecksForTest();
  ASSERT_TRUE(Eventually([&] { return keys.FileChecksForTest() >= checks + 2; }));
  EXPECT_TRUE(keys.Authenticate(std::string("Bearer ") + kKeyB).ok());
  EXPECT_FALSE(keys.Authenticate(std::string("Bearer ") + kKeyA).ok());
  EXPECT_EQ(keys.size(), 1u);

  // Every key revoked: every call is refused (no key is not "open").
  Write("# nobody\n");
  EXPECT_TRUE(Eventually([&] { return keys.size() == 0; }));
  EXPECT_FALSE(keys.Authenticate(std::string("Bearer ") + kKeyB).ok());
  std::filesystem::remove(path_);
}

TEST_F(KeysFileTest, AnUnreadableOrMalformedFileStopsTheStartNamingTheFlag) {
  ApiKeysOptions options;
  options.file = path_ + "-missing";
  auto missing = ApiKeys::Create(options, registry_);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::StartsWith(missing.status().message(), "--api_keys_file: cannot read")) << missing.status();

  Write(std::string(kKeyA) + "\n");
  options.file = path_;
  auto malformed = ApiKeys::Create(options, registry_);
  ASSERT_FALSE(malformed.ok());
  EXPECT_TRUE(absl::StrContains(malformed.status().message(), "--api_keys_file: ")) << malformed.status();
  EXPECT_TRUE(absl::StrContains(malformed.status().message(), "line 1 is not a SHA-256 hash")) << malformed.status();
  EXPECT_FALSE(absl::StrContains(malformed.status().message(), kKeyA));
  std::filesystem::remove(path_);
}

TEST(ProtectedModeTest, LoopbackAddressesAreTheOnesOnlyThisHostReaches) {
  for (const char* address : {"127.0.0.1:50051", "127.8.9.10:1", "localhost:50051", "LOCALHOST:1", "[::1]:50051",
                              "ipv4:127.0.0.1:50051", "dns:///localhost:50051", "unix:/run/herald.sock",
                              "[::ffff:127.0.0.1]:50051"}) {
    EXPECT_TRUE(IsLoopbackAddress(address)) << address;
  }
  for (const char* address : {"0.0.0.0:50051", "[::]:50051", ":50051", "10.0.0.5:50051", "herald.internal:50051",
                              "128.0.0.1:1", "[::2]:50051", "dns:///herald:50051", "[::1:50051"}) {
    EXPECT_FALSE(IsLoopbackAddress(address)) << address;
  }
}

TEST(ProtectedModeTest, WithoutKeysOnlyLoopbackOrAnExplicitFlagStarts) {
  std::vector<std::string> lines;
  log::SetSinkForTest([&lines](absl::string_view line) { lines.emplace_back(line); });
  EXPECT_TRUE(CheckUnauthenticatedListener("--grpc_address", "0.0.0.0:50051", true, false).ok());
  EXPECT_TRUE(lines.empty());

  EXPECT_TRUE(CheckUnauthenticatedListener("--grpc_address", "127.0.0.1:50051", false, false).ok());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(absl::StrContains(lines[0], R"("level":"warning")")) << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[0], "no API key configured")) << lines[0];

  absl::Status refused = CheckUnauthenticatedListener("--delivery_address", "0.0.0.0:50061", false, false);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(refused.message(), "--delivery_address 0.0.0.0:50061 is reachable from other hosts"))
      << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "--api_keys")) << refused;
  EXPECT_EQ(lines.size(), 1u);

  EXPECT_TRUE(CheckUnauthenticatedListener("--grpc_address", "0.0.0.0:50051", false, true).ok());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(absl::StrContains(lines[1], "--allow_unauthenticated")) << lines[1];
  log::SetSinkForTest(nullptr);
}

TEST(KeysCommandTest, NewPrintsAFreshKeyAndTheHashOfExactlyThatKey) {
  std::ostringstream out, err;
  ASSERT_EQ(RunKeysCommand({"new"}, out, err), 0) << err.str();
  std::vector<std::string> lines = absl::StrSplit(out.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << out.str();
  ASSERT_TRUE(absl::StartsWith(lines[0], "key:  hrld_")) << lines[0];
  ASSERT_TRUE(absl::StartsWith(lines[1], "hash: ")) << lines[1];
  const std::string key = lines[0].substr(6);
  EXPECT_EQ(lines[1].substr(6), Sha256Hex(key));
  // 32 random bytes as unpadded URL-safe base64, after the prefix.
  EXPECT_EQ(key.size(), 5u + 43u);
  EXPECT_EQ(key.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", 5),
            std::string::npos);

  auto other = MakeApiKey();
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->key, key);

  std::ostringstream usage;
  EXPECT_EQ(RunKeysCommand({}, out, usage), 2);
  EXPECT_EQ(RunKeysCommand({"list"}, out, usage), 2);
  EXPECT_TRUE(absl::StrContains(usage.str(), "usage: herald keys new"));
}

}  // namespace
}  // namespace herald::auth
