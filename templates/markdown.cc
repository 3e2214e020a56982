#include "templates/markdown.h"

#include <cmark.h>

#include <cstdlib>
#include <memory>

namespace herald::templates {

std::string MarkdownToHtml(absl::string_view markdown) {
  // CMARK_OPT_DEFAULT is safe in cmark >= 0.29 (CMARK_OPT_UNSAFE opts out).
  std::unique_ptr<char, decltype(&std::free)> html(
      cmark_markdown_to_html(markdown.data(), markdown.size(), CMARK_OPT_DEFAULT), &std::free);
  return html ? std::string(html.get()) : std::string();
}

}  // namespace herald::templates
