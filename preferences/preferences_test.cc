#include "preferences/preferences.h"

#include <array>

#include "gtest/gtest.h"

namespace herald::preferences {
namespace {

using nlohmann::json;

constexpr std::array<Level, 4> kLevels = {Level::kEnvironment, Level::kTenant, Level::kUser, Level::kUserTenant};

// Each kind of entry, written so that it allows or forbids the question
// below (workflow "mention", category "social", channel type "email").
struct Kind {
  const char* name;
  const char* setting;
  json (*make)(bool allow);
};

json Conditions(bool allow) {
  return json::array({{{"variable", "recipient.plan"}, {"operator", "equal_to"}, {"argument", allow ? "pro" : "free"}}});
}

const Kind kKinds[] = {
    {"channel_type", "channel_types.email", [](bool allow) { return json{{"channel_types", {{"email", allow}}}}; }},
    {"workflow_bool", "workflows.mention", [](bool allow) { return json{{"workflows", {{"mention", allow}}}}; }},
    {"workflow_channel_type", "workflows.mention.channel_types.email",
     [](bool allow) { return json{{"workflows", {{"mention", {{"channel_types", {{"email", allow}}}}}}}}; }},
    {"workflow_conditions", "workflows.mention.conditions",
     [](bool allow) { return json{{"workflows", {{"mention", {{"conditions", Conditions(allow)}}}}}}; }},
    {"category_bool", "categories.social", [](bool allow) { return json{{"categories", {{"social", allow}}}}; }},
    {"category_channel_type", "categories.social.channel_types.email",
     [](bool allow) { return json{{"categories", {{"social", {{"channel_types", {{"email", allow}}}}}}}}; }},
    {"category_conditions", "categories.social.conditions",
     [](bool allow) { return json{{"categories", {{"social", {{"conditions", Conditions(allow)}}}}}}; }},
};

class Fixture {
 public:
  Fixture() { context_.Set("recipient", &recipient_); }

  void Put(Level level, const json& set) {
    auto parsed = ParsePreferenceSet(set, "preferences");
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    sets_[static_cast<int>(level)] = std::move(*parsed);
    present_[static_cast<int>(level)] = true;
  }

  Decision Ask(bool critical = false) const {
    LevelSets sets;
    auto at = [&](Level level) {
      int i = static_cast<int>(level);
      return present_[i] ? &sets_[i] : nullptr;
    };
    sets.environment = at(Level::kEnvironment);
    sets.tenant = at(Level::kTenant);
    sets.user = at(Level::kUser);
    sets.user_tenant = at(Level::kUserTenant);
    return Evaluate(Question{"mention", {"social", "product"}, "email", critical}, sets, context_);
  }

