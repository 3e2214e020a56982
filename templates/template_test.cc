#include "templates/template.h"

#include "gtest/gtest.h"

namespace herald::templates {
namespace {

using nlohmann::json;

// Renders `source` with every top-level key of `roots` as a context root.
absl::StatusOr<std::string> RenderWith(const std::string& source, const json& roots, RenderOptions options = {}) {
  auto compiled = Template::Compile(source);
  if (!compiled.ok()) return compiled.status();
  Context context;
  for (auto it = roots.begin(); it != roots.end(); ++it) context.Set(it.key(), &it.value());
  return compiled->Render(context, options);
}

struct Golden {
  const char* name;
  const char* source;
  const char* roots;
  const char* expected;
};

const json kBatch = json::parse(R"({
  "actor": {"id": "ana", "name": "Ana"},
  "actors": [{"id": "ana", "name": "Ana"}, {"id": "bo", "name": "Bo"}, {"id": "cy", "name": "Cy"},
             {"id": "di", "name": "Di"}, {"id": "ed", "name": "Ed"}],
  "total_actors": 5,
  "total_activities": 7,
  "data": {"post": {"title": "Launch plan"}, "tags": ["a", "b", "c"], "count": 3, "price": 2.5,
           "html": "<b>\"Tom\" & 'Jerry'</b>", "empty": "", "query": "a b&c/d",
           "matrix": [[1, 2], [3, 4]], "flags": {"x": true}},
  "recipient": {"id": "rita", "name": "rita ROSS"}
})");

class GoldenTest : public testing::TestWithParam<Golden> {};

TEST_P(GoldenTest, Renders) {
  const Golden& golden = GetParam();
  json roots = golden.roots[0] == '\0' ? kBatch : json::parse(golden.roots);
  auto rendered = RenderWith(golden.source, roots);
  ASSERT_TRUE(rendered.ok()) << golden.name << ": " << rendered.status();
  EXPECT_EQ(*rendered, golden.expected) << golden.name;
}

const Golden kGoldens[] = {
    {"interpolation", "{{ data.post.title }}: {{data.count}} x{{ data.price }} by {{ actors[1].name }}", "",
     "Launch plan: 3 x2.5 by Bo"},
    {"batch_sentence",
     "{% if total_actors > 2 %}{{ actors[0].name }}, {{ actors[1].name }} and {{ total_actors | minus: 2 }} "
     "{{ total_actors | minus: 2 | pluralize: 'other' }}{% elsif total_actors == 2 %}{{ actors[0].name }} and "
     "{{ actors[1].name }}{% else %}{{ actor.name }}{% endif %} commented on {{ data.post.title }}",
     "", "Ana, Bo and 3 others commented on Launch plan"},
    {"batch_sentence_two",
     "{% if total_actors > 2 %}many{% elsif total_actors == 2 %}{{ actors[0].name }} and {{ actors[1].name "
     "}}{% else %}one{% endif %}",
     R"({"total_actors": 2, "actors": [{"name": "Ana"}, {"name": "Bo"}]})", "Ana and Bo"},
    {"missing_renders_empty", "[{{ nope }}][{{ data.post.nope.deeper }}][{{ actors[99].name }}]", "", "[][][]"},
    {"default", "{{ nope | default: 'someone' }} {{ data.empty | default: 'blank' }} {{ data.count | default: 9 }}",
     "", "someone blank 3"},
    {"case", "{{ recipient.name | upcase }} {{ recipient.name | downcase }} {{ recipient.name | capitalize }}", "",
     "RITA ROSS rita ross Rita ross"},
    {"size", "{{ actors | size }} {{ data.post.title | size }} {{ actors.size }} {{ 'héllo' | size }}", "",
     "5 11 5 5"},
    {"arithmetic", "{{ data.count | plus: 2 }} {{ data.count | minus: 5 }} {{ data.count | times: 1.5 }} "
                   "{{ data.price | plus: 1 }} {{ '4' | plus: 1 }}",
     "", "5 -2 4.5 3.5 5"},
    {"pluralize", "{{ 1 | pluralize: 'comment' }} {{ 2 | pluralize: 'comment' }} {{ 1 | pluralize: 'person', "
                  "'people' }} {{ 0 | pluralize: 'person', 'people' }}",
     "", "comment comments person people"},
    {"truncate", "{{ data.post.title | truncate: 8 }}|{{ data.post.title | truncate: 20 }}|{{ 'abcdef' | "
                 "truncate: 4, '…' }}",
     "", "Launc...|Launch plan|abc…"},
    {"join_first_last", "{{ data.tags | join: ', ' }} {{ data.tags | join }} {{ data.tags | first }}{{ data.tags | "
                        "last }} {{ actors.first.name }}-{{ actors.last.name }} {{ 'xyz' | first }}",
     "", "a, b, c a b c ac Ana-Ed x"},
    {"escape", "{{ data.html | escape }}", "", "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;"},
    {"escape_is_not_automatic", "{{ data.html }}", "", "<b>\"Tom\" & 'Jerry'</b>"},
    {"url_encode", "/search?q={{ data.query | url_encode }}", "", "/search?q=a+b%26c%2Fd"},
    {"json", "{{ data.tags | json }} {{ data.flags | json }} {{ data.post.title | json }}", "",
     R"(["a","b","c"] {"x":true} "Launch plan")"},
    {"chained", "{{ actors | size | minus: 1 | times: 10 }}", "", "40"},
    {"unless", "{% unless data.empty == '' %}has{% else %}empty{% endunless %}", "", "empty"},
    {"truthiness", "{% if data.empty %}empty-string-is-truthy{% endif %}{% if nope %}x{% endif %}"
                   "{% if data.flags.x %} flag{% endif %}",
     "", "empty-string-is-truthy flag"},
    {"empty_and_blank", "{% if data.empty == empty %}e{% endif %}{% if data.tags != empty %}t{% endif %}"
                        "{% if nope == blank %}b{% endif %}",
     "", "etb"},
    {"and_or_right_to_left", "{% if false and false or true %}x{% else %}y{% endif %}", "", "y"},
    {"contains", "{% if data.tags contains 'b' %}1{% endif %}{% if data.post.title contains 'plan' %}2{% endif %}"
                 "{% if data.flags contains 'x' %}3{% endif %}{% if data.tags contains 'z' %}4{% endif %}",
     "", "123"},
    {"comparisons", "{% if data.count >= 3 and data.count < 4 and data.price <= 2.5 and 'b' > 'a' %}ok{% endif %}",
     "", "ok"},
    {"for_forloop", "{% for a in actors limit: 3 %}{{ forloop.index }}/{{ forloop.length }}:{{ a.name }}"
                    "{% unless forloop.last %}, {% endunless %}{% endfor %}",
     "", "1/3:Ana, 2/3:Bo, 3/3:Cy"},
    {"for_offset_reversed", "{% for a in actors offset: 1 limit: 2 reversed %}{{ a.id }}{{ forloop.rindex0 }} "
                            "{% endfor %}",
     "", "cy1 bo0 "},
    {"for_else", "{% for t in nope %}x{% else %}none{% endfor %}", "", "none"},
    {"for_range", "{% for i in (1..data.count) %}{{ i }}{% if forloop.first %}!{% endif %}{% endfor %}", "",
     "1!23"},
    {"nested_loops", "{% for row in data.matrix %}[{% for cell in row %}{{ forloop.index0 }}={{ cell }}"
                     "{% endfor %}]{% endfor %}",
     "", "[0=11=2][0=31=4]"},
    {"break_continue", "{% for i in (1..10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i > 4 %}{% break %}"
                       "{% endif %}{{ i }}{% endfor %}",
     "", "134"},
    {"assign_capture", "{% assign who = actor.name | upcase %}{% capture line %}{{ who }} x{{ data.count }}"
                       "{% endcapture %}{{ line }}/{{ line | size }}",
     "", "ANA x3/6"},
    {"assign_in_loop_is_visible_after", "{% for a in actors %}{% assign last_name = a.name %}{% endfor %}"
                                        "{{ last_name }}",
     "", "Ed"},
    {"whitespace_control", "<ul>\n  {%- for t in data.tags %}\n    <li>{{- t -}}</li>\n  {%- endfor %}\n</ul>", "",
     "<ul>\n    <li>a</li>\n    <li>b</li>\n    <li>c</li>\n</ul>"},
    {"comment_and_raw", "a{% comment %} {{ ignored }} {% bogus %} {% endcomment %}b{% raw %}{{ kept }}"
                        "{% endraw %}c",
     "", "ab{{ kept }}c"},
    {"date_unix_utc", "{{ data.at | date: '%Y-%m-%d %H:%M' }}", R"({"data": {"at": 1764151200}})",
     "2025-11-26 10:00"},
    {"date_iso", "{{ data.at | date: '%b %d, %Y' }}", R"({"data": {"at": "2025-11-26T10:00:00Z"}})",
     "Nov 26, 2025"},
    {"date_unparseable_passes_through", "{{ 'soon' | date: '%Y' }}", "{}", "soon"},
    {"literal_text", "no variables { here } or %}", "{}", "no variables { here } or %}"},
};

INSTANTIATE_TEST_SUITE_P(Liquid, GoldenTest, testing::ValuesIn(kGoldens),
                         [](const testing::TestParamInfo<Golden>& info) { return std::string(info.param.name); });

// Reads() lets the fan-out render once per batch what does not depend on
// the recipient: it must see a root wherever the template can name it.
TEST(TemplateTest, ReadsNamesEveryRootTheTemplateCanLookUp) {
  auto plain = Template::Compile("Hello {{ actor.name | default: data.who }}, {{ total_activities }} new");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_TRUE(plain->Reads("actor"));
  EXPECT_TRUE(plain->Reads("data"));  // a filter argument
  EXPECT_TRUE(plain->Reads("total_activities"));
  EXPECT_FALSE(plain->Reads("recipient"));
  EXPECT_FALSE(plain->Reads("act"));  // whole roots, not prefixes

  for (const char* source : {"{% if recipient.vip %}VIP{% endif %}",
                             "{% if data.x == 1 %}{% elsif 2 < recipient.n %}{% endif %}",
                             "{% unless x %}{% else %}{{ recipient.name }}{% endunless %}",
                             "{% for a in recipient.tags limit: 2 %}{{ a }}{% endfor %}",
                             "{% for a in (1..recipient.n) %}{% endfor %}",
                             "{% for a in data.list offset: recipient.n %}{% else %}{% endfor %}",
                             "{% for a in data.list %}{% else %}{{ recipient.id }}{% endfor %}",
                             "{% assign who = recipient.name | upcase %}{{ who }}",
                             "{% capture c %}{{ recipient.name }}{% endcapture %}{{ c }}",
                             "{{ data.text | truncate: recipient.n }}"}) {
    auto compiled = Template::Compile(source);
    ASSERT_TRUE(compiled.ok()) << source << ": " << compiled.status();
    EXPECT_TRUE(compiled->Reads("recipient")) << source;
  }
  auto literal = Template::Compile("{% raw %}{{ recipient.name }}{% endraw %} and text");
  ASSERT_TRUE(literal.ok());
  EXPECT_FALSE(literal->Reads("recipient"));
  EXPECT_FALSE(Template().Reads("recipient"));
}

TEST(TemplateTest, DateUsesTheRecipientsTimezone) {
  json roots = {{"data", {{"at", 1764151200}}}};
  RenderOptions options;
  options.timezone = "America/New_York";
  EXPECT_EQ(*RenderWith("{{ data.at | date: '%H:%M %Z' }}", roots, options), "05:00 EST");
  options.timezone = "Asia/Tokyo";
  EXPECT_EQ(*RenderWith("{{ data.at | date: '%d %H:%M' }}", roots, options), "26 19:00");
  options.timezone = "Not/AZone";  // unknown zones fall back to UTC
  EXPECT_EQ(*RenderWith("{{ data.at | date: '%H:%M' }}", roots, options), "10:00");
  options.now = absl::FromUnixSeconds(0);
  EXPECT_EQ(*RenderWith("{{ 'now' | date: '%Y' }}", json::object(), options), "1970");
}

TEST(TemplateTest, StrictModeNamesTheVariableAndWhere) {
  RenderOptions strict;
  strict.strict = true;
  auto missing = RenderWith("Hi\n  {{ recipient.nickname }}", kBatch, strict);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(missing.status().message(), "unknown variable 'recipient.nickname' at 2:6");
  auto in_condition = RenderWith("{% if a == nope %}x{% endif %}", json::object(), strict);
  ASSERT_FALSE(in_condition.ok());
  EXPECT_NE(in_condition.status().message().find("'a'"), std::string::npos);
  // `default` is how a template says "this may be missing".
  EXPECT_EQ(*RenderWith("{{ recipient.nickname | default: recipient.name }}", kBatch, strict), "rita ROSS");
  EXPECT_EQ(*RenderWith("{% for a in actors %}{{ forloop.index }}{% endfor %}", kBatch, strict), "12345");
}

TEST(TemplateTest, CompileErrorsCarryLineAndColumn) {
  struct Case {
    const char* source;
    const char* message;
  };
  const Case cases[] = {
      {"line one\nsay {{ data.x ", "template 2:5: unclosed '{{'"},
      {"{{ }}", "template 1:1: empty '{{ }}'"},
      {"{{ a | shout }}", "template 1:8: unknown filter 'shout'"},
      {"{{ a | plus }}", "template 1:8: filter 'plus' takes 1 argument(s), got 0"},
      {"{{ a | truncate: 1, 2, 3 }}", "template 1:8: filter 'truncate' takes 0 to 2 argument(s), got 3"},
      {"x\n{% if a %}y", "template 2:1: this tag is never closed with '{% endif %}'"},
      {"{% for a in b %}{% if c %}{% endfor %}", "template 1:27: unexpected '{% endfor %}'"},
      {"{% endif %}", "template 1:1: unexpected '{% endif %}'"},
      {"{% for a in b %}{% endif %}{% endfor %}", "template 1:17: unexpected '{% endif %}'"},
      {"{% unless a %}{% elsif b %}{% endunless %}", "template 1:15: unexpected '{% elsif %}'"},
      {"{% include 'x' %}", "template 1:1: unknown tag 'include'"},
      {"{% if a === b %}{% endif %}", "template 1:11: expected a value, got '='"},
      {"{% if a =! b %}{% endif %}", "template 1:10: unexpected '!'"},
      {"{% for in b %}{% endfor %}", "template 1:11: expected 'in' after the loop variable"},
      {"{% for a in (1..) %}{% endfor %}", "template 1:17: expected a value, got ')'"},
      {"{% assign = 1 %}", "template 1:11: assign needs a variable name"},
      {"{{ 'open }}", "template 1:4: unterminated string"},
      {"{{ a b }}", "template 1:6: unexpected 'b'"},
      {"{% raw %}never closed", "template 1:1: '{% raw %}' is never closed with '{% endraw %}'"},
      {"{{ a; }}", "template 1:5: unexpected character ';'"},
  };
  for (const Case& c : cases) {
    auto compiled = Template::Compile(c.source);
    ASSERT_FALSE(compiled.ok()) << c.source;
    EXPECT_EQ(compiled.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(std::string(compiled.status().message()), c.message) << c.source;
  }
}

TEST(TemplateTest, DeepNestingIsACompileErrorNotACrash) {
  std::string source;
  for (int i = 0; i < 200; ++i) source += "{% if a %}";
  auto compiled = Template::Compile(source);
  ASSERT_FALSE(compiled.ok());
  EXPECT_NE(compiled.status().message().find("nesting too deep"), std::string::npos);
}

TEST(TemplateTest, BoundsStopRunawayTemplates) {
  auto loops = RenderWith("{% for i in (1..100000) %}{% for j in (1..100000) %}x{% endfor %}{% endfor %}",
                          json::object());
  ASSERT_FALSE(loops.ok());
  EXPECT_EQ(loops.status().code(), absl::StatusCode::kResourceExhausted);
  RenderOptions small;
  small.max_output_bytes = 64;
  auto output = RenderWith("{% for i in (1..50) %}{{ i }}-{% endfor %}", json::object(), small);
  ASSERT_FALSE(output.ok());
  EXPECT_EQ(output.status().code(), absl::StatusCode::kResourceExhausted);
  auto huge_range = RenderWith("{% for i in (1..99999999999999) %}{% endfor %}", json::object());
  ASSERT_FALSE(huge_range.ok());
}

TEST(TemplateTest, LiteralTextIsKept) {
  auto compiled = Template::Compile("no variables { here }");
  ASSERT_TRUE(compiled.ok());
  EXPECT_TRUE(compiled->is_literal());
  EXPECT_FALSE(Template::Compile("{{ x }}")->is_literal());
  EXPECT_FALSE(Template::Compile("{% assign x = 1 %}")->is_literal());
  EXPECT_EQ(*compiled->Render(Context()), "no variables { here }");
}

TEST(TemplateTest, CopiesShareTheProgramAndRenderConcurrently) {
  auto compiled = Template::Compile("{% for a in actors %}{{ a.name }}{% endfor %}");
  ASSERT_TRUE(compiled.ok());
  Template copy = *compiled;
  Context context;
  const json& actors = kBatch["actors"];
  context.Set("actors", &actors);
  EXPECT_EQ(*copy.Render(context), *compiled->Render(context));
}

}  // namespace
}  // namespace herald::templates
