#include "templates/context.h"

#include "absl/strings/numbers.h"

namespace herald::templates {

Path ParsePath(absl::string_view text) {
  Path path;
  std::string current;
  auto flush = [&]() -> bool {
    if (current.empty()) return false;
    path.push_back(std::move(current));
    current.clear();
    return true;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      if (!flush()) return {};
    } else if (c == '[') {
      if (!current.empty() && !flush()) return {};
      size_t close = text.find(']', i);
      if (close == absl::string_view::npos || close == i + 1) return {};
      absl::string_view index = text.substr(i + 1, close - i - 1);
      if (index.size() >= 2 && (index.front() == '"' || index.front() == '\'') && index.back() == index.front()) {
        index = index.substr(1, index.size() - 2);
      }
      path.emplace_back(index);
      i = close;
      if (i + 1 < text.size() && text[i + 1] == '.') ++i;
    } else if (c == '_' || c == '-' || c == '?' || std::isalnum(static_cast<unsigned char>(c))) {
      current.push_back(c);
    } else {
      return {};
    }
  }
  if (!current.empty()) path.push_back(std::move(current));
  return path;
}

const nlohmann::json* Context::Root(absl::string_view name) const {
  for (auto it = roots_.rbegin(); it != roots_.rend(); ++it) {
    if (it->first == name) return it->second;
  }
  return nullptr;
}

void Context::Rebind(absl::string_view name, const nlohmann::json* value) {
  for (auto it = roots_.rbegin(); it != roots_.rend(); ++it) {
    if (it->first == name) {
      it->second = value;
      return;
    }
  }
  Set(std::string(name), value);
}

const nlohmann::json* Context::Lookup(const Path& path) const {
  if (path.empty()) return nullptr;
  const nlohmann::json* value = Root(path[0]);
  for (size_t i = 1; value != nullptr && i < path.size(); ++i) {
    const std::string& part = path[i];
    if (value->is_object()) {
      auto found = value->find(part);
      value = found == value->end() ? nullptr : &*found;
    } else if (value->is_array()) {
      size_t index;
      if (part == "size") {
        return nullptr;  // sizes are a filter's job (Liquid `size`), not a path.
      }
      if (!absl::SimpleAtoi(part, &index) || index >= value->size()) return nullptr;
      value = &(*value)[index];
    } else {
      return nullptr;
    }
  }
  return value;
}

void AppendValue(const nlohmann::json& value, std::string* out) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      return;
    case nlohmann::json::value_t::string:
      out->append(value.get_ref<const std::string&>());
      return;
    case nlohmann::json::value_t::boolean:
      out->append(value.get<bool>() ? "true" : "false");
      return;
    case nlohmann::json::value_t::number_integer:
      out->append(std::to_string(value.get<int64_t>()));
      return;
    case nlohmann::json::value_t::number_unsigned:
      out->append(std::to_string(value.get<uint64_t>()));
      return;
    case nlohmann::json::value_t::number_float: {
      double number = value.get<double>();
      if (number == static_cast<double>(static_cast<int64_t>(number))) {
        out->append(std::to_string(static_cast<int64_t>(number)));
      } else {
        out->append(value.dump());
      }
      return;
    }
    default:
      out->append(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
}

}  // namespace herald::templates
