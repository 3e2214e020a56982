#include "settings/settings.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "core/log.h"
#include "settings/grpc_log.h"
#include "yaml-cpp/yaml.h"

extern char** environ;

ABSL_FLAG(std::string, config, "",
          "YAML file of settings: a mapping of flag name to value (a list for list flags); command-line flags and "
          "HERALD_* variables override it");
ABSL_FLAG(std::string, log_format, "json",
          "Log lines on stderr: json (one object per line, for log collectors) or text (for a terminal; scripts/run "
          "uses it)");
ABSL_FLAG(std::string, log_level, "info", "Least severe log lines written: debug, info, warning or error");

namespace herald::settings {
namespace {

constexpr char kEnvPrefix[] = "HERALD_";
constexpr char kRedacted[] = "<redacted>";
constexpr char kDefault[] = "default";
constexpr char kCommandLine[] = "command line";

// Where each setting's value came from (absent: its default). Written by
// Apply at start, read afterwards.
std::map<std::string, std::string>& Origins() {
  static auto* origins = new std::map<std::string, std::string>;
  return *origins;
}

// Herald's settings by name (sorted, for stable tables and messages).
std::map<std::string, absl::CommandLineFlag*> Settings() {
  std::map<std::string, absl::CommandLineFlag*> settings;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (IsSetting(*flag)) settings.emplace(std::string(name), flag);
  }
  return settings;
}

// Values some settings refuse although their type parses them (any string
// is a std::string): checked for every source, so a bad one is reported
// with its origin like a parse error.
absl::Status CheckValue(absl::string_view flag, absl::string_view value) {
  if (flag == "log_format") return log::ParseFormat(value).status();
  if (flag == "log_level") return log::ParseLevel(value).status();
  return absl::OkStatus();
}

// Why `value` did not parse, in words for the flag's type.
std::string Expected(const absl::CommandLineFlag& flag, const std::string& absl_error) {
  if (flag.IsOfType<bool>()) return "expected true or false";
  if (flag.IsOfType<int32_t>()) return "expected a 32-bit whole number";
  if (flag.IsOfType<int64_t>()) return "expected a 64-bit whole number";
  if (flag.IsOfType<uint32_t>()) return "expected a 32-bit whole number >= 0";
  if (flag.IsOfType<uint64_t>()) return "expected a 64-bit whole number >= 0";
  if (flag.IsOfType<double>() || flag.IsOfType<float>()) return "expected a number";
  return absl_error;
}

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The candidate closest to `name` within `max_distance` edits, or "".
std::string Closest(absl::string_view name, const std::vector<std::string>& candidates, size_t max_distance) {
  std::string best;
  size_t best_distance = max_distance + 1;
  for (const std::string& candidate : candidates) {
    const size_t distance = EditDistance(name, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

// Close enough to be a likely typo of a flag name (a hint in errors).
std::string Closest(absl::string_view name, const std::vector<std::string>& candidates) {
  return Closest(name, candidates, std::max<size_t>(2, name.size() / 4));
}

std::vector<std::string> SettingNames() {
  std::vector<std::string> names;
  for (const auto& [name, flag] : Settings()) names.push_back(name);
  return names;
}

// Sets one setting from one source. `where` is how the message names the
// source and value ("HERALD_PARTITIONS=abc", "config.yaml:3: partitions=abc").
void Set(absl::CommandLineFlag& flag, absl::string_view value, const std::string& origin, const std::string& where,
         Applied& applied) {
  const std::string name(flag.Name());
  if (absl::Status checked = CheckValue(name, value); !checked.ok()) {
    applied.errors.push_back(absl::StrCat(where, ": invalid value for --", name, " (", checked.message(), ")"));
    return;
  }
  std::string error;
  if (!flag.ParseFrom(value, &error)) {
    applied.errors.push_back(absl::StrCat(where, ": invalid value for --", name, " (", Expected(flag, error), ")"));
    return;
  }
  Origins()[name] = origin;
}

std::string Where(absl::string_view prefix, absl::string_view flag, absl::string_view value) {
  return absl::StrCat(prefix, "=", Printable(flag, value));
}

// --- Config file.

void ApplyConfigFile(const std::string& path, Applied& applied) {
  std::ifstream file(path);
  if (!file) {
    applied.errors.push_back(absl::StrCat(path, ": cannot read the config file (", std::strerror(errno), ")"));
    return;
  }
  YAML::Node root;
  try {
    root = YAML::Load(file);
  } catch (const YAML::Exception& e) {
    applied.errors.push_back(absl::StrCat(path, ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
    return;
  }
  if (root.IsNull()) return;  // an empty file sets nothing
  if (!root.IsMap()) {
    applied.errors.push_back(absl::StrCat(path, ": expected a mapping of setting name to value"));
    return;
  }
  const std::map<std::string, absl::CommandLineFlag*> settings = Settings();
  const std::vector<std::string> names = SettingNames();
  for (const auto& entry : root) {
    const std::string at = absl::StrCat(path, ":", entry.first.Mark().line + 1);
    if (!entry.first.IsScalar()) {
      applied.errors.push_back(absl::StrCat(at, ": a setting name must be a plain string"));
      continue;
    }
    const std::string name = entry.first.Scalar();
    auto it = settings.find(name);
    if (it == settings.end()) {
      std::string hint = Closest(name, names);
      applied.errors.push_back(absl::StrCat(at, ": unknown setting '", name, "'",
                                            hint.empty() ? "" : absl::StrCat(" (did you mean '", hint, "'?)")));
      continue;
    }
    if (name == "config") {
      applied.errors.push_back(absl::StrCat(at, ": 'config' cannot be set in a config file"));
      continue;
    }
    const YAML::Node& node = entry.second;
    std::string value;
    if (node.IsNull()) {
      value = "";
    } else if (node.IsScalar()) {
      value = node.Scalar();
    } else if (node.IsSequence()) {
      std::vector<std::string> items;
      bool scalars = true;
      for (const auto& item : node) {
        scalars = scalars && item.IsScalar();
        if (scalars) items.push_back(item.Scalar());
      }
      if (!scalars) {
        applied.errors.push_back(absl::StrCat(at, ": ", name, ": a list may hold plain values only"));
        continue;
      }
      value = absl::StrJoin(items, ",");
    } else {
      applied.errors.push_back(absl::StrCat(at, ": ", name, ": expected a value or a list, not a mapping"));
      continue;
    }
    Set(*it->second, value, path, Where(absl::StrCat(at, ": ", name), name, value), applied);
  }
}

// --- Environment.

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> environment;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    absl::string_view text(*entry);
    size_t equals = text.find('=');
    if (equals == absl::string_view::npos) continue;
    environment.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
  }
  return environment;
}

bool IsOtherVariable(absl::string_view variable, const Options& options) {
  for (absl::string_view other : options.other_variables) {
    if (absl::ConsumeSuffix(&other, "*") ? absl::StartsWith(variable, other) : variable == other) return true;
  }
  return false;
}

void ApplyEnvironment(const std::map<std::string, std::string>& environment, const Options& options,
                      Applied& applied) {
  const std::map<std::string, absl::CommandLineFlag*> settings = Settings();
  absl::flat_hash_map<std::string, absl::CommandLineFlag*> by_variable;
  std::vector<std::string> variables;
  for (const auto& [name, flag] : settings) {
    by_variable[EnvironmentName(name)] = flag;
    variables.push_back(EnvironmentName(name));
  }
  absl::flat_hash_map<std::string, std::string> alias_flag;
  for (const Alias& alias : options.aliases) alias_flag[alias.variable] = alias.flag;

  // Aliases first, so the variable that follows the rule wins when both
  // are set (and the two must then agree).
  for (const Alias& alias : options.aliases) {
    auto value = environment.find(alias.variable);
    if (value == environment.end()) continue;
    auto flag = settings.find(alias.flag);
    if (flag == settings.end()) {
      // A broken alias table is a bug in the binary, reported like a setting.
      applied.errors.push_back(absl::StrCat(alias.variable, ": alias of an unknown flag --", alias.flag));
      continue;
    }
    const std::string canonical = EnvironmentName(alias.flag);
    auto both = environment.find(canonical);
    if (both != environment.end() && both->second != value->second) {
      applied.errors.push_back(absl::StrCat(alias.variable, " and ", canonical,
                                            " are both set, to different values; set only ", canonical));
      continue;
    }
    Set(*flag->second, value->second, alias.variable, Where(alias.variable, alias.flag, value->second), applied);
  }
  for (const auto& [variable, value] : environment) {
    if (!absl::StartsWith(variable, kEnvPrefix) || alias_flag.contains(variable)) continue;
    auto flag = by_variable.find(variable);
    if (flag != by_variable.end()) {
      std::string name(flag->second->Name());
      Set(*flag->second, value, variable, Where(variable, name, value), applied);
      continue;
    }
    // Only a near miss of a setting's name is reported: the environment
    // holds other HERALD_* variables on purpose (the delivery config's
    // secrets are named freely, e.g. HERALD_SMTP_PASSWORD), and a variable
    // one or two letters off a setting is the typo that would silently
    // leave the default in force.
    if (IsOtherVariable(variable, options)) continue;
    std::string hint = Closest(variable, variables, variable.size() > 20 ? 3 : 2);
    if (hint.empty()) continue;
    applied.warnings.push_back(
        absl::StrCat(variable, " is not a Herald setting; ignored (did you mean ", hint, "?)"));
  }
}

// --- Command line (absl's syntax, which absl::ParseCommandLine applies
// again afterwards for --help and --flagfile).

// The value of --config on the command line, if any.
std::optional<std::string> ConfigOnCommandLine(absl::Span<const std::string> argv) {
  std::optional<std::string> path;
  for (size_t i = 1; i < argv.size(); ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) continue;
    if (absl::ConsumePrefix(&arg, "config=")) {
      path = std::string(arg);
    } else if (arg == "config" && i + 1 < argv.size()) {
      path = argv[++i];
    }
  }
  return path;
}

void ApplyCommandLine(absl::Span<const std::string> argv, Applied& applied) {
  const std::vector<std::string> names = SettingNames();
  if (!argv.empty()) applied.positional.push_back(argv[0]);
  for (size_t i = 1; i < argv.size(); ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") {
      for (++i; i < argv.size(); ++i) applied.positional.push_back(argv[i]);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      applied.positional.push_back(argv[i]);
      continue;
    }
    absl::string_view body = arg.substr(arg[1] == '-' ? 2 : 1);
    size_t equals = body.find('=');
    absl::string_view name = body.substr(0, equals);
    std::optional<std::string> value;
    if (equals != absl::string_view::npos) value = std::string(body.substr(equals + 1));

    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    bool negative = false;
    if (flag == nullptr && absl::StartsWith(name, "no")) {
      absl::CommandLineFlag* positive = absl::FindCommandLineFlag(name.substr(2));
      if (positive != nullptr && positive->IsOfType<bool>()) {
        flag = positive;
        negative = true;
      }
    }
    // absl's usage flags (--help, --helpfull, --version, ...) are not in its
    // flag registry; absl::ParseCommandLine handles them afterwards.
    if (flag == nullptr && (absl::StartsWith(name, "help") || name == "version" || name == "only_check_args")) {
      continue;
    }
    if (flag == nullptr) {
      std::string hint = Closest(name, names);
      applied.errors.push_back(absl::StrCat("unknown flag --", name,
                                            hint.empty() ? "" : absl::StrCat(" (did you mean --", hint, "?)")));
      continue;
    }
    const std::string flag_name(flag->Name());
    if (flag->IsOfType<bool>()) {
      if (negative && value.has_value()) {
        applied.errors.push_back(absl::StrCat(arg, ": --no", flag_name, " takes no value"));
        continue;
      }
      if (!value.has_value()) value = negative ? "false" : "true";
    } else if (!value.has_value()) {
      if (i + 1 >= argv.size()) {
        applied.errors.push_back(absl::StrCat("--", flag_name, ": missing value"));
        continue;
      }
      value = argv[++i];
    }
    // absl's own flags (--flagfile, --help, ...) are left to absl.
    if (!IsSetting(*flag) || flag->IsRetired()) continue;
    Set(*flag, *value, kCommandLine, Where(absl::StrCat("--", flag_name), flag_name, *value), applied);
  }
}

void ConfigureLogging() {
  auto format = log::ParseFormat(absl::GetFlag(FLAGS_log_format));
  auto level = log::ParseLevel(absl::GetFlag(FLAGS_log_level));
  log::Configure(format.ok() ? *format : log::Format::kJson, level.ok() ? *level : log::Level::kInfo);
}

}  // namespace

bool IsSetting(const absl::CommandLineFlag& flag) {
  return !flag.IsRetired() && !absl::StrContains(flag.Filename(), "absl/flags/");
}

std::string EnvironmentName(absl::string_view flag) { return absl::StrCat(kEnvPrefix, absl::AsciiStrToUpper(flag)); }

bool IsSecret(absl::string_view flag) {
  const std::string name = absl::AsciiStrToLower(flag);
  if (absl::EndsWith(name, "_file") || absl::EndsWith(name, "_dir") || absl::EndsWith(name, "_path")) return false;
  for (absl::string_view word : {"password", "secret", "token", "api_keys", "api_key"}) {
    if (absl::StrContains(name, word)) return true;
  }
  return false;
}

std::string Printable(absl::string_view flag, absl::string_view value) {
  if (IsSecret(flag)) return value.empty() ? "" : kRedacted;
  // scheme://user:password@host: the password goes, wherever it appears.
  std::string out;
  size_t at = 0;
  while (true) {
    size_t scheme = value.find("://", at);
    if (scheme == absl::string_view::npos) break;
    const size_t authority = scheme + 3;
    size_t end = value.find_first_of("/?#, ", authority);
    if (end == absl::string_view::npos) end = value.size();
    const size_t user_end = value.substr(0, end).rfind('@');
    if (user_end != absl::string_view::npos && user_end > authority) {
      const size_t colon = value.substr(authority, user_end - authority).find(':');
      if (colon != absl::string_view::npos) {
        absl::StrAppend(&out, value.substr(at, authority + colon + 1 - at), kRedacted);
        at = user_end;
        continue;
      }
    }
    absl::StrAppend(&out, value.substr(at, end - at));
    at = end;
  }
  absl::StrAppend(&out, value.substr(at));
  return out;
}

std::string Origin(absl::string_view flag) {
  auto it = Origins().find(std::string(flag));
  return it == Origins().end() ? kDefault : it->second;
}

std::string WithOrigin(absl::string_view message) {
  absl::string_view rest = message;
  if (!absl::ConsumePrefix(&rest, "--")) return std::string(message);
  size_t end = 0;
  while (end < rest.size() && (absl::ascii_isalnum(rest[end]) || rest[end] == '_')) ++end;
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag(rest.substr(0, end));
  if (flag == nullptr || !IsSetting(*flag)) return std::string(message);
  const std::string origin = Origin(flag->Name());
  if (origin == kDefault) return absl::StrCat(message, " (the default)");
  if (origin == kCommandLine) return absl::StrCat(message, " (set on the command line)");
  return absl::StrCat(message, " (set by ", origin, ")");
}

Applied Apply(absl::Span<const std::string> argv, const Options& options) {
  Applied applied;
  Origins().clear();
  const std::map<std::string, std::string> environment =
      options.environment.has_value() ? *options.environment : ProcessEnvironment();

  std::optional<std::string> config = ConfigOnCommandLine(argv);
  if (!config.has_value()) {
    auto from_env = environment.find(EnvironmentName("config"));
    if (from_env != environment.end()) config = from_env->second;
  }
  if (config.has_value() && !config->empty()) ApplyConfigFile(*config, applied);
  ApplyEnvironment(environment, options, applied);
  ApplyCommandLine(argv, applied);
  return applied;
}

absl::StatusOr<std::vector<std::string>> Load(int argc, char** argv, const Options& options) {
  RouteGrpcLogs();
  std::vector<std::string> args(argv, argv + argc);
  Applied applied = Apply(args, options);
  ConfigureLogging();
  for (const std::string& warning : applied.warnings) log::Warning("settings", warning);
  for (const std::string& error : applied.errors) log::Error("settings", error);
  if (!applied.errors.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(applied.errors.size(), " invalid setting(s)"));
  }
  // Everything absl would refuse was refused above; what is left for it is
  // --help, --version and --flagfile.
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  return std::vector<std::string>(rest.begin(), rest.end());
}

