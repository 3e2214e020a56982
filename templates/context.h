// What templates and conditions read: named JSON roots (`data`, `actor`,
// `recipient`, ...) looked up by dot paths, without copying the roots.
#pragma once

#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

#include "nlohmann/json.hpp"

namespace herald::templates {

// A parsed variable path such as `data.post.title` or `activities[0].actor`.
using Path = std::vector<std::string>;

// Parses "a.b[0].c" into {"a","b","0","c"}. Empty result on a malformed path.
Path ParsePath(absl::string_view text);

// Borrowed roots; the JSON values must outlive the context. Not thread-safe
// to mutate, safe to read concurrently.
class Context {
 public:
  void Set(std::string name, const nlohmann::json* value) { roots_.emplace_back(std::move(name), value); }
  // Points the root that Root(name) finds at `value` (Set when there is
  // none): a context reused for many recipients changes its `recipient`
  // without being copied.
  void Rebind(absl::string_view name, const nlohmann::json* value);

  // The value at `path`, or nullptr when any part is missing. Later Set()
  // calls of the same root name win.
  const nlohmann::json* Lookup(const Path& path) const;

  // The root called `name`, or nullptr.
  const nlohmann::json* Root(absl::string_view name) const;

 private:
  std::vector<std::pair<std::string, const nlohmann::json*>> roots_;
};

// How a value prints inside text: strings raw, integers without ".0",
// null as empty, arrays and objects as compact JSON.
void AppendValue(const nlohmann::json& value, std::string* out);

}  // namespace herald::templates
