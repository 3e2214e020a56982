// The command table, row selection, usage errors and help.
#include "cli/command_table.h"

#include <algorithm>
#include <iostream>

#include "absl/algorithm/container.h"
#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace herald::cli {
namespace {

constexpr char kIntro[] =
    "heraldctl: the command line for Herald's gRPC API. Text output by default, --json for scripts;\n"
    "exit code 0 on success, 1 on an RPC error, 2 on a usage error.\n"
    "\n"
    "usage: heraldctl [GLOBAL FLAGS] COMMAND [ARGS...] [FLAGS...]\n";

constexpr absl::string_view kGlobalFlags[] = {"--addr=HOST:PORT", "--json", "--timeout_ms=MS",
                                              "--tls", "--tls_ca_file=FILE", "--tls_cert_file=FILE",
                                              "--tls_key_file=FILE", "--tls_server_name=NAME", "--api_key=KEY"};

// -h and absl's usage flags (absl would print its dump of every flag).
constexpr absl::string_view kHelpFlags[] = {"h",           "help",   "helpfull", "helpshort",
                                            "helppackage", "helpon", "helpmatch"};

std::string Synopsis(const Command& command) {
  std::vector<absl::string_view> words = {command.name};
  for (absl::string_view word : {command.sub, command.args}) {
    if (!word.empty()) words.push_back(word);
  }
  return absl::StrJoin(words, " ");
}

// Whether `count` positional arguments fit the command's synopsis: each word
// is required unless in [brackets]; a word with "..." takes any number.
bool Fits(const Command& command, size_t count) {
  size_t required = 0, allowed = 0;
  bool unbounded = false;
  for (absl::string_view word : absl::StrSplit(command.args, ' ', absl::SkipEmpty())) {
    if (!absl::StartsWith(word, "[")) ++required;
    ++allowed;
    unbounded = unbounded || absl::StrContains(word, "...");
  }
  return count >= required && (unbounded || count <= allowed);
}

std::string FullName(const Command& command) {
  return command.sub.empty() ? std::string(command.name) : absl::StrCat(command.name, " ", command.sub);
}

// "a", "a or b", "a, b or c".
std::string OneOf(const std::vector<absl::string_view>& words) {
  if (words.size() < 2) return absl::StrJoin(words, "");
  return absl::StrCat(absl::StrJoin(words.begin(), words.end() - 1, ", "), " or ", words.back());
}

Selection Selected(const Command* command, Args args) {
  Selection selection;
  selection.command = command;
  selection.args = args;
  return selection;
}

Selection Problem(std::string problem, std::vector<const Command*> near) {
  Selection selection;
  selection.problem = std::move(problem);
  selection.near = std::move(near);
  return selection;
}

std::string ArgumentProblem(const Command& command) {
  return absl::StrCat(FullName(command), command.args.empty() ? " takes no arguments" : " takes ", command.args);
}

// The description of a "--name=VALUE" flag, from its definition.
std::string FlagHelp(absl::string_view spec) {
  absl::string_view name = absl::StripPrefix(spec, "--");
  name = name.substr(0, name.find('='));
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  if (flag == nullptr) return "";
  std::string help = flag->Help();
  std::string default_value = flag->DefaultValue();
  if (!default_value.empty() && default_value != "false") absl::StrAppend(&help, " (default ", default_value, ")");
  return help;
}

// The width of the left column: the longest command synopsis or flag.
size_t LeftColumnWidth() {
  size_t width = 0;
  for (absl::string_view flag : kGlobalFlags) width = std::max(width, 2 + flag.size());
  for (const CommandGroup& group : CommandTable()) {
    for (const Command& command : group.commands) {
      width = std::max(width, 2 + Synopsis(command).size());
      for (absl::string_view flag : command.flags) width = std::max(width, 6 + flag.size());
    }
  }
  return width + 2;
}

void PrintLine(std::ostream& out, absl::string_view indent, absl::string_view left, absl::string_view right) {
  static const size_t width = LeftColumnWidth();
  std::string line = absl::StrCat(indent, left);
  if (!right.empty()) line.resize(std::max(width, line.size() + 2), ' ');
  out << line << right << "\n";
}

void PrintCommand(std::ostream& out, const Command& command) {
  PrintLine(out, "  ", Synopsis(command), command.help);
  for (absl::string_view flag : command.flags) PrintLine(out, "      ", flag, FlagHelp(flag));
}

void PrintGlobalFlags(std::ostream& out) {
  out << "\nGlobal flags\n";
  for (absl::string_view flag : kGlobalFlags) PrintLine(out, "  ", flag, FlagHelp(flag));
}

std::vector<const Command*> Named(absl::string_view name) {
  std::vector<const Command*> rows;
  for (const CommandGroup& group : CommandTable()) {
    for (const Command& command : group.commands) {
      if (command.name == name) rows.push_back(&command);
    }
  }
  return rows;
}

int ReportUsage(absl::string_view problem, const std::vector<const Command*>& rows) {
  std::cerr << "heraldctl: " << problem << "\n\n";
  for (const Command* command : rows) PrintCommand(std::cerr, *command);
  if (!rows.empty()) std::cerr << "\n";
  std::cerr << "'heraldctl --help' lists every command and the global flags." << std::endl;
  return kUsageExitCode;
}

}  // namespace