int FlagsCommand(int argc, char** argv, const Options& options) {
  std::vector<char*> args;
  bool markdown = false;
  for (int i = 0; i < argc; ++i) {
    if (i == 1 && absl::string_view(argv[i]) == "flags") continue;
    if (absl::string_view(argv[i]) == "--markdown") {
      markdown = true;
      continue;
    }
    args.push_back(argv[i]);
  }
  if (markdown) {
    // The defaults only: the table must not depend on who generates it.
    if (args.size() > 1) {
      std::cerr << "usage: herald flags --markdown (no other arguments)" << std::endl;
      return 2;
    }
    std::cout << MarkdownTable(options);
    return 0;
  }
  auto loaded = Load(static_cast<int>(args.size()), args.data(), options);
  if (!loaded.ok()) return 2;
  if (loaded->size() > 1) {
    std::cerr << "usage: herald flags [--markdown] [flags...]" << std::endl;
    return 2;
  }
  std::cout << EffectiveSettings();
  return 0;
}

std::string MarkdownTable(const Options& options) {
  std::map<std::string, std::vector<std::string>> aliases;
  for (const Alias& alias : options.aliases) aliases[alias.flag].push_back(alias.variable);
  std::string out = "| flag | environment | default | meaning |\n| --- | --- | --- | --- |\n";
  for (const auto& [name, flag] : Settings()) {
    std::vector<std::string> variables = {absl::StrCat("`", EnvironmentName(name), "`")};
    for (const std::string& alias : aliases[name]) variables.push_back(absl::StrCat("`", alias, "`"));
    const std::string default_value = Printable(name, flag->DefaultValue());
    // `*` escaped so "(*.yaml, *.yml)" can never turn into emphasis.
    std::string help = absl::StrReplaceAll(flag->Help(), {{"|", "\\|"}, {"*", "\\*"}, {"\n", " "}});
    absl::StrAppend(&out, "| `--", name, "` | ", absl::StrJoin(variables, ", "), " | ",
                    default_value.empty() ? "*empty*" : absl::StrCat("`", default_value, "`"), " | ", help, " |\n");
  }
  return out;
}

std::string EffectiveSettings() {
  std::vector<std::pair<std::string, std::string>> lines;
  size_t width = 0;
  for (const auto& [name, flag] : Settings()) {
    std::string setting = absl::StrCat("--", name, "=", Printable(name, flag->CurrentValue()));
    width = std::max(width, setting.size());
    lines.emplace_back(std::move(setting), Origin(name));
  }
  std::string out;
  for (const auto& [setting, origin] : lines) {
    absl::StrAppend(&out, setting, std::string(width + 2 - setting.size(), ' '), origin, "\n");
  }
  return out;
}

std::string NonDefaultSettings() {
  std::vector<std::string> parts;
  for (const auto& [name, flag] : Settings()) {
    const std::string origin = Origin(name);
    if (origin == kDefault) continue;
    parts.push_back(absl::StrCat("--", name, "=", Printable(name, flag->CurrentValue()), " (", origin, ")"));
  }
  return absl::StrJoin(parts, " ");
}

}  // namespace herald::settings
