// BatchRenderer: what one batch's recipients get rendered is what each
// would get rendered alone, whether or not the text is shared.
#include "fanout/batch_renderer.h"

#include "gtest/gtest.h"

namespace herald::fanout {
namespace {

using nlohmann::json;

templates::Template Compile(const std::string& source) {
  auto compiled = templates::Template::Compile(source);
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  return compiled.ok() ? *compiled : templates::Template();
}

struct Recipient {
  json profile;
  std::string timezone;
};

class BatchRendererTest : public testing::Test {
 protected:
  // Renders `t` for each recipient through one renderer, and alone.
  void ExpectSameAsAlone(const templates::Template& t, bool strict = false) {
    BatchRenderer renderer;
    for (const Recipient& recipient : recipients_) {
      templates::Context context;
      context.Set("data", &data_);
      context.Set("recipient", &recipient.profile);
      context.Set("refs", &refs_);
      templates::RenderOptions options;
      options.strict = strict;
      options.timezone = recipient.timezone;
      std::string batch = "prefix:";
      absl::Status batch_status = renderer.RenderTo(t, context, options, &batch);
      std::string alone = "prefix:";
      absl::Status alone_status = t.RenderTo(context, &alone, options);
      EXPECT_EQ(batch_status, alone_status) << t.source() << " for " << recipient.profile.dump();
      if (alone_status.ok()) {
        EXPECT_EQ(batch, alone) << t.source() << " for " << recipient.profile.dump();
      }
    }
  }

  json data_ = {{"title", "Launch"}, {"at", 1700000000}};
  json refs_ = json::object();
  std::vector<Recipient> recipients_ = {{{{"id", "u1"}, {"name", "Ana"}}, "Europe/Berlin"},
                                        {{{"id", "u2"}, {"name", "Bo"}}, "Europe/Berlin"},
                                        {{{"id", "u3"}, {"name", "Cy"}}, "Asia/Tokyo"},
                                        {{{"id", "u4"}, {"name", "Di"}}, ""}};
};

TEST_F(BatchRendererTest, PerRecipientTemplatesRenderPerRecipient) {
  ExpectSameAsAlone(Compile("Hi {{ recipient.name }}: {{ data.title }}"));
  ExpectSameAsAlone(Compile("{% if recipient.id == 'u3' %}three{% else %}other{% endif %}"));
}

TEST_F(BatchRendererTest, SharedTemplatesKeepTheTimezoneTheyAreRenderedIn) {
  ExpectSameAsAlone(Compile("{{ data.title }} at {{ data.at | date: '%H:%M %Z' }}"));
  ExpectSameAsAlone(Compile("literal text"));
}

TEST_F(BatchRendererTest, ErrorsAreThoseOfTheTemplate) {
  ExpectSameAsAlone(Compile("{{ data.missing }}"), /*strict=*/true);
  ExpectSameAsAlone(Compile("{{ recipient.missing }} {{ data.title }}"), /*strict=*/true);
}

TEST_F(BatchRendererTest, SharedTextIsRenderedOnceForTheBatch) {
  // The renderer's promise to the fan-out: a template that names neither
  // `recipient` nor `refs` is not rendered again for later recipients, so
  // a change to a root the REQUIRES says stays put shows that it was not.
  BatchRenderer renderer;
  templates::Template t = Compile("{{ data.title }}");
  json first = {{"title", "first"}}, second = {{"title", "second"}};
  templates::Context context;
  context.Set("data", &first);
  std::string out;
  ASSERT_TRUE(renderer.RenderTo(t, context, {}, &out).ok());
  context.Rebind("data", &second);
  ASSERT_TRUE(renderer.RenderTo(t, context, {}, &out).ok());
  EXPECT_EQ(out, "firstfirst");
}

}  // namespace
}  // namespace herald::fanout
