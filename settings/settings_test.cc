// settings::Apply on flags defined here (as any module of the binary would
// define them): every source, the precedence between them, the messages
// for bad values, secrets kept out of every dump, and gRPC's log lines.
#include "settings/settings.h"

#include <grpc/support/log.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "core/log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "settings/grpc_log.h"

ABSL_FLAG(int, test_partitions, 4, "Partitions (a | in the help is escaped in the table)");
ABSL_FLAG(bool, test_enabled, true, "A switch");
ABSL_FLAG(std::string, test_address, "127.0.0.1:1", "An address");
ABSL_FLAG(int64_t, test_interval_ms, 10000, "An interval");
ABSL_FLAG(std::vector<std::string>, test_channels, {}, "A list");
ABSL_FLAG(std::string, test_redis_password, "", "A secret");
ABSL_FLAG(int, test_secret_pin, 0, "A secret that can fail to parse");
ABSL_FLAG(std::string, test_password_file, "", "A file holding a secret: its path is not secret");

namespace herald::settings {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

class SettingsTest : public ::testing::Test {
 protected:
  // Applies `args` (after argv[0]) with exactly `environment`.
  Applied Run(std::vector<std::string> args, std::map<std::string, std::string> environment = {}) {
    args.insert(args.begin(), "herald");
    options_.environment = std::move(environment);
    return Apply(args, options_);
  }