const std::vector<CommandGroup>& CommandTable() {
  static const auto* table = new std::vector<CommandGroup>{
      TriggerCommands(), UserCommands(),     ObjectCommands(),   TenantCommands(),
      FeedCommands(),    MessageCommands(), WorkflowCommands(), PreferenceCommands(), DeadLetterCommands(),
      TokenCommands(),
  };
  return *table;
}

Selection Select(Args words) {
  if (words.empty()) return Problem("no command", {});
  std::vector<const Command*> named = Named(words[0]);
  if (named.empty()) return Problem(absl::StrCat("unknown command '", words[0], "'"), {});
  Args rest = words.subspan(1);
  const Command* by_sub = nullptr;
  const Command* plain = nullptr;
  std::vector<absl::string_view> subs;
  for (const Command* command : named) {
    if (command->sub.empty()) {
      plain = command;
      continue;
    }
    subs.push_back(command->sub);
    if (!rest.empty() && rest[0] == command->sub) by_sub = command;
  }
  if (by_sub != nullptr && Fits(*by_sub, rest.size() - 1)) return Selected(by_sub, rest.subspan(1));
  if (plain != nullptr && Fits(*plain, rest.size())) return Selected(plain, rest);
  if (by_sub != nullptr) return Problem(ArgumentProblem(*by_sub), {by_sub});
  if (plain != nullptr) return Problem(ArgumentProblem(*plain), named);
  if (rest.empty()) return Problem(absl::StrCat(words[0], " needs ", OneOf(subs)), named);
  return Problem(absl::StrCat("unknown ", words[0], " command '", rest[0], "'"), named);
}

int Dispatch(Cli& cli, Args words) {
  Selection selection = Select(words);
  if (selection.command == nullptr) return ReportUsage(selection.problem, selection.near);
  Outcome outcome = selection.command->handler(cli, selection.args);
  if (outcome.exit_code() == kUsageExitCode) return ReportUsage(outcome.problem(), {selection.command});
  return outcome.exit_code();
}

bool IsHelpFlag(absl::string_view arg) {
  if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) return false;
  return absl::c_linear_search(kHelpFlags, arg.substr(0, arg.find('=')));
}

void PrintHelp(std::ostream& out, absl::string_view command) {
  std::vector<const Command*> rows = Named(command);
  out << kIntro;
  if (!rows.empty()) {
    out << "\n";
    for (const Command* row : rows) PrintCommand(out, *row);
  } else {
    for (const CommandGroup& group : CommandTable()) {
      out << "\n" << group.title << "\n";
      for (const Command& row : group.commands) PrintCommand(out, row);
    }
  }
  PrintGlobalFlags(out);
}

}  // namespace herald::cli
