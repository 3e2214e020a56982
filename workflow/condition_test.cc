#include "workflow/condition.h"

#include "gtest/gtest.h"

namespace herald::workflow {
namespace {

using nlohmann::json;

Condition Make(const std::string& variable, Operator op, json argument = nullptr) {
  return Condition{variable, templates::ParsePath(variable), op, std::move(argument)};
}

TEST(ConditionTest, OperatorsCompareByType) {
  json data = {{"priority", "high"}, {"count", 5}, {"count_text", "7"}, {"tags", {"a", "b"}}, {"empty", ""}};
  json recipient = {{"id", "u1"}};
  templates::Context context;
  context.Set("data", &data);
  context.Set("recipient", &recipient);
  EXPECT_TRUE(EvaluateCondition(Make("data.priority", Operator::kEqualTo, "high"), context));
  EXPECT_FALSE(EvaluateCondition(Make("data.priority", Operator::kEqualTo, "low"), context));
  EXPECT_TRUE(EvaluateCondition(Make("data.priority", Operator::kNotEqualTo, "low"), context));
  EXPECT_TRUE(EvaluateCondition(Make("data.count", Operator::kGreaterThan, 4), context));
  EXPECT_FALSE(EvaluateCondition(Make("data.count", Operator::kLessThan, 5), context));
  EXPECT_TRUE(EvaluateCondition(Make("data.count", Operator::kLessThanOrEqualTo, 5), context));
  EXPECT_TRUE(EvaluateCondition(Make("data.count_text", Operator::kGreaterThanOrEqualTo, 7), context));
  EXPECT_TRUE(EvaluateCondition(Make("data.tags", Operator::kContains, "b"), context));
  EXPECT_TRUE(EvaluateCondition(Make("data.tags", Operator::kNotContains, "z"), context));
  EXPECT_TRUE(EvaluateCondition(Make("data.priority", Operator::kContains, "ig"), context));
  EXPECT_TRUE(EvaluateCondition(Make("data.missing", Operator::kNotExists), context));
  EXPECT_TRUE(EvaluateCondition(Make("recipient.id", Operator::kExists), context));
  EXPECT_TRUE(EvaluateCondition(Make("data.empty", Operator::kEmpty), context));
  EXPECT_TRUE(EvaluateCondition(Make("data.tags", Operator::kNotEmpty), context));
  EXPECT_FALSE(EvaluateCondition(Make("data.missing", Operator::kGreaterThan, 1), context));
}

TEST(ConditionTest, GroupsCombineAllOrAny) {
  json data = {{"a", 1}, {"b", 2}};
  templates::Context context;
  context.Set("data", &data);
  ConditionGroup group;
  group.conditions = {Make("data.a", Operator::kEqualTo, 1), Make("data.b", Operator::kEqualTo, 3)};
  EXPECT_FALSE(group.Evaluate(context));
  group.any = true;
  EXPECT_TRUE(group.Evaluate(context));
  EXPECT_TRUE(ConditionGroup().Evaluate(context));
  EXPECT_TRUE(group.Reads("data"));
  EXPECT_FALSE(group.Reads("recipient"));
}

TEST(ConditionTest, RefsStatusesCompareInMessageOrder) {
  json refs = {{"in_app", {{"status", "delivered"}, {"engagement_status", "seen"}}},
               {"push", {{"status", "undelivered"}, {"engagement_status", "undelivered"}}}};
  templates::Context context;
  context.Set("refs", &refs);
  auto ordered = [](const std::string& variable, Operator op, const char* argument) {
    Condition condition = Make(variable, op, argument);
    condition.status_order = true;
    return condition;
  };
  // As strings "seen" > "read"; in message order seen < read.
  EXPECT_TRUE(EvaluateCondition(ordered("refs.in_app.engagement_status", Operator::kLessThan, "read"), context));
  EXPECT_FALSE(EvaluateCondition(ordered("refs.in_app.engagement_status", Operator::kLessThan, "seen"), context));
  EXPECT_TRUE(EvaluateCondition(ordered("refs.in_app.engagement_status", Operator::kLessThanOrEqualTo, "seen"), context));
  EXPECT_TRUE(EvaluateCondition(ordered("refs.in_app.status", Operator::kGreaterThanOrEqualTo, "sent"), context));
  EXPECT_TRUE(EvaluateCondition(ordered("refs.push.status", Operator::kLessThan, "queued"), context));
  EXPECT_FALSE(EvaluateCondition(ordered("refs.push.status", Operator::kGreaterThan, "bounced"), context));
  // No message for the step: ordered comparisons fail, not_exists tells.
  EXPECT_FALSE(EvaluateCondition(ordered("refs.sms.status", Operator::kLessThan, "read"), context));
  EXPECT_TRUE(EvaluateCondition(Make("refs.sms.status", Operator::kNotExists), context));
  EXPECT_TRUE(EvaluateCondition(Make("refs.in_app.status", Operator::kEqualTo, "delivered"), context));

  int previous = -1;
  for (const char* word : {"undelivered", "bounced", "delivery_attempted", "queued", "not_sent", "sent", "delivered",
                           "seen", "read", "interacted", "archived"}) {
    EXPECT_GT(MessageStatusRank(word), previous) << word;
    previous = MessageStatusRank(word);
  }
  EXPECT_EQ(MessageStatusRank("pending"), -1);
}

}  // namespace
}  // namespace herald::workflow
