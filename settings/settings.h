// Herald's settings: every absl flag defined in the binary (wherever it is
// defined) is also settable from the environment as HERALD_<FLAG IN UPPER
// CASE> and from a YAML config file (--config / HERALD_CONFIG: a mapping of
// flag name to value). Precedence: command line > environment > config file
// > the flag's default. Nothing is registered by hand: the flag registry is
// the list, so a flag added anywhere is a setting at once, in the README's
// table (`herald flags --markdown`, checked by tests/settings_test) and in
// `herald flags` (the effective values, secrets redacted).
//
// Also sets up logging for the process (core/log.h): --log_format,
// --log_level, and gRPC's own log lines routed into it.
//
// Thread-compatible: Load/Apply run once at start, before other threads.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace herald::settings {

// An environment name kept from before the HERALD_<FLAG> rule.
struct Alias {
  std::string variable;  // e.g. HERALD_REDIS_URL
  std::string flag;      // e.g. redis
};

struct Options {
  std::vector<Alias> aliases;
  // HERALD_* variables that belong to something else (heraldctl, the
  // delivery config), never warned about even when a letter off a setting's
  // name: exact names, or prefixes when they end in '*' (HERALD_CHANNEL_*).
  std::vector<std::string> other_variables;
  // The environment to read; nullopt = the process's.
  std::optional<std::map<std::string, std::string>> environment;
};

// What Apply found.
struct Applied {
  // argv[0] and the arguments that are not flags, in order.
  std::vector<std::string> positional;
  // Each names the setting and where its value came from, e.g.
  // "HERALD_PARTITIONS=abc: invalid value for --partitions (expected a
  // 32-bit whole number)". Any error means: do not start (exit code 2).
  std::vector<std::string> errors;
  // HERALD_* variables one or two letters off a setting's (a likely typo;
  // ignored, not fatal: see README "Configuration").
  std::vector<std::string> warnings;
};

// Sets every Herald flag from the config file, then the environment, then
// `argv` (absl's syntax: --name=value, --name value, --[no]bool, `--` ends
// the flags), recording where each value came from. Every problem is
// collected, not just the first.
Applied Apply(absl::Span<const std::string> argv, const Options& options);

// Apply() on the real command line and environment, then absl's own parse
// (for --help, --flagfile), then logging set up from --log_format and
// --log_level with gRPC's lines routed into it. Logs each warning and
// error; returns INVALID_ARGUMENT when there was an error (the caller
// exits with code 2), else the positional arguments (argv[0] first).
absl::StatusOr<std::vector<std::string>> Load(int argc, char** argv, const Options& options);

// `herald flags [--markdown] [settings...]`: the README's settings table
// (defaults, no environment read), or every setting's effective value and
// where it came from, secrets redacted. Returns the exit code.
int FlagsCommand(int argc, char** argv, const Options& options);

// --- The pieces, for tests and main.

// Whether `flag` is one of Herald's settings (not one of absl's own flags
// such as --flagfile or --help).
bool IsSetting(const absl::CommandLineFlag& flag);
// HERALD_<NAME IN UPPER CASE>.
std::string EnvironmentName(absl::string_view flag);
// Settings whose values are never printed: names with password, secret,
// token or api_keys in them, unless they name a file (…_file, …_dir).
bool IsSecret(absl::string_view flag);
// `value` fit to print: "<redacted>" for a secret setting's non-empty
// value, and a URL's password (scheme://user:PASSWORD@host) replaced by
// "<redacted>" in any setting.
std::string Printable(absl::string_view flag, absl::string_view value);
// "command line", "HERALD_X" (the variable that set it), the config file's
// path, or "default".
std::string Origin(absl::string_view flag);
// A start-up error that begins with "--flag" gets where that flag's value
// came from appended, e.g. "--partitions: must be between 1 and 1024 (set
// by HERALD_PARTITIONS)"; any other message is returned as is.
std::string WithOrigin(absl::string_view message);
// The Markdown table of every setting: flag, environment variable(s),
// default, meaning. Sorted by flag name.
std::string MarkdownTable(const Options& options);
// One line per setting: --name=value and where it came from.
std::string EffectiveSettings();
// The settings that differ from their defaults, "--name=value (origin)"
// separated by spaces, for the start-up log line.
std::string NonDefaultSettings();

}  // namespace herald::settings
