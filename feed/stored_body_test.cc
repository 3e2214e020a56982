// StoredBody writes the same bytes as a copy with the left-out fields
// cleared (how records were first written), for every shape of item.
#include "feed/stored_body.h"

#include <string>

#include "gtest/gtest.h"

namespace herald::feed {
namespace {

v1::FeedItem FullItem() {
  v1::FeedItem item;
  item.set_id("0123456789abcdef0123456789abcdef");
  item.set_workflow("comments");
  item.set_tenant("acme");
  v1::FeedBlock* markdown = item.add_blocks();
  markdown->set_name("body");
  markdown->set_type("markdown");
  markdown->set_content("{{ actor.name }} commented: {{ data.text }}");
  markdown->set_markdown("Ana commented: " + std::string(300, 'x'));  // a length of two varint bytes
  markdown->set_rendered("<p>Ana commented</p>");
  v1::FeedBlock* text = item.add_blocks();
  text->set_name("action_url");
  text->set_type("text");
  text->set_content("/posts/{{ data.id }}");
  text->set_rendered("/posts/p1");
  v1::FeedBlock* buttons = item.add_blocks();
  buttons->set_name("actions");
  buttons->set_type("button_set");
  buttons->set_content("");
  v1::FeedButton* button = buttons->add_buttons();
  button->set_name("open");
  button->set_label("Open");
  button->set_action("/posts/p1");
  item.add_actors("ana");
  item.add_actors("bo");
  item.set_total_activities(4);
  item.set_total_actors(2);
  item.set_data_json(R"({"text":")" + std::string(20000, 'y') + R"("})");  // three varint bytes
  item.set_inserted_at_ms(1700000000123);
  item.set_seen_at_ms(1700000000456);
  item.set_read_at_ms(-1);
  item.set_archived_at_ms(1);
  return item;
}

TEST(StoredBodyTest, SameBytesAsAClearedCopy) {
  const v1::FeedItem full = FullItem();
  EXPECT_EQ(StoredBody(full), CopiedBody(full));
  EXPECT_LT(StoredBody(full).size(), full.ByteSizeLong());

  EXPECT_EQ(StoredBody(v1::FeedItem()), "");

  v1::FeedItem header_only;
  header_only.set_id("x");
  header_only.set_workflow("w");
  header_only.set_tenant("t");
  header_only.set_inserted_at_ms(5);
  EXPECT_EQ(StoredBody(header_only), "");

  // Blocks left empty by the filter still count (their place in the list).
  v1::FeedItem only_sources;
  for (const char* type : {"markdown", "text", "markdown"}) {
    v1::FeedBlock* block = only_sources.add_blocks();
    block->set_type(type);
    block->set_content("{{ x }}");
  }
  only_sources.mutable_blocks(1)->set_type("");
  EXPECT_EQ(StoredBody(only_sources), CopiedBody(only_sources));
  v1::FeedItem parsed;
  ASSERT_TRUE(parsed.ParseFromString(StoredBody(only_sources)));
  EXPECT_EQ(parsed.blocks_size(), 3);

  // A text block keeps its rendered text; a markdown block its markdown.
  ASSERT_TRUE(parsed.ParseFromString(StoredBody(full)));
  EXPECT_EQ(parsed.blocks(0).rendered(), "");
  EXPECT_EQ(parsed.blocks(0).content(), "");
  EXPECT_EQ(parsed.blocks(0).markdown(), full.blocks(0).markdown());
  EXPECT_EQ(parsed.blocks(1).rendered(), "/posts/p1");
  EXPECT_EQ(parsed.blocks(2).buttons(0).label(), "Open");
  EXPECT_EQ(parsed.id(), "");
  EXPECT_EQ(parsed.data_json(), full.data_json());
  EXPECT_EQ(parsed.seen_at_ms(), full.seen_at_ms());
}

}  // namespace
}  // namespace herald::feed