 private:
  json recipient_ = {{"id", "rita"}, {"plan", "pro"}};
  templates::Context context_;
  std::array<PreferenceSet, 4> sets_;
  std::array<bool, 4> present_ = {false, false, false, false};
};

TEST(PreferencesTest, NothingSetMeansSend) {
  Fixture fixture;
  Decision decision = fixture.Ask();
  EXPECT_TRUE(decision.send);
  EXPECT_EQ(decision.reason, "no_preferences");
  EXPECT_TRUE(decision.chain.empty());
}

TEST(PreferencesTest, EveryKindAtEveryLevelDecidesAlone) {
  for (const Kind& kind : kKinds) {
    for (Level level : kLevels) {
      for (bool allow : {true, false}) {
        Fixture fixture;
        fixture.Put(level, kind.make(allow));
        Decision decision = fixture.Ask();
        SCOPED_TRACE(testing::Message() << kind.name << " at " << LevelName(level) << " allow=" << allow);
        EXPECT_EQ(decision.send, allow);
        ASSERT_EQ(decision.chain.size(), 1u);
        EXPECT_EQ(decision.chain[0].setting, kind.setting);
        EXPECT_EQ(decision.chain[0].level, level);
        if (allow) {
          EXPECT_EQ(decision.reason, "allowed");
          EXPECT_EQ(decision.decided_by, "");
        } else {
          EXPECT_EQ(decision.reason, "preference");
          EXPECT_EQ(decision.decided_by, absl::StrCat(LevelName(level), ":", kind.setting));
        }
      }
    }
  }
}

TEST(PreferencesTest, TheMoreSpecificLevelWinsForEveryKind) {
  for (const Kind& kind : kKinds) {
    for (size_t low = 0; low < kLevels.size(); ++low) {
      for (size_t high = low + 1; high < kLevels.size(); ++high) {
        for (bool high_allows : {true, false}) {
          Fixture fixture;
          fixture.Put(kLevels[low], kind.make(!high_allows));
          fixture.Put(kLevels[high], kind.make(high_allows));
          Decision decision = fixture.Ask();
          SCOPED_TRACE(testing::Message() << kind.name << ": " << LevelName(kLevels[low]) << " says "
                                          << !high_allows << ", " << LevelName(kLevels[high]) << " says "
                                          << high_allows);
          EXPECT_EQ(decision.send, high_allows);
          ASSERT_EQ(decision.chain.size(), 1u);
          EXPECT_EQ(decision.chain[0].level, kLevels[high]);
          ASSERT_EQ(decision.overridden.size(), 1u);
          EXPECT_EQ(decision.overridden[0].level, kLevels[low]);
          EXPECT_EQ(decision.overridden[0].setting, kind.setting);
        }
      }
    }
  }
}

TEST(PreferencesTest, LevelsSilentOnASettingInheritIt) {
  Fixture fixture;
  fixture.Put(Level::kTenant, {{"channel_types", {{"email", false}}}});
  fixture.Put(Level::kUser, {{"workflows", {{"mention", true}}}});  // says nothing about email
  Decision decision = fixture.Ask();
  EXPECT_FALSE(decision.send);
  EXPECT_EQ(decision.decided_by, "tenant:channel_types.email");
}

TEST(PreferencesTest, ABoolEntrySpeaksForTheWholeEntry) {
  Fixture fixture;
  fixture.Put(Level::kTenant, {{"workflows", {{"mention", {{"channel_types", {{"email", false}}}}}}}});
  fixture.Put(Level::kUser, {{"workflows", {{"mention", true}}}});
  Decision decision = fixture.Ask();
  EXPECT_TRUE(decision.send);
  ASSERT_EQ(decision.overridden.size(), 1u);
  EXPECT_EQ(decision.overridden[0].setting, "workflows.mention.channel_types.email");
  EXPECT_NE(decision.overridden[0].note.find("whole entry"), std::string::npos);
}

TEST(PreferencesTest, AnyOptOutWinsAndTheMostSpecificSettingIsNamed) {
  Fixture fixture;
  fixture.Put(Level::kEnvironment, {{"channel_types", {{"email", false}}}, {"categories", {{"product", false}}}});
  fixture.Put(Level::kUser, {{"workflows", {{"mention", false}}}, {"categories", {{"social", true}}}});
  Decision decision = fixture.Ask();
  EXPECT_FALSE(decision.send);
  EXPECT_EQ(decision.decided_by, "user:workflows.mention");  // workflow before categories before channel type
  EXPECT_EQ(decision.chain.size(), 4u);
  fixture.Put(Level::kUser, {{"categories", {{"social", true}}}});
  EXPECT_EQ(fixture.Ask().decided_by, "environment:categories.product");
}

TEST(PreferencesTest, CriticalWorkflowsBypassAndSayWhatTheyBypassed) {
  Fixture fixture;
  fixture.Put(Level::kUser, {{"channel_types", {{"email", false}}}});
  Decision decision = fixture.Ask(/*critical=*/true);
  EXPECT_TRUE(decision.send);
  EXPECT_EQ(decision.reason, "critical_workflow");
  EXPECT_EQ(decision.bypassed, "user:channel_types.email");
  json explained = DecisionToJson(decision);
  EXPECT_EQ(explained["reason"], "critical_workflow");
  EXPECT_EQ(explained["chain"][0]["setting"], "channel_types.email");
}

TEST(PreferencesTest, BadSetsNameTheField) {
  struct Case {
    json set;
    const char* message;
  };
  const Case cases[] = {
      {json::array(), "preferences: must be an object with channel_types, workflows, categories"},
      {{{"channel", {}}}, "preferences.channel: unknown field (channel_types, workflows or categories)"},
      {{{"channel_types", {{"email", "no"}}}}, "preferences.channel_types.email: must be a boolean"},
      {{{"workflows", {{"mention", 1}}}},
       "preferences.workflows.mention: must be a boolean or an object with channel_types / conditions"},
      {{{"workflows", {{"mention", {{"channel_types", {{"sms", 0}}}}}}}},
       "preferences.workflows.mention.channel_types.sms: must be a boolean"},
      {{{"categories", {{"social", {{"conditions", {{{"variable", "a"}, {"operator", "nearly"}}}}}}}}},
       "preferences.categories.social.conditions[0].operator: unknown operator 'nearly'"},
      {{{"categories", {{"social", {{"when", true}}}}}},
       "preferences.categories.social.when: unknown field (channel_types or conditions)"},
  };
  for (const Case& c : cases) {
    auto parsed = ParsePreferenceSet(c.set, "preferences");
    ASSERT_FALSE(parsed.ok()) << c.set.dump();
    EXPECT_EQ(std::string(parsed.status().message()), c.message);
  }
}

TEST(PreferencesTest, SetsRoundTripThroughJson) {
  json set = {{"channel_types", {{"sms", false}}},
              {"workflows", {{"mention", {{"channel_types", {{"email", true}}}}}, {"digest", false}}},
              {"categories", {{"social", {{"conditions", Conditions(true)}}}}}};
  auto parsed = ParsePreferenceSet(set, "preferences");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(PreferenceSetToJson(*parsed), set);
}

}  // namespace
}  // namespace herald::preferences
