// The command table without a server: which row a command line selects, the
// usage problems, the help text, and that every row's flags exist.
#include "cli/command_table.h"

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/reflection.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> Words(const std::string& line) { return absl::StrSplit(line, ' ', absl::SkipEmpty()); }

// "name sub" of the selected row, or "problem: ..." when none fits.
std::string Selected(const std::string& line) {
  std::vector<std::string> words = Words(line);
  Selection selection = Select(words);
  if (selection.command == nullptr) return "problem: " + selection.problem;
  std::string selected(selection.command->name);
  if (!selection.command->sub.empty()) selected += " " + std::string(selection.command->sub);
  return selected + " (" + std::to_string(selection.args.size()) + " args)";
}

TEST(SelectTest, PicksTheRowThatFitsOrSaysWhatIsWrong) {
  const std::pair<std::string, std::string> cases[] = {
      {"trigger welcome", "trigger (1 args)"},
      {"user rita", "user (1 args)"},
      {"user delete ana", "user delete (1 args)"},
      {"user merge rita old", "user merge (2 args)"},
      {"user delete", "user (1 args)"},  // a user called "delete" is still a user
      {"feed mark rita read", "feed mark (2 args)"},
      {"feed mark rita read a b c", "feed mark (5 args)"},
      {"workflows lint a.yaml b.yaml", "workflows lint (2 args)"},
      {"preferences get", "preferences get (0 args)"},
      {"trigger", "problem: trigger takes WORKFLOW"},
      {"trigger a b", "problem: trigger takes WORKFLOW"},
      {"user merge rita", "problem: user merge takes USER FROM_USER"},
      {"workflows list extra", "problem: workflows list takes no arguments"},
      {"workflows lint", "problem: workflows lint takes FILE..."},
      {"feed", "problem: feed needs list, mark or watch"},
      {"feed show rita", "problem: unknown feed command 'show'"},
      {"bogus", "problem: unknown command 'bogus'"},
  };
  for (const auto& [line, expected] : cases) EXPECT_EQ(Selected(line), expected) << line;
}

TEST(SelectTest, EveryRowIsReachable) {
  for (const CommandGroup& group : CommandTable()) {
    for (const Command& command : group.commands) {
      std::string line = std::string(command.name) + " " + std::string(command.sub);
      for (absl::string_view word : absl::StrSplit(command.args, ' ', absl::SkipEmpty())) {
        if (word[0] != '[') line += " x";
      }
      Selection selection = Select(Words(line));
      EXPECT_EQ(selection.command, &command) << line << ": " << selection.problem;
    }
  }
}

TEST(CommandTableTest, EveryFlagIsDefined) {
  for (const CommandGroup& group : CommandTable()) {
    for (const Command& command : group.commands) {
      for (absl::string_view spec : command.flags) {
        absl::string_view name = spec.substr(2, spec.find('=') - 2);
        EXPECT_NE(absl::FindCommandLineFlag(name), nullptr) << command.name << " " << spec;
      }
    }
  }
}

TEST(HelpTest, ListsEveryCommandAndTheGlobalFlagsNotSourceFiles) {
  std::ostringstream help;
  PrintHelp(help);
  for (const CommandGroup& group : CommandTable()) {
    EXPECT_THAT(help.str(), HasSubstr("\n" + std::string(group.title) + "\n"));
  }
  EXPECT_THAT(help.str(), HasSubstr("  user merge USER FROM_USER "));
  EXPECT_THAT(help.str(), HasSubstr("      --page_size=N"));
  EXPECT_THAT(help.str(), HasSubstr("items per page (1-100) (default 20)"));
  EXPECT_THAT(help.str(), HasSubstr("  --addr=HOST:PORT"));
  EXPECT_THAT(help.str(), HasSubstr("  --timeout_ms=MS"));
  EXPECT_THAT(help.str(), Not(HasSubstr(".cc")));
  EXPECT_THAT(help.str(), Not(HasSubstr("Flags from")));
}

TEST(HelpTest, OneCommand) {
  std::ostringstream help;
  PrintHelp(help, "feed");
  EXPECT_THAT(help.str(), HasSubstr("  feed mark USER ACTION [ID...]"));
  EXPECT_THAT(help.str(), Not(HasSubstr("trigger WORKFLOW")));
}

TEST(HelpTest, RecognisesAbslUsageFlags) {
  for (const char* arg : {"-h", "--help", "-help", "--helpfull", "--helpon=cli", "--helpmatch=x", "--helpshort"}) {
    EXPECT_TRUE(IsHelpFlag(arg)) << arg;
  }
  for (const char* arg : {"help", "--hello", "--json", "-", "--", "--helper"}) EXPECT_FALSE(IsHelpFlag(arg)) << arg;
}

TEST(DispatchTest, HandlerUsageProblemsExitWithTwoBeforeAnyCall) {
  Cli cli(grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()), "127.0.0.1:1",
          absl::Milliseconds(100), false);
  std::vector<std::string> words = Words("trigger welcome");  // neither --to nor --objects
  EXPECT_EQ(Dispatch(cli, words), kUsageExitCode);
  words = Words("feed mark rita sideways");
  EXPECT_EQ(Dispatch(cli, words), kUsageExitCode);
  words = Words("object get not-a-ref");
  EXPECT_EQ(Dispatch(cli, words), kUsageExitCode);
}

}  // namespace
}  // namespace herald::cli
