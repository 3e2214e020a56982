// heraldctl: the command line for Herald's gRPC API. Human output by
// default, --json for scripts; exit code 0 on success, 1 on an RPC error,
// 2 on a usage error. The commands are rows of cli/command_table.h.
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/time.h"
#include "cli/channel.h"
#include "cli/cli.h"
#include "cli/command_table.h"

int main(int argc, char** argv) {
  using herald::cli::PrintHelp;
  // Help is ours, before absl sees its usage flags: absl would print its dump
  // of every flag with the source file defining it. "--" ends the flags.
  for (int i = 1; i < argc && std::string(argv[i]) != "--"; ++i) {
    if (!herald::cli::IsHelpFlag(argv[i])) continue;
    int first_word = 1;  // `heraldctl feed --help` shows the feed commands
    while (first_word < argc && argv[first_word][0] == '-') ++first_word;
    PrintHelp(std::cout, first_word < argc ? argv[first_word] : "");
    return 0;
  }
  std::vector<char*> raw = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> words(raw.begin() + 1, raw.end());
  if (words.empty()) {
    PrintHelp(std::cerr);
    return herald::cli::kUsageExitCode;
  }
  if (words[0] == "help") {
    PrintHelp(std::cout, words.size() > 1 ? words[1] : "");
    return 0;
  }
  auto channel = herald::cli::MakeChannel(absl::GetFlag(FLAGS_addr));
  if (!channel.ok()) {
    std::cerr << "heraldctl: " << channel.status().message() << std::endl;
    return herald::cli::kUsageExitCode;
  }
  herald::cli::Cli cli(*channel, absl::GetFlag(FLAGS_addr), absl::Milliseconds(absl::GetFlag(FLAGS_timeout_ms)),
                       absl::GetFlag(FLAGS_json), herald::cli::ApiKeyFromFlagOrEnvironment());
  return herald::cli::Dispatch(cli, words);
}
