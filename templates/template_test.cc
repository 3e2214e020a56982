#include "templates/template.h"

#include "gtest/gtest.h"

namespace herald::templates {
namespace {

using nlohmann::json;

TEST(TemplateTest, InterpolatesDotPathsAndIndexes) {
  json data = {{"post", {{"title", "Launch plan"}}}, {"count", 3}, {"ratio", 1.5}};
  json activities = json::array({{{"actor", "ana"}}, {{"actor", "bo"}}});
  Context context;
  context.Set("data", &data);
  context.Set("activities", &activities);
  auto compiled = Template::Compile("{{ data.post.title }}: {{data.count}} x{{ data.ratio }} by {{ activities[1].actor }}");
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  EXPECT_EQ(*compiled->Render(context), "Launch plan: 3 x1.5 by bo");
}

TEST(TemplateTest, UnknownVariablesRenderEmptyUnlessStrict) {
  Context context;
  auto compiled = Template::Compile("Hi {{ recipient.name }}!");
  ASSERT_TRUE(compiled.ok());
  EXPECT_EQ(*compiled->Render(context), "Hi !");
  auto strict = compiled->Render(context, {.strict = true});
  ASSERT_FALSE(strict.ok());
  EXPECT_NE(strict.status().message().find("recipient.name"), std::string::npos);
}

TEST(TemplateTest, CompileErrorsCarryLineAndColumn) {
  auto unclosed = Template::Compile("line one\nsay {{ data.x ");
  ASSERT_FALSE(unclosed.ok());
  EXPECT_NE(unclosed.status().message().find("2:5"), std::string::npos) << unclosed.status();
  EXPECT_FALSE(Template::Compile("{{ }}").ok());
  EXPECT_FALSE(Template::Compile("{{ a..b }}").ok());
  EXPECT_FALSE(Template::Compile("{{ a | upcase }}").ok());
  EXPECT_FALSE(Template::Compile("{% if a %}x{% endif %}").ok());
}

TEST(TemplateTest, LiteralTextIsKept) {
  auto compiled = Template::Compile("no variables { here }");
  ASSERT_TRUE(compiled.ok());
  EXPECT_TRUE(compiled->is_literal());
  EXPECT_EQ(*compiled->Render(Context()), "no variables { here }");
}

}  // namespace
}  // namespace herald::templates
