// The herald binary's settings and logs as an operator meets them: a bad
// setting from each source stops it with exit code 2 and a message naming
// the setting and the source; precedence and redaction as `herald flags`
// prints them; the README's table is the flag registry's; a running
// Herald's stderr is JSON lines, gRPC's own lines included.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/herald_process.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

// `herald args...` with this process's environment minus every HERALD_*
// variable, plus `environment`.
class Herald : public testing::HeraldProcess {
 public:
  Herald(std::vector<std::string> args, std::map<std::string, std::string> environment)
      : HeraldProcess(std::move(args), Options(std::move(environment))) {}

 private:
  static testing::HeraldProcessOptions Options(std::map<std::string, std::string> environment) {
    testing::HeraldProcessOptions options;
    options.env = std::move(environment);
    options.drop_herald_env = true;
    return options;
  }
};

// The messages of the error lines of `herald`'s stderr.
std::vector<std::string> ErrorMessages(const Herald& herald) {
  std::vector<std::string> messages;
  for (const json& line : herald.JsonLines()) {
    if (line.value("level", "") == "error") messages.push_back(line.value("message", ""));
  }
  return messages;
}

const std::regex kTimeFormat(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");

TEST(ConfigurationTest, BadFlagStopsHeraldWithExitCode2) {
  Herald herald({"api", "--partitions=abc"}, {});
  ASSERT_EQ(herald.ExitCode(), 2) << herald.err();
  EXPECT_THAT(ErrorMessages(herald),
              ::testing::ElementsAre(
                  "--partitions=abc: invalid value for --partitions (expected a 32-bit whole number)"));
  EXPECT_EQ(herald.out(), "");
}

TEST(ConfigurationTest, BadEnvironmentVariableStopsHeraldWithExitCode2) {
  Herald herald({"api"}, {{"HERALD_PARTITIONS", "abc"}});
  ASSERT_EQ(herald.ExitCode(), 2) << herald.err();
  EXPECT_THAT(ErrorMessages(herald),
              ::testing::ElementsAre(
                  "HERALD_PARTITIONS=abc: invalid value for --partitions (expected a 32-bit whole number)"));
}

TEST(ConfigurationTest, BadConfigFileStopsHeraldWithExitCode2) {
  const std::string dir = testing::MakeTempDir("herald-config-");
  const std::string config = testing::WriteFile(dir, "config.yaml", "partitons: 4\nlog_level: loud\n");
  Herald herald({"api"}, {{"HERALD_CONFIG", config}});
  ASSERT_EQ(herald.ExitCode(), 2) << herald.err();
  EXPECT_THAT(ErrorMessages(herald),
              ::testing::ElementsAre(
                  config + ":1: unknown setting 'partitons' (did you mean 'partitions'?)",
                  config + ":2: log_level=loud: invalid value for --log_level ('loud' is not one of debug, info, "
                           "warning, error)"));
}

TEST(ConfigurationTest, OutOfRangeSettingNamesWhereItCameFrom) {
  // Parses, but Herald refuses it at start: still exit code 2, and the
  // message says which source to fix.
  Herald herald({"api", "--log_format=text"}, {{"HERALD_PARTITIONS", "0"}});
  ASSERT_EQ(herald.ExitCode(), 2) << herald.err();
  EXPECT_THAT(herald.err(), ::testing::ContainsRegex(
                                "\\S+Z ERROR herald: --partitions: must be between 1 and 1024 \\(set by "
                                "HERALD_PARTITIONS\\) code=INVALID_ARGUMENT\n"));
}

TEST(ConfigurationTest, UnknownHeraldVariableIsAWarningNotAFailure) {
  Herald herald({"flags"}, {{"HERALD_PARTITONS", "8"}, {"HERALD_API_KEY", "heraldctl's"}});
  ASSERT_EQ(herald.ExitCode(), 0) << herald.err();
  std::vector<json> lines = herald.JsonLines();
  ASSERT_EQ(lines.size(), 1u) << herald.err();
  EXPECT_EQ(lines[0]["level"], "warning");
  EXPECT_EQ(lines[0]["component"], "settings");
  EXPECT_EQ(lines[0]["message"],
            "HERALD_PARTITONS is not a Herald setting; ignored (did you mean HERALD_PARTITIONS?)");
  EXPECT_THAT(herald.out(), ::testing::ContainsRegex("\n--partitions=4 +default\n"));
}

TEST(ConfigurationTest, CommandLineBeatsEnvironmentBeatsConfigFileAndSecretsStayHidden) {
  const std::string dir = testing::MakeTempDir("herald-config-");
  const std::string config = testing::WriteFile(dir, "herald.yaml",
                                       "partitions: 5\nbatcher_threads: 3\nfanout_threads: 3\n"
                                       "redis: redis://app:file-secret@db:1\nchannels: [email, sms]\n");
  Herald herald({"flags", "--config=" + config, "--partitions=7"},
                {{"HERALD_PARTITIONS", "6"},
                 {"HERALD_FANOUT_THREADS", "4"},
                 {"HERALD_REDIS_URL", "redis://app:env-secret@db:2"}});
  ASSERT_EQ(herald.ExitCode(), 0) << herald.err();
  const std::string& out = herald.out();
  EXPECT_THAT(out, ::testing::ContainsRegex("\n--partitions=7 +command line\n"));
  EXPECT_THAT(out, ::testing::ContainsRegex("\n--fanout_threads=4 +HERALD_FANOUT_THREADS\n"));
  EXPECT_THAT(out, ::testing::ContainsRegex("\n--batcher_threads=3 +" + config + "\n"));
  EXPECT_THAT(out, ::testing::ContainsRegex("\n--channels=email,sms +" + config + "\n"));
  EXPECT_THAT(out, ::testing::ContainsRegex("\n--redis=redis://app:<redacted>@db:2 +HERALD_REDIS_URL\n"));
  EXPECT_THAT(out, ::testing::ContainsRegex("\n--config=" + config + " +command line\n"));
  EXPECT_THAT(out + herald.err(), Not(HasSubstr("secret@")));
}

TEST(ConfigurationTest, ReadmeTableIsTheFlagRegistry) {
  Herald herald({"flags", "--markdown"}, {});
  ASSERT_EQ(herald.ExitCode(), 0) << herald.err();
  const std::string text = testing::ReadFile(testing::SourcePath("README.md"));
  const std::string begin =
      "<!-- settings table: generated by scripts/settings-table from `herald flags --markdown`; do not edit -->\n";
  const std::string end = "<!-- end of settings table -->\n";
  const size_t from = text.find(begin);
  const size_t to = text.find(end);
  ASSERT_NE(from, std::string::npos) << "README.md lost the settings table's begin marker";
  ASSERT_NE(to, std::string::npos) << "README.md lost the settings table's end marker";
  const std::string table = text.substr(from + begin.size(), to - from - begin.size());
  EXPECT_EQ(table, herald.out())
      << "README.md's settings table differs from `herald flags --markdown`: a flag was added or changed. "
         "Regenerate the table with scripts/settings-table and commit README.md.";
  EXPECT_THAT(herald.out(), HasSubstr("| `--partitions` | `HERALD_PARTITIONS` | `4` |"));
}

TEST(ConfigurationTest, RunningHeraldLogsJsonLines) {
  const std::string dir = testing::MakeTempDir("herald-logs-");
  Herald herald({"all", "--data_dir=" + dir, "--workflows=" + testing::SourcePath("examples/workflows"),
                 "--grpc_address=127.0.0.1:0", "--metrics_address="},
                {});
  const int port = herald.WaitForPort(absl::Seconds(30));
  ASSERT_NE(port, 0) << herald.Log();
  herald.Signal(SIGTERM);
  ASSERT_EQ(herald.ExitCode(), 0) << herald.err();

  std::vector<std::string> messages;
  for (const json& line : herald.JsonLines()) {
    ASSERT_TRUE(line.contains("time") && line.contains("level") && line.contains("component") &&
                line.contains("message"))
        << line.dump();
    EXPECT_TRUE(std::regex_match(line["time"].get<std::string>(), kTimeFormat)) << line.dump();
    if (line["component"] != "herald") continue;
    messages.push_back(line["message"]);
    if (line["message"] == "started") {
      EXPECT_EQ(line["grpc_port"], port) << line.dump();
      EXPECT_EQ(line["roles"], "all");
    }
    if (line["message"] == "starting") {
      EXPECT_THAT(line["settings"].get<std::string>(), HasSubstr("--grpc_address=127.0.0.1:0 (command line)"));
    }
  }
  ASSERT_GE(messages.size(), 6u) << herald.err();
  EXPECT_EQ(messages[0], "starting");
  EXPECT_EQ(messages[1], "open-file limit raised");
  EXPECT_EQ(messages[2], "started");
  EXPECT_THAT(messages[3], ::testing::StartsWith("SIGTERM: draining"));
  EXPECT_THAT(messages[messages.size() - 2], ::testing::StartsWith("drain: finished in "));
  EXPECT_EQ(messages.back(), "stopped");
}

TEST(ConfigurationTest, GrpcLinesAreJsonLinesToo) {
  // A port already taken by the delivery service's listener (gRPC's own;
  // --grpc_address has Herald's accept loop, which binds without gRPC):
  // gRPC logs why it cannot bind, then Herald gives up.
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string taken = absl::StrCat("127.0.0.1:", ntohs(address.sin_port));

  const std::string dir = testing::MakeTempDir("herald-logs-");
  Herald herald({"delivery", "--data_dir=" + dir, "--grpc_address=127.0.0.1:0", "--delivery_address=" + taken,
                 "--metrics_address="},
                {});
  EXPECT_EQ(herald.ExitCode(), 1) << herald.err();
  close(listener);
  bool grpc_line = false;
  for (const json& line : herald.JsonLines()) {
    if (line["component"] != "grpc") continue;
    grpc_line = true;
    EXPECT_EQ(line["level"], "error");
    EXPECT_THAT(line["message"].get<std::string>(), HasSubstr("Address already in use"));
    EXPECT_THAT(line["source"].get<std::string>(), ::testing::MatchesRegex("[a-z0-9_]+\\.cc:[0-9]+"));
  }
  EXPECT_TRUE(grpc_line) << herald.err();
  EXPECT_THAT(ErrorMessages(herald).back(),
              HasSubstr("--delivery_address " + taken + ": cannot listen (set on the command line)"));
}

}  // namespace
}  // namespace herald
