// The files a newcomer runs first: `scripts/run` serves examples/workflows/
// with examples/preferences/default.json, and the README's Quick start
// triggers workflows from there. A workflow or preference file that stops
// loading (a parser change, a renamed field) would stop `scripts/run`; this
// catches it without a server.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "preferences/preference_store.h"
#include "workflow/parser.h"
#include "workflow/registry.h"

namespace herald {
namespace {

namespace fs = std::filesystem;

std::string SourceDir() {
  const char* dir = std::getenv("HERALD_SOURCE_DIR");
  return dir != nullptr ? dir : "";
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The files LoadDirectory reads: *.yaml, *.yml, *.json directly in `dir`.
std::vector<fs::path> WorkflowFiles(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string extension = entry.path().extension().string();
    if (entry.is_regular_file() && (extension == ".yaml" || extension == ".yml" || extension == ".json")) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

class ExamplesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(SourceDir().empty()) << "HERALD_SOURCE_DIR is not set (run through ctest)";
    ASSERT_TRUE(fs::is_directory(Workflows())) << Workflows();
  }
  static fs::path Workflows() { return fs::path(SourceDir()) / "examples" / "workflows"; }
};

TEST_F(ExamplesTest, WorkflowDirectoryLoads) {
  auto registry = workflow::Registry::LoadDirectory(Workflows().string());
  ASSERT_TRUE(registry.ok()) << registry.status();
  std::set<std::string> keys;
  for (const auto& [key, unused] : (*registry)->all()) keys.insert(key);
  EXPECT_EQ(keys, (std::set<std::string>{"comment-everywhere", "mention", "new-comment", "password-reset",
                                         "order-routing", "push-sms-fallback", "trial-reminder", "unread-reminder", "welcome"}));
  const workflow::Workflow* reminder = (*registry)->Find("unread-reminder");
  ASSERT_NE(reminder, nullptr);
  EXPECT_TRUE(reminder->reads_refs);
  const workflow::Workflow* fallback = (*registry)->Find("push-sms-fallback");
  ASSERT_NE(fallback, nullptr);
  EXPECT_EQ(fallback->steps[0].channel.fallback_step, 1);
  EXPECT_TRUE(fallback->steps[1].fallback_only);
  // comment-everywhere delivers through every channel type: its channels
  // are what a user can have channel data for.
  EXPECT_FALSE((*registry)->channels().empty());
}

TEST_F(ExamplesTest, EveryWorkflowFileLintsOnItsOwn) {
  std::vector<fs::path> files = WorkflowFiles(Workflows());
  ASSERT_FALSE(files.empty());
  std::set<std::string> keys;
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.string());
    auto parsed = workflow::ParseWorkflowFile(file.string());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_FALSE(parsed->steps.empty());
    // The examples name each file after its key, so `heraldctl workflows
    // lint` output and the README point at the right file.
    EXPECT_EQ(parsed->key, file.stem().string());
    EXPECT_TRUE(keys.insert(parsed->key).second) << "key " << parsed->key << " defined twice";
  }
  // Each file is one workflow; none is skipped by the directory load.
  auto registry = workflow::Registry::LoadDirectory(Workflows().string());
  ASSERT_TRUE(registry.ok()) << registry.status();
  EXPECT_EQ((*registry)->all().size(), files.size());
}

TEST_F(ExamplesTest, QuickStartWorkflowsExist) {
  auto registry = workflow::Registry::LoadDirectory(Workflows().string());
  ASSERT_TRUE(registry.ok()) << registry.status();
  for (const char* key : {"welcome", "new-comment", "comment-everywhere"}) {
    EXPECT_NE((*registry)->Find(key), nullptr) << key;
  }
  // And whatever the README triggers (`heraldctl trigger <key>`).
  std::string readme = ReadFile(fs::path(SourceDir()) / "README.md");
  ASSERT_FALSE(readme.empty());
  std::regex trigger(R"(heraldctl trigger ([a-z0-9_-]+))");
  int triggered = 0;
  for (auto it = std::sregex_iterator(readme.begin(), readme.end(), trigger); it != std::sregex_iterator(); ++it) {
    ++triggered;
    EXPECT_NE((*registry)->Find((*it)[1].str()), nullptr) << "README triggers " << (*it)[1].str();
  }
  EXPECT_GT(triggered, 0) << "the README triggers no workflow: is this still the Quick start?";
}

TEST_F(ExamplesTest, DefaultPreferencesLoad) {
  // scripts/run passes examples/preferences/default.json as the environment
  // default; every preference file there must load as herald would load it.
  std::string run = ReadFile(fs::path(SourceDir()) / "scripts" / "run");
  EXPECT_NE(run.find("examples/preferences/default.json"), std::string::npos);
  fs::path dir = fs::path(SourceDir()) / "examples" / "preferences";
  ASSERT_TRUE(fs::exists(dir / "default.json"));
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    auto set = preferences::LoadPreferenceFile(entry.path().string());
    ASSERT_TRUE(set.ok()) << set.status();
    EXPECT_FALSE(set->empty()) << entry.path();
  }
  EXPECT_GE(files, 1);
}

}  // namespace
}  // namespace herald
