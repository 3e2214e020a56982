// The command table: every heraldctl command as one row, how a command line
// selects its row, and the help made from the rows. Usage errors (exit code
// 2) are printed here only.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "cli/cli.h"

namespace herald::cli {

// Every command group, in --help order.
const std::vector<CommandGroup>& CommandTable();

// The row a command line selects, or why none fits.
struct Selection {
  const Command* command = nullptr;  // null when nothing fits
  Args args;                         // the command's positional arguments
  std::string problem;               // when nothing fits
  std::vector<const Command*> near;  // when nothing fits: the rows to show
};

// Selects the row for `words` (the positional words of the command line; the
// first is the command name): a row with a sub-name when the second word is
// that sub-name and the rest fit its arguments, else the row without one when
// the words after the name fit its arguments.
Selection Select(Args words);

// Runs the command `words` select. Returns the exit code; usage problems (no
// fitting row, or a handler's Outcome::Usage) are printed to stderr with the
// synopsis of the rows concerned.
int Dispatch(Cli& cli, Args words);

// Whether `arg` asks for help: -h, --help or any of absl's usage flags
// (--helpfull, --helpshort, --helpon=..., ...), which would otherwise print
// absl's dump of every flag with its source file.
bool IsHelpFlag(absl::string_view arg);

// Writes the help for the commands named `command` and the global flags, or
// when `command` names none (or is empty), every command grouped by resource.
void PrintHelp(std::ostream& out, absl::string_view command = "");

}  // namespace herald::cli
