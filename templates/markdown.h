// Markdown -> HTML for in-app blocks, with the CommonMark reference
// library (Debian libcmark). Safe mode: raw HTML in the text (which may come
// from trigger data) is dropped and javascript:/data: links are removed.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace herald::templates {

std::string MarkdownToHtml(absl::string_view markdown);

}  // namespace herald::templates