  std::string WriteConfig(const std::string& name, const std::string& text) {
    std::string path = ::testing::TempDir() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  // Every test starts from the defaults (absl::FlagSaver would do, but
  // logs every restored flag).
  void SetUp() override { ResetToDefaults(); }
  void TearDown() override { ResetToDefaults(); }
  static void ResetToDefaults() {
    for (const auto& [name, flag] : absl::GetAllFlags()) {
      std::string error;
      if (!IsSetting(*flag)) continue;
      ASSERT_TRUE(flag->ParseFrom(flag->DefaultValue(), &error)) << error;
    }
  }

  Options options_{.aliases = {{"HERALD_TEST_ADDR", "test_address"}},
                   .other_variables = {"HERALD_API_KEY", "HERALD_CHANNEL_*"},
                   .environment = std::nullopt};
};

TEST_F(SettingsTest, CommandLineBeatsEnvironmentBeatsFileBeatsDefault) {
  std::string config = WriteConfig("precedence.yaml",
                                   "test_partitions: 1\ntest_address: from-file\ntest_interval_ms: 1\n"
                                   "test_channels: [email, sms]\n");
  Applied applied = Run({"--config=" + config, "--test_partitions=3"},
                        {{"HERALD_TEST_PARTITIONS", "2"}, {"HERALD_TEST_INTERVAL_MS", "5"}});
  EXPECT_THAT(applied.errors, IsEmpty());
  EXPECT_EQ(absl::GetFlag(FLAGS_test_partitions), 3);
  EXPECT_EQ(Origin("test_partitions"), "command line");
  EXPECT_EQ(absl::GetFlag(FLAGS_test_interval_ms), 5);
  EXPECT_EQ(Origin("test_interval_ms"), "HERALD_TEST_INTERVAL_MS");
  EXPECT_EQ(absl::GetFlag(FLAGS_test_address), "from-file");
  EXPECT_EQ(Origin("test_address"), config);
  EXPECT_THAT(absl::GetFlag(FLAGS_test_channels), ElementsAre("email", "sms"));
  EXPECT_TRUE(absl::GetFlag(FLAGS_test_enabled));
  EXPECT_EQ(Origin("test_enabled"), "default");
}

TEST_F(SettingsTest, ConfigFileCanComeFromTheEnvironment) {
  std::string config = WriteConfig("from_env.yaml", "test_partitions: 9\n");
  Applied applied = Run({}, {{"HERALD_CONFIG", config}});
  EXPECT_THAT(applied.errors, IsEmpty());
  EXPECT_EQ(absl::GetFlag(FLAGS_test_partitions), 9);
  // The command line's --config wins over HERALD_CONFIG, as for any setting.
  std::string other = WriteConfig("from_flag.yaml", "test_partitions: 10\n");
  applied = Run({"--config", other}, {{"HERALD_CONFIG", config}});
  EXPECT_THAT(applied.errors, IsEmpty());
  EXPECT_EQ(absl::GetFlag(FLAGS_test_partitions), 10);
}

TEST_F(SettingsTest, EachBadValueIsNamedWithItsSource) {
  std::string config = WriteConfig("bad.yaml", "test_enabled: true\ntest_partitions: abc\ntest_partitons: 4\n");
  Applied applied = Run({"--config=" + config, "--test_interval_ms=soon"}, {{"HERALD_TEST_ENABLED", "maybe"}});
  EXPECT_THAT(applied.errors,
              ElementsAre(config + ":2: test_partitions=abc: invalid value for --test_partitions (expected a 32-bit "
                                   "whole number)",
                          config + ":3: unknown setting 'test_partitons' (did you mean 'test_partitions'?)",
                          "HERALD_TEST_ENABLED=maybe: invalid value for --test_enabled (expected true or false)",
                          "--test_interval_ms=soon: invalid value for --test_interval_ms (expected a 64-bit whole "
                          "number)"));
}

TEST_F(SettingsTest, ConfigFileShapeErrors) {
  EXPECT_THAT(Run({"--config=/nonexistent/herald.yaml"}).errors,
              ElementsAre("/nonexistent/herald.yaml: cannot read the config file (No such file or directory)"));
  std::string list = WriteConfig("list.yaml", "- test_partitions\n");
  EXPECT_THAT(Run({"--config=" + list}).errors,
              ElementsAre(list + ": expected a mapping of setting name to value"));
  std::string nested = WriteConfig("nested.yaml", "test_address: {host: x}\nconfig: other.yaml\n");
  EXPECT_THAT(Run({"--config=" + nested}).errors,
              ElementsAre(nested + ":1: test_address: expected a value or a list, not a mapping",
                          nested + ":2: 'config' cannot be set in a config file"));
  std::string broken = WriteConfig("broken.yaml", "test_partitions: [1,\n");
  ASSERT_EQ(Run({"--config=" + broken}).errors.size(), 1u);
  EXPECT_THAT(Run({"--config=" + broken}).errors[0], HasSubstr(broken + ":"));
  EXPECT_THAT(Run({"--config=" + broken}).errors[0], HasSubstr("not valid YAML"));
  // An empty file sets nothing; `key:` with no value is the empty string.
  std::string empty = WriteConfig("empty.yaml", "");
  EXPECT_THAT(Run({"--config=" + empty}).errors, IsEmpty());
  std::string blank = WriteConfig("blank.yaml", "test_address:\n");
  EXPECT_THAT(Run({"--config=" + blank}).errors, IsEmpty());
  EXPECT_EQ(absl::GetFlag(FLAGS_test_address), "");
}

TEST_F(SettingsTest, CommandLineSyntaxIsAbsls) {
  Applied applied = Run({"all", "--test_partitions", "7", "--notest_enabled", "-test_address=x", "api",
                         "--test_channels=a,b", "--", "--not-a-flag"});
  EXPECT_THAT(applied.errors, IsEmpty());
  EXPECT_THAT(applied.positional, ElementsAre("herald", "all", "api", "--not-a-flag"));
  EXPECT_EQ(absl::GetFlag(FLAGS_test_partitions), 7);
  EXPECT_FALSE(absl::GetFlag(FLAGS_test_enabled));
  EXPECT_EQ(absl::GetFlag(FLAGS_test_address), "x");
  EXPECT_THAT(absl::GetFlag(FLAGS_test_channels), ElementsAre("a", "b"));

  EXPECT_THAT(Run({"--test_enabled=false", "--test_enabled"}).errors, IsEmpty());
  EXPECT_TRUE(absl::GetFlag(FLAGS_test_enabled));  // the last one wins
  EXPECT_THAT(Run({"--test_partitons=2", "--notest_enabled=1", "--test_partitions"}).errors,
              ElementsAre("unknown flag --test_partitons (did you mean --test_partitions?)",
                          "--notest_enabled=1: --notest_enabled takes no value", "--test_partitions: missing value"));
  EXPECT_THAT(Run({"--nothing_like_it"}).errors, ElementsAre("unknown flag --nothing_like_it"));
  // absl's usage flags are left for absl::ParseCommandLine.
  applied = Run({"--helpfull", "--version", "api"});
  EXPECT_THAT(applied.errors, IsEmpty());
  EXPECT_THAT(applied.positional, ElementsAre("herald", "api"));
}

TEST_F(SettingsTest, AliasesKeepOldVariableNamesWorking) {
  Applied applied = Run({}, {{"HERALD_TEST_ADDR", "old-name"}});
  EXPECT_THAT(applied.errors, IsEmpty());
  EXPECT_THAT(applied.warnings, IsEmpty());
  EXPECT_EQ(absl::GetFlag(FLAGS_test_address), "old-name");
  EXPECT_EQ(Origin("test_address"), "HERALD_TEST_ADDR");

  EXPECT_THAT(Run({}, {{"HERALD_TEST_ADDR", "same"}, {"HERALD_TEST_ADDRESS", "same"}}).errors, IsEmpty());
  EXPECT_THAT(Run({}, {{"HERALD_TEST_ADDR", "a"}, {"HERALD_TEST_ADDRESS", "b"}}).errors,
              ElementsAre("HERALD_TEST_ADDR and HERALD_TEST_ADDRESS are both set, to different values; set only "
                          "HERALD_TEST_ADDRESS"));
  options_.aliases.push_back({"HERALD_GONE", "no_such_flag"});
  EXPECT_THAT(Run({}, {{"HERALD_GONE", "x"}}).errors,
              ElementsAre("HERALD_GONE: alias of an unknown flag --no_such_flag"));
}

TEST_F(SettingsTest, NearMissesOfSettingVariablesWarnOtherVariablesAreLeftAlone) {
  Applied applied = Run({}, {{"HERALD_TEST_PARTITONS", "8"},
                             {"HERALD_TEST_ADRESS", "x"},
                             {"HERALD_SMTP_PASSWORD", "a delivery config secret"},
                             {"HERALD_TEST_ADDRESS_FOR_SOMETHING", "far from any setting"},
                             {"HERALD_API_KEY", "k"},
                             {"HERALD_CHANNEL_EMAIL_HOST", "smtp"},
                             {"PATH", "/bin"}});
  EXPECT_THAT(applied.errors, IsEmpty());
  EXPECT_THAT(applied.warnings,
              ElementsAre("HERALD_TEST_ADRESS is not a Herald setting; ignored (did you mean HERALD_TEST_ADDRESS?)",
                          "HERALD_TEST_PARTITONS is not a Herald setting; ignored (did you mean "
                          "HERALD_TEST_PARTITIONS?)"));
  EXPECT_EQ(absl::GetFlag(FLAGS_test_partitions), 4);
}

TEST_F(SettingsTest, LogSettingsAreCheckedOnEverySource) {
  EXPECT_THAT(Run({"--log_level=loud"}, {{"HERALD_LOG_FORMAT", "yaml"}}).errors,
              ElementsAre("HERALD_LOG_FORMAT=yaml: invalid value for --log_format ('yaml' is not one of json, text)",
                          "--log_level=loud: invalid value for --log_level ('loud' is not one of debug, info, "
                          "warning, error)"));
  EXPECT_THAT(Run({"--log_format=text", "--log_level=warning"}).errors, IsEmpty());
}

TEST_F(SettingsTest, SecretsAreNeverPrinted) {
  EXPECT_TRUE(IsSecret("redis_password"));
  EXPECT_TRUE(IsSecret("api_keys"));
  EXPECT_TRUE(IsSecret("event_webhook_secret"));
  EXPECT_FALSE(IsSecret("api_keys_file"));
  EXPECT_FALSE(IsSecret("redis_password_file"));
  EXPECT_FALSE(IsSecret("tls_key_file"));
  EXPECT_FALSE(IsSecret("partitions"));

  EXPECT_EQ(Printable("redis", "redis://app:hunter2@db:6379/0"), "redis://app:<redacted>@db:6379/0");
  EXPECT_EQ(Printable("redis", "redis://:hunter2@db:6379"), "redis://:<redacted>@db:6379");
  EXPECT_EQ(Printable("redis", "redis://app@db:6379"), "redis://app@db:6379");
  EXPECT_EQ(Printable("hosts", "a://u:p1@x,b://v:p2@y"), "a://u:<redacted>@x,b://v:<redacted>@y");
  EXPECT_EQ(Printable("redis", "unix:///run/redis.sock"), "unix:///run/redis.sock");
  EXPECT_EQ(Printable("test_redis_password", "hunter2"), "<redacted>");
  EXPECT_EQ(Printable("test_redis_password", ""), "");

  Applied applied = Run({"--test_address=redis://u:hunter2@h:1", "--test_password_file=/run/secret"},
                        {{"HERALD_TEST_REDIS_PASSWORD", "hunter2"}, {"HERALD_TEST_SECRET_PIN", "hunter2"}});
  ASSERT_EQ(applied.errors.size(), 1u);
  EXPECT_EQ(applied.errors[0],
            "HERALD_TEST_SECRET_PIN=<redacted>: invalid value for --test_secret_pin (expected a 32-bit whole number)");
  EXPECT_EQ(absl::GetFlag(FLAGS_test_redis_password), "hunter2");  // set, just never shown
  const std::string dump = EffectiveSettings();
  EXPECT_THAT(dump, Not(HasSubstr("hunter2")));
  EXPECT_THAT(dump, HasSubstr("--test_redis_password=<redacted>  "));
  EXPECT_THAT(dump, HasSubstr("--test_address=redis://u:<redacted>@h:1"));
  EXPECT_THAT(dump, HasSubstr("--test_password_file=/run/secret"));
  const std::string non_default = NonDefaultSettings();
  EXPECT_THAT(non_default, Not(HasSubstr("hunter2")));
  EXPECT_THAT(non_default, HasSubstr("--test_redis_password=<redacted> (HERALD_TEST_REDIS_PASSWORD)"));
  EXPECT_THAT(non_default, Not(HasSubstr("--test_partitions")));
}

TEST_F(SettingsTest, EffectiveSettingsListEveryFlagWithItsOrigin) {
  Run({"--test_partitions=12"}, {{"HERALD_TEST_INTERVAL_MS", "7"}});
  const std::string dump = EffectiveSettings();
  EXPECT_THAT(dump, ::testing::ContainsRegex("\n--test_partitions=12 +command line\n"));
  EXPECT_THAT(dump, ::testing::ContainsRegex("\n--test_interval_ms=7 +HERALD_TEST_INTERVAL_MS\n"));
  EXPECT_THAT(dump, ::testing::ContainsRegex("\n--test_enabled=true +default\n"));
  EXPECT_THAT(dump, Not(HasSubstr("--flagfile")));  // absl's own flags are not settings
}

TEST_F(SettingsTest, EveryFlagOfTheBinaryIsASettingButAbslsOwn) {
  EXPECT_TRUE(IsSetting(*absl::FindCommandLineFlag("test_partitions")));
  EXPECT_TRUE(IsSetting(*absl::FindCommandLineFlag("config")));
  EXPECT_TRUE(IsSetting(*absl::FindCommandLineFlag("log_format")));
  EXPECT_FALSE(IsSetting(*absl::FindCommandLineFlag("flagfile")));
  EXPECT_FALSE(IsSetting(*absl::FindCommandLineFlag("fromenv")));
  EXPECT_EQ(EnvironmentName("grpc_address"), "HERALD_GRPC_ADDRESS");
}

TEST_F(SettingsTest, MarkdownTableHasOneRowPerSetting) {
  const std::string table = MarkdownTable(options_);
  EXPECT_THAT(table, ::testing::StartsWith("| flag | environment | default | meaning |\n| --- | --- | --- | --- |\n"));
  EXPECT_THAT(table, HasSubstr("| `--test_partitions` | `HERALD_TEST_PARTITIONS` | `4` | Partitions (a \\| in the "
                               "help is escaped in the table) |\n"));
  EXPECT_THAT(table, HasSubstr("| `--test_address` | `HERALD_TEST_ADDRESS`, `HERALD_TEST_ADDR` | `127.0.0.1:1` |"));
  EXPECT_THAT(table, HasSubstr("| `--test_channels` | `HERALD_TEST_CHANNELS` | *empty* | A list |\n"));
  EXPECT_THAT(table, HasSubstr("| `--config` | `HERALD_CONFIG` | *empty* |"));
  EXPECT_THAT(table, Not(HasSubstr("flagfile")));
  // Sorted by flag name, whatever the registry's order.
  EXPECT_LT(table.find("`--config`"), table.find("`--log_format`"));
  EXPECT_LT(table.find("`--test_address`"), table.find("`--test_channels`"));
}

TEST_F(SettingsTest, StartErrorsNameTheOriginOfTheFlag) {
  Run({"--test_interval_ms=3"}, {{"HERALD_TEST_PARTITIONS", "0"}});
  EXPECT_EQ(WithOrigin("--test_partitions: must be >= 1"),
            "--test_partitions: must be >= 1 (set by HERALD_TEST_PARTITIONS)");
  EXPECT_EQ(WithOrigin("--test_interval_ms: too short"), "--test_interval_ms: too short (set on the command line)");
  EXPECT_EQ(WithOrigin("--test_address 1.2.3.4:1: cannot listen"),
            "--test_address 1.2.3.4:1: cannot listen (the default)");
  EXPECT_EQ(WithOrigin("--role: unknown role 'x'"), "--role: unknown role 'x'");
  EXPECT_EQ(WithOrigin("redis is down"), "redis is down");
}

TEST(GrpcLogTest, GrpcLinesBecomeLogLinesOfComponentGrpc) {
  std::vector<std::string> lines;
  log::SetSinkForTest([&](absl::string_view line) { lines.emplace_back(line); });
  log::Configure(log::Format::kJson, log::Level::kInfo);
  RouteGrpcLogs();
  gpr_set_log_verbosity(GPR_LOG_SEVERITY_INFO);
  gpr_log(GPR_ERROR, "Failed accept4: %s", "Too many open files");
  gpr_log(GPR_INFO, "a \"quoted\"\nline");
  gpr_log(GPR_DEBUG, "below --log_level and GRPC_VERBOSITY");
  log::SetSinkForTest(nullptr);
  ASSERT_EQ(lines.size(), 2u);
  nlohmann::json first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["component"], "grpc");
  EXPECT_EQ(first["level"], "error");
  EXPECT_EQ(first["message"], "Failed accept4: Too many open files");
  EXPECT_THAT(first["source"].get<std::string>(), ::testing::MatchesRegex("settings_test\\.cc:[0-9]+"));
  nlohmann::json second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(second["level"], "info");
  EXPECT_EQ(second["message"], "a \"quoted\"\nline");
}

}  // namespace
}  // namespace herald::settings
